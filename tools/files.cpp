#include "files.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "dagrad/graph/errors.hpp"

namespace dagrad::tools {

namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const std::string& action, const std::string& path, const std::string& why) {
  throw FileError("cannot " + action + " '" + path + "': " + why);
}

// A temporary sibling of `target` holding `bytes`; the caller renames it.
fs::path write_temporary(const fs::path& target, const std::string& bytes,
                         const std::string& action) {
  std::random_device random;
  // Appended piece by piece: GCC 12 warns falsely (-Wrestrict) on "." + string.
  std::string name = ".";
  name += target.filename().string();
  name += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(random() % 1000000000u);
  fs::path temp = target;
  temp.replace_filename(name);
  std::ofstream out(temp, std::ios::binary | std::ios::trunc);
  if (!out) fail(action, target.string(), std::strerror(errno));
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) {
    std::error_code ec;
    fs::remove(temp, ec);
    fail(action, target.string(), "write failed (disk full?)");
  }
  return temp;
}

}  // namespace

void write_files_atomically(const std::vector<std::pair<std::string, std::string>>& files,
                            const std::string& action) {
  std::vector<std::pair<fs::path, fs::path>> moves;  // (temporary, target)
  auto remove_temporaries = [&] {
    std::error_code ec;
    for (const auto& [temp, target] : moves) fs::remove(temp, ec);
  };
  try {
    for (const auto& [path, bytes] : files)
      moves.emplace_back(write_temporary(path, bytes, action), path);
  } catch (...) {
    remove_temporaries();
    throw;
  }
  for (std::size_t i = 0; i < moves.size(); ++i) {
    std::error_code ec;
    fs::rename(moves[i].first, moves[i].second, ec);
    if (ec) {
      moves.erase(moves.begin(), moves.begin() + static_cast<std::ptrdiff_t>(i));
      remove_temporaries();
      fail(action, moves.front().second.string(), ec.message());
    }
  }
}

}  // namespace dagrad::tools
