// The built-in layers (reference: keras-semantics.md sections 2-4). Each factory returns a new,
// unbuilt layer; options are designated initializers, as in Keras's keyword arguments:
//   nn::Dense(300, {.activation = "elu", .kernel_initializer = "he_normal"})
// Yes/no options are Flags, so a string in their place does not compile.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../graph/flag.hpp"
#include "activations.hpp"
#include "initializers.hpp"
#include "layer.hpp"
#include "losses.hpp"

namespace dagrad::nn {

// Keras's max_norm: after each update, w <- w * clip(norms, 0, max_value) / (1e-7 + norms),
// norms = sqrt(sum(w^2, axis)) (axis 0: per output unit of a Dense kernel).
struct MaxNorm {
  double max_value = 2.0;
  std::int64_t axis = 0;
};

struct DenseOptions {
  Activation activation = "linear";
  Initializer kernel_initializer = "glorot_uniform";
  Initializer bias_initializer = "zeros";
  Flag use_bias = true;
  Regularizer kernel_regularizer = {};
  Regularizer bias_regularizer = {};
  std::optional<MaxNorm> kernel_constraint = std::nullopt;
  std::string name = "";
  std::optional<Shape> input_shape = std::nullopt;  // without the batch dimension
};
// y = activation(x kernel + bias) over the last axis; kernel (inputs, units).
class DenseLayer : public Layer {
 public:
  DenseLayer(std::int64_t units, DenseOptions options);
  std::string type() const override { return "Dense"; }
  Shape output_shape(const std::vector<Shape>& input_shapes) const override;
  Output call(const std::vector<Output>& inputs, CallContext& ctx) override;
  std::vector<Output> regularization_losses() override;
  std::vector<Operation> constraint_updates() override;
  AttrMap config() const override;
  std::int64_t units() const { return units_; }
  const DenseOptions& options() const { return options_; }
  Output kernel() const;
  Output bias() const;  // invalid without use_bias

 protected:
  void build_weights(const std::vector<Shape>& input_shapes) override;

 private:
  std::int64_t units_;
  DenseOptions options_;
};
std::shared_ptr<DenseLayer> Dense(std::int64_t units, DenseOptions options = {});

// (batch, d1, d2, ...) -> (batch, d1 * d2 * ...). input_shape (without the batch dimension,
// as in Flatten({28, 28})) declares the model's input when this is its first layer; the empty
// Shape{} declares none.
std::shared_ptr<Layer> Flatten(Shape input_shape = {}, std::string name = "");
// Declares the model's input shape (without the batch dimension); identity.
std::shared_ptr<Layer> InputLayer(Shape shape, std::string name = "");

struct BatchNormalizationOptions {
  double momentum = 0.99;
  double epsilon = 1e-3;
  Flag center = true;  // beta
  Flag scale = true;   // gamma
  Initializer beta_initializer = "zeros";
  Initializer gamma_initializer = "ones";
  Initializer moving_mean_initializer = "zeros";
  Initializer moving_variance_initializer = "ones";
  std::string name = "";
  std::optional<Shape> input_shape = std::nullopt;
};
// Over the last axis (channels of an NHWC image: statistics over N, H and W). Training: batch mean
// and biased variance, and moving statistics updated by assign ops (m <- m * momentum + batch *
// (1 - momentum)) that run with every training step; for a rank-4 input the variance averaged is
// the unbiased one, n / (n - 1) times the biased (n = N H W), as Keras's fused path.
// Inference, or a frozen layer: the moving statistics.
std::shared_ptr<Layer> BatchNormalization(BatchNormalizationOptions options = {});

struct DropoutOptions {
  std::int64_t seed = 0;  // 0: derived from the graph seed and the node
  std::string name = "";
};
// Training: x * (u >= rate) / (1 - rate), u ~ U[0, 1); inference: x.
std::shared_ptr<Layer> Dropout(double rate, DropoutOptions options = {});
// Training: a * (x * keep + alpha' * (1 - keep)) + b, which keeps SELU's mean and variance.
std::shared_ptr<Layer> AlphaDropout(double rate, DropoutOptions options = {});

std::shared_ptr<Layer> ActivationLayer(Activation activation, std::string name = "");
std::shared_ptr<Layer> LeakyReLU(double alpha = 0.3, std::string name = "");
std::shared_ptr<Layer> ELU(double alpha = 1.0, std::string name = "");

struct PReLUOptions {
  Initializer alpha_initializer = "zeros";
  std::vector<std::int64_t> shared_axes = {};  // 1-based over the full input shape, as Keras
  std::string name = "";
};
// relu(x) - alpha * relu(-x), alpha learned: shape input_shape[1:], shared axes set to 1.
std::shared_ptr<Layer> PReLU(PReLUOptions options = {});

struct RReLUOptions {
  double lower = 1.0 / 8.0;
  double upper = 1.0 / 3.0;
  std::int64_t seed = 0;
  std::string name = "";
};
// x >= 0: x; else a * x with a ~ U[lower, upper) per element and step in training, and the
// fixed (lower + upper) / 2 at inference (PyTorch's and the RReLU paper's convention).
std::shared_ptr<Layer> RReLU(RReLUOptions options = {});

// Standardizes each feature (the last axis): (x - mean) / max(sqrt(variance), 1e-7), as Keras's
// Normalization layer, with mean and variance non-trainable weights (initially 0 and 1) that
// adapt() sets from data: the "standardized inputs" a self-normalizing network needs, kept in
// the model (and its files) rather than in the data pipeline.
class NormalizationLayer : public Layer {
 public:
  std::string type() const override { return "Normalization"; }
  Shape output_shape(const std::vector<Shape>& input_shapes) const override;
  Output call(const std::vector<Output>& inputs, CallContext& ctx) override;
  // Sets mean and variance (biased) per feature from `x`, a float32 tensor whose rows, flattened,
  // have the layer's feature count (so (n, 28, 28) images adapt a layer after Flatten). Requires
  // built(); ModelError for a wrong dtype or size or no rows.
  void adapt(const Tensor& x);

 protected:
  void build_weights(const std::vector<Shape>& input_shapes) override;
};
std::shared_ptr<NormalizationLayer> Normalization(std::string name = "");

// Joins inputs along `axis` (functional models: Wide & Deep).
std::shared_ptr<Layer> Concatenate(std::int64_t axis = -1, std::string name = "");
// Elementwise sum of its inputs (skip connections).
std::shared_ptr<Layer> Add(std::string name = "");

}  // namespace dagrad::nn
