// NaN in, NaN out: a diverged network must show NaN, not calm zeros. xsimd's max/min return their
// second operand when either is NaN, so kernels written with max/min turned NaN into 0 or into a
// clip bound (relu, elu, selu, maximum, minimum, clip_by_value: found by the experiments).
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "dagrad/dagrad.hpp"
#include "ops/op_test_util.hpp"

using namespace dagrad;
using namespace dagrad::testing;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Element i of y = build(x) for x = values (fed as a vector long enough for the SIMD paths).
std::vector<double> run(const std::function<Output(Output)>& build, DType dtype,
                        const std::vector<double>& values) {
  Graph g;
  Output x = placeholder(g, dtype, Shape{-1}, "x");
  Output y = build(x);
  Session s(g);
  std::vector<double> fed = tiled(values);
  Tensor out =
      s.run(y, {{x, make_tensor(dtype, Shape{static_cast<std::int64_t>(fed.size())}, fed)}});
  std::vector<double> got;
  for (std::int64_t i = 0; i < out.size(); ++i) got.push_back(out.value_as_double(i));
  return got;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(nan_propagation)

BOOST_AUTO_TEST_CASE(unary_activations_keep_nan_and_their_values) {
  const std::vector<std::pair<std::string, std::function<Output(Output)>>> ops = {
      {"relu", [](Output x) { return relu(x); }},
      {"elu", [](Output x) { return elu(x); }},
      {"selu", [](Output x) { return selu(x); }},
      {"leaky_relu", [](Output x) { return leaky_relu(x); }},
      {"softplus", [](Output x) { return softplus(x); }},
      {"sigmoid", [](Output x) { return sigmoid(x); }},
      {"tanh", [](Output x) { return tanh(x); }},
      {"clip_by_value", [](Output x) { return clip_by_value(x, -1.0, 1.0); }},
  };
  for (DType dtype : {DType::float32, DType::float64})
    for (const auto& [name, build] : ops) {
      BOOST_TEST_CONTEXT(name << " " << dtype_name(dtype)) {
        std::vector<double> got = run(build, dtype, {kNaN, -2.0, 3.0});
        for (std::size_t i = 0; i < got.size(); i += 3) {
          BOOST_TEST(std::isnan(got[i]), "element " << i << " is " << got[i]);
          BOOST_TEST(!std::isnan(got[i + 1]));
          BOOST_TEST(!std::isnan(got[i + 2]));
        }
      }
    }
  // The values around NaN are still right (relu(-2) = 0, elu(-2) = e^-2 - 1, clip(3) = 1).
  std::vector<double> r = run([](Output x) { return relu(x); }, DType::float32, {kNaN, -2.0, 3.0});
  BOOST_TEST(r[1] == 0.0);
  BOOST_TEST(r[2] == 3.0);
  std::vector<double> e = run([](Output x) { return elu(x); }, DType::float64, {kNaN, -2.0, 3.0});
  BOOST_TEST(e[1] == std::expm1(-2.0));
  std::vector<double> c =
      run([](Output x) { return clip_by_value(x, -1.0, 1.0); }, DType::float32, {kNaN, -2.0, 3.0});
  BOOST_TEST(c[1] == -1.0);
  BOOST_TEST(c[2] == 1.0);
}

BOOST_AUTO_TEST_CASE(maximum_and_minimum_give_nan_when_either_side_is_nan) {
  for (DType dtype : {DType::float32, DType::float64}) {
    Graph g;
    Output a = placeholder(g, dtype, Shape{-1}, "a");
    Output b = placeholder(g, dtype, Shape{-1}, "b");
    Output hi = maximum(a, b), lo = minimum(a, b);
    // Operands of one shape here, a scalar on either side below.
    std::vector<double> av = tiled({kNaN, 1.0, 2.0, kNaN}), bv = tiled({1.0, kNaN, 1.0, kNaN});
    auto n = static_cast<std::int64_t>(av.size());
    Session s(g);
    std::vector<Tensor> out = s.run(
        {hi, lo}, {{a, make_tensor(dtype, Shape{n}, av)}, {b, make_tensor(dtype, Shape{n}, bv)}});
    for (std::int64_t i = 0; i < n; ++i) {
      bool either = std::isnan(av[i]) || std::isnan(bv[i]);
      BOOST_TEST(std::isnan(out[0].value_as_double(i)) == either, "maximum at " << i);
      BOOST_TEST(std::isnan(out[1].value_as_double(i)) == either, "minimum at " << i);
      if (!either) {
        BOOST_TEST(out[0].value_as_double(i) == std::max(av[i], bv[i]));
        BOOST_TEST(out[1].value_as_double(i) == std::min(av[i], bv[i]));
      }
    }
    Graph g2;
    Output x = placeholder(g2, dtype, Shape{-1}, "x");
    Output m = maximum(x, constant(g2, make_tensor(dtype, Shape{}, {0.0}))),
           k = minimum(constant(g2, make_tensor(dtype, Shape{}, {kNaN})), x);
    Session s2(g2);
    std::vector<Tensor> r = s2.run({m, k}, {{x, make_tensor(dtype, Shape{n}, av)}});
    for (std::int64_t i = 0; i < n; ++i) {
      BOOST_TEST(std::isnan(r[0].value_as_double(i)) == std::isnan(av[i]));
      BOOST_TEST(std::isnan(r[1].value_as_double(i)));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
