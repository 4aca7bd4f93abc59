// Shape ops (transpose, reshape, broadcasting, cast, fills, size): values against hand-computed
// numbers, unknown batch dimensions, and build-time errors that name the op, the node and the
// input shapes. The indexing ops are tested in test_indexing.cpp.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "dagrad/dagrad.hpp"
#include "ops/op_test_util.hpp"

using namespace dagrad;
using namespace dagrad::testing;
namespace tt = boost::test_tools;

BOOST_AUTO_TEST_SUITE(shape_ops)

// ---- transpose ----

BOOST_AUTO_TEST_CASE(transpose_default_reverses_axes) {
  Graph g;
  Output x = constant(g, Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6}));
  Output y = transpose(x);
  BOOST_TEST(y.shape().to_string() == "(3, 2)");
  Session s(g);
  BOOST_TEST(values<float>(s.run(y)) == (std::vector<float>{1, 4, 2, 5, 3, 6}), tt::per_element());
}

BOOST_AUTO_TEST_CASE(transpose_rank3_negative_perm) {
  Graph g;
  // x[a][b][c] = 12a + 4b + c, shape (2, 3, 4); perm (1, -1, 0) = (1, 2, 0):
  // y[b][c][a] = x[a][b][c].
  Output x = constant(g, Tensor::from_vector<float>({2, 3, 4}, iota_f(24)));
  Output y = transpose(x, {1, -1, 0});
  BOOST_TEST(y.shape().to_string() == "(3, 4, 2)");
  std::vector<float> want;
  for (int b = 0; b < 3; ++b)
    for (int c = 0; c < 4; ++c)
      for (int a = 0; a < 2; ++a) want.push_back(static_cast<float>(12 * a + 4 * b + c));
  Session s(g);
  BOOST_TEST(values<float>(s.run(y)) == want, tt::per_element());
  // First elements by hand: y[0][0] = (x[0][0][0], x[1][0][0]) = (0, 12), y[0][1] = (1, 13).
  std::vector<float> got = values<float>(s.run(y));
  BOOST_TEST(
      (std::vector<float>(got.begin(), got.begin() + 4)) == (std::vector<float>{0, 12, 1, 13}),
      tt::per_element());
}

BOOST_AUTO_TEST_CASE(transpose_unknown_batch) {
  Graph g;
  Output x = placeholder(g, DType::int32, Shape{-1, 2}, "x");
  Output y = transpose(x);
  BOOST_TEST(y.shape().to_string() == "(2, ?)");
  Session s(g);
  Tensor one = s.run(y, {{x, Tensor::from_vector<std::int32_t>({1, 2}, {7, 8})}});
  BOOST_TEST(one.shape().to_string() == "(2, 1)");
  BOOST_TEST(values<std::int32_t>(one) == (std::vector<std::int32_t>{7, 8}), tt::per_element());
  Tensor three = s.run(y, {{x, Tensor::from_vector<std::int32_t>({3, 2}, {1, 2, 3, 4, 5, 6})}});
  BOOST_TEST(three.shape().to_string() == "(2, 3)");
  BOOST_TEST(values<std::int32_t>(three) == (std::vector<std::int32_t>{1, 3, 5, 2, 4, 6}),
             tt::per_element());
}

BOOST_AUTO_TEST_CASE(transpose_rejects_non_permutation) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{2, 3}, "x");
  check_build_error(g,
                    [&] {
                      transpose(x, {0, 0}, "bad_t");
                    },
                    {"node 'bad_t'", "(op transpose)", "float32 (2, 3)", "not a permutation"});
  check_build_error(g,
                    [&] {
                      transpose(x, {1, 0, 2}, "bad_t");
                    },
                    {"node 'bad_t'", "(op transpose)", "(2, 3)", "3 entries"});
  check_build_error(g,
                    [&] {
                      transpose(x, {2, 0}, "bad_t");
                    },
                    {"node 'bad_t'", "(op transpose)", "not a permutation"});
}

// ---- reshape ----

