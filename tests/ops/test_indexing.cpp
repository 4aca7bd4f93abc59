// Indexing ops (concat, slice, pad, gather, scatter_add, one_hot): values against hand-computed
// numbers, unknown batch dimensions, build-time errors that name the op, the node and the input
// shapes, and the gradient rules' own errors.
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

BOOST_AUTO_TEST_SUITE(indexing_ops)

// ---- concat ----

BOOST_AUTO_TEST_CASE(concat_values_and_negative_axis) {
  Graph g;
  Output a = constant(g, Tensor::from_vector<float>({1, 2}, {1, 2}));
  Output b = constant(g, Tensor::from_vector<float>({2, 2}, {3, 4, 5, 6}));
  Output rows = concat({a, b}, 0);
  BOOST_TEST(rows.shape().to_string() == "(3, 2)");
  Output p = constant(g, Tensor::from_vector<std::int32_t>({2, 1}, {1, 2}));
  Output q = constant(g, Tensor::from_vector<std::int32_t>({2, 2}, {3, 4, 5, 6}));
  Output cols = concat({p, q, p}, -1);
  BOOST_TEST(cols.shape().to_string() == "(2, 4)");
  Output single = concat({a}, 1);
  Session s(g);
  BOOST_TEST(values<float>(s.run(rows)) == (std::vector<float>{1, 2, 3, 4, 5, 6}),
             tt::per_element());
  BOOST_TEST(
      values<std::int32_t>(s.run(cols)) == (std::vector<std::int32_t>{1, 3, 4, 1, 2, 5, 6, 2}),
      tt::per_element());
  BOOST_TEST(values<float>(s.run(single)) == (std::vector<float>{1, 2}), tt::per_element());
}

BOOST_AUTO_TEST_CASE(concat_unknown_batch) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 1}, "x");
  Output z = placeholder(g, DType::float32, Shape{-1, 2}, "z");
  Output y = concat({x, z}, 1);
  BOOST_TEST(y.shape().to_string() == "(?, 3)");
  Output stacked = concat({z, constant(g, Tensor::from_vector<float>({1, 2}, {9, 9}))}, 0);
  BOOST_TEST(stacked.shape().to_string() == "(?, 2)");
  Session s(g);
  std::vector<Tensor> out =
      s.run({y, stacked}, {{x, Tensor::from_vector<float>({2, 1}, {1, 2})},
                           {z, Tensor::from_vector<float>({2, 2}, {3, 4, 5, 6})}});
  BOOST_TEST(values<float>(out[0]) == (std::vector<float>{1, 3, 4, 2, 5, 6}), tt::per_element());
  BOOST_TEST(values<float>(out[1]) == (std::vector<float>{3, 4, 5, 6, 9, 9}), tt::per_element());
  out = s.run({y, stacked}, {{x, Tensor::from_vector<float>({1, 1}, {7})},
                             {z, Tensor::from_vector<float>({1, 2}, {8, 9})}});
  BOOST_TEST(out[0].shape().to_string() == "(1, 3)");
  BOOST_TEST(values<float>(out[0]) == (std::vector<float>{7, 8, 9}), tt::per_element());
  BOOST_TEST(out[1].shape().to_string() == "(2, 2)");
}

BOOST_AUTO_TEST_CASE(concat_rejects_mismatched_inputs) {
  Graph g;
  Output a = placeholder(g, DType::float32, Shape{2, 3}, "a");
  Output b = placeholder(g, DType::float32, Shape{2, 4}, "b");
  Output i = placeholder(g, DType::int32, Shape{2, 3}, "i");
  check_build_error(
      g,
      [&] {
        concat({a, b}, 0, "bad_c");
      },
      {"node 'bad_c'", "(op concat)", "a: float32 (2, 3)", "b: float32 (2, 4)", "axis 1"});
  check_build_error(g,
                    [&] {
                      concat({a, i}, 1, "bad_c");
                    },
                    {"node 'bad_c'", "(op concat)", "int32 (2, 3)", "same dtype"});
  check_build_error(g,
                    [&] {
                      concat({a, b}, 2, "bad_c");
                    },
                    {"node 'bad_c'", "(op concat)", "axis 2"});
  Output v = placeholder(g, DType::float32, Shape{3}, "v");
  check_build_error(g,
                    [&] {
                      concat({a, v}, 0, "bad_c");
                    },
                    {"(op concat)", "v: float32 (3,)", "rank"});
}

