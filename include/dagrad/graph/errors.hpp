// Exceptions dagrad throws. Every message names what was wrong: node, op, shapes, file, offset.
#pragma once

#include <stdexcept>
#include <string>

namespace dagrad {

// An op was built (or run) with inputs or attributes its shape function rejects.
struct ShapeError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};
// A graph is malformed: unknown op, wrong arity, missing attribute, cycle, unknown node name.
struct GraphError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};
// A session request cannot run: missing or wrong feed, uninitialized variable, kernel missing.
struct RunError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// A graph or tensor file cannot be read or written; the message names the file and offset.
struct FileError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace dagrad
