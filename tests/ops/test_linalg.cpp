// matmul: 2-D and batched products with every transpose flag, against hand-computed products
// and an independent triple loop; unknown dimensions; build- and run-time shape errors; the
// same values whatever the thread count, small products on one BLAS thread.
#include <array>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "common/threads.hpp"
#include "dagrad/dagrad.hpp"
#include "ops/op_test_util.hpp"

using namespace dagrad;
using namespace dagrad::testing;
namespace tt = boost::test_tools;

namespace {

template <class T>
Output matrix(Graph& g, Shape shape, std::vector<T> v, const char* name = "") {
  return constant(g, Tensor::from_vector<T>(std::move(shape), v), name);
}

// A = [[1, 2, 3], [4, 5, 6]], B = [[7, 8], [9, 10], [11, 12]];
// AB = [[1*7 + 2*9 + 3*11, 1*8 + 2*10 + 3*12], [4*7 + 5*9 + 6*11, 4*8 + 5*10 + 6*12]].
const std::vector<double> kAB = {58, 64, 139, 154};

}  // namespace

BOOST_AUTO_TEST_SUITE(linalg)

BOOST_AUTO_TEST_CASE(matmul_2d) {
  Graph g;
  Output a = matrix<float>(g, {2, 3}, {1, 2, 3, 4, 5, 6});
  Output b = matrix<float>(g, {3, 2}, {7, 8, 9, 10, 11, 12});
  Output y = matmul(a, b);
  BOOST_TEST(y.shape().to_string() == "(2, 2)");
  BOOST_TEST((y.dtype() == DType::float32));
  Session s(g);
  BOOST_TEST(values(s.run(y)) == kAB, tt::per_element());
}

BOOST_AUTO_TEST_CASE(matmul_transpose_flags) {
  // The same product A B, with A and/or B stored transposed.
  Graph g;
  Output a = matrix<float>(g, {2, 3}, {1, 2, 3, 4, 5, 6});
  Output a_t = matrix<float>(g, {3, 2}, {1, 4, 2, 5, 3, 6});
  Output b = matrix<float>(g, {3, 2}, {7, 8, 9, 10, 11, 12});
  Output b_t = matrix<float>(g, {2, 3}, {7, 9, 11, 8, 10, 12});
  Output ta = matmul(a_t, b, true, false);
  Output tb = matmul(a, b_t, false, true);
  Output both = matmul(a_t, b_t, true, true);
  BOOST_TEST(ta.shape().to_string() == "(2, 2)");
  BOOST_TEST(tb.shape().to_string() == "(2, 2)");
  BOOST_TEST(both.shape().to_string() == "(2, 2)");
  Session s(g);
  auto out = s.run({ta, tb, both});
  for (const Tensor& t : out) BOOST_TEST(values(t) == kAB, tt::per_element());
}

BOOST_AUTO_TEST_CASE(matmul_transpose_changes_the_shape) {
  Graph g;
  Output a = matrix<double>(g, {2, 3}, {1, 2, 3, 4, 5, 6});
  Output gram_rows = matmul(a, a, false, true);  // A A^T: (2, 2)
  Output gram_cols = matmul(a, a, true, false);  // A^T A: (3, 3)
  BOOST_TEST(gram_rows.shape().to_string() == "(2, 2)");
  BOOST_TEST(gram_cols.shape().to_string() == "(3, 3)");
  Session s(g);
  auto out = s.run({gram_rows, gram_cols});
  // (A A^T)_ij = row_i . row_j; (A^T A)_ij = col_i . col_j
  BOOST_TEST(values(out[0]) == std::vector<double>({14, 32, 32, 77}), tt::per_element());
  BOOST_TEST(values(out[1]) == std::vector<double>({17, 22, 27, 22, 29, 36, 27, 36, 45}),
             tt::per_element());
}