BOOST_AUTO_TEST_CASE(reshape_infers_minus_one) {
  Graph g;
  Output x = constant(g, Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6}));
  Output y = reshape(x, {3, -1});
  BOOST_TEST(y.shape().to_string() == "(3, 2)");
  Output z = reshape(x, {-1});
  BOOST_TEST(z.shape().to_string() == "(6,)");
  Output w = reshape(x, {1, 6, 1});
  Session s(g);
  BOOST_TEST(values<float>(s.run(y)) == (std::vector<float>{1, 2, 3, 4, 5, 6}), tt::per_element());
  BOOST_TEST(s.run(w).shape().to_string() == "(1, 6, 1)");
}

BOOST_AUTO_TEST_CASE(reshape_unknown_batch) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 2, 3}, "x");
  Output flat = reshape(x, {-1, 6});
  BOOST_TEST(flat.shape().to_string() == "(?, 6)");
  // Unknown input dims: the -1 stays unknown until run time, the given dims are kept.
  Output pairs = reshape(x, {2, -1});
  BOOST_TEST(pairs.shape().to_string() == "(2, ?)");
  Session s(g);
  Tensor one = s.run(flat, {{x, Tensor::from_vector<float>({1, 2, 3}, iota_f(6))}});
  BOOST_TEST(one.shape().to_string() == "(1, 6)");
  std::vector<Tensor> both =
      s.run({flat, pairs}, {{x, Tensor::from_vector<float>({4, 2, 3}, iota_f(24))}});
  BOOST_TEST(both[0].shape().to_string() == "(4, 6)");
  BOOST_TEST(both[1].shape().to_string() == "(2, 12)");
  BOOST_TEST(values<float>(both[1]) == iota_f(24), tt::per_element());
}

BOOST_AUTO_TEST_CASE(reshape_rejects_element_count_mismatch) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{2, 3}, "x");
  check_build_error(g,
                    [&] {
                      reshape(x, {4, 2}, "bad_r");
                    },
                    {"node 'bad_r'", "(op reshape)", "float32 (2, 3)", "6 elements", "[4, 2]"});
  check_build_error(g,
                    [&] {
                      reshape(x, {4, -1}, "bad_r");
                    },
                    {"node 'bad_r'", "(op reshape)", "(2, 3)", "6 is not a multiple of 4"});
  check_build_error(g,
                    [&] {
                      reshape(x, {-1, -1}, "bad_r");
                    },
                    {"(op reshape)", "more than one -1"});
  check_build_error(g, [&] { reshape(x, {0, -1}, "bad_r"); }, {"(op reshape)", "hold 0 elements"});
  // (?, 4) holds a multiple of 4 elements: 6 is impossible whatever the batch size.
  Output b = placeholder(g, DType::float32, Shape{-1, 4}, "b");
  check_build_error(g, [&] { reshape(b, {6}, "bad_r"); },
                    {"node 'bad_r'", "(op reshape)", "float32 (?, 4)"});
  // At run time the concrete shape decides: a batch of 1 has 4 elements, not a multiple of 3.
  Output r = reshape(b, {-1, 3});
  BOOST_TEST(r.shape().to_string() == "(?, 3)");
  Session s(g);
  BOOST_TEST(s.run(r, {{b, Tensor(DType::float32, Shape{3, 4})}}).shape().to_string() == "(4, 3)");
  BOOST_CHECK_EXCEPTION(s.run(r, {{b, Tensor(DType::float32, Shape{1, 4})}}), ShapeError,
                        mentions_all({"4 is not a multiple of 3"}));
}

// ---- broadcast_to ----

BOOST_AUTO_TEST_CASE(broadcast_to_numpy_rules) {
  Graph g;
  Output row = constant(g, Tensor::from_vector<float>({3}, {1, 2, 3}));
  Output col = constant(g, Tensor::from_vector<std::int64_t>({2, 1}, {10, 20}));
  Output one = constant(g, Tensor::scalar<double>(2.5));
  Output a = broadcast_to(row, {2, 3});
  Output b = broadcast_to(col, {2, 3});
  Output c = broadcast_to(one, {2, 2});
  Output d = broadcast_to(col, {2, 2, 2});
  Session s(g);
  BOOST_TEST(values<float>(s.run(a)) == (std::vector<float>{1, 2, 3, 1, 2, 3}), tt::per_element());
  BOOST_TEST(values<std::int64_t>(s.run(b)) == (std::vector<std::int64_t>{10, 10, 10, 20, 20, 20}),
             tt::per_element());
  BOOST_TEST(values<double>(s.run(c)) == (std::vector<double>{2.5, 2.5, 2.5, 2.5}),
             tt::per_element());
  BOOST_TEST(
      values<std::int64_t>(s.run(d)) == (std::vector<std::int64_t>{10, 10, 20, 20, 10, 10, 20, 20}),
      tt::per_element());
}

