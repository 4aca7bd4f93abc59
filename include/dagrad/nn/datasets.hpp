// Data sets from files: IDX arrays (the format of MNIST and Fashion-MNIST), plain or gzipped,
// and Fashion-MNIST split as in Géron's Keras chapters (the first 5,000 training images are the
// validation set).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "../graph/tensor.hpp"

namespace dagrad::nn {

// The tensor stored in an IDX file (magic 00 00 TYPE NDIM, NDIM big-endian uint32 dimensions,
// then the big-endian elements in row-major order), read whole. A file whose first bytes are
// the gzip magic 1f 8b is decompressed first (concatenated gzip members are one stream), so
// the name's extension does not matter. Element types: 0x08 unsigned byte, 0x09 signed byte,
// 0x0B int16 and 0x0C int32 give int32 tensors, 0x0D float32, 0x0E float64. Memory grows with
// the data actually read, never with what the header claims. Throws FileError "'PATH': ...
// byte N: what is wrong" for a missing or unreadable file, a file that is neither gzip nor
// IDX, an unknown type, zero dimensions count, a size that overflows, fewer or more data bytes
// than the dimensions need, and a truncated, corrupt or garbage-followed gzip stream.
Tensor read_idx(const std::string& path);

// Fashion-MNIST, split as in the book: x_valid/y_valid are the first 5,000 training images,
// x_train/y_train the rest (55,000 in the real set), x_test/y_test the 10,000 test images.
// Pixels are float32 in [0, 1] (byte / 255) of shape (n, 28, 28); labels int32 of shape (n,)
// with values 0..9 (see fashion_mnist_class_names).
struct FashionMnist {
  Tensor x_train, y_train;
  Tensor x_valid, y_valid;
  Tensor x_test, y_test;
};

// Where Debian's package dataset-fashion-mnist installs the four .gz files.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";
inline constexpr std::int64_t kFashionMnistValidationSize = 5000;

// Reads train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
// t10k-labels-idx1-ubyte from `dir`, each as the plain file or, when that is absent, NAME.gz.
// `limit` > 0 keeps only the first `limit` of the training images after the validation split
// (all when fewer); validation and test sets are never cut. Throws FileError for a missing
// directory or file (saying where the data comes from), a file read_idx rejects, and data
// that is not Fashion-MNIST-like: image and label counts that differ, images that are not
// unsigned-byte 28x28, labels outside [0, 10), no more than 5,000 training images.
// Throws std::invalid_argument for a negative limit.
FashionMnist load_fashion_mnist(const std::string& dir = kFashionMnistDir, std::int64_t limit = 0);

// The ten class names by label: "T-shirt/top", "Trouser", ..., "Ankle boot".
const std::vector<std::string>& fashion_mnist_class_names();

}  // namespace dagrad::nn
