// Tests of conv2d_epilogue (ops/conv_epilogue.cpp): the node gives exactly the bits of conv2d
// followed by fused_elementwise run as two nodes (float32 and float64, valid and same padding,
// strides, dilations, a 1x1 kernel, a per-channel bias and a full-shape input), a small case by
// hand, a convolution that output 0 cannot hold, a store into a variable, the shape function's
// errors and the record's flags.
#include <boost/test/unit_test.hpp>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "dagrad/dagrad.hpp"
#include "dagrad/ops/conv_epilogue.hpp"
#include "ops/op_test_util.hpp"

using namespace dagrad;
using namespace dagrad::testing;

namespace {

using Op = FusedOpcode;

Tensor random_values(DType dtype, Shape shape, unsigned seed) {
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

// z = convolution + bias, y = elu(z, 0.7) * scale: outputs z and y (register 0 is the
// convolution).
FusedProgram bias_elu_scale() {
  FusedProgram p(3);  // convolution, bias, scale
  int z = p.binary(Op::Add, 0, 1);
  p.output(z);
  p.output(p.binary(Op::Mul, p.elu(z, 0.7), 2));
  return p;
}

struct Case {
  Shape x, kernel;
  Conv2DOptions options;
  Shape scale;  // broadcast into the convolution's shape
};

void check_against_two_nodes(DType dtype, const Case& c) {
  std::string context = std::string(dtype_name(dtype)) + " x " + c.x.to_string() + " kernel " +
                        c.kernel.to_string() + " padding " + c.options.padding + " scale " +
                        c.scale.to_string();
  Graph g;
  Output x = placeholder(g, dtype, c.x, "x");
  Output kernel = placeholder(g, dtype, c.kernel, "kernel");
  Output bias = placeholder(g, dtype, Shape{c.kernel[3]}, "bias");
  Output scale = placeholder(g, dtype, c.scale, "scale");
  FusedProgram p = bias_elu_scale();
  FusedNode ref = fused_elementwise({conv2d(x, kernel, c.options), bias, scale}, dtype, p, "ref");
  FusedNode got = conv2d_epilogue(x, kernel, c.options, {bias, scale}, dtype, p, "got");
  BOOST_TEST_REQUIRE(got.outputs.size() == 2u);
  BOOST_TEST(got.outputs[1].shape() == ref.outputs[1].shape(), context);
  std::vector<Feed> feeds = {{x, random_values(dtype, c.x, 1)},
                             {kernel, random_values(dtype, c.kernel, 2)},
                             {bias, random_values(dtype, Shape{c.kernel[3]}, 3)},
                             {scale, random_values(dtype, c.scale, 4)}};
  auto out =
      run_as_built(g, {ref.outputs[0], ref.outputs[1], got.outputs[0], got.outputs[1]}, feeds);
  BOOST_TEST(same_bytes(out[2], out[0]), context << ": z");
  BOOST_TEST(same_bytes(out[3], out[1]), context << ": y");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(conv2d_epilogue_op)

BOOST_AUTO_TEST_CASE(gives_the_bits_of_conv2d_then_the_fused_node) {
  const std::vector<Case> cases = {
      // The cnn model's first layer at batch 3, a per-channel scale.
      {Shape{3, 28, 28, 1}, Shape{3, 3, 1, 32}, {{1, 1}, "same", {1, 1}}, Shape{32}},
      // Its second layer, a full-shape scale.
      {Shape{2, 14, 14, 32}, Shape{3, 3, 32, 64}, {{1, 1}, "same", {1, 1}}, Shape{2, 14, 14, 64}},
      // Odd sizes, valid padding, stride 2, a scalar scale.
      {Shape{2, 7, 9, 3}, Shape{3, 2, 3, 5}, {{2, 2}, "valid", {1, 1}}, Shape{}},
      // Dilation, same padding, a per-pixel scale.
      {Shape{1, 6, 5, 2}, Shape{2, 3, 2, 3}, {{1, 1}, "same", {2, 1}}, Shape{1, 6, 5, 1}},
      // A 1x1 kernel: no unrolling, the input is the window matrix.
      {Shape{2, 4, 4, 6}, Shape{1, 1, 6, 7}, {{1, 1}, "valid", {1, 1}}, Shape{7}},
  };
  for (DType dtype : {DType::float32, DType::float64})
    for (const Case& c : cases) check_against_two_nodes(dtype, c);
}

BOOST_AUTO_TEST_CASE(a_small_case_by_hand) {
  // x is one 3x3 image [[1, 2, 3], [4, 5, 6], [7, 8, 9]], the kernel a 2x2 window with two
  // output channels: [[1, 0], [0, 1]] (the diagonal sum) and [[0, -1], [-1, 0]]. Valid: the
  // four windows give channel 0: 1+5=6, 2+6=8, 4+8=12, 5+9=14 and channel 1: -(2+4)=-6, -8,
  // -12, -14. Plus bias [-7, 20]: [-1, 14], [1, 12], [5, 8], [7, 6]; relu: [0, 14], [1, 12],
  // [5, 8], [7, 6].
  Graph g;
  Output x =
      constant(g, Tensor::from_vector<float>(Shape{1, 3, 3, 1}, {1, 2, 3, 4, 5, 6, 7, 8, 9}), "x");
  // HWIO: element (ky, kx, 0, co) at (ky * 2 + kx) * 2 + co.
  Output kernel =
      constant(g, Tensor::from_vector<float>(Shape{2, 2, 1, 2}, {1, 0, 0, -1, 0, -1, 1, 0}), "k");
  Output bias = constant(g, Tensor::from_vector<float>(Shape{2}, {-7, 20}), "bias");
  FusedProgram p(2);
  p.output(p.unary(Op::Relu, p.binary(Op::Add, 0, 1)));
  FusedNode y = conv2d_epilogue(x, kernel, {}, {bias}, DType::float32, p, "y");
  BOOST_TEST(y.outputs[0].shape() == (Shape{1, 2, 2, 2}));
  Tensor got = run_as_built(g, {y.outputs[0]}, {})[0];
  BOOST_TEST(values<float>(got) == (std::vector<float>{0, 14, 1, 12, 5, 8, 7, 6}),
             boost::test_tools::per_element());
}

// Output 0 broadcasts the convolution (a batch of 1 against a batch of 3), so the convolution
// goes to scratch memory; run twice, with a smaller batch in between, to reuse that memory.
BOOST_AUTO_TEST_CASE(a_convolution_output_0_cannot_hold_goes_to_scratch) {
  for (DType dtype : {DType::float32, DType::float64}) {
    Graph g;
    Output x = placeholder(g, dtype, Shape{1, 5, 5, 2}, "x");
    Output kernel = placeholder(g, dtype, Shape{3, 3, 2, 4}, "kernel");
    Output rows = placeholder(g, dtype, Shape{-1, 5, 5, 4}, "rows");
    FusedProgram p(2);
    p.output(p.binary(Op::Sub, 1, 0));  // rows - convolution
    Conv2DOptions same{{1, 1}, "same", {1, 1}};
    FusedNode ref = fused_elementwise({conv2d(x, kernel, same), rows}, dtype, p, "ref");
    FusedNode got = conv2d_epilogue(x, kernel, same, {rows}, dtype, p, "got");
    for (std::int64_t batch : {3, 1, 3}) {
      auto out = run_as_built(g, {ref.outputs[0], got.outputs[0]},
                              {{x, random_values(dtype, Shape{1, 5, 5, 2}, 5)},
                               {kernel, random_values(dtype, Shape{3, 3, 2, 4}, 6)},
                               {rows, random_values(dtype, Shape{batch, 5, 5, 4}, 7)}});
      BOOST_TEST(out[1].shape() == (Shape{batch, 5, 5, 4}));
      BOOST_TEST(same_bytes(out[1], out[0]), dtype_name(dtype) << " batch " << batch);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_store_updates_a_variable_as_the_fused_node_does) {
  // v := v + 0.5 * conv2d(x, k): the variable has the convolution's shape.
  for (DType dtype : {DType::float32, DType::float64}) {
    Tensor start = random_values(dtype, Shape{2, 3, 3, 2}, 8);
    Tensor x_value = random_values(dtype, Shape{2, 4, 4, 3}, 9),
           k_value = random_values(dtype, Shape{2, 2, 3, 2}, 10);
    auto update = [&](bool fused) {
      Graph g;
      Output x = placeholder(g, dtype, Shape{2, 4, 4, 3}, "x");
      Output k = placeholder(g, dtype, Shape{2, 2, 3, 2}, "k");
      Output v = variable(g, start, "v");
      FusedProgram p(2);  // convolution, v
      p.store(p.binary(Op::Add, 1, p.binary(Op::Mul, p.constant(0.5), 0)), 1);
      Operation op = fused ? conv2d_epilogue(x, k, {}, {v}, dtype, p, "u").operation
                           : fused_elementwise({conv2d(x, k), v}, dtype, p, "u").operation;
      Session s(g);
      OptimizerOptions options;
      options.optimize = false;
      s.set_optimizer_options(options);
      s.initialize_variables();
      s.run({}, {{x, x_value}, {k, k_value}}, {op});
      return s.variable_value(v);
    };
    BOOST_TEST(same_bytes(update(true), update(false)), dtype_name(dtype));
  }
}

BOOST_AUTO_TEST_CASE(the_record_is_not_differentiable_and_maps_stores_past_x_and_kernel) {
  const OpRecord& r = default_registry().get("conv2d_epilogue");
  BOOST_TEST(r.not_differentiable_reason.find("differentiate the original graph") !=
             std::string::npos);
  BOOST_TEST(r.stateful);
  AttrMap attrs{{"stores", std::vector<std::int64_t>{4, 1, 5, 2}}};
  BOOST_TEST(r.written_inputs(attrs) == (std::vector<int>{2, 3}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(malformed_nodes_are_errors_that_name_the_problem) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{2, 5, 5, 3}, "x");
  Output k = placeholder(g, DType::float32, Shape{3, 3, 3, 4}, "k");
  Output k64 = placeholder(g, DType::float64, Shape{3, 3, 3, 4}, "k64");
  Output k_channels = placeholder(g, DType::float32, Shape{3, 3, 2, 4}, "k_channels");
  Output image = placeholder(g, DType::float32, Shape{5, 5, 3}, "image");
  Output bias = placeholder(g, DType::float32, Shape{4}, "bias");
  Output wide = placeholder(g, DType::float32, Shape{6}, "wide");
  Output v = variable(g, Tensor(DType::float32, Shape{2, 3, 3, 4}), "v");
  using Ints = std::vector<std::int64_t>;
  auto add = [&](std::vector<Output> inputs, Ints program, Ints outputs, Ints stores = {},
                 std::string padding = "valid") {
    return [=, &g] {
      g.add_node("conv2d_epilogue", inputs,
                 {{"padding", padding},
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
  BOOST_CHECK_EXCEPTION(add({x, k64, bias}, add01, {2})(), ShapeError,
                        message_has({"conv2d_epilogue", "input the kernel is float64", "float32"}));
  BOOST_CHECK_EXCEPTION(add({image, k, bias}, add01, {2})(), ShapeError,
                        message_has({"x must have rank 4"}));
  BOOST_CHECK_EXCEPTION(add({x, k_channels, bias}, add01, {2})(), ShapeError,
                        message_has({"channels differ"}));
  BOOST_CHECK_EXCEPTION(add({x, k, bias}, add01, {2}, {}, "full")(), ShapeError,
                        message_has({"padding must be"}));
  BOOST_CHECK_EXCEPTION(
      add({x, k, wide}, add01, {2})(), ShapeError,
      message_has({"epilogue program", "convolution (2, 3, 3, 4)", "does not broadcast"}));
  BOOST_CHECK_EXCEPTION(add({x, k, bias}, {static_cast<std::int64_t>(Op::Add), 0, 5, -1}, {2})(),
                        ShapeError, message_has({"epilogue program", "not a register"}));
  BOOST_CHECK_EXCEPTION(add({x, k, v}, add01, {}, {2, 0})(), ShapeError,
                        message_has({"store 0 writes program input 0, the convolution"}));
  BOOST_CHECK_EXCEPTION(add({x}, {}, {0})(), Error, message_has({"conv2d_epilogue"}));
  BOOST_TEST(g.num_nodes() == before);
  // The builder checks the program's input count.
  FusedProgram p(3);
  p.output(0);
  BOOST_CHECK_THROW(conv2d_epilogue(x, k, {}, {bias}, DType::float32, p), GraphError);
}

BOOST_AUTO_TEST_SUITE_END()