// ---- slice ----

BOOST_AUTO_TEST_CASE(slice_values_and_to_end) {
  Graph g;
  // x[r][c] = 4r + c, shape (3, 4).
  Output x = constant(g, Tensor::from_vector<float>({3, 4}, iota_f(12)));
  Output y = slice(x, {1, 1}, {2, -1});
  BOOST_TEST(y.shape().to_string() == "(2, 3)");
  Output col = slice(x, {0, 2}, {-1, 1});
  Output empty = slice(x, {3, 4}, {0, 0});
  Session s(g);
  BOOST_TEST(values<float>(s.run(y)) == (std::vector<float>{5, 6, 7, 9, 10, 11}),
             tt::per_element());
  BOOST_TEST(values<float>(s.run(col)) == (std::vector<float>{2, 6, 10}), tt::per_element());
  BOOST_TEST(s.run(empty).size() == 0);
}

BOOST_AUTO_TEST_CASE(slice_unknown_batch) {
  Graph g;
  Output x = placeholder(g, DType::int64, Shape{-1, 4}, "x");
  Output y = slice(x, {0, 1}, {-1, 2});
  BOOST_TEST(y.shape().to_string() == "(?, 2)");
  Session s(g);
  BOOST_TEST(values<std::int64_t>(s.run(
                 y, {{x, Tensor::from_vector<std::int64_t>({2, 4}, {0, 1, 2, 3, 4, 5, 6, 7})}})) ==
                 (std::vector<std::int64_t>{1, 2, 5, 6}),
             tt::per_element());
  Tensor three = s.run(
      y, {{x, Tensor::from_vector<std::int64_t>({3, 4}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})}});
  BOOST_TEST(three.shape().to_string() == "(3, 2)");
  BOOST_TEST(values<std::int64_t>(three) == (std::vector<std::int64_t>{1, 2, 5, 6, 9, 10}),
             tt::per_element());
}

BOOST_AUTO_TEST_CASE(slice_rejects_out_of_bounds) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{3, 4}, "x");
  check_build_error(g,
                    [&] {
                      slice(x, {0, 3}, {1, 2}, "bad_s");
                    },
                    {"node 'bad_s'", "(op slice)", "float32 (3, 4)", "out of bounds"});
  check_build_error(g,
                    [&] {
                      slice(x, {4, 0}, {-1, 1}, "bad_s");
                    },
                    {"node 'bad_s'", "(op slice)", "out of bounds"});
  check_build_error(g, [&] { slice(x, {0}, {1}, "bad_s"); },
                    {"node 'bad_s'", "(op slice)", "(3, 4)", "one entry per axis"});
  check_build_error(g, [&] { slice(x, {-1, 0}, {1, 1}, "bad_s"); }, {"(op slice)", "begin -1"});
}

// ---- gather ----

BOOST_AUTO_TEST_CASE(gather_rows_and_negative_axis) {
  Graph g;
  Output params = constant(g, Tensor::from_vector<float>({3, 2}, {1, 2, 3, 4, 5, 6}));
  Output idx = constant(g, Tensor::from_vector<std::int32_t>({3}, {2, 0, 2}));
  Output rows = gather(params, idx);
  BOOST_TEST(rows.shape().to_string() == "(3, 2)");
  // axis -1 of (2, 3) with (2, 2) indices: out[o][i][j] = p[o][idx[i][j]], shape (2, 2, 2).
  Output p2 = constant(g, Tensor::from_vector<std::int64_t>({2, 3}, {1, 2, 3, 4, 5, 6}));
  Output idx2 = constant(g, Tensor::from_vector<std::int64_t>({2, 2}, {1, 0, 2, 2}));
  Output cols = gather(p2, idx2, -1);
  BOOST_TEST(cols.shape().to_string() == "(2, 2, 2)");
  Session s(g);
  BOOST_TEST(values<float>(s.run(rows)) == (std::vector<float>{5, 6, 1, 2, 5, 6}),
             tt::per_element());
  BOOST_TEST(
      values<std::int64_t>(s.run(cols)) == (std::vector<std::int64_t>{2, 1, 3, 3, 5, 4, 6, 6}),
      tt::per_element());
}

