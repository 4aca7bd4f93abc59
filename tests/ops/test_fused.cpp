// Tests of fused_elementwise (ops/fused.cpp, ops/fused_kernels.cpp): each opcode gives exactly the
// bits of its unfused op on the same inputs (NaN, infinities, signed zeros, subnormals and the exp
// overflow edges included, at sizes that reach the SIMD body and the padded tail), programs of
// several instructions and outputs, NumPy broadcasting, bool inputs, stores into variables (a
// Nesterov update against the same update written with assign ops), reductions over leading axes
// (against float64 and bit for bit against sum, mean and sum_to), and the errors that name what
// is wrong in a malformed program.
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <limits>
#include <ostream>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "dagrad/dagrad.hpp"
#include "dagrad/ops/fused.hpp"
#include "ops/op_test_util.hpp"

namespace bdata = boost::unit_test::data;
using namespace dagrad;
using namespace dagrad::testing;

namespace {

using Op = FusedOpcode;
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---- inputs and comparison ------------------------------------------------------------------

// Values that reach every branch of the batch functions: NaN, infinities, signed zeros,
// subnormals (of both float types), the overflow edges of exp and expm1 in float32 (88.72) and
// float64 (709.78), the clip bounds used below, and magnitudes from tiny to huge.
const std::vector<double> kSpecial = {
    kNaN,   -kNaN,  kInf,    -kInf, 0.0,   -0.0,  1.0,    -1.0,  2.0,    0.5,    -0.5,   1e-40,
    -1e-40, 1e-310, -1e-310, 88.7,  88.73, -88.8, -104.0, 709.7, 709.8,  -745.2, -1.5,   2.25,
    1e-3,   -1e-3,  20.0,    -20.0, 1e30,  -1e30, 3.4e38, 1e300, -1e300, 0.625,  -0.625, 1e-8};

// n values: specials mixed with N(0, 3) draws, reproducibly from `seed`.
std::vector<double> draw(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, 3.0);
  std::vector<double> out;
  for (std::size_t i = 0; i < n; ++i)
    out.push_back(rng() % 3 == 0 ? kSpecial[rng() % kSpecial.size()] : normal(rng));
  return out;
}

// A second operand: independent draws, but equal to `a` at about a quarter of the positions
// (ties for maximum, minimum and the comparisons).
std::vector<double> draw_like(const std::vector<double>& a, unsigned seed) {
  std::vector<double> b = draw(a.size(), seed);
  std::mt19937 rng(seed + 17);
  for (std::size_t i = 0; i < b.size(); ++i)
    if (rng() % 4 == 0) b[i] = a[i];
  return b;
}

// n finite values of moderate size (N(0, 3)), for state that must stay finite.
std::vector<double> draw_finite(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, 3.0);
  std::vector<double> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(normal(rng));
  return out;
}

std::vector<double> draw_bools(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<double> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(static_cast<double>(rng() % 2));
  return out;
}

// got and want hold the same dtype, shape and bytes, except that any two NaNs are alike; names
// the first differing elements. (When both operands of a commutative add or mul are NaNs, x86
// returns the first one, and the compiler orders a commutative op's operands as it likes, so the
// NaN's sign and payload are not a property of the kernel.)
void check_same_bits(const Tensor& got, const Tensor& want, const std::string& context) {
  BOOST_TEST_REQUIRE((got.dtype() == want.dtype()), context << ": dtype");
  BOOST_TEST_REQUIRE((got.shape() == want.shape()),
                     context << ": shape " << got.shape() << " vs " << want.shape());
  std::size_t width = dtype_size(got.dtype());
  const auto* g = static_cast<const unsigned char*>(got.raw());
  const auto* w = static_cast<const unsigned char*>(want.raw());
  int reported = 0;
  for (std::int64_t i = 0; i < got.size(); ++i) {
    if (std::memcmp(g + i * width, w + i * width, width) == 0) continue;
    bool floating = is_floating(got.dtype());
    if (floating && std::isnan(got.value_as_double(i)) && std::isnan(want.value_as_double(i)))
      continue;
    BOOST_TEST(false, std::setprecision(17)
                          << context << ": element " << i << " is " << got.value_as_double(i)
                          << ", unfused " << want.value_as_double(i));
    if (++reported == 5) break;
  }
}

// ---- one opcode against its unfused op ------------------------------------------------------

struct OpcodeCase {
  Op op;
  int inputs;   // register operands, all fed as inputs of the node
  bool bool_a;  // input 0 is bool (where's condition)
  std::function<Output(const std::vector<Output>&, DType)> unfused;  // in the compute dtype
  std::function<int(FusedProgram&)> fused;  // adds the instruction over registers 0..inputs-1
};

std::ostream& operator<<(std::ostream& os, const OpcodeCase& c) {
  return os << fused_opcode_name(c.op);
}

using Unary = Output (*)(Output, OpName);
using Binary = Output (*)(Output, Output, OpName);

OpcodeCase unary_case(Op op, Unary f) {
  return {op, 1, false, [f](const std::vector<Output>& in, DType) { return f(in[0], {}); },
          [op](FusedProgram& p) { return p.unary(op, 0); }};
}
OpcodeCase binary_case(Op op, Binary f, bool compare = false) {
  return {op, 2, false,
          [f, compare](const std::vector<Output>& in, DType dtype) {
            Output y = f(in[0], in[1], {});
            return compare ? cast(y, dtype) : y;  // bool -> 1 or 0 in the compute dtype
          },
          [op](FusedProgram& p) { return p.binary(op, 0, 1); }};
}

