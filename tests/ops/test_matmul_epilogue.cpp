// Tests of matmul_epilogue (ops/matmul_epilogue.cpp): the node gives exactly the bits of matmul
// followed by fused_elementwise run as two nodes (float32 and float64, every transpose, a
// broadcast bias row and column, a single row (the gemv path), an empty inner dimension, a
// product that output 0 cannot hold, stores into a variable), a small case by hand, and the
// shape function's errors.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "dagrad/dagrad.hpp"
#include "dagrad/ops/matmul_epilogue.hpp"
#include "ops/op_test_util.hpp"

using namespace dagrad;
using namespace dagrad::testing;

namespace {

using Op = FusedOpcode;

Tensor random_matrix(DType dtype, Shape shape, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> v(static_cast<std::size_t>(shape.num_elements()));
  for (double& x : v) x = normal(rng);
  return make_tensor(dtype, std::move(shape), v);
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

// A session that runs the graph as built (no passes, so the reference stays two nodes).
std::vector<Tensor> run_as_built(Graph& g, const std::vector<Output>& fetches,
                                 const std::vector<Feed>& feeds) {
  Session s(g);
  OptimizerOptions options;
  options.optimize = false;
  s.set_optimizer_options(options);
  return s.run(fetches, feeds);
}

// z = product + bias, y = elu(z, 0.7) * scale: outputs z and y (register 0 is the product).
FusedProgram bias_elu_scale() {
  FusedProgram p(3);  // product, bias, scale
  int z = p.binary(Op::Add, 0, 1);
  p.output(z);
  p.output(p.binary(Op::Mul, p.elu(z, 0.7), 2));
  return p;
}

// op(a) op(b) for a (m x k) and b (k x n) before transposition, with bias and scale of the
// given shapes: the fused node and the two-node reference agree bit for bit.
void check_against_two_nodes(DType dtype, bool ta, bool tb, std::int64_t m, std::int64_t k,
                             std::int64_t n, Shape bias_shape, Shape scale_shape) {
  std::string context = std::string(dtype_name(dtype)) + " ta=" + std::to_string(ta) +
                        " tb=" + std::to_string(tb) + " m=" + std::to_string(m) +
                        " k=" + std::to_string(k) + " n=" + std::to_string(n) + " bias " +
                        bias_shape.to_string() + " scale " + scale_shape.to_string();
  Graph g;
  Shape a_shape = ta ? Shape{k, m} : Shape{m, k}, b_shape = tb ? Shape{n, k} : Shape{k, n};
  Output a = placeholder(g, dtype, a_shape, "a");
  Output b = placeholder(g, dtype, b_shape, "b");
  Output bias = placeholder(g, dtype, bias_shape, "bias");
  Output scale = placeholder(g, dtype, scale_shape, "scale");
  FusedProgram p = bias_elu_scale();
  FusedNode ref = fused_elementwise({matmul(a, b, ta, tb), bias, scale}, dtype, p, "ref");
  FusedNode got = matmul_epilogue(a, b, ta, tb, {bias, scale}, dtype, p, "got");
  BOOST_TEST_REQUIRE(got.outputs.size() == 2u);
  std::vector<Feed> feeds = {{a, random_matrix(dtype, a_shape, 1)},
                             {b, random_matrix(dtype, b_shape, 2)},
                             {bias, random_matrix(dtype, bias_shape, 3)},
                             {scale, random_matrix(dtype, scale_shape, 4)}};
  auto out =
      run_as_built(g, {ref.outputs[0], ref.outputs[1], got.outputs[0], got.outputs[1]}, feeds);
  BOOST_TEST(same_bytes(out[2], out[0]), context << ": z");
  BOOST_TEST(same_bytes(out[3], out[1]), context << ": y");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(matmul_epilogue_op)

BOOST_AUTO_TEST_CASE(gives_the_bits_of_matmul_then_the_fused_node) {
  for (DType dtype : {DType::float32, DType::float64})
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        // The chapter's first layer at batch 32, a bias row and a per-row scale.
        check_against_two_nodes(dtype, ta, tb, 32, 784, 300, Shape{300}, Shape{32, 1});
        // Odd sizes (SIMD tails), a full-shape scale and a scalar bias.
        check_against_two_nodes(dtype, ta, tb, 7, 13, 11, Shape{}, Shape{7, 11});
        // A single row: float32 takes the gemv path for a large enough matrix.
        check_against_two_nodes(dtype, ta, tb, 1, 300, 100, Shape{100}, Shape{1, 100});
        check_against_two_nodes(dtype, ta, tb, 1, 5, 3, Shape{3}, Shape{});
        // An empty inner dimension: the product is zeros.
        check_against_two_nodes(dtype, ta, tb, 3, 0, 4, Shape{4}, Shape{3, 1});
      }
}

BOOST_AUTO_TEST_CASE(a_small_case_by_hand) {
  // [[1, 2], [3, 4]] [[1, -1], [0.5, -2]] = [[2, -5], [5, -11]]; + [1, 10] = [[3, 5], [6, -1]];
  // relu -> [[3, 5], [6, 0]].
  Graph g;
  Output a = constant(g, Tensor::from_vector<float>(Shape{2, 2}, {1, 2, 3, 4}), "a");
  Output b = constant(g, Tensor::from_vector<float>(Shape{2, 2}, {1, -1, 0.5f, -2}), "b");
  Output bias = constant(g, Tensor::from_vector<float>(Shape{2}, {1, 10}), "bias");
  FusedProgram p(2);
  p.output(p.unary(Op::Relu, p.binary(Op::Add, 0, 1)));
  FusedNode y = matmul_epilogue(a, b, false, false, {bias}, DType::float32, p, "y");
  BOOST_TEST(y.outputs[0].shape() == (Shape{2, 2}));
  Tensor got = run_as_built(g, {y.outputs[0]}, {})[0];
  BOOST_TEST(values<float>(got) == (std::vector<float>{3, 5, 6, 0}),
             boost::test_tools::per_element());
}

// Output 0 broadcasts the product (a single row against a full-shape input), so the product
// goes to scratch memory; and a node with only a store keeps the product in scratch too.
BOOST_AUTO_TEST_CASE(a_product_output_0_cannot_hold_goes_to_scratch) {
  for (DType dtype : {DType::float32, DType::float64}) {
    Graph g;
    Output a = placeholder(g, dtype, Shape{1, 6}, "a");
    Output b = placeholder(g, dtype, Shape{6, 5}, "b");
    Output rows = placeholder(g, dtype, Shape{4, 5}, "rows");
    FusedProgram p(2);
    p.output(p.binary(Op::Sub, 1, 0));  // rows - product, (4, 5)
    FusedNode ref = fused_elementwise({matmul(a, b), rows}, dtype, p, "ref");
    FusedNode got = matmul_epilogue(a, b, false, false, {rows}, dtype, p, "got");
    BOOST_TEST(got.outputs[0].shape() == (Shape{4, 5}));
    auto out = run_as_built(g, {ref.outputs[0], got.outputs[0]},
                            {{a, random_matrix(dtype, Shape{1, 6}, 5)},
                             {b, random_matrix(dtype, Shape{6, 5}, 6)},
                             {rows, random_matrix(dtype, Shape{4, 5}, 7)}});
    BOOST_TEST(same_bytes(out[1], out[0]), dtype_name(dtype));
  }
}

BOOST_AUTO_TEST_CASE(stores_update_a_variable_as_the_fused_node_does) {
  // w := w - 0.25 * x^T dz, the SGD update of a Dense kernel from its product.
  for (DType dtype : {DType::float32, DType::float64}) {
    Tensor start = random_matrix(dtype, Shape{4, 3}, 8);
    Tensor x_value = random_matrix(dtype, Shape{5, 4}, 9),
           dz_value = random_matrix(dtype, Shape{5, 3}, 10);
    auto update = [&](bool fused) {
      Graph g;
      Output x = placeholder(g, dtype, Shape{5, 4}, "x");
      Output dz = placeholder(g, dtype, Shape{5, 3}, "dz");
      Output w = variable(g, start, "w");
      FusedProgram p(2);  // product (or dw), w
      p.store(p.binary(Op::Sub, 1, p.binary(Op::Mul, p.constant(0.25), 0)), 1);
      Operation op =
          fused ? matmul_epilogue(x, dz, true, false, {w}, dtype, p, "u").operation
                : fused_elementwise({matmul(x, dz, true, false), w}, dtype, p, "u").operation;
      Session s(g);
      OptimizerOptions options;
      options.optimize = false;
      s.set_optimizer_options(options);
      s.initialize_variables();
      s.run({}, {{x, x_value}, {dz, dz_value}}, {op});
      return s.variable_value(w);
    };
    Tensor by_epilogue = update(true), by_two_nodes = update(false);
    BOOST_TEST(same_bytes(by_epilogue, by_two_nodes), dtype_name(dtype));
    // And the value itself, in float64 from the formula.
    std::vector<double> w0 = values(start), xv = values(x_value), dzv = values(dz_value);
    std::vector<double> got = values(by_epilogue);
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 3; ++j) {
        double dw = 0;
        for (int r = 0; r < 5; ++r)
          dw += xv[static_cast<std::size_t>(r * 4 + i)] * dzv[static_cast<std::size_t>(r * 3 + j)];
        double want = w0[static_cast<std::size_t>(i * 3 + j)] - 0.25 * dw;
        BOOST_TEST(got[static_cast<std::size_t>(i * 3 + j)] == want,
                   boost::test_tools::tolerance(dtype == DType::float32 ? 1e-5 : 1e-12));
      }
  }
}

BOOST_AUTO_TEST_CASE(the_record_is_not_differentiable_and_maps_stores_past_a_and_b) {
  const OpRecord& r = default_registry().get("matmul_epilogue");
  BOOST_TEST(r.not_differentiable_reason.find("differentiate the original graph") !=
             std::string::npos);
  BOOST_TEST(r.stateful);
  AttrMap attrs{{"stores", std::vector<std::int64_t>{4, 1, 5, 2}}};
  BOOST_TEST(r.written_inputs(attrs) == (std::vector<int>{2, 3}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(malformed_nodes_are_errors_that_name_the_problem) {
  Graph g;
  Output a = placeholder(g, DType::float32, Shape{4, 3}, "a");
  Output b = placeholder(g, DType::float32, Shape{3, 5}, "b");
  Output b64 = placeholder(g, DType::float64, Shape{3, 5}, "b64");
  Output batch = placeholder(g, DType::float32, Shape{2, 4, 3}, "batch");
  Output bias = placeholder(g, DType::float32, Shape{5}, "bias");
  Output wide = placeholder(g, DType::float32, Shape{6}, "wide");
  Output v = variable(g, Tensor(DType::float32, Shape{4, 5}), "v");
  using Ints = std::vector<std::int64_t>;
  auto add = [&](std::vector<Output> inputs, Ints program, Ints outputs, Ints stores = {},
                 bool tb = false) {
    return [=, &g] {
      g.add_node("matmul_epilogue", inputs,
                 {{"transpose_b", tb},
                  {"dtype", DType::float32},
                  {"program", program},
                  {"constants", Tensor(DType::float64, Shape{0})},
                  {"outputs", outputs},
                  {"stores", stores}},
                 {"bad"});
    };
  };
  auto message_has = [](std::vector<std::string> parts) {
    return [parts](const Error& e) {
      std::string what = e.what();
      for (const std::string& p : parts)
        if (what.find(p) == std::string::npos) {
          BOOST_TEST_MESSAGE("missing '" << p << "' in: " << what);
          return false;
        }
      return true;
    };
  };
  const int before = g.num_nodes();
  const Ints add01 = {static_cast<std::int64_t>(Op::Add), 0, 1, -1};
  BOOST_CHECK_EXCEPTION(add({a, b64, bias}, add01, {2})(), ShapeError,
                        message_has({"matmul_epilogue", "input b is float64", "float32"}));
  BOOST_CHECK_EXCEPTION(add({batch, b, bias}, add01, {2})(), ShapeError,
                        message_has({"input a has shape (2, 4, 3)", "rank 2"}));
  BOOST_CHECK_EXCEPTION(add({a, b, bias}, add01, {2}, {}, true)(), ShapeError,
                        message_has({"inner dimensions differ"}));
  BOOST_CHECK_EXCEPTION(add({a, b, wide}, add01, {2})(), ShapeError,
                        message_has({"epilogue program", "product (4, 5)", "does not broadcast"}));
  BOOST_CHECK_EXCEPTION(add({a, b, bias}, {static_cast<std::int64_t>(Op::Add), 0, 5, -1}, {2})(),
                        ShapeError, message_has({"epilogue program", "not a register"}));
  BOOST_CHECK_EXCEPTION(add({a, b, v}, add01, {}, {2, 0})(), ShapeError,
                        message_has({"store 0 writes program input 0, the product"}));
  BOOST_CHECK_EXCEPTION(add({a}, {}, {0})(), Error, message_has({"matmul_epilogue"}));
  BOOST_TEST(g.num_nodes() == before);
  // The builder checks the program's input count.
  FusedProgram p(3);
  p.output(0);
  BOOST_CHECK_THROW(matmul_epilogue(a, b, false, false, {bias}, DType::float32, p), GraphError);
}

BOOST_AUTO_TEST_SUITE_END()
