#include <boost/test/unit_test.hpp>

#include "dagrad/dagrad.hpp"

using namespace dagrad;

BOOST_AUTO_TEST_SUITE(core)

BOOST_AUTO_TEST_CASE(add_and_run) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 2}, "x");
  Output w = variable(g, Tensor::from_vector<float>({2}, {10, 20}), "w");
  Output y = x * w + 1.0;
  Session s(g);
  s.initialize_variables();
  Tensor out = s.run(y, {{x, Tensor::from_vector<float>({3, 2}, {1, 2, 3, 4, 5, 6})}});
  BOOST_TEST(out.to_vector<float>() == (std::vector<float>{11, 41, 31, 81, 51, 121}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
