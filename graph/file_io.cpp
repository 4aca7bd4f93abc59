#include "file_io.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string_view>
#include <vector>

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
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw FileError("cannot sync '" + path + "' to disk: " + std::strerror(errno));
  int result = ::fsync(fd);
  int error = errno;
  ::close(fd);
  // EINVAL: the file system cannot sync this kind of file (some cannot sync a directory), so
  // there is nothing more to wait for; any other failure means the data may not be on disk.
  if (result != 0 && error != EINVAL)
    throw FileError("cannot sync '" + path + "' to disk: " + std::strerror(error));
}

std::string unique_suffix() {
  std::random_device rd;
  return std::to_string(::getpid()) + "-" + std::to_string(rd() % 1000000000u);
}

namespace {

namespace fs = std::filesystem;

// DAGRAD_TEST_NO_RENAME_EXCHANGE=1 (for tests only) takes the fallback that file systems without
// RENAME_EXCHANGE get, so that tests can run it on any machine.
bool rename_exchange_disabled() {
  const char* v = std::getenv("DAGRAD_TEST_NO_RENAME_EXCHANGE");
  return v != nullptr && v[0] != '\0' && std::string_view(v) != "0";
}

// The writer's pid in a sibling ".NAME.tmp-PID-N" or ".NAME.old-PID-N" of `target`
// (kind "tmp" or "old"), or -1 when `name` is not such a sibling.
long sibling_pid(const std::string& name, const std::string& target_name, const char* kind) {
  std::string prefix = ".";
  prefix += target_name;
  prefix += ".";
  prefix += kind;
  prefix += "-";
  if (name.compare(0, prefix.size(), prefix) != 0) return -1;
  std::size_t dash = name.find('-', prefix.size());
  if (dash == std::string::npos || dash == prefix.size()) return -1;
  long pid = 0;
  for (std::size_t i = prefix.size(); i < dash; ++i) {
    if (name[i] < '0' || name[i] > '9' || pid > 100000000) return -1;
    pid = pid * 10 + (name[i] - '0');
  }
  return pid;
}

bool process_is_gone(long pid) {
  return pid > 0 && pid != ::getpid() && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

fs::path parent_of(const fs::path& target) {
  return target.parent_path().empty() ? fs::path(".") : target.parent_path();
}

}  // namespace

std::string interrupted_backup(const std::string& target) {
  std::error_code ec;
  fs::path t = fs::path(target).lexically_normal();
  if (!t.has_filename()) t = t.parent_path();
  if (t.empty() || fs::exists(t, ec)) return "";
  std::string name = t.filename().string();
  fs::path best;
  fs::file_time_type best_time{};
  for (fs::directory_iterator it(parent_of(t), ec), end; !ec && it != end; it.increment(ec)) {
    std::string sibling = it->path().filename().string();
    if (sibling_pid(sibling, name, "old") < 0 || !it->is_directory(ec)) continue;
    fs::file_time_type time = fs::last_write_time(it->path(), ec);
    if (best.empty() || time > best_time) {
      best = it->path();
      best_time = time;
    }
  }
  return best.string();
}

void remove_stale_siblings(const std::string& target) {
  std::error_code ec;
  fs::path t(target);
  std::string name = t.filename().string();
  std::vector<fs::path> stale;
  for (fs::directory_iterator it(parent_of(t), ec), end; !ec && it != end; it.increment(ec)) {
    std::string sibling = it->path().filename().string();
    long pid = sibling_pid(sibling, name, "tmp");
    if (pid < 0) pid = sibling_pid(sibling, name, "old");
    if (process_is_gone(pid)) stale.push_back(it->path());
  }
  for (const fs::path& p : stale) fs::remove_all(p, ec);
}

void swap_in_directory(const std::string& fresh, const std::string& target) {
  std::error_code ec;
  if (!fs::exists(target)) {
    fs::rename(fresh, target);
    return;
  }
#ifdef RENAME_EXCHANGE
  // Linux: swap the two directories in one step. File systems without it say EINVAL (or the
  // kernel ENOSYS); they take the fallback below. Any other error is a real one.
  if (!rename_exchange_disabled()) {
    if (::renameat2(AT_FDCWD, fresh.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) == 0) {
      fs::remove_all(fresh, ec);  // now holds the old contents
      return;
    }
    int error = errno;
    if (error != EINVAL && error != ENOSYS && error != EOPNOTSUPP)
      throw FileError("cannot move '" + fresh + "' into place at '" + target +
                      "': " + std::strerror(error));
  }
#endif
  // Two renames: between them `target` is missing and the old contents sit complete in the
  // backup, which the loaders read then (interrupted_backup).
  fs::path t(target);
  std::string backup_name = ".";  // appended piecewise: GCC 12 warns falsely on a + b + c here
  backup_name += t.filename().string();
  backup_name += ".old-";
  backup_name += unique_suffix();
  fs::path backup = parent_of(t) / backup_name;
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
  remove_stale_siblings(target);
}

}  // namespace dagrad::detail
