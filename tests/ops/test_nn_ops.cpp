// softmax, log_softmax and clip_by_value: values from the formulas, stability at large
// magnitudes, every axis layout, unknown batch dimensions, and build-time errors.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "dagrad/dagrad.hpp"
#include "ops/op_test_util.hpp"

using namespace dagrad;
using namespace dagrad::testing;
namespace tt = boost::test_tools;

namespace {

bool all_finite(const Tensor& t) {
  for (std::int64_t i = 0; i < t.size(); ++i)
    if (!std::isfinite(t.value_as_double(i))) return false;
  return true;
}

// softmax([1, 2, 3]) and log_softmax([1, 2, 3]) from the definitions, i = 0, 1, 2. Shifting
// every input by the same constant (1000 below) leaves them unchanged.
const double kSum123 = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
double S(int i) {
  return std::exp(i + 1.0) / kSum123;
}
double LS(int i) {
  return (i + 1.0) - std::log(kSum123);
}
// softmax([1, 3]) = [1 / (1 + e^2), e^2 / (1 + e^2)]
const double kLow = 1.0 / (1.0 + std::exp(2.0));
const double kHigh = std::exp(2.0) / (1.0 + std::exp(2.0));
const double kLogLow = -std::log(1.0 + std::exp(2.0));
const double kLogHigh = -std::log(1.0 + std::exp(-2.0));

}  // namespace

BOOST_AUTO_TEST_SUITE(nn_ops)

BOOST_AUTO_TEST_CASE(softmax_last_axis) {
  Graph g;
  Output x = constant(g, Tensor::from_vector<double>({2, 3}, {1, 2, 3, 1000, 1001, 1002}));
  Output y = softmax(x);
  BOOST_TEST(y.shape().to_string() == "(2, 3)");
  BOOST_TEST((y.dtype() == DType::float64));
  Session s(g);
  Tensor out = s.run(y);
  BOOST_TEST(values(out) == std::vector<double>({S(0), S(1), S(2), S(0), S(1), S(2)}),
             tt::tolerance(1e-12) << tt::per_element());
}

BOOST_AUTO_TEST_CASE(log_softmax_last_axis) {
  Graph g;
  Output x = constant(g, Tensor::from_vector<double>({2, 3}, {1, 2, 3, 1000, 1001, 1002}));
  Session s(g);
  Tensor out = s.run(log_softmax(x));
  // A row shifted by 1000 has the same log-probabilities.
  BOOST_TEST(values(out) == std::vector<double>({LS(0), LS(1), LS(2), LS(0), LS(1), LS(2)}),
             tt::tolerance(1e-12) << tt::per_element());
}

BOOST_AUTO_TEST_CASE(large_magnitude_inputs_stay_finite_float32) {
  Graph g;
  Output x = constant(
      g, Tensor::from_vector<float>({3, 3}, {1000, 1001, 1002, -1000, 0, 1000, 1000, -1000, 0}));
  Session s(g);
  auto out = s.run({softmax(x), log_softmax(x)});
  BOOST_TEST(all_finite(out[0]));
  BOOST_TEST(all_finite(out[1]));
  // e^-1000 and e^-2000 underflow to exactly 0 next to e^0 = 1.
  BOOST_TEST(values(out[0]) == std::vector<double>({S(0), S(1), S(2), 0, 0, 1, 1, 0, 0}),
             tt::tolerance(1e-6) << tt::per_element());
  // log_softmax(x)_i = x_i - max - log(1 + tiny) = x_i - max
  BOOST_TEST(values(out[1]) ==
                 std::vector<double>({LS(0), LS(1), LS(2), -2000, -1000, 0, 0, -2000, -1000}),
             tt::tolerance(1e-6) << tt::per_element());
}

