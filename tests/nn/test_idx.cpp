// read_idx: IDX files written here byte by byte, plain and gzipped (zlib's gzwrite), for every
// element type; each malformed file fails with FileError naming the file, the reason and the
// offset; headers claiming huge sizes fail after reading the real data, in a child process
// whose address space is capped, so any allocation sized by the claim would fail instead.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>

#include "dagrad/nn/datasets.hpp"
#include "nn/idx_files.hpp"

using namespace dagrad;
using namespace idx_files;
namespace tt = boost::test_tools;
namespace utf = boost::unit_test;

namespace {

std::vector<std::int32_t> ints(const Tensor& t) {
  return t.to_vector<std::int32_t>();
}

// Runs read_idx(path) in a child process whose address space may grow by at most
// `headroom` bytes, and returns "FileError: MESSAGE", "other error: ..." or "no error".
std::string read_idx_with_capped_memory(const std::string& path, std::size_t headroom) {
  int fds[2];
  BOOST_REQUIRE(::pipe(fds) == 0);
  pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    std::string result;
    long pages = 0;
    {
      std::ifstream statm("/proc/self/statm");
      statm >> pages;
    }
    rlimit limit{};
    limit.rlim_cur = limit.rlim_max =
        static_cast<rlim_t>(pages) * static_cast<rlim_t>(::sysconf(_SC_PAGESIZE)) + headroom;
    if (::setrlimit(RLIMIT_AS, &limit) != 0) {
      result = "setrlimit failed";
    } else {
      try {
        nn::read_idx(path);
        result = "no error";
      } catch (const FileError& e) {
        result = std::string("FileError: ") + e.what();
      } catch (const std::bad_alloc&) {
        result = "other error: std::bad_alloc";
      } catch (const std::exception& e) {
        result = std::string("other error: ") + e.what();
      }
    }
    ssize_t written = ::write(fds[1], result.data(), result.size());
    ::_exit(written == static_cast<ssize_t>(result.size()) ? 0 : 1);
  }
  ::close(fds[1]);
  std::string result;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) result.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  BOOST_TEST(WIFEXITED(status));
  return result;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(idx)

BOOST_AUTO_TEST_CASE(unsigned_bytes_plain_and_gzip_by_magic_not_extension) {
  TempDir dir("ubyte");
  // A (2, 3, 4) array 0, 11, 22, ... mod 256, with 0 and 255 among the values.
  std::vector<std::int32_t> expected;
  std::string data;
  for (int i = 0; i < 24; ++i) {
    int v = i == 23 ? 255 : (i * 11) % 256;
    expected.push_back(v);
    data += static_cast<char>(v);
  }
  std::string file = idx_header(0x08, {2, 3, 4}) + data;
  write_plain(dir.file("plain.gz"), file);          // plain despite its name
  write_gzip(dir.file("packed-idx3-ubyte"), file);  // gzip despite its name
  BOOST_TEST(static_cast<unsigned char>(read_bytes(dir.file("packed-idx3-ubyte"))[0]) == 0x1f);
  for (const std::string name : {"plain.gz", "packed-idx3-ubyte"}) {
    Tensor t = nn::read_idx(dir.file(name));
    BOOST_TEST(t.dtype() == DType::int32);
    BOOST_TEST(t.shape() == (Shape{2, 3, 4}));
    BOOST_TEST(ints(t) == expected, tt::per_element());
  }
}