BOOST_AUTO_TEST_CASE(matmul_against_triple_loop_all_flags) {
  // Odd sizes (not multiples of any SIMD width), float64, compared with sum_p a_ip b_pj.
  const int m = 17, k = 33, n = 9;
  std::vector<double> av(m * k), bv(k * n);
  for (int i = 0; i < m * k; ++i) av[i] = std::sin(0.37 * i) + 0.01 * i;
  for (int i = 0; i < k * n; ++i) bv[i] = std::cos(0.11 * i) - 0.02 * i;
  std::vector<double> expected(m * n, 0.0);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j)
      for (int p = 0; p < k; ++p) expected[i * n + j] += av[i * k + p] * bv[p * n + j];
  std::vector<double> at(k * m), bt(n * k);  // stored transposes
  for (int i = 0; i < m; ++i)
    for (int p = 0; p < k; ++p) at[p * m + i] = av[i * k + p];
  for (int p = 0; p < k; ++p)
    for (int j = 0; j < n; ++j) bt[j * k + p] = bv[p * n + j];
  Graph g;
  Output a = matrix<double>(g, {m, k}, av), a_t = matrix<double>(g, {k, m}, at);
  Output b = matrix<double>(g, {k, n}, bv), b_t = matrix<double>(g, {n, k}, bt);
  Session s(g);
  auto out = s.run({matmul(a, b), matmul(a_t, b, true, false), matmul(a, b_t, false, true),
                    matmul(a_t, b_t, true, true)});
  for (const Tensor& t : out) {
    BOOST_TEST(t.shape().to_string() == "(17, 9)");
    BOOST_TEST(values(t) == expected, tt::tolerance(1e-12) << tt::per_element());
  }
}

BOOST_AUTO_TEST_CASE(matmul_float32_against_triple_loop_all_flags) {
  // float32 products of two rows or more go through oneDNN when the build has it, others
  // through OpenBLAS: both against the float64 triple loop, odd sizes, every flag, and a row
  // count (2) and a width (1) at the edges.
  for (auto [m, k, n] : {std::array<int, 3>{17, 33, 9}, {2, 65, 1}, {41, 7, 130}}) {
    std::vector<float> av(static_cast<std::size_t>(m * k)), bv(static_cast<std::size_t>(k * n));
    for (int i = 0; i < m * k; ++i) av[i] = static_cast<float>(std::sin(0.37 * i) + 0.01 * i);
    for (int i = 0; i < k * n; ++i) bv[i] = static_cast<float>(std::cos(0.11 * i) - 0.02 * i);
    std::vector<double> expected(static_cast<std::size_t>(m * n), 0.0);
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j)
        for (int p = 0; p < k; ++p)
          expected[i * n + j] += double(av[i * k + p]) * double(bv[p * n + j]);
    std::vector<float> at(av.size()), bt(bv.size());
    for (int i = 0; i < m; ++i)
      for (int p = 0; p < k; ++p) at[p * m + i] = av[i * k + p];
    for (int p = 0; p < k; ++p)
      for (int j = 0; j < n; ++j) bt[j * k + p] = bv[p * n + j];
    Graph g;
    Output a = matrix<float>(g, {m, k}, av), a_t = matrix<float>(g, {k, m}, at);
    Output b = matrix<float>(g, {k, n}, bv), b_t = matrix<float>(g, {n, k}, bt);
    Session s(g);
    auto out = s.run({matmul(a, b), matmul(a_t, b, true, false), matmul(a, b_t, false, true),
                      matmul(a_t, b_t, true, true)});
    for (const Tensor& t : out) {
      BOOST_TEST(t.shape().to_string() ==
                 "(" + std::to_string(m) + ", " + std::to_string(n) + ")");
      // float32 rounding of k products and sums: well under k * 2^-24 of the magnitudes.
      std::vector<double> got = values(t);
      for (std::size_t i = 0; i < got.size(); ++i)
        BOOST_TEST(std::abs(got[i] - expected[i]) <= 1e-5 * (std::abs(expected[i]) + k),
                   "element " << i << " of " << m << "x" << k << "x" << n << ": " << got[i]
                              << " against " << expected[i]);
    }
  }
}

