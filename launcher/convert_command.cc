#include <cstdio>
#include <iostream>

#include "core/gqa_convert.h"
#include "launcher/commands.h"

namespace gs::launcher {

RunFn AddConvertCommand(CLI::App& app) {
  struct Opts {
    std::string model;
    int kv_groups = 0;
    std::string out;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("--model", o->model, "Hugging Face model directory (config.json + safetensors)")
      ->required()
      ->check(CLI::ExistingDirectory);
  app.add_option("--kv-groups", o->kv_groups, "KV groups G of the new checkpoint")
      ->required()
      ->check(CLI::PositiveNumber);
  app.add_option("--out", o->out, "Output directory")->required();
  return [o](int*, char***) {
    auto r = ConvertToGqa(o->model, o->kv_groups, o->out);
    if (!r.ok()) {
      std::cerr << "groupshard convert: " << r.status().ToString() << "\n";
      return r.status().code() == StatusCode::kInvalidArgument ? kUsageError : 1;
    }
    std::printf("%s: %d query heads, KV heads %d -> %d (%d query heads per group)\n",
                o->out.c_str(), r->n_heads, r->old_kv_heads, r->new_kv_heads,
                r->n_heads / r->new_kv_heads);
    std::printf("KV cache per token: %.4gx smaller than the input, N/G = %.4gx smaller than MHA\n",
                r->reduction_vs_input(), r->reduction_vs_mha());
    std::printf("%d KV projections mean-pooled, %d tensors copied", r->pooled_tensors,
                r->copied_tensors);
    if (!r->copied_files.empty()) {
      std::printf(", files copied:");
      for (const auto& f : r->copied_files) std::printf(" %s", f.c_str());
    }
    std::printf("\n");
    return 0;
  };
}

}  // namespace gs::launcher
