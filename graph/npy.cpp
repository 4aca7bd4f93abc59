// The .npy codec. The header is a Python dict literal; we parse the small subset numpy writes
// ({'descr': ..., 'fortran_order': ..., 'shape': (...), }) by hand rather than pulling in a
// general parser, and report every problem with the byte offset where it was found, because
// a file that fails to load is usually one that was truncated or hand-edited.
#include "dagrad/graph/npy.hpp"

#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

#include "dagrad/graph/errors.hpp"
#include "file_io.hpp"

namespace dagrad {

static_assert(std::endian::native == std::endian::little,
              "the .npy codec copies little-endian data verbatim");

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicSize = 6;
constexpr std::size_t kAlignment = 64;  // numpy >= 1.14 pads headers to 64 bytes

std::string_view descr_of(DType dtype) {
  switch (dtype) {
    case DType::float32:
      return "<f4";
    case DType::float64:
      return "<f8";
    case DType::int32:
      return "<i4";
    case DType::int64:
      return "<i8";
    case DType::boolean:
      return "|b1";
  }
  throw std::invalid_argument("encode_npy: invalid dtype");
}

std::optional<DType> dtype_of_descr(std::string_view descr) {
  // numpy writes '|' for one-byte types, but '<b1' and '=b1' mean the same thing.
  if (descr == "<f4") return DType::float32;
  if (descr == "<f8") return DType::float64;
  if (descr == "<i4") return DType::int32;
  if (descr == "<i8") return DType::int64;
  if (descr == "|b1" || descr == "<b1" || descr == "=b1") return DType::boolean;
  return std::nullopt;
}

[[noreturn]] void fail(std::string_view source, std::size_t offset, const std::string& what) {
  throw FileError(std::string(source) + ": byte " + std::to_string(offset) + ": " + what);
}

// A cursor over the header dict that knows the header's position in the file.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, std::size_t file_offset, std::string_view source)
      : text_(text), base_(file_offset), source_(source) {}

  struct Header {
    std::optional<std::string> descr;
    std::optional<bool> fortran_order;
    std::optional<std::vector<std::int64_t>> shape;
  };

  Header parse() {
    Header h;
    skip_space();
    expect('{');
    skip_space();
    while (peek() != '}') {
      std::size_t key_at = pos_;
      std::string key = parse_string();
      skip_space();
      expect(':');
      skip_space();
      if (key == "descr") {
        if (h.descr) error(key_at, "duplicate key 'descr'");
        if (peek() != '\'' && peek() != '"')
          error(pos_, "descr must be a string such as '<f4' (structured dtypes are not supported)");
        h.descr = parse_string();
      } else if (key == "fortran_order") {
        if (h.fortran_order) error(key_at, "duplicate key 'fortran_order'");
        h.fortran_order = parse_bool();
      } else if (key == "shape") {
        if (h.shape) error(key_at, "duplicate key 'shape'");
        h.shape = parse_tuple();
      } else {
        error(key_at, "unexpected key '" + key + "' (expected descr, fortran_order, shape)");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        skip_space();
      } else if (peek() != '}') {
        error(pos_, "expected ',' or '}' in the header dict");
      }
    }
    ++pos_;
    skip_space();
    if (pos_ != text_.size()) error(pos_, "unexpected characters after the header dict");
    if (!h.descr) error(text_.size(), "header has no 'descr' key");
    if (!h.fortran_order) error(text_.size(), "header has no 'fortran_order' key");
    if (!h.shape) error(text_.size(), "header has no 'shape' key");
    return h;
  }

  std::size_t offset(std::size_t pos) const { return base_ + pos; }

