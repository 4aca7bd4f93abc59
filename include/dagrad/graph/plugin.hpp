// Custom ops in shared-library plugins. A plugin defines its ops exactly as the built-in ones
// are defined (an OpRecord each: signature, attributes, shape function, kernels, gradient rule,
// gradient-check samples) and registers them from one entry point:
//
//   DAGRAD_PLUGIN(registry) {
//     registry.add(make_swish_record());
//   }
//
// ABI: a plugin is C++ code that shares OpRecord, std::function and std::string with dagrad,
// so it must be built with the same compiler and standard library as the dagrad it is loaded
// into, and link dagrad::dagrad (the shared library), so that both use one op registry.
#pragma once

#include <string>
#include <vector>

#include "op_registry.hpp"

#define DAGRAD_PLUGIN(registry_name)                                             \
  extern "C" __attribute__((visibility("default"))) void dagrad_register_plugin( \
      ::dagrad::OpRegistry& registry_name)

namespace dagrad {

// Loads the shared library at `path` and calls its dagrad_register_plugin on `registry`.
// Returns the names of the ops it added. Throws FileError naming the file and the loader's
// message when the library cannot be loaded or has no entry point, and naming the file, the
// entry point and what it threw when the entry point throws; an invalid record is the
// GraphError of OpRegistry::add, with the file and entry point in front. Ops registered before
// the entry point threw stay registered. The library stays loaded for the life of the process
// (its records point into it).
std::vector<std::string> load_plugin(const std::string& path, OpRegistry& registry);

}  // namespace dagrad