std::vector<OpcodeCase> opcode_cases() {
  std::vector<OpcodeCase> cases = {
      unary_case(Op::Identity, identity),
      unary_case(Op::ZerosLike, zeros_like),
      unary_case(Op::OnesLike, ones_like),
      unary_case(Op::Neg, neg),
      unary_case(Op::Abs, abs),
      unary_case(Op::Sign, sign),
      unary_case(Op::Exp, exp),
      unary_case(Op::Log, log),
      unary_case(Op::Log1p, log1p),
      unary_case(Op::Sqrt, sqrt),
      unary_case(Op::Rsqrt, rsqrt),
      unary_case(Op::Square, square),
      unary_case(Op::Reciprocal, reciprocal),
      unary_case(Op::Sigmoid, sigmoid),
      unary_case(Op::Tanh, tanh),
      unary_case(Op::Relu, relu),
      unary_case(Op::Softplus, softplus),
      unary_case(Op::Selu, selu),
      {Op::Elu, 1, false, [](const std::vector<Output>& in, DType) { return elu(in[0], 0.7); },
       [](FusedProgram& p) { return p.elu(0, 0.7); }},
      {Op::LeakyRelu, 1, false,
       [](const std::vector<Output>& in, DType) { return leaky_relu(in[0], 0.3); },
       [](FusedProgram& p) { return p.leaky_relu(0, 0.3); }},
      {Op::Clip, 1, false,
       [](const std::vector<Output>& in, DType) { return clip_by_value(in[0], -1.5, 2.25); },
       [](FusedProgram& p) { return p.clip(0, -1.5, 2.25); }},
      binary_case(Op::Add, add),
      binary_case(Op::Sub, sub),
      binary_case(Op::Mul, mul),
      binary_case(Op::Div, div),
      binary_case(Op::Pow, pow),
      binary_case(Op::Maximum, maximum),
      binary_case(Op::Minimum, minimum),
      binary_case(Op::Greater, greater, true),
      binary_case(Op::GreaterEqual, greater_equal, true),
      binary_case(Op::Less, less, true),
      binary_case(Op::LessEqual, less_equal, true),
      binary_case(Op::Equal, equal, true),
      {Op::Where, 3, true,
       [](const std::vector<Output>& in, DType) { return where(in[0], in[1], in[2]); },
       [](FusedProgram& p) { return p.where(0, 1, 2); }},
  };
  return cases;
}

const std::vector<std::int64_t> kSizes = {1, 7, 16, 17, 33, 1000};

}  // namespace

BOOST_AUTO_TEST_SUITE(fused)

// Every opcode but Const is in the table (Const has its own case below).
BOOST_AUTO_TEST_CASE(the_table_covers_every_opcode) {
  std::vector<int> seen(kNumFusedOpcodes, 0);
  seen[static_cast<std::size_t>(Op::Const)] = 1;
  for (const OpcodeCase& c : opcode_cases()) ++seen[static_cast<std::size_t>(c.op)];
  for (int i = 0; i < kNumFusedOpcodes; ++i)
    BOOST_TEST(seen[static_cast<std::size_t>(i)] == 1,
               "opcode " << i << " (" << fused_opcode_name(static_cast<Op>(i)) << ")");
  BOOST_TEST(fused_opcode_name(Op::LeakyRelu) == "leaky_relu");
  BOOST_TEST(fused_opcode_name(static_cast<Op>(kNumFusedOpcodes)).empty());
}

BOOST_DATA_TEST_CASE(each_opcode_gives_the_bits_of_its_unfused_op, bdata::make(opcode_cases()), c) {
  for (DType dtype : {DType::float32, DType::float64})
    for (std::int64_t n : kSizes) {
      Graph g;
      std::vector<Output> in;
      std::vector<Feed> feeds;
      std::vector<double> first = draw(static_cast<std::size_t>(n), static_cast<unsigned>(n) + 1);
      for (int k = 0; k < c.inputs; ++k) {
        bool is_bool = k == 0 && c.bool_a;
        DType d = is_bool ? DType::boolean : dtype;
        in.push_back(placeholder(g, d, Shape{n}, "x" + std::to_string(k)));
        std::vector<double> values =
            is_bool ? draw_bools(first.size(), static_cast<unsigned>(k))
                    : (k == 0 ? first : draw_like(first, static_cast<unsigned>(n + 7 * k)));
        feeds.push_back({in.back(), make_tensor(d, Shape{n}, values)});
      }
      Output want = c.unfused(in, dtype);
      FusedProgram program(c.inputs);
      program.output(c.fused(program));
      FusedNode node = fused_elementwise(in, dtype, program);
      BOOST_TEST_REQUIRE(node.outputs.size() == 1u);
      BOOST_TEST((node.outputs[0].shape() == Shape{n}));
      Session s(g);
      std::vector<Tensor> got = s.run({node.outputs[0], want}, feeds);
      check_same_bits(got[0], got[1],
                      std::string(fused_opcode_name(c.op)) + " " + std::string(dtype_name(dtype)) +
                          " n=" + std::to_string(n));
    }
}

BOOST_AUTO_TEST_CASE(const_is_the_constant_rounded_to_the_compute_dtype) {
  for (DType dtype : {DType::float32, DType::float64})
    for (double value : {0.1, -kInf, 1e300, -0.0}) {
      Graph g;
      Output x = placeholder(g, dtype, Shape{2, 9}, "x");
      FusedProgram p(1);
      p.output(p.constant(value));
      Tensor got =
          Session(g).run(fused_elementwise({x}, dtype, p).outputs[0],
                         {{x, make_tensor(dtype, Shape{2, 9}, std::vector<double>(18, 3.0))}});
      std::vector<double> want(18, value);
      check_same_bits(got, make_tensor(dtype, Shape{2, 9}, want), "const " + std::to_string(value));
    }
}

// Where's condition as a register of the compute dtype: any nonzero value, NaN included, is true.
BOOST_AUTO_TEST_CASE(where_takes_any_nonzero_condition_as_true) {
  std::vector<double> cond = {0.0, -0.0, 1.0, -2.0, kNaN, kInf, 1e-40, 0.5};
  std::vector<double> want = {20, 21, 12, 13, 14, 15, 16, 17};  // b where true, c where false
  for (DType dtype : {DType::float32, DType::float64}) {
    Graph g;
    Output c = placeholder(g, dtype, Shape{8}, "c");
    Output a = placeholder(g, dtype, Shape{8}, "a");
    Output b = placeholder(g, dtype, Shape{8}, "b");
    FusedProgram p(3);
    p.output(p.where(0, 1, 2));
    Tensor got =
        Session(g).run(fused_elementwise({c, a, b}, dtype, p).outputs[0],
                       {{c, make_tensor(dtype, Shape{8}, cond)},
                        {a, make_tensor(dtype, Shape{8}, {10, 11, 12, 13, 14, 15, 16, 17})},
                        {b, make_tensor(dtype, Shape{8}, {20, 21, 22, 23, 24, 25, 26, 27})}});
    BOOST_TEST(values(got) == want, boost::test_tools::per_element());
  }
}

