#include <filesystem>
#include <iostream>

#include "core/key_images.h"
#include "core/key_inspector.h"
#include "core/tokenizer.h"
#include "launcher/commands.h"
#include "parallel/communicator.h"
#include "parallel/shard_plan.h"

namespace gs::launcher {

namespace {

struct InspectOpts {
  std::string model;
  std::string prompt;
  int layer = 0;
  std::string out = "keys.png";
  std::string similarity_out;  // default: <out stem>_similarity.png
  bool json = false;
};

int Fail(const Status& st) {
  std::cerr << "groupshard inspect: " << st.ToString() << "\n";
  return st.code() == StatusCode::kInvalidArgument ? kUsageError : 1;
}

int RunInspect(const InspectOpts& o) {
  auto src = WeightSource::Open(o.model);
  if (!src.ok()) return Fail(src.status());
  auto tok = Tokenizer::Load(o.model);
  if (!tok.ok()) return Fail(tok.status());
  auto plan = ShardPlan::Make((*src)->config(), 1);
  if (!plan.ok()) return Fail(plan.status());
  LocalCommunicator comm;
  auto model = LlamaModel::Load(**src, *plan, comm);
  if (!model.ok()) return Fail(model.status());
  const std::vector<int32_t> ids = (*tok)->Encode(o.prompt, /*add_special=*/true);
  auto keys = CaptureLayerKeys(**model, ids, o.layer);
  if (!keys.ok()) return Fail(keys.status());
  const std::vector<double> sim = KeySimilarity(*keys);

  const ModelConfig& c = (*model)->config();
  const std::string tag = "LAYER " + std::to_string(o.layer) + ": " + std::to_string(c.n_heads) +
                          " HEADS, " + std::to_string(c.n_kv_heads) + " KV GROUPS, " +
                          std::to_string(ids.size()) + " TOKENS";
  std::string sim_out = o.similarity_out;
  if (sim_out.empty()) {
    std::filesystem::path p(o.out);
    sim_out = (p.parent_path() / (p.stem().string() + "_similarity.png")).string();
  }
  Status st = RenderKeyGrid(*keys, "KEYS AFTER ROPE, " + tag).WritePng(o.out);
  if (st.ok()) st = RenderSimilarity(*keys, sim, "KEY SIMILARITY, " + tag).WritePng(sim_out);
  if (!st.ok()) return Fail(st);
  if (o.json) std::cout << InspectJson(*keys, sim).dump(2) << "\n";
  std::cerr << "wrote " << o.out << " and " << sim_out << "\n";
  return 0;
}

}  // namespace

RunFn AddInspectCommand(CLI::App& app) {
  auto o = std::make_shared<InspectOpts>();
  app.add_option("--model", o->model, "Model: HF directory or .gguf file")
      ->required()
      ->check(CLI::ExistingPath);
  app.add_option("--prompt", o->prompt, "Text to run")->required();
  app.add_option("--layer", o->layer, "Layer whose keys to show (0-based)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--out", o->out, "PNG of the per-head key heatmaps");
  app.add_option("--similarity-out", o->similarity_out,
                 "PNG of the head x head similarity (default: <out>_similarity.png)");
  app.add_flag("--json", o->json, "Print the similarity matrix as JSON on stdout");
  return [o](int*, char***) { return RunInspect(*o); };
}

}  // namespace gs::launcher
