// softmax_cross_entropy: loss and backprop per row against float64 from the formulas, over rows
// of a rank-3 input, with one-hot and soft targets, large logits and empty class axes; shape
// errors; the record.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <random>

#include "common/random_tensor.hpp"
#include "dagrad/dagrad.hpp"

using namespace dagrad;
using dagrad::testing::random_tensor;

namespace {

// Checks loss and backprop of rows of `classes` against float64 from the formulas.
void check_rows(const Tensor& z, const Tensor& t, const Tensor& loss, const Tensor& backprop,
                std::int64_t classes, double tolerance) {
  const std::int64_t rows = loss.size();
  BOOST_TEST_REQUIRE(backprop.size() == rows * classes);
  for (std::int64_t r = 0; r < rows; ++r) {
    double m = -INFINITY, total = 0, weight = 0, want = 0;
    for (std::int64_t i = 0; i < classes; ++i) m = std::max(m, z.value_as_double(r * classes + i));
    for (std::int64_t i = 0; i < classes; ++i)
      total += std::exp(z.value_as_double(r * classes + i) - m);
    for (std::int64_t i = 0; i < classes; ++i) {
      const double zi = z.value_as_double(r * classes + i), ti = t.value_as_double(r * classes + i);
      want -= ti * (zi - m - std::log(total));
      weight += ti;
    }
    BOOST_TEST(
        std::abs(loss.value_as_double(r) - want) <= tolerance * std::max(std::abs(want), 1.0),
        "row " << r);
    for (std::int64_t i = 0; i < classes; ++i) {
      const double p = std::exp(z.value_as_double(r * classes + i) - m) / total;
      const double g = p * weight - t.value_as_double(r * classes + i);
      BOOST_TEST(std::abs(backprop.value_as_double(r * classes + i) - g) <= tolerance,
                 "row " << r << " class " << i);
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(softmax_cross_entropy_op)

BOOST_AUTO_TEST_CASE(rows_of_any_rank_match_float64) {
  for (DType dtype : {DType::float32, DType::float64}) {
    std::mt19937_64 rng(31);
    const Shape shape{2, 3, 6};
    // Logits around 1000: the max shift keeps exp finite.
    Tensor z = random_tensor(dtype, shape, rng, 995, 1005);
    Tensor t = random_tensor(dtype, shape, rng, 0, 0.6);  // soft, rows summing to 0..3.6
    Graph g;
    Output zp = placeholder(g, dtype, Shape{-1, 3, 6}, "z");
    Output tp = placeholder(g, dtype, Shape{-1, 3, 6}, "t");
    auto [loss, backprop] = softmax_cross_entropy(zp, tp, "xent");
    BOOST_TEST(loss.shape() == (Shape{-1, 3}));
    BOOST_TEST(backprop.shape() == (Shape{-1, 3, 6}));
    Session s(g);
    std::vector<Tensor> out = s.run({loss, backprop}, {{zp, z}, {tp, t}});
    BOOST_TEST(out[0].shape() == (Shape{2, 3}));
    // float32: z - m is exact near 1000, the loss sums 6 terms of size ~10.
    check_rows(z, t, out[0], out[1], 6, dtype == DType::float32 ? 2e-6 : 1e-13);
  }
}

BOOST_AUTO_TEST_CASE(one_hot_targets_give_softmax_minus_one_hot) {
  Graph g;
  Output z = constant(g, Tensor::from_vector<double>({2, 3}, {1, 2, 3, 0, 0, 0}));
  Output t = constant(g, Tensor::from_vector<double>({2, 3}, {0, 0, 1, 1, 0, 0}));
  auto [loss, backprop] = softmax_cross_entropy(z, t);
  Session s(g);
  std::vector<Tensor> out = s.run({loss, backprop});
  const double e = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  BOOST_TEST(out[0].value_as_double(0) == -(3 - std::log(e)), boost::test_tools::tolerance(1e-15));
  BOOST_TEST(out[0].value_as_double(1) == std::log(3.0), boost::test_tools::tolerance(1e-15));
  BOOST_TEST(out[1].value_as_double(2) == std::exp(3.0) / e - 1,
             boost::test_tools::tolerance(1e-15));
  BOOST_TEST(out[1].value_as_double(3) == 1.0 / 3 - 1, boost::test_tools::tolerance(1e-15));
  BOOST_TEST(out[1].value_as_double(4) == 1.0 / 3, boost::test_tools::tolerance(1e-15));
}

BOOST_AUTO_TEST_CASE(bad_inputs_are_shape_errors_and_the_op_is_not_differentiable) {
  Graph g;
  Output z = placeholder(g, DType::float32, Shape{4, 3}, "z");
  BOOST_CHECK_THROW(softmax_cross_entropy(z, placeholder(g, DType::float32, Shape{4, 2})),
                    ShapeError);
  BOOST_CHECK_THROW(softmax_cross_entropy(z, placeholder(g, DType::float64, Shape{4, 3})),
                    ShapeError);
  BOOST_CHECK_THROW(softmax_cross_entropy(placeholder(g, DType::int32, Shape{4, 3}),
                                          placeholder(g, DType::int32, Shape{4, 3})),
                    ShapeError);
  BOOST_CHECK_THROW(softmax_cross_entropy(scalar(g, 1.0), scalar(g, 1.0)), ShapeError);
  const OpRecord& r = default_registry().get("softmax_cross_entropy");
  BOOST_TEST(!r.not_differentiable_reason.empty());
  BOOST_TEST(!r.stateful);
}

BOOST_AUTO_TEST_SUITE_END()