BOOST_AUTO_TEST_CASE(gather_unknown_batch_of_indices) {
  Graph g;
  Output table = constant(g, Tensor::from_vector<double>({4, 2}, {0, 1, 10, 11, 20, 21, 30, 31}));
  Output ids = placeholder(g, DType::int64, Shape{-1}, "ids");
  Output y = gather(table, ids, 0);
  BOOST_TEST(y.shape().to_string() == "(?, 2)");
  Session s(g);
  BOOST_TEST(values<double>(s.run(y, {{ids, Tensor::from_vector<std::int64_t>({2}, {3, 1})}})) ==
                 (std::vector<double>{30, 31, 10, 11}),
             tt::per_element());
  Tensor three = s.run(y, {{ids, Tensor::from_vector<std::int64_t>({3}, {0, 0, 2})}});
  BOOST_TEST(three.shape().to_string() == "(3, 2)");
  BOOST_TEST(values<double>(three) == (std::vector<double>{0, 1, 0, 1, 20, 21}), tt::per_element());
}

BOOST_AUTO_TEST_CASE(gather_out_of_range_index_is_an_error) {
  Graph g;
  Output params = constant(g, Tensor::from_vector<float>({3, 2}, {1, 2, 3, 4, 5, 6}));
  Output ids = placeholder(g, DType::int32, Shape{-1}, "ids");
  Output y = gather(params, ids, 0, "lookup");
  Session s(g);
  BOOST_CHECK_EXCEPTION(s.run(y, {{ids, Tensor::from_vector<std::int32_t>({2}, {1, 5})}}), RunError,
                        mentions_all({"lookup", "index 5", "[0, 3)"}));
  BOOST_CHECK_EXCEPTION(s.run(y, {{ids, Tensor::from_vector<std::int32_t>({1}, {-1})}}), RunError,
                        mentions_all({"lookup", "index -1", "[0, 3)"}));
  // The session still works with good indices afterwards.
  BOOST_TEST(values<float>(s.run(y, {{ids, Tensor::from_vector<std::int32_t>({1}, {2})}})) ==
                 (std::vector<float>{5, 6}),
             tt::per_element());
}

BOOST_AUTO_TEST_CASE(gather_rejects_bad_inputs) {
  Graph g;
  Output params = placeholder(g, DType::float32, Shape{3, 2}, "params");
  Output fidx = placeholder(g, DType::float32, Shape{2}, "fidx");
  Output idx = placeholder(g, DType::int32, Shape{2}, "idx");
  check_build_error(g, [&] { gather(params, fidx, 0, "bad_g"); },
                    {"node 'bad_g'", "(op gather)", "params: float32 (3, 2)", "fidx: float32 (2,)",
                     "int32 or int64"});
  check_build_error(g, [&] { gather(params, idx, 2, "bad_g"); },
                    {"node 'bad_g'", "(op gather)", "axis 2"});
  Output sc = placeholder(g, DType::float32, Shape{}, "sc");
  check_build_error(g, [&] { gather(sc, idx, 0, "bad_g"); },
                    {"node 'bad_g'", "(op gather)", "rank >= 1"});
}

// ---- one_hot ----

BOOST_AUTO_TEST_CASE(one_hot_values_and_out_of_range_rows) {
  Graph g;
  Output idx = constant(g, Tensor::from_vector<std::int32_t>({4}, {0, 2, -1, 3}));
  Output y = one_hot(idx, 3);
  BOOST_TEST(y.shape().to_string() == "(4, 3)");
  BOOST_TEST(dtype_name(y.dtype()) == dtype_name(DType::float32));
  Output idx64 = constant(g, Tensor::from_vector<std::int64_t>({2, 1}, {1, 0}));
  Output z = one_hot(idx64, 2, DType::int64, 5.0, -1.0);
  BOOST_TEST(z.shape().to_string() == "(2, 1, 2)");
  Session s(g);
  // Rows for -1 and 3 (outside [0, 3)) are all off.
  BOOST_TEST(values<float>(s.run(y)) == (std::vector<float>{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}),
             tt::per_element());
  BOOST_TEST(values<std::int64_t>(s.run(z)) == (std::vector<std::int64_t>{-1, 5, 5, -1}),
             tt::per_element());
}