BOOST_AUTO_TEST_CASE(every_element_type_big_endian) {
  TempDir dir("types");
  // signed byte 0x80 0xFF 0x7F 0x00 = -128, -1, 127, 0
  write_plain(dir.file("i8"), idx_header(0x09, {4}) + bytes_of({0x80, 0xFF, 0x7F, 0x00}));
  Tensor i8 = nn::read_idx(dir.file("i8"));
  BOOST_TEST(i8.dtype() == DType::int32);
  BOOST_TEST(ints(i8) == (std::vector<std::int32_t>{-128, -1, 127, 0}), tt::per_element());
  // int16 80 00, FF FE, 12 34 = -32768, -2, 0x1234 = 4660
  write_plain(dir.file("i16"),
              idx_header(0x0B, {3}) + bytes_of({0x80, 0x00, 0xFF, 0xFE, 0x12, 0x34}));
  BOOST_TEST(ints(nn::read_idx(dir.file("i16"))) == (std::vector<std::int32_t>{-32768, -2, 4660}),
             tt::per_element());
  // int32 80000000, FFFFFFFF, 01020304 = INT32_MIN, -1, 16909060; shape (1, 3)
  write_gzip(dir.file("i32"), idx_header(0x0C, {1, 3}) +
                                  bytes_of({0x80, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4}));
  Tensor i32 = nn::read_idx(dir.file("i32"));
  BOOST_TEST(i32.shape() == (Shape{1, 3}));
  BOOST_TEST(ints(i32) == (std::vector<std::int32_t>{std::numeric_limits<std::int32_t>::min(), -1,
                                                     16909060}),
             tt::per_element());
  // float32 3F800000 = 1, C0000000 = -2, 3EA00000 = 0.3125, 7F800000 = +inf; five dimensions
  write_plain(dir.file("f32"),
              idx_header(0x0D, {1, 2, 1, 2, 1}) +
                  bytes_of({0x3F, 0x80, 0, 0, 0xC0, 0, 0, 0, 0x3E, 0xA0, 0, 0, 0x7F, 0x80, 0, 0}));
  Tensor f32 = nn::read_idx(dir.file("f32"));
  BOOST_TEST(f32.dtype() == DType::float32);
  BOOST_TEST(f32.shape() == (Shape{1, 2, 1, 2, 1}));
  std::vector<float> f = f32.to_vector<float>();
  BOOST_TEST(f[0] == 1.0f);
  BOOST_TEST(f[1] == -2.0f);
  BOOST_TEST(f[2] == 0.3125f);
  BOOST_TEST(std::isinf(f[3]));
  BOOST_TEST(f[3] > 0);
  // float64 3FF0000000000000 = 1, C004000000000000 = -2.5
  write_plain(dir.file("f64"), idx_header(0x0E, {2}) + bytes_of({0x3F, 0xF0, 0, 0, 0, 0, 0, 0, 0xC0,
                                                                 0x04, 0, 0, 0, 0, 0, 0}));
  Tensor f64 = nn::read_idx(dir.file("f64"));
  BOOST_TEST(f64.dtype() == DType::float64);
  BOOST_TEST(f64.to_vector<double>() == (std::vector<double>{1.0, -2.5}), tt::per_element());
}

BOOST_AUTO_TEST_CASE(zero_dimension_is_an_empty_array_without_data) {
  TempDir dir("zero");
  write_plain(dir.file("empty"), idx_header(0x08, {0, 28, 28}));
  Tensor t = nn::read_idx(dir.file("empty"));
  BOOST_TEST(t.shape() == (Shape{0, 28, 28}));
  BOOST_TEST(t.size() == 0);
  // A zero first makes any later dimensions fine; huge ones before it overflow the running
  // count of elements, which dagrad's Shape refuses, so the file is refused at that dimension.
  write_gzip(dir.file("empty_huge.gz"), idx_header(0x0E, {0, 0xFFFFFFFF, 0xFFFFFFFF}));
  BOOST_TEST(nn::read_idx(dir.file("empty_huge.gz")).shape() == (Shape{0, 0xFFFFFFFF, 0xFFFFFFFF}));
  write_plain(dir.file("huge_empty"), idx_header(0x08, {0xFFFFFFFF, 0xFFFFFFFF, 0}));
  check_file_error([&] { nn::read_idx(dir.file("huge_empty")); },
                   {dir.file("huge_empty"), "byte 8",
                    "(4294967295, 4294967295, 0) have more elements than an int64 can count"});
  // Data after an empty array is garbage: 12-byte header, then 1 byte.
  write_plain(dir.file("empty_plus"), idx_header(0x08, {0, 2}) + "x");
  check_file_error([&] { nn::read_idx(dir.file("empty_plus")); },
                   {dir.file("empty_plus"), "byte 12", "trailing garbage: 1 bytes",
                    "the dimensions (0, 2) of unsigned byte elements need 0 data bytes"});
}

BOOST_AUTO_TEST_CASE(concatenated_gzip_members_are_one_stream) {
  TempDir dir("members");
  std::string header = idx_header(0x08, {2, 2});
  write_gzip(dir.file("two.gz"),
             std::vector<std::string>{header + bytes_of({1, 2}), bytes_of({3, 4})});
  BOOST_TEST(ints(nn::read_idx(dir.file("two.gz"))) == (std::vector<std::int32_t>{1, 2, 3, 4}),
             tt::per_element());
}

