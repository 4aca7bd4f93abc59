// Reductions (sum, mean, max, min) and argmax: values against hand-computed numbers, shapes
// with unknown dimensions, empty axes, and build-time errors.
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

// x = [[1, 2, 3], [4, 5, 6]]
Output matrix_2x3(Graph& g, const char* name = "x") {
  return constant(g, Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6}), name);
}

// x[i][j][k] = 6i + 2j + k, shape (2, 3, 2)
Output cube_2x3x2(Graph& g) {
  return constant(g, Tensor::from_vector<float>({2, 3, 2}, iota_f(12)), "cube");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(reduce)

BOOST_AUTO_TEST_CASE(sum_over_axes) {
  Graph g;
  Output x = matrix_2x3(g);
  Output all = sum(x);
  Output rows = sum(x, {0});
  Output cols = sum(x, {1});
  BOOST_TEST(all.shape().to_string() == "()");
  BOOST_TEST(rows.shape().to_string() == "(3,)");
  BOOST_TEST(cols.shape().to_string() == "(2,)");
  Session s(g);
  auto out = s.run({all, rows, cols});
  BOOST_TEST(values(out[0]) == std::vector<double>({21}), tt::tolerance(1e-6) << tt::per_element());
  BOOST_TEST(values(out[1]) == std::vector<double>({5, 7, 9}), tt::tolerance(1e-6)
                                                                   << tt::per_element());
  BOOST_TEST(values(out[2]) == std::vector<double>({6, 15}), tt::tolerance(1e-6)
                                                                 << tt::per_element());
}

BOOST_AUTO_TEST_CASE(sum_keepdims_and_negative_axes) {
  Graph g;
  Output x = matrix_2x3(g);
  Output last = sum(x, {-1});
  Output kept = sum(x, {-1}, true);
  Output both = sum(x, {-2, 1}, true);
  Output first_kept = sum(x, {-2}, true);
  BOOST_TEST(last.shape().to_string() == "(2,)");
  BOOST_TEST(kept.shape().to_string() == "(2, 1)");
  BOOST_TEST(both.shape().to_string() == "(1, 1)");
  BOOST_TEST(first_kept.shape().to_string() == "(1, 3)");
  Session s(g);
  auto out = s.run({last, kept, both, first_kept});
  BOOST_TEST(values(out[0]) == std::vector<double>({6, 15}), tt::tolerance(1e-6)
                                                                 << tt::per_element());
  BOOST_TEST(out[1].shape().to_string() == "(2, 1)");
  BOOST_TEST(values(out[1]) == std::vector<double>({6, 15}), tt::tolerance(1e-6)
                                                                 << tt::per_element());
  BOOST_TEST(values(out[2]) == std::vector<double>({21}), tt::tolerance(1e-6) << tt::per_element());
  BOOST_TEST(values(out[3]) == std::vector<double>({5, 7, 9}), tt::tolerance(1e-6)
                                                                   << tt::per_element());
}

BOOST_AUTO_TEST_CASE(sum_3d_middle_and_outer_axes) {
  Graph g;
  Output x = cube_2x3x2(g);
  // sum_j (6i + 2j + k) = 18i + 6 + 3k
  Output middle = sum(x, {1});
  // sum_{i,k} (6i + 2j + k) = 8j + 14
  Output outer = sum(x, {0, 2});
  // max_{i,k} (6i + 2j + k) = 7 + 2j, axes given out of order and negative
  Output outer_max = max(x, {-1, 0}, true);
  BOOST_TEST(middle.shape().to_string() == "(2, 2)");
  BOOST_TEST(outer.shape().to_string() == "(3,)");
  BOOST_TEST(outer_max.shape().to_string() == "(1, 3, 1)");
  Session s(g);
  auto out = s.run({middle, outer, outer_max});
  BOOST_TEST(values(out[0]) == std::vector<double>({6, 9, 24, 27}), tt::tolerance(1e-6)
                                                                        << tt::per_element());
  BOOST_TEST(values(out[1]) == std::vector<double>({14, 22, 30}), tt::tolerance(1e-6)
                                                                      << tt::per_element());
  BOOST_TEST(values(out[2]) == std::vector<double>({7, 9, 11}), tt::tolerance(1e-6)
                                                                    << tt::per_element());
}

BOOST_AUTO_TEST_CASE(mean_values) {
  Graph g;
  Output x = matrix_2x3(g);
  Output all = mean(x);
  Output rows = mean(x, {0});
  Output cols = mean(x, {-1}, true);
  Session s(g);
  auto out = s.run({all, rows, cols});
  BOOST_TEST(values(out[0]) == std::vector<double>({3.5}), tt::tolerance(1e-6)
                                                               << tt::per_element());
  BOOST_TEST(values(out[1]) == std::vector<double>({2.5, 3.5, 4.5}), tt::tolerance(1e-6)
                                                                         << tt::per_element());
  BOOST_TEST(out[2].shape().to_string() == "(2, 1)");
  BOOST_TEST(values(out[2]) == std::vector<double>({2, 5}), tt::tolerance(1e-6)
                                                                << tt::per_element());
}

BOOST_AUTO_TEST_CASE(max_min_values) {
  Graph g;
  Output x = constant(g, Tensor::from_vector<float>({2, 3}, {1, 9, 3, 7, 5, -6}), "x");
  Session s(g);
  auto out = s.run({max(x), max(x, {0}), max(x, {1}), min(x), min(x, {0}), min(x, {-1}, true)});
  BOOST_TEST(values(out[0]) == std::vector<double>({9}), tt::per_element());
  BOOST_TEST(values(out[1]) == std::vector<double>({7, 9, 3}), tt::per_element());
  BOOST_TEST(values(out[2]) == std::vector<double>({9, 7}), tt::per_element());
  BOOST_TEST(values(out[3]) == std::vector<double>({-6}), tt::per_element());
  BOOST_TEST(values(out[4]) == std::vector<double>({1, 5, -6}), tt::per_element());
  BOOST_TEST(out[5].shape().to_string() == "(2, 1)");
  BOOST_TEST(values(out[5]) == std::vector<double>({1, -6}), tt::per_element());
}

BOOST_AUTO_TEST_CASE(max_of_all_negative_infinity_and_nan) {
  Graph g;
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Output ninf = constant(g, Tensor::from_vector<float>({2}, {-inf, -inf}));
  Output with_nan = constant(g, Tensor::from_vector<float>({3}, {1, nan, 3}));
  Session s(g);
  auto out = s.run({max(ninf), min(ninf), max(with_nan), min(with_nan)});
  BOOST_TEST(out[0].item<float>() == -inf);
  BOOST_TEST(out[1].item<float>() == -inf);
  BOOST_TEST(std::isnan(out[2].item<float>()));  // NaN propagates, as in NumPy
  BOOST_TEST(std::isnan(out[3].item<float>()));
}

BOOST_AUTO_TEST_CASE(integer_reductions) {
  Graph g;
  Output a = constant(g, Tensor::from_vector<std::int32_t>({2, 2}, {1, 2, 3, 4}));
  Output b = constant(g, Tensor::from_vector<std::int64_t>({3}, {-7, 12, 5}));
  const std::int32_t big = std::numeric_limits<std::int32_t>::max();
  Output wraps = constant(g, Tensor::from_vector<std::int32_t>({2}, {big, 1}));
  Output s0 = sum(a, {0});
  BOOST_TEST((s0.dtype() == DType::int32));
  Session s(g);
  auto out = s.run({s0, sum(a), max(b), min(b), sum(b), sum(wraps)});
  BOOST_TEST(out[0].to_vector<std::int32_t>() == std::vector<std::int32_t>({4, 6}),
             tt::per_element());
  BOOST_TEST(out[1].item<std::int32_t>() == 10);
  BOOST_TEST(out[2].item<std::int64_t>() == 12);
  BOOST_TEST(out[3].item<std::int64_t>() == -7);
  BOOST_TEST(out[4].item<std::int64_t>() == 10);
  // Integer sums wrap around (two's complement): 2^31 - 1 + 1 = -2^31.
  BOOST_TEST(out[5].item<std::int32_t>() == std::numeric_limits<std::int32_t>::min());
}

BOOST_AUTO_TEST_CASE(float64_reductions) {
  Graph g;
  Output x = constant(g, Tensor::from_vector<double>({2, 2}, {0.1, 0.2, 0.3, 0.4}));
  Session s(g);
  auto out = s.run({sum(x), mean(x, {1}), max(x, {0}), min(x)});
  BOOST_TEST(out[0].item<double>() == 1.0, tt::tolerance(1e-14));
  BOOST_TEST(values(out[1]) == std::vector<double>({0.15, 0.35}), tt::tolerance(1e-14)
                                                                      << tt::per_element());
  BOOST_TEST(values(out[2]) == std::vector<double>({0.3, 0.4}), tt::per_element());
  BOOST_TEST(out[3].item<double>() == 0.1);
}

BOOST_AUTO_TEST_CASE(long_sum_is_accurate) {
  // 10^6 copies of 0.1f: a naive float32 running sum drifts by about 1%.
  Graph g;
  std::vector<float> v(1000000, 0.1f);
  Output x = constant(g, Tensor::from_vector<float>({1000, 1000}, v));
  Session s(g);
  BOOST_TEST(s.run(sum(x)).item<float>() == 100000.0f, tt::tolerance(1e-6f));
  BOOST_TEST(s.run(mean(x)).item<float>() == 0.1f, tt::tolerance(1e-6f));
}

BOOST_AUTO_TEST_CASE(repeated_runs_reuse_the_output_buffer) {
  // The executor reuses output buffers while feed shapes stay the same: the kernel must reset
  // its accumulator instead of adding to the previous result.
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 3}, "x");
  Output total = sum(x, {0});
  Output largest = max(x, {0});
  Session s(g);
  Tensor feed = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  for (int run = 0; run < 3; ++run) {
    auto out = s.run({total, largest}, {{x, feed}});
    BOOST_TEST(values(out[0]) == std::vector<double>({5, 7, 9}), tt::per_element());
    BOOST_TEST(values(out[1]) == std::vector<double>({4, 5, 6}), tt::per_element());
  }
}

