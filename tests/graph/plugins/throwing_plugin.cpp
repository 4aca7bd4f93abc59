// A plugin whose entry point fails, as DAGRAD_TEST_PLUGIN_FAILURE says: "std" throws a
// std::runtime_error, "int" throws an int, "record" adds an op record without a name.
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "dagrad/graph/plugin.hpp"

DAGRAD_PLUGIN(registry) {
  const char* failure = std::getenv("DAGRAD_TEST_PLUGIN_FAILURE");
  std::string how = failure ? failure : "std";
  if (how == "int") throw 42;
  if (how == "record") registry.add(dagrad::OpRecord{});
  throw std::runtime_error("cannot find my configuration file");
}