// ---- programs of several instructions -----------------------------------------------------

// elu forward and its gradient rule (elementwise.cpp) in one node with two outputs:
// y = elu(x), dx = where(x > 0, g, g * (y + alpha)).
BOOST_AUTO_TEST_CASE(elu_forward_and_backward_in_one_node) {
  const double alpha = 1.3;
  for (DType dtype : {DType::float32, DType::float64})
    for (std::int64_t n : {std::int64_t{7}, std::int64_t{1000}}) {
      Graph g;
      Output x = placeholder(g, dtype, Shape{n}, "x");
      Output dy = placeholder(g, dtype, Shape{n}, "dy");
      Output y = elu(x, alpha);
      Output dx = where(greater(x, zeros_like(x)), dy, dy * (y + alpha));
      FusedProgram p(2);
      int ry = p.elu(0, alpha);
      int positive = p.binary(Op::Greater, 0, p.unary(Op::ZerosLike, 0));
      int shifted = p.binary(Op::Add, ry, p.constant(alpha));
      int rdx = p.where(positive, 1, p.binary(Op::Mul, 1, shifted));
      p.output(ry);
      p.output(rdx);
      FusedNode node = fused_elementwise({x, dy}, dtype, p, "elu_fused");
      BOOST_TEST(node.outputs[1].name() == "elu_fused:1");
      auto xs = draw(static_cast<std::size_t>(n), 3), gs = draw(static_cast<std::size_t>(n), 4);
      Session s(g);
      std::vector<Tensor> got =
          s.run({node.outputs[0], node.outputs[1], y, dx},
                {{x, make_tensor(dtype, Shape{n}, xs)}, {dy, make_tensor(dtype, Shape{n}, gs)}});
      std::string context = std::string(dtype_name(dtype)) + " n=" + std::to_string(n);
      check_same_bits(got[0], got[2], "y " + context);
      check_same_bits(got[1], got[3], "dx " + context);
    }
}

// A long chain whose registers die along the way (so slots are reused), with an operand read
// twice in one instruction, outputs taken mid-chain, and a bool mask used as 0 and 1.
BOOST_AUTO_TEST_CASE(a_long_chain_with_reused_registers_and_several_outputs) {
  for (DType dtype : {DType::float32, DType::float64}) {
    const std::int64_t n = 1500;  // three blocks of either dtype, the last one partial
    Graph g;
    Output x = placeholder(g, dtype, Shape{n}, "x");
    Output m = placeholder(g, DType::boolean, Shape{n}, "m");
    Output t1 = tanh(x);
    Output t2 = mul(t1, t1);
    Output t3 = sub(t2, x);
    Output t4 = sigmoid(t3);
    Output t5 = mul(cast(m, dtype), t4);
    Output t6 = maximum(t5, log1p(abs(x)));
    Output t7 = clip_by_value(div(t6, add(t2, t4)), -3.0, 3.0);
    Output t8 = softplus(neg(t7));
    FusedProgram p(2);
    int r1 = p.unary(Op::Tanh, 0);
    int r2 = p.binary(Op::Mul, r1, r1);
    int r3 = p.binary(Op::Sub, r2, 0);
    int r4 = p.unary(Op::Sigmoid, r3);
    int r5 = p.binary(Op::Mul, 1, r4);
    int r6 = p.binary(Op::Maximum, r5, p.unary(Op::Log1p, p.unary(Op::Abs, 0)));
    int r7 = p.clip(p.binary(Op::Div, r6, p.binary(Op::Add, r2, r4)), -3.0, 3.0);
    int r8 = p.unary(Op::Softplus, p.unary(Op::Neg, r7));
    p.output(r8);
    p.output(r2);
    p.output(r8);  // the same register twice
    FusedNode node = fused_elementwise({x, m}, dtype, p);
    Session s(g);
    std::vector<Tensor> got = s.run(
        {node.outputs[0], node.outputs[1], node.outputs[2], t8, t2},
        {{x, make_tensor(dtype, Shape{n}, draw(static_cast<std::size_t>(n), 11))},
         {m, make_tensor(DType::boolean, Shape{n}, draw_bools(static_cast<std::size_t>(n), 12))}});
    check_same_bits(got[0], got[3], "t8 " + std::string(dtype_name(dtype)));
    check_same_bits(got[1], got[4], "t2");
    check_same_bits(got[2], got[3], "t8 again");
  }
}

// ---- broadcasting ------------------------------------------------------------------------

struct BroadcastCase {
  Shape a, b, cond;  // cond: the shape of a bool input
  std::string note;
};

std::ostream& operator<<(std::ostream& os, const BroadcastCase& c) {
  return os << c.a << " " << c.b << " " << c.cond << " (" << c.note << ")";
}

std::vector<BroadcastCase> broadcast_cases() {
  return {
      {Shape{5, 1}, Shape{1, 7}, Shape{5, 7}, "column and row"},
      {Shape{7}, Shape{5, 7}, Shape{7}, "row against matrix"},
      {Shape{5, 7}, Shape{}, Shape{}, "scalar"},
      {Shape{}, Shape{5, 7}, Shape{5, 1}, "scalar first"},
      {Shape{2, 1, 3}, Shape{4, 1}, Shape{1, 4, 3}, "rank 3"},
      {Shape{3, 1}, Shape{1, 1100}, Shape{1, 1100}, "broadcast along rows of several blocks"},
      {Shape{3, 1100}, Shape{1100}, Shape{3, 1}, "bias over long rows"},
      {Shape{600, 1}, Shape{1, 3}, Shape{600, 3}, "many short rows"},
      {Shape{2, 3, 1, 5}, Shape{3, 4, 1}, Shape{4, 5}, "rank 4"},
      {Shape{2, 1, 2, 1, 2, 1}, Shape{1, 2, 1, 2, 1, 2}, Shape{2, 2, 2, 2, 2, 2}, "rank 6"},
      {Shape{1, 1, 1}, Shape{1}, Shape{}, "one element"},
      {Shape{0, 3}, Shape{3}, Shape{1, 3}, "empty"},
      // Rows shorter than half a block run several to a block (packed), never across the
      // second-last axis: blocks of all of it, and blocks that end mid-axis.
      {Shape{3, 5, 7, 6}, Shape{5, 1, 6}, Shape{3, 1, 7, 1}, "packed rows, outer broadcasts"},
      {Shape{2, 300, 4}, Shape{300, 1}, Shape{4}, "packed rows in several blocks"},
  };
}

