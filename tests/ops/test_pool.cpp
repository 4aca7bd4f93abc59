// max_pool2d, avg_pool2d and their gradient ops: values against a naive float64 reference
// written here, hand-worked borders with same padding, ties, unknown batches, second derivatives
// and build-time errors.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "dagrad/dagrad.hpp"
#include "ops/op_test_util.hpp"

using namespace dagrad;
using namespace dagrad::testing;
namespace tt = boost::test_tools;

namespace {

struct Config {
  std::int64_t n, h, w, c, kh, kw, sh, sw;
  bool same;
};

// Pooling straight from TensorFlow's definition, element by element in float64: the input is
// conceptually padded (top/left by half the total, rounded down) and each window visits only
// the cells inside the input.
std::vector<double> reference_pool(const std::vector<double>& x, const Config& k, bool max,
                                   std::int64_t* oh_out, std::int64_t* ow_out) {
  std::int64_t oh, ow, top = 0, left = 0;
  if (k.same) {
    oh = (k.h + k.sh - 1) / k.sh;
    ow = (k.w + k.sw - 1) / k.sw;
    top = std::max<std::int64_t>((oh - 1) * k.sh + k.kh - k.h, 0) / 2;
    left = std::max<std::int64_t>((ow - 1) * k.sw + k.kw - k.w, 0) / 2;
  } else {
    oh = (k.h - k.kh) / k.sh + 1;
    ow = (k.w - k.kw) / k.sw + 1;
  }
  *oh_out = oh;
  *ow_out = ow;
  std::vector<double> y;
  for (std::int64_t b = 0; b < k.n; ++b)
    for (std::int64_t i = 0; i < oh; ++i)
      for (std::int64_t j = 0; j < ow; ++j)
        for (std::int64_t ch = 0; ch < k.c; ++ch) {
          double best = -std::numeric_limits<double>::infinity(), total = 0;
          int count = 0;
          for (std::int64_t di = 0; di < k.kh; ++di)
            for (std::int64_t dj = 0; dj < k.kw; ++dj) {
              std::int64_t r = i * k.sh + di - top, s = j * k.sw + dj - left;
              if (r < 0 || r >= k.h || s < 0 || s >= k.w) continue;
              double v = x[static_cast<std::size_t>(((b * k.h + r) * k.w + s) * k.c + ch)];
              best = std::max(best, v);
              total += v;
              ++count;
            }
          y.push_back(max ? best : total / count);
        }
  return y;
}

Pool2DOptions options_of(const Config& k) {
  return {{k.sh, k.sw}, k.same ? "same" : "valid"};
}

Tensor nhwc(DType dtype, Shape shape, const std::vector<double>& v) {
  return make_tensor(dtype, std::move(shape), v);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(pool)

BOOST_AUTO_TEST_CASE(forward_matches_a_naive_reference) {
  const std::vector<Config> configs = {
      {2, 4, 4, 3, 2, 2, 2, 2, false},  // valid, non-overlapping
      {1, 5, 6, 2, 3, 2, 1, 1, false},  // valid, stride 1, overlapping
      {2, 7, 5, 1, 3, 3, 2, 2, false},  // valid, leftover rows dropped
      {1, 5, 5, 2, 3, 3, 2, 2, true},   // same, odd size, overlapping
      {2, 4, 4, 1, 2, 2, 1, 1, true},   // same, padding only at the bottom and right
      {1, 4, 6, 3, 3, 3, 1, 1, true},   // same, padding on all sides
      {1, 3, 7, 2, 2, 4, 3, 2, true},   // same, unequal sizes and strides
      {1, 2, 2, 1, 3, 3, 1, 1, true}};  // same, window larger than the input
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> uniform(-3, 3);
  for (DType dtype : {DType::float64, DType::float32}) {
    for (const Config& k : configs) {
      std::vector<double> xv(static_cast<std::size_t>(k.n * k.h * k.w * k.c));
      for (double& v : xv) v = rounded_to(dtype, uniform(rng));
      Graph g;
      Output x = placeholder(g, dtype, Shape{-1, k.h, k.w, k.c}, "x");
      Output mx = max_pool2d(x, {k.kh, k.kw}, options_of(k));
      Output av = avg_pool2d(x, {k.kh, k.kw}, options_of(k));
      std::int64_t oh, ow;
      std::vector<double> want_max = reference_pool(xv, k, true, &oh, &ow);
      std::vector<double> want_avg = reference_pool(xv, k, false, &oh, &ow);
      BOOST_TEST(mx.shape() == (Shape{-1, oh, ow, k.c}));
      Session s(g);
      auto got = s.run({mx, av}, {{x, nhwc(dtype, Shape{k.n, k.h, k.w, k.c}, xv)}});
      BOOST_TEST(got[0].shape() == (Shape{k.n, oh, ow, k.c}));
      std::string ctx = std::string(dtype_name(dtype)) + " " + std::to_string(k.h) + "x" +
                        std::to_string(k.w) + (k.same ? " same" : " valid");
      check_values(got[0], want_max, 0.0, 0.0, "max " + ctx);  // a max is exact
      // A mean of up to kh*kw terms of |x| <= 3 summed in dtype: rounding is bounded by about
      // kh*kw ulps of 3, absolute, which matters where the terms cancel.
      double ulp = dtype == DType::float32 ? std::numeric_limits<float>::epsilon()
                                           : std::numeric_limits<double>::epsilon();
      check_values(got[1], want_avg, rel_tolerance(dtype),
                   static_cast<double>(k.kh * k.kw) * 3 * ulp, "avg " + ctx);
    }
  }
}

// x = [[1 2 3] [4 5 6] [7 8 9]], 2x2 windows, stride 2, same: OH = OW = 2, total padding 1, all
// of it at the bottom and right. Windows {1 2 4 5}, {3 6}, {7 8}, {9}.
BOOST_AUTO_TEST_CASE(same_padding_at_the_borders_by_hand) {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{1, 3, 3, 1}, "x");
  Pool2DOptions same{{2, 2}, "same"};
  Output av = avg_pool2d(x, {2, 2}, same), mx = max_pool2d(x, {2, 2}, same);
  Session s(g);
  Tensor pos = nhwc(DType::float64, Shape{1, 3, 3, 1}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  Tensor negative = nhwc(DType::float64, Shape{1, 3, 3, 1}, {-1, -2, -3, -4, -5, -6, -7, -8, -9});
  // Only real cells are counted: (1+2+4+5)/4, (3+6)/2, (7+8)/2, 9/1.
  check_values(s.run(av, {{x, pos}}), {3, 4.5, 7.5, 9}, 1e-15, "avg");
  check_values(s.run(mx, {{x, pos}}), {5, 6, 8, 9}, 0, "max");
  // All negative: a zero-padded max would give 0 at the borders.
  check_values(s.run(mx, {{x, negative}}), {-1, -3, -7, -9}, 0, "max, negative");

  // 3x3 windows, stride 1, same on a 4x4 input: padding 1 on every side. x = 0..15.
  Output x4 = placeholder(g, DType::float64, Shape{1, 4, 4, 1}, "x4");
  Output av4 = avg_pool2d(x4, {3, 3}, {{1, 1}, "same"});
  std::vector<double> v(16);
  for (int i = 0; i < 16; ++i) v[static_cast<std::size_t>(i)] = i;
  Session s4(g);
  Tensor y4 = s4.run(av4, {{x4, nhwc(DType::float64, Shape{1, 4, 4, 1}, v)}});
  // Corner (0,0): cells 0 1 4 5; edge (0,1): 0 1 2 4 5 6; centre (1,1): 0 1 2 4 5 6 8 9 10.
  BOOST_TEST(y4.value_as_double(0) == 2.5, tt::tolerance(1e-15));
  BOOST_TEST(y4.value_as_double(1) == 3.0, tt::tolerance(1e-15));
  BOOST_TEST(y4.value_as_double(5) == 5.0, tt::tolerance(1e-15));
  // Corner (3,3): cells 10 11 14 15.
  BOOST_TEST(y4.value_as_double(15) == 12.5, tt::tolerance(1e-15));
}

// The default strides are the pool size (Keras).
BOOST_AUTO_TEST_CASE(strides_default_to_the_pool_size) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{2, 6, 4, 3}, "x");
  BOOST_TEST(max_pool2d(x, {2, 2}).shape() == (Shape{2, 3, 2, 3}));
  BOOST_TEST(avg_pool2d(x, {3, 2}).shape() == (Shape{2, 2, 2, 3}));
  Output y = placeholder(g, DType::float32, Shape{-1, -1, 7, 3}, "y");
  BOOST_TEST(max_pool2d(y, {2, 2}, {{2, 2}, "same"}).shape() == (Shape{-1, -1, 4, 3}));
}

