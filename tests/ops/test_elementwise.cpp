// Forward tests of the unary elementwise ops (ops/elementwise.cpp): values against the math
// formulas evaluated in double, in float32, float64 and (for the signed-domain ops) int32 and
// int64; numerically delicate edges; and the build-time ShapeError for a bad input dtype.
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "dagrad/dagrad.hpp"
#include "ops/op_test_util.hpp"

namespace bdata = boost::unit_test::data;
using namespace dagrad;
using namespace dagrad::testing;

namespace {

// ---- helpers ---------------------------------------------------------------------------------

// Runs y = build(x) with x a placeholder of `dtype` and shape (?,) fed with tiled(inputs).
Tensor run_unary(const std::function<Output(Output, OpName)>& build, DType dtype,
                 const std::vector<double>& inputs, Shape* build_shape = nullptr) {
  Graph g;
  Output x = placeholder(g, dtype, Shape{-1}, "x");
  Output y = build(x, "y");
  BOOST_TEST((y.dtype() == dtype));
  if (build_shape) *build_shape = y.shape();
  Session s(g);
  std::vector<double> fed = tiled(inputs);
  auto n = static_cast<std::int64_t>(fed.size());
  return s.run(y, {{x, make_tensor(dtype, Shape{n}, fed)}});
}

// ---- the table of unary ops ------------------------------------------------------------------

struct UnaryCase {
  std::string op;     // registered op name
  std::string label;  // op plus attributes, for the log
  std::function<Output(Output, OpName)> build;
  std::function<double(double)> reference;  // the math formula, in double
  std::vector<double> inputs;               // inside the op's domain
  bool accepts_integers;                    // neg, abs, sign, square
};

std::ostream& operator<<(std::ostream& os, const UnaryCase& c) {
  return os << c.label;
}

const double kSeluAlpha = 1.6732632423543772848170429916717;
const double kSeluScale = 1.0507009873554804934193349852946;

const std::vector<double> kGeneral = {-100, -7.75, -2, -1,  -0.5, -1e-3, 0,   1e-3,
                                      0.25, 1,     2,  3.5, 7.75, 42,    1000};
const std::vector<double> kPositive = {1e-6, 1e-3, 0.01, 0.25,    0.5, 0.9, 1, 2, 2.718281828459045,
                                       3.3,  10,   100,  12345.5, 1e6};
const std::vector<double> kSmooth = {-30,  -10, -5, -2, -1, -0.5, -1e-4, 0,
                                     1e-4, 0.5, 1,  2,  5,  10,   30};
// Integer-valued inputs for the ops that accept ints; 46340^2 still fits in int32.
const std::vector<double> kIntegers = {-46340, -100, -7, -2, -1, 0, 1, 2, 3, 12, 100, 46340};

double sign_of(double x) {
  return x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0);
}