BOOST_AUTO_TEST_CASE(unknown_batch_dimension) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 3}, "x");
  Output per_row = sum(x, {1});
  Output per_row_kept = max(x, {-1}, true);
  Output per_column = sum(x, {0});
  Output per_column_kept = min(x, {0}, true);
  Output overall = mean(x);
  Output best = argmax(x);
  BOOST_TEST(per_row.shape().to_string() == "(?,)");  // kept unknown dim stays unknown
  BOOST_TEST(per_row_kept.shape().to_string() == "(?, 1)");
  BOOST_TEST(per_column.shape().to_string() == "(3,)");  // reduced unknown dim disappears
  BOOST_TEST(per_column_kept.shape().to_string() == "(1, 3)");
  BOOST_TEST(overall.shape().to_string() == "()");
  BOOST_TEST(best.shape().to_string() == "(?,)");
  Session s(g);
  auto one = s.run({per_row, per_row_kept, per_column, per_column_kept, overall, best},
                   {{x, Tensor::from_vector<float>({1, 3}, {1, 2, 3})}});
  BOOST_TEST(values(one[0]) == std::vector<double>({6}), tt::per_element());
  BOOST_TEST(one[1].shape().to_string() == "(1, 1)");
  BOOST_TEST(values(one[1]) == std::vector<double>({3}), tt::per_element());
  BOOST_TEST(values(one[2]) == std::vector<double>({1, 2, 3}), tt::per_element());
  BOOST_TEST(values(one[3]) == std::vector<double>({1, 2, 3}), tt::per_element());
  BOOST_TEST(values(one[4]) == std::vector<double>({2}), tt::tolerance(1e-6) << tt::per_element());
  BOOST_TEST(one[5].to_vector<std::int64_t>() == std::vector<std::int64_t>({2}), tt::per_element());
  auto three = s.run({per_row, per_row_kept, per_column, per_column_kept, overall, best},
                     {{x, Tensor::from_vector<float>({3, 3}, {1, 2, 3, 6, 5, 4, 7, 9, 8})}});
  BOOST_TEST(values(three[0]) == std::vector<double>({6, 15, 24}), tt::per_element());
  BOOST_TEST(three[1].shape().to_string() == "(3, 1)");
  BOOST_TEST(values(three[1]) == std::vector<double>({3, 6, 9}), tt::per_element());
  BOOST_TEST(values(three[2]) == std::vector<double>({14, 16, 15}), tt::per_element());
  BOOST_TEST(values(three[3]) == std::vector<double>({1, 2, 3}), tt::per_element());
  BOOST_TEST(values(three[4]) == std::vector<double>({5}), tt::tolerance(1e-6)
                                                               << tt::per_element());
  BOOST_TEST(three[5].to_vector<std::int64_t>() == std::vector<std::int64_t>({2, 0, 1}),
             tt::per_element());
}