BOOST_AUTO_TEST_CASE(matmul_batched) {
  Graph g;
  // a[0] = [[1, 2], [3, 4]], a[1] = [[5, 6], [7, 8]]; b[0] = I,
  // b[1] = [[0, 1], [1, 0]] (swaps columns)
  Output a = matrix<float>(g, {2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  Output b = matrix<float>(g, {2, 2, 2}, {1, 0, 0, 1, 0, 1, 1, 0});
  Output y = matmul(a, b);
  Output y_ta = matmul(a, b, true, false);
  BOOST_TEST(y.shape().to_string() == "(2, 2, 2)");
  Session s(g);
  auto out = s.run({y, y_ta});
  BOOST_TEST(values(out[0]) == std::vector<double>({1, 2, 3, 4, 6, 5, 8, 7}), tt::per_element());
  // a[0]^T = [[1, 3], [2, 4]]; a[1]^T = [[5, 7], [6, 8]], columns swapped: [[7, 5], [8, 6]]
  BOOST_TEST(values(out[1]) == std::vector<double>({1, 3, 2, 4, 7, 5, 8, 6}), tt::per_element());
}

BOOST_AUTO_TEST_CASE(matmul_batched_rank4) {
  Graph g;
  // Batch dims (2, 1): two products of a 2x2 by a 2x1 matrix.
  Output a = matrix<double>(g, {2, 1, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  Output b = matrix<double>(g, {2, 1, 2, 1}, {1, 1, 2, -1});
  Output y = matmul(a, b);
  BOOST_TEST(y.shape().to_string() == "(2, 1, 2, 1)");
  Session s(g);
  // [[1, 2], [3, 4]] [1, 1]^T = [3, 7]; [[5, 6], [7, 8]] [2, -1]^T = [4, 6]
  BOOST_TEST(values(s.run(y)) == std::vector<double>({3, 7, 4, 6}), tt::per_element());
}

BOOST_AUTO_TEST_CASE(matmul_batch_times_single_matrix) {
  Graph g;
  Output a = matrix<float>(g, {2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  Output w = matrix<float>(g, {2, 2}, {1, 1, 0, 2});  // [[1, 1], [0, 2]]
  Output y = matmul(a, w);
  Output y_tb = matmul(a, w, false, true);  // w^T = [[1, 0], [1, 2]]
  Output y_ta = matmul(a, w, true, false);
  Output w_first = matmul(w, a);  // w broadcast over a's batch, on the left
  BOOST_TEST(y.shape().to_string() == "(2, 2, 2)");
  BOOST_TEST(w_first.shape().to_string() == "(2, 2, 2)");
  Session s(g);
  auto out = s.run({y, y_tb, y_ta, w_first});
  BOOST_TEST(values(out[0]) == std::vector<double>({1, 5, 3, 11, 5, 17, 7, 23}), tt::per_element());
  BOOST_TEST(values(out[1]) == std::vector<double>({3, 4, 7, 8, 11, 12, 15, 16}),
             tt::per_element());
  // a[0]^T w = [[1, 3], [2, 4]] w; a[1]^T w = [[5, 7], [6, 8]] w
  BOOST_TEST(values(out[2]) == std::vector<double>({1, 7, 2, 10, 5, 19, 6, 22}), tt::per_element());
  // w a[0] = [[1 + 3, 2 + 4], [6, 8]]; w a[1] = [[5 + 7, 6 + 8], [14, 16]]
  BOOST_TEST(values(out[3]) == std::vector<double>({4, 6, 6, 8, 12, 14, 14, 16}),
             tt::per_element());
}

BOOST_AUTO_TEST_CASE(matmul_unknown_batch_dimension) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 3}, "x");
  Output w = matrix<float>(g, {3, 2}, {7, 8, 9, 10, 11, 12});
  Output y = matmul(x, w);
  Output xs = placeholder(g, DType::float32, Shape{-1, 2, 3}, "xs");
  Output ys = matmul(xs, w);
  BOOST_TEST(y.shape().to_string() == "(?, 2)");
  BOOST_TEST(ys.shape().to_string() == "(?, 2, 2)");
  Session s(g);
  Tensor one = s.run(y, {{x, Tensor::from_vector<float>({1, 3}, {1, 2, 3})}});
  BOOST_TEST(one.shape().to_string() == "(1, 2)");
  BOOST_TEST(values(one) == std::vector<double>({58, 64}), tt::per_element());
  Tensor two = s.run(y, {{x, Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6})}});
  BOOST_TEST(values(two) == kAB, tt::per_element());
  // Three matrices: A, A with rows swapped, and zeros.
  Tensor batch =
      s.run(ys, {{xs, Tensor::from_vector<float>(
                          {3, 2, 3}, {1, 2, 3, 4, 5, 6, 4, 5, 6, 1, 2, 3, 0, 0, 0, 0, 0, 0})}});
  BOOST_TEST(batch.shape().to_string() == "(3, 2, 2)");
  BOOST_TEST(values(batch) == std::vector<double>({58, 64, 139, 154, 139, 154, 58, 64, 0, 0, 0, 0}),
             tt::per_element());
}

BOOST_AUTO_TEST_CASE(matmul_unknown_inner_and_batch_dims) {
  Graph g;
  Output a = placeholder(g, DType::float64, Shape{-1, 2, -1}, "a");
  Output b = placeholder(g, DType::float64, Shape{3, -1, 4}, "b");
  Output y = matmul(a, b);
  BOOST_TEST(y.shape().to_string() == "(3, 2, 4)");  // the known batch dim wins
  Output c = placeholder(g, DType::float64, Shape{-1, -1}, "c");
  BOOST_TEST(matmul(c, c, true, false).shape().to_string() == "(?, ?)");
}

BOOST_AUTO_TEST_CASE(matmul_empty_inner_dimension_gives_zeros) {
  Graph g;
  Output a = placeholder(g, DType::float32, Shape{2, -1}, "a");
  Output b = placeholder(g, DType::float32, Shape{-1, 3}, "b");
  Output y = matmul(a, b);
  Session s(g);
  // A sum over no terms: (2, 0) x (0, 3) = zeros (2, 3).
  Tensor out = s.run(
      y, {{a, Tensor(DType::float32, Shape{2, 0})}, {b, Tensor(DType::float32, Shape{0, 3})}});
  BOOST_TEST(out.shape().to_string() == "(2, 3)");
  BOOST_TEST(values(out) == std::vector<double>(6, 0.0), tt::per_element());
}

BOOST_AUTO_TEST_CASE(matmul_shape_errors_at_build_time) {
  Graph g;
  Output a = matrix<float>(g, {2, 3}, {1, 2, 3, 4, 5, 6}, "a");
  Output c = constant(g, Tensor(DType::float32, Shape{4, 5}), "c");
  Output v = constant(g, Tensor(DType::float32, Shape{3}), "v");
  Output d = constant(g, Tensor(DType::float64, Shape{3, 2}), "d");
  Output batch3 = constant(g, Tensor(DType::float32, Shape{2, 3, 3}), "batch3");
  Output batch4 = constant(g, Tensor(DType::float32, Shape{4, 3, 2}), "batch4");
  Output rank4 = constant(g, Tensor(DType::float32, Shape{1, 2, 3, 2}), "rank4");
  Output ints = constant(g, Tensor(DType::int32, Shape{3, 3}), "ints");
  int before = g.num_nodes();
  BOOST_CHECK_EXCEPTION(
      matmul(a, c, false, false, "product"), ShapeError,
      mentions_all({"'product'", "op matmul", "(2, 3)", "(4, 5)", "inner dimensions"}));
  // With transpose_a, a is (3, 2): its 2 columns do not meet c's 4 rows.
  BOOST_CHECK_EXCEPTION(matmul(a, c, true, false, "product_t"), ShapeError,
                        mentions_all({"'product_t'", "op matmul", "(2, 3) transposed", "(4, 5)"}));
  BOOST_CHECK_EXCEPTION(
      matmul(v, a, false, false, "vector_product"), ShapeError,
      mentions_all({"'vector_product'", "op matmul", "(3,)", "(2, 3)", "rank 2"}));
  BOOST_CHECK_EXCEPTION(
      matmul(a, d, false, false, "mixed"), ShapeError,
      mentions_all({"'mixed'", "op matmul", "float32 (2, 3)", "float64 (3, 2)", "same dtype"}));
  BOOST_CHECK_EXCEPTION(matmul(batch3, batch4, false, false, "batches"), ShapeError,
                        mentions_all({"'batches'", "op matmul", "(2, 3, 3)", "(4, 3, 2)",
                                      "batch dimensions differ"}));
  BOOST_CHECK_EXCEPTION(
      matmul(batch3, rank4, false, false, "ranks"), ShapeError,
      mentions_all({"'ranks'", "op matmul", "(2, 3, 3)", "(1, 2, 3, 2)", "batch ranks differ"}));
  BOOST_CHECK_EXCEPTION(matmul(ints, ints, false, false, "int_product"), ShapeError,
                        mentions_all({"'int_product'", "op matmul", "int32 (3, 3)"}));
  BOOST_TEST(g.num_nodes() == before);
}

BOOST_AUTO_TEST_CASE(matmul_shape_error_at_run_time) {
  Graph g;
  Output a = placeholder(g, DType::float32, Shape{2, -1}, "a");
  Output b = matrix<float>(g, {3, 2}, {7, 8, 9, 10, 11, 12});
  Output y = matmul(a, b, false, false, "late");
  Session s(g);
  BOOST_CHECK_EXCEPTION(s.run(y, {{a, Tensor(DType::float32, Shape{2, 4})}}), ShapeError,
                        mentions_all({"'late'", "(2, 4)", "(3, 2)", "inner dimensions"}));
}

// The gradient of a matrix shared across a batch (a dense layer over a sequence) is one product
// over the batch folded into rows, not a batch of products summed afterwards.
BOOST_AUTO_TEST_CASE(gradient_of_a_broadcast_matrix_is_one_product) {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{-1, 2, 2}, "x");
  Output w = constant(g, Tensor::from_vector<double>({2, 1}, {1, 1}), "w");
  Output y = matmul(x, w);
  Output dw = gradients(sum(y), {w})[0];
  BOOST_TEST(dw.shape().to_string() == "(2, 1)");
  bool summed = false;
  for (const Node& n : g.nodes()) summed = summed || (n.backward && n.op->name == "sum_to");
  BOOST_TEST(!summed);
  BOOST_TEST(dw.producer().op->name == "matmul");
  BOOST_TEST(dw.producer().output_shapes[0].to_string() == "(2, 1)");
  // dW = sum over the batch and rows of x^T: column sums of x seen as (batch*2, 2) rows.
  Session s(g);
  Tensor out = s.run(dw, {{x, Tensor::from_vector<double>({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8})}});
  BOOST_TEST(values(out) == (std::vector<double>{16, 20}), tt::per_element());
}

