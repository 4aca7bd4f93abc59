// Losses, the "accuracy" metric and weight regularizers with Keras's formulas
// (reference: keras-semantics.md sections 5 and 9).
#pragma once

#include <string>

#include "../graph/attr.hpp"
#include "../graph/graph.hpp"

namespace dagrad::nn {

// Per-sample losses: a tensor of shape (batch,) (the mean over the last axis for mse, mae and
// binary crossentropy, as keras.losses does). Cross-entropies on the output of a softmax
// (sigmoid) op are computed from the logits behind it, through log_softmax (the stable
// softplus form), as Keras does; on other probabilities they clip to [1e-7, 1 - 1e-7].
Output mean_squared_error(Output y_true, Output y_pred);
Output mean_absolute_error(Output y_true, Output y_pred);
Output binary_crossentropy(Output y_true, Output y_pred, bool from_logits = false);
Output categorical_crossentropy(Output y_true, Output y_pred, bool from_logits = false);
// y_true: class indices (any integer or float dtype), shape (batch,) or (batch, 1).
Output sparse_categorical_crossentropy(Output y_true, Output y_pred, bool from_logits = false);

// A loss by Keras name ("mse", "mean_squared_error", "mae", "binary_crossentropy",
// "categorical_crossentropy", "sparse_categorical_crossentropy"), reduced to the batch mean
// (SUM_OVER_BATCH_SIZE). Unknown names throw ModelError.
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
  // The penalty of `w` as a scalar of w's dtype; requires active().
  Output operator()(Output w) const;
};

}  // namespace dagrad::nn