// On ties the gradient goes to the first maximum in row-major window order (TF's CPU kernel);
// overlapping windows that share a maximum add their gradients there.
BOOST_AUTO_TEST_CASE(max_gradient_routes_to_the_first_maximum) {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{1, 2, 2, 1}, "x");
  Output y = max_pool2d(x, {2, 2});
  Output dx = gradients(sum(y * 3.0), {x})[0];
  Session s(g);
  check_values(s.run(dx, {{x, nhwc(DType::float64, Shape{1, 2, 2, 1}, {1, 1, 1, 1})}}),
               {3, 0, 0, 0}, 0, "all equal");
  check_values(s.run(dx, {{x, nhwc(DType::float64, Shape{1, 2, 2, 1}, {0, 2, 2, 1})}}),
               {0, 3, 0, 0}, 0, "tie in the second cell");

  // One row [1 5 2], windows 1x2 at stride 1: both windows pick the 5.
  Output r = placeholder(g, DType::float64, Shape{1, 1, 3, 1}, "r");
  Output w = placeholder(g, DType::float64, Shape{1, 1, 2, 1}, "w");
  Output dr = gradients(sum(max_pool2d(r, {1, 2}, {{1, 1}, "valid"}) * w), {r})[0];
  Session s2(g);
  check_values(s2.run(dr, {{r, nhwc(DType::float64, Shape{1, 1, 3, 1}, {1, 5, 2})},
                           {w, nhwc(DType::float64, Shape{1, 1, 2, 1}, {0.5, 2})}}),
               {0, 2.5, 0}, 0, "overlapping windows");
}