BOOST_AUTO_TEST_CASE(unreadable_files) {
  TempDir dir("unreadable");
  check_file_error([&] { nn::read_idx(dir.file("missing")); },
                   {"cannot read", dir.file("missing"), "No such file or directory"});
  check_file_error([&] { nn::read_idx(dir.path.string()); },
                   {"cannot read", dir.path.string(), "is a directory"});
  write_plain(dir.file("empty"), "");
  check_file_error([&] { nn::read_idx(dir.file("empty")); },
                   {dir.file("empty"), "byte 0", "empty file"});
}

BOOST_AUTO_TEST_CASE(neither_gzip_nor_idx) {
  TempDir dir("neither");
  write_plain(dir.file("zip"), "PK\x03\x04 something else");
  check_file_error([&] { nn::read_idx(dir.file("zip")); },
                   {dir.file("zip"), "byte 0", "neither a gzip file (magic 1f 8b) nor an IDX file",
                    "starts with 50 4b 03 04"});
  // A single 1f byte is not the two-byte gzip magic.
  write_plain(dir.file("half_magic"), "\x1f");
  check_file_error([&] { nn::read_idx(dir.file("half_magic")); },
                   {dir.file("half_magic"), "byte 0", "neither a gzip file", "starts with 1f"});
  // Byte 1 wrong: 00 01 08 01.
  write_plain(dir.file("byte1"), bytes_of({0, 1, 8, 1, 0, 0, 0, 0}));
  check_file_error([&] { nn::read_idx(dir.file("byte1")); },
                   {dir.file("byte1"), "byte 1", "starts with 00 01 08 01"});
  write_gzip(dir.file("text.gz"), std::string("hello, world\n"));
  check_file_error([&] { nn::read_idx(dir.file("text.gz")); },
                   {dir.file("text.gz"), "decompressed byte 0",
                    "the decompressed data is not an IDX file", "starts with 68 65 6c 6c"});
  // An empty decompressed stream: a gzip member of zero bytes, made with deflate directly.
  {
    z_stream zs{};
    BOOST_REQUIRE(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    std::vector<unsigned char> out(64);
    zs.next_out = out.data();
    zs.avail_out = static_cast<uInt>(out.size());
    BOOST_REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
    out.resize(out.size() - zs.avail_out);
    deflateEnd(&zs);
    write_plain(dir.file("nothing.gz"), std::string(out.begin(), out.end()));
  }
  check_file_error([&] { nn::read_idx(dir.file("nothing.gz")); },
                   {dir.file("nothing.gz"), "decompressed byte 0", "decompressed data is empty"});
}

BOOST_AUTO_TEST_CASE(bad_headers) {
  TempDir dir("headers");
  write_plain(dir.file("type"), bytes_of({0, 0, 0x07, 1, 0, 0, 0, 1, 5}));
  check_file_error([&] { nn::read_idx(dir.file("type")); },
                   {dir.file("type"), "byte 2", "unknown IDX element type 0x07"});
  write_plain(dir.file("ndim0"), bytes_of({0, 0, 0x08, 0}));
  check_file_error([&] { nn::read_idx(dir.file("ndim0")); },
                   {dir.file("ndim0"), "byte 3", "zero dimensions"});
  // Three dimensions need 4 + 12 = 16 header bytes; the file has 9.
  write_plain(dir.file("short"), bytes_of({0, 0, 0x08, 3, 0, 0, 0, 2, 0}));
  check_file_error([&] { nn::read_idx(dir.file("short")); },
                   {dir.file("short"), "byte 9", "ends inside the IDX header (9 of its 16 bytes)"});
  write_gzip(dir.file("short.gz"), bytes_of({0, 0, 0x08}));
  check_file_error([&] { nn::read_idx(dir.file("short.gz")); },
                   {dir.file("short.gz"), "decompressed byte 3", "(3 of its 4 bytes)"});
  // (2^32-1)^2 = 1.8e19 unsigned bytes pass 2^63: the second dimension (byte 8) overflows.
  write_plain(dir.file("overflow"), idx_header(0x08, {0xFFFFFFFF, 0xFFFFFFFF, 2}));
  check_file_error([&] { nn::read_idx(dir.file("overflow")); },
                   {dir.file("overflow"), "byte 8",
                    "(4294967295, 4294967295, 2) have more elements than an int64 can count "
                    "(size overflow)"});
  // 2^31 * 2^30 = 2^61 elements fit, but not as 8-byte float64 (2^64 bytes).
  write_plain(dir.file("overflow64"), idx_header(0x0E, {0x80000000u, 0x40000000u}));
  check_file_error([&] { nn::read_idx(dir.file("overflow64")); },
                   {dir.file("overflow64"), "byte 8",
                    "(2147483648, 1073741824) of float64 elements need more than 2^63 bytes"});
}

BOOST_AUTO_TEST_CASE(data_size_must_match_the_dimensions) {
  TempDir dir("size");
  std::string header = idx_header(0x08, {2, 3});  // 12 bytes, then 6 data bytes
  write_plain(dir.file("short"), header + bytes_of({1, 2, 3, 4, 5}));
  check_file_error([&] { nn::read_idx(dir.file("short")); },
                   {dir.file("short"), "byte 17", "truncated",
                    "the dimensions (2, 3) of unsigned byte elements need 6 data bytes after the "
                    "12-byte header, the file has 5"});
  write_plain(dir.file("long"), header + bytes_of({1, 2, 3, 4, 5, 6, 7, 8}));
  check_file_error([&] { nn::read_idx(dir.file("long")); },
                   {dir.file("long"), "byte 18", "trailing garbage: 2 bytes after the data"});
  write_gzip(dir.file("short.gz"), header + bytes_of({1, 2, 3, 4, 5}));
  check_file_error([&] { nn::read_idx(dir.file("short.gz")); },
                   {dir.file("short.gz"), "decompressed byte 17", "truncated", "need 6 data bytes",
                    "the decompressed data has 5"});
  write_gzip(dir.file("long.gz"), header + bytes_of({1, 2, 3, 4, 5, 6, 7, 8}));
  check_file_error([&] { nn::read_idx(dir.file("long.gz")); },
                   {dir.file("long.gz"), "decompressed byte 18",
                    "trailing garbage: the decompressed data goes on after the data"});
  // int16 elements: (3,) needs 6 bytes, 5 present.
  write_plain(dir.file("short16"), idx_header(0x0B, {3}) + bytes_of({0, 1, 0, 2, 0}));
  check_file_error([&] { nn::read_idx(dir.file("short16")); },
                   {dir.file("short16"), "int16 elements need 6 data bytes", "the file has 5"});
}

BOOST_AUTO_TEST_CASE(broken_gzip_streams) {
  TempDir dir("gzip");
  std::string file = idx_header(0x08, {300});
  for (int i = 0; i < 300; ++i) file += static_cast<char>((i * 37) % 256);
  write_gzip(dir.file("good.gz"), file);
  std::string gz = read_bytes(dir.file("good.gz"));
  BOOST_TEST(ints(nn::read_idx(dir.file("good.gz"))).at(299) == (299 * 37) % 256);

  // Cut in the deflate data, and cut by one byte inside the 8-byte CRC/size trailer.
  for (std::size_t keep : {gz.size() / 2, gz.size() - 1}) {
    write_plain(dir.file("cut.gz"), gz.substr(0, keep));
    check_file_error([&] { nn::read_idx(dir.file("cut.gz")); },
                     {dir.file("cut.gz"), "byte " + std::to_string(keep), "truncated gzip stream"});
  }
  // Only the two magic bytes.
  write_plain(dir.file("magic.gz"), gz.substr(0, 2));
  check_file_error([&] { nn::read_idx(dir.file("magic.gz")); },
                   {dir.file("magic.gz"), "byte 2", "truncated gzip stream"});
  // The CRC-32 of the data (first 4 bytes of the trailer) changed.
  std::string bad_crc = gz;
  bad_crc[gz.size() - 8] = static_cast<char>(bad_crc[gz.size() - 8] ^ 0x01);
  write_plain(dir.file("crc.gz"), bad_crc);
  check_file_error([&] { nn::read_idx(dir.file("crc.gz")); },
                   {dir.file("crc.gz"), "corrupt gzip data", "incorrect data check"});
  // Byte 2 of a gzip header is the method, 8 (deflate); 7 is unknown.
  std::string bad_method = gz;
  bad_method[2] = 7;
  write_plain(dir.file("method.gz"), bad_method);
  check_file_error([&] { nn::read_idx(dir.file("method.gz")); },
                   {dir.file("method.gz"), "corrupt gzip data", "unknown compression method"});
  // Garbage after the complete member.
  write_plain(dir.file("garbage.gz"), gz + "junk");
  check_file_error([&] { nn::read_idx(dir.file("garbage.gz")); },
                   {dir.file("garbage.gz"), "byte " + std::to_string(gz.size()),
                    "trailing garbage after the gzip stream (4 bytes that do not start another "
                    "gzip member)"});
}

// A header claiming 10^12 bytes (or 8 GiB) over 100 real bytes: the reader must fail once the
// data is read, within 64 MiB more address space than the process had.
BOOST_AUTO_TEST_CASE(huge_claims_fail_after_reading_the_real_data, *utf::timeout(60)) {
  TempDir dir("huge");
  std::string data(100, '\x07');
  std::string tera = idx_header(0x08, {1000000, 1000000}) + data;
  std::string eight_gib = idx_header(0x0C, {1u << 16, 1u << 15}) + data;  // 2^31 int32 elements
  write_plain(dir.file("tera"), tera);
  write_gzip(dir.file("tera.gz"), tera);
  write_gzip(dir.file("eight_gib.gz"), eight_gib);
  const std::size_t headroom = std::size_t{64} << 20;
  auto start = std::chrono::steady_clock::now();
  std::string r = read_idx_with_capped_memory(dir.file("tera"), headroom);
  BOOST_TEST(contains(r, "FileError: '" + dir.file("tera") + "': byte 112: truncated"), r);
  BOOST_TEST(
      contains(r, "need 1000000000000 data bytes after the 12-byte header, the file has 100"), r);
  r = read_idx_with_capped_memory(dir.file("tera.gz"), headroom);
  BOOST_TEST(contains(r, "FileError: '" + dir.file("tera.gz") + "': decompressed byte 112"), r);
  BOOST_TEST(contains(r, "need 1000000000000 data bytes"), r);
  BOOST_TEST(contains(r, "the decompressed data has 100"), r);
  r = read_idx_with_capped_memory(dir.file("eight_gib.gz"), headroom);
  BOOST_TEST(contains(r, "int32 elements need 8589934592 data bytes"), r);
  BOOST_TEST_MESSAGE(
      "three huge-claim reads in capped children took "
      << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() << " s");

  // The control: the cap is real. A file that really holds 128 MiB of data cannot be read
  // under it (the data alone is over the headroom), so the passes above did not just have room.
  // Under AddressSanitizer an operator new that finds no memory ends the process (it cannot
  // throw std::bad_alloc), so the control runs in the plain build only.
#if defined(__SANITIZE_ADDRESS__)
  BOOST_TEST_MESSAGE("AddressSanitizer build: the control of the memory cap is left out");
  return;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  BOOST_TEST_MESSAGE("AddressSanitizer build: the control of the memory cap is left out");
  return;
#endif
#endif
  const std::uint32_t big = 128u << 20;
  {
    gzFile f = gzopen(dir.file("real_big.gz").c_str(), "wb1");
    BOOST_REQUIRE(f != nullptr);
    std::string header = idx_header(0x08, {big});
    gzwrite(f, header.data(), static_cast<unsigned>(header.size()));
    std::string zeros(1 << 20, '\0');
    for (std::uint32_t i = 0; i < big >> 20; ++i)
      BOOST_REQUIRE(gzwrite(f, zeros.data(), static_cast<unsigned>(zeros.size())) == 1 << 20);
    BOOST_REQUIRE(gzclose(f) == Z_OK);
  }
  r = read_idx_with_capped_memory(dir.file("real_big.gz"), headroom);
  BOOST_TEST(contains(r, "out of memory holding the data read so far"), r);
  // ...and a gzip bomb whose header claims 10 bytes stops after the first step, not after
  // inflating 128 MiB: the same stream with a small claim.
  {
    gzFile f = gzopen(dir.file("bomb.gz").c_str(), "wb1");
    BOOST_REQUIRE(f != nullptr);
    std::string header = idx_header(0x08, {10});
    gzwrite(f, header.data(), static_cast<unsigned>(header.size()));
    std::string zeros(1 << 20, '\0');
    for (std::uint32_t i = 0; i < big >> 20; ++i)
      BOOST_REQUIRE(gzwrite(f, zeros.data(), static_cast<unsigned>(zeros.size())) == 1 << 20);
    BOOST_REQUIRE(gzclose(f) == Z_OK);
  }
  r = read_idx_with_capped_memory(dir.file("bomb.gz"), headroom);
  BOOST_TEST(contains(r, "FileError: '" + dir.file("bomb.gz") +
                             "': decompressed byte 18: "
                             "trailing garbage: the decompressed data goes on after the data"),
             r);
}

BOOST_AUTO_TEST_SUITE_END()
