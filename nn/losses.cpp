// Losses, accuracy metrics and regularizers (keras-semantics.md sections 5 and 9), composed of
// graph ops. Each function works under its own name scope, so a loss reads as one box in DOT.
#include "dagrad/nn/losses.hpp"

#include <cmath>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "dagrad/nn/errors.hpp"
#include "dagrad/ops/ops.hpp"

namespace dagrad::nn {

namespace {

// Keras's backend epsilon: probabilities are clipped to [eps, 1 - eps].
constexpr double kEpsilon = 1e-7;

std::string describe(Output x) {
  return "'" + x.name() + "' " + std::string(dtype_name(x.dtype())) + " " + x.shape().to_string();
}

Graph& graph_of(const char* who, Output y_true, Output y_pred) {
  if (!y_true.valid() || !y_pred.valid())
    throw ModelError(std::string(who) + ": y_true and y_pred must both be outputs of a graph");
  if (y_true.graph != y_pred.graph)
    throw ModelError(std::string(who) + ": y_true " + describe(y_true) + " and y_pred " +
                     describe(y_pred) + " belong to different graphs");
  return *y_pred.graph;
}

// y_pred must be a float tensor with a batch axis.
void check_prediction(const char* who, Output y_pred, int min_rank) {
  if (!is_floating(y_pred.dtype()))
    throw ModelError(std::string(who) + ": y_pred must be float32 or float64, got " +
                     describe(y_pred));
  if (y_pred.shape().rank() < min_rank)
    throw ModelError(std::string(who) + ": y_pred must have rank >= " + std::to_string(min_rank) +
                     (min_rank == 1 ? " (a batch axis)" : " (batch, ..., classes)") + ", got " +
                     describe(y_pred));
}

Output as_dtype(Output x, DType dtype) {
  return x.dtype() == dtype ? x : cast(x, dtype);
}

// y_true matched to y_pred for an elementwise comparison: a y_true of one rank less beside a
// y_pred whose last dimension is 1 gains that axis (Keras's match_dtype_and_rank), then the
// shapes must agree (unknown dimensions agree with anything); broadcasting a y_true of another
// shape is refused, as it is almost always a mistake.
Output aligned_targets(const char* who, Output y_true, Output y_pred) {
  const Shape& ts = y_true.shape();
  const Shape& ps = y_pred.shape();
  if (ts.rank() + 1 == ps.rank() && ps[ps.rank() - 1] == 1) y_true = expand_dims(y_true, {-1});
  if (!y_true.shape().compatible_with(ps))
    throw ModelError(std::string(who) + ": y_true " + describe(y_true) + " does not match y_pred " +
                     describe(y_pred));
  return y_true;
}

// (batch, ...) -> (batch,): the mean over every axis but the first. A batch mean of the result
// equals Keras's SUM_OVER_BATCH_SIZE over its per-sample losses of any rank.
Output per_sample_mean(Output x) {
  int rank = x.shape().rank();
  if (rank <= 1) return x;
  std::vector<std::int64_t> axes;
  for (int a = 1; a < rank; ++a) axes.push_back(a);
  return mean(x, axes);
}

// The input of y_pred's node when that node is `op` (softmax over the last axis, or sigmoid):
// the logits a cross-entropy computes from, as Keras does with _keras_logits.
std::optional<Output> logits_behind(Output y_pred, std::string_view op) {
  const Node& node = y_pred.producer();
  if (node.op == nullptr || node.op->name != op || y_pred.index != 0 || node.inputs.size() != 1)
    return std::nullopt;
  if (op == "softmax") {
    std::int64_t axis = node.attrs.get_int("axis");
    std::int64_t rank = y_pred.shape().rank();
    if (axis != -1 && axis != rank - 1) return std::nullopt;
  }
  return y_pred.graph->output_of(node.inputs[0].node, node.inputs[0].index);
}

// max(z, 0) - z y + log(1 + e^-|z|) (tf.nn.sigmoid_cross_entropy_with_logits). The branches go
// through `where` on z >= 0 rather than relu and abs, so that at z = 0 the gradient is
// sigmoid(0) - y as it should be (relu'(0) = abs'(0) = 0 would give -y).
Output binary_crossentropy_from_logits(Output y, Output z) {
  Output zero = zeros_like(z);
  Output nonnegative = greater_equal(z, zero);
  Output relu_z = where(nonnegative, z, zero);
  Output minus_abs_z = where(nonnegative, -z, z);
  return relu_z - z * y + log1p(exp(minus_abs_z));
}

// Class indices as a one-hot of y_pred's shape and dtype. y_true holds indices of shape
// y_pred[:-1], or y_pred[:-1] + (1,).
Output one_hot_targets(const char* who, Output y_true, Output y_pred) {
  const Shape& ts = y_true.shape();
  const Shape& ps = y_pred.shape();
  std::int64_t classes = ps[ps.rank() - 1];
  if (classes == Shape::kUnknown)
    throw ModelError(std::string(who) + ": the number of classes (last dimension of y_pred " +
                     describe(y_pred) + ") must be known");
  if (!is_integer(y_true.dtype()) && !is_floating(y_true.dtype()))
    throw ModelError(std::string(who) + ": class indices must be integer or float, got " +
                     describe(y_true));
  std::vector<std::int64_t> outer(ps.dims().begin(), ps.dims().end() - 1);
  bool plain = Shape(outer).compatible_with(ts);
  bool trailing_one = ts.rank() == ps.rank() && ts[ts.rank() - 1] == 1 &&
                      Shape(std::vector<std::int64_t>(ts.dims().begin(), ts.dims().end() - 1))
                          .compatible_with(Shape(outer));
  if (!plain && !trailing_one) {
    std::vector<std::int64_t> with_one = outer;
    with_one.push_back(1);
    throw ModelError(std::string(who) + ": y_true " + describe(y_true) +
                     " must hold one class index per sample, of shape " + Shape(outer).to_string() +
                     " or " + Shape(with_one).to_string() + ", beside y_pred " + describe(y_pred));
  }
  Output indices = as_dtype(y_true, DType::int64);
  Output targets = one_hot(indices, classes, y_pred.dtype());
  // (..., 1, classes) from indices of shape (..., 1): y_pred's shape, known at run time.
  if (trailing_one) targets = reshape_like(targets, y_pred);
  return targets;
}

// Class indices of shape y_pred[:-1] for comparing with argmax(y_pred).
Output index_targets(const char* who, Output y_true, Output argmax_pred) {
  const Shape& ts = y_true.shape();
  const Shape& as = argmax_pred.shape();
  if (!is_integer(y_true.dtype()) && !is_floating(y_true.dtype()))
    throw ModelError(std::string(who) + ": class indices must be integer or float, got " +
                     describe(y_true));
  if (ts.compatible_with(as)) return y_true;
  if (ts.rank() == as.rank() + 1 && ts[ts.rank() - 1] == 1 &&
      Shape(std::vector<std::int64_t>(ts.dims().begin(), ts.dims().end() - 1)).compatible_with(as))
    return reshape_like(y_true, argmax_pred);
  throw ModelError(std::string(who) + ": y_true " + describe(y_true) +
                   " must hold one class index per sample, of shape " + as.to_string() +
                   " or that with a trailing 1");
}

Output float32_matches(Output equal_mask) {
  return per_sample_mean(cast(equal_mask, DType::float32));
}

const std::vector<std::string>& loss_names() {
  static const std::vector<std::string> names = {"mse",
                                                 "mean_squared_error",
                                                 "mae",
                                                 "mean_absolute_error",
                                                 "binary_crossentropy",
                                                 "categorical_crossentropy",
                                                 "sparse_categorical_crossentropy"};
  return names;
}

std::string number(double x) {
  std::ostringstream os;
  os << x;
  return os.str();
}

}  // namespace

Output mean_squared_error(Output y_true, Output y_pred) {
  constexpr const char* who = "mean_squared_error";
  Graph& g = graph_of(who, y_true, y_pred);
  check_prediction(who, y_pred, 1);
  auto scope = g.name_scope(who);
  y_true = as_dtype(aligned_targets(who, y_true, y_pred), y_pred.dtype());
  return per_sample_mean(square(y_pred - y_true));
}

Output mean_absolute_error(Output y_true, Output y_pred) {
  constexpr const char* who = "mean_absolute_error";
  Graph& g = graph_of(who, y_true, y_pred);
  check_prediction(who, y_pred, 1);
  auto scope = g.name_scope(who);
  y_true = as_dtype(aligned_targets(who, y_true, y_pred), y_pred.dtype());
  return per_sample_mean(abs(y_pred - y_true));
}

Output binary_crossentropy(Output y_true, Output y_pred, Flag from_logits) {
  constexpr const char* who = "binary_crossentropy";
  Graph& g = graph_of(who, y_true, y_pred);
  check_prediction(who, y_pred, 1);
  auto scope = g.name_scope(who);
  Output y = as_dtype(aligned_targets(who, y_true, y_pred), y_pred.dtype());
  Output elementwise;
  if (std::optional<Output> z = logits_behind(y_pred, "sigmoid")) {
    elementwise = binary_crossentropy_from_logits(y, *z);
  } else if (from_logits) {
    elementwise = binary_crossentropy_from_logits(y, y_pred);
  } else {
    // Keras adds epsilon inside the logarithms as well as clipping.
    Output p = clip_by_value(y_pred, kEpsilon, 1.0 - kEpsilon);
    elementwise = -(y * log(p + kEpsilon) + (1.0 - y) * log(1.0 - p + kEpsilon));
  }
  return per_sample_mean(elementwise);
}

Output categorical_crossentropy(Output y_true, Output y_pred, Flag from_logits) {
  constexpr const char* who = "categorical_crossentropy";
  Graph& g = graph_of(who, y_true, y_pred);
  check_prediction(who, y_pred, 2);
  auto scope = g.name_scope(who);
  if (!y_true.shape().compatible_with(y_pred.shape()))
    throw ModelError(std::string(who) + ": y_true " + describe(y_true) +
                     " must be one-hot (or class probabilities) of y_pred's shape, y_pred " +
                     describe(y_pred) + " (class indices: sparse_categorical_crossentropy)");
  Output y = as_dtype(y_true, y_pred.dtype());
  Output log_p;
  if (std::optional<Output> z = logits_behind(y_pred, "softmax")) {
    log_p = log_softmax(*z, -1);
  } else if (from_logits) {
    log_p = log_softmax(y_pred, -1);
  } else {
    Output p = y_pred / sum(y_pred, {-1}, true);
    log_p = log(clip_by_value(p, kEpsilon, 1.0 - kEpsilon));
  }
  return per_sample_mean(-sum(y * log_p, {-1}));
}

Output sparse_categorical_crossentropy(Output y_true, Output y_pred, Flag from_logits) {
  constexpr const char* who = "sparse_categorical_crossentropy";
  Graph& g = graph_of(who, y_true, y_pred);
  check_prediction(who, y_pred, 2);
  auto scope = g.name_scope(who);
  Output targets = one_hot_targets(who, y_true, y_pred);
  Output log_p;
  if (std::optional<Output> z = logits_behind(y_pred, "softmax")) {
    log_p = log_softmax(*z, -1);
  } else if (from_logits) {
    log_p = log_softmax(y_pred, -1);
  } else {
    log_p = log(clip_by_value(y_pred, kEpsilon, 1.0 - kEpsilon));
  }
  return per_sample_mean(-sum(targets * log_p, {-1}));
}

Loss::Loss(const char* name) : Loss(std::string(name ? name : "")) {}

Loss::Loss(const std::string& name) : name_(name) {
  for (const std::string& known : loss_names())
    if (name == known) return;
  std::string list;
  for (const std::string& known : loss_names()) list += (list.empty() ? "" : ", ") + known;
  throw ModelError("unknown loss '" + name + "'; the names are " + list);
}

Output Loss::per_sample(Output y_true, Output y_pred) const {
  if (name_ == "mse" || name_ == "mean_squared_error") return mean_squared_error(y_true, y_pred);
  if (name_ == "mae" || name_ == "mean_absolute_error") return mean_absolute_error(y_true, y_pred);
  if (name_ == "binary_crossentropy") return binary_crossentropy(y_true, y_pred);
  if (name_ == "categorical_crossentropy") return categorical_crossentropy(y_true, y_pred);
  return sparse_categorical_crossentropy(y_true, y_pred);
}

Output Loss::operator()(Output y_true, Output y_pred) const {
  return mean(per_sample(y_true, y_pred));
}

Output binary_accuracy(Output y_true, Output y_pred, double threshold) {
  constexpr const char* who = "binary_accuracy";
  Graph& g = graph_of(who, y_true, y_pred);
  check_prediction(who, y_pred, 1);
  if (!std::isfinite(threshold))
    throw ModelError(std::string(who) + ": threshold must be finite, got " + number(threshold));
  auto scope = g.name_scope(who);
  Output y = as_dtype(aligned_targets(who, y_true, y_pred), y_pred.dtype());
  Output predicted = cast(greater(y_pred, scalar(g, threshold, y_pred.dtype())), y_pred.dtype());
  return float32_matches(equal(y, predicted));
}

Output categorical_accuracy(Output y_true, Output y_pred) {
  constexpr const char* who = "categorical_accuracy";
  Graph& g = graph_of(who, y_true, y_pred);
  check_prediction(who, y_pred, 2);
  auto scope = g.name_scope(who);
  if (!y_true.shape().compatible_with(y_pred.shape()))
    throw ModelError(std::string(who) + ": y_true " + describe(y_true) +
                     " must be one-hot of y_pred's shape, y_pred " + describe(y_pred));
  return float32_matches(equal(argmax(y_true, -1), argmax(y_pred, -1)));
}

Output sparse_categorical_accuracy(Output y_true, Output y_pred) {
  constexpr const char* who = "sparse_categorical_accuracy";
  Graph& g = graph_of(who, y_true, y_pred);
  check_prediction(who, y_pred, 2);
  auto scope = g.name_scope(who);
  Output predicted = argmax(y_pred, -1);
  Output labels = index_targets(who, y_true, predicted);
  // As Keras: the predicted index takes the labels' dtype (2.0 matches class 2).
  return float32_matches(equal(labels, as_dtype(predicted, labels.dtype())));
}

Output accuracy(Output y_true, Output y_pred) {
  graph_of("accuracy", y_true, y_pred);
  check_prediction("accuracy", y_pred, 1);
  const Shape& ts = y_true.shape();
  const Shape& ps = y_pred.shape();
  std::int64_t pred_last = ps[ps.rank() - 1];
  std::int64_t true_last = ts.rank() > 0 ? ts[ts.rank() - 1] : Shape::kUnknown;
  // One value per sample (rank 1) can only be a binary prediction.
  bool is_binary = pred_last == 1 || ps.rank() == 1;
  bool is_sparse = ts.rank() < ps.rank() || (true_last == 1 && pred_last > 1);
  if (is_binary) return binary_accuracy(y_true, y_pred);
  if (is_sparse) return sparse_categorical_accuracy(y_true, y_pred);
  return categorical_accuracy(y_true, y_pred);
}

Output Regularizer::operator()(Output w) const {
  if (!w.valid()) throw ModelError("regularizer: the weight must be an output of a graph");
  if (!std::isfinite(l1) || !std::isfinite(l2))
    throw ModelError("regularizer: l1 and l2 must be finite, got l1 = " + number(l1) +
                     ", l2 = " + number(l2));
  if (!active())
    throw ModelError("regularizer with l1 = 0 and l2 = 0 has no penalty for " + describe(w) +
                     " (check active() first)");
  if (!is_floating(w.dtype()))
    throw ModelError("regularizer: the weight must be float32 or float64, got " + describe(w));
  auto scope = w.graph->name_scope("regularizer");
  Output penalty;
  if (l1 != 0.0) penalty = l1 * sum(abs(w));
  if (l2 != 0.0) {
    Output l2_term = l2 * sum(square(w));
    penalty = penalty.valid() ? penalty + l2_term : l2_term;
  }
  return penalty;
}

}  // namespace dagrad::nn
