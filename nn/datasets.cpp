// Fashion-MNIST from its four IDX files, split and scaled as in the book. The bytes go straight
// into the float tensors (no int32 copy of 47 MB of pixels in between), and the training
// images are released before the test files are read, to keep the peak memory low.
#include "dagrad/nn/datasets.hpp"

#include <array>
#include <filesystem>
#include <stdexcept>

#include "dagrad/graph/errors.hpp"
#include "nn/idx_reader.hpp"

namespace dagrad::nn {
namespace {

constexpr std::int64_t kSide = 28;
constexpr std::int64_t kPixels = kSide * kSide;
constexpr int kNumClasses = 10;

const std::string kWhereFrom =
    "the data comes from the Debian package dataset-fashion-mnist (scripts/install-deps.sh "
    "installs it into " +
    std::string(kFashionMnistDir) + "), or give the directory that holds it with --data DIR";

std::string dims_text(const std::vector<std::int64_t>& dims) {
  std::string s = "(";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + ")";
}

// DIR/NAME, or DIR/NAME.gz when the plain file is absent.
std::string find_file(const std::string& dir, const std::string& name) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path plain = fs::path(dir) / name;
  if (fs::exists(plain, ec)) return plain.string();
  fs::path gz = plain;
  gz += ".gz";
  if (fs::exists(gz, ec)) return gz.string();
  throw FileError("Fashion-MNIST: neither '" + plain.string() + "' nor '" + gz.string() +
                  "' exists; " + kWhereFrom);
}

detail::IdxArray read_images(const std::string& path) {
  detail::IdxArray a = detail::read_idx_array(path);
  if (a.type != 0x08 || a.dims.size() != 3 || a.dims[1] != kSide || a.dims[2] != kSide)
    throw FileError("'" + path +
                    "': Fashion-MNIST images are unsigned bytes of shape (n, 28, 28), this file "
                    "holds " +
                    std::string(detail::idx_type_name(a.type)) + " elements of shape " +
                    dims_text(a.dims));
  return a;
}

detail::IdxArray read_labels(const std::string& path) {
  detail::IdxArray a = detail::read_idx_array(path);
  if (a.type != 0x08 || a.dims.size() != 1)
    throw FileError(
        "'" + path + "': Fashion-MNIST labels are unsigned bytes of shape (n,), this file holds " +
        std::string(detail::idx_type_name(a.type)) + " elements of shape " + dims_text(a.dims));
  const unsigned char* p = a.data();
  for (std::int64_t i = 0; i < a.dims[0]; ++i) {
    if (p[i] >= kNumClasses)
      throw FileError("'" + path + "': " + (a.gzip ? "decompressed byte " : "byte ") +
                      std::to_string(a.data_offset + static_cast<std::size_t>(i)) + ": label " +
                      std::to_string(p[i]) + " of example " + std::to_string(i) +
                      " is outside [0, 10)");
  }
  return a;
}

void check_counts(const detail::IdxArray& images, const std::string& images_path,
                  const detail::IdxArray& labels, const std::string& labels_path) {
  if (images.dims[0] != labels.dims[0])
    throw FileError("Fashion-MNIST: '" + images_path + "' holds " + std::to_string(images.dims[0]) +
                    " images but '" + labels_path + "' holds " + std::to_string(labels.dims[0]) +
                    " labels");
}

// Images [begin, end) as float32 byte / 255, shape (end - begin, 28, 28).
Tensor pixels(const detail::IdxArray& images, std::int64_t begin, std::int64_t end) {
  // Each byte's quotient rounded once to float, as float(b) / 255.0f is (IEEE division).
  static const std::array<float, 256> scaled = [] {
    std::array<float, 256> t{};
    for (int b = 0; b < 256; ++b) t[static_cast<std::size_t>(b)] = static_cast<float>(b) / 255.0f;
    return t;
  }();
  Tensor t(DType::float32, Shape{end - begin, kSide, kSide});
  float* out = t.data<float>();
  const unsigned char* p = images.data() + begin * kPixels;
  std::size_t n = static_cast<std::size_t>((end - begin) * kPixels);
  for (std::size_t i = 0; i < n; ++i) out[i] = scaled[p[i]];
  return t;
}

Tensor label_tensor(const detail::IdxArray& labels, std::int64_t begin, std::int64_t end) {
  Tensor t(DType::int32, Shape{end - begin});
  std::int32_t* out = t.data<std::int32_t>();
  const unsigned char* p = labels.data() + begin;
  for (std::int64_t i = 0; i < end - begin; ++i) out[i] = p[i];
  return t;
}

}  // namespace

FashionMnist load_fashion_mnist(const std::string& dir, std::int64_t limit) {
  if (limit < 0)
    throw std::invalid_argument("load_fashion_mnist: limit must be 0 (all) or positive, got " +
                                std::to_string(limit));
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(dir, ec))
    throw FileError("Fashion-MNIST: directory '" + dir + "' does not exist; " + kWhereFrom);
  if (!fs::is_directory(dir, ec))
    throw FileError("Fashion-MNIST: '" + dir + "' is not a directory; " + kWhereFrom);

  // All four are found before any is read, so a missing one fails at once.
  std::string train_images_path = find_file(dir, "train-images-idx3-ubyte");
  std::string train_labels_path = find_file(dir, "train-labels-idx1-ubyte");
  std::string test_images_path = find_file(dir, "t10k-images-idx3-ubyte");
  std::string test_labels_path = find_file(dir, "t10k-labels-idx1-ubyte");

  FashionMnist data;
  {
    detail::IdxArray labels = read_labels(train_labels_path);
    detail::IdxArray images = read_images(train_images_path);
    check_counts(images, train_images_path, labels, train_labels_path);
    std::int64_t n = images.dims[0];
    if (n <= kFashionMnistValidationSize)
      throw FileError("Fashion-MNIST: '" + train_images_path + "' holds " + std::to_string(n) +
                      " training images; the first " + std::to_string(kFashionMnistValidationSize) +
                      " are the validation set, so it needs more");
    std::int64_t end = n;
    if (limit > 0) end = std::min(n, kFashionMnistValidationSize + limit);
    data.x_valid = pixels(images, 0, kFashionMnistValidationSize);
    data.y_valid = label_tensor(labels, 0, kFashionMnistValidationSize);
    data.x_train = pixels(images, kFashionMnistValidationSize, end);
    data.y_train = label_tensor(labels, kFashionMnistValidationSize, end);
  }
  detail::IdxArray labels = read_labels(test_labels_path);
  detail::IdxArray images = read_images(test_images_path);
  check_counts(images, test_images_path, labels, test_labels_path);
  data.x_test = pixels(images, 0, images.dims[0]);
  data.y_test = label_tensor(labels, 0, labels.dims[0]);
  return data;
}

const std::vector<std::string>& fashion_mnist_class_names() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                                 "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                                 "Bag",         "Ankle boot"};
  return names;
}

}  // namespace dagrad::nn
