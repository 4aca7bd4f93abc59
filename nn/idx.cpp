// IDX files, plain or gzipped. The header is checked as soon as its bytes are there, and the
// element bytes are kept only as they arrive (from the file, or from zlib in 64 KiB steps that
// stop as soon as the stream passes the header's size), so a corrupt or hostile header can
// never make us allocate more than the file really holds: its claim is compared with the data
// once the data is read, and only a verified array is converted into a tensor.
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <new>

#include "dagrad/graph/errors.hpp"
#include "dagrad/nn/datasets.hpp"
#include "nn/idx_reader.hpp"

namespace dagrad::nn {
namespace detail {
namespace {

constexpr std::size_t kInflateStep = std::size_t{1} << 16;
// zlib counts input in uInt; larger files are fed in pieces of this size.
constexpr std::size_t kMaxZlibInput = std::size_t{1} << 30;

std::string quoted(const std::string& path) {
  return "'" + path + "'";
}

// "1f 8b 08 00" for the first (at most four) bytes.
std::string first_bytes_hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < std::min<std::size_t>(bytes.size(), 4); ++i) {
    auto b = static_cast<unsigned char>(bytes[i]);
    if (i) s += ' ';
    s += digits[b >> 4];
    s += digits[b & 15];
  }
  return s;
}

std::string hex_byte(std::uint8_t b) {
  static const char* digits = "0123456789ABCDEF";
  return std::string("0x") + digits[b >> 4] + digits[b & 15];
}

std::size_t element_size_of(std::uint8_t type) {
  switch (type) {
    case 0x08:
    case 0x09:
      return 1;
    case 0x0B:
      return 2;
    case 0x0C:
    case 0x0D:
      return 4;
    case 0x0E:
      return 8;
    default:
      return 0;
  }
}

std::string dims_text(const std::vector<std::int64_t>& dims) {
  std::string s = "(";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + ")";
}

// Where an error is: the file, and whether offsets count file bytes or decompressed bytes.
struct Where {
  const std::string& path;
  bool gzip;
  [[noreturn]] void fail(std::size_t offset, const std::string& what) const {
    throw FileError(quoted(path) + ": " + (gzip ? "decompressed byte " : "byte ") +
                    std::to_string(offset) + ": " + what);
  }
};

struct Header {
  std::uint8_t type = 0;
  std::vector<std::int64_t> dims;
  std::size_t element_size = 0;
  std::size_t header_bytes = 0;
  std::uint64_t data_bytes = 0;  // what the dimensions need; fits in int64
};

// Parses the header at the start of `bytes`. Returns false when more bytes are needed and
// `complete` is false; throws at the first wrong byte, and when `complete` and it is cut short.
bool parse_header(std::string_view bytes, const Where& where, bool complete, Header& h) {
  if (bytes.size() < 4 && !complete) return false;
  if (bytes.empty())
    where.fail(0, where.gzip ? "the decompressed data is empty (no IDX header)" : "empty file");
  auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(bytes[i]); };
  for (std::size_t i = 0; i < std::min<std::size_t>(bytes.size(), 2); ++i) {
    if (byte(i) != 0) {
      where.fail(i, where.gzip ? "the decompressed data is not an IDX file (magic 00 00 TYPE "
                                 "NDIM); it starts with " +
                                     first_bytes_hex(bytes)
                               : "neither a gzip file (magic 1f 8b) nor an IDX file (magic 00 00 "
                                 "TYPE NDIM); it starts with " +
                                     first_bytes_hex(bytes));
    }
  }
  if (bytes.size() >= 3) {
    h.type = byte(2);
    h.element_size = element_size_of(h.type);
    if (h.element_size == 0)
      where.fail(2, "unknown IDX element type " + hex_byte(h.type) +
                        " (known: 0x08 unsigned byte, 0x09 signed byte, 0x0B int16, 0x0C int32, "
                        "0x0D float32, 0x0E float64)");
  }
  if (bytes.size() >= 4 && byte(3) == 0)
    where.fail(3, "the header declares zero dimensions (an IDX array has at least one)");
  std::size_t need = bytes.size() >= 4 ? 4 + 4 * std::size_t{byte(3)} : 4;
  if (bytes.size() < need) {
    if (!complete) return false;
    where.fail(bytes.size(), "the data ends inside the IDX header (" +
                                 std::to_string(bytes.size()) + " of its " + std::to_string(need) +
                                 " bytes)");
  }
  std::size_t ndim = byte(3);
  h.header_bytes = need;
  h.dims.resize(ndim);
  for (std::size_t i = 0; i < ndim; ++i) {
    std::size_t at = 4 + 4 * i;
    h.dims[i] = (std::int64_t{byte(at)} << 24) | (std::int64_t{byte(at + 1)} << 16) |
                (std::int64_t{byte(at + 2)} << 8) | std::int64_t{byte(at + 3)};
  }
  // The running product must fit an int64, as dagrad's Shape counts elements (so even an array
  // with a zero dimension is refused when the dimensions before it overflow); then the bytes.
  const std::int64_t max_bytes = std::numeric_limits<std::int64_t>::max();
  const auto element_size = static_cast<std::int64_t>(h.element_size);
  std::int64_t count = 1;
  std::size_t bytes_overflow_at = 0;  // the first dimension where count * size passes 2^63
  for (std::size_t i = 0; i < ndim; ++i) {
    if (__builtin_mul_overflow(count, h.dims[i], &count))
      where.fail(4 + 4 * i, "the dimensions " + dims_text(h.dims) +
                                " have more elements than an int64 can count (size overflow)");
    if (count > max_bytes / element_size && bytes_overflow_at == 0) bytes_overflow_at = 4 + 4 * i;
  }
  if (count > max_bytes / element_size)
    where.fail(bytes_overflow_at, "the dimensions " + dims_text(h.dims) + " of " +
                                      std::string(idx_type_name(h.type)) +
                                      " elements need more than 2^63 bytes (size overflow)");
  h.data_bytes = static_cast<std::uint64_t>(count * element_size);
  return true;
}

