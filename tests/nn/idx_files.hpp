// Test helpers: IDX files written byte by byte (plain, or gzipped with zlib's gzwrite), and a
// check that a call throws FileError with every expected part in its message.
#pragma once

#include <unistd.h>
#include <zlib.h>

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "dagrad/graph/errors.hpp"

namespace idx_files {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag)
      : path(fs::temp_directory_path() / ("dagrad_idx_" + tag + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

inline void put_u32(std::string& s, std::uint32_t v) {
  s += static_cast<char>(v >> 24);
  s += static_cast<char>((v >> 16) & 0xFF);
  s += static_cast<char>((v >> 8) & 0xFF);
  s += static_cast<char>(v & 0xFF);
}

// Magic 00 00 TYPE NDIM, then the dimensions big-endian.
inline std::string idx_header(std::uint8_t type, const std::vector<std::uint32_t>& dims) {
  std::string s;
  s += '\0';
  s += '\0';
  s += static_cast<char>(type);
  s += static_cast<char>(dims.size());
  for (std::uint32_t d : dims) put_u32(s, d);
  return s;
}

inline std::string bytes_of(const std::vector<unsigned>& values) {
  std::string s;
  for (unsigned v : values) s += static_cast<char>(v);
  return s;
}

inline void write_plain(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  BOOST_REQUIRE(out.good());
}

// One gzip member per element of `members` (one member for a whole file, as gzip(1) writes).
inline void write_gzip(const std::string& path, const std::vector<std::string>& members,
                       const char* mode = "wb") {
  for (std::size_t i = 0; i < members.size(); ++i) {
    const std::string& m = members[i];
    gzFile f = gzopen(path.c_str(), i == 0 ? mode : "ab");
    BOOST_REQUIRE(f != nullptr);
    if (!m.empty())
      BOOST_REQUIRE(gzwrite(f, m.data(), static_cast<unsigned>(m.size())) ==
                    static_cast<int>(m.size()));
    BOOST_REQUIRE(gzclose(f) == Z_OK);
  }
}
inline void write_gzip(const std::string& path, const std::string& bytes) {
  write_gzip(path, std::vector<std::string>{bytes});
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The whole decompressed content of a gzip file, read with zlib independently of dagrad.
inline std::string gunzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  BOOST_REQUIRE(f != nullptr);
  std::string out;
  std::vector<char> buf(1 << 16);
  int n;
  while ((n = gzread(f, buf.data(), static_cast<unsigned>(buf.size()))) > 0)
    out.append(buf.data(), static_cast<std::size_t>(n));
  BOOST_REQUIRE(n == 0);
  gzclose(f);
  return out;
}

// Checks that fn throws dagrad::FileError whose message contains every part.
inline void check_file_error(const std::function<void()>& fn,
                             const std::vector<std::string>& parts) {
  try {
    fn();
    BOOST_ERROR("no FileError thrown; expected one containing '" + parts.front() + "'");
  } catch (const dagrad::FileError& e) {
    std::string message = e.what();
    for (const std::string& part : parts)
      BOOST_TEST(message.find(part) != std::string::npos, "'" << part << "' in: " << message);
  }
}

}  // namespace idx_files
