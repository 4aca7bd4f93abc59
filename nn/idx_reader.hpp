// Internal: an IDX file's header and raw (big-endian) element bytes, for read_idx and for
// loaders that convert the bytes straight into their own tensors (Fashion-MNIST's float pixels)
// without an intermediate int32 copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dagrad::nn::detail {

struct IdxArray {
  std::uint8_t type = 0;           // 0x08 unsigned byte, ..., 0x0E float64
  std::vector<std::int64_t> dims;  // as in the header, at least one
  std::size_t element_size = 0;    // bytes per element of `type`
  std::string storage;             // the file (or decompressed stream) bytes
  std::size_t data_offset = 0;     // where the elements start in storage (the header size)
  bool gzip = false;               // the file was gzip-compressed

  std::int64_t num_elements() const;
  const unsigned char* data() const {
    return reinterpret_cast<const unsigned char*>(storage.data()) + data_offset;
  }
};

// Reads and checks an IDX file (plain or gzip, by its magic); see read_idx for the errors.
IdxArray read_idx_array(const std::string& path);

// "unsigned byte", "signed byte", "int16", "int32", "float32", "float64".
std::string_view idx_type_name(std::uint8_t type);

}  // namespace dagrad::nn::detail