BOOST_AUTO_TEST_CASE(one_hot_unknown_batch) {
  Graph g;
  Output idx = placeholder(g, DType::int64, Shape{-1}, "labels");
  Output y = one_hot(idx, 4, DType::float64);
  BOOST_TEST(y.shape().to_string() == "(?, 4)");
  Session s(g);
  BOOST_TEST(values<double>(s.run(y, {{idx, Tensor::from_vector<std::int64_t>({1}, {3})}})) ==
                 (std::vector<double>{0, 0, 0, 1}),
             tt::per_element());
  Tensor two = s.run(y, {{idx, Tensor::from_vector<std::int64_t>({2}, {1, 1})}});
  BOOST_TEST(two.shape().to_string() == "(2, 4)");
  BOOST_TEST(values<double>(two) == (std::vector<double>{0, 1, 0, 0, 0, 1, 0, 0}),
             tt::per_element());
}

BOOST_AUTO_TEST_CASE(one_hot_rejects_bad_inputs) {
  Graph g;
  Output f = placeholder(g, DType::float32, Shape{3}, "f");
  Output i = placeholder(g, DType::int32, Shape{3}, "i");
  check_build_error(g, [&] { one_hot(f, 4, DType::float32, 1.0, 0.0, "bad_o"); },
                    {"node 'bad_o'", "(op one_hot)", "f: float32 (3,)", "int32 or int64"});
  check_build_error(g, [&] { one_hot(i, -2, DType::float32, 1.0, 0.0, "bad_o"); },
                    {"node 'bad_o'", "(op one_hot)", "int32 (3,)", "depth"});
  check_build_error(g, [&] { one_hot(i, 2, DType::int32, 1e10, 0.0, "bad_o"); },
                    {"node 'bad_o'", "(op one_hot)", "on_value"});
  check_build_error(
      g, [&] { one_hot(i, 2, DType::int64, 1.0, 0.5, "bad_o"); },
      {"node 'bad_o'", "(op one_hot)", "off_value", "0.5 is not representable in int64"});
}

// ---- pad ----

BOOST_AUTO_TEST_CASE(pad_values) {
  Graph g;
  Output x = constant(g, Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6}));
  Output y = pad(x, {1, 0}, {0, 2});
  BOOST_TEST(y.shape().to_string() == "(3, 5)");
  Output v = pad(constant(g, Tensor::from_vector<std::int32_t>({2}, {7, 8})), {2}, {1});
  Output same = pad(constant(g, Tensor::scalar<double>(5.0)), {}, {});
  Session s(g);
  BOOST_TEST(values<float>(s.run(y)) == (std::vector<float>{0, 0, 0, 0, 0,  //
                                                            1, 2, 3, 0, 0,  //
                                                            4, 5, 6, 0, 0}),
             tt::per_element());
  BOOST_TEST(values<std::int32_t>(s.run(v)) == (std::vector<std::int32_t>{0, 0, 7, 8, 0}),
             tt::per_element());
  BOOST_TEST(s.run(same).item<double>() == 5.0);
}

BOOST_AUTO_TEST_CASE(pad_unknown_batch_reuses_buffers) {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{-1, 2}, "x");
  Output y = pad(x, {1, 1}, {0, 1});
  BOOST_TEST(y.shape().to_string() == "(?, 4)");
  Session s(g);
  Tensor one = s.run(y, {{x, Tensor::from_vector<double>({1, 2}, {3, 4})}});
  BOOST_TEST(one.shape().to_string() == "(2, 4)");
  BOOST_TEST(values<double>(one) == (std::vector<double>{0, 0, 0, 0, 0, 3, 4, 0}),
             tt::per_element());
  // Twice with the same shape: the reused output buffer must be zeroed again.
  for (int run = 0; run < 2; ++run) {
    Tensor two = s.run(y, {{x, Tensor::from_vector<double>({2, 2}, {1, 2, 3, 4})}});
    BOOST_TEST(values<double>(two) == (std::vector<double>{0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0}),
               tt::per_element());
  }
}