std::string need_text(const Header& h) {
  return "the dimensions " + dims_text(h.dims) + " of " + std::string(idx_type_name(h.type)) +
         " elements need " + std::to_string(h.data_bytes) + " data bytes after the " +
         std::to_string(h.header_bytes) + "-byte header";
}

// Appends, turning a failed allocation into an error that names the file.
void append(std::string& out, const char* p, std::size_t n, const Where& where) {
  try {
    out.append(p, n);
  } catch (const std::bad_alloc&) {
    where.fail(out.size(), "out of memory holding the data read so far");
  }
}

// The whole regular file: an allocation of its real size.
std::string read_whole_file(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::file_status status = fs::status(path, ec);
  if (fs::is_directory(status))
    throw FileError("cannot read " + quoted(path) + ": it is a directory, not a file");
  if (fs::exists(status) && !fs::is_regular_file(status))
    throw FileError("cannot read " + quoted(path) + ": it is not a regular file");
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw FileError("cannot read " + quoted(path) + ": " + std::strerror(errno));
  std::streamoff size = in.tellg();
  if (size < 0) throw FileError("cannot read " + quoted(path) + ": cannot tell its size");
  in.seekg(0);
  std::string bytes(static_cast<std::size_t>(size), '\0');
  in.read(bytes.data(), size);
  if (in.gcount() != size)
    throw FileError("cannot read " + quoted(path) + ": read " + std::to_string(in.gcount()) +
                    " of its " + std::to_string(size) + " bytes");
  return bytes;
}

IdxArray finish(std::string storage, const Header& h, bool gzip) {
  IdxArray a;
  a.type = h.type;
  a.dims = h.dims;
  a.element_size = h.element_size;
  a.storage = std::move(storage);
  a.data_offset = h.header_bytes;
  a.gzip = gzip;
  return a;
}

IdxArray read_plain(const std::string& path, std::string bytes) {
  Where where{path, false};
  Header h;
  parse_header(bytes, where, true, h);
  std::uint64_t present = bytes.size() - h.header_bytes;
  if (present < h.data_bytes)
    where.fail(bytes.size(),
               "truncated: " + need_text(h) + ", the file has " + std::to_string(present));
  if (present > h.data_bytes)
    where.fail(h.header_bytes + h.data_bytes,
               "trailing garbage: " + std::to_string(present - h.data_bytes) +
                   " bytes after the data (" + need_text(h) + ")");
  return finish(std::move(bytes), h, false);
}

