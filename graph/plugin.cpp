#include "dagrad/graph/plugin.hpp"

#include <dlfcn.h>

#include <algorithm>

#include "dagrad/graph/errors.hpp"

namespace dagrad {

std::vector<std::string> load_plugin(const std::string& path, OpRegistry& registry) {
  // A path without '/' would make dlopen search the system library path instead of the file.
  std::string file = path.find('/') == std::string::npos ? "./" + path : path;
  void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    throw FileError("cannot load plugin '" + path + "': " + (why ? why : "unknown error"));
  }
  using Entry = void (*)(OpRegistry&);
  auto entry = reinterpret_cast<Entry>(dlsym(handle, "dagrad_register_plugin"));
  if (!entry)
    throw FileError("plugin '" + path +
                    "' has no dagrad_register_plugin entry point (define it with DAGRAD_PLUGIN)");
  std::vector<std::string> before = registry.names();
  // The plugin's own code runs here: whatever it throws names the file and the entry point.
  const std::string where = "plugin '" + path + "': its entry point dagrad_register_plugin ";
  try {
    entry(registry);
  } catch (const GraphError& e) {  // OpRegistry::add refused a record
    throw GraphError(where + "failed: " + e.what());
  } catch (const std::exception& e) {
    throw FileError(where + "threw: " + e.what());
  } catch (...) {
    throw FileError(where + "threw an exception that is not a std::exception");
  }
  std::vector<std::string> added;
  for (const std::string& name : registry.names())
    if (!std::binary_search(before.begin(), before.end(), name)) added.push_back(name);
  return added;
}

}  // namespace dagrad