 private:
  [[noreturn]] void error(std::size_t pos, const std::string& what) const {
    fail(source_, base_ + pos, what);
  }
  char peek() const {
    if (pos_ >= text_.size()) error(pos_, "header ends inside the dict");
    return text_[pos_];
  }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\t' || text_[pos_] == '\r'))
      ++pos_;
  }
  void expect(char c) {
    if (peek() != c) error(pos_, std::string("expected '") + c + "' in the header");
    ++pos_;
  }
  std::string parse_string() {
    char quote = peek();
    if (quote != '\'' && quote != '"') error(pos_, "expected a quoted string in the header");
    ++pos_;
    std::string out;
    while (peek() != quote) {
      if (text_[pos_] == '\\') ++pos_;
      out += peek();
      ++pos_;
    }
    ++pos_;
    return out;
  }
  bool parse_bool() {
    if (text_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (text_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    error(pos_, "expected True or False");
  }
  std::vector<std::int64_t> parse_tuple() {
    expect('(');
    std::vector<std::int64_t> dims;
    skip_space();
    while (peek() != ')') {
      std::size_t start = pos_;
      std::int64_t value = 0;
      bool any = false;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
        if (value > (INT64_MAX - 9) / 10) error(start, "dimension too large");
        value = value * 10 + (text_[pos_] - '0');
        ++pos_;
        any = true;
      }
      if (!any) error(start, "expected a non-negative integer dimension in the shape");
      if (pos_ < text_.size() && text_[pos_] == 'L') ++pos_;  // Python 2 longs in old files
      dims.push_back(value);
      skip_space();
      if (peek() == ',') {
        ++pos_;
        skip_space();
      } else if (peek() != ')') {
        error(pos_, "expected ',' or ')' in the shape");
      }
    }
    ++pos_;
    return dims;
  }

  std::string_view text_;
  std::size_t base_;
  std::string_view source_;
  std::size_t pos_ = 0;
};

std::string shape_tuple(const Shape& shape) {
  // Python's repr of a tuple: "()", "(3,)", "(2, 3)".
  std::string s = "(";
  for (int i = 0; i < shape.rank(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.rank() == 1) s += ",";
  return s + ")";
}

std::uint32_t read_le(std::string_view bytes, std::size_t at, std::size_t width) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < width; ++i)
    v |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
  return v;
}

}  // namespace

std::string encode_npy(const Tensor& tensor) {
  if (!tensor.defined()) throw std::invalid_argument("encode_npy: undefined tensor");
  std::string dict = "{'descr': '" + std::string(descr_of(tensor.dtype())) +
                     "', 'fortran_order': False, 'shape': " + shape_tuple(tensor.shape()) + ", }";
  std::size_t unpadded = kMagicSize + 2 + 2 + dict.size() + 1;  // + the final '\n'
  std::size_t total = (unpadded + kAlignment - 1) / kAlignment * kAlignment;
  std::size_t header_len = total - kMagicSize - 4;
  if (header_len > 0xFFFF)
    throw std::invalid_argument("encode_npy: header of " + std::to_string(header_len) +
                                " bytes does not fit format 1.0 (rank " +
                                std::to_string(tensor.shape().rank()) + ")");
  dict.append(total - unpadded, ' ');
  dict += '\n';

  std::string out;
  out.reserve(total + tensor.nbytes());
  out.append(kMagic, kMagicSize);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header_len & 0xFF);
  out += static_cast<char>(header_len >> 8);
  out += dict;
  out.append(static_cast<const char*>(tensor.raw()), tensor.nbytes());
  return out;
}

