#include "files.hpp"

#include <fcntl.h>
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

// fsync of a file or directory; false (errno set) when it could not be opened or synced. A file
// system that cannot sync a directory (EINVAL) has nothing to wait for.
bool sync_path(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  int result = ::fsync(fd);
  int error = errno;
  ::close(fd);
  errno = error;
  return result == 0 || error == EINVAL;
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
  if (!out || !sync_path(temp)) {
    std::string why = out ? std::string("cannot sync it to disk: ") + std::strerror(errno)
                          : std::string("write failed (disk full?)");
    std::error_code ec;
    fs::remove(temp, ec);
    fail(action, target.string(), why);
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
  // The renames themselves reach the disk with their directories.
  for (const auto& [temp, target] : moves) {
    fs::path parent = target.parent_path().empty() ? fs::path(".") : target.parent_path();
    if (!sync_path(parent))
      fail(action, target.string(), std::string("cannot sync its folder: ") + std::strerror(errno));
  }
}

}  // namespace dagrad::tools
