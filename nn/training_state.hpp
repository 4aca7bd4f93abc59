// Internal: what compile builds and fit, evaluate and model files use.
#pragma once

#include <string>
#include <vector>

#include "dagrad/graph/graph.hpp"
#include "dagrad/nn/losses.hpp"
#include "dagrad/nn/training.hpp"
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
  // Data-parallel (Model::distribute): the step averages its gradients over the ranks.
  bool distributed = false;
  DistributedOptions distributed_options;
  Output replica_weight;        // float scalar variable: ranks * this rank's share of the batch
  double replica_weight_value = 1.0;
  std::vector<Output> synced_state;  // variables the forward pass updates (BN's statistics)
  Operation broadcast_target;        // assign(v, broadcast(v)) for every variable, when built
  std::size_t broadcast_count = 0;   // how many variables broadcast_target covers
  Operation sync_target;             // assign(v, allreduce mean(v)) for synced_state
};

}  // namespace dagrad::nn::detail
