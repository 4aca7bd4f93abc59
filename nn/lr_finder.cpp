#include "dagrad/nn/lr_finder.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>

#include "dagrad/graph/session.hpp"
#include "dagrad/nn/errors.hpp"
#include "dagrad/nn/model.hpp"
#include "dagrad/optim/optimizers.hpp"
#include "data_util.hpp"

namespace dagrad::nn {

namespace {

void check(const LrFinderOptions& o) {
  auto fail = [](const std::string& what) { throw ModelError("find_learning_rate: " + what); };
  if (!(std::isfinite(o.min_rate) && std::isfinite(o.max_rate) && o.min_rate > 0 &&
        o.min_rate < o.max_rate))
    fail("need finite rates with 0 < min_rate < max_rate, got " + std::to_string(o.min_rate) +
         " and " + std::to_string(o.max_rate));
  if (o.steps < 2) fail("steps must be >= 2, got " + std::to_string(o.steps));
  if (o.batch_size < 1) fail("batch_size must be >= 1, got " + std::to_string(o.batch_size));
  if (!(o.stop_factor > 1)) fail("stop_factor must be > 1, got " + std::to_string(o.stop_factor));
  if (!(o.smoothing >= 0 && o.smoothing < 1))
    fail("smoothing must be in [0, 1), got " + std::to_string(o.smoothing));
  if (!(o.climb_tolerance >= 0 && std::isfinite(o.climb_tolerance)))
    fail("climb_tolerance must be a finite number >= 0, got " + std::to_string(o.climb_tolerance));
  if (!(o.suggest_factor >= 1))
    fail("suggest_factor must be >= 1, got " + std::to_string(o.suggest_factor));
}

// Everything a training step changes, to be put back.
struct Snapshot {
  std::vector<Output> variables;
  std::vector<Tensor> values;
  std::map<std::string, std::string> random_states;
  int epoch = 0;

  explicit Snapshot(Model& model) {
    variables = model.weights();
    for (const Output& v : model.optimizer().state_variables()) variables.push_back(v);
    Session& session = model.session();
    // What the first step would initialize (the optimizer's slots) is initialized now, so it
    // can be put back.
    session.initialize_uninitialized_variables();
    // ... and the training step's random nodes get their generators, so their states are saved.
    model.prepare_training();
    for (const Output& v : variables) values.push_back(session.variable_value(v));
    random_states = session.random_states();
    epoch = model.epoch();
  }
  void restore(Model& model) const {
    Session& session = model.session();
    for (std::size_t i = 0; i < variables.size(); ++i)
      session.set_variable_value(variables[i], values[i]);
    session.set_random_states(random_states);
    model.set_epoch(epoch);
  }
};

}  // namespace

LrFinderResult find_learning_rate(Model& model, const Tensor& x, const Tensor& y,
                                  const LrFinderOptions& o) {
  check(o);
  if (!model.compiled())
    throw ModelError("find_learning_rate: model '" + model.name() + "' is not compiled");
  // Its stopping rule reads each step's loss, which is a rank's own in a data-parallel model:
  // ranks could stop at different steps and wait for each other forever.
  if (model.distributed())
    throw ModelError("find_learning_rate: model '" + model.name() +
                     "' is distributed; run the finder in one process (its rates suit the global batch)");
  if (model.optimizer().has_schedule())
    throw ModelError(
        "find_learning_rate: the optimizer of model '" + model.name() +
        "' follows a schedule; the finder sets the rate itself (compile with a constant rate)");
  if (x.shape().rank() < 1 || x.shape()[0] < 1) throw ModelError("find_learning_rate: no samples");
  const std::int64_t n = x.shape()[0];
  Snapshot before(model);
  LrFinderResult r;
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::mt19937_64 rng(o.seed != 0 ? o.seed : model.graph().seed());
  std::int64_t position = n;  // reshuffle on first use
  Tensor batch_x, batch_y;
  double average = 0, best = INFINITY;
  const double ratio = std::log(o.max_rate / o.min_rate);
  try {
    for (int k = 0; k < o.steps; ++k) {
      if (position >= n) {
        std::iota(order.begin(), order.end(), 0);
        std::shuffle(order.begin(), order.end(), rng);
        position = 0;
      }
      std::int64_t end = std::min(n, position + o.batch_size);
      detail::gather_rows(x, order, position, end, batch_x);
      detail::gather_rows(y, order, position, end, batch_y);
      position = end;
      double rate = o.min_rate * std::exp(ratio * k / (o.steps - 1));
      model.set_learning_rate(rate);
      double loss = model.train_on_batch(batch_x, batch_y).at("loss");
      r.rates.push_back(rate);
      r.losses.push_back(loss);
      if (!std::isfinite(loss)) {
        r.smoothed.push_back(loss);
        r.diverged = k + 1 < o.steps;
        break;
      }
      average = o.smoothing * average + (1 - o.smoothing) * loss;
      double smooth = average / (1 - std::pow(o.smoothing, k + 1));
      r.smoothed.push_back(smooth);
      if (smooth < best) {
        best = smooth;
        r.lowest_rate = rate;
      }
      if (smooth > o.stop_factor * best) {
        r.diverged = k + 1 < o.steps;
        break;
      }
    }
  } catch (...) {
    before.restore(model);
    throw;
  }
  before.restore(model);
  if (!std::isfinite(best))
    throw ModelError("find_learning_rate: the first step's loss is not finite; no rate to suggest");
  for (std::size_t k = 0; k < r.rates.size(); ++k)
    if (r.smoothed[k] <= best * (1 + o.climb_tolerance)) r.turning_rate = r.rates[k];
  r.suggested_rate = r.turning_rate / o.suggest_factor;
  return r;
}

}  // namespace dagrad::nn