BOOST_AUTO_TEST_CASE(pad_rejects_bad_amounts) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{2, 3}, "x");
  check_build_error(g,
                    [&] {
                      pad(x, {1}, {0, 0}, "bad_p");
                    },
                    {"node 'bad_p'", "(op pad)", "x: float32 (2, 3)", "one entry per axis"});
  check_build_error(g,
                    [&] {
                      pad(x, {0, -1}, {0, 0}, "bad_p");
                    },
                    {"node 'bad_p'", "(op pad)", "must be >= 0"});
  Output deep = placeholder(g, DType::float32, Shape{1, 1, 1, 1, 1, 1, 1, 1, 1}, "deep");
  check_build_error(g, [&] { pad(deep, Ints(9, 0), Ints(9, 0), "bad_p"); },
                    {"(op pad)", "rank up to 8"});
}

// ---- scatter_add ----

BOOST_AUTO_TEST_CASE(scatter_add_accumulates_repeated_rows) {
  Graph g;
  Output updates = constant(g, Tensor::from_vector<float>({3, 2}, {1, 2, 3, 4, 5, 6}));
  Output idx = constant(g, Tensor::from_vector<std::int64_t>({3}, {2, 0, 2}));
  Output like = constant(g, Tensor(DType::float32, Shape{4, 2}));
  Output y = scatter_add(updates, idx, like);
  BOOST_TEST(y.shape().to_string() == "(4, 2)");
  // Along axis 1 with int32 indices and int64 values: out[o][1] = u[o][0] + u[o][1].
  Output u2 = constant(g, Tensor::from_vector<std::int64_t>({2, 2}, {1, 2, 3, 4}));
  Output idx2 = constant(g, Tensor::from_vector<std::int32_t>({2}, {1, 1}));
  Output cols = scatter_add(u2, idx2, constant(g, Tensor(DType::int64, Shape{2, 3})), -1);
  Session s(g);
  for (int run = 0; run < 2; ++run)  // the reused output buffer starts from zeros every run
    BOOST_TEST(values<float>(s.run(y)) == (std::vector<float>{3, 4, 0, 0, 6, 8, 0, 0}),
               tt::per_element());
  BOOST_TEST(values<std::int64_t>(s.run(cols)) == (std::vector<std::int64_t>{0, 3, 0, 0, 7, 0}),
             tt::per_element());
}

BOOST_AUTO_TEST_CASE(scatter_add_unknown_batch) {
  Graph g;
  Output like = placeholder(g, DType::float32, Shape{-1, 3}, "like");
  Output updates = placeholder(g, DType::float32, Shape{-1, 2}, "updates");
  Output idx = constant(g, Tensor::from_vector<std::int64_t>({2}, {2, 0}));
  Output y = scatter_add(updates, idx, like, 1);
  BOOST_TEST(y.shape().to_string() == "(?, 3)");
  Session s(g);
  Tensor out = s.run(y, {{like, Tensor(DType::float32, Shape{2, 3})},
                         {updates, Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4})}});
  BOOST_TEST(out.shape().to_string() == "(2, 3)");
  BOOST_TEST(values<float>(out) == (std::vector<float>{2, 0, 1, 4, 0, 3}), tt::per_element());
}

BOOST_AUTO_TEST_CASE(scatter_add_out_of_range_index_is_an_error) {
  Graph g;
  Output ids = placeholder(g, DType::int64, Shape{-1}, "ids");
  Output updates = placeholder(g, DType::float32, Shape{-1}, "updates");
  Output y = scatter_add(updates, ids, constant(g, Tensor(DType::float32, Shape{4})), 0, "scatter");
  Session s(g);
  BOOST_CHECK_EXCEPTION(s.run(y, {{ids, Tensor::from_vector<std::int64_t>({2}, {1, 4})},
                                  {updates, Tensor::from_vector<float>({2}, {1, 1})}}),
                        RunError, mentions_all({"scatter", "index 4", "[0, 4)"}));
}