BOOST_AUTO_TEST_CASE(broadcast_to_unknown_batch) {
  Graph g;
  // An unknown dimension may be 1 or the target's size; the run-time shape decides.
  Output x = placeholder(g, DType::float32, Shape{-1, 1}, "x");
  Output y = broadcast_to(x, {3, 2});
  BOOST_TEST(y.shape().to_string() == "(3, 2)");
  Session s(g);
  BOOST_TEST(values<float>(s.run(y, {{x, Tensor::from_vector<float>({3, 1}, {1, 2, 3})}})) ==
                 (std::vector<float>{1, 1, 2, 2, 3, 3}),
             tt::per_element());
  BOOST_TEST(values<float>(s.run(y, {{x, Tensor::from_vector<float>({1, 1}, {4})}})) ==
                 (std::vector<float>{4, 4, 4, 4, 4, 4}),
             tt::per_element());
  BOOST_CHECK_THROW(s.run(y, {{x, Tensor(DType::float32, Shape{2, 1})}}), ShapeError);
}

BOOST_AUTO_TEST_CASE(broadcast_to_rejects_incompatible) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{3}, "x");
  check_build_error(g,
                    [&] {
                      broadcast_to(x, {2, 4}, "bad_b");
                    },
                    {"node 'bad_b'", "(op broadcast_to)", "float32 (3,)", "[2, 4]"});
  Output m = placeholder(g, DType::float32, Shape{2, 3}, "m");
  check_build_error(g, [&] { broadcast_to(m, {3}, "bad_b"); },
                    {"node 'bad_b'", "(op broadcast_to)", "(2, 3)", "lower-rank"});
}

// ---- cast ----

BOOST_AUTO_TEST_CASE(cast_float_to_int_and_bool) {
  Graph g;
  Output x = constant(g, Tensor::from_vector<float>({5}, {1.7f, -1.7f, 0.0f, 2.5f, -0.5f}));
  Output i = cast(x, DType::int32);
  Output b = cast(x, DType::boolean);
  Output back = cast(b, DType::float64);
  Session s(g);
  BOOST_TEST(values<std::int32_t>(s.run(i)) == (std::vector<std::int32_t>{1, -1, 0, 2, 0}),
             tt::per_element());
  BOOST_TEST(values<bool>(s.run(b)) == (std::vector<bool>{true, true, false, true, true}),
             tt::per_element());
  BOOST_TEST(values<double>(s.run(back)) == (std::vector<double>{1, 1, 0, 1, 1}),
             tt::per_element());
}

BOOST_AUTO_TEST_CASE(cast_saturates_instead_of_undefined_behaviour) {
  Graph g;
  double nan = std::numeric_limits<double>::quiet_NaN();
  Output x = constant(g, Tensor::from_vector<double>({4}, {nan, 1e10, -1e10, 1e300}));
  Output i32 = cast(x, DType::int32);
  Output f32 = cast(x, DType::float32);
  Output i64 = constant(g, Tensor::from_vector<std::int64_t>({2}, {4294967297LL, -1}));  // 2^32 + 1
  Output wrapped = cast(i64, DType::int32);
  Session s(g);
  BOOST_TEST(values<std::int32_t>(s.run(i32)) ==
                 (std::vector<std::int32_t>{0, 2147483647, -2147483647 - 1, 2147483647}),
             tt::per_element());
  std::vector<float> f = values<float>(s.run(f32));
  BOOST_TEST(std::isnan(f[0]));
  BOOST_TEST(f[1] == 1e10f);
  BOOST_TEST(std::isinf(f[3]));
  // Integer narrowing keeps the low 32 bits (two's complement).
  BOOST_TEST(values<std::int32_t>(s.run(wrapped)) == (std::vector<std::int32_t>{1, -1}),
             tt::per_element());
}