BOOST_AUTO_TEST_CASE(sum_over_empty_axis_is_zero) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 3}, "x");
  Output columns = sum(x, {0});
  Output total = sum(x);
  Output rows_max = max(x, {1});  // nothing reduced over an empty axis: an empty result
  Session s(g);
  auto out = s.run({columns, total, rows_max}, {{x, Tensor(DType::float32, Shape{0, 3})}});
  BOOST_TEST(values(out[0]) == std::vector<double>({0, 0, 0}), tt::per_element());
  BOOST_TEST(values(out[1]) == std::vector<double>({0}), tt::per_element());
  BOOST_TEST(out[2].shape().to_string() == "(0,)");
}

BOOST_AUTO_TEST_CASE(mean_max_min_argmax_over_empty_axis_throw_at_run_time) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 3}, "x");
  Output reductions[] = {mean(x, {0}, false, "m"), max(x, {}, false, "mx"), min(x, {0}, true, "mn"),
                         argmax(x, 0, "am")};
  const char* names[] = {"'m'", "'mx'", "'mn'", "'am'"};
  Tensor empty(DType::float32, Shape{0, 3});
  for (int i = 0; i < 4; ++i) {
    Session s(g);
    BOOST_CHECK_EXCEPTION(s.run(reductions[i], {{x, empty}}), ShapeError,
                          mentions_all({names[i], "(0, 3)", "size 0"}));
  }
  // The same nodes work once the batch is not empty.
  Session s(g);
  auto out = s.run({reductions[0], reductions[3]},
                   {{x, Tensor::from_vector<float>({2, 3}, {1, 5, 3, 4, 2, 6})}});
  BOOST_TEST(values(out[0]) == std::vector<double>({2.5, 3.5, 4.5}), tt::tolerance(1e-6)
                                                                         << tt::per_element());
  BOOST_TEST(out[1].to_vector<std::int64_t>() == std::vector<std::int64_t>({1, 0, 1}),
             tt::per_element());
}