// max_pool2d_grad_grad reads g at the argmaxes; avg_pool2d_grad spreads dy over real cells.
BOOST_AUTO_TEST_CASE(gradient_ops_by_hand) {
  Graph g;
  Pool2DOptions same{{2, 2}, "same"};
  Output x = placeholder(g, DType::float64, Shape{1, 3, 3, 1}, "x");
  Output y = max_pool2d(x, {2, 2}, same);
  Output gx = placeholder(g, DType::float64, Shape{1, 3, 3, 1}, "gx");
  Output z = max_pool2d_grad_grad(x, y, gx, {2, 2}, same);
  Output dy = placeholder(g, DType::float64, Shape{1, 2, 2, 1}, "dy");
  Output spread = avg_pool2d_grad(dy, x, {2, 2}, same);
  Session s(g);
  // x's argmaxes: window {0 1 3 4} -> cell 1 (value 9), {2 5} -> 5, {6 7} -> 6, {8} -> 8.
  Tensor xv = nhwc(DType::float64, Shape{1, 3, 3, 1}, {3, 9, 1, 2, 0, 4, 8, 7, 5});
  Tensor gv = nhwc(DType::float64, Shape{1, 3, 3, 1}, {10, 11, 12, 13, 14, 15, 16, 17, 18});
  check_values(s.run(z, {{x, xv}, {gx, gv}}), {11, 15, 16, 18}, 0, "grad_grad");
  // Counts 4, 2, 2, 1: dy = [4 2 6 1] gives 1 per cell of the first two windows, 3, then 1.
  check_values(
      s.run(spread, {{x, xv}, {dy, nhwc(DType::float64, Shape{1, 2, 2, 1}, {4, 2, 6, 1})}}),
      {1, 1, 1, 1, 1, 1, 3, 3, 1}, 1e-15, "avg_pool2d_grad");
}

// The gradient of avg_pool2d takes its run-time shape from x, so an unknown batch works.
BOOST_AUTO_TEST_CASE(unknown_batch_gradients) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 4, 4, 2}, "x");
  Output loss = sum(avg_pool2d(x, {2, 2})) + sum(max_pool2d(x, {2, 2}, {{1, 1}, "same"}));
  Output dx = gradients(loss, {x})[0];
  BOOST_TEST(dx.shape() == (Shape{-1, 4, 4, 2}));
  Session s(g);
  std::vector<double> v(3 * 32);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i);  // increasing
  Tensor got = s.run(dx, {{x, nhwc(DType::float32, Shape{3, 4, 4, 2}, v)}});
  BOOST_TEST(got.shape() == (Shape{3, 4, 4, 2}));
  // avg: 1/4 everywhere. max (same, stride 1, 2x2, padding at the bottom and right), values
  // increasing in row-major order: the window at (i, j) picks cell (min(i+1, 3), min(j+1, 3)),
  // so cell (0, *) and (*, 0) get nothing from max, (1, 1) gets 1, (3, 3) gets 4, (1, 3) gets 2.
  auto at = [&](int b, int h, int w, int c) {
    return got.value_as_double(((b * 4 + h) * 4 + w) * 2 + c);
  };
  BOOST_TEST(at(2, 0, 0, 1) == 0.25, tt::tolerance(1e-6));
  BOOST_TEST(at(2, 1, 1, 0) == 1.25, tt::tolerance(1e-6));
  BOOST_TEST(at(1, 1, 3, 1) == 2.25, tt::tolerance(1e-6));
  BOOST_TEST(at(0, 3, 3, 0) == 4.25, tt::tolerance(1e-6));
}