BOOST_AUTO_TEST_CASE(scatter_add_rejects_bad_inputs) {
  Graph g;
  Output like = placeholder(g, DType::float32, Shape{4, 2}, "like");
  Output idx = placeholder(g, DType::int32, Shape{3}, "idx");
  Output fidx = placeholder(g, DType::float32, Shape{3}, "fidx");
  Output good = placeholder(g, DType::float32, Shape{3, 2}, "good");
  Output wrong = placeholder(g, DType::float32, Shape{2, 2}, "wrong");
  Output flags = placeholder(g, DType::boolean, Shape{3, 2}, "flags");
  check_build_error(g, [&] { scatter_add(wrong, idx, like, 0, "bad_s"); },
                    {"node 'bad_s'", "(op scatter_add)", "wrong: float32 (2, 2)", "(3, 2)"});
  check_build_error(g, [&] { scatter_add(good, fidx, like, 0, "bad_s"); },
                    {"(op scatter_add)", "int32 or int64"});
  check_build_error(g, [&] { scatter_add(flags, idx, like, 0, "bad_s"); },
                    {"(op scatter_add)", "bool"});
  check_build_error(g, [&] { scatter_add(good, idx, like, 2, "bad_s"); },
                    {"(op scatter_add)", "axis 2"});
}

// ---- gradient rules: values and their own errors ----

BOOST_AUTO_TEST_CASE(gather_gradient_adds_repeated_rows) {
  Graph g;
  Output p = placeholder(g, DType::float64, Shape{3, 2}, "p");
  Output idx = constant(g, Tensor::from_vector<std::int64_t>({3}, {0, 2, 2}));
  Output dp = gradients(sum(gather(p, idx)), {p})[0];
  Session s(g);
  BOOST_TEST(values<double>(s.run(dp, {{p, Tensor(DType::float64, Shape{3, 2})}})) ==
                 (std::vector<double>{1, 1, 0, 0, 2, 2}),
             tt::per_element());
}

BOOST_AUTO_TEST_CASE(slice_gradient_pads_with_zeros) {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{-1, 3}, "x");
  Output y = slice(x, {1, 1}, {-1, 2});
  Output w = constant(g, Tensor::from_vector<double>({1, 2}, {10, 20}));
  Output dx = gradients(sum(y * w), {x})[0];
  Session s(g);
  Tensor out = s.run(dx, {{x, Tensor(DType::float64, Shape{3, 3})}});
  BOOST_TEST(out.shape().to_string() == "(3, 3)");
  BOOST_TEST(values<double>(out) == (std::vector<double>{0, 0, 0, 0, 10, 20, 0, 10, 20}),
             tt::per_element());
}

// A slice that ends inside an axis of unknown size: the zeros after it get their size at run
// time (the rule joins zeros shaped like the rest of x).
BOOST_AUTO_TEST_CASE(slice_gradient_inside_an_unknown_axis) {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{-1, 4}, "x");
  Output w = constant(g, Tensor::from_vector<double>({1, 2}, {10, 20}));
  Output dx = gradients(sum(slice(x, {0, 1}, {2, 2}) * w), {x})[0];
  Session s(g);
  Tensor out = s.run(dx, {{x, Tensor(DType::float64, Shape{3, 4})}});
  BOOST_TEST(out.shape().to_string() == "(3, 4)");
  BOOST_TEST(values<double>(out) == (std::vector<double>{0, 10, 20, 0, 0, 10, 20, 0, 0, 0, 0, 0}),
             tt::per_element());
}

// The gradient rules throw GraphError (naming the forward node) where a static amount they need
// is unknown at build time.
BOOST_AUTO_TEST_CASE(gradients_needing_unknown_sizes_are_clear_errors) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 4}, "x");
  Output padded = pad(x, {0, 0}, {1, 0}, "padded");
  BOOST_CHECK_EXCEPTION(gradients(sum(padded), {x}), GraphError,
                        mentions_all({"padded", "(op pad", "unknown"}));
  Output rows = placeholder(g, DType::float32, Shape{2, 4}, "rows");
  Output joined = concat({x, rows}, 0, "joined");
  BOOST_CHECK_EXCEPTION(gradients(sum(joined), {x}), GraphError,
                        mentions_all({"joined", "(op concat", "input 0", "concatenation axis 0"}));
  // Known offsets work: the unknown input comes last, or the unknown axis is not the one joined.
  BOOST_CHECK_NO_THROW(gradients(sum(concat({rows, x}, 0)), {x}));
  BOOST_CHECK_NO_THROW(gradients(sum(slice(x, {1, 0}, {-1, 2})), {x}));
}

