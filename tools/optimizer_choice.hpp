// The optimizers of the command line by name: `dagrad train --optimizer`, `dagrad lr-find` and
// the experiments build them here, so a name means the same optimizer everywhere.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dagrad/optim/optim.hpp"

namespace dagrad::tools {

struct OptimizerChoice {
  std::string name = "nesterov";  // one of optimizer_names()
  double learning_rate = 0;       // 0: default_learning_rate(name)
  double momentum = 0.9;          // momentum and nesterov
  std::optional<double> clipvalue = std::nullopt, clipnorm = std::nullopt, global_clipnorm = std::nullopt;
  optim::SchedulePtr schedule = nullptr;           // instead of the constant rate
  optim::SchedulePtr momentum_schedule = nullptr;  // momentum and nesterov (1cycle)
};

// sgd, momentum, nesterov, adagrad, rmsprop, adam, nadam, adamax, adamw.
const std::vector<std::string>& optimizer_names();
// 0.01 for the SGD family (the book's), 0.001 otherwise (Keras's defaults).
double default_learning_rate(const std::string& name);
// The optimizer; OptimizerError naming the known ones for an unknown name.
optim::OptimizerPtr make_optimizer(const OptimizerChoice& choice);

}  // namespace dagrad::tools
