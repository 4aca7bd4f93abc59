// Layers against their formulas (keras-semantics.md sections 2-4): BatchNormalization in both
// modes and its moving-statistics update, Dropout's expectation and inference identity,
// AlphaDropout's mean and variance, PReLU's learned slope, RReLU's two modes, Dense over higher
// ranks, Flatten, configs that rebuild identical layers.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>
#include <random>

#include "dagrad/dagrad.hpp"
#include "dagrad/nn/nn.hpp"

using namespace dagrad;
namespace tt = boost::test_tools;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

Tensor filled(Shape shape, const std::vector<float>& values) { return Tensor::from_vector<float>(shape, values); }

Tensor normal_tensor(Shape shape, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> n(0.0, 1.0);
  Tensor t(DType::float32, shape);
  for (std::int64_t i = 0; i < t.size(); ++i) t.data<float>()[i] = static_cast<float>(n(rng));
  return t;
}

// A model of one layer on inputs of `shape` (without the batch dimension).
struct OneLayer {
  std::unique_ptr<nn::Sequential> model;
  nn::LayerPtr layer;
  OneLayer(nn::LayerPtr l, Shape shape, std::uint64_t seed = 0)
      : model(std::make_unique<nn::Sequential>(std::vector<nn::LayerPtr>{l}, "",
                                               std::make_shared<nn::Backend>(seed))),
        layer(l) {
    model->build(shape);
  }
  Tensor train(const Tensor& x) {
    const nn::ModelGraph& mg = model->training_graph();
    return model->session().run(mg.outputs[0], {{mg.inputs[0], x}});
  }
  // One training forward pass that also runs the layer's state updates.
  Tensor train_and_update(const Tensor& x) {
    const nn::ModelGraph& mg = model->training_graph();
    return model->session().run({mg.outputs[0]}, {{mg.inputs[0], x}}, mg.updates).at(0);
  }
  Tensor infer(const Tensor& x) { return model->predict(x); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(batch_normalization)

// x is 4 x 2; statistics per column, the variance biased (divided by 4).
BOOST_AUTO_TEST_CASE(training_mode_uses_batch_statistics_and_updates_the_moving_ones) {
  OneLayer bn(nn::BatchNormalization({.momentum = 0.9, .epsilon = 0.01}), Shape{2});
  BOOST_TEST(bn.layer->weights().size() == 4u);  // gamma, beta, moving_mean, moving_variance
  BOOST_TEST(bn.layer->trainable_weights().size() == 2u);
  const float gamma[2] = {2.0f, 0.5f}, beta[2] = {1.0f, -1.0f};
  std::vector<Tensor> w = bn.model->get_weights();
  w[0] = filled({2}, {gamma[0], gamma[1]});
  w[1] = filled({2}, {beta[0], beta[1]});
  w[2] = filled({2}, {0.5f, -0.5f});  // moving mean
  w[3] = filled({2}, {2.0f, 3.0f});   // moving variance
  bn.model->set_weights(w);
  std::vector<float> xs = {1, 10, 2, 20, 3, 30, 6, 40};
  Tensor x = filled({4, 2}, xs);
  Tensor y = bn.train_and_update(x);
  double mean[2], var[2];
  for (int c = 0; c < 2; ++c) {
    mean[c] = 0;
    for (int r = 0; r < 4; ++r) mean[c] += xs[r * 2 + c] / 4.0;
    var[c] = 0;
    for (int r = 0; r < 4; ++r) var[c] += std::pow(xs[r * 2 + c] - mean[c], 2) / 4.0;
  }
  // Column 0: mean 3, variance (4 + 1 + 0 + 9) / 4 = 3.5 (by hand).
  BOOST_TEST(mean[0] == 3.0);
  BOOST_TEST(var[0] == 3.5);
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 2; ++c)
      BOOST_TEST(y.data<float>()[r * 2 + c] ==
                     gamma[c] * (xs[r * 2 + c] - mean[c]) / std::sqrt(var[c] + 0.01) + beta[c],
                 tt::tolerance(1e-5));
  // moving <- moving * 0.9 + batch * 0.1 (no bias correction, biased variance).
  std::vector<Tensor> after = bn.model->get_weights();
  BOOST_TEST(after[2].data<float>()[0] == 0.5 * 0.9 + mean[0] * 0.1, tt::tolerance(1e-6));
  BOOST_TEST(after[2].data<float>()[1] == -0.5 * 0.9 + mean[1] * 0.1, tt::tolerance(1e-6));
  BOOST_TEST(after[3].data<float>()[0] == 2.0 * 0.9 + var[0] * 0.1, tt::tolerance(1e-6));
  BOOST_TEST(after[3].data<float>()[1] == 3.0 * 0.9 + var[1] * 0.1, tt::tolerance(1e-6));
  // The training forward pass alone (no update targets) leaves the statistics alone.
  bn.train(x);
  BOOST_TEST(bn.model->get_weights()[2].data<float>()[0] == after[2].data<float>()[0]);
}

// An NHWC input (2, 2, 2, 2): statistics per channel over the 8 values of N, H and W, computed
// here in float64; the moving variance averages the unbiased variance (times 8 / 7), as
// Keras's fused kernel does for rank-4 inputs.
BOOST_AUTO_TEST_CASE(images_are_normalized_per_channel_over_batch_height_and_width) {
  OneLayer bn(nn::BatchNormalization({.momentum = 0.9, .epsilon = 0.01}), Shape{2, 2, 2});
  BOOST_TEST(bn.layer->weights()[0].shape() == (Shape{2}));
  std::vector<Tensor> w = bn.model->get_weights();
  w[0] = filled({2}, {2.0f, 0.5f});
  w[1] = filled({2}, {1.0f, -1.0f});
  bn.model->set_weights(w);
  // channel 0: 1..8; channel 1: squares 1, 4, ..., 64.
  std::vector<float> xs(16);
  for (int i = 0; i < 8; ++i) {
    xs[static_cast<std::size_t>(2 * i)] = static_cast<float>(i + 1);
    xs[static_cast<std::size_t>(2 * i + 1)] = static_cast<float>((i + 1) * (i + 1));
  }
  Tensor x = filled({2, 2, 2, 2}, xs);
  Tensor y = bn.train_and_update(x);
  const double gamma[2] = {2.0, 0.5}, beta[2] = {1.0, -1.0};
  for (int c = 0; c < 2; ++c) {
    double mean = 0, var = 0;
    for (int i = 0; i < 8; ++i) mean += xs[static_cast<std::size_t>(2 * i + c)] / 8.0;
    for (int i = 0; i < 8; ++i) var += std::pow(xs[static_cast<std::size_t>(2 * i + c)] - mean, 2) / 8.0;
    if (c == 0) {
      BOOST_TEST(mean == 4.5);
      BOOST_TEST(var == 5.25);  // (1..8): (49 + 25 + 9 + 1) * 2 / 4 / 8 = 21 / 4
    }
    for (int i = 0; i < 8; ++i)
      BOOST_TEST(y.data<float>()[2 * i + c] ==
                     gamma[c] * (xs[static_cast<std::size_t>(2 * i + c)] - mean) / std::sqrt(var + 0.01) + beta[c],
                 tt::tolerance(1e-5));
    std::vector<Tensor> after = bn.model->get_weights();
    BOOST_TEST(after[2].data<float>()[c] == 0.1 * mean, tt::tolerance(1e-6));
    BOOST_TEST(after[3].data<float>()[c] == 0.9 + 0.1 * var * 8.0 / 7.0, tt::tolerance(1e-6));
  }
}

BOOST_AUTO_TEST_CASE(inference_mode_uses_the_moving_statistics) {
  OneLayer bn(nn::BatchNormalization(), Shape{3});
  std::vector<Tensor> w = bn.model->get_weights();
  w[0] = filled({3}, {1.5f, 1.0f, -2.0f});
  w[1] = filled({3}, {0.0f, 0.25f, 3.0f});
  w[2] = filled({3}, {1.0f, -1.0f, 0.0f});
  w[3] = filled({3}, {4.0f, 0.25f, 1.0f});
  bn.model->set_weights(w);
  Tensor x = normal_tensor({5, 3}, 3);
  Tensor y = bn.infer(x);
  for (int r = 0; r < 5; ++r)
    for (int c = 0; c < 3; ++c) {
      double expected = w[0].data<float>()[c] * (x.data<float>()[r * 3 + c] - w[2].data<float>()[c]) /
                            std::sqrt(w[3].data<float>()[c] + 1e-3) +
                        w[1].data<float>()[c];
      BOOST_TEST(y.data<float>()[r * 3 + c] == expected, tt::tolerance(1e-5));
    }
}

BOOST_AUTO_TEST_CASE(center_and_scale_off_drop_beta_and_gamma) {
  OneLayer bn(nn::BatchNormalization({.center = false, .scale = false}), Shape{4});
  BOOST_TEST(bn.layer->weights().size() == 2u);
  BOOST_TEST(bn.layer->count_params() == 8);
  BOOST_TEST(bn.layer->trainable_weights().empty());
  // Each column of the output has mean 0 and biased variance var / (var + eps).
  Tensor x = normal_tensor({64, 4}, 5);
  Tensor y = bn.train(x);
  for (int c = 0; c < 4; ++c) {
    double m = 0, v = 0, xm = 0, xv = 0;
    for (int r = 0; r < 64; ++r) xm += x.data<float>()[r * 4 + c] / 64.0;
    for (int r = 0; r < 64; ++r) xv += std::pow(x.data<float>()[r * 4 + c] - xm, 2) / 64.0;
    for (int r = 0; r < 64; ++r) m += y.data<float>()[r * 4 + c] / 64.0;
    for (int r = 0; r < 64; ++r) v += std::pow(y.data<float>()[r * 4 + c] - m, 2) / 64.0;
    BOOST_TEST(m == 0.0, tt::tolerance(1e-5));
    BOOST_TEST(v == xv / (xv + 1e-3), tt::tolerance(1e-4));
  }
}

BOOST_AUTO_TEST_CASE(bad_options_are_refused) {
  BOOST_CHECK_THROW(nn::BatchNormalization({.momentum = 1.5}), nn::ModelError);
  BOOST_CHECK_THROW(nn::BatchNormalization({.epsilon = 0.0}), nn::ModelError);
  nn::Sequential model({nn::BatchNormalization()});
  BOOST_CHECK_THROW(model.build(Shape{}), nn::ModelError);  // no feature axis
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(dropout)

BOOST_AUTO_TEST_CASE(inverted_dropout_keeps_the_expectation_and_inference_is_identity) {
  const double rate = 0.3;
  OneLayer d(nn::Dropout(rate), Shape{1000}, 17);
  Tensor ones(DType::float32, Shape{100, 1000});
  for (std::int64_t i = 0; i < ones.size(); ++i) ones.data<float>()[i] = 1.0f;
  Tensor y = d.train(ones);
  const double kept = 1.0 / (1.0 - rate);
  std::int64_t zeros = 0;
  double sum = 0;
  for (std::int64_t i = 0; i < y.size(); ++i) {
    float v = y.data<float>()[i];
    BOOST_REQUIRE((v == 0.0f || std::abs(v - kept) < 1e-6));
    zeros += v == 0.0f;
    sum += v;
  }
  const double n = static_cast<double>(y.size());
  // The dropped fraction is a binomial proportion: standard error sqrt(rate (1 - rate) / n).
  BOOST_TEST(std::abs(zeros / n - rate) < 5 * std::sqrt(rate * (1 - rate) / n));
  // The mean of x * keep / (1 - rate) is 1; its standard error sqrt(rate / (1 - rate) / n).
  BOOST_TEST(std::abs(sum / n - 1.0) < 5 * std::sqrt(rate / (1 - rate) / n));
  // A second step draws a new mask.
  Tensor y2 = d.train(ones);
  BOOST_TEST(std::memcmp(y.raw(), y2.raw(), y.nbytes()) != 0);
  Tensor x = normal_tensor({3, 1000}, 2);
  Tensor z = d.infer(x);
  BOOST_TEST(std::memcmp(z.raw(), x.raw(), x.nbytes()) == 0);
}

BOOST_AUTO_TEST_CASE(alpha_dropout_keeps_mean_and_variance_of_standard_inputs) {
  const double rate = 0.2;
  OneLayer d(nn::AlphaDropout(rate), Shape{500}, 4);
  Tensor x = normal_tensor({200, 500}, 8);
  Tensor y = d.train(x);
  // Keras's constants (keras-semantics.md 4.2) for rate 0.2: a = 0.87890358, b = 0.30903996.
  const double alpha_p = -1.6732632423543772 * 1.0507009873554805;
  const double a = std::pow((1 - rate) * (1 + rate * alpha_p * alpha_p), -0.5);
  const double b = -a * alpha_p * rate;
  BOOST_TEST(a == 0.87890358, tt::tolerance(1e-7));
  BOOST_TEST(b == 0.30903996, tt::tolerance(1e-7));
  double mean = 0, sq = 0;
  std::int64_t dropped = 0;
  for (std::int64_t i = 0; i < y.size(); ++i) {
    double v = y.data<float>()[i];
    double kept_value = a * x.data<float>()[i] + b;
    bool is_dropped = std::abs(v - (a * alpha_p + b)) < 1e-5 && std::abs(v - kept_value) > 1e-5;
    BOOST_REQUIRE((is_dropped || std::abs(v - kept_value) < 1e-5));
    dropped += is_dropped;
    mean += v;
    sq += v * v;
  }
  const double n = static_cast<double>(y.size());
  mean /= n;
  double var = sq / n - mean * mean;
  // For standard normal inputs the output has mean 0 and variance 1; the standard errors of a
  // sample mean and variance of n values are about 1/sqrt(n) and sqrt(2/n) (the output is
  // close to normal; the dropped values only lower its fourth moment), so 5 of each bound them.
  BOOST_TEST(std::abs(mean) < 5 / std::sqrt(n));
  BOOST_TEST(std::abs(var - 1.0) < 5 * std::sqrt(3.0 / n));
  BOOST_TEST(std::abs(dropped / n - rate) < 5 * std::sqrt(rate * (1 - rate) / n));
  Tensor z = d.infer(x);
  BOOST_TEST(std::memcmp(z.raw(), x.raw(), x.nbytes()) == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(activation_layers)

BOOST_AUTO_TEST_CASE(prelu_starts_as_relu_and_learns_its_slope) {
  OneLayer p(nn::PReLU(), Shape{3});
  BOOST_TEST(p.layer->count_params() == 3);  // one slope per unit
  Tensor x = filled({2, 3}, {-1, 2, -3, 4, -5, 0.5f});
  Tensor y = p.infer(x);
  for (int i = 0; i < 6; ++i) BOOST_TEST(y.data<float>()[i] == std::max(0.0f, x.data<float>()[i]));

  // loss = mean((y - t)^2) over the 6 elements; for x < 0, y = alpha x, so
  // d loss / d alpha_j = sum over rows with x_rj < 0 of 2 (alpha_j x_rj - t_rj) x_rj / 6.
  const nn::ModelGraph& mg = p.model->training_graph();
  Graph& g = p.model->graph();
  Output t = placeholder(g, DType::float32, Shape{-1, 3}, "t");
  Output loss = mean(square(mg.outputs[0] - t));
  Output alpha = mg.trainable_variables.at(0);
  Output grad = gradients(loss, {alpha})[0];
  Operation step = assign_sub(alpha, grad * 0.5);
  Tensor target = filled({2, 3}, {-0.5f, 2, -1, 4, -1, 0.5f});
  p.model->session().run({}, {{mg.inputs[0], x}, {t, target}}, {step});
  Tensor a = p.model->get_weights()[0];
  const float* xs = x.data<float>();
  const float* ts = target.data<float>();
  for (int j = 0; j < 3; ++j) {
    double gj = 0;
    for (int r = 0; r < 2; ++r)
      if (xs[r * 3 + j] < 0) gj += 2 * (0 * xs[r * 3 + j] - ts[r * 3 + j]) * xs[r * 3 + j] / 6.0;
    BOOST_TEST(a.data<float>()[j] == -0.5 * gj, tt::tolerance(1e-6));
  }
  BOOST_TEST(a.data<float>()[0] != 0.0f);  // the slope moved
}

BOOST_AUTO_TEST_CASE(prelu_shared_axes_share_the_slope) {
  // Input (batch, 4, 5): alpha of shape (4, 5); sharing axis 1 gives (1, 5), 5 parameters.
  OneLayer shared(nn::PReLU({.shared_axes = {1}}), Shape{4, 5});
  BOOST_TEST(shared.layer->count_params() == 5);
  BOOST_TEST((shared.layer->weights()[0].shape() == Shape{1, 5}));
  nn::Sequential bad({nn::PReLU({.shared_axes = {3}})});
  BOOST_CHECK_THROW(bad.build(Shape{4, 5}), nn::ModelError);
}

BOOST_AUTO_TEST_CASE(rrelu_draws_slopes_in_training_and_uses_the_midpoint_at_inference) {
  OneLayer r(nn::RReLU(), Shape{2000}, 6);
  Tensor x(DType::float32, Shape{1, 2000});
  for (int i = 0; i < 2000; ++i) x.data<float>()[i] = i % 2 ? -1.0f : 1.0f;
  Tensor inferred = r.infer(x);
  // (1/8 + 1/3) / 2 = 0.22916667 (the tfa docstring's rrelu(-1, training=False)).
  for (int i = 0; i < 2000; ++i)
    BOOST_TEST(inferred.data<float>()[i] == (i % 2 ? -0.22916667 : 1.0), tt::tolerance(1e-6));
  Tensor trained = r.train(x);
  double lo = 1, hi = 0, mean = 0;
  for (int i = 1; i < 2000; i += 2) {
    double slope = -trained.data<float>()[i];
    lo = std::min(lo, slope);
    hi = std::max(hi, slope);
    mean += slope / 1000;
    BOOST_TEST(trained.data<float>()[i - 1] == 1.0f);  // positive inputs pass unchanged
  }
  BOOST_TEST(lo >= 1.0 / 8);
  BOOST_TEST(hi <= 1.0 / 3);
  // Uniform on [1/8, 1/3): mean 0.229, standard deviation (1/3 - 1/8) / sqrt(12) = 0.0601.
  BOOST_TEST(std::abs(mean - 0.22916667) < 5 * 0.0601 / std::sqrt(1000.0));
  BOOST_TEST(hi - lo > 0.18);  // the slopes spread over the interval
  Tensor again = r.train(x);
  BOOST_TEST(std::memcmp(again.raw(), trained.raw(), trained.nbytes()) != 0);  // a new draw per step
}

BOOST_AUTO_TEST_CASE(leaky_relu_and_elu_layers_have_keras_defaults) {
  OneLayer leaky(nn::LeakyReLU(), Shape{2});
  Tensor y = leaky.infer(filled({1, 2}, {-2.0f, 3.0f}));
  BOOST_TEST(y.data<float>()[0] == -0.6f, tt::tolerance(1e-6));  // alpha 0.3
  BOOST_TEST(y.data<float>()[1] == 3.0f);
  OneLayer elu(nn::ELU(0.5), Shape{1});
  Tensor z = elu.infer(filled({1, 1}, {-1.0f}));
  BOOST_TEST(z.data<float>()[0] == 0.5 * (std::exp(-1.0) - 1.0), tt::tolerance(1e-6));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(dense_and_shape_layers)

BOOST_AUTO_TEST_CASE(dense_applies_to_the_last_axis_of_higher_ranks) {
  OneLayer d(nn::Dense(2, {.bias_initializer = nn::Initializer::constant(0.5)}), Shape{3, 4});
  BOOST_TEST((d.model->output_shapes()[0] == Shape{-1, 3, 2}));
  Tensor x = normal_tensor({2, 3, 4}, 1);
  Tensor y = d.infer(x);
  Tensor k = d.model->get_weights()[0];
  for (int b = 0; b < 2; ++b)
    for (int i = 0; i < 3; ++i)
      for (int u = 0; u < 2; ++u) {
        double s = 0.5;
        for (int f = 0; f < 4; ++f) s += x.data<float>()[(b * 3 + i) * 4 + f] * k.data<float>()[f * 2 + u];
        BOOST_TEST(y.data<float>()[(b * 3 + i) * 2 + u] == s, tt::tolerance(1e-5));
      }
}

BOOST_AUTO_TEST_CASE(normalization_standardizes_with_adapted_statistics) {
  auto norm = nn::Normalization();
  nn::Sequential model({nn::Flatten(Shape{2, 2}), norm});
  BOOST_TEST(norm->count_params() == 8);
  BOOST_TEST(norm->trainable_weights().empty());
  // Columns (features) of 3 rows: means 2, 20, -1, 0; biased variances 2/3, 200/3, 0, 8/3.
  Tensor x = filled({3, 2, 2}, {1, 10, -1, -2, 2, 20, -1, 0, 3, 30, -1, 2});
  norm->adapt(x);
  std::vector<Tensor> w = model.get_weights();
  const double mean[4] = {2, 20, -1, 0}, var[4] = {2.0 / 3, 200.0 / 3, 0, 8.0 / 3};
  for (int f = 0; f < 4; ++f) {
    BOOST_TEST(w[0].data<float>()[f] == mean[f], tt::tolerance(1e-6));
    BOOST_TEST(w[1].data<float>()[f] == var[f], tt::tolerance(1e-6));
  }
  Tensor y = model.predict(x);
  for (int r = 0; r < 3; ++r)
    for (int f = 0; f < 4; ++f) {
      // (x - mean) / max(sqrt(var), 1e-7): a constant feature maps to 0, not NaN.
      double expected = (x.data<float>()[r * 4 + f] - mean[f]) / std::max(std::sqrt(var[f]), 1e-7);
      BOOST_TEST(y.data<float>()[r * 4 + f] == expected, tt::tolerance(1e-5));
    }
  BOOST_CHECK_THROW(norm->adapt(filled({2, 3}, {1, 2, 3, 4, 5, 6})), nn::ModelError);
  BOOST_CHECK_THROW(nn::Normalization()->adapt(x), nn::ModelError);  // not built
}

BOOST_AUTO_TEST_CASE(flatten_needs_known_dimensions) {
  OneLayer f(nn::Flatten(), Shape{2, 3, 4});
  BOOST_TEST((f.model->output_shapes()[0] == Shape{-1, 24}));
  nn::Sequential bad({nn::Flatten()});
  BOOST_CHECK_THROW(bad.build(Shape{-1, 3}), nn::ModelError);
}

BOOST_AUTO_TEST_CASE(a_layer_built_for_one_shape_refuses_another) {
  auto dense = nn::Dense(3);
  nn::Symbol a = nn::Input(Shape{4});
  nn::call(dense, a);
  nn::Symbol b = nn::Input(Shape{5}, "b", a.backend());
  try {
    nn::call(dense, b);
    BOOST_FAIL("expected a ModelError");
  } catch (const nn::ModelError& e) {
    BOOST_TEST(contains(e.what(), "'dense'"));
    BOOST_TEST(contains(e.what(), "(?, 4)"));
    BOOST_TEST(contains(e.what(), "(?, 5)"));
  }
}

BOOST_AUTO_TEST_CASE(names_are_unique_variable_scopes) {
  auto backend = std::make_shared<nn::Backend>();
  nn::Sequential model({nn::Dense(2, {.name = "hidden", .input_shape = Shape{3}})}, "", backend);
  BOOST_TEST(model.weights()[0].name() == "hidden/kernel");
  BOOST_TEST(model.weights()[1].name() == "hidden/bias");
  BOOST_CHECK_THROW(model.add(nn::Dense(2, {.name = "hidden"})), nn::ModelError);
  auto built = model[0];
  BOOST_CHECK_THROW(built->set_name("other"), nn::ModelError);
}

BOOST_AUTO_TEST_CASE(every_layer_type_rebuilds_from_its_config) {
  std::vector<nn::LayerPtr> layers{
      nn::Dense(3, {.activation = "selu",
                    .kernel_initializer = nn::Initializer::variance_scaling(2.0, "fan_avg", "uniform"),
                    .use_bias = false,
                    .kernel_regularizer = nn::Regularizer::L1L2(0.1, 0.2),
                    .kernel_constraint = nn::MaxNorm{1.5, 0}}),
      nn::Flatten(Shape{2, 2}), nn::InputLayer(Shape{4}),
      nn::BatchNormalization({.momentum = 0.9, .epsilon = 0.01, .center = false}),
      nn::Dropout(0.25, {.seed = 7}), nn::AlphaDropout(0.1), nn::ActivationLayer("tanh"),
      nn::LeakyReLU(0.1), nn::ELU(0.5), nn::PReLU({.shared_axes = {1}}),
      nn::RReLU({.lower = 0.1, .upper = 0.2, .seed = 3}), nn::Concatenate(1), nn::Add(),
      nn::Normalization()};
  for (const nn::LayerPtr& l : layers) {
    BOOST_TEST_CONTEXT(l->type()) {
      AttrMap c = l->config();
      nn::LayerPtr copy = nn::layer_from_config(l->type(), c);
      BOOST_TEST(copy->type() == l->type());
      BOOST_TEST((copy->config() == c));
    }
  }
  BOOST_CHECK_THROW(nn::layer_from_config("Conv3D", {}), nn::ModelError);
}

BOOST_AUTO_TEST_SUITE_END()
