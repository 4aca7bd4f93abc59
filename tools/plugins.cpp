// The `--plugin LIB.so` option shared by the subcommands.
#include <filesystem>
#include <iostream>
#include <set>

#include "commands.hpp"
#include "dagrad/graph/plugin.hpp"
#include "dagrad/ops/ops.hpp"

namespace dagrad::tools {

void add_plugin_option(CLI::App* cmd, std::vector<std::string>& paths) {
  cmd->add_option("--plugin", paths, "Load custom ops from this shared library first (repeatable)");
}

std::vector<std::string> load_plugins(const std::vector<std::string>& paths) {
  // A library loaded a second time would register its ops again ("already registered"); the
  // same file under another spelling of its path is the same plugin.
  static std::set<std::filesystem::path> loaded;
  std::vector<std::string> added;
  for (const std::string& path : paths) {
    std::error_code ec;
    std::filesystem::path key = std::filesystem::weakly_canonical(path, ec);
    if (ec) key = std::filesystem::absolute(path, ec).lexically_normal();
    if (loaded.count(key)) {
      std::cerr << "plugin " << path << " is already loaded; skipped\n";
      continue;
    }
    std::vector<std::string> ops = load_plugin(path, default_registry());
    loaded.insert(key);
    std::cerr << "loaded " << ops.size() << " op(s) from " << path << ":";
    for (const std::string& name : ops) std::cerr << " " << name;
    std::cerr << "\n";
    added.insert(added.end(), ops.begin(), ops.end());
  }
  return added;
}

}  // namespace dagrad::tools