BOOST_AUTO_TEST_CASE(cast_every_dtype_pair) {
  const DType all[] = {DType::float32, DType::float64, DType::int32, DType::int64, DType::boolean};
  for (DType from : all)
    for (DType to : all) {
      Graph g;
      Output x = cast(constant(g, Tensor::from_vector<double>({3}, {0, 1, 3})), from);
      Output y = cast(x, to);
      BOOST_TEST(dtype_name(y.dtype()) == dtype_name(to));
      Session s(g);
      Tensor t = s.run(y);
      // 3 survives every numeric dtype; through bool it becomes 1.
      double third = (from == DType::boolean || to == DType::boolean) ? 1.0 : 3.0;
      BOOST_TEST(t.value_as_double(0) == 0.0);
      BOOST_TEST(t.value_as_double(1) == 1.0);
      BOOST_TEST(t.value_as_double(2) == third, dtype_name(from) << " -> " << dtype_name(to));
    }
}

BOOST_AUTO_TEST_CASE(cast_unknown_batch) {
  Graph g;
  Output x = placeholder(g, DType::int32, Shape{-1, 2}, "x");
  Output y = cast(x, DType::float32);
  BOOST_TEST(y.shape().to_string() == "(?, 2)");
  Session s(g);
  BOOST_TEST(
      values<float>(s.run(y, {{x, Tensor::from_vector<std::int32_t>({2, 2}, {1, -2, 3, -4})}})) ==
          (std::vector<float>{1, -2, 3, -4}),
      tt::per_element());
  BOOST_TEST(s.run(y, {{x, Tensor::from_vector<std::int32_t>({3, 2}, {1, 2, 3, 4, 5, 6})}})
                 .shape()
                 .to_string() == "(3, 2)");
}

// cast accepts every dtype and shape, so the only build failures are graph-level ones.
BOOST_AUTO_TEST_CASE(cast_rejects_invalid_input_handle) {
  Graph g;
  int before = g.num_nodes();
  BOOST_CHECK_THROW(cast(Output{}, DType::int32), GraphError);
  BOOST_TEST(g.num_nodes() == before);
}

// ---- zeros_like, ones_like, fill ----

BOOST_AUTO_TEST_CASE(zeros_and_ones_like) {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{-1, 3}, "x");
  Output z = zeros_like(x);
  Output o = ones_like(x);
  BOOST_TEST(z.shape().to_string() == "(?, 3)");
  Output b = ones_like(constant(g, Tensor::from_vector<bool>({2}, {false, false})));
  Output i = zeros_like(constant(g, Tensor::from_vector<std::int32_t>({2}, {5, 6})));
  Session s(g);
  Tensor feed = Tensor::from_vector<double>({2, 3}, {1, 2, 3, 4, 5, 6});
  std::vector<Tensor> out = s.run({z, o}, {{x, feed}});
  BOOST_TEST(values<double>(out[0]) == (std::vector<double>(6, 0.0)), tt::per_element());
  BOOST_TEST(values<double>(out[1]) == (std::vector<double>(6, 1.0)), tt::per_element());
  out = s.run({z, o}, {{x, Tensor(DType::float64, Shape{1, 3})}});
  BOOST_TEST(out[1].shape().to_string() == "(1, 3)");
  BOOST_TEST(values<bool>(s.run(b)) == (std::vector<bool>{true, true}), tt::per_element());
  BOOST_TEST(values<std::int32_t>(s.run(i)) == (std::vector<std::int32_t>{0, 0}),
             tt::per_element());
  BOOST_TEST(!g.registry().get("zeros_like").not_differentiable_reason.empty());
  BOOST_TEST(!g.registry().get("ones_like").not_differentiable_reason.empty());
}

// zeros_like and ones_like accept every input; only an empty handle is rejected.
BOOST_AUTO_TEST_CASE(zeros_ones_like_reject_invalid_input_handle) {
  Graph g;
  int before = g.num_nodes();
  BOOST_CHECK_THROW(zeros_like(Output{}), GraphError);
  BOOST_CHECK_THROW(ones_like(Output{}), GraphError);
  BOOST_TEST(g.num_nodes() == before);
}

