#include <boost/test/unit_test.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "dagrad/dagrad.hpp"

using namespace dagrad;
namespace fs = std::filesystem;

namespace {

// The exact bytes numpy.save writes for np.array([1, 2, 3], dtype=np.float32): format 1.0,
// header length 118 (0x76) so that magic + version + length + header = 128 bytes.
std::string numpy_float32_123() {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
  std::string header = dict + std::string(118 - dict.size() - 1, ' ') + "\n";
  std::string bytes("\x93NUMPY\x01\x00\x76\x00", 10);
  bytes += header;
  const unsigned char data[] = {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00,
                                0x00, 0x40, 0x00, 0x00, 0x40, 0x40};
  bytes.append(reinterpret_cast<const char*>(data), sizeof data);
  return bytes;
}

// A .npy file with a hand-made header dict (format 1.0, no padding).
std::string with_header(const std::string& dict, std::string_view data) {
  std::string bytes("\x93NUMPY\x01\x00", 8);
  bytes += static_cast<char>(dict.size() & 0xFF);
  bytes += static_cast<char>(dict.size() >> 8);
  bytes += dict;
  bytes += data;
  return bytes;
}

// Expects decode_npy to throw FileError whose message names the source and `byte OFFSET`.
void expect_error_at(const std::string& bytes, std::size_t offset, const std::string& fragment) {
  try {
    decode_npy(bytes, "bad.npy");
    BOOST_FAIL("expected a FileError containing '" + fragment + "'");
  } catch (const FileError& e) {
    std::string message = e.what();
    BOOST_TEST_INFO("message: " << message);
    BOOST_TEST(message.find("bad.npy: byte " + std::to_string(offset) + ":") == 0u);
    BOOST_TEST(message.find(fragment) != std::string::npos);
  }
}

Tensor sample(DType dtype, Shape shape) {
  Tensor t(dtype, std::move(shape));
  for (std::int64_t i = 0; i < t.size(); ++i) {
    switch (dtype) {
      case DType::float32:
        t.data<float>()[i] = 0.5f * static_cast<float>(i) - 3.25f;
        break;
      case DType::float64:
        t.data<double>()[i] = 1e-300 * static_cast<double>(i) - 1.0 / 3.0;
        break;
      case DType::int32:
        t.data<std::int32_t>()[i] = static_cast<std::int32_t>(i * 1000003) - 7;
        break;
      case DType::int64:
        t.data<std::int64_t>()[i] = (std::int64_t{1} << 40) * i - 5;
        break;
      case DType::boolean:
        t.data<bool>()[i] = i % 3 == 1;
        break;
    }
  }
  return t;
}

bool same_tensor(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(npy)

BOOST_AUTO_TEST_CASE(round_trip_every_dtype_and_shape) {
  for (int d = 0; d < kNumDTypes; ++d) {
    for (const Shape& shape : {Shape{}, Shape{5}, Shape{2, 3}, Shape{0, 4}, Shape{2, 1, 3}}) {
      DType dtype = static_cast<DType>(d);
      BOOST_TEST_CONTEXT(dtype_name(dtype) << " " << shape.to_string()) {
        Tensor t = sample(dtype, shape);
        std::string bytes = encode_npy(t);
        BOOST_TEST(bytes.size() % 64 == t.nbytes() % 64);  // header padded to 64 bytes
        BOOST_TEST(same_tensor(decode_npy(bytes), t));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(encodes_exactly_what_numpy_writes) {
  BOOST_TEST(encode_npy(Tensor::from_vector<float>({3}, {1, 2, 3})) == numpy_float32_123());
  std::string header = encode_npy(Tensor(DType::boolean, Shape{2, 3})).substr(10, 60);
  BOOST_TEST(header.find("{'descr': '|b1', 'fortran_order': False, 'shape': (2, 3), }") == 0u);
  header = encode_npy(Tensor::scalar<std::int64_t>(4)).substr(10, 60);
  BOOST_TEST(header.find("'descr': '<i8'") != std::string::npos);
  BOOST_TEST(header.find("'shape': ()") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(decodes_hand_written_numpy_bytes) {
  Tensor t = decode_npy(numpy_float32_123());
  BOOST_TEST(t.dtype() == DType::float32);
  BOOST_TEST(t.shape() == Shape{3});
  BOOST_TEST(t.to_vector<float>() == (std::vector<float>{1, 2, 3}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(decodes_version_2_and_other_spellings) {
  // Format 2.0 has a 4-byte header length.
  std::string dict = "{\"shape\": (2L,), \"fortran_order\": False, \"descr\": \"<i4\"}\n";
  std::string bytes("\x93NUMPY\x02\x00", 8);
  for (int i = 0; i < 4; ++i) bytes += static_cast<char>((dict.size() >> (8 * i)) & 0xFF);
  bytes += dict;
  const std::int32_t values[] = {-7, 9};
  bytes.append(reinterpret_cast<const char*>(values), sizeof values);
  Tensor t = decode_npy(bytes);
  BOOST_TEST(t.dtype() == DType::int32);
  BOOST_TEST(t.to_vector<std::int32_t>() == (std::vector<std::int32_t>{-7, 9}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(file_round_trip_and_missing_file) {
  fs::path path =
      fs::temp_directory_path() / ("dagrad_npy_" + std::to_string(std::random_device{}()) + ".npy");
  Tensor t = sample(DType::float64, Shape{4, 2});
  write_npy(path.string(), t);
  BOOST_TEST(same_tensor(read_npy(path.string()), t));
  fs::remove(path);
  try {
    read_npy(path.string());
    BOOST_FAIL("expected FileError");
  } catch (const FileError& e) {
    BOOST_TEST(std::string(e.what()).find(path.string()) != std::string::npos);
  }
  BOOST_CHECK_THROW(write_npy((path / "no" / "dir.npy").string(), t), FileError);
}

// A write that cannot complete (here: a directory holds the name) is a FileError naming the path,
// leaves what was there, and leaves no temporary behind; a write over an older file replaces it.
BOOST_AUTO_TEST_CASE(writes_replace_the_file_whole_or_not_at_all) {
  fs::path dir = fs::temp_directory_path() /
                 ("dagrad_npy_atomic_" + std::to_string(std::random_device{}()));
  fs::create_directories(dir / "taken.npy" / "inside");
  Tensor t = sample(DType::float32, Shape{3});
  try {
    write_npy((dir / "taken.npy").string(), t);
    BOOST_FAIL("expected FileError");
  } catch (const FileError& e) {
    BOOST_TEST(std::string(e.what()).find((dir / "taken.npy").string()) != std::string::npos,
               e.what());
  }
  BOOST_TEST(fs::is_directory(dir / "taken.npy" / "inside"));
  write_npy((dir / "x.npy").string(), sample(DType::float64, Shape{2, 2}));
  write_npy((dir / "x.npy").string(), t);
  BOOST_TEST(same_tensor(read_npy((dir / "x.npy").string()), t));
  // A symbolic link is written through (its target gets the data), not replaced; a file keeps
  // its permissions; /dev/null stays a device.
  fs::create_symlink(dir / "x.npy", dir / "link.npy");
  fs::permissions(dir / "x.npy", fs::perms::owner_read | fs::perms::owner_write);
  Tensor other = sample(DType::float64, Shape{5});
  write_npy((dir / "link.npy").string(), other);
  BOOST_TEST(fs::is_symlink(dir / "link.npy"));
  BOOST_TEST(same_tensor(read_npy((dir / "x.npy").string()), other));
  BOOST_TEST(((fs::status(dir / "x.npy").permissions() & fs::perms::all) ==
              (fs::perms::owner_read | fs::perms::owner_write)));
  write_npy((dir / "x.npy").string(), t);
  BOOST_TEST(((fs::status(dir / "x.npy").permissions() & fs::perms::all) ==
              (fs::perms::owner_read | fs::perms::owner_write)));
  if (fs::is_character_file("/dev/null")) {
    write_npy("/dev/null", t);
    BOOST_TEST(fs::is_character_file("/dev/null"));
  }
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++entries;
  BOOST_TEST(entries == 3u);  // taken.npy, x.npy and link.npy: no temporary left
  fs::remove_all(dir);
}

// A path that is not a regular file is a FileError naming it, not a leaked
// "basic_filebuf::underflow error reading the file: Is a directory".
BOOST_AUTO_TEST_CASE(directory_or_device_instead_of_a_file) {
  fs::path dir = fs::temp_directory_path() /
                 ("dagrad_npy_dir_" + std::to_string(std::random_device{}()) + ".npy");
  fs::create_directories(dir);
  try {
    read_npy(dir.string());
    BOOST_FAIL("expected FileError");
  } catch (const FileError& e) {
    std::string message = e.what();
    BOOST_TEST(message.find("'" + dir.string() + "'") != std::string::npos, message);
    BOOST_TEST(message.find("is a directory") != std::string::npos, message);
  }
  fs::remove_all(dir);
  try {
    read_npy("/dev/null");
    BOOST_FAIL("expected FileError");
  } catch (const FileError& e) {
    std::string message = e.what();
    BOOST_TEST(message.find("'/dev/null'") != std::string::npos, message);
    BOOST_TEST(message.find("not a regular file") != std::string::npos, message);
  }
}

BOOST_AUTO_TEST_CASE(malformed_inputs_name_the_offset) {
  std::string good = numpy_float32_123();
  std::string twelve(12, '\0');

  std::string bad_magic = good;
  bad_magic[1] = 'X';
  expect_error_at(bad_magic, 0, "magic");
  expect_error_at("\x93NUM", 0, "magic");
  expect_error_at(good.substr(0, 7), 7, "version");
  std::string version = good;
  version[6] = 4;
  expect_error_at(version, 6, "version 4.0");
  expect_error_at(good.substr(0, 9), 9, "header length");
  expect_error_at(good.substr(0, 60), 60, "truncated header");

  expect_error_at(with_header("{'descr': '<u2', 'fortran_order': False, 'shape': (3,), }", twelve),
                  10, "unsupported descr '<u2'");
  expect_error_at(with_header("{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }", twelve),
                  10, "unsupported descr '>f4'");
  expect_error_at(with_header("{'descr': '<f4', 'fortran_order': True, 'shape': (3,), }", twelve),
                  10, "fortran_order True");
  expect_error_at(with_header("{'descr': '<f4', 'fortran_order': False}", twelve), 10 + 40,
                  "no 'shape'");
  // The offset points at the bad character: 10 + position inside the dict.
  expect_error_at(
      with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (3, x), }", twelve), 10 + 54,
      "dimension");
  expect_error_at(with_header("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (3,), }", twelve),
                  10 + 34, "True or False");
  expect_error_at(
      with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'extra': 1}", twelve),
      10 + 56, "unexpected key 'extra'");
  expect_error_at(
      with_header("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,)}", twelve),
      10 + 10, "structured");

  // Data shorter or longer than the shape says.
  expect_error_at(good.substr(0, good.size() - 3), good.size() - 3, "truncated data");
  expect_error_at(good + "xyz", good.size(), "does not match the shape");
  // Bool bytes must be 0 or 1.
  std::string bools = with_header("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }",
                                  std::string("\1\0\2", 3));
  expect_error_at(bools, bools.size() - 1, "not 0 or 1");
}

// A header claiming 2^40 floats over 12 bytes of data fails on the claim, before any tensor is
// allocated for it.
BOOST_AUTO_TEST_CASE(absurd_claimed_sizes_fail_before_allocating) {
  std::string huge =
      with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776,), }",
                  std::string(12, '\0'));
  expect_error_at(huge, huge.size(), "truncated data");
  expect_error_at(huge, huge.size(), "needs 4398046511104 data bytes");
}

BOOST_AUTO_TEST_CASE(encode_rejects_undefined_tensor) {
  BOOST_CHECK_THROW(encode_npy(Tensor()), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