BOOST_DATA_TEST_CASE(broadcasting_matches_the_unfused_ops, bdata::make(broadcast_cases()), c) {
  for (DType dtype : {DType::float32, DType::float64}) {
    Graph g;
    Output a = placeholder(g, dtype, c.a, "a");
    Output b = placeholder(g, dtype, c.b, "b");
    Output m = placeholder(g, DType::boolean, c.cond, "m");
    // d = a - b; y = where(m, d * a, where(a > b, b, pow(a, b)))
    Output d = sub(a, b);
    Output y = where(m, mul(d, a), where(greater(a, b), b, pow(a, b)));
    FusedProgram p(3);
    int rd = p.binary(Op::Sub, 0, 1);
    int rp = p.binary(Op::Pow, 0, 1);
    int inner = p.where(p.binary(Op::Greater, 0, 1), 1, rp);
    p.output(rd);
    p.output(p.where(2, p.binary(Op::Mul, rd, 0), inner));
    FusedNode node = fused_elementwise({a, b, m}, dtype, p);
    BOOST_TEST((node.outputs[1].shape() == y.shape()), c << ": " << node.outputs[1].shape());
    std::vector<Feed> feeds;
    unsigned seed = 1;
    for (auto [in, shape] : {std::pair{a, c.a}, std::pair{b, c.b}}) {
      auto count = static_cast<std::size_t>(shape.num_elements());
      feeds.push_back({in, make_tensor(dtype, shape, draw(count, seed++))});
    }
    feeds.push_back(
        {m, make_tensor(DType::boolean, c.cond,
                        draw_bools(static_cast<std::size_t>(c.cond.num_elements()), 5))});
    Session s(g);
    std::vector<Tensor> got = s.run({node.outputs[0], node.outputs[1], d, y}, feeds);
    std::ostringstream context;
    context << c << " " << dtype_name(dtype);
    check_same_bits(got[0], got[2], "a - b " + context.str());
    check_same_bits(got[1], got[3], "y " + context.str());
  }
}

// Unknown dimensions at build time broadcast as the binary ops do; the run-time shapes decide.
BOOST_AUTO_TEST_CASE(unknown_dimensions_are_resolved_at_run_time) {
  Graph g;
  Output a = placeholder(g, DType::float32, Shape{-1, 4}, "a");
  Output b = placeholder(g, DType::float32, Shape{-1, 4}, "b");
  FusedProgram p(2);
  p.output(p.binary(Op::Add, 0, 1));
  Output y = fused_elementwise({a, b}, DType::float32, p).outputs[0];
  BOOST_TEST((y.shape() == Shape{-1, 4}));
  Session s(g);
  Tensor got = s.run(y, {{a, make_tensor(DType::float32, Shape{2, 4}, {1, 2, 3, 4, 5, 6, 7, 8})},
                         {b, make_tensor(DType::float32, Shape{1, 4}, {10, 20, 30, 40})}});
  BOOST_TEST((got.shape() == Shape{2, 4}));
  BOOST_TEST(values(got) == (std::vector<double>{11, 22, 33, 44, 15, 26, 37, 48}),
             boost::test_tools::per_element());
}

// ---- stores ------------------------------------------------------------------------------

// Keras's SGD with Nesterov momentum on two variables: v <- m v - lr g; w <- w + m v - lr g (with
// the new v), in one fused node that only stores, against the same update as assign ops.
BOOST_AUTO_TEST_CASE(a_nesterov_update_of_two_variables_in_one_node) {
  const double momentum = 0.9, lr = 0.01;
  const Shape shape{4, 3};
  for (DType dtype : {DType::float32, DType::float64}) {
    auto build = [&](Graph& g, bool fused_update) {
      Output w = variable(g, make_tensor(dtype, shape, draw_finite(12, 21)), "w");
      Output v = variable(g, make_tensor(dtype, shape, draw_finite(12, 22)), "v");
      Output grad = placeholder(g, dtype, shape, "grad");
      Output m = scalar(g, momentum, dtype), r = scalar(g, lr, dtype);
      if (!fused_update) {
        Output step = mul(r, grad);
        Output v_new = assign(v, sub(mul(m, v), step));
        return std::tuple{Operation(assign(w, sub(add(w, mul(m, v_new)), step))), w, v, grad};
      }
      FusedProgram p(3);  // registers 0: w, 1: v, 2: grad
      int rm = p.constant(momentum), rr = p.constant(lr);
      int step = p.binary(Op::Mul, rr, 2);
      int v_new = p.binary(Op::Sub, p.binary(Op::Mul, rm, 1), step);
      int w_new = p.binary(Op::Sub, p.binary(Op::Add, 0, p.binary(Op::Mul, rm, v_new)), step);
      p.store(v_new, 1);
      p.store(w_new, 0);
      FusedNode node = fused_elementwise({w, v, grad}, dtype, p, "nesterov");
      BOOST_TEST(node.outputs.empty());
      return std::tuple{node.operation, w, v, grad};
    };
    Graph g1, g2;
    auto [update1, w1, v1, grad1] = build(g1, false);
    auto [update2, w2, v2, grad2] = build(g2, true);
    Session s1(g1), s2(g2);
    s1.initialize_variables();
    s2.initialize_variables();
    std::vector<double> w0 = values(s2.variable_value(w2)), v0 = values(s2.variable_value(v2));
    for (unsigned step = 0; step < 3; ++step) {
      std::vector<double> gv = draw_finite(12, 30 + step);
      Tensor grad = make_tensor(dtype, shape, gv);
      s1.run_targets({update1}, {{grad1, grad}});
      s2.run_targets({update2}, {{grad2, grad}});
      std::string context = std::string(dtype_name(dtype)) + " step " + std::to_string(step);
      check_same_bits(s2.variable_value(w2), s1.variable_value(w1), "w " + context);
      check_same_bits(s2.variable_value(v2), s1.variable_value(v1), "v " + context);
      if (step == 0 && dtype == DType::float64) {  // and against the formula, in double
        std::vector<double> w = values(s2.variable_value(w2)), v = values(s2.variable_value(v2));
        for (std::size_t i = 0; i < 12; ++i) {
          double v_new = momentum * v0[i] - lr * gv[i];
          double w_new = w0[i] + momentum * v_new - lr * gv[i];
          BOOST_TEST(v[i] == v_new, boost::test_tools::tolerance(1e-14));
          BOOST_TEST(w[i] == w_new, boost::test_tools::tolerance(1e-14));
        }
      }
    }
  }
}