BOOST_AUTO_TEST_SUITE_END()

// ---- sizes that overflow int64 ----
// Regression: these wrapped. pad of 2^63-1 gave a 1-element output the kernel overran (heap
// corruption), slice [1, 1 + 2^63-1) passed the bounds check as a negative end and segfaulted
// when run. Each is now a ShapeError at build time naming node, op and input shapes.

constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();

BOOST_AUTO_TEST_CASE(pad_whose_size_overflows_is_a_build_error) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{2}, "x");
  // 2^63-1 + 2 wraps to -2^63 + 1; the total of before and after alone can overflow too.
  check_build_error(g, [&] { pad(x, {kInt64Max}, {0}, "huge_pad"); },
                    {"node 'huge_pad'", "(op pad)", "x: float32 (2,)", "overflows an int64"});
  check_build_error(g, [&] { pad(x, {kInt64Max}, {kInt64Max}, "huge_pad"); },
                    {"node 'huge_pad'", "(op pad)", "overflows an int64"});
  // Along an unknown dimension, before + after still must fit.
  Output batch = placeholder(g, DType::float32, Shape{-1}, "batch");
  check_build_error(g, [&] { pad(batch, {kInt64Max}, {1}, "huge_pad"); },
                    {"node 'huge_pad'", "(op pad)", "overflows an int64"});
  // In range as a count, but more bytes than an int64 holds: 2^62 float32 elements.
  check_build_error(g, [&] { pad(x, {(std::int64_t{1} << 62) - 2}, {0}, "huge_pad"); },
                    {"node 'huge_pad'", "(op pad)", "output 0", "float32 (4611686018427387904,)",
                     "more bytes than an int64 can count"});
}

BOOST_AUTO_TEST_CASE(slice_whose_end_overflows_is_a_build_error) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{4}, "x");
  check_build_error(g, [&] { slice(x, {1}, {kInt64Max}, "huge_slice"); },
                    {"node 'huge_slice'", "(op slice)", "x: float32 (4,)", "overflows an int64"});
  // With an unknown dimension the bounds are checked at run time, the end at build time.
  Output batch = placeholder(g, DType::float32, Shape{-1}, "batch");
  check_build_error(g, [&] { slice(batch, {1}, {kInt64Max}, "huge_slice"); },
                    {"node 'huge_slice'", "(op slice)", "overflows an int64"});
}

BOOST_AUTO_TEST_CASE(concat_whose_size_overflows_is_a_build_error) {
  Graph g;
  const std::int64_t half = std::int64_t{1} << 62;  // 2^62 + 2^62 = 2^63 overflows
  Output a = fill(g, Shape{half}, 0.0, DType::boolean, "a");
  Output b = fill(g, Shape{half}, 0.0, DType::boolean, "b");
  check_build_error(
      g,
      [&] {
        concat({a, b}, 0, "huge_concat");
      },
      {"node 'huge_concat'", "(op concat)", "bool (4611686018427387904,)", "overflows an int64"});
}

BOOST_AUTO_TEST_CASE(one_hot_whose_size_overflows_is_a_build_error) {
  Graph g;
  Output indices = placeholder(g, DType::int32, Shape{4}, "indices");
  // 4 * 2^62 elements overflow the count; 2^61 float32 rows of 4 overflow the bytes.
  check_build_error(
      g, [&] { one_hot(indices, std::int64_t{1} << 62, DType::float32, 1.0, 0.0, "huge_oh"); },
      {"node 'huge_oh'", "(op one_hot)", "int32 (4,)", "more elements than an int64"});
  check_build_error(
      g, [&] { one_hot(indices, std::int64_t{1} << 60, DType::float64, 1.0, 0.0, "huge_oh"); },
      {"node 'huge_oh'", "(op one_hot)", "more bytes than an int64 can count"});
}
