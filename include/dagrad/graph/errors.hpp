// Exceptions dagrad throws. Every message names what was wrong: node, op, shapes, file, offset.
// All derive from dagrad::Error, so one catch around building and running a graph sees them all.
#pragma once

#include <stdexcept>
#include <string>

namespace dagrad {

// The base of every error dagrad reports about a graph, a run or a file.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// An op was built (or run) with inputs or attributes its shape function rejects.
struct ShapeError : Error {
  using Error::Error;
};
// Memory for a tensor could not be allocated; the message names bytes, dtype and shape (and the
// node or variable, when a session allocates).
struct AllocationError : Error {
  using Error::Error;
};
// A graph is malformed: unknown op, wrong arity, missing attribute, cycle, unknown node name.
struct GraphError : Error {
  using Error::Error;
};
// A session request cannot run: missing or wrong feed, uninitialized variable, kernel missing.
struct RunError : Error {
  using Error::Error;
};
// With Session::set_check_numerics on, a step produced NaN or Inf: the message names the node,
// its op, its creation site and its inputs' statistics; the run was undone (variables restored).
struct NumericsError : RunError {
  using RunError::RunError;
};
// A graph or tensor file cannot be read or written; the message names the file and offset.
struct FileError : Error {
  using Error::Error;
};

}  // namespace dagrad
