#include "file_io.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "dagrad/graph/errors.hpp"

namespace dagrad::detail {

std::string read_regular_file(const std::string& path, const std::string& what) {
  // An ifstream opens a directory without complaint, then its first read throws
  // std::ios_base::failure ("basic_filebuf::underflow error reading the file: Is a directory").
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::file_status status = fs::status(path, ec);
  if (fs::is_directory(status)) throw FileError(what + ": it is a directory, not a file");
  if (fs::exists(status) && !fs::is_regular_file(status))
    throw FileError(what + ": it is not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(what + ": " + std::strerror(errno));
  try {
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) throw FileError(what + ": read failed");
    return bytes;
  } catch (const std::ios_base::failure& e) {
    throw FileError(what + ": read failed (" + e.what() + ")");
  }
}

void write_file_synced(const std::string& path, std::string_view bytes) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) throw FileError("cannot write '" + path + "': " + std::strerror(errno));
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) throw FileError("cannot write '" + path + "': write failed (disk full?)");
  }
  sync_to_disk(path);
}

void sync_to_disk(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

std::string unique_suffix() {
  std::random_device rd;
  return std::to_string(::getpid()) + "-" + std::to_string(rd() % 1000000000u);
}

void swap_in_directory(const std::string& fresh, const std::string& target) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(target)) {
    fs::rename(fresh, target);
    return;
  }
#ifdef RENAME_EXCHANGE
  // Linux: swap the two directories in one step.
  if (::renameat2(AT_FDCWD, fresh.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) == 0) {
    fs::remove_all(fresh, ec);  // now holds the old contents
    return;
  }
#endif
  fs::path t(target);
  fs::path backup = t.parent_path() / ("." + t.filename().string() + ".old-" + unique_suffix());
  fs::rename(t, backup);
  try {
    fs::rename(fresh, t);
  } catch (...) {
    fs::rename(backup, t, ec);
    throw;
  }
  fs::remove_all(backup, ec);
}

void replace_directory(const std::string& target,
                       const std::function<void(const std::string& dir)>& fill) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path t(target);
  fs::path parent = t.parent_path().empty() ? fs::path(".") : t.parent_path();
  std::string temp_name = ".";  // appended piecewise: GCC 12 warns falsely on a + b + c here
  temp_name += t.filename().string();
  temp_name += ".tmp-";
  temp_name += unique_suffix();
  fs::path temp = parent / temp_name;
  if (!fs::create_directory(temp, ec) || ec)
    throw FileError("cannot create temporary directory '" + temp.string() +
                    "': " + (ec ? ec.message() : "it already exists"));
  try {
    fill(temp.string());
    sync_to_disk(temp.string());
    swap_in_directory(temp.string(), target);
    sync_to_disk(parent.string());
  } catch (...) {
    fs::remove_all(temp, ec);
    throw;
  }
}

}  // namespace dagrad::detail
