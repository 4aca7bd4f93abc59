#include <boost/test/unit_test.hpp>

#include "dagrad/dagrad.hpp"

using namespace dagrad;

BOOST_AUTO_TEST_SUITE(transforms)

// float32 -> float64 is exact; other dtypes and undefined tensors pass through unchanged.
BOOST_AUTO_TEST_CASE(widen_to_float64_is_exact_and_leaves_other_dtypes) {
  Tensor narrow = Tensor::from_vector<float>({2, 2}, {0.1f, -3.5f, 1e-30f, 16777217.0f});
  Tensor wide = widen_to_float64(narrow);
  BOOST_TEST(wide.dtype() == DType::float64);
  BOOST_TEST(wide.shape() == (Shape{2, 2}));
  std::vector<double> expected = {static_cast<double>(0.1f), -3.5, static_cast<double>(1e-30f),
                                  16777216.0};
  BOOST_TEST(wide.to_vector<double>() == expected, boost::test_tools::per_element());
  Tensor ints = Tensor::from_vector<std::int32_t>({2}, {1, -2});
  BOOST_TEST(widen_to_float64(ints).dtype() == DType::int32);
  BOOST_TEST(widen_to_float64(ints).raw() == ints.raw());
  Tensor doubles = Tensor::from_vector<double>({1}, {0.1});
  BOOST_TEST(widen_to_float64(doubles).raw() == doubles.raw());
  BOOST_TEST(!widen_to_float64(Tensor()).defined());
}

BOOST_AUTO_TEST_CASE(promote_to_float64_keeps_structure_and_widens_values) {
  Graph g;
  g.set_seed(5);
  Output x = placeholder(g, DType::float32, Shape{-1, 2}, "x");
  Output w = variable(g, Tensor::from_vector<float>({2}, {0.1f, 3}), "w");
  Output i = placeholder(g, DType::int32, Shape{2}, "i");
  Output y = sum(x * w + cast(i, DType::float32), {1}, false, "y");
  Output noise = random_normal(g, Shape{2}, 0, 1, DType::float32, 3, "noise");
  std::unique_ptr<Graph> wide = promote_to_float64(g);
  BOOST_REQUIRE_EQUAL(wide->num_nodes(), g.num_nodes());
  for (int id = 0; id < g.num_nodes(); ++id) {
    BOOST_TEST(wide->node(id).name == g.node(id).name);
    BOOST_TEST(wide->node(id).site.line == g.node(id).site.line);
  }
  Output wx = wide->output("x"), wy = wide->output("y"), wi = wide->output("i");
  BOOST_TEST(wx.dtype() == DType::float64);
  BOOST_TEST(wy.dtype() == DType::float64);
  BOOST_TEST(wi.dtype() == DType::int32);  // integers stay as they are
  BOOST_TEST(wide->output("noise").dtype() == DType::float64);
  BOOST_TEST(wide->variables().size() == 1u);
  BOOST_TEST(wide->seed() == 5u);
  Session s(*wide);
  s.initialize_variables();
  // The float32 constant 0.1f widens exactly: y = 1 * 0.1f + 2 * 3 + (1 + 2) with x = (1, 2).
  double got = s.run(wy, {{wx, Tensor::from_vector<double>({1, 2}, {1, 2})},
                          {wi, Tensor::from_vector<std::int32_t>({2}, {1, 2})}})
                   .to_vector<double>()[0];
  BOOST_TEST(got == static_cast<double>(0.1f) + 6.0 + 3.0, boost::test_tools::tolerance(1e-15));
  (void)y;
  (void)noise;
}

BOOST_AUTO_TEST_SUITE_END()