namespace {

struct Product {
  Shape a, b;
  bool ta, tb;
  std::int64_t m, n, k;  // of one product; a rank-3 `a` holds a.dims()[0] of them
};

// y = op(A) op(B) in float64 from the float32 inputs, and for each element the error bound of
// any float32 summation order: (k + 2) * 2^-24 * sum |op(A)_ip op(B)_pj|.
void reference(const Product& p, const std::vector<float>& a, const std::vector<float>& b,
               std::vector<double>& y, std::vector<double>& bound) {
  std::int64_t batch = p.a.rank() == 3 ? p.a[0] : 1;
  y.assign(static_cast<std::size_t>(batch * p.m * p.n), 0.0);
  bound.assign(y.size(), 0.0);
  for (std::int64_t s = 0; s < batch; ++s)
    for (std::int64_t i = 0; i < p.m; ++i)
      for (std::int64_t j = 0; j < p.n; ++j) {
        double sum = 0, abs_sum = 0;
        for (std::int64_t q = 0; q < p.k; ++q) {
          double x =
              a[static_cast<std::size_t>(s * p.m * p.k + (p.ta ? q * p.m + i : i * p.k + q))];
          double w = b[static_cast<std::size_t>(p.tb ? j * p.k + q : q * p.n + j)];
          sum += x * w;
          abs_sum += std::abs(x * w);
        }
        auto at = static_cast<std::size_t>(s * p.m * p.n + i * p.n + j);
        y[at] = sum;
        bound[at] = static_cast<double>(p.k + 2) * std::ldexp(1.0, -24) * abs_sum;
      }
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(matmul_values_do_not_depend_on_the_thread_count, RestoreThreads) {
  // The chapter MLP's shapes at batch 1, 32 (one BLAS thread) and 256 (the configured count),
  // each transpose flag, and a batch folded into one product.
  const Product products[] = {
      {Shape{32, 784}, Shape{784, 300}, false, false, 32, 300, 784},
      {Shape{256, 784}, Shape{784, 300}, false, false, 256, 300, 784},
      {Shape{256, 784}, Shape{256, 300}, true, false, 784, 300, 256},
      {Shape{256, 300}, Shape{784, 300}, false, true, 256, 784, 300},
      {Shape{2, 128, 784}, Shape{784, 300}, false, false, 128, 300, 784},
      // Single rows (the gemv path), from a row and from a column, times B and B^T.
      {Shape{1, 784}, Shape{784, 300}, false, false, 1, 300, 784},
      {Shape{784, 1}, Shape{784, 300}, true, false, 1, 300, 784},
      {Shape{1, 300}, Shape{100, 300}, false, true, 1, 100, 300},
      {Shape{300, 1}, Shape{100, 300}, true, true, 1, 100, 300},
      {Shape{1, 100}, Shape{100, 10}, false, false, 1, 10, 100},
  };
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (const Product& p : products) {
    BOOST_TEST_CONTEXT("a " << p.a.to_string() << (p.ta ? " transposed" : "") << ", b "
                            << p.b.to_string() << (p.tb ? " transposed" : "")) {
      std::vector<float> a(static_cast<std::size_t>(p.a.num_elements()));
      std::vector<float> b(static_cast<std::size_t>(p.b.num_elements()));
      for (float& x : a) x = u(rng);
      for (float& x : b) x = u(rng);
      std::vector<double> want, bound;
      reference(p, a, b, want, bound);
      Graph g;
      Output y = matmul(matrix<float>(g, p.a, a), matrix<float>(g, p.b, b), p.ta, p.tb);
      Session s(g);
      std::vector<float> first;
      for (int threads : {1, 2, 3}) {
        set_num_threads(threads);
        std::vector<float> got = values<float>(s.run(y));
        BOOST_REQUIRE(got.size() == want.size());
        std::size_t bad = 0;
        for (std::size_t i = 0; i < got.size(); ++i)
          if (!(std::abs(got[i] - want[i]) <= bound[i])) ++bad;
        BOOST_TEST(bad == 0u, bad << " elements outside the float32 error bound with " << threads
                                  << " threads");
        if (first.empty())
          first = got;
        else
          BOOST_TEST(got == first, "results differ between 1 and " << threads << " threads");
      }
    }
  }
}

BOOST_FIXTURE_TEST_CASE(small_products_run_on_one_blas_thread, RestoreThreads) {
  BOOST_REQUIRE(blas_threads_settable());
  Graph g;
  // 32 x 300 x 784 = 7.5e6 multiply-adds, below the threshold; 256 x 300 x 784 = 6.0e7 above.
  Output small = matmul(matrix<float>(g, {32, 784}, std::vector<float>(32 * 784, 1.0f)),
                        matrix<float>(g, {784, 300}, std::vector<float>(784 * 300, 1.0f)));
  Output large = matmul(matrix<float>(g, {256, 784}, std::vector<float>(256 * 784, 1.0f)),
                        matrix<float>(g, {784, 300}, std::vector<float>(784 * 300, 1.0f)));
  Session s(g);
  set_num_threads(2);
  BOOST_TEST(values(s.run(small))[0] == 784.0);
  BOOST_TEST(openblas_threads() == 1);
  BOOST_TEST(num_threads() == 2);  // the setting itself is unchanged
  BOOST_TEST(values(s.run(large))[0] == 784.0);
  BOOST_TEST(openblas_threads() == 2);
}

BOOST_AUTO_TEST_SUITE_END()