BOOST_AUTO_TEST_CASE(softmax_first_axis) {
  Graph g;
  // Columns (1, 3), (2, 2), (3, 1).
  Output x = constant(g, Tensor::from_vector<float>({2, 3}, {1, 2, 3, 3, 2, 1}));
  Output y = softmax(x, 0);
  Output y_neg = softmax(x, -2);
  Output ly = log_softmax(x, 0);
  Session s(g);
  auto out = s.run({y, y_neg, ly});
  const std::vector<double> expected = {kLow, 0.5, kHigh, kHigh, 0.5, kLow};
  BOOST_TEST(values(out[0]) == expected, tt::tolerance(1e-6) << tt::per_element());
  BOOST_TEST(values(out[1]) == expected, tt::tolerance(1e-6) << tt::per_element());
  const double half = -std::log(2.0);
  BOOST_TEST(
      values(out[2]) == std::vector<double>({kLogLow, half, kLogHigh, kLogHigh, half, kLogLow}),
      tt::tolerance(1e-6) << tt::per_element());
}

BOOST_AUTO_TEST_CASE(softmax_middle_axis) {
  Graph g;
  // Shape (2, 3, 2), softmax over axis 1. Block 0 has columns (1, 2, 3) and (1000, 1001, 1002);
  // block 1 has columns (3, 2, 1) and (-5, -5, -5).
  Output x = constant(
      g, Tensor::from_vector<double>({2, 3, 2}, {1, 1000, 2, 1001, 3, 1002, 3, -5, 2, -5, 1, -5}));
  Session s(g);
  auto out = s.run({softmax(x, 1), log_softmax(x, -2)});
  const double third = 1.0 / 3.0, log_third = -std::log(3.0);
  BOOST_TEST(values(out[0]) == std::vector<double>({S(0), S(0), S(1), S(1), S(2), S(2), S(2), third,
                                                    S(1), third, S(0), third}),
             tt::tolerance(1e-12) << tt::per_element());
  BOOST_TEST(values(out[1]) == std::vector<double>({LS(0), LS(0), LS(1), LS(1), LS(2), LS(2), LS(2),
                                                    log_third, LS(1), log_third, LS(0), log_third}),
             tt::tolerance(1e-12) << tt::per_element());
}

BOOST_AUTO_TEST_CASE(softmax_over_axis_of_size_one) {
  Graph g;
  Output column = constant(g, Tensor::from_vector<float>({2, 1}, {-7, 1000}));
  Output row = constant(g, Tensor::from_vector<float>({1, 2}, {-7, 1000}));
  Session s(g);
  auto out = s.run({softmax(column), log_softmax(column), softmax(row, 0), log_softmax(row, 0)});
  BOOST_TEST(values(out[0]) == std::vector<double>({1, 1}), tt::tolerance(1e-6)
                                                                << tt::per_element());
  BOOST_TEST(values(out[1]) == std::vector<double>({0, 0}), tt::per_element());
  BOOST_TEST(values(out[2]) == std::vector<double>({1, 1}), tt::tolerance(1e-6)
                                                                << tt::per_element());
  BOOST_TEST(values(out[3]) == std::vector<double>({0, 0}), tt::per_element());
}

BOOST_AUTO_TEST_CASE(softmax_unknown_batch_dimension) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 3}, "x");
  Output y = softmax(x);
  Output ly = log_softmax(x);
  BOOST_TEST(y.shape().to_string() == "(?, 3)");
  BOOST_TEST(ly.shape().to_string() == "(?, 3)");
  Session s(g);
  auto one = s.run({y, ly}, {{x, Tensor::from_vector<float>({1, 3}, {1, 2, 3})}});
  BOOST_TEST(values(one[0]) == std::vector<double>({S(0), S(1), S(2)}), tt::tolerance(1e-6)
                                                                            << tt::per_element());
  BOOST_TEST(values(one[1]) == std::vector<double>({LS(0), LS(1), LS(2)}),
             tt::tolerance(1e-6) << tt::per_element());
  auto two =
      s.run({y, ly}, {{x, Tensor::from_vector<float>({2, 3}, {-1002, -1001, -1000, 5, 5, 5})}});
  BOOST_TEST(two[0].shape().to_string() == "(2, 3)");
  const double third = 1.0 / 3.0, log_third = -std::log(3.0);
  BOOST_TEST(values(two[0]) == std::vector<double>({S(0), S(1), S(2), third, third, third}),
             tt::tolerance(1e-6) << tt::per_element());
  BOOST_TEST(
      values(two[1]) == std::vector<double>({LS(0), LS(1), LS(2), log_third, log_third, log_third}),
      tt::tolerance(1e-6) << tt::per_element());
}