// Global average pooling is mean over H and W: (N, H, W, C) -> (N, C).
BOOST_AUTO_TEST_CASE(global_average_pooling_is_a_mean_over_h_and_w) {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{-1, 2, 2, 2}, "x");
  Output gap = mean(x, {1, 2});
  Session s(g);
  // Channel 0: 1 2 3 4 -> 2.5; channel 1: 10 -20 30 0 -> 5.
  Tensor got =
      s.run(gap, {{x, nhwc(DType::float64, Shape{1, 2, 2, 2}, {1, 10, 2, -20, 3, 30, 4, 0})}});
  BOOST_TEST(got.shape() == (Shape{1, 2}));
  check_values(got, {2.5, 5}, 1e-15, "gap");
}

// The gradient graph itself gradient-checked: avg_pool2d's gradient is linear and smooth, so
// its second derivative exists everywhere; max_pool2d's with distinct inputs.
BOOST_AUTO_TEST_CASE(second_derivatives_pass_the_gradient_check) {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{2, 5, 5, 2}, "x");
  Pool2DOptions same{{2, 2}, "same"};
  Output y = avg_pool2d(x, {3, 3}, same);
  Output grad = gradients(sum(y * y * y), {x})[0];  // avg_pool2d_grad(3 y^2, x)
  Output scalar_of_grad = sum(grad * grad * x);
  Output m = max_pool2d(x, {3, 3}, same);
  Output mgrad = gradients(sum(m * m * m), {x})[0];  // max_pool2d_grad(x, m, 3 m^2)
  Output scalar_of_mgrad = sum(mgrad * mgrad);
  Session s(g);
  std::mt19937_64 rng(11);
  std::vector<double> v(100);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = -2 + 0.04 * static_cast<double>(i);
  std::shuffle(v.begin(), v.end(), rng);  // distinct, 0.04 apart: argmaxes are stable
  std::vector<Feed> feeds{{x, nhwc(DType::float64, Shape{2, 5, 5, 2}, v)}};
  GradCheckResult r = check_graph_gradients(s, scalar_of_grad, {x}, feeds);
  BOOST_TEST_INFO(r.message);
  BOOST_TEST(r.passed);
  BOOST_TEST(r.max_abs_error < 1e-7);
  GradCheckResult rm = check_graph_gradients(s, scalar_of_mgrad, {x}, feeds);
  BOOST_TEST_INFO(rm.message);
  BOOST_TEST(rm.passed);  // within the checker's rtol 1e-6 (no absolute bound: 3 m^2 terms add up)
}

BOOST_AUTO_TEST_CASE(shape_errors_name_the_shapes) {
  Graph g;
  Output x3 = placeholder(g, DType::float32, Shape{4, 4, 2}, "x3");
  Output x = placeholder(g, DType::float32, Shape{-1, 3, 5, 2}, "x");
  BOOST_CHECK_EXCEPTION(max_pool2d(x3, {2, 2}), ShapeError,
                        mentions_all<ShapeError>({"op max_pool2d", "rank 4", "(4, 4, 2)"}));
  BOOST_CHECK_EXCEPTION(
      avg_pool2d(x, {4, 2}), ShapeError,
      mentions_all<ShapeError>({"op avg_pool2d", "must fit", "pool size [4, 2]", "(?, 3, 5, 2)"}));
  BOOST_CHECK_EXCEPTION(max_pool2d(x, {0, 2}), ShapeError,
                        mentions_all<ShapeError>({"ksize", "[0, 2]"}));
  BOOST_CHECK_EXCEPTION(max_pool2d(x, {2, 2}, {{2, -1}, "valid"}), ShapeError,
                        mentions_all<ShapeError>({"strides", "[2, -1]"}));
  BOOST_CHECK_EXCEPTION(max_pool2d(x, {2, 2}, {{}, "SAME"}), ShapeError,
                        mentions_all<ShapeError>({"unknown padding \"SAME\""}));
  Output y = max_pool2d(x, {2, 2});
  Output wrong = placeholder(g, DType::float32, Shape{-1, 2, 2, 2}, "wrong");
  BOOST_CHECK_EXCEPTION(max_pool2d_grad(x, y, wrong, {2, 2}), ShapeError,
                        mentions_all<ShapeError>({"dy has shape (?, 2, 2, 2)", "(?, 1, 2, 2)"}));
  BOOST_CHECK_EXCEPTION(avg_pool2d_grad(wrong, x, {2, 2}), ShapeError,
                        mentions_all<ShapeError>({"dy has shape (?, 2, 2, 2)", "(?, 1, 2, 2)"}));
}

BOOST_AUTO_TEST_SUITE_END()
