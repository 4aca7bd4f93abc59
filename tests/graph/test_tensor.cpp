// Tensor::view: reinterpreting a shared buffer with another dtype and shape.
#include <boost/test/unit_test.hpp>
#include <cstring>

#include "dagrad/graph/tensor.hpp"

using namespace dagrad;

BOOST_AUTO_TEST_SUITE(tensor)

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