std::vector<UnaryCase> unary_cases() {
  return {
      {"neg", "neg", [](Output x, OpName n) { return neg(x, n); }, [](double x) { return -x; },
       kGeneral, true},
      {"abs", "abs", [](Output x, OpName n) { return dagrad::abs(x, n); },
       [](double x) { return std::fabs(x); }, kGeneral, true},
      {"sign", "sign", [](Output x, OpName n) { return sign(x, n); }, sign_of, kGeneral, true},
      {"exp", "exp", [](Output x, OpName n) { return dagrad::exp(x, n); },
       [](double x) { return std::exp(x); }, kSmooth, false},
      {"log", "log", [](Output x, OpName n) { return dagrad::log(x, n); },
       [](double x) { return std::log(x); }, kPositive, false},
      {"log1p",
       "log1p",
       [](Output x, OpName n) { return dagrad::log1p(x, n); },
       [](double x) { return std::log1p(x); },
       {-0.999, -0.9, -0.5, -1e-7, 0, 1e-10, 1e-8, 1e-3, 0.5, 1, 10, 1000, 1e6},
       false},
      {"sqrt",
       "sqrt",
       [](Output x, OpName n) { return dagrad::sqrt(x, n); },
       [](double x) { return std::sqrt(x); },
       {0, 1e-6, 0.25, 1, 2, 4, 9, 10, 123.456, 1e4, 1e10},
       false},
      {"rsqrt", "rsqrt", [](Output x, OpName n) { return rsqrt(x, n); },
       [](double x) { return 1.0 / std::sqrt(x); }, kPositive, false},
      {"square", "square", [](Output x, OpName n) { return square(x, n); },
       [](double x) { return x * x; }, kGeneral, true},
      {"reciprocal",
       "reciprocal",
       [](Output x, OpName n) { return reciprocal(x, n); },
       [](double x) { return 1.0 / x; },
       {-1000, -4, -0.5, -1e-3, 1e-3, 0.1, 0.25, 1, 2, 3, 7, 1e4},
       false},
      {"sigmoid", "sigmoid", [](Output x, OpName n) { return sigmoid(x, n); },
       [](double x) { return 1.0 / (1.0 + std::exp(-x)); }, kSmooth, false},
      {"tanh",
       "tanh",
       [](Output x, OpName n) { return dagrad::tanh(x, n); },
       [](double x) { return std::tanh(x); },
       {-20, -3, -1, -0.5, -0.1, -1e-4, 0, 1e-4, 0.1, 0.5, 1, 3, 20},
       false},
      {"relu", "relu", [](Output x, OpName n) { return relu(x, n); },
       [](double x) { return x > 0 ? x : 0.0; }, kGeneral, false},
      // softplus(x) = log(1 + e^x); e^30 does not overflow a double.
      {"softplus", "softplus", [](Output x, OpName n) { return softplus(x, n); },
       [](double x) { return std::log1p(std::exp(x)); }, kSmooth, false},
      {"elu", "elu(alpha=1)", [](Output x, OpName n) { return elu(x, 1.0, n); },
       [](double x) { return x > 0 ? x : std::exp(x) - 1.0; }, kSmooth, false},
      {"elu", "elu(alpha=0.5)", [](Output x, OpName n) { return elu(x, 0.5, n); },
       [](double x) { return x > 0 ? x : 0.5 * (std::exp(x) - 1.0); }, kSmooth, false},
      {"selu", "selu", [](Output x, OpName n) { return selu(x, n); },
       [](double x) { return kSeluScale * (x > 0 ? x : kSeluAlpha * (std::exp(x) - 1.0)); },
       kSmooth, false},
      {"leaky_relu", "leaky_relu(alpha=0.2)",
       [](Output x, OpName n) { return leaky_relu(x, 0.2, n); },
       [](double x) { return x > 0 ? x : 0.2 * x; }, kGeneral, false},
      {"leaky_relu", "leaky_relu(alpha=0.01)",
       [](Output x, OpName n) { return leaky_relu(x, 0.01, n); },
       [](double x) { return x > 0 ? x : 0.01 * x; }, kGeneral, false},
  };
}

// Only exact zeros need an absolute tolerance; everything else is compared relatively.
constexpr double kAbsFloor = 1e-300;

}  // namespace

BOOST_AUTO_TEST_SUITE(elementwise)

BOOST_DATA_TEST_CASE(unary_forward_float, bdata::make(unary_cases()), c) {
  for (DType dtype : {DType::float32, DType::float64}) {
    std::vector<double> expected;
    for (double x : c.inputs) expected.push_back(c.reference(rounded_to(dtype, x)));
    Shape shape;
    Tensor y = run_unary(c.build, dtype, c.inputs, &shape);
    BOOST_TEST((shape == Shape{-1}));
    BOOST_TEST((y.dtype() == dtype));
    BOOST_TEST((y.shape() == Shape{static_cast<std::int64_t>(tiled(c.inputs).size())}));
    check_values(y, expected, rel_tolerance(dtype), kAbsFloor,
                 c.label + " " + std::string(dtype_name(dtype)));
  }
}

BOOST_DATA_TEST_CASE(unary_forward_integers, bdata::make(unary_cases()), c) {
  if (!c.accepts_integers) return;
  for (DType dtype : {DType::int32, DType::int64}) {
    std::vector<double> expected;
    for (double x : kIntegers) expected.push_back(c.reference(x));
    Tensor y = run_unary(c.build, dtype, kIntegers);
    BOOST_TEST((y.dtype() == dtype));
    check_values(y, expected, 0.0, 0.0, c.label + " " + std::string(dtype_name(dtype)));
  }
}

