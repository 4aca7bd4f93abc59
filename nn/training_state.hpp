// Internal: what compile builds and fit, evaluate and model files use.
#pragma once

#include <string>
#include <vector>

#include "dagrad/graph/graph.hpp"
#include "dagrad/nn/losses.hpp"
#include "dagrad/optim/optimizers.hpp"

namespace dagrad::nn::detail {

struct Training {
  optim::OptimizerPtr optimizer;
  Loss loss = "mse";
  std::vector<std::string> metric_names;
  std::vector<bool> trainable_flags;  // the layers' flags at compile time
  Output x;                           // the model's input placeholder
  Output labels;                      // float32 labels placeholder
  std::vector<Output> train_fetches;  // step loss, then metrics (at the lookahead point for NAG)
  Operation train_target;             // the updates, BN statistics and constraints
  std::vector<Output> eval_fetches;   // inference-graph loss (with penalties), then metrics
  bool sparse = false;
  std::int64_t classes = 0;  // sparse labels lie in [0, classes)
  int epoch = 0;             // epochs completed
};

}  // namespace dagrad::nn::detail
