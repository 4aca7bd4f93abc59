// The plugin loader on libraries that are not plugins or whose entry point fails: each error
// names the file (and the entry point, and what it threw).
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "dagrad/dagrad.hpp"
#include "dagrad/graph/plugin.hpp"

using namespace dagrad;
namespace fs = std::filesystem;

namespace {

// Runs load_plugin on a fresh registry and checks it throws E whose message holds every part.
template <class E>
void expect_plugin_error(const std::string& path, const std::vector<std::string>& parts) {
  OpRegistry registry;
  try {
    load_plugin(path, registry);
    BOOST_FAIL("expected an error loading " << path);
  } catch (const E& e) {
    std::string message = e.what();
    for (const std::string& part : parts)
      BOOST_TEST(message.find(part) != std::string::npos, message << " lacks '" << part << "'");
  }
}

struct FailureMode {
  explicit FailureMode(const char* how) { ::setenv("DAGRAD_TEST_PLUGIN_FAILURE", how, 1); }
  ~FailureMode() { ::unsetenv("DAGRAD_TEST_PLUGIN_FAILURE"); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(plugin)

BOOST_AUTO_TEST_CASE(a_file_that_is_not_a_shared_library) {
  fs::path dir =
      fs::temp_directory_path() / ("dagrad_plugin_" + std::to_string(std::random_device{}()));
  fs::create_directories(dir);
  fs::path text = dir / "notes.so";
  std::ofstream(text) << "these are my notes, not a library\n";
  expect_plugin_error<FileError>(text.string(), {"cannot load plugin", text.string()});
  expect_plugin_error<FileError>((dir / "missing.so").string(),
                                 {"cannot load plugin", (dir / "missing.so").string()});
  fs::remove_all(dir);
}

#if defined(DAGRAD_TEST_PLUGIN_THROWING) && defined(DAGRAD_TEST_PLUGIN_NO_ENTRY)
BOOST_AUTO_TEST_CASE(a_shared_library_without_the_entry_point) {
  expect_plugin_error<FileError>(DAGRAD_TEST_PLUGIN_NO_ENTRY,
                                 {DAGRAD_TEST_PLUGIN_NO_ENTRY, "no dagrad_register_plugin"});
}

// The entry point's exception used to escape as itself: "cannot find my configuration file",
// with no word of which plugin.
BOOST_AUTO_TEST_CASE(an_entry_point_that_throws_is_named) {
  {
    FailureMode mode("std");
    expect_plugin_error<FileError>(DAGRAD_TEST_PLUGIN_THROWING,
                                   {DAGRAD_TEST_PLUGIN_THROWING, "dagrad_register_plugin",
                                    "threw: cannot find my configuration file"});
  }
  {
    FailureMode mode("int");
    expect_plugin_error<FileError>(
        DAGRAD_TEST_PLUGIN_THROWING,
        {DAGRAD_TEST_PLUGIN_THROWING, "dagrad_register_plugin", "not a std::exception"});
  }
  {
    FailureMode mode("record");
    expect_plugin_error<GraphError>(DAGRAD_TEST_PLUGIN_THROWING,
                                    {DAGRAD_TEST_PLUGIN_THROWING, "dagrad_register_plugin"});
  }
}
#endif

BOOST_AUTO_TEST_SUITE_END()