BOOST_AUTO_TEST_CASE(softmax_shape_errors_at_build_time) {
  Graph g;
  Output x = constant(g, Tensor(DType::float32, Shape{2, 3}), "x");
  Output ints = constant(g, Tensor(DType::int32, Shape{2, 3}), "ints");
  Output scalar_x = constant(g, Tensor(DType::float32, Shape{}), "s");
  int before = g.num_nodes();
  BOOST_CHECK_EXCEPTION(
      softmax(x, 2, "probs"), ShapeError,
      mentions_all({"'probs'", "op softmax", "float32 (2, 3)", "axis 2 is out of range"}));
  BOOST_CHECK_EXCEPTION(
      log_softmax(x, -3, "log_probs"), ShapeError,
      mentions_all({"'log_probs'", "op log_softmax", "float32 (2, 3)", "axis -3 is out of range"}));
  BOOST_CHECK_EXCEPTION(
      softmax(ints, -1, "int_probs"), ShapeError,
      mentions_all({"'int_probs'", "op softmax", "int32 (2, 3)", "float32 or float64"}));
  BOOST_CHECK_EXCEPTION(log_softmax(scalar_x, -1, "scalar_probs"), ShapeError,
                        mentions_all({"'scalar_probs'", "op log_softmax", "float32 ()", "rank 0"}));
  BOOST_TEST(g.num_nodes() == before);
}

BOOST_AUTO_TEST_CASE(clip_by_value_floats) {
  Graph g;
  Output x = constant(g, Tensor::from_vector<float>({5}, {-2, -0.5f, 0, 0.5f, 2}));
  Output d = constant(g, Tensor::from_vector<double>({3}, {-1e300, 0.25, 1e300}));
  Output y = clip_by_value(x, -1, 1);
  BOOST_TEST(y.shape().to_string() == "(5,)");
  Session s(g);
  auto out = s.run({y, clip_by_value(d, -3.5, 0.125), clip_by_value(x, 0.5, 0.5)});
  BOOST_TEST(values(out[0]) == std::vector<double>({-1, -0.5, 0, 0.5, 1}), tt::per_element());
  BOOST_TEST(values(out[1]) == std::vector<double>({-3.5, 0.125, 0.125}), tt::per_element());
  BOOST_TEST(values(out[2]) == std::vector<double>(5, 0.5), tt::per_element());
}

BOOST_AUTO_TEST_CASE(clip_by_value_integers) {
  Graph g;
  Output a = constant(g, Tensor::from_vector<std::int32_t>({5}, {-5, 0, 1, 2, 7}));
  Output b = constant(g, Tensor::from_vector<std::int64_t>({3}, {-5, 5, 0}));
  Output y = clip_by_value(a, 0.5, 2.5);  // integers in [0.5, 2.5] are 1 and 2
  BOOST_TEST((y.dtype() == DType::int32));
  Session s(g);
  auto out = s.run({y, clip_by_value(b, -3, 3), clip_by_value(a, -1e30, 1e30)});
  BOOST_TEST(out[0].to_vector<std::int32_t>() == std::vector<std::int32_t>({1, 1, 1, 2, 2}),
             tt::per_element());
  BOOST_TEST(out[1].to_vector<std::int64_t>() == std::vector<std::int64_t>({-3, 3, 0}),
             tt::per_element());
  // Bounds beyond int32's range saturate instead of overflowing: nothing is clipped.
  BOOST_TEST(out[2].to_vector<std::int32_t>() == std::vector<std::int32_t>({-5, 0, 1, 2, 7}),
             tt::per_element());
}

