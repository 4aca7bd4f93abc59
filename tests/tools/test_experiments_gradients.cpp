// The layer probe behind the gradients and activations experiments (tools/experiments/probe.hpp):
// moments, gradient norms and unit activity checked against values computed here in float64
// from the formulas.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

#include "dagrad/dagrad.hpp"
#include "tools/chart.hpp"
#include "tools/experiments/probe.hpp"

namespace ex = dagrad::tools::experiments;
using namespace dagrad;

namespace {

double sigmoid(double z) {
  return 1.0 / (1.0 + std::exp(-z));
}

// A 3-2-2 net: Dense(2) + `activation` layer, then Dense(2, softmax), and a probe model that
// also outputs the hidden activations.
struct TinyNet {
  std::unique_ptr<nn::Model> model, probe_model;
  std::shared_ptr<nn::DenseLayer> hidden;
  std::shared_ptr<nn::DenseLayer> output;
  explicit TinyNet(const std::string& activation) {
    nn::Symbol x = nn::Input(Shape{3});
    hidden = nn::Dense(2);
    nn::Symbol h = nn::call(nn::ActivationLayer(activation), nn::call(hidden, x));
    output = nn::Dense(2, {.activation = "softmax"});
    nn::Symbol p = nn::call(output, h);
    model = std::make_unique<nn::Model>(std::vector<nn::Symbol>{x}, std::vector<nn::Symbol>{p});
    probe_model =
        std::make_unique<nn::Model>(std::vector<nn::Symbol>{x}, std::vector<nn::Symbol>{h, p});
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(experiments_gradients)

BOOST_AUTO_TEST_CASE(moments_and_norm_follow_their_formulas) {
  Tensor t = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  ex::Moments m = ex::moments(t);
  BOOST_TEST(m.mean == 3.5, boost::test_tools::tolerance(1e-12));
  // population variance of 1..6: (6^2 - 1) / 12
  BOOST_TEST(m.stddev == std::sqrt(35.0 / 12.0), boost::test_tools::tolerance(1e-12));
  BOOST_TEST(ex::frobenius_norm(Tensor::from_vector<float>({2}, {3, -4})) == 5.0);
  // Values near 1 with a tiny spread: E[x^2] - E[x]^2 in float would give 0 or worse.
  Tensor saturated = Tensor::from_vector<float>({4}, {0.9999f, 1.0f, 0.9999f, 1.0f});
  double d = static_cast<double>(1.0f) - static_cast<double>(0.9999f);
  BOOST_TEST(ex::moments(saturated).stddev == d / 2, boost::test_tools::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(row_range_copies_rows_and_stops_at_the_end) {
  Tensor t = Tensor::from_vector<std::int32_t>({4, 2}, {0, 1, 2, 3, 4, 5, 6, 7});
  Tensor mid = ex::row_range(t, 1, 2);
  BOOST_TEST(mid.shape() == (Shape{2, 2}));
  BOOST_TEST(mid.to_vector<std::int32_t>() == (std::vector<std::int32_t>{2, 3, 4, 5}),
             boost::test_tools::per_element());
  Tensor tail = ex::row_range(t, 3, 10);
  BOOST_TEST(tail.shape() == (Shape{1, 2}));
  BOOST_TEST(tail.to_vector<std::int32_t>() == (std::vector<std::int32_t>{6, 7}),
             boost::test_tools::per_element());
  BOOST_TEST(ex::row_range(t, 5, 2).shape() == (Shape{0, 2}));
}

// Loss, hidden moments and kernel gradient norms of a sigmoid 3-2-2 net with known weights,
// against backpropagation written out in float64:
//   z1 = x W1 + b1, h = sigmoid(z1), z2 = h W2 + b2, p = softmax(z2), L = mean_i -log p[i, y_i]
//   dz2 = (p - onehot(y)) / n, dW2 = h^T dz2, dz1 = (dz2 W2^T) * h * (1 - h), dW1 = x^T dz1.
BOOST_AUTO_TEST_CASE(gradient_norms_match_backpropagation_by_hand) {
  TinyNet net("sigmoid");
  const std::vector<double> w1 = {0.5, -0.3, 0.2, 0.8, -0.6, 0.1}, b1 = {0.1, -0.2};
  const std::vector<double> w2 = {1.2, -0.7, -0.4, 0.9}, b2 = {0.05, -0.05};
  auto f32 = [](const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); };
  net.model->set_weights(
      {Tensor::from_vector<float>({3, 2}, f32(w1)), Tensor::from_vector<float>({2}, f32(b1)),
       Tensor::from_vector<float>({2, 2}, f32(w2)), Tensor::from_vector<float>({2}, f32(b2))});
  const std::vector<double> x = {1.0, 2.0, -1.0, 0.5, -1.5, 3.0};
  const std::vector<int> y = {1, 0};
  const int n = 2;
  // float32 inputs, as the net sees them
  std::vector<double> xs;
  for (double v : x) xs.push_back(static_cast<float>(v));

  double h[2][2], p[2][2], dz2[2][2], dz1[2][2], loss = 0;
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < 2; ++j) {
      double z = static_cast<float>(b1[j]);
      for (int k = 0; k < 3; ++k) z += xs[i * 3 + k] * static_cast<float>(w1[k * 2 + j]);
      h[i][j] = sigmoid(z);
    }
    double z2[2];
    for (int j = 0; j < 2; ++j) {
      z2[j] = static_cast<float>(b2[j]);
      for (int k = 0; k < 2; ++k) z2[j] += h[i][k] * static_cast<float>(w2[k * 2 + j]);
    }
    double top = std::max(z2[0], z2[1]);
    double e0 = std::exp(z2[0] - top), e1 = std::exp(z2[1] - top);
    p[i][0] = e0 / (e0 + e1);
    p[i][1] = e1 / (e0 + e1);
    loss -= std::log(p[i][y[i]]) / n;
    for (int j = 0; j < 2; ++j) dz2[i][j] = (p[i][j] - (y[i] == j ? 1.0 : 0.0)) / n;
    for (int j = 0; j < 2; ++j) {
      double dh = 0;
      for (int k = 0; k < 2; ++k) dh += dz2[i][k] * static_cast<float>(w2[j * 2 + k]);
      dz1[i][j] = dh * h[i][j] * (1 - h[i][j]);
    }
  }
  double norm2 = 0, norm1 = 0;
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b) {
      double g = 0;
      for (int i = 0; i < n; ++i) g += h[i][a] * dz2[i][b];
      norm2 += g * g;
    }
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 2; ++b) {
      double g = 0;
      for (int i = 0; i < n; ++i) g += xs[i * 3 + a] * dz1[i][b];
      norm1 += g * g;
    }
  double mean = (h[0][0] + h[0][1] + h[1][0] + h[1][1]) / 4, squares = 0;
  for (auto& row : h)
    for (double v : row) squares += (v - mean) * (v - mean);