// An input that is also a store target is read before the store: an output taking its register
// gives the old value, and a broadcast input next to it is fine.
BOOST_AUTO_TEST_CASE(a_store_target_is_read_before_it_is_written) {
  Graph g;
  const std::int64_t n = 1030;  // more than one block of float32
  std::vector<double> start(static_cast<std::size_t>(n)), delta(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < start.size(); ++i) {
    start[i] = static_cast<double>(i);
    delta[i] = 0.5 * static_cast<double>(i % 7);
  }
  Output v = variable(g, make_tensor(DType::float32, Shape{n}, start), "v");
  Output d = placeholder(g, DType::float32, Shape{n}, "d");
  Output k = placeholder(g, DType::float32, Shape{}, "k");
  FusedProgram p(3);
  int sum = p.binary(Op::Add, 0, p.binary(Op::Mul, 1, 2));  // v + d * k
  p.store(sum, 0);
  p.output(0);
  p.output(sum);
  FusedNode node = fused_elementwise({v, d, k}, DType::float32, p);
  Session s(g);
  s.initialize_variables();
  std::vector<Tensor> got = s.run(node.outputs, {{d, make_tensor(DType::float32, Shape{n}, delta)},
                                                 {k, make_tensor(DType::float32, Shape{}, {2.0})}});
  std::vector<double> old_v = values(got[0]), new_v = values(got[1]);
  std::vector<double> stored = values(s.variable_value(v));
  for (std::size_t i = 0; i < start.size(); ++i) {
    BOOST_TEST(old_v[i] == start[i], "element " << i);
    BOOST_TEST(new_v[i] == start[i] + 2.0 * delta[i], "element " << i);
    BOOST_TEST(stored[i] == new_v[i], "element " << i);
  }
}

// ---- large nodes split over threads ---------------------------------------------------------

// relu((x - b) * k) + x with b broadcast as `b_shape` and k a scalar, in float32, on 1 and on 2
// threads: nodes of 2^17 elements or more split their rows (their blocks, for one row) between
// the threads, so the two runs must give the same bits, and both the float64 value within
// float32 rounding. Shapes: one contiguous row (a scalar broadcast read again in the second
// part), NHWC rows of 32 channels (packed several to a block), long rows over an odd row count,
// and a per-row broadcast along the last axis.
BOOST_AUTO_TEST_CASE(large_nodes_give_the_same_bits_on_one_and_two_threads) {
  struct Case {
    Shape x_shape, b_shape;
  };
  const Case cases[] = {{Shape{300001}, Shape{}},
                        {Shape{40, 14, 14, 32}, Shape{32}},
                        {Shape{301, 1000}, Shape{1000}},
                        {Shape{1001, 300}, Shape{1001, 1}}};
  const int threads_before = num_threads();
  for (const Case& c : cases) {
    const std::string context = c.x_shape.to_string() + " with " + c.b_shape.to_string();
    const auto n = static_cast<std::size_t>(c.x_shape.num_elements());
    const auto nb = static_cast<std::size_t>(c.b_shape.num_elements());
    auto draw_uniform = [](std::size_t count, unsigned seed) {
      std::mt19937 rng(seed);
      std::uniform_real_distribution<double> u(-2.0, 2.0);
      std::vector<double> out(count);
      for (double& v : out) v = u(rng);
      return out;
    };
    const std::vector<double> xs = draw_uniform(n, 11), bs = draw_uniform(nb, 12);
    const double k = 1.75;
    Graph g;
    Output x = placeholder(g, DType::float32, c.x_shape, "x");
    Output b = placeholder(g, DType::float32, c.b_shape, "b");
    Output kk = placeholder(g, DType::float32, Shape{}, "k");
    FusedProgram p(3);
    p.output(p.binary(Op::Add, p.unary(Op::Relu, p.binary(Op::Mul, p.binary(Op::Sub, 0, 1), 2)), 0));
    FusedNode node = fused_elementwise({x, b, kk}, DType::float32, p);
    Session s(g);
    const std::vector<Feed> feeds = {{x, make_tensor(DType::float32, c.x_shape, xs)},
                      {b, make_tensor(DType::float32, c.b_shape, bs)},
                      {kk, make_tensor(DType::float32, Shape{}, {k})}};
    set_num_threads(1);
    Tensor one = s.run(node.outputs[0], feeds);
    set_num_threads(2);
    Tensor two = s.run(node.outputs[0], feeds);
    check_same_bits(two, one, context);
    // float64: b's index of element i of x (the trailing dims of b, right-aligned).
    const std::vector<double> got = values(two);
    const std::size_t last = static_cast<std::size_t>(c.x_shape.dims().back());
    double worst = 0;  // the largest error as a share of the bound of three float32 roundings
    const double u = std::ldexp(1.0, -24);
    for (std::size_t i = 0; i < n; ++i) {
      std::size_t j = 0;
      if (c.b_shape.rank() == 1) j = i % last;  // per last-axis element
      if (c.b_shape.rank() == 2) j = i / last;  // per row
      const double x32 = static_cast<float>(xs[i]), b32 = static_cast<float>(bs[j]);
      const double want = std::max((x32 - b32) * k, 0.0) + x32;
      const double bound = 4 * u * (std::abs(x32) + (std::abs(x32) + std::abs(b32)) * k);
      worst = std::max(worst, std::abs(got[i] - want) / bound);
    }
    BOOST_TEST(worst <= 1.0, context << ": worst error " << worst << " of the rounding bound");
  }
  set_num_threads(threads_before);
}

// ---- reductions over leading axes ----------------------------------------------------------