BOOST_AUTO_TEST_CASE(argmax_values) {
  Graph g;
  Output x = constant(g, Tensor::from_vector<float>({2, 3}, {1, 9, 3, 7, 5, -6}), "x");
  Output last = argmax(x);
  Output first = argmax(x, 0);
  Output middle = argmax(cube_2x3x2(g), 1);  // increasing along axis 1: always index 2
  Output ints = argmax(constant(g, Tensor::from_vector<std::int32_t>({4}, {-3, 8, -1, 2})));
  BOOST_TEST((last.dtype() == DType::int64));
  BOOST_TEST(last.shape().to_string() == "(2,)");
  BOOST_TEST(first.shape().to_string() == "(3,)");
  BOOST_TEST(middle.shape().to_string() == "(2, 2)");
  BOOST_TEST(ints.shape().to_string() == "()");
  Session s(g);
  auto out = s.run({last, first, middle, ints});
  BOOST_TEST(out[0].to_vector<std::int64_t>() == std::vector<std::int64_t>({1, 0}),
             tt::per_element());
  BOOST_TEST(out[1].to_vector<std::int64_t>() == std::vector<std::int64_t>({1, 0, 0}),
             tt::per_element());
  BOOST_TEST(out[2].to_vector<std::int64_t>() == std::vector<std::int64_t>({2, 2, 2, 2}),
             tt::per_element());
  BOOST_TEST(out[3].item<std::int64_t>() == 1);
}

BOOST_AUTO_TEST_CASE(argmax_ties_and_nan) {
  Graph g;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Output ties = constant(g, Tensor::from_vector<double>({2, 3}, {2, 5, 5, 3, 3, 1}));
  Output column_ties = constant(g, Tensor::from_vector<double>({3, 2}, {1, 4, 4, 4, 4, 0}));
  Output with_nan = constant(g, Tensor::from_vector<double>({4}, {1, nan, 3, nan}));
  Session s(g);
  auto out = s.run({argmax(ties), argmax(column_ties, 0), argmax(with_nan)});
  BOOST_TEST(out[0].to_vector<std::int64_t>() == std::vector<std::int64_t>({1, 0}),
             tt::per_element());
  BOOST_TEST(out[1].to_vector<std::int64_t>() == std::vector<std::int64_t>({1, 0}),
             tt::per_element());
  BOOST_TEST(out[2].item<std::int64_t>() == 1);  // the first NaN, as NumPy
}

BOOST_AUTO_TEST_CASE(argmax_is_not_differentiable) {
  Graph g;
  const OpRecord& r = g.registry().get("argmax");
  BOOST_TEST(!r.not_differentiable_reason.empty());
  BOOST_TEST(r.dispatch_input == 0);
}

BOOST_AUTO_TEST_CASE(bad_axes_throw_shape_error_and_leave_graph_unchanged) {
  Graph g;
  Output x = matrix_2x3(g);
  int before = g.num_nodes();
  // Duplicate axes (once negative), out of range, and too negative, for each reduction.
  BOOST_CHECK_EXCEPTION(sum(x, {1, -1}, false, "total"), ShapeError,
                        mentions_all({"'total'", "op sum", "float32 (2, 3)", "appears twice"}));
  BOOST_CHECK_EXCEPTION(
      mean(x, {2}, false, "average"), ShapeError,
      mentions_all({"'average'", "op mean", "float32 (2, 3)", "axis 2 is out of range"}));
  BOOST_CHECK_EXCEPTION(
      max(x, {-3}, true, "largest"), ShapeError,
      mentions_all({"'largest'", "op max", "float32 (2, 3)", "axis -3 is out of range"}));
  BOOST_CHECK_EXCEPTION(min(x, {0, 0}, false, "smallest"), ShapeError,
                        mentions_all({"'smallest'", "op min", "float32 (2, 3)", "appears twice"}));
  BOOST_TEST(g.num_nodes() == before);
}

