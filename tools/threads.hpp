// The --threads flag of the commands that run models (train, experiment, lr-find): one
// definition, one help text, one check, applied through dagrad::set_num_threads.
#pragma once

#include <CLI/CLI.hpp>

namespace dagrad::tools {

// Adds --threads to `cmd`, bound to `threads` (left 0 when the flag is absent). A value outside
// 1..kMaxThreads, or not an integer, is a parse error naming the flag.
CLI::Option* add_threads_option(CLI::App* cmd, int& threads);

// Makes a given --threads (> 0) the process's thread setting; 0 keeps the default.
void apply_threads_option(int threads);

}  // namespace dagrad::tools