IdxArray read_gzip(const std::string& path, const std::string& compressed) {
  Where where{path, true};
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)  // 16: gzip wrapper only
    throw FileError(quoted(path) + ": zlib cannot start decompressing (out of memory)");
  struct End {
    z_stream* z;
    ~End() { inflateEnd(z); }
  } end{&zs};

  std::string out;
  // A first guess a few times the compressed size (Fashion-MNIST's ratio is about 2); more
  // only as the stream really produces it.
  try {
    out.reserve(compressed.size() * 4 + kInflateStep);
  } catch (const std::bad_alloc&) {  // only a guess: grow as the data arrives instead
  }
  std::vector<char> step(kInflateStep);
  Header h;
  bool have_header = false;
  std::uint64_t limit = std::numeric_limits<std::uint64_t>::max();
  std::size_t fed = 0;  // bytes of `compressed` handed to zlib so far
  auto* input = reinterpret_cast<const Bytef*>(compressed.data());
  for (;;) {
    if (zs.avail_in == 0 && fed < compressed.size()) {
      std::size_t piece = std::min(compressed.size() - fed, kMaxZlibInput);
      zs.next_in = const_cast<Bytef*>(input + fed);
      zs.avail_in = static_cast<uInt>(piece);
      fed += piece;
    }
    zs.next_out = reinterpret_cast<Bytef*>(step.data());
    zs.avail_out = static_cast<uInt>(step.size());
    int ret = inflate(&zs, Z_NO_FLUSH);
    std::size_t consumed = fed - zs.avail_in;
    if (ret == Z_DATA_ERROR || ret == Z_NEED_DICT || ret == Z_STREAM_ERROR)
      throw FileError(quoted(path) + ": byte " + std::to_string(consumed) +
                      ": corrupt gzip data (zlib: " + (zs.msg ? zs.msg : "invalid data") + ")");
    if (ret == Z_MEM_ERROR) throw FileError(quoted(path) + ": out of memory while decompressing");
    append(out, step.data(), step.size() - zs.avail_out, where);
    if (!have_header) {
      have_header = parse_header(out, where, false, h);
      if (have_header) limit = h.header_bytes + h.data_bytes;
    }
    if (out.size() > limit)
      where.fail(limit, "trailing garbage: the decompressed data goes on after the data (" +
                            need_text(h) + ")");
    if (ret == Z_STREAM_END) {
      if (consumed == compressed.size()) break;
      // Concatenated members (`cat a.gz b.gz`) are one stream, as gzip -d reads them.
      if (compressed.size() - consumed >= 2 &&
          static_cast<unsigned char>(compressed[consumed]) == 0x1f &&
          static_cast<unsigned char>(compressed[consumed + 1]) == 0x8b) {
        inflateReset(&zs);
        continue;
      }
      throw FileError(quoted(path) + ": byte " + std::to_string(consumed) +
                      ": trailing garbage after the gzip stream (" +
                      std::to_string(compressed.size() - consumed) +
                      " bytes that do not start another gzip member)");
    }
    // zlib stopped with room left for output and no input left: the stream was cut short.
    if (zs.avail_in == 0 && fed == compressed.size() && zs.avail_out > 0)
      throw FileError(quoted(path) + ": byte " + std::to_string(compressed.size()) +
                      ": truncated gzip stream (the file ends before the end of the compressed "
                      "data and its CRC trailer)");
  }
  if (!have_header) parse_header(out, where, true, h);  // throws: the header is incomplete
  if (out.size() < limit)
    where.fail(out.size(), "truncated: " + need_text(h) + ", the decompressed data has " +
                               std::to_string(out.size() - std::min(out.size(), h.header_bytes)));
  return finish(std::move(out), h, true);
}

std::uint32_t big_endian_32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

}  // namespace

std::int64_t IdxArray::num_elements() const {
  std::int64_t n = 1;
  for (std::int64_t d : dims) n *= d;
  return n;
}

std::string_view idx_type_name(std::uint8_t type) {
  switch (type) {
    case 0x08:
      return "unsigned byte";
    case 0x09:
      return "signed byte";
    case 0x0B:
      return "int16";
    case 0x0C:
      return "int32";
    case 0x0D:
      return "float32";
    case 0x0E:
      return "float64";
    default:
      return "unknown";
  }
}

IdxArray read_idx_array(const std::string& path) {
  std::string bytes = read_whole_file(path);
  if (bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
      static_cast<unsigned char>(bytes[1]) == 0x8b)
    return read_gzip(path, bytes);
  return read_plain(path, std::move(bytes));
}

}  // namespace detail

Tensor read_idx(const std::string& path) {
  detail::IdxArray a = detail::read_idx_array(path);
  const unsigned char* p = a.data();
  std::size_t n = static_cast<std::size_t>(a.num_elements());
  Shape shape(a.dims);
  switch (a.type) {
    case 0x08: {
      Tensor t(DType::int32, shape);
      std::int32_t* out = t.data<std::int32_t>();
      for (std::size_t i = 0; i < n; ++i) out[i] = p[i];
      return t;
    }
    case 0x09: {
      Tensor t(DType::int32, shape);
      std::int32_t* out = t.data<std::int32_t>();
      for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::int8_t>(p[i]);
      return t;
    }
    case 0x0B: {
      Tensor t(DType::int32, shape);
      std::int32_t* out = t.data<std::int32_t>();
      for (std::size_t i = 0; i < n; ++i)
        out[i] = static_cast<std::int16_t>((std::uint16_t{p[2 * i]} << 8) | p[2 * i + 1]);
      return t;
    }
    case 0x0C: {
      Tensor t(DType::int32, shape);
      std::int32_t* out = t.data<std::int32_t>();
      for (std::size_t i = 0; i < n; ++i)
        out[i] = std::bit_cast<std::int32_t>(detail::big_endian_32(p + 4 * i));
      return t;
    }
    case 0x0D: {
      Tensor t(DType::float32, shape);
      float* out = t.data<float>();
      for (std::size_t i = 0; i < n; ++i)
        out[i] = std::bit_cast<float>(detail::big_endian_32(p + 4 * i));
      return t;
    }
    case 0x0E: {
      Tensor t(DType::float64, shape);
      double* out = t.data<double>();
      for (std::size_t i = 0; i < n; ++i) {
        std::uint64_t bits = (std::uint64_t{detail::big_endian_32(p + 8 * i)} << 32) |
                             detail::big_endian_32(p + 8 * i + 4);
        out[i] = std::bit_cast<double>(bits);
      }
      return t;
    }
    default:
      break;
  }
  throw FileError("'" + path + "': unknown IDX element type");  // read_idx_array checked it
}

}  // namespace dagrad::nn