BOOST_AUTO_TEST_CASE(argmax_bad_axis_throws_shape_error) {
  Graph g;
  Output x = matrix_2x3(g);
  int before = g.num_nodes();
  BOOST_CHECK_EXCEPTION(
      argmax(x, 2, "best"), ShapeError,
      mentions_all({"'best'", "op argmax", "float32 (2, 3)", "axis 2 is out of range"}));
  Output flag = constant(g, Tensor::from_vector<bool>({2}, {true, false}), "flag");
  ++before;
  BOOST_CHECK_EXCEPTION(argmax(flag, -1, "best_flag"), ShapeError,
                        mentions_all({"'best_flag'", "op argmax", "bool (2,)"}));
  BOOST_TEST(g.num_nodes() == before);
}

BOOST_AUTO_TEST_CASE(mean_of_integers_and_empty_known_axis_throw_at_build_time) {
  Graph g;
  Output ints = constant(g, Tensor::from_vector<std::int32_t>({2, 2}, {1, 2, 3, 4}), "ints");
  Output empty = constant(g, Tensor(DType::float32, Shape{0, 4}), "empty");
  int before = g.num_nodes();
  BOOST_CHECK_EXCEPTION(mean(ints, {}, false, "avg"), ShapeError,
                        mentions_all({"'avg'", "op mean", "int32 (2, 2)", "float32 or float64"}));
  BOOST_CHECK_EXCEPTION(max(empty, {0}, false, "peak"), ShapeError,
                        mentions_all({"'peak'", "op max", "float32 (0, 4)", "size 0"}));
  BOOST_TEST(g.num_nodes() == before);
}

// ---- gradients the registry's checker cannot see (it draws inputs without ties) ----

BOOST_AUTO_TEST_CASE(max_min_gradients_split_ties_equally) {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{2, 3}, "x");
  Output v = placeholder(g, DType::float64, Shape{3}, "v");
  // Row 0 has its maximum twice, row 1 three times; v's minimum 1 appears twice.
  Output dmax = gradients(sum(max(x, {1})), {x})[0];
  Output dmin = gradients(min(v) * 6.0, {v})[0];
  Output dkeep = gradients(sum(max(x, {-1}, true) * 2.0), {x})[0];
  Session s(g);
  std::vector<Tensor> out =
      s.run({dmax, dmin, dkeep}, {{x, Tensor::from_vector<double>({2, 3}, {1, 3, 3, 2, 2, 2})},
                                  {v, Tensor::from_vector<double>({3}, {1, 2, 1})}});
  double third = 1.0 / 3.0;
  BOOST_TEST(values(out[0]) == (std::vector<double>{0, 0.5, 0.5, third, third, third}),
             tt::per_element());
  BOOST_TEST(values(out[1]) == (std::vector<double>{3, 0, 3}), tt::per_element());
  BOOST_TEST(values(out[2]) == (std::vector<double>{0, 1, 1, 2 * third, 2 * third, 2 * third}),
             tt::per_element());
}

BOOST_AUTO_TEST_CASE(mean_gradient_counts_an_unknown_batch_at_run_time) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 2}, "x");
  Output all = gradients(mean(x), {x})[0];
  Output rows = gradients(mean(x, {0}), {x})[0];  // the unknown axis is the one reduced
  Output cols = gradients(mean(x, {1}), {x})[0];  // a known count: 2
  Session s(g);
  std::vector<Tensor> three = s.run({all, rows, cols}, {{x, Tensor(DType::float32, Shape{3, 2})}});
  BOOST_TEST(values(three[0]) == std::vector<double>(6, 1.0 / 6.0), tt::tolerance(1e-6)
                                                                        << tt::per_element());
  BOOST_TEST(values(three[1]) == std::vector<double>(6, 1.0 / 3.0), tt::tolerance(1e-6)
                                                                        << tt::per_element());
  BOOST_TEST(values(three[2]) == std::vector<double>(6, 0.5), tt::per_element());
  std::vector<Tensor> one = s.run({all, rows}, {{x, Tensor(DType::float32, Shape{1, 2})}});
  BOOST_TEST(values(one[0]) == std::vector<double>(2, 0.5), tt::per_element());
  BOOST_TEST(values(one[1]) == std::vector<double>(2, 1.0), tt::per_element());
}