// Values beyond int32 (exact in double, so the reference is exact).
BOOST_AUTO_TEST_CASE(unary_int64_large_values) {
  Graph g;
  Output x = placeholder(g, DType::int64, Shape{3}, "x");
  Output n = neg(x), a = dagrad::abs(x), s = sign(x), q = square(x);
  Session sess(g);
  auto out =
      sess.run({n, a, s, q},
               {{x, Tensor::from_vector<std::int64_t>({3}, {-3000000000LL, 0, 3000000000LL})}});
  BOOST_TEST(out[0].to_vector<std::int64_t>() ==
                 (std::vector<std::int64_t>{3000000000LL, 0, -3000000000LL}),
             boost::test_tools::per_element());
  BOOST_TEST(out[1].to_vector<std::int64_t>() ==
                 (std::vector<std::int64_t>{3000000000LL, 0, 3000000000LL}),
             boost::test_tools::per_element());
  BOOST_TEST(out[2].to_vector<std::int64_t>() == (std::vector<std::int64_t>{-1, 0, 1}),
             boost::test_tools::per_element());
  BOOST_TEST(out[3].to_vector<std::int64_t>() ==
                 (std::vector<std::int64_t>{9000000000000000000LL, 0, 9000000000000000000LL}),
             boost::test_tools::per_element());
}

// Integer arithmetic wraps as two's complement (docs/adding-an-op.md), without undefined
// behaviour: values computed by hand modulo 2^32 and 2^64. Regression: neg, abs and square
// overflowed as signed arithmetic (UBSan: "negation of -2147483648 cannot be represented").
BOOST_AUTO_TEST_CASE(unary_integer_overflow_wraps) {
  Graph g;
  Output x32 = placeholder(g, DType::int32, Shape{4}, "x32");
  Output x64 = placeholder(g, DType::int64, Shape{4}, "x64");
  Session sess(g);
  const std::int32_t min32 = std::numeric_limits<std::int32_t>::min();
  const std::int32_t max32 = std::numeric_limits<std::int32_t>::max();
  const std::int64_t min64 = std::numeric_limits<std::int64_t>::min();
  const std::int64_t max64 = std::numeric_limits<std::int64_t>::max();
  auto out32 = sess.run({neg(x32), dagrad::abs(x32), square(x32), sign(x32)},
                        {{x32, Tensor::from_vector<std::int32_t>({4}, {min32, max32, 46341, -5})}});
  // -min = 2^31 wraps to min; |min| likewise; 46341^2 = 2147488281 = 2^32 - 2147479015.
  using V32 = std::vector<std::int32_t>;
  BOOST_TEST(out32[0].to_vector<std::int32_t>() == (V32{min32, -max32, -46341, 5}),
             boost::test_tools::per_element());
  BOOST_TEST(out32[1].to_vector<std::int32_t>() == (V32{min32, max32, 46341, 5}),
             boost::test_tools::per_element());
  // min^2 = 2^62 and max^2 = 2^62 - 2^32 + 1 are 0 and 1 modulo 2^32.
  BOOST_TEST(out32[2].to_vector<std::int32_t>() == (V32{0, 1, -2147479015, 25}),
             boost::test_tools::per_element());
  BOOST_TEST(out32[3].to_vector<std::int32_t>() == (V32{-1, 1, 1, -1}),
             boost::test_tools::per_element());
  auto out64 =
      sess.run({neg(x64), dagrad::abs(x64), square(x64)},
               {{x64, Tensor::from_vector<std::int64_t>({4}, {min64, max64, 3037000500LL, -7})}});
  using V64 = std::vector<std::int64_t>;
  BOOST_TEST(out64[0].to_vector<std::int64_t>() == (V64{min64, -max64, -3037000500LL, 7}),
             boost::test_tools::per_element());
  BOOST_TEST(out64[1].to_vector<std::int64_t>() == (V64{min64, max64, 3037000500LL, 7}),
             boost::test_tools::per_element());
  // 3037000500^2 = 9223372037000250000 = 2^64 - 9223372036709301616.
  BOOST_TEST(out64[2].to_vector<std::int64_t>() == (V64{0, 1, -9223372036709301616LL, 49}),
             boost::test_tools::per_element());
}

// A rank-2 input of 35 elements: several SIMD registers plus a partial tail, and the output keeps
// the input's shape.
BOOST_AUTO_TEST_CASE(unary_keeps_shape_rank2) {
  for (DType dtype : {DType::float32, DType::float64}) {
    Graph g;
    std::vector<double> values;
    for (int i = 0; i < 35; ++i) values.push_back(-3.0 + 0.17 * i);
    Output x = constant(g, make_tensor(dtype, Shape{5, 7}, values), "x");
    Output y = dagrad::exp(x, "y");
    BOOST_TEST((y.shape() == Shape{5, 7}));
    Session s(g);
    Tensor out = s.run(y);
    BOOST_TEST((out.shape() == Shape{5, 7}));
    std::vector<double> expected;
    for (double v : values) expected.push_back(std::exp(rounded_to(dtype, v)));
    check_values(out, expected, rel_tolerance(dtype), 0.0, "exp (5, 7)");
  }
}