BOOST_AUTO_TEST_CASE(fill_values) {
  Graph g;
  Output a = fill(g, Shape{2, 2}, 3.5, DType::float64);
  Output b = fill(g, Shape{3}, -7, DType::int32);
  Output c = fill(g, Shape{}, 1.0, DType::boolean);
  Output d = fill(g, Shape{0, 4}, 1.0);
  BOOST_TEST(a.shape().to_string() == "(2, 2)");
  Session s(g);
  BOOST_TEST(values<double>(s.run(a)) == (std::vector<double>{3.5, 3.5, 3.5, 3.5}),
             tt::per_element());
  BOOST_TEST(values<std::int32_t>(s.run(b)) == (std::vector<std::int32_t>{-7, -7, -7}),
             tt::per_element());
  BOOST_TEST(s.run(c).item<bool>() == true);
  BOOST_TEST(s.run(d).size() == 0);
}

BOOST_AUTO_TEST_CASE(fill_rejects_unknown_shape_and_unrepresentable_value) {
  Graph g;
  check_build_error(g,
                    [&] {
                      fill(g, Shape{-1, 2}, 1.0, DType::float32, "bad_f");
                    },
                    {"node 'bad_f'", "(op fill)", "inputs []", "(?, 2)", "fully defined"});
  check_build_error(g, [&] { fill(g, Shape{2}, 3e9, DType::int32, "bad_f"); },
                    {"node 'bad_f'", "(op fill)", "not representable in int32"});
  // The scalar rule (ops.hpp): no truncation, bool takes 0 or 1.
  check_build_error(
      g, [&] { fill(g, Shape{2}, 0.5, DType::int32, "bad_f"); },
      {"node 'bad_f'", "(op fill)", "0.5 is not representable in int32", "not a whole number"});
  check_build_error(g, [&] { fill(g, Shape{2}, 2.0, DType::boolean, "bad_f"); },
                    {"node 'bad_f'", "(op fill)", "not representable in bool"});
}

// ---- size ----

BOOST_AUTO_TEST_CASE(size_counts_elements_at_run_time) {
  Graph g;
  Output c = size(constant(g, Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6})));
  Output x = placeholder(g, DType::int32, Shape{-1, 4}, "x");
  Output n = size(x);
  BOOST_TEST(dtype_name(n.dtype()) == "int64");
  BOOST_TEST(n.shape().to_string() == "()");
  Output one = size(constant(g, Tensor::scalar<bool>(true)));
  Output none = size(constant(g, Tensor(DType::float64, Shape{0, 3})));
  Session s(g);
  BOOST_TEST(s.run(c).item<std::int64_t>() == 6);
  BOOST_TEST(s.run(n, {{x, Tensor(DType::int32, Shape{5, 4})}}).item<std::int64_t>() == 20);
  BOOST_TEST(s.run(n, {{x, Tensor(DType::int32, Shape{1, 4})}}).item<std::int64_t>() == 4);
  BOOST_TEST(s.run(one).item<std::int64_t>() == 1);
  BOOST_TEST(s.run(none).item<std::int64_t>() == 0);
  BOOST_TEST(!g.registry().get("size").not_differentiable_reason.empty());
}

// size accepts every dtype and shape, so the only build failure is a graph-level one.
BOOST_AUTO_TEST_CASE(size_rejects_invalid_input_handle) {
  Graph g;
  int before = g.num_nodes();
  BOOST_CHECK_THROW(size(Output{}), GraphError);
  BOOST_TEST(g.num_nodes() == before);
}

// ---- gradients the registry's float64 checker cannot see ----

BOOST_AUTO_TEST_CASE(cast_gradient_between_float_dtypes) {
  Graph g;
  Output x32 = placeholder(g, DType::float32, Shape{2}, "x32");
  Output x64 = placeholder(g, DType::float64, Shape{2}, "x64");
  Output y64 = cast(x32, DType::float64);
  Output y32 = cast(x64, DType::float32);
  // d sum(cast(x)^2)/dx = 2x, in x's dtype.
  std::vector<Output> d =
      gradients(std::vector<Output>{sum(y64 * y64), sum(y32 * y32)}, {x32, x64});
  BOOST_TEST(dtype_name(d[0].dtype()) == "float32");
  BOOST_TEST(dtype_name(d[1].dtype()) == "float64");
  Session s(g);
  std::vector<Tensor> out = s.run(d, {{x32, Tensor::from_vector<float>({2}, {1.5f, -2})},
                                      {x64, Tensor::from_vector<double>({2}, {0.25, 3})}});
  BOOST_TEST(values<float>(out[0]) == (std::vector<float>{3, -4}), tt::per_element());
  BOOST_TEST(values<double>(out[1]) == (std::vector<double>{0.5, 6}), tt::per_element());
  // Through an integer the value is piecewise constant: no gradient path at all.
  Output rounded = cast(cast(x32, DType::int32), DType::float32);
  BOOST_TEST(!gradients(sum(rounded), {x32})[0].valid());
}

