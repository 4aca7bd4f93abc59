// load_fashion_mnist on small Fashion-MNIST-shaped directories written here (the split, the
// scaling, limit, plain-or-gz lookup and every rejection), and on the real data set when
// Debian's dataset-fashion-mnist is installed, checked against the files' bytes read with zlib.
#include <array>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <ctime>
#include <stdexcept>

#include "dagrad/nn/datasets.hpp"
#include "nn/idx_files.hpp"

using namespace dagrad;
using namespace idx_files;
namespace tt = boost::test_tools;
namespace utf = boost::unit_test;

namespace {

constexpr int kPixels = 28 * 28;

unsigned pixel_byte(int image, int k) {
  return static_cast<unsigned>((image * 7 + k) % 256);
}

std::string images_file(int n, std::uint32_t rows = 28, std::uint32_t cols = 28) {
  std::string s = idx_header(0x08, {static_cast<std::uint32_t>(n), rows, cols});
  for (int i = 0; i < n; ++i)
    for (std::uint32_t k = 0; k < rows * cols; ++k)
      s += static_cast<char>(pixel_byte(i, static_cast<int>(k)));
  return s;
}

std::string labels_file(int n, int bad_index = -1, unsigned bad_value = 0) {
  std::string s = idx_header(0x08, {static_cast<std::uint32_t>(n)});
  for (int i = 0; i < n; ++i) s += static_cast<char>(i == bad_index ? bad_value : i % 10);
  return s;
}

// Training files gzipped (as Debian ships them), test files plain.
void write_set(const TempDir& dir, int n_train, int n_test) {
  write_gzip(dir.file("train-images-idx3-ubyte.gz"), images_file(n_train));
  write_gzip(dir.file("train-labels-idx1-ubyte.gz"), labels_file(n_train));
  write_plain(dir.file("t10k-images-idx3-ubyte"), images_file(n_test));
  write_plain(dir.file("t10k-labels-idx1-ubyte"), labels_file(n_test));
}

// Image `row` of x holds the pixels of file image `image`, as float(byte / 255) in float64.
void check_image(const Tensor& x, std::int64_t row, int image) {
  const float* p = x.data<float>() + row * kPixels;
  int wrong = 0;
  for (int k = 0; k < kPixels; ++k)
    if (p[k] != static_cast<float>(pixel_byte(image, k) / 255.0)) ++wrong;
  BOOST_TEST(wrong == 0,
             "row " << row << " (image " << image << "): " << wrong << " pixels differ");
}

bool fashion_installed() {
  return fs::is_directory(nn::kFashionMnistDir);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(datasets)

BOOST_AUTO_TEST_CASE(class_names_as_the_dataset_documents) {
  const std::vector<std::string> expected = {"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                             "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                             "Bag",         "Ankle boot"};
  BOOST_TEST(nn::fashion_mnist_class_names() == expected, tt::per_element());
}

BOOST_AUTO_TEST_CASE(split_scaling_and_shapes) {
  TempDir dir("fashion_split");
  write_set(dir, 5003, 4);
  nn::FashionMnist d = nn::load_fashion_mnist(dir.path.string());
  BOOST_TEST(d.x_valid.dtype() == DType::float32);
  BOOST_TEST(d.x_valid.shape() == (Shape{5000, 28, 28}));
  BOOST_TEST(d.x_train.shape() == (Shape{3, 28, 28}));
  BOOST_TEST(d.x_test.shape() == (Shape{4, 28, 28}));
  BOOST_TEST(d.y_valid.dtype() == DType::int32);
  BOOST_TEST(d.y_valid.shape() == (Shape{5000}));
  BOOST_TEST(d.y_train.shape() == (Shape{3}));
  BOOST_TEST(d.y_test.shape() == (Shape{4}));
  // Validation = file images 0..4999, training = 5000..5002, test from its own file.
  check_image(d.x_valid, 0, 0);
  check_image(d.x_valid, 4999, 4999);
  for (int i = 0; i < 3; ++i) check_image(d.x_train, i, 5000 + i);
  for (int i = 0; i < 4; ++i) check_image(d.x_test, i, i);
  BOOST_TEST(d.y_valid.to_vector<std::int32_t>().at(4999) == 9);
  BOOST_TEST(d.y_train.to_vector<std::int32_t>() == (std::vector<std::int32_t>{0, 1, 2}),
             tt::per_element());
  BOOST_TEST(d.y_test.to_vector<std::int32_t>() == (std::vector<std::int32_t>{0, 1, 2, 3}),
             tt::per_element());
  // Bytes 0 and 255 are exactly 0 and 1 (image 0 pixel 0 = 0, pixel 255 = 255).
  BOOST_TEST(d.x_valid.data<float>()[0] == 0.0f);
  BOOST_TEST(d.x_valid.data<float>()[255] == 1.0f);
}

BOOST_AUTO_TEST_CASE(limit_cuts_only_the_training_set) {
  TempDir dir("fashion_limit");
  write_set(dir, 5003, 2);
  nn::FashionMnist d = nn::load_fashion_mnist(dir.path.string(), 2);
  BOOST_TEST(d.x_train.shape() == (Shape{2, 28, 28}));
  BOOST_TEST(d.y_train.to_vector<std::int32_t>() == (std::vector<std::int32_t>{0, 1}),
             tt::per_element());
  check_image(d.x_train, 1, 5001);
  BOOST_TEST(d.x_valid.shape() == (Shape{5000, 28, 28}));
  BOOST_TEST(d.x_test.shape() == (Shape{2, 28, 28}));
  // More than there is keeps all.
  BOOST_TEST(nn::load_fashion_mnist(dir.path.string(), 100).x_train.shape() == (Shape{3, 28, 28}));
  BOOST_CHECK_THROW(nn::load_fashion_mnist(dir.path.string(), -1), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(plain_file_wins_over_gz) {
  TempDir dir("fashion_both");
  write_set(dir, 5001, 2);
  // A plain labels file beside the .gz: labels 0, 1 from labels_file, not 7, 7 from the .gz.
  write_gzip(dir.file("t10k-labels-idx1-ubyte.gz"), idx_header(0x08, {2}) + bytes_of({7, 7}));
  BOOST_TEST(nn::load_fashion_mnist(dir.path.string()).y_test.to_vector<std::int32_t>() ==
                 (std::vector<std::int32_t>{0, 1}),
             tt::per_element());
}

BOOST_AUTO_TEST_CASE(missing_directory_or_file_says_where_the_data_comes_from) {
  TempDir dir("fashion_missing");
  std::string nowhere = dir.file("nowhere");
  check_file_error(
      [&] { nn::load_fashion_mnist(nowhere); },
      {"directory '" + nowhere + "' does not exist", "Debian package dataset-fashion-mnist",
       "scripts/install-deps.sh", "--data DIR"});
  write_plain(dir.file("a_file"), "x");
  check_file_error([&] { nn::load_fashion_mnist(dir.file("a_file")); },
                   {"'" + dir.file("a_file") + "' is not a directory", "dataset-fashion-mnist"});
  write_set(dir, 5001, 2);
  fs::remove(dir.file("t10k-labels-idx1-ubyte"));
  check_file_error([&] { nn::load_fashion_mnist(dir.path.string()); },
                   {"neither '" + dir.file("t10k-labels-idx1-ubyte") + "' nor '" +
                        dir.file("t10k-labels-idx1-ubyte.gz") + "' exists",
                    "Debian package dataset-fashion-mnist", "--data DIR"});
}

BOOST_AUTO_TEST_CASE(data_that_is_not_fashion_mnist_is_rejected) {
  TempDir dir("fashion_bad");
  const std::string train_labels = dir.file("train-labels-idx1-ubyte.gz");
  const std::string train_images = dir.file("train-images-idx3-ubyte.gz");
  const std::string test_images = dir.file("t10k-images-idx3-ubyte");
  write_set(dir, 5001, 2);
  write_gzip(train_labels, labels_file(5000));
  check_file_error([&] { nn::load_fashion_mnist(dir.path.string()); },
                   {train_images, "holds 5001 images", train_labels, "holds 5000 labels"});
  // Label 10 at example 7: byte 8 + 7 of the decompressed labels.
  write_gzip(train_labels, labels_file(5001, 7, 10));
  check_file_error(
      [&] { nn::load_fashion_mnist(dir.path.string()); },
      {train_labels, "decompressed byte 15", "label 10 of example 7", "outside [0, 10)"});
  write_gzip(train_labels, labels_file(5001));
  write_plain(test_images, images_file(2, 27, 28));
  check_file_error([&] { nn::load_fashion_mnist(dir.path.string()); },
                   {test_images, "unsigned bytes of shape (n, 28, 28)",
                    "unsigned byte elements of shape (2, 27, 28)"});
  write_plain(test_images, idx_header(0x0C, {2, 28, 28}) + std::string(2 * kPixels * 4, '\0'));
  check_file_error([&] { nn::load_fashion_mnist(dir.path.string()); },
                   {test_images, "int32 elements of shape (2, 28, 28)"});
  write_plain(test_images, images_file(2));
  write_gzip(dir.file("t10k-labels-idx1-ubyte"), idx_header(0x08, {2, 1}) + bytes_of({0, 1}));
  check_file_error([&] { nn::load_fashion_mnist(dir.path.string()); },
                   {dir.file("t10k-labels-idx1-ubyte"), "labels are unsigned bytes of shape (n,)",
                    "shape (2, 1)"});
  write_set(dir, 5000, 2);
  check_file_error([&] { nn::load_fashion_mnist(dir.path.string()); },
                   {train_images, "holds 5000 training images", "first 5000"});
}

BOOST_AUTO_TEST_CASE(the_real_data_set, *utf::precondition([](utf::test_unit_id) {
                       tt::assertion_result ok(fashion_installed());
                       ok.message() << nn::kFashionMnistDir
                                    << " is missing (Debian package dataset-fashion-mnist; "
                                       "scripts/install-deps.sh installs it): skipped";
                       return ok;
                     })) {
  const std::string dir = nn::kFashionMnistDir;
  // Wall and CPU time: on a shared machine the wall time can be several times the work.
  auto start = std::chrono::steady_clock::now();
  std::clock_t cpu_start = std::clock();
  nn::FashionMnist d = nn::load_fashion_mnist(dir);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double cpu = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  BOOST_TEST_MESSAGE("load_fashion_mnist(" << dir << "): " << seconds << " s wall, " << cpu
                                           << " s CPU");
  BOOST_TEST(d.x_train.shape() == (Shape{55000, 28, 28}));
  BOOST_TEST(d.y_train.shape() == (Shape{55000}));
  BOOST_TEST(d.x_valid.shape() == (Shape{5000, 28, 28}));
  BOOST_TEST(d.y_valid.shape() == (Shape{5000}));
  BOOST_TEST(d.x_test.shape() == (Shape{10000, 28, 28}));
  BOOST_TEST(d.y_test.shape() == (Shape{10000}));

  for (const Tensor* x : {&d.x_train, &d.x_valid, &d.x_test}) {
    const float* p = x->data<float>();
    float lo = p[0], hi = p[0];
    for (std::int64_t i = 0; i < x->size(); ++i) {
      lo = std::min(lo, p[i]);
      hi = std::max(hi, p[i]);
    }
    BOOST_TEST(lo == 0.0f);
    BOOST_TEST(hi == 1.0f);
  }
  // 6,000 of each class in the 60,000 training images (validation + training), 1,000 in test.
  std::array<int, 10> train_counts{}, test_counts{};
  for (const Tensor* y : {&d.y_train, &d.y_valid})
    for (std::int32_t label : y->to_vector<std::int32_t>())
      ++train_counts.at(static_cast<std::size_t>(label));
  for (std::int32_t label : d.y_test.to_vector<std::int32_t>())
    ++test_counts.at(static_cast<std::size_t>(label));
  for (int c = 0; c < 10; ++c) {
    BOOST_TEST(train_counts[static_cast<std::size_t>(c)] == 6000, "class " << c);
    BOOST_TEST(test_counts[static_cast<std::size_t>(c)] == 1000, "class " << c);
  }

  // The files' own bytes, read with zlib: the first test label (byte 8 of the labels file) is
  // 9, "Ankle boot", as the data set's README shows; labels and pixels match byte for byte.
  std::string test_labels = gunzip(dir + "/t10k-labels-idx1-ubyte.gz");
  BOOST_REQUIRE(test_labels.size() == 10008u);
  BOOST_TEST(static_cast<int>(test_labels[8]) == 9);
  BOOST_TEST(d.y_test.to_vector<std::int32_t>().at(0) == 9);
  BOOST_TEST(nn::fashion_mnist_class_names().at(9) == "Ankle boot");
  std::vector<std::int32_t> y_test = d.y_test.to_vector<std::int32_t>();
  int label_mismatches = 0;
  for (std::size_t i = 0; i < 10000; ++i)
    if (y_test[i] != static_cast<unsigned char>(test_labels[8 + i])) ++label_mismatches;
  BOOST_TEST(label_mismatches == 0);

  std::string train_images = gunzip(dir + "/train-images-idx3-ubyte.gz");
  BOOST_REQUIRE(train_images.size() == 16u + 60000u * kPixels);
  auto mismatches = [&](const Tensor& x, std::int64_t first_image) {
    const float* p = x.data<float>();
    std::int64_t wrong = 0;
    for (std::int64_t i = 0; i < x.size(); ++i) {
      auto b = static_cast<unsigned char>(train_images[16 + first_image * kPixels + i]);
      if (p[i] != static_cast<float>(b / 255.0)) ++wrong;
    }
    return wrong;
  };
  BOOST_TEST(mismatches(d.x_valid, 0) == 0);
  BOOST_TEST(mismatches(d.x_train, 5000) == 0);

  start = std::chrono::steady_clock::now();
  cpu_start = std::clock();
  nn::FashionMnist small = nn::load_fashion_mnist(dir, 1000);
  seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  cpu = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  BOOST_TEST_MESSAGE("load_fashion_mnist(" << dir << ", limit 1000): " << seconds << " s wall, "
                                           << cpu << " s CPU");
  BOOST_TEST(small.x_train.shape() == (Shape{1000, 28, 28}));
  BOOST_TEST(mismatches(small.x_train, 5000) == 0);
  BOOST_TEST(small.x_valid.shape() == (Shape{5000, 28, 28}));
  BOOST_TEST(small.x_test.shape() == (Shape{10000, 28, 28}));
}

BOOST_AUTO_TEST_SUITE_END()
