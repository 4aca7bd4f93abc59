// Model::train_on_batch and the learning-rate finder (nn/lr_finder.cpp): the batch loss and the
// update against hand-computed values, the exponential sweep, the suggestion, the stop on
// divergence, and the model left exactly as it was.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>
#include <random>

#include "dagrad/dagrad.hpp"

using namespace dagrad;
namespace tt = boost::test_tools;

namespace {

bool bit_identical(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

// y = x w + b with w = (2, -1), b = 0.5, on x = [[1, 2], [3, -1]], targets (1, 0).
struct Linear {
  std::unique_ptr<nn::Sequential> model;
  Tensor x = Tensor::from_vector<float>(Shape{2, 2}, {1, 2, 3, -1});
  Tensor y = Tensor::from_vector<float>(Shape{2, 1}, {1, 0});
  explicit Linear(optim::OptimizerPtr optimizer) {
    model = std::make_unique<nn::Sequential>(
        std::vector<nn::LayerPtr>{nn::Dense(1, {.input_shape = Shape{2}})});
    model->set_weights({Tensor::from_vector<float>(Shape{2, 1}, {2, -1}),
                        Tensor::from_vector<float>(Shape{1}, {0.5f})});
    model->compile(std::move(optimizer), "mse");
  }
};

// Three classes by the sign pattern of four normal features; a net with dropout (a random node)
// and momentum (slots), so that restoring must cover generators and optimizer state.
struct Classes {
  Tensor x, y;
  explicit Classes(int n) : x(DType::float32, Shape{n, 4}), y(DType::int32, Shape{n}) {
    std::mt19937 rng(7);
    std::normal_distribution<float> normal;
    for (int i = 0; i < n; ++i) {
      float s = 0;
      for (int j = 0; j < 4; ++j)
        s += (x.data<float>()[i * 4 + j] = normal(rng)) * static_cast<float>(j + 1);
      y.data<std::int32_t>()[i] = s > 1.5f ? 2 : (s > -1.5f ? 1 : 0);
    }
  }
};

std::unique_ptr<nn::Sequential> classifier(std::uint64_t seed) {
  auto model = std::make_unique<nn::Sequential>(
      std::vector<nn::LayerPtr>{nn::Dense(16, {.activation = "elu", .input_shape = Shape{4}}),
                                nn::Dropout(0.3), nn::Dense(3, {.activation = "softmax"})},
      "", std::make_shared<nn::Backend>(seed));
  model->compile(optim::SGD({.learning_rate = 0.05, .momentum = 0.9}),
                 "sparse_categorical_crossentropy", {"accuracy"});
  return model;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(lr_finder)

BOOST_AUTO_TEST_CASE(train_on_batch_returns_the_loss_before_one_sgd_update) {
  Linear f(optim::SGD({.learning_rate = 0.01}));
  // Predictions 0.5 and 7.5: mse = (0.25 + 56.25) / 2 = 28.25. Gradients: dL/dw = (2/2) sum (p - y)
  // x = -0.5 (1, 2) + 7.5 (3, -1) = (22, -8.5); dL/db = -0.5 + 7.5 = 7.
  nn::Logs logs = f.model->train_on_batch(f.x, f.y);
  BOOST_TEST(logs.at("loss") == 28.25, tt::tolerance(1e-6));
  std::vector<Tensor> w = f.model->get_weights();
  BOOST_TEST(w[0].data<float>()[0] == 2 - 0.01 * 22, tt::tolerance(1e-6));
  BOOST_TEST(w[0].data<float>()[1] == -1 + 0.01 * 8.5, tt::tolerance(1e-6));
  BOOST_TEST(w[1].data<float>()[0] == 0.5 - 0.01 * 7, tt::tolerance(1e-6));
  BOOST_TEST(f.model->epoch() == 0);  // a batch is not an epoch
}

BOOST_AUTO_TEST_CASE(train_on_batch_refuses_what_fit_refuses) {
  Linear f(optim::SGD());
  BOOST_CHECK_THROW(f.model->train_on_batch(Tensor(DType::float32, Shape{2, 3}), f.y),
                    nn::ModelError);
  BOOST_CHECK_THROW(f.model->train_on_batch(Tensor(DType::float32, Shape{0, 2}),
                                            Tensor(DType::float32, Shape{0, 1})),
                    nn::ModelError);
  auto uncompiled = std::make_unique<nn::Sequential>(
      std::vector<nn::LayerPtr>{nn::Dense(1, {.input_shape = Shape{2}})});
  BOOST_CHECK_THROW(uncompiled->train_on_batch(f.x, f.y), nn::ModelError);
}

BOOST_AUTO_TEST_CASE(each_step_records_its_batch_loss_at_its_rate) {
  Linear f(optim::SGD({.learning_rate = 0.5}));
  nn::LrFinderOptions o;
  o.min_rate = 0.01;
  o.max_rate = 0.02;
  o.steps = 2;
  o.batch_size = 2;  // the whole set: the row order does not change an mse
  nn::LrFinderResult r = nn::find_learning_rate(*f.model, f.x, f.y, o);
  BOOST_TEST_REQUIRE(r.rates.size() == 2u);
  BOOST_TEST(r.rates[0] == 0.01, tt::tolerance(1e-12));
  BOOST_TEST(r.rates[1] == 0.02, tt::tolerance(1e-12));
  BOOST_TEST(r.losses[0] == 28.25, tt::tolerance(1e-6));
  // After the step at 0.01: w = (1.78, -0.915), b = 0.43; predictions 0.38 and 6.685.
  BOOST_TEST(r.losses[1] == (0.62 * 0.62 + 6.685 * 6.685) / 2, tt::tolerance(1e-5));
  BOOST_TEST(!r.diverged);
  // Put back: the weights and the optimizer's own rate.
  std::vector<Tensor> w = f.model->get_weights();
  BOOST_TEST(w[0].data<float>()[0] == 2.0f);
  BOOST_TEST(w[1].data<float>()[0] == 0.5f);
  BOOST_TEST(f.model->learning_rate() == 0.5, tt::tolerance(1e-7));
}

BOOST_AUTO_TEST_CASE(rates_grow_exponentially_and_the_suggestion_is_a_tenth_of_the_turning_point) {
  Classes data(256);
  auto model = classifier(3);
  nn::LrFinderOptions o;
  o.min_rate = 1e-4;
  o.max_rate = 1.0;
  o.steps = 60;
  o.batch_size = 16;
  o.stop_factor = 1e9;  // run every step
  nn::LrFinderResult r = nn::find_learning_rate(*model, data.x, data.y, o);
  BOOST_TEST_REQUIRE(r.rates.size() == 60u);
  for (int k = 0; k < 60; ++k)
    BOOST_TEST(r.rates[k] == 1e-4 * std::pow(1e4, k / 59.0), tt::tolerance(1e-12));
  // The bias-corrected moving average, recomputed from the recorded losses.
  double average = 0, best = INFINITY, lowest = 0;
  for (int k = 0; k < 60; ++k) {
    average = 0.9 * average + 0.1 * r.losses[k];
    double smooth = average / (1 - std::pow(0.9, k + 1));
    BOOST_TEST(r.smoothed[k] == smooth, tt::tolerance(1e-12));
    if (smooth < best) best = smooth, lowest = r.rates[k];
  }
  BOOST_TEST(r.lowest_rate == lowest);
  // The turning point: the last rate within 10% of the lowest smoothed loss.
  double turning = 0;
  for (int k = 0; k < 60; ++k)
    if (r.smoothed[k] <= 1.1 * best) turning = r.rates[k];
  BOOST_TEST(r.turning_rate == turning);
  BOOST_TEST(r.turning_rate >= r.lowest_rate);
  BOOST_TEST(r.suggested_rate == turning / 10, tt::tolerance(1e-12));
  BOOST_TEST(!r.diverged);
}

BOOST_AUTO_TEST_CASE(the_sweep_stops_when_the_loss_shoots_up) {
  Linear f(optim::SGD());
  nn::LrFinderOptions o;
  o.min_rate = 1e-3;
  o.max_rate = 1e3;
  o.steps = 200;
  o.batch_size = 2;
  nn::LrFinderResult r = nn::find_learning_rate(*f.model, f.x, f.y, o);
  BOOST_TEST(r.diverged);
  BOOST_TEST(r.rates.size() < 200u);
  double last = r.smoothed.back();
  BOOST_TEST((!std::isfinite(last) ||
              last > 4 * *std::min_element(r.smoothed.begin(), r.smoothed.end() - 1)));
  // Gradient descent on this mse diverges above 2 / lambda_max of its Hessian X'X (x with a bias
  // column), about 0.17: the loss cannot start climbing before that.
  const double h[3][3] = {{10, -1, 4}, {-1, 5, 1}, {4, 1, 2}};
  double v[3] = {1, 1, 1}, lambda = 0;
  for (int it = 0; it < 200; ++it) {
    double w[3] = {0, 0, 0};
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) w[i] += h[i][j] * v[j];
    lambda = std::sqrt(w[0] * w[0] + w[1] * w[1] + w[2] * w[2]);
    for (int i = 0; i < 3; ++i) v[i] = w[i] / lambda;
  }
  BOOST_TEST(r.turning_rate > 0.5 * 2 / lambda);
  BOOST_TEST(r.turning_rate < r.rates.back());
  std::vector<Tensor> w = f.model->get_weights();
  BOOST_TEST(w[0].data<float>()[0] == 2.0f);  // even after diverging, the model is put back
}

BOOST_AUTO_TEST_CASE(the_model_trains_afterwards_exactly_as_if_never_swept) {
  Classes data(300);
  nn::FitOptions fit;
  fit.epochs = 2;
  fit.batch_size = 32;
  fit.verbose = 0;
  auto untouched = classifier(11);
  nn::History expected = untouched->fit(data.x, data.y, fit);
  auto swept = classifier(11);
  nn::LrFinderOptions o;
  o.steps = 40;
  o.batch_size = 32;
  nn::find_learning_rate(*swept, data.x, data.y, o);
  nn::History got = swept->fit(data.x, data.y, fit);
  BOOST_TEST(got["loss"] == expected["loss"], tt::per_element());
  std::vector<Tensor> a = untouched->get_weights(), b = swept->get_weights();
  BOOST_TEST_REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) BOOST_TEST(bit_identical(a[i], b[i]));
  BOOST_TEST(
      untouched->session().variable_value(untouched->optimizer().iterations()).value_as_double(0) ==
      swept->session().variable_value(swept->optimizer().iterations()).value_as_double(0));
}

BOOST_AUTO_TEST_CASE(bad_requests_are_model_errors) {
  Linear f(optim::SGD());
  auto check = [&](auto change) {
    nn::LrFinderOptions o;
    change(o);
    BOOST_CHECK_THROW(nn::find_learning_rate(*f.model, f.x, f.y, o), nn::ModelError);
  };
  check([](nn::LrFinderOptions& o) { o.min_rate = 0; });
  check([](nn::LrFinderOptions& o) { o.min_rate = 2, o.max_rate = 1; });
  check([](nn::LrFinderOptions& o) { o.max_rate = INFINITY; });
  check([](nn::LrFinderOptions& o) { o.min_rate = NAN; });
  check([](nn::LrFinderOptions& o) { o.steps = 1; });
  check([](nn::LrFinderOptions& o) { o.batch_size = 0; });
  check([](nn::LrFinderOptions& o) { o.stop_factor = 1; });
  check([](nn::LrFinderOptions& o) { o.smoothing = 1; });
  check([](nn::LrFinderOptions& o) { o.suggest_factor = 0.5; });
  check([](nn::LrFinderOptions& o) { o.climb_tolerance = -0.1; });
  auto uncompiled = std::make_unique<nn::Sequential>(
      std::vector<nn::LayerPtr>{nn::Dense(1, {.input_shape = Shape{2}})});
  BOOST_CHECK_THROW(nn::find_learning_rate(*uncompiled, f.x, f.y), nn::ModelError);
  Linear scheduled(optim::SGD({.schedule = optim::exponential_decay(0.1, 100, 0.5)}));
  BOOST_CHECK_THROW(nn::find_learning_rate(*scheduled.model, scheduled.x, scheduled.y),
                    nn::ModelError);
}

BOOST_AUTO_TEST_SUITE_END()
