// The subcommands of the `dagrad` program. Each lives in its own file and adds itself to the
// app; its callback throws std::exception on failure, which main reports as one line.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace dagrad::tools {

// Adds a repeatable `--plugin LIB.so` option to `cmd`; load_plugins registers each library's
// ops in dagrad::default_registry() (tools/plugins.cpp) and returns the names of the ops added.
// A path already loaded in this process (compared canonically) is skipped. Call it first in
// the callback.
void add_plugin_option(CLI::App* cmd, std::vector<std::string>& paths);
std::vector<std::string> load_plugins(const std::vector<std::string>& paths);

void add_dot_command(CLI::App& app);         // tools/dot_command.cpp
void add_ops_command(CLI::App& app);         // tools/ops_command.cpp
void add_gradcheck_command(CLI::App& app);   // tools/gradcheck_command.cpp
void add_summary_command(CLI::App& app);     // tools/summary_command.cpp
void add_train_command(CLI::App& app);       // tools/train_command.cpp
void add_evaluate_command(CLI::App& app);    // tools/evaluate_command.cpp
void add_predict_command(CLI::App& app);     // tools/evaluate_command.cpp
void add_experiment_command(CLI::App& app);  // tools/experiment_command.cpp
void add_lr_find_command(CLI::App& app);     // tools/lr_find_command.cpp

}  // namespace dagrad::tools
