#include "optimizer_choice.hpp"

#include <cmath>
#include <functional>

namespace dagrad::tools {

namespace {

bool sgd_family(const std::string& name) {
  return name == "sgd" || name == "momentum" || name == "nesterov";
}

}  // namespace

const std::vector<std::string>& optimizer_names() {
  static const std::vector<std::string> names = {
      "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "nadam", "adamax", "adamw"};
  return names;
}

double default_learning_rate(const std::string& name) {
  return sgd_family(name) ? 0.01 : 0.001;
}

optim::OptimizerPtr make_optimizer(const OptimizerChoice& c) {
  const std::string& name = c.name;
  // The options every optimizer takes.
  auto common = [&](auto o) {
    o.learning_rate = c.learning_rate > 0 ? c.learning_rate : default_learning_rate(name);
    o.schedule = c.schedule;
    o.clipvalue = c.clipvalue;
    o.clipnorm = c.clipnorm;
    o.global_clipnorm = c.global_clipnorm;
    return o;
  };
  if (sgd_family(name)) {
    optim::SGDOptions o = common(optim::SGDOptions{});
    o.momentum = name == "sgd" ? 0.0 : c.momentum;
    o.nesterov = name == "nesterov";
    o.momentum_schedule = c.momentum_schedule;
    return optim::SGD(o);
  }
  if (name == "adagrad") return optim::Adagrad(common(optim::AdagradOptions{}));
  if (name == "rmsprop") return optim::RMSprop(common(optim::RMSpropOptions{}));
  optim::AdamOptions o = common(optim::AdamOptions{});
  if (name == "adam") return optim::Adam(o);
  if (name == "nadam") return optim::Nadam(o);
  if (name == "adamax") return optim::Adamax(o);
  if (name == "adamw") return optim::AdamW(o);
  std::string known;
  for (const std::string& n : optimizer_names()) known += (known.empty() ? "" : ", ") + n;
  throw optim::OptimizerError("unknown optimizer '" + name + "' (" + known + ")");
}

const std::vector<std::string>& schedule_names() {
  static const std::vector<std::string> names = {"none",      "power",   "exponential",
                                                 "piecewise", "plateau", "1cycle"};
  return names;
}

nn::CallbackPtr apply_schedule(OptimizerChoice& choice, const std::string& s,
                               std::int64_t steps_per_epoch, int epochs) {
  const double lr =
      choice.learning_rate > 0 ? choice.learning_rate : default_learning_rate(choice.name);
  const double spe = static_cast<double>(steps_per_epoch);
  if (s == "none") return nullptr;
  if (s == "plateau") return nn::ReduceLROnPlateau({.factor = 0.5, .patience = 5});
  if (choice.name == "nadam") {
    // The same schedules by epoch, set on the rate variable at each epoch's start.
    std::function<double(int, double)> f;
    if (s == "power") f = [lr, spe](int e, double) { return lr / (1.0 + e * spe / 10000.0); };
    if (s == "exponential") f = [lr](int e, double) { return lr * std::pow(0.1, e / 20.0); };
    if (s == "piecewise")
      f = [lr](int e, double) { return e < 5 ? lr : (e < 15 ? lr / 2 : lr / 10); };
    if (s == "1cycle")
      throw optim::OptimizerError(
          "schedule 1cycle needs an optimizer that takes a schedule (not nadam)");
    if (!f) throw optim::OptimizerError("unknown schedule '" + s + "'");
    return nn::LearningRateScheduler(f);
  }
  if (s == "power") {
    choice.schedule = optim::power_decay(lr, 10000.0);
  } else if (s == "exponential") {
    choice.schedule = optim::exponential_decay(lr, 20.0 * spe, 0.1);
  } else if (s == "piecewise") {
    choice.schedule = optim::piecewise_constant({5 * spe, 15 * spe}, {lr, lr / 2, lr / 10});
  } else if (s == "1cycle") {
    const std::int64_t total = static_cast<std::int64_t>(epochs) * steps_per_epoch;
    if (total < 3)
      throw optim::OptimizerError(
          "schedule 1cycle needs at least 3 training steps (epochs x batches per epoch), got " +
          std::to_string(total));
    choice.schedule = optim::one_cycle(total, lr);
    if (choice.name == "momentum" || choice.name == "nesterov")
      choice.momentum_schedule = optim::one_cycle_momentum(total);
  } else {
    throw optim::OptimizerError("unknown schedule '" + s + "'");
  }
  return nullptr;
}

}  // namespace dagrad::tools