BOOST_AUTO_TEST_CASE(unary_of_scalar) {
  Graph g;
  Output x = scalar(g, 4.0, DType::float64, "four");
  Output y = dagrad::sqrt(x);
  BOOST_TEST((y.shape() == Shape{}));
  Session s(g);
  Tensor out = s.run(y);
  BOOST_TEST((out.shape() == Shape{}));
  BOOST_TEST(out.item<double>() == 2.0);
}

// ---- numerically delicate edges --------------------------------------------------------------

BOOST_AUTO_TEST_CASE(sigmoid_extremes_are_finite_and_correct) {
  const std::vector<double> xs = {-1000, -100, -50, 0, 50, 100, 1000};
  // float64: 1/(1+e^-x) evaluated in double; sigmoid(-100) = 3.7200759760208356e-44,
  // sigmoid(100) = 1.
  Tensor y64 = run_unary([](Output x, OpName n) { return sigmoid(x, n); }, DType::float64, xs);
  std::vector<double> expected64;
  for (double x : xs) expected64.push_back(1.0 / (1.0 + std::exp(-x)));
  check_values(y64, expected64, 1e-13, 0.0, "sigmoid float64");
  check_values(y64, {0.0, 3.7200759760208356e-44, 1.9287498479639178e-22, 0.5, 1.0, 1.0, 1.0},
               1e-12, 0.0, "sigmoid float64 (literals)");

  // float32: sigmoid(-100) is below the normal range (a subnormal ~3.7e-44, or 0):
  // accept [0, 1e-40]; sigmoid(-50) = 1.9287e-22 is a normal float32.
  Tensor y32 = run_unary([](Output x, OpName n) { return sigmoid(x, n); }, DType::float32, xs);
  check_values(y32, {0.0, 0.0, 1.9287498479639178e-22, 0.5, 1.0, 1.0, 1.0}, 1e-6, 1e-40,
               "sigmoid float32");
  for (std::int64_t i = 0; i < y32.size(); ++i) BOOST_TEST(y32.value_as_double(i) >= 0.0);
}

BOOST_AUTO_TEST_CASE(softplus_extremes) {
  const std::vector<double> xs = {-1000, -100, 0, 100, 1000};
  // log(1 + e^-100) = e^-100 (1 - e^-100/2 + ...) = 3.720075976020836e-44; softplus(100) = 100
  // exactly in double (the correction is 1e-44 relative).
  const std::vector<double> expected = {0.0, 3.720075976020836e-44, 0.69314718055994531, 100.0,
                                        1000.0};
  Tensor y64 = run_unary([](Output x, OpName n) { return softplus(x, n); }, DType::float64, xs);
  check_values(y64, expected, 1e-13, 0.0, "softplus float64");
  check_values(y64, {0.0, std::exp(-100.0), std::log(2.0), 100.0, 1000.0}, 1e-13, 0.0,
               "softplus float64 (formula)");
  for (std::int64_t i = 0; i < y64.size(); ++i)
    if (i % 5 == 3) BOOST_TEST(y64.value_as_double(i) == 100.0);  // exactly

  Tensor y32 = run_unary([](Output x, OpName n) { return softplus(x, n); }, DType::float32, xs);
  check_values(y32, {0.0, 0.0, 0.69314718055994531, 100.0, 1000.0}, 1e-6, 1e-40,
               "softplus float32");
  for (std::int64_t i = 0; i < y32.size(); ++i) BOOST_TEST(y32.value_as_double(i) >= 0.0);
}

BOOST_AUTO_TEST_CASE(tanh_saturates) {
  for (DType dtype : {DType::float32, DType::float64}) {
    Tensor y = run_unary([](Output x, OpName n) { return dagrad::tanh(x, n); }, dtype,
                         {-1000, -50, 50, 1000});
    check_values(y, {-1, -1, 1, 1}, 0.0, 0.0, "tanh " + std::string(dtype_name(dtype)));
  }
}

