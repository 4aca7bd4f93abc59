// The optimizers of the command line by name: `dagrad train --optimizer`, `dagrad lr-find` and
// the experiments build them here, so a name means the same optimizer everywhere.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dagrad/nn/training.hpp"
#include "dagrad/optim/optim.hpp"

namespace dagrad::tools {

struct OptimizerChoice {
  std::string name = "nesterov";  // one of optimizer_names()
  double learning_rate = 0;       // 0: default_learning_rate(name)
  double momentum = 0.9;          // momentum and nesterov
  std::optional<double> clipvalue = std::nullopt, clipnorm = std::nullopt,
                        global_clipnorm = std::nullopt;
  optim::SchedulePtr schedule = nullptr;           // instead of the constant rate
  optim::SchedulePtr momentum_schedule = nullptr;  // momentum and nesterov (1cycle)
};

// sgd, momentum, nesterov, adagrad, rmsprop, adam, nadam, adamax, adamw.
const std::vector<std::string>& optimizer_names();
// 0.01 for the SGD family (the book's), 0.001 otherwise (Keras's defaults).
double default_learning_rate(const std::string& name);
// The optimizer; OptimizerError naming the known ones for an unknown name.
optim::OptimizerPtr make_optimizer(const OptimizerChoice& choice);

// none, power, exponential, piecewise, plateau, 1cycle.
const std::vector<std::string>& schedule_names();
// The chapter's schedules for a run of `epochs` epochs of `steps_per_epoch` steps, from the
// choice's rate (its default when 0): power (s = 10,000 steps, the book's decay 1e-4),
// exponential (/ 10 every 20 epochs), piecewise (rate, / 2 from epoch 5, / 10 from epoch 15),
// plateau (ReduceLROnPlateau: / 2 after 5 epochs without a better val_loss), 1cycle (up to the
// rate and back over the run, momentum cycled the other way for momentum and nesterov). Sets
// choice.schedule (and momentum_schedule), or returns a callback for what works by epoch:
// plateau, and every schedule of the legacy Nadam, which takes no schedule object (1cycle then
// throws OptimizerError). Null when no callback is needed.
nn::CallbackPtr apply_schedule(OptimizerChoice& choice, const std::string& schedule,
                               std::int64_t steps_per_epoch, int epochs);

}  // namespace dagrad::tools