BOOST_AUTO_TEST_CASE(kernels_with_fixed_rank_arrays_reject_rank_above_8) {
  Graph g;
  Output deep = placeholder(g, DType::float32, Shape{1, 1, 1, 1, 1, 1, 1, 1, 2}, "deep");
  check_build_error(g, [&] { transpose(deep, {}, "bad_t"); },
                    {"node 'bad_t'", "(op transpose)", "rank up to 8"});
  check_build_error(g,
                    [&] {
                      broadcast_to(deep, {1, 1, 1, 1, 1, 1, 1, 1, 2}, "bad_b");
                    },
                    {"(op broadcast_to)", "rank up to 8"});
  check_build_error(g, [&] { slice(deep, Ints(9, 0), Ints(9, -1), "bad_s"); },
                    {"(op slice)", "rank up to 8"});
  // Rank 8 itself works.
  Output eight = constant(g, Tensor::from_vector<float>({1, 1, 1, 1, 1, 1, 2, 2}, {1, 2, 3, 4}));
  Session s(g);
  BOOST_TEST(values<float>(s.run(transpose(eight))) == (std::vector<float>{1, 3, 2, 4}),
             tt::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

// Ops that autodiff builds gradients with.
BOOST_AUTO_TEST_SUITE(gradient_support_shape)

BOOST_AUTO_TEST_CASE(broadcast_like_repeats_to_the_run_time_shape) {
  Graph g;
  Output v = constant(g, Tensor::from_vector<float>({3}, {1, 2, 3}), "v");
  Output c = constant(g, Tensor::from_vector<float>({2, 1}, {10, 20}), "c");
  Output like = placeholder(g, DType::float32, Shape{-1, 3}, "like");
  Output rows = broadcast_like(v, like);
  Output cols = broadcast_like(c, like);
  BOOST_TEST(rows.shape() == (Shape{-1, 3}));
  Session s(g);
  Tensor two_rows(DType::float32, Shape{2, 3});
  auto out = s.run({rows, cols}, {{like, two_rows}});
  BOOST_TEST(out[0].to_vector<float>() == (std::vector<float>{1, 2, 3, 1, 2, 3}),
             boost::test_tools::per_element());
  BOOST_TEST(out[1].to_vector<float>() == (std::vector<float>{10, 10, 10, 20, 20, 20}),
             boost::test_tools::per_element());
  int before = g.num_nodes();
  Output four = constant(g, Tensor(DType::float32, Shape{4}), "four");
  ++before;
  BOOST_CHECK_EXCEPTION(
      broadcast_like(four, like, "bad"), ShapeError,
      mentions_all<ShapeError>({"bad", "broadcast_like", "float32 (4,)", "float32 (?, 3)"}));
  BOOST_TEST(g.num_nodes() == before);
}

BOOST_AUTO_TEST_CASE(reshape_like_and_expand_dims) {
  Graph g;
  Output x = constant(g, Tensor::from_vector<std::int32_t>({2, 3}, {1, 2, 3, 4, 5, 6}), "x");
  Output like = constant(g, Tensor(DType::float32, Shape{3, 2}), "like");
  Output r = reshape_like(x, like);
  BOOST_TEST(r.dtype() == DType::int32);
  BOOST_TEST(r.shape() == (Shape{3, 2}));
  BOOST_TEST(expand_dims(x, {0}).shape() == (Shape{1, 2, 3}));
  BOOST_TEST(expand_dims(x, {-1}).shape() == (Shape{2, 3, 1}));
  BOOST_TEST(expand_dims(x, {0, 2}).shape() == (Shape{1, 2, 1, 3}));
  Output p = placeholder(g, DType::float32, Shape{-1, 3}, "p");
  Output e = expand_dims(p, {1});
  BOOST_TEST(e.shape() == (Shape{-1, 1, 3}));
  Session s(g);
  BOOST_TEST(s.run(r).to_vector<std::int32_t>() == (std::vector<std::int32_t>{1, 2, 3, 4, 5, 6}),
             boost::test_tools::per_element());
  BOOST_TEST(s.run(e, {{p, Tensor(DType::float32, Shape{4, 3})}}).shape() == (Shape{4, 1, 3}));
  // Element counts that differ: at build time when known, at run time otherwise.
  int before = g.num_nodes();
  Output five = constant(g, Tensor(DType::float32, Shape{5}), "five");
  ++before;
  BOOST_CHECK_EXCEPTION(
      reshape_like(x, five, "bad"), ShapeError,
      mentions_all<ShapeError>({"bad", "reshape_like", "int32 (2, 3)", "float32 (5,)"}));
  BOOST_CHECK_THROW(expand_dims(x, {0, 0}), ShapeError);
  BOOST_CHECK_THROW(expand_dims(x, {3}), ShapeError);
  BOOST_TEST(g.num_nodes() == before);
  Output q = placeholder(g, DType::float32, Shape{-1}, "q");
  Output late = reshape_like(q, like, "late");
  BOOST_CHECK_EXCEPTION(s.run(late, {{q, Tensor(DType::float32, Shape{7})}}), std::exception,
                        mentions_all({"late", "(7,)", "(3, 2)"}));
}

BOOST_AUTO_TEST_SUITE_END()

// ---- sizes that overflow int64 ----
// Regression: a float64 fill of 2^61 elements got a 64-byte buffer (2^61 * 8 wrapped to 0) and
// wrote past it. Every shape function's output size is checked, so these are build errors.

BOOST_AUTO_TEST_CASE(outputs_whose_size_overflows_are_build_errors) {
  Graph g;
  const std::int64_t e61 = std::int64_t{1} << 61;
  check_build_error(g, [&] { fill(g, Shape{e61}, 1.0, DType::float64, "huge_fill"); },
                    {"node 'huge_fill'", "(op fill)", "float64 (2305843009213693952,)",
                     "more bytes than an int64 can count"});
  // The same count in bytes (bool) is fine to build.
  BOOST_TEST(fill(g, Shape{e61}, 1.0, DType::boolean, "big_bools").shape() == Shape{e61});
  Output x = placeholder(g, DType::float32, Shape{2, 3}, "x");
  check_build_error(g,
                    [&] {
                      broadcast_to(x, {e61, 2, 3}, "huge_bcast");
                    },
                    {"node 'huge_bcast'", "(op broadcast_to)", "x: float32 (2, 3)",
                     "more elements than an int64"});
  // reshape's product of the target's dimensions: 2^32 * 2^32 wrapped to 0, which then
  // "matched" an empty input.
  Output empty = placeholder(g, DType::float32, Shape{0}, "empty");
  const std::int64_t e32 = std::int64_t{1} << 32;
  check_build_error(g,
                    [&] {
                      reshape(empty, {e32, e32, 0}, "huge_reshape");
                    },
                    {"node 'huge_reshape'", "(op reshape)", "float32 (0,)", "overflows an int64"});
  check_build_error(g,
                    [&] {
                      reshape(empty, {e32, e32, -1}, "huge_reshape");
                    },
                    {"node 'huge_reshape'", "(op reshape)", "overflows an int64"});
  // Unknown dimensions count as 1 at build time; a run-time shape that overflows is refused by
  // the session's shape check (tests/graph/test_session.cpp).
  // A placeholder of 2^62 bytes per row is fine; its cast to float64 is not.
  Output batch = placeholder(g, DType::float32, Shape{-1, e61 / 2}, "batch");
  check_build_error(g, [&] { cast(batch, DType::float64, "huge_cast"); },
                    {"node 'huge_cast'", "(op cast)", "batch: float32 (?, 1152921504606846976)",
                     "more bytes than an int64 can count"});
  check_build_error(g,
                    [&] {
                      placeholder(g, DType::float64, Shape{-1, e61}, "huge_feed");
                    },
                    {"node 'huge_feed'", "(op placeholder)", "float64 (?, 2305843009213693952)"});
}