  ex::LayerProbe probe(*net.probe_model, {net.hidden->kernel(), net.output->kernel()});
  BOOST_TEST(probe.num_taps() == 1u);
  ex::LayerFigures f = probe.measure(Tensor::from_vector<float>({2, 3}, f32(x)),
                                     Tensor::from_vector<std::int32_t>({2}, {y[0], y[1]}));
  BOOST_TEST_REQUIRE(f.taps.size() == 1u);
  BOOST_TEST_REQUIRE(f.gradient_norms.size() == 2u);
  BOOST_TEST(f.loss == loss, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(f.taps[0].mean == mean, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(f.taps[0].stddev == std::sqrt(squares / 4), boost::test_tools::tolerance(1e-5));
  BOOST_TEST(f.gradient_norms[0] == std::sqrt(norm1), boost::test_tools::tolerance(1e-5));
  BOOST_TEST(f.gradient_norms[1] == std::sqrt(norm2), boost::test_tools::tolerance(1e-5));
}

BOOST_AUTO_TEST_CASE(a_kernel_off_the_loss_path_is_refused) {
  TinyNet net("relu");
  Output stray = variable(net.model->graph(), Tensor::from_vector<float>({1}, {1.0f}), "stray");
  BOOST_CHECK_THROW(ex::LayerProbe(*net.probe_model, {net.hidden->kernel(), stray}),
                    nn::ModelError);
}

// A unit whose kernel column is negative on positive inputs never fires: dead under ReLU,
// never positive; the other unit fires on some rows only. Batches of 2 over 3 rows.
BOOST_AUTO_TEST_CASE(activity_finds_units_that_never_fire) {
  TinyNet net("relu");
  net.model->set_weights({Tensor::from_vector<float>({3, 2}, {1, -1, -1, -1, 0, -1}),
                          Tensor::from_vector<float>({2}, {0, 0}),
                          Tensor::from_vector<float>({2, 2}, {1, 0, 0, 1}),
                          Tensor::from_vector<float>({2}, {0, 0})});
  // Unit 0 = relu(x0 - x1): positive on the last row only.
  Tensor x = Tensor::from_vector<float>({3, 3}, {1, 2, 0, 1, 1, 5, 3, 1, 2});
  ex::LayerProbe probe(*net.probe_model, {net.hidden->kernel()});
  ex::UnitActivity a = probe.activity(x, 2);
  BOOST_TEST_REQUIRE(a.nonzero.size() == 1u);
  BOOST_TEST(a.nonzero[0] == (std::vector<bool>{true, false}), boost::test_tools::per_element());
  BOOST_TEST(a.positive[0] == (std::vector<bool>{true, false}), boost::test_tools::per_element());
  BOOST_TEST(a.never_nonzero_share() == (std::vector<double>{0.5}),
             boost::test_tools::per_element());
  // Without the last row unit 0 is dead too.
  BOOST_TEST(probe.activity(ex::row_range(x, 0, 2), 1).never_positive_share() ==
                 (std::vector<double>{1.0}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(probed_mlp_has_a_tap_per_activation_and_preactivation) {
  nn::FashionMnist data;
  data.x_train = Tensor(DType::float32, Shape{10, 28, 28});
  ex::MlpSpec spec;
  spec.depth = 3;
  spec.units = 7;
  spec.activation = "leaky_relu";
  ex::ProbedMlp net = ex::make_probed_mlp(spec, 1, data);
  BOOST_TEST(net.probe_model->output_shapes().size() == 7u);
  BOOST_TEST_REQUIRE(net.kernels.size() == 3u);
  BOOST_TEST(net.kernels[0].shape() == (Shape{784, 7}));
  BOOST_TEST(net.kernels[2].shape() == (Shape{7, 7}));
  BOOST_TEST(net.model->output_shapes().at(0) == (Shape{-1, 10}));
  spec.activation = "swish";
  BOOST_CHECK_THROW(ex::make_probed_mlp(spec, 1, data), nn::ModelError);
  spec.activation = "relu";
  spec.depth = 0;
  BOOST_CHECK_THROW(ex::make_probed_mlp(spec, 1, data), nn::ModelError);
}

// Self-normalization (Klambauer et al.): SELU with LeCun-normal weights on standardized inputs
// has the fixed point mean 0, variance 1, so 20 layers keep every layer near it. Inputs here are
// independent uniform pixels, standardized by the model's Normalization layer.
BOOST_AUTO_TEST_CASE(selu_with_lecun_keeps_layers_near_mean_0_std_1) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  nn::FashionMnist data;
  data.x_train = Tensor(DType::float32, Shape{1000, 28, 28});
  for (std::int64_t i = 0; i < data.x_train.size(); ++i) data.x_train.data<float>()[i] = u(rng);
  ex::MlpSpec spec;
  spec.depth = 20;
  spec.activation = "selu";
  spec.kernel_initializer = "lecun_normal";
  spec.standardize = true;
  ex::ProbedMlp net = ex::make_probed_mlp(spec, 3, data);
  ex::LayerProbe probe(*net.probe_model, net.kernels);
  ex::LayerFigures f = probe.measure(data.x_train, Tensor(DType::int32, Shape{1000}));
  for (int l = 0; l < spec.depth; ++l) {
    BOOST_TEST_CONTEXT("hidden layer " << l + 1) {
      BOOST_TEST(std::abs(f.taps[static_cast<std::size_t>(l)].mean) < 0.15);
      BOOST_TEST(std::abs(f.taps[static_cast<std::size_t>(l)].stddev - 1.0) < 0.15);
    }
  }
}

// The gradients chart pairs each setup's solid (init) and dashed (trained) curves by colour and
// gives the pair one legend entry.
BOOST_AUTO_TEST_CASE(chart_curves_share_a_colour_and_unlabelled_ones_have_no_entry) {
  namespace fs = std::filesystem;
  fs::path dir =
      fs::temp_directory_path() / ("dagrad_chart_pairs_" + std::to_string(std::random_device{}()));
  fs::create_directories(dir);
  tools::Curve solid{.label = "pair", .x = {1, 2, 3}, .y = {1, 2, 3}};
  tools::Curve dashed{.label = "", .x = {1, 2, 3}, .y = {2, 3, 4}, .dashed = true};
  solid.color = dashed.color = 3;  // the cycle's fourth colour, #d62728
  tools::ChartPanel panel{"panel", "x", "y"};
  panel.curves = {solid, dashed};
  tools::ChartFiles files = tools::draw_chart({panel}, (dir / "c.png").string(), "pairs");
  std::ifstream in(files.svg);
  std::string svg((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  fs::remove_all(dir);
  BOOST_TEST(svg.find("rgb(214,  39,  40)") != std::string::npos);
  // Neither of the colours the two positions would get by default.
  BOOST_TEST(svg.find("rgb( 31, 119, 180)") == std::string::npos);
  BOOST_TEST(svg.find("rgb(255, 127,  14)") == std::string::npos);
  // gnuplot writes a legend entry's title as a text element.
  BOOST_TEST(svg.find(">pair<") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