BOOST_AUTO_TEST_CASE(clip_by_value_unknown_batch_dimension) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 2}, "x");
  Output y = clip_by_value(x, 0, 6);  // relu6
  BOOST_TEST(y.shape().to_string() == "(?, 2)");
  Session s(g);
  BOOST_TEST(values(s.run(y, {{x, Tensor::from_vector<float>({1, 2}, {-3, 9})}})) ==
                 std::vector<double>({0, 6}),
             tt::per_element());
  BOOST_TEST(values(s.run(y, {{x, Tensor::from_vector<float>({3, 2}, {-3, 9, 2.5f, 6, 0, 7})}})) ==
                 std::vector<double>({0, 6, 2.5, 6, 0, 6}),
             tt::per_element());
}

BOOST_AUTO_TEST_CASE(clip_by_value_errors_at_build_time) {
  Graph g;
  Output x = constant(g, Tensor(DType::float32, Shape{2, 3}), "x");
  Output ints = constant(g, Tensor(DType::int64, Shape{4}), "ints");
  Output flags = constant(g, Tensor(DType::boolean, Shape{2}), "flags");
  int before = g.num_nodes();
  BOOST_CHECK_EXCEPTION(clip_by_value(x, 2, 1, "clipped"), ShapeError,
                        mentions_all({"'clipped'", "op clip_by_value", "float32 (2, 3)",
                                      "clip_min 2", "must not exceed clip_max 1"}));
  BOOST_CHECK_EXCEPTION(
      clip_by_value(x, std::numeric_limits<double>::quiet_NaN(), 1, "nan_clip"), ShapeError,
      mentions_all({"'nan_clip'", "op clip_by_value", "float32 (2, 3)", "must not exceed"}));
  BOOST_CHECK_EXCEPTION(
      clip_by_value(ints, 0.25, 0.75, "int_clip"), ShapeError,
      mentions_all({"'int_clip'", "op clip_by_value", "int64 (4,)", "no int64 value"}));
  BOOST_CHECK_EXCEPTION(clip_by_value(flags, 0, 1, "bool_clip"), ShapeError,
                        mentions_all({"'bool_clip'", "op clip_by_value", "bool (2,)", "numeric"}));
  BOOST_TEST(g.num_nodes() == before);
}

// At a bound the value is continuous and the rule passes the gradient (bounds are inside).
BOOST_AUTO_TEST_CASE(clip_gradient_is_one_inside_including_the_bounds) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{5}, "x");
  Output dx = gradients(sum(clip_by_value(x, -1.0, 1.0)), {x})[0];
  Session s(g);
  BOOST_TEST(values(s.run(dx, {{x, Tensor::from_vector<float>({5}, {-1, 0, 1, 2, -3})}})) ==
                 (std::vector<double>{1, 1, 1, 0, 0}),
             tt::per_element());
}

// The rules hold at magnitudes where a naive softmax overflows: they use the op's output only.
BOOST_AUTO_TEST_CASE(softmax_gradients_are_finite_at_large_inputs) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{1, 3}, "x");
  Output w = constant(g, Tensor::from_vector<float>({1, 3}, {1, 2, 3}));
  Output d = gradients(sum(softmax(x) * w), {x})[0];
  Output dl = gradients(sum(log_softmax(x) * w), {x})[0];
  Session s(g);
  std::vector<Tensor> out =
      s.run({d, dl}, {{x, Tensor::from_vector<float>({1, 3}, {1000, 1000, -1000})}});
  // softmax = (1/2, 1/2, 0): d = y (w - y.w) = (1/2 (1 - 3/2), 1/2 (2 - 3/2), 0);
  // dl = w - softmax sum(w) = (1 - 3, 2 - 3, 3 - 0).
  BOOST_TEST(values(out[0]) == (std::vector<double>{-0.25, 0.25, 0}), tt::per_element());
  BOOST_TEST(values(out[1]) == (std::vector<double>{-2, -1, 3}), tt::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