// Values in [0.5, 2): sums without cancellation, so a float64 reference bounds the error of a
// float32 sum by its rounding alone.
std::vector<double> draw_positive(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.5, 2.0);
  std::vector<double> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(u(rng));
  return out;
}

// v = (x + b) * x over x of `shape` and b of its trailing dims (broadcast over the leading
// ones), output with its sum over `leading` axes (dropped), its mean (kept as 1) and the sum of
// the input x itself (a register read, not computed): each against a float64 computation from
// the same values, and bit for bit against the unfused ops (sum, mean, sum_to) on v and x.
void check_reductions(DType dtype, const Shape& shape, int leading) {
  std::string context = std::string(dtype_name(dtype)) + " " + shape.to_string() + " leading " +
                        std::to_string(leading);
  const int rank = shape.rank();
  std::vector<std::int64_t> kept_dims(shape.dims().begin() + leading, shape.dims().end());
  const Shape kept_shape(kept_dims);
  const auto kept = static_cast<std::size_t>(kept_shape.num_elements());
  const auto total = static_cast<std::size_t>(shape.num_elements());
  const std::size_t rows = kept == 0 ? 0 : total / kept;
  Graph g;
  Output x = placeholder(g, dtype, shape, "x");
  Output b = placeholder(g, dtype, kept_shape, "b");
  FusedProgram p(2);
  int v = p.binary(Op::Mul, p.binary(Op::Add, 0, 1), 0);
  p.output(v);
  p.reduction(v, FusedReduction::Sum, leading, rank - leading);
  p.reduction(v, FusedReduction::Mean, leading, rank);
  p.reduction(0, FusedReduction::Sum, leading, rank - leading + 1);  // one axis kept as 1
  FusedNode node = fused_elementwise({x, b}, dtype, p, "f");
  BOOST_TEST_REQUIRE(node.outputs.size() == 4u);
  BOOST_TEST(node.outputs[1].shape() == kept_shape, context);
  std::vector<std::int64_t> ones(static_cast<std::size_t>(leading), 1);
  ones.insert(ones.end(), kept_dims.begin(), kept_dims.end());
  BOOST_TEST(node.outputs[2].shape() == Shape(ones), context);
  BOOST_TEST(node.outputs[3].shape().rank() == rank - leading + 1, context);

  std::vector<std::int64_t> axes;
  for (int a = 0; a < leading; ++a) axes.push_back(a);
  Output unfused_v = (x + b) * x;
  Output unfused_sum = sum(unfused_v, axes);
  Output unfused_mean = mean(unfused_v, axes, true);
  Output like = placeholder(g, dtype, node.outputs[3].shape(), "like");
  Output unfused_x = sum_to(x, like);

  std::vector<double> xs = draw_positive(total, 5), bs = draw_positive(kept, 6);
  Tensor xt = make_tensor(dtype, shape, xs), bt = make_tensor(dtype, kept_shape, bs);
  Session s(g);
  std::vector<Tensor> got =
      s.run({node.outputs[0], node.outputs[1], node.outputs[2], node.outputs[3], unfused_v,
             unfused_sum, unfused_mean, unfused_x},
            {{x, xt}, {b, bt}, {like, Tensor(dtype, node.outputs[3].shape())}});
  check_same_bits(got[0], got[4], "v " + context);
  check_same_bits(got[1], got[5], "sum " + context);
  if (rows > 0) check_same_bits(got[2], got[6], "mean " + context);
  check_same_bits(got[3], got[7], "sum of x " + context);

  // float64: v from the values as the compute dtype rounds them, summed in double.
  const bool f32 = dtype == DType::float32;
  auto round = [&](double d) { return f32 ? static_cast<double>(static_cast<float>(d)) : d; };
  std::vector<double> want_sum(kept, 0.0), want_x(kept, 0.0);
  for (std::size_t i = 0; i < total; ++i) {
    double xi = round(xs[i]), bi = round(bs[i % kept]);
    want_sum[i % kept] += round(round(xi + bi) * xi);
    want_x[i % kept] += xi;
  }
  const double tol = f32 ? 1e-6 * std::max<double>(1.0, static_cast<double>(rows)) : 1e-13;
  for (std::size_t j = 0; j < kept; ++j) {
    double count = static_cast<double>(rows);
    BOOST_TEST(got[1].value_as_double(static_cast<std::int64_t>(j)) == want_sum[j],
               boost::test_tools::tolerance(tol) << context << " sum column " << j);
    double want_mean = rows == 0 ? 0.0 : want_sum[j] / count;
    BOOST_TEST(got[2].value_as_double(static_cast<std::int64_t>(j)) == want_mean,
               boost::test_tools::tolerance(tol) << context << " mean column " << j);
    BOOST_TEST(got[3].value_as_double(static_cast<std::int64_t>(j)) == want_x[j],
               boost::test_tools::tolerance(tol) << context << " x column " << j);
  }
}

BOOST_AUTO_TEST_CASE(reductions_over_leading_axes_match_float64_and_the_unfused_ops) {
  for (DType dtype : {DType::float32, DType::float64}) {
    check_reductions(dtype, Shape{1, 7}, 1);      // batch 1
    check_reductions(dtype, Shape{5, 13}, 1);     // odd sizes: SIMD body and tail per row
    check_reductions(dtype, Shape{37, 300}, 1);   // many blocks, whose ends fall mid-row
    check_reductions(dtype, Shape{9, 3, 11}, 1);  // rank 3, one leading axis
    check_reductions(dtype, Shape{9, 70, 32}, 2);  // NHWC channel sums: packed rows of 32
    check_reductions(dtype, Shape{33, 2, 5}, 2);   // packed short rows, a partial last block
    check_reductions(dtype, Shape{9, 3, 11}, 2);  // two leading axes
    check_reductions(dtype, Shape{4, 1, 5}, 2);   // a reduced axis of size 1
  }
}

