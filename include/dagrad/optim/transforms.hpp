// Gradient transforms (keras-semantics.md section 7) and the Nesterov lookahead, as graph
// rewrites that an optimizer composes before its updates.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "../graph/graph.hpp"

namespace dagrad::optim {

// The legacy Keras clipping options, applied in this order when several are set: clipvalue
// (elementwise to [-v, v]), clipnorm (per variable: g * c / max(||g||, c)), global_clipnorm
// (all gradients together: g_i * c / max(G, c), G = sqrt(sum ||g_i||^2)). clipnorm and
// global_clipnorm together are refused, as Keras does.
struct Clipping {
  std::optional<double> clipvalue;
  std::optional<double> clipnorm;
  std::optional<double> global_clipnorm;
  bool active() const { return clipvalue || clipnorm || global_clipnorm; }
};
// Throws OptimizerError for a non-positive or non-finite threshold, or both norms set.
void validate(const Clipping& clipping);
// The clipped gradients (invalid entries, variables without a gradient, stay invalid).
std::vector<Output> clip_gradients(const std::vector<Output>& gradients, const Clipping& clipping);

// Data-parallel training (keras-semantics.md has no counterpart; Horovod's DistributedOptimizer
// and tf.distribute's MirroredStrategy do the same): every rank's gradients replaced by their mean
// over the ranks of the job, so that clipping and the updates after it see the gradient of the
// global batch, and every rank applies the same update.
struct GradientAllreduce {
  // Gradients of fewer bytes than this are flattened and packed, in order, into buckets of at
  // most this size, each reduced by one allreduce call; a larger gradient is reduced alone.
  std::int64_t bucket_bytes = std::int64_t{4} << 20;
  // Optional float scalar: each rank's gradients are multiplied by it before the mean. With
  // weight = ranks * (this rank's samples) / (the global batch's samples), ranks with uneven
  // batches still yield the gradient of the whole global batch. Invalid: no multiplication.
  Output weight;
};
// The reduced gradients (invalid entries stay invalid), under name scope "allreduce_gradients".
// Throws OptimizerError for bucket_bytes <= 0 or a weight that is not a scalar of the
// gradients' dtype.
std::vector<Output> allreduce_gradients(const std::vector<Output>& gradients,
                                        const GradientAllreduce& options);

// The lookahead of Nesterov's accelerated gradient (Géron eq. 11-5): the forward computation of
// `outputs` cloned with every read of each variable replaced by variable + beta * momentum, under
// name scope `scope`. Stateful nodes on the way (BatchNormalization's moving-statistics assigns)
// are copied, so that running the copies updates the statistics from the lookahead pass. Random
// nodes draw the stream of the node they copy (a training step runs only the copy), so dropout
// masks do not depend on whether the lookahead is on. Returns the copies of `outputs`, in order.
std::vector<Output> nesterov_lookahead(const std::vector<Output>& outputs,
                                       const std::vector<std::pair<Output, Output>>& variable_momentum,
                                       Output beta, const std::string& scope = "lookahead");

}  // namespace dagrad::optim