Tensor decode_npy(std::string_view bytes, std::string_view source) {
  if (bytes.size() < kMagicSize ||
      bytes.substr(0, kMagicSize) != std::string_view(kMagic, kMagicSize))
    fail(source, 0, "not a .npy file (missing the \\x93NUMPY magic string)");
  if (bytes.size() < kMagicSize + 2)
    fail(source, bytes.size(), "file ends inside the version number");
  int major = static_cast<unsigned char>(bytes[6]);
  int minor = static_cast<unsigned char>(bytes[7]);
  if ((major < 1 || major > 3) || minor != 0)
    fail(source, 6,
         "unsupported .npy format version " + std::to_string(major) + "." + std::to_string(minor) +
             " (expected 1.0, 2.0 or 3.0)");
  // Format 1.0 has a 2-byte header length; 2.0 and 3.0 (UTF-8 header) have 4 bytes.
  std::size_t len_width = major == 1 ? 2 : 4;
  std::size_t header_start = 8 + len_width;
  if (bytes.size() < header_start) fail(source, bytes.size(), "file ends inside the header length");
  std::size_t header_len = read_le(bytes, 8, len_width);
  if (bytes.size() - header_start < header_len)
    fail(source, bytes.size(),
         "truncated header: the header length at byte 8 says " + std::to_string(header_len) +
             " bytes from byte " + std::to_string(header_start) + ", but the file has only " +
             std::to_string(bytes.size()) + " bytes");

  HeaderParser parser(bytes.substr(header_start, header_len), header_start, source);
  HeaderParser::Header h = parser.parse();
  auto dtype = dtype_of_descr(*h.descr);
  if (!dtype)
    fail(source, header_start,
         "unsupported descr '" + *h.descr + "' (expected '<f4', '<f8', '<i4', '<i8' or '|b1')");
  if (*h.fortran_order)
    fail(source, header_start, "fortran_order True is not supported (save the array in C order)");

  Shape shape{std::vector<std::int64_t>(*h.shape)};
  std::size_t data_start = header_start + header_len;
  std::uint64_t expected = dtype_size(*dtype);
  for (std::int64_t d : h.shape.value())
    if (__builtin_mul_overflow(expected, static_cast<std::uint64_t>(d), &expected))
      fail(source, header_start, "shape " + shape.to_string() + " is too large");
  std::size_t available = bytes.size() - data_start;
  std::string what = std::string(dtype_name(*dtype)) + " " + shape.to_string() + " needs " +
                     std::to_string(expected) + " data bytes from byte " +
                     std::to_string(data_start) + ", ";
  if (available < expected)
    fail(source, bytes.size(),
         "truncated data: " + what + "the file has only " + std::to_string(available));
  if (available > expected)
    fail(source, data_start + expected,
         "data size does not match the shape: " + what + "the file has " +
             std::to_string(available));

  Tensor t(*dtype, std::move(shape));
  if (*dtype == DType::boolean) {
    // Any other byte would be an invalid C++ bool.
    for (std::size_t i = 0; i < expected; ++i) {
      unsigned char b = static_cast<unsigned char>(bytes[data_start + i]);
      if (b > 1)
        fail(source, data_start + i,
             "bool element " + std::to_string(i) + " is " + std::to_string(b) + ", not 0 or 1");
    }
  }
  if (expected) std::memcpy(t.raw(), bytes.data() + data_start, expected);
  return t;
}

void write_npy(const std::string& path, const Tensor& tensor) {
  std::string bytes = encode_npy(tensor);
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status link = fs::symlink_status(path, ec);
  if (fs::exists(link) && !fs::is_regular_file(link)) {
    // A device, a pipe or a symbolic link: written through in place, as an ofstream does (a
    // rename would replace the device or the link itself).
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) throw FileError("cannot write '" + path + "': " + std::strerror(errno));
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) throw FileError("cannot write '" + path + "': write failed (disk full?)");
    return;
  }
  // A regular file or none: a temporary sibling renamed over `path`, so that a failed or killed
  // write leaves any older file whole; an older file's permissions are kept.
  const fs::path target(path);
  const std::string temp =
      (target.parent_path() / ("." + target.filename().string() + ".tmp-" + detail::unique_suffix()))
          .string();
  try {
    detail::write_file_synced(temp, bytes);
    if (fs::exists(link)) fs::permissions(temp, link.permissions(), ec);
    fs::rename(temp, path, ec);
    if (ec) throw FileError("cannot write '" + path + "': " + ec.message());
  } catch (...) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    throw;
  }
}

Tensor read_npy(const std::string& path) {
  return decode_npy(detail::read_regular_file(path, "cannot read '" + path + "'"), path);
}

}  // namespace dagrad
