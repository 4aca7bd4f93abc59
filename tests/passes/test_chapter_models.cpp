// The chapter's models (the presets dagrad train builds) trained for a few steps with the graph
// passes on and off: the same losses and the same weights, bit for bit, since fusion evaluates
// every op as its own kernel does and no pass reassociates.
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <random>

#include "pass_test_util.hpp"

using namespace dagrad;
using namespace dagrad::testing;
namespace bdata = boost::unit_test::data;

namespace {

// The passes that keep every bit: all but softmax_cross_entropy (batchnorm_folding changes
// only predictions, which check_same_predictions allows for).
OptimizerOptions bitwise() {
  OptimizerOptions options = verified();
  options.disabled = {"softmax_cross_entropy"};
  return options;
}

std::unique_ptr<nn::Sequential> chapter_model(const std::string& preset, bool optimize,
                                              bool reuse_buffers = true,
                                              const OptimizerOptions& options_on = bitwise()) {
  nn::PresetOptions options;
  options.hidden_layers = 3;  // selu, kept small
  auto model = nn::make_preset(preset, options);
  model->session().set_optimizer_options(optimize ? options_on : unoptimized());
  model->session().set_buffer_reuse(reuse_buffers);
  model->compile(optim::SGD({.learning_rate = 0.01, .momentum = 0.9, .nesterov = true}),
                 "sparse_categorical_crossentropy", {"accuracy"});
  return model;
}

// 24 random images and labels.
void random_batch(Tensor& x, Tensor& y) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<float> pixel(0.0f, 1.0f);
  std::uniform_int_distribution<int> label(0, 9);
  const std::int64_t n = 24;
  x = Tensor(DType::float32, Shape{n, 28, 28});
  y = Tensor(DType::float32, Shape{n});
  for (std::int64_t i = 0; i < x.size(); ++i) x.data<float>()[i] = pixel(rng);
  for (std::int64_t i = 0; i < n; ++i) y.data<float>()[i] = static_cast<float>(label(rng));
}

// Predictions agree bit for bit unless batchnorm_folding folded a BatchNormalization or
// Normalization into a kernel (reassociated: float32 rounding apart); it does in the bn presets.
void check_same_predictions(const std::string& preset, nn::Sequential& on, nn::Sequential& off,
                            const Tensor& x) {
  Tensor pa = on.predict(x), pb = off.predict(x);
  const PassReport* folding = report_of(on.prediction_plan(), "batchnorm_folding");
  BOOST_TEST_REQUIRE(folding);
  if (preset == "bn" || preset == "bn-before") BOOST_TEST(folding->changes > 0, preset);
  if (folding->changes == 0)
    BOOST_TEST(identical(pa, pb), preset);
  else
    BOOST_TEST(close(pa, pb, 1e-5), preset);
}

// Trains both models 4 steps on x, y and requires the same losses, weights and predictions.
void check_same_training(const std::string& preset, nn::Sequential& on, nn::Sequential& off,
                         const Tensor& x, const Tensor& y) {
  // Predicting first computes the plans' hoisted values (folded kernels) from the initial
  // weights; the training steps below write the weights, so the later predictions must not
  // reuse them.
  check_same_predictions(preset, on, off, x);
  for (int step = 0; step < 4; ++step) {
    nn::Logs a = on.train_on_batch(x, y);
    nn::Logs b = off.train_on_batch(x, y);
    BOOST_TEST(a.at("loss") == b.at("loss"), preset << " step " << step);
  }
  Graph& g = on.graph();
  Graph& h = off.graph();
  BOOST_TEST_REQUIRE(g.variables().size() == h.variables().size());
  for (std::size_t i = 0; i < g.variables().size(); ++i) {
    Output a = g.output_of(g.variables()[i].variable);
    Output b = h.output_of(h.variables()[i].variable);
    BOOST_TEST(identical(on.session().variable_value(a), off.session().variable_value(b)),
               preset << ": " << a.name());
  }
  check_same_predictions(preset, on, off, x);
  // Training plans write the variables and use batch statistics: nothing folds there.
  BOOST_TEST(report_of(on.training_plan(), "batchnorm_folding")->changes == 0, preset);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(chapter_models)

BOOST_DATA_TEST_CASE(training_steps_agree_with_and_without_passes,
                     bdata::make({"plain", "bn", "bn-before", "selu", "dropout"}), preset) {
  Tensor x, y;
  random_batch(x, y);
  auto on = chapter_model(preset, true);
  auto off = chapter_model(preset, false);
  BOOST_TEST(report_of(on->training_plan(), "elementwise_fusion")->changes > 0);
  check_same_training(preset, *on, *off, x, y);
}

// The same with the optimized session reusing buffers and the reference allocating one per
// step output: buffer reuse changes no bit either.
BOOST_DATA_TEST_CASE(optimized_reusing_plans_agree_with_plain_ones,
                     bdata::make({"plain", "bn", "bn-before", "selu", "dropout"}), preset) {
  Tensor x, y;
  random_batch(x, y);
  auto on = chapter_model(preset, true);
  auto off = chapter_model(preset, false, false);  // no passes, a buffer per output
  BOOST_TEST(report_of(on->training_plan(), "elementwise_fusion")->changes > 0);
  BOOST_TEST(!off->session().buffer_reuse());
  check_same_training(preset, *on, *off, x, y);
  // Reuse shrinks the training step's buffers (the same batch, so the same binding sizes).
  BOOST_TEST(on->training_plan().bound_bytes() < off->training_plan().bound_bytes());
}

// Every pass, softmax_cross_entropy's reassociated loss and gradient included: the same losses,
// weights and predictions to float32 rounding.
BOOST_DATA_TEST_CASE(training_steps_agree_to_rounding_with_every_pass,
                     bdata::make({"plain", "bn", "bn-before", "selu", "dropout"}), preset) {
  Tensor x, y;
  random_batch(x, y);
  auto on = chapter_model(preset, true, true, verified());
  auto off = chapter_model(preset, false);
  BOOST_TEST(count_op(on->training_plan(), "softmax_cross_entropy") == 1);
  BOOST_TEST(count_op(on->training_plan(), "log_softmax") == 0);
  Tensor before_on = on->predict(x), before_off = off->predict(x);
  BOOST_TEST(close(before_on, before_off, 1e-5));
  for (int step = 0; step < 4; ++step) {
    double a = on->train_on_batch(x, y).at("loss"), b = off->train_on_batch(x, y).at("loss");
    BOOST_TEST(std::abs(a - b) <= 1e-5 * std::abs(b), preset << " step " << step);
  }
  Graph& g = on->graph();
  Graph& h = off->graph();
  for (std::size_t i = 0; i < g.variables().size(); ++i) {
    Output a = g.output_of(g.variables()[i].variable);
    Output b = h.output_of(h.variables()[i].variable);
    BOOST_TEST(close(on->session().variable_value(a), off->session().variable_value(b), 1e-5, 1e-3),
               preset << ": " << a.name());
  }
  BOOST_TEST(close(on->predict(x), off->predict(x), 1e-5));
}

BOOST_AUTO_TEST_SUITE_END()