// Zero rows: the sums and means are 0 (the unfused sum's identity; mean's kernel leaves it).
BOOST_AUTO_TEST_CASE(reductions_over_no_rows_are_zero) {
  for (DType dtype : {DType::float32, DType::float64}) {
    Graph g;
    Output x = placeholder(g, dtype, Shape{-1, 3}, "x");
    FusedProgram p(1);
    p.reduction(p.unary(Op::Exp, 0), FusedReduction::Sum, 1, 1);
    p.reduction(0, FusedReduction::Mean, 1, 2);
    FusedNode node = fused_elementwise({x}, dtype, p, "f");
    std::vector<Tensor> got =
        Session(g).run({node.outputs[0], node.outputs[1]}, {{x, Tensor(dtype, Shape{0, 3})}});
    BOOST_TEST(got[0].shape() == Shape({3}));
    BOOST_TEST(got[1].shape() == Shape({1, 3}));
    for (std::int64_t j = 0; j < 3; ++j) {
      BOOST_TEST(got[0].value_as_double(j) == 0.0);
      BOOST_TEST(got[1].value_as_double(j) == 0.0);
    }
  }
}

// A reduction's output may take the buffer of an input it reads broadcast (the memory plan
// lets a one-output fused node write over an input of its output's shape): the sums are
// written after the last read. Computed by hand: column j sums (x + b[j]) over 3 rows.
BOOST_AUTO_TEST_CASE(a_reduction_over_a_broadcast_input_of_its_own_shape) {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{3, 2}, "x");
  Output b = placeholder(g, DType::float64, Shape{2}, "b");
  Output b2 = b * 2.0;  // a step output, so its buffer is one the plan may recycle
  FusedProgram p(2);
  p.reduction(p.binary(Op::Add, 0, 1), FusedReduction::Sum, 1, 1);
  FusedNode node = fused_elementwise({x, b2}, DType::float64, p, "f");
  Tensor got = Session(g).run(node.outputs[0],
                              {{x, make_tensor(DType::float64, Shape{3, 2}, {1, 2, 3, 4, 5, 6})},
                               {b, make_tensor(DType::float64, Shape{2}, {10, 20})}});
  // (1 + 3 + 5) + 3 * 20 = 69, (2 + 4 + 6) + 3 * 40 = 132
  BOOST_TEST(values(got) == std::vector<double>({69.0, 132.0}), boost::test_tools::per_element());
}

// ---- the record, files, errors -----------------------------------------------------------

BOOST_AUTO_TEST_CASE(the_op_is_registered_not_differentiable_and_survives_a_graph_file) {
  const OpRecord& r = default_registry().get("fused_elementwise");
  BOOST_TEST(r.not_differentiable_reason.find("differentiate the original graph") !=
             std::string::npos);
  BOOST_TEST(r.stateful);
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() /
                 ("dagrad_fused_" + std::to_string(std::random_device{}()) + ".dagrad");
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{-1, 3}, "x");
  FusedProgram p(1);
  int y = p.elu(p.binary(Op::Mul, 0, p.constant(-2.5)), 0.4);
  p.output(y);
  p.reduction(y, FusedReduction::Mean, 1, 2);
  fused_elementwise({x}, DType::float64, p, "f");
  save_graph(g, dir.string());
  std::unique_ptr<Graph> loaded = load_graph(dir.string(), default_registry());
  fs::remove_all(dir);
  BOOST_TEST(loaded->node(loaded->output("f").node).attrs.get_ints("reductions") ==
                 std::vector<std::int64_t>({y, 1, 1, 2}),
             boost::test_tools::per_element());
  Tensor in = make_tensor(DType::float64, Shape{2, 3}, {-1, 0, 1, 2, kNaN, 40});
  Tensor a = Session(g).run(g.output("f"), {{x, in}});
  Tensor b = Session(*loaded).run(loaded->output("f"), {{loaded->output("x"), in}});
  check_same_bits(b, a, "loaded");
  Tensor ma = Session(g).run(g.output("f:1"), {{x, in}});
  Tensor mb = Session(*loaded).run(loaded->output("f:1"), {{loaded->output("x"), in}});
  check_same_bits(mb, ma, "loaded mean");
  BOOST_TEST(ma.shape() == Shape({1, 3}));
  BOOST_TEST(ma.value_as_double(0) == (2.5 + 0.4 * std::expm1(-5.0)) / 2,
             boost::test_tools::tolerance(1e-15));
  BOOST_TEST(a.value_as_double(0) == 2.5);
  BOOST_TEST(a.value_as_double(2) == 0.4 * std::expm1(-2.5), boost::test_tools::tolerance(1e-15));
}

