// groupshard: serve Llama-family models with tensor parallelism by KV group.
#include <iostream>
#include <map>

#include "launcher/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"groupshard: tensor-parallel LLM serving by whole KV groups"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "groupshard 0.1.0");
  std::map<CLI::App*, gs::launcher::RunFn> runs;
  auto add = [&](const char* name, const char* help, auto adder) {
    CLI::App* sub = app.add_subcommand(name, help);
    runs[sub] = adder(*sub);
  };
  add("generate", "Generate text from a prompt (under mpirun: across ranks)",
      gs::launcher::AddGenerateCommand);
  add("plan", "Show how a model shards over P ranks and what each rank holds",
      gs::launcher::AddPlanCommand);
  add("serve", "Serve the model over gRPC (rank 0 listens; run under mpirun)",
      gs::launcher::AddServeCommand);
  add("client", "Talk to a running server", gs::launcher::AddClientCommand);
  add("bench", "Measure prefill/decode speed, or load a server", gs::launcher::AddBenchCommand);
  add("inspect", "Render the keys of each query head and their similarity",
      gs::launcher::AddInspectCommand);
  add("perplexity", "Perplexity of a model over a text file", gs::launcher::AddPerplexityCommand);
  add("convert", "Make a GQA checkpoint from an MHA one by mean-pooling KV heads",
      gs::launcher::AddConvertCommand);
  add("coordinator", "Route requests over several serving groups",
      gs::launcher::AddCoordinatorCommand);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "groupshard: error: " << e.what() << "\n";
    return gs::launcher::kUsageError;
  }
  for (auto& [sub, run] : runs) {
    if (sub->parsed()) return run(&argc, &argv);
  }
  return gs::launcher::kUsageError;
}
