// Losses, the "accuracy" metric and weight regularizers with Keras's formulas
// (reference: keras-semantics.md sections 5 and 9).
#pragma once

#include <string>

#include "../graph/attr.hpp"
#include "../graph/flag.hpp"
#include "../graph/graph.hpp"

namespace dagrad::nn {

// Per-sample losses: a tensor of shape (batch,): the mean over the last axis for mse, mae and
// binary crossentropy, as keras.losses does, and over every non-batch axis for rank > 2, so
// that the batch mean is Keras's SUM_OVER_BATCH_SIZE; a (batch,) y_pred is one value per
// sample. y_pred is float with a batch axis (rank >= 2 for the categorical ones); y_true takes
// y_pred's dtype. Cross-entropies on the output of a softmax (last axis) or sigmoid op are
// computed from the logits behind it, through log_softmax (the stable softplus form), whatever
// from_logits says, as Keras does; on other probabilities they clip to [1e-7, 1 - 1e-7]
// (categorical: after p / sum(p); binary: also + 1e-7 inside the logarithms). For the
// elementwise losses a y_true of shape (batch,) beside a y_pred of shape (batch, 1) gains the
// axis; other shapes that differ from y_pred's are a ModelError (no silent broadcasting), as
// are non-float predictions.
Output mean_squared_error(Output y_true, Output y_pred);
Output mean_absolute_error(Output y_true, Output y_pred);
Output binary_crossentropy(Output y_true, Output y_pred, Flag from_logits = false);
Output categorical_crossentropy(Output y_true, Output y_pred, Flag from_logits = false);
// y_true: class indices (any integer or float dtype, cast to int64), shape (batch,) or
// (batch, 1); an index outside [0, classes) has no one-hot row and adds 0 to the loss.
Output sparse_categorical_crossentropy(Output y_true, Output y_pred, Flag from_logits = false);

// A loss by Keras name ("mse", "mean_squared_error", "mae", "mean_absolute_error",
// "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy"), reduced
// to the batch mean (SUM_OVER_BATCH_SIZE). Unknown names throw ModelError listing the names.
class Loss {
 public:
  Loss(const char* name);  // NOLINT: implicit
  Loss(const std::string& name);  // NOLINT
  Output operator()(Output y_true, Output y_pred) const;  // scalar
  Output per_sample(Output y_true, Output y_pred) const;  // (batch,)
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

// Per-sample accuracy (1 or 0 as float32, shape (batch,)), resolved from the shapes as tf.keras
// 2.x resolves "accuracy": y_pred's last dimension 1 -> binary (y_pred > 0.5); y_true of lower
// rank than y_pred, or last dimension 1 beside a wider y_pred -> sparse categorical (argmax ==
// y_true); otherwise categorical (argmax == argmax). Ties in argmax go to the lowest index.
// A y_pred of rank 1 (one value per sample) counts as binary. Over more than one non-batch
// axis the result is the mean of the matches per sample.
Output accuracy(Output y_true, Output y_pred);
Output binary_accuracy(Output y_true, Output y_pred, double threshold = 0.5);
Output categorical_accuracy(Output y_true, Output y_pred);
Output sparse_categorical_accuracy(Output y_true, Output y_pred);

// l1 * sum(|w|) + l2 * sum(w^2) (no 1/2), added unscaled to the batch-mean loss.
struct Regularizer {
  double l1 = 0.0;
  double l2 = 0.0;
  static Regularizer L1(double l1 = 0.01) { return {l1, 0.0}; }
  static Regularizer L2(double l2 = 0.01) { return {0.0, l2}; }
  static Regularizer L1L2(double l1 = 0.01, double l2 = 0.01) { return {l1, l2}; }
  bool active() const { return l1 != 0.0 || l2 != 0.0; }
  // The penalty of `w` (float) as a scalar of w's dtype; requires active() (else ModelError).
  Output operator()(Output w) const;
};

}  // namespace dagrad::nn
