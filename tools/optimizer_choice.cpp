#include "optimizer_choice.hpp"

namespace dagrad::tools {

namespace {

bool sgd_family(const std::string& name) { return name == "sgd" || name == "momentum" || name == "nesterov"; }

}  // namespace

const std::vector<std::string>& optimizer_names() {
  static const std::vector<std::string> names = {"sgd",     "momentum", "nesterov", "adagrad", "rmsprop",
                                                 "adam",    "nadam",    "adamax",   "adamw"};
  return names;
}

double default_learning_rate(const std::string& name) { return sgd_family(name) ? 0.01 : 0.001; }

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

}  // namespace dagrad::tools
