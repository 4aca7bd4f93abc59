#include "file_io.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

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

}  // namespace dagrad::detail