// Long rows reduced over the first axis: the result is compared with x row by row (a case where
// a broadcasting comparison kernel once returned wrong values).
BOOST_AUTO_TEST_CASE(max_gradient_over_the_batch_axis_of_long_rows) {
  for (int n : {3, 8, 9, 17}) {
    Graph g;
    Output x = placeholder(g, DType::float64, Shape{2, n}, "x");
    Output dx = gradients(sum(max(x, {0})), {x})[0];
    std::vector<double> v(static_cast<std::size_t>(2 * n));
    for (int i = 0; i < n; ++i) {
      v[static_cast<std::size_t>(i)] = i % 2;
      v[static_cast<std::size_t>(n + i)] = 1 - i % 2;
    }
    Session s(g);
    // The maximum of each column is the element that is 1: its gradient is 1, the other's 0.
    BOOST_TEST(values(s.run(dx, {{x, Tensor::from_vector<double>({2, n}, v)}})) == v,
               tt::per_element());
  }
}

BOOST_AUTO_TEST_SUITE_END()

// ---- the kernels' loops (leading axes, last axis, all axes, and the general walk) against
// float64 nested loops, at odd sizes so that every SIMD tail and the four-row blocks run ----

namespace {

// Values in [-2, 2) from a fixed seed, as stored in `dtype` (what the kernel sees).
std::vector<double> draws(DType dtype, std::int64_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-2.0, 2.0);
  std::vector<double> v(static_cast<std::size_t>(n));
  for (double& x : v) x = rounded_to(dtype, u(rng));
  return v;
}

// Per output element of the reduction of x (row-major, rank <= 3) over the axes in `reduced`:
// the exact sum, the sum of magnitudes, the count, max and min, by plain loops in double.
struct Reference {
  std::vector<double> sum, magnitude, max, min;
  std::int64_t count = 0;
};
Reference reference_reduction(const std::vector<double>& x, Ints dims, std::vector<bool> reduced) {
  while (dims.size() < 3) {  // pad to rank 3 with leading kept dims of size 1
    dims.insert(dims.begin(), 1);
    reduced.insert(reduced.begin(), false);
  }
  Ints out_dims;
  for (std::size_t d = 0; d < 3; ++d) out_dims.push_back(reduced[d] ? 1 : dims[d]);
  auto n_out = static_cast<std::size_t>(out_dims[0] * out_dims[1] * out_dims[2]);
  Reference r;
  r.sum.assign(n_out, 0.0);
  r.magnitude.assign(n_out, 0.0);
  r.max.assign(n_out, -std::numeric_limits<double>::infinity());
  r.min.assign(n_out, std::numeric_limits<double>::infinity());
  r.count = 1;
  for (std::size_t d = 0; d < 3; ++d)
    if (reduced[d]) r.count *= dims[d];
  for (std::int64_t i = 0; i < dims[0]; ++i)
    for (std::int64_t j = 0; j < dims[1]; ++j)
      for (std::int64_t k = 0; k < dims[2]; ++k) {
        double v = x[static_cast<std::size_t>((i * dims[1] + j) * dims[2] + k)];
        std::int64_t oi = reduced[0] ? 0 : i, oj = reduced[1] ? 0 : j, ok = reduced[2] ? 0 : k;
        auto o = static_cast<std::size_t>((oi * out_dims[1] + oj) * out_dims[2] + ok);
        r.sum[o] += v;
        r.magnitude[o] += std::abs(v);
        r.max[o] = std::max(r.max[o], v);
        r.min[o] = std::min(r.min[o], v);
      }
  return r;
}

struct FastPathCase {
  const char* what;
  Ints dims, axes, like;  // `like`: the shape sum_to sums down to (the axes kept as 1)
};