BOOST_AUTO_TEST_CASE(exp_overflow_and_log_edges_follow_ieee) {
  Tensor e = run_unary([](Output x, OpName n) { return dagrad::exp(x, n); }, DType::float64,
                       {-1000, 1000});
  check_values(e, {0.0, std::numeric_limits<double>::infinity()}, 0.0, 0.0, "exp float64");
  Tensor l =
      run_unary([](Output x, OpName n) { return dagrad::log(x, n); }, DType::float64, {0.0, -1.0});
  BOOST_TEST(l.to_vector<double>()[0] == -std::numeric_limits<double>::infinity());
  BOOST_TEST(std::isnan(l.to_vector<double>()[1]));
  Tensor r = run_unary([](Output x, OpName n) { return reciprocal(x, n); }, DType::float32, {0.0});
  BOOST_TEST(r.to_vector<float>()[0] == std::numeric_limits<float>::infinity());
}

// Keras: elu(x) = x if x > 0 else alpha (e^x - 1), alpha defaults to 1.
BOOST_AUTO_TEST_CASE(elu_negative_zero_positive) {
  const std::vector<double> xs = {-100, -1, 0, 2};
  for (DType dtype : {DType::float32, DType::float64}) {
    std::string dt(dtype_name(dtype));
    Tensor y = run_unary([](Output x, OpName n) { return elu(x, 1.0, n); }, dtype, xs);
    // e^-1 - 1 = -0.63212055882855767
    check_values(y, {-1.0, -0.63212055882855767, 0.0, 2.0}, rel_tolerance(dtype), 0.0, "elu " + dt);
    Tensor y2 = run_unary([](Output x, OpName n) { return elu(x, 0.3, n); }, dtype, xs);
    check_values(y2, {-0.3, 0.3 * -0.63212055882855767, 0.0, 2.0}, rel_tolerance(dtype), 0.0,
                 "elu(0.3) " + dt);
  }
  // The builder's default alpha is Keras's 1.0, recorded on the node.
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{1}, "x");
  BOOST_TEST(elu(x).producer().attrs.get_float("alpha") == 1.0);
}

// Keras: selu(x) = scale * (x if x > 0 else alpha (e^x - 1)).
BOOST_AUTO_TEST_CASE(selu_negative_zero_positive) {
  const std::vector<double> xs = {-100, -1, 0, 1, 2};
  const double sat = -kSeluScale * kSeluAlpha;  // -1.7580993408473766
  BOOST_TEST(sat == -1.7580993408473766, boost::test_tools::tolerance(1e-15));
  for (DType dtype : {DType::float32, DType::float64}) {
    Tensor y = run_unary([](Output x, OpName n) { return selu(x, n); }, dtype, xs);
    check_values(y,
                 {sat, kSeluScale * kSeluAlpha * (std::exp(-1.0) - 1.0), 0.0, 1.0507009873554805,
                  2.101401974710961},
                 rel_tolerance(dtype), 0.0, "selu " + std::string(dtype_name(dtype)));
    // selu(-1) = 1.0507009873554805 * 1.6732632423543772 * (e^-1 - 1) = -1.1113307378125625
    BOOST_TEST(y.value_as_double(1) == -1.1113307378125625,
               boost::test_tools::tolerance(rel_tolerance(dtype)));
  }
}

// Keras: leaky_relu(x) = x if x > 0 else alpha x, alpha defaults to 0.2 (tf.nn's default is
// 0.2 too).
BOOST_AUTO_TEST_CASE(leaky_relu_negative_zero_positive) {
  const std::vector<double> xs = {-10, -2, -0.5, 0, 0.5, 3};
  for (DType dtype : {DType::float32, DType::float64}) {
    std::string dt(dtype_name(dtype));
    Tensor y = run_unary([](Output x, OpName n) { return leaky_relu(x, 0.2, n); }, dtype, xs);
    check_values(y, {-2.0, -0.4, -0.1, 0.0, 0.5, 3.0}, rel_tolerance(dtype), 0.0,
                 "leaky_relu " + dt);
    Tensor y2 = run_unary([](Output x, OpName n) { return leaky_relu(x, 0.05, n); }, dtype, xs);
    check_values(y2, {-0.5, -0.1, -0.025, 0.0, 0.5, 3.0}, rel_tolerance(dtype), 0.0,
                 "leaky_relu(0.05) " + dt);
  }
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{1}, "x");
  BOOST_TEST(leaky_relu(x).producer().attrs.get_float("alpha") == 0.2);
  BOOST_TEST(leaky_relu(x, 0.01).producer().attrs.get_float("alpha") == 0.01);
}

