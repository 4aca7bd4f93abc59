// Runs a helper program (gnuplot) in a child process: its standard input from a string, its
// standard output and error captured, a deadline after which it is killed. A crash or hang of the
// helper is a result to report, never a crash or hang of dagrad.
#pragma once

#include <string>
#include <vector>

namespace dagrad::tools {

struct ProgramResult {
  int spawn_error = 0;     // errno of starting the program (ENOENT: not on PATH); 0 if it ran
  bool timed_out = false;  // killed at the deadline
  int exit_status = -1;    // the exit status when it exited by itself, else -1
  int signal = 0;          // the signal that ended it (SIGKILL after a timeout), else 0
  std::string out;         // everything it wrote to standard output
  std::string err;         // ... and to standard error

  bool succeeded() const { return spawn_error == 0 && !timed_out && exit_status == 0; }
};

// Runs argv[0] (looked up on PATH) with `input` as its standard input. The child leads its own
// process group, and at the deadline that whole group is killed, so helpers it started cannot
// keep the pipes open (a timeout of 0 or less kills it at once). Does not throw for anything the
// program does; requires argv non-empty.
ProgramResult run_program(const std::vector<std::string>& argv, const std::string& input,
                          double timeout_seconds);

}  // namespace dagrad::tools
