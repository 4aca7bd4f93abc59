// Activations by name (nn/activations.cpp) against the formulas of keras-semantics.md section 2,
// computed here in double, and a float64 gradient check of each.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "dagrad/dagrad.hpp"
#include "dagrad/nn/activations.hpp"
#include "dagrad/nn/errors.hpp"
#include "ops/op_test_util.hpp"

using namespace dagrad;
using namespace dagrad::testing;
using nn::Activation;
using nn::ModelError;

namespace {

// tf.nn.selu's constants (lambda, alpha), to the digits keras-semantics.md gives.
constexpr double kSeluScale = 1.0507009873554804934193349852946;
constexpr double kSeluAlpha = 1.6732632423543772848170429916717;

// Points on both sides of every kink, and the kink itself.
const std::vector<double> kPoints = {-3.0, -1.0, -0.5, 0.0, 0.25, 2.0};

double sigmoid_of(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}

struct Formula {
  const char* name;
  std::function<double(double)> f;
};
const std::vector<Formula>& elementwise_formulas() {
  static const std::vector<Formula> formulas = {
      {"linear", [](double x) { return x; }},
      {"sigmoid", sigmoid_of},
      {"tanh", [](double x) { return std::tanh(x); }},
      {"relu", [](double x) { return x > 0 ? x : 0.0; }},
      {"leaky_relu", [](double x) { return x > 0 ? x : 0.2 * x; }},
      {"elu", [](double x) { return x > 0 ? x : std::exp(x) - 1.0; }},
      {"selu",
       [](double x) {
         return x >= 0 ? kSeluScale * x : kSeluScale * kSeluAlpha * (std::exp(x) - 1.0);
       }},
      {"softplus", [](double x) { return std::log(1.0 + std::exp(x)); }},
  };
  return formulas;
}

Tensor run_activation(const Activation& act, DType dtype, const std::vector<double>& xs) {
  Graph g;
  Output x = constant(g, make_tensor(dtype, Shape{2, 3}, xs), "x");
  Session s(g);
  return s.run(act(x));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(activations)

BOOST_AUTO_TEST_CASE(elementwise_by_name_match_the_formulas) {
  for (const Formula& f : elementwise_formulas()) {
    std::vector<double> expected;
    for (double x : kPoints) expected.push_back(f.f(x));
    check_values(run_activation(Activation(f.name), DType::float64, kPoints), expected, 1e-14,
                 1e-16, std::string(f.name) + " float64");
    // float32 computes the same function within float32 rounding.
    check_values(run_activation(Activation(f.name), DType::float32, kPoints), expected, 1e-6, 1e-7,
                 std::string(f.name) + " float32");
  }
}

BOOST_AUTO_TEST_CASE(selu_constants_elu_alpha_and_leaky_slope) {
  Graph g;
  Output x = constant(g, Tensor::from_vector<double>({1, 3}, {1.0, -1.0, -40.0}), "x");
  Output selu = Activation("selu")(x);
  Output elu = Activation("elu")(x);
  Output leaky = Activation("leaky_relu")(x);
  BOOST_TEST(elu.producer().attrs.get_float("alpha") == 1.0);
  BOOST_TEST(leaky.producer().attrs.get_float("alpha") == 0.2);
  Session s(g);
  // selu(1) = lambda; selu(-1) = lambda alpha (e^-1 - 1); selu(-40) -> -lambda alpha
  // = -1.7580993408473768599 (the saturation value SELU's self-normalization is built on).
  check_values(s.run(selu),
               {kSeluScale, kSeluScale * kSeluAlpha * (std::exp(-1.0) - 1.0),
                -1.7580993408473768599 * (1.0 - std::exp(-40.0))},
               1e-15, "selu");
  check_values(s.run(elu), {1.0, std::exp(-1.0) - 1.0, std::exp(-40.0) - 1.0}, 1e-15, "elu");
  check_values(s.run(leaky), {1.0, -0.2, -8.0}, 1e-15, "leaky_relu (alpha 0.2 by name)");
}

BOOST_AUTO_TEST_CASE(softmax_over_the_last_axis) {
  Graph g;
  std::vector<double> xs = {1.0, 2.0, 3.0, -1.0, 0.0, 1000.0};
  Output x = constant(g, Tensor::from_vector<double>({2, 3}, xs), "x");
  Output y = Activation("softmax")(x);
  // The softmax node itself is the output, so the losses can reach the logits behind it.
  BOOST_TEST(y.producer().op->name == "softmax");
  BOOST_TEST(y.producer().inputs[0].node == x.node);
  Session s(g);
  Tensor out = s.run(y);
  double z0 = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  // Row 2 by hand, shifted by its max 1000: e^-1001, e^-1000, 1 over their sum.
  double z1 = std::exp(-1001.0) + std::exp(-1000.0) + 1.0;
  check_values(out,
               {std::exp(1.0) / z0, std::exp(2.0) / z0, std::exp(3.0) / z0, std::exp(-1001.0) / z1,
                std::exp(-1000.0) / z1, 1.0 / z1},
               1e-14, "softmax");
  std::vector<double> v = values(out);
  BOOST_TEST(std::abs(v[0] + v[1] + v[2] - 1.0) <= 1e-15);
  BOOST_TEST(std::abs(v[3] + v[4] + v[5] - 1.0) <= 1e-15);

  Output rank1 = constant(g, Tensor::from_vector<double>({3}, {1, 2, 3}), "rank1");
  BOOST_CHECK_EXCEPTION(Activation("softmax")(rank1), ModelError,
                        mentions_all<ModelError>({"softmax", "rank1", "(3,)"}));
}

BOOST_AUTO_TEST_CASE(linear_names_and_errors) {
  Graph g;
  Output x = constant(g, Tensor::from_vector<float>({2}, {1, 2}), "x");
  int before = g.num_nodes();
  for (Activation linear : {Activation(), Activation(""), Activation("linear")}) {
    BOOST_TEST(linear.is_linear());
    BOOST_TEST(linear.name() == "linear");
    BOOST_TEST((linear(x) == x));  // the identity adds no node
  }
  BOOST_TEST(g.num_nodes() == before);
  BOOST_TEST(!Activation("relu").is_linear());
  BOOST_TEST(Activation(std::string("selu")).name() == "selu");
  BOOST_CHECK_EXCEPTION(Activation("swish"), ModelError,
                        mentions_all<ModelError>({"'swish'", "relu", "leaky_relu", "selu",
                                                  "softmax", "softplus", "linear"}));
  BOOST_CHECK_EXCEPTION(Activation("ReLU"), ModelError, mentions_all<ModelError>({"'ReLU'"}));
}

// d/dx sum(c * act(x)) in float64 against central differences, at points away from the kinks.
BOOST_AUTO_TEST_CASE(gradients_match_finite_differences) {
  const std::vector<double> xs = {-2.1, -0.7, -0.3,  0.4,  1.3, 2.6,
                                  -1.1, 0.9,  -0.05, 0.15, 1.7, -2.9};
  const std::vector<double> cs = {0.3, -1.2, 0.8, 0.5, -0.4, 1.1, 0.7, -0.9, 1.3, 0.2, -0.6, 0.45};
  std::vector<const char*> names;
  for (const Formula& f : elementwise_formulas()) names.push_back(f.name);
  names.push_back("softmax");
  for (const char* name : names) {
    Graph g;
    Output x = variable(g, Tensor::from_vector<double>({3, 4}, xs), "x");
    Output c = constant(g, Tensor::from_vector<double>({3, 4}, cs), "c");
    Output y = sum(c * Activation(name)(x));
    Session s(g);
    s.initialize_variables();
    GradCheckResult r = check_graph_gradients(s, y, {x}, {});
    BOOST_TEST(r.passed, name << ": " << r.message << " (max abs error " << r.max_abs_error << ")");
    BOOST_TEST_MESSAGE(name << ": max abs error " << r.max_abs_error << ", max rel error "
                            << r.max_rel_error);
  }
}

BOOST_AUTO_TEST_SUITE_END()