// A malformed node is a ShapeError naming the node, the op and the problem, and adds nothing.
BOOST_AUTO_TEST_CASE(malformed_programs_are_errors_that_name_the_problem) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{2, 3}, "x");
  Output row = placeholder(g, DType::float32, Shape{3}, "row");
  Output mask = placeholder(g, DType::boolean, Shape{2, 3}, "mask");
  Output ints = placeholder(g, DType::int32, Shape{2, 3}, "ints");
  Output x64 = placeholder(g, DType::float64, Shape{2, 3}, "x64");
  Output v = variable(g, Tensor(DType::float32, Shape{2, 3}), "v");
  using Ints = std::vector<std::int64_t>;
  auto node = [&](std::vector<Output> inputs, Ints program, Ints outputs, Ints stores = {},
                  std::vector<double> constants = {1.0, 2.0}, DType dtype = DType::float32) {
    return [=, &g] {
      g.add_node("fused_elementwise", inputs,
                 {{"dtype", dtype},
                  {"program", program},
                  {"constants", Tensor::from_vector<double>(
                                    Shape{static_cast<std::int64_t>(constants.size())}, constants)},
                  {"outputs", outputs},
                  {"stores", stores}},
                 {"bad"});
    };
  };
  const std::vector<std::string> op = {"'bad'", "fused_elementwise"};
  auto with = [&](std::vector<std::string> more) {
    more.insert(more.end(), op.begin(), op.end());
    return more;
  };
  check_build_error(g, node({x}, {4, 0, -1, -1}, {1}, {}, {}, DType::int32),
                    with({"dtype must be float32 or float64, got int32"}));
  check_build_error(g, node({x, ints}, {22, 0, 1, -1}, {2}),
                    with({"input 1 is int32", "float32 (the dtype attribute) or bool"}));
  check_build_error(g, node({x, x64}, {22, 0, 1, -1}, {2}), with({"input 1 is float64"}));
  check_build_error(g, node({x, placeholder(g, DType::float32, Shape{4})}, {22, 0, 1, -1}, {2}),
                    with({"input 1 of shape (4,) does not broadcast", "(2, 3)"}));
  check_build_error(g, node({x}, {4, 0, -1}, {1}), with({"program has 3 ints", "multiple of 4"}));
  check_build_error(g, node({x}, {99, 0, -1, -1}, {1}),
                    with({"instruction 0: unknown opcode 99", "0 to 34"}));
  check_build_error(g, node({x}, {4, 0, -1, -1, 22, 1, 2, -1}, {2}),
                    with({"instruction 1 (add)", "operand b = 2", "not a register defined before",
                          "registers 0 to 1"}));
  check_build_error(g, node({x}, {4, -1, -1, -1}, {1}),
                    with({"instruction 0 (neg)", "operand a = -1", "not a register"}));
  check_build_error(g, node({x}, {4, 0, 0, -1}, {1}),
                    with({"instruction 0 (neg)", "operand b = 0 must be -1 (unused)"}));
  check_build_error(g, node({x}, {0, 2, -1, -1}, {1}),
                    with({"instruction 0 (const)", "operand a = 2", "not an index into constants",
                          "2 constants"}));
  check_build_error(g, node({x}, {18, 0, 5, -1}, {1}),
                    with({"instruction 0 (elu)", "operand b = 5", "constants"}));
  check_build_error(g, node({x}, {21, 0, 1, 0}, {1}),
                    with({"instruction 0 (clip_by_value)", "lower bound 2 exceeds upper bound 1"}));
  check_build_error(
      g, node({x}, {4, 0, -1, -1}, {1, 2}),
      with({"output 1 takes register 2", "2 registers (1 inputs and 1 instructions)"}));
  check_build_error(g, node({x}, {4, 0, -1, -1}, {}),
                    with({"needs at least one output, reduction or store"}));
  auto reducing = [&](Ints reductions) {
    return [=, &g] {
      g.add_node("fused_elementwise", {x},
                 {{"dtype", DType::float32},
                  {"program", Ints{4, 0, -1, -1}},
                  {"outputs", Ints{}},
                  {"reductions", reductions}},
                 {"bad"});
    };
  };
  check_build_error(g, reducing({1, 0, 1}),
                    with({"reductions has 3 ints", "[register, kind, leading, rank]"}));
  check_build_error(g, reducing({2, 0, 1, 1}),
                    with({"reduction 0 takes register 2", "2 registers"}));
  check_build_error(g, reducing({1, 2, 1, 1}), with({"reduction 0: unknown kind 2", "1: mean"}));
  check_build_error(g, reducing({1, 0, 0, 2}),
                    with({"reduction 0: leading = 0", "full shape (2, 3)", "1 to 2"}));
  check_build_error(g, reducing({1, 0, 1, 1, 1, 1, 3, 2}),
                    with({"reduction 1: leading = 3", "1 to 2"}));
  check_build_error(g, reducing({1, 0, 1, 0}),
                    with({"reduction 0: rank = 0", "between 1", "and 2", "1 leading axes"}));
  check_build_error(g, reducing({1, 0, 2, 3}), with({"reduction 0: rank = 3", "between 0"}));
  check_build_error(g, node({v, x}, {4, 1, -1, -1}, {}, {2}), with({"stores has 1 ints"}));
  check_build_error(g, node({v, x}, {4, 1, -1, -1}, {}, {2, 2}),
                    with({"store 0 writes input 2", "2 inputs"}));
  check_build_error(g, node({v, x}, {4, 1, -1, -1}, {}, {5, 0}),
                    with({"store 0 takes register 5"}));
  check_build_error(g, node({v, x}, {4, 1, -1, -1}, {}, {2, 0, 1, 0}),
                    with({"store 1 (into input 0)", "already a store target"}));
  check_build_error(g, node({mask, x}, {4, 1, -1, -1}, {}, {2, 0}),
                    with({"store 0 (into input 0)", "target is bool", "compute dtype float32"}));
  check_build_error(g, node({row, x}, {4, 1, -1, -1}, {}, {2, 0}),
                    with({"store 0 (into input 0)", "shape (3,)", "full shape (2, 3)"}));
  BOOST_CHECK_EXCEPTION(g.add_node("fused_elementwise", {x},
                                   {{"dtype", DType::float32},
                                    {"program", Ints{4, 0, -1, -1}},
                                    {"constants", Tensor::from_vector<float>({1}, {1.0f})},
                                    {"outputs", Ints{1}}},
                                   {"bad"}),
                        ShapeError,
                        mentions_all<ShapeError>(with({"constants must be a 1-D float64 tensor"})));

  // The builder refuses opcodes of the wrong kind, and a program for another input count.
  FusedProgram p(1);
  BOOST_CHECK_EXCEPTION(p.unary(Op::Add, 0), GraphError,
                        mentions_all<GraphError>({"unary", "opcode 22 (add)"}));
  BOOST_CHECK_EXCEPTION(p.binary(Op::Where, 0, 0), GraphError,
                        mentions_all<GraphError>({"binary", "opcode 34 (where)"}));
  p.output(0);
  BOOST_CHECK_EXCEPTION(fused_elementwise({x, x}, DType::float32, p), GraphError,
                        mentions_all<GraphError>({"reads 1 inputs, got 2"}));
}

// A store target that fits the full shape at build time but not at run time fails then.
BOOST_AUTO_TEST_CASE(a_store_target_of_the_wrong_run_time_shape_is_an_error) {
  Graph g;
  Output target = variable(g, Tensor(DType::float32, Shape{1, 3}), "target");
  Output other = placeholder(g, DType::float32, Shape{-1, 3}, "other");
  FusedProgram p(2);
  p.store(p.binary(Op::Add, 0, 1), 0);
  FusedNode node = fused_elementwise({target, other}, DType::float32, p, "update");
  Session s(g);
  s.initialize_variables();
  BOOST_CHECK_EXCEPTION(
      s.run_targets({node.operation}, {{other, Tensor(DType::float32, Shape{4, 3})}}),
      ShapeError,
      mentions_all<ShapeError>(
          {"'update'", "store 0 (into input 0)", "shape (1, 3)", "full shape (4, 3)"}));
}

BOOST_AUTO_TEST_SUITE_END()
