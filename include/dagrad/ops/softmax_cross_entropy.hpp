// softmax_cross_entropy: the cross-entropy of softmax(logits) against targets and its gradient
// with respect to the logits, row by row over the last axis, in one kernel (as TensorFlow's
// SoftmaxCrossEntropyWithLogits). The softmax_cross_entropy pass makes these nodes from the
// graph the losses build, -sum(targets * log_softmax(logits), -1), and from its gradient chain.
//
//   inputs   logits   float32 or float64, shape (..., classes)
//            targets  the logits' dtype and shape: one-hot rows or any weights (class
//                     probabilities; a row need not sum to 1)
//   outputs  loss     (...): -sum_i t_i log_softmax(z)_i
//            backprop (..., classes): d loss / d z = softmax(z) sum_i t_i - t (the gradient of
//                     the loss for an upstream gradient of 1; multiply by the upstream gradient
//                     per row for the chain rule)
// Each row is read once: max, then exp(z - max) into backprop with their sum, then the loss and
// backprop from those (sums in double). Not differentiable: passes run after autodiff.
#pragma once

#include <utility>

#include "../graph/graph.hpp"
#include "ops.hpp"

namespace dagrad {

// Adds a softmax_cross_entropy node: {loss, backprop}.
std::pair<Output, Output> softmax_cross_entropy(Output logits, Output targets, OpName name = {});

// Adds softmax_cross_entropy to `registry` (called by register_builtin_ops).
void register_softmax_cross_entropy_ops(OpRegistry& registry);

}  // namespace dagrad
