// What is on disk under a folder, to check that an operation (a failed load) changed nothing
// (included as "common/dir_snapshot.hpp").
#pragma once

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>

namespace dagrad::testing {

// Every path under `root` with its bytes ("<dir>" for a folder) and modification time.
inline std::map<std::string, std::pair<std::string, std::filesystem::file_time_type>>
directory_snapshot(const std::filesystem::path& root) {
  std::map<std::string, std::pair<std::string, std::filesystem::file_time_type>> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    std::string bytes = "<dir>";
    if (e.is_regular_file()) {
      std::ifstream in(e.path(), std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      bytes = ss.str();
    }
    files[e.path().string()] = {bytes, std::filesystem::last_write_time(e.path())};
  }
  return files;
}

}  // namespace dagrad::testing
