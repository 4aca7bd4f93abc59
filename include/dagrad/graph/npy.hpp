// NumPy .npy files (format 1.0 written; 1.0, 2.0 and 3.0 read) for the five dagrad dtypes,
// C order only, little-endian: '<f4', '<f8', '<i4', '<i8', '|b1'. Files written here load with
// numpy.load, and numpy.save output of these dtypes loads here.
#pragma once

#include <string>
#include <string_view>

#include "tensor.hpp"

namespace dagrad {

// The bytes of a .npy file holding `tensor` (format 1.0, header padded to 64 bytes).
// Requires a defined tensor (std::invalid_argument otherwise).
std::string encode_npy(const Tensor& tensor);
// Decodes the bytes of a .npy file. Any malformed input (bad magic, truncated header, unknown
// descr, fortran_order True, data size not matching the shape, bool bytes other than 0/1)
// throws FileError "SOURCE: byte OFFSET: what is wrong"; `source` names the file in messages.
Tensor decode_npy(std::string_view bytes, std::string_view source = "<memory>");

// encode_npy into a file: a regular file (or a new one) atomically, through a temporary sibling
// renamed over `path` (an older file stays whole if the write fails, and keeps its permissions);
// a symbolic link, device or pipe is written through in place. Throws FileError naming the path
// when it cannot be written.
void write_npy(const std::string& path, const Tensor& tensor);
// decode_npy of a file's contents; throws FileError naming the path when it cannot be read.
Tensor read_npy(const std::string& path);

}  // namespace dagrad
