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