BOOST_AUTO_TEST_CASE(relu_and_sign_at_zero) {
  for (DType dtype : {DType::float32, DType::float64}) {
    Tensor r = run_unary([](Output x, OpName n) { return relu(x, n); }, dtype, {-0.0, 0.0});
    check_values(r, {0.0, 0.0}, 0.0, 0.0, "relu at 0");
    Tensor s =
        run_unary([](Output x, OpName n) { return sign(x, n); }, dtype, {-0.0, 0.0, -1e-30, 1e-30});
    check_values(s, {0.0, 0.0, -1.0, 1.0}, 0.0, 0.0, "sign near 0");
  }
}

// ---- a value does not depend on where it lies ------------------------------------------------

// The float kernels run whole SIMD batches and then the last n % lanes elements on a padded
// batch of the same function: each value at every position of a long array (body and tail)
// has exactly the bits it has alone (a one-element array is all tail).
BOOST_DATA_TEST_CASE(unary_float_values_do_not_depend_on_position, bdata::make(unary_cases()), c) {
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> edges = {std::numeric_limits<double>::quiet_NaN(),
                                     inf,
                                     -inf,
                                     0.0,
                                     -0.0,
                                     1e-40,
                                     -1e-310,
                                     0.3,
                                     -0.7,
                                     2.5,
                                     -6.0,
                                     88.72,
                                     88.73,
                                     -103.9,
                                     709.78,
                                     -745.2,
                                     1e30,
                                     -1e30,
                                     1e-8,
                                     17.0};
  for (DType dtype : {DType::float32, DType::float64}) {
    std::vector<double> long_input;
    for (std::size_t i = 0; i < 1003; ++i) long_input.push_back(edges[(i * 7) % edges.size()]);
    Graph g;
    Output x = placeholder(g, dtype, Shape{-1}, "x");
    Output y = c.build(x, "y");
    Session s(g);
    auto n = static_cast<std::int64_t>(long_input.size());
    Tensor all = s.run(y, {{x, make_tensor(dtype, Shape{n}, long_input)}});
    std::vector<Tensor> alone;
    for (double v : edges) alone.push_back(s.run(y, {{x, make_tensor(dtype, Shape{1}, {v})}}));
    std::size_t width = dtype_size(dtype);
    for (std::int64_t i = 0; i < n; ++i) {
      const Tensor& one = alone[(static_cast<std::size_t>(i) * 7) % edges.size()];
      bool same =
          std::memcmp(static_cast<const char*>(all.raw()) + i * width, one.raw(), width) == 0;
      BOOST_TEST(same, c.label << " " << dtype_name(dtype) << " element " << i << " (input "
                               << long_input[static_cast<std::size_t>(i)]
                               << "): " << all.value_as_double(i) << " vs "
                               << one.value_as_double(0) << " alone");
    }
  }
}

// ---- bad input dtypes are rejected at build time ---------------------------------------------

BOOST_DATA_TEST_CASE(unary_rejects_bad_dtype, bdata::make(unary_cases()), c) {
  std::vector<DType> bad = {DType::boolean};
  if (!c.accepts_integers) {
    bad.push_back(DType::int32);
    bad.push_back(DType::int64);
  }
  for (DType dtype : bad) {
    Graph g;
    Output x = placeholder(g, dtype, Shape{2, 3}, "input");
    int before = g.num_nodes();
    std::string dt(dtype_name(dtype));
    BOOST_CHECK_EXCEPTION(
        c.build(x, "bad_node"), ShapeError,
        mentions_all<ShapeError>(
            {"'bad_node'", "op " + c.op, "input: " + dt + " (2, 3)", dt, "test_elementwise.cpp"}));
    BOOST_TEST(g.num_nodes() == before, c.label << " " << dt << " left the graph changed");
    BOOST_TEST(g.find_node("bad_node") == nullptr);
  }
}

// The signed-domain ops do accept ints; the float-only ones do accept both float dtypes.
BOOST_DATA_TEST_CASE(unary_accepts_its_domain, bdata::make(unary_cases()), c) {
  std::vector<DType> good = {DType::float32, DType::float64};
  if (c.accepts_integers) {
    good.push_back(DType::int32);
    good.push_back(DType::int64);
  }
  for (DType dtype : good) {
    Graph g;
    Output x = placeholder(g, dtype, Shape{-1, 3}, "x");
    Output y;
    BOOST_CHECK_NO_THROW(y = c.build(x, "y"));
    BOOST_TEST((y.dtype() == dtype));
    BOOST_TEST(y.shape().to_string() == "(?, 3)");
    BOOST_TEST(y.producer().op->name == c.op);
  }
}

BOOST_AUTO_TEST_SUITE_END()