std::vector<FastPathCase> fast_path_cases() {
  return {
      {"leading axis, odd sizes", {37, 53}, {0}, {53}},
      {"leading axis kept as 1", {37, 53}, {0}, {1, 53}},
      {"leading axis, BatchNormalization's shape", {256, 100}, {0}, {100}},
      {"leading axis, whole blocks", {8, 32}, {0}, {32}},
      {"leading axes of a 3-d tensor", {6, 5, 19}, {0, 1}, {19}},
      {"leading axis past a dim of size 1", {5, 1, 53}, {0}, {1, 53}},
      {"last axis, odd sizes", {37, 53}, {1}, {37, 1}},
      {"last axis, short rows", {37, 10}, {-1}, {37, 1}},
      {"all axes", {37, 53}, {}, {}},
      {"all axes kept as 1", {37, 53}, {0, 1}, {1, 1}},
      {"middle axis (no fast path)", {3, 37, 21}, {1}, {3, 1, 21}},
      {"outer axes around a kept one (no fast path)", {6, 37, 21}, {0, 2}, {37, 1}},
  };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(reduce_loops)

BOOST_AUTO_TEST_CASE(sum_mean_max_min_and_sum_to_match_float64_loops) {
  for (DType dtype : {DType::float32, DType::float64}) {
    // The rounding unit: recursive summation of n terms errs by at most about n u sum|x|.
    double u = dtype == DType::float32 ? std::ldexp(1.0, -24) : std::ldexp(1.0, -53);
    for (const FastPathCase& c : fast_path_cases()) {
      BOOST_TEST_CONTEXT(c.what << ", " << dtype_name(dtype)) {
        Shape shape(c.dims);
        std::vector<double> x = draws(dtype, shape.num_elements(), 7);
        std::vector<bool> reduced(c.dims.size(), c.axes.empty());
        for (auto a : c.axes)
          reduced[static_cast<std::size_t>(a < 0 ? a + shape.rank() : a)] = true;
        Reference ref = reference_reduction(x, c.dims, reduced);

        Graph g;
        Output in = constant(g, make_tensor(dtype, shape, x), "x");
        Output like = constant(g, Tensor(dtype, Shape(c.like)), "like");
        Session s(g);
        std::vector<Tensor> out = s.run({sum(in, c.axes, true), mean(in, c.axes), max(in, c.axes),
                                         min(in, c.axes), sum_to(in, like)});
        BOOST_TEST_REQUIRE(out[0].size() == static_cast<std::int64_t>(ref.sum.size()));
        BOOST_TEST(out[4].shape() == Shape(c.like));
        auto count = static_cast<double>(ref.count);
        for (std::size_t o = 0; o < ref.sum.size(); ++o) {
          auto i = static_cast<std::int64_t>(o);
          double bound = (count + 1) * u * ref.magnitude[o];
          BOOST_TEST(std::abs(out[0].value_as_double(i) - ref.sum[o]) <= bound,
                     "sum " << o << ": " << out[0].value_as_double(i) << " vs " << ref.sum[o]);
          BOOST_TEST(std::abs(out[1].value_as_double(i) - ref.sum[o] / count) <=
                         bound / count + 2 * u * std::abs(ref.sum[o] / count),
                     "mean " << o);
          BOOST_TEST(out[2].value_as_double(i) == ref.max[o], "max " << o);
          BOOST_TEST(out[3].value_as_double(i) == ref.min[o], "min " << o);
          // sum_to is the sum over the broadcast axes, through the same loops: equal bit for bit.
          BOOST_TEST(out[4].value_as_double(i) == out[0].value_as_double(i), "sum_to " << o);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(integer_sums_over_leading_and_last_axes_are_exact) {
  // 37 x 53 int32 values up to 1000 in magnitude: every partial sum is exact.
  std::vector<double> x(37 * 53);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<double>((i * 7919) % 2001) - 1000;
  Reference cols = reference_reduction(x, {37, 53}, {true, false});
  Reference rows = reference_reduction(x, {37, 53}, {false, true});
  Graph g;
  Output in = constant(g, make_tensor(DType::int32, Shape{37, 53}, x));
  Session s(g);
  std::vector<Tensor> out =
      s.run({sum(in, {0}), sum(in, {1}), sum_to(in, constant(g, Tensor(DType::int32, Shape{53})))});
  BOOST_TEST(values(out[0]) == cols.sum, tt::per_element());
  BOOST_TEST(values(out[1]) == rows.sum, tt::per_element());
  BOOST_TEST(values(out[2]) == cols.sum, tt::per_element());
}

BOOST_AUTO_TEST_CASE(summation_order_is_the_documented_one) {
  // Leading axes add rows one after the other in float32: 1 + 1e8 rounds back to 1e8, so the
  // column 1, 1e8, -1e8, 1, 1 sums to 2 (the exact sum is 3), in the four-row block and the tail
  // alike. Along the last axis float32 is accumulated in double: the same five values give 3.
  const std::vector<float> column = {1.0f, 1e8f, -1e8f, 1.0f, 1.0f};
  const std::int64_t n = 19;
  std::vector<float> by_rows, by_columns;
  for (float v : column)
    for (std::int64_t j = 0; j < n; ++j) by_rows.push_back(v);  // (5, n): each column is `column`
  for (std::int64_t j = 0; j < n; ++j)
    for (float v : column) by_columns.push_back(v);  // (n, 5): each row is `column`
  Graph g;
  Output a = constant(g, Tensor::from_vector<float>({5, n}, by_rows));
  Output b = constant(g, Tensor::from_vector<float>({n, 5}, by_columns));
  Session s(g);
  std::vector<Tensor> out =
      s.run({sum(a, {0}), sum_to(a, constant(g, Tensor(DType::float32, Shape{n}))), sum(b, {1}),
             sum_to(b, constant(g, Tensor(DType::float32, Shape{n, 1})))});
  for (int k = 0; k < 4; ++k)
    BOOST_TEST(values(out[static_cast<std::size_t>(k)]) ==
                   std::vector<double>(static_cast<std::size_t>(n), k < 2 ? 2.0 : 3.0),
               tt::per_element());
}

BOOST_AUTO_TEST_CASE(max_and_min_over_leading_axes_propagate_nan) {
  // NaN in row 5 of column 3 (a four-row block) and row 8 of column 20 (the tail row).
  const std::int64_t rows = 9, n = 21;
  std::vector<double> x = draws(DType::float32, rows * n, 3);
  x[5 * n + 3] = std::numeric_limits<double>::quiet_NaN();
  x[8 * n + 20] = std::numeric_limits<double>::quiet_NaN();
  Reference ref = reference_reduction(x, {rows, n}, {true, false});
  Graph g;
  Output in = constant(g, make_tensor(DType::float32, Shape{rows, n}, x));
  Session s(g);
  std::vector<Tensor> out = s.run({max(in, {0}), min(in, {0})});
  for (std::int64_t j = 0; j < n; ++j) {
    bool nan = j == 3 || j == 20;
    BOOST_TEST(std::isnan(out[0].value_as_double(j)) == nan, "max column " << j);
    BOOST_TEST(std::isnan(out[1].value_as_double(j)) == nan, "min column " << j);
    if (!nan) {
      BOOST_TEST(out[0].value_as_double(j) == ref.max[static_cast<std::size_t>(j)]);
      BOOST_TEST(out[1].value_as_double(j) == ref.min[static_cast<std::size_t>(j)]);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

// Ops that autodiff builds gradients with.
BOOST_AUTO_TEST_SUITE(gradient_support_reduce)

BOOST_AUTO_TEST_CASE(sum_to_reduces_broadcast_axes) {
  Graph g;
  Output x = constant(g, Tensor::from_vector<double>({2, 3}, {1, 2, 3, 4, 5, 6}), "x");
  Output row = constant(g, Tensor(DType::float64, Shape{3}));
  Output col = constant(g, Tensor(DType::float64, Shape{2, 1}));
  Output one = constant(g, Tensor(DType::float64, Shape{}));
  Session s(g);
  BOOST_TEST(s.run(sum_to(x, row)).to_vector<double>() == (std::vector<double>{5, 7, 9}),
             boost::test_tools::per_element());
  Tensor rows = s.run(sum_to(x, col));
  BOOST_TEST(rows.shape() == (Shape{2, 1}));
  BOOST_TEST(rows.to_vector<double>() == (std::vector<double>{6, 15}),
             boost::test_tools::per_element());
  BOOST_TEST(s.run(sum_to(x, one)).item<double>() == 21.0);
  // A (?, 2, 2) batch summed to (1, 2): over the batch and the middle axis.
  Output batch = placeholder(g, DType::float64, Shape{-1, 2, 2}, "batch");
  Output target = constant(g, Tensor(DType::float64, Shape{1, 2}));
  Output folded = sum_to(batch, target);
  BOOST_TEST(folded.shape() == (Shape{1, 2}));
  auto got =
      s.run(folded, {{batch, Tensor::from_vector<double>({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8})}});
  BOOST_TEST(got.to_vector<double>() == (std::vector<double>{16, 20}),
             boost::test_tools::per_element());
  int before = g.num_nodes();
  Output wrong = constant(g, Tensor(DType::float64, Shape{4}), "wrong");
  ++before;
  BOOST_CHECK_EXCEPTION(
      sum_to(x, wrong, "bad"), ShapeError,
      mentions_all<ShapeError>({"bad", "sum_to", "float64 (2, 3)", "float64 (4,)"}));
  Output bigger = constant(g, Tensor(DType::float64, Shape{2, 2, 3}));
  ++before;
  BOOST_CHECK_THROW(sum_to(x, bigger), ShapeError);
  BOOST_TEST(g.num_nodes() == before);
}

BOOST_AUTO_TEST_SUITE_END()
