// The `--plugin LIB.so` option shared by the subcommands.
#include <iostream>

#include "commands.hpp"
#include "dagrad/graph/plugin.hpp"
#include "dagrad/ops/ops.hpp"

namespace dagrad::tools {

void add_plugin_option(CLI::App* cmd, std::vector<std::string>& paths) {
  cmd->add_option("--plugin", paths, "Load custom ops from this shared library first (repeatable)");
}

void load_plugins(const std::vector<std::string>& paths) {
  for (const std::string& path : paths) {
    std::vector<std::string> added = load_plugin(path, default_registry());
    std::cerr << "loaded " << added.size() << " op(s) from " << path << ":";
    for (const std::string& name : added) std::cerr << " " << name;
    std::cerr << "\n";
  }
}

}  // namespace dagrad::tools
