// What the tools tests share: a temporary directory per test, and running the real `dagrad`
// binary (DAGRAD_CLI) through the shell with its output captured there.
#pragma once

#include <sys/wait.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

namespace dagrad::test {

// A fresh directory under the system's temporary one, removed with everything in it.
struct TempDir {
  std::filesystem::path dir;
  explicit TempDir(const std::string& tag) {
    dir = std::filesystem::temp_directory_path() /
          ("dagrad_" + tag + "_" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

#ifdef DAGRAD_CLI
struct CliRun : TempDir {
  explicit CliRun(const std::string& tag) : TempDir(tag) {}
  // Runs `dagrad ARGS` with stdout and stderr captured in the directory; returns the exit status.
  int run(const std::string& args) {
    std::string command = std::string("'") + DAGRAD_CLI + "' " + args + " >'" +
                          (dir / "stdout").string() + "' 2>'" + (dir / "stderr").string() + "'";
    int status = std::system(command.c_str());
    BOOST_TEST_REQUIRE(WIFEXITED(status));
    return WEXITSTATUS(status);
  }
  // A file of the directory ("stdout", "stderr", "out/x.csv"), whole.
  std::string read(const std::filesystem::path& name) const {
    std::ifstream in(dir / name, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  std::string quoted(const std::filesystem::path& p) const { return "'" + p.string() + "'"; }
};
#endif

}  // namespace dagrad::test
