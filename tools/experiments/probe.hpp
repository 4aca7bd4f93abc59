// Looking inside a deep MLP (the gradients and activations experiments): per hidden layer, the
// statistics of its outputs over a batch, the norm of the batch loss's gradient with respect to
// its kernel, and which of its units never fire over a data set.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dagrad/nn/nn.hpp"

namespace dagrad::tools::experiments {

// Mean and population standard deviation of every element of a float32 tensor, summed in float64.
struct Moments {
  double mean = 0, stddev = 0;
};
Moments moments(const Tensor& t);
// The Frobenius norm sqrt(sum x^2) of a float32 tensor, in float64.
double frobenius_norm(const Tensor& t);

// What one batch shows: per tapped output its moments, per kernel the norm of d loss / d kernel,
// where loss is the batch mean of the sparse categorical cross-entropy of the model's last output.
struct LayerFigures {
  std::vector<Moments> taps;
  std::vector<double> gradient_norms;
  double loss = 0;
};

// Per tapped output and unit (its last axis): whether any row gave a non-zero or a positive value.
struct UnitActivity {
  std::vector<std::vector<bool>> nonzero, positive;
  // Per tap, the share of units that were 0 for every row (dead), or never positive.
  std::vector<double> never_nonzero_share() const;
  std::vector<double> never_positive_share() const;
};

// Measures a model whose outputs are the tapped layer outputs (any number, each (batch, units))
// followed by the class probabilities (last, from a softmax), in the model's inference graph.
class LayerProbe {
 public:
  // `kernels`: variables of the model's graph whose loss gradients are measured. Builds the loss
  // (on an int32 label placeholder) and its gradients in the model's graph once. ModelError when
  // the model has fewer than one output or a kernel has no path to the loss.
  LayerProbe(nn::Model& model, std::vector<Output> kernels);
  // One pass over the batch x (float32, the model's input shape), y (int32 class indices).
  LayerFigures measure(const Tensor& x, const Tensor& y);
  // Passes over all of x in batches of `batch_size` (the last may be smaller), taps only.
  UnitActivity activity(const Tensor& x, std::int64_t batch_size = 1000);
  std::size_t num_taps() const { return taps_.size(); }

 private:
  nn::Model& model_;
  Output input_, labels_, loss_;
  std::vector<Output> taps_, gradients_;
};

// A deep MLP for 28x28 images: Flatten, [Normalization adapted to the training images], then
// `depth` blocks Dense(units, linear) + activation layer, then Dense(10, softmax).
struct MlpSpec {
  int depth = 20;
  std::int64_t units = 100;
  // sigmoid, tanh, relu, elu, selu (Activation layers), leaky_relu (LeakyReLU layer of
  // `leaky_alpha`), prelu (PReLU, alpha initialized to 0 as Keras), rrelu (RReLU, 1/8..1/3).
  std::string activation = "relu";
  nn::Initializer kernel_initializer =
      "he_normal";  // hidden kernels (the output's: glorot_uniform)
  bool standardize = false;
  double leaky_alpha = 0.2;
};

// The trained model and a probe model over the same layers (one backend of graph seed `seed`).
struct ProbedMlp {
  std::unique_ptr<nn::Model> model;  // images -> class probabilities
  // images -> [activation output of hidden layer 1..depth, pre-activation (Dense output) of
  // hidden layer 1..depth, class probabilities]
  std::unique_ptr<nn::Model> probe_model;
  std::vector<Output> kernels;  // the hidden Dense kernels, first to last
};
// ModelError for an unknown activation or a depth < 1. `data` adapts the Normalization layer.
ProbedMlp make_probed_mlp(const MlpSpec& spec, std::uint64_t seed, const nn::FashionMnist& data);

// Rows [start, start + count) of a tensor (fewer where it ends), as a new tensor.
Tensor row_range(const Tensor& t, std::int64_t start, std::int64_t count);

}  // namespace dagrad::tools::experiments
