// Tensor::view: reinterpreting a shared buffer with another dtype and shape.
#include <boost/test/unit_test.hpp>
#include <cstring>
#include <string>

#include "dagrad/graph/errors.hpp"
#include "dagrad/graph/tensor.hpp"

using namespace dagrad;

BOOST_AUTO_TEST_SUITE(tensor)

namespace {
auto says(std::string part) {
  return [part](const std::exception& e) {
    BOOST_TEST_MESSAGE(e.what());
    return std::string(e.what()).find(part) != std::string::npos;
  };
}
}  // namespace

// Regression: nbytes() multiplied without a check, so a float64 tensor of 2^61 elements got a
// 64-byte buffer (2^64 wrapped to 0) that kernels wrote past.
BOOST_AUTO_TEST_CASE(byte_sizes_that_overflow_are_shape_errors) {
  const std::int64_t e61 = std::int64_t{1} << 61;
  BOOST_CHECK_EXCEPTION(Tensor(DType::float64, Shape{e61}), ShapeError,
                        says("float64 (2305843009213693952,) holds 2305843009213693952 elements"));
  BOOST_CHECK_EXCEPTION(checked_nbytes(DType::float32, Shape{e61}), ShapeError,
                        says("more bytes than an int64 can count"));
  // The element count itself: 2^32 * 2^32.
  BOOST_CHECK_EXCEPTION(Shape({std::int64_t{1} << 32, std::int64_t{1} << 32}).num_elements(),
                        ShapeError, says("more elements than an int64 can count"));
  // Sizes that fit: 2^61 float32 is 2^63 bytes, one more than int64 holds; 2^60 is fine, and
  // unknown dimensions count as 1.
  BOOST_TEST(checked_nbytes(DType::float32, Shape{e61 / 2}) == std::int64_t{1} << 62);
  BOOST_TEST(checked_nbytes(DType::float64, Shape{-1, 3}) == 24);
  BOOST_TEST(checked_nbytes(DType::boolean, Shape{}) == 1);
  // A view checks too.
  BOOST_CHECK_THROW(Tensor(DType::float32, Shape{1}).view(DType::float64, Shape{e61}), ShapeError);
}

BOOST_AUTO_TEST_CASE(a_negative_dimension_is_a_shape_error) {
  // It was a bare std::invalid_argument, which the tool reported without dagrad's context.
  BOOST_CHECK_EXCEPTION(Shape{-2}, ShapeError, says("dimension -2 is negative"));
  BOOST_CHECK_THROW(Shape(std::vector<std::int64_t>{3, -7}), Error);
}

// 2^48 float32 elements: 2^50 bytes (1 PiB) is a valid size that no allocator can serve, even
// with overcommit always on (x86-64 user space holds 2^47 bytes). Under AddressSanitizer this
// needs ASAN_OPTIONS=allocator_may_return_null=1 (else ASan aborts instead of returning null).
BOOST_AUTO_TEST_CASE(a_tensor_too_large_to_allocate_is_an_allocation_error) {
  const std::int64_t n = std::int64_t{1} << 48;
  BOOST_CHECK_EXCEPTION(Tensor(DType::float32, Shape{n}), AllocationError, [](const Error& e) {
    const std::string m = e.what();
    BOOST_TEST_MESSAGE(m);
    return m.find("cannot allocate 1125899906842624 bytes") != std::string::npos &&
           m.find("float32 tensor of shape (281474976710656,)") != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(capacity_of_an_allocated_tensor_is_its_bytes) {
  Tensor t(DType::float32, Shape{2, 3});
  BOOST_TEST(t.capacity() == 24u);
  BOOST_TEST(Tensor(DType::float64, Shape{0}).capacity() == 0u);
  BOOST_TEST(Tensor().capacity() == 0u);
}

BOOST_AUTO_TEST_CASE(view_shares_the_buffer_with_a_new_shape) {
  Tensor t = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor v = t.view(DType::float32, Shape{3, 2});
  BOOST_TEST(v.shares_buffer_with(t));
  BOOST_TEST(v.raw() == t.raw());
  BOOST_TEST(v.shape() == (Shape{3, 2}));
  BOOST_TEST(v.size() == 6);
  BOOST_TEST(v.nbytes() == 24u);
  BOOST_TEST(v.capacity() == 24u);
  v.data<float>()[5] = 60.0f;  // writes show through both
  BOOST_TEST(t.data<float>()[5] == 60.0f);
  // A smaller view of the same buffer: the first elements, and the buffer's capacity.
  Tensor small = t.view(DType::float32, Shape{2});
  BOOST_TEST(small.to_vector<float>() == (std::vector<float>{1, 2}));
  BOOST_TEST(small.capacity() == 24u);
  BOOST_TEST(small.nbytes() == 8u);
  // clone of a view is a fresh buffer of just its bytes.
  Tensor c = small.clone();
  BOOST_TEST(!c.shares_buffer_with(t));
  BOOST_TEST(c.capacity() == 8u);
}

BOOST_AUTO_TEST_CASE(view_reinterprets_bytes_as_another_dtype) {
  Tensor t = Tensor::from_vector<double>({2}, {1.5, -2.0});
  Tensor v = t.view(DType::int32, Shape{4});
  std::int32_t expect[4];
  double src[2] = {1.5, -2.0};
  std::memcpy(expect, src, sizeof src);
  for (int i = 0; i < 4; ++i) BOOST_TEST(v.data<std::int32_t>()[i] == expect[i]);
  BOOST_CHECK_THROW(v.data<float>(), std::invalid_argument);  // dtype checks still apply
}

BOOST_AUTO_TEST_CASE(view_rejects_what_the_buffer_cannot_hold) {
  Tensor t(DType::float32, Shape{4});
  BOOST_CHECK_THROW(t.view(DType::float32, Shape{5}), std::invalid_argument);
  BOOST_CHECK_THROW(t.view(DType::float64, Shape{3}), std::invalid_argument);
  BOOST_CHECK_THROW(t.view(DType::float32, Shape{-1}), std::invalid_argument);
  BOOST_CHECK_THROW(Tensor().view(DType::float32, Shape{}), std::invalid_argument);
  BOOST_TEST(t.view(DType::float64, Shape{2}).nbytes() == 16u);
}

BOOST_AUTO_TEST_SUITE_END()
