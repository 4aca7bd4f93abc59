// The chapter's Fashion-MNIST models (Géron, ch. 11) by name, and the knobs that build any of
// them, for `dagrad train --model NAME` and `dagrad summary --model NAME`. Each takes 28x28
// images and ends in Dense(10, softmax).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "model.hpp"

namespace dagrad::nn {

// A network for 28x28 images. A multilayer perceptron: Flatten, [Normalization], then per hidden
// size [Dropout] Dense [BatchNormalization] [activation], and [Dropout] Dense(10, softmax).
// With conv_filters, a convolutional network: Reshape to (28, 28, 1), then per filter count a
// block Conv2D(3x3, same) [BatchNormalization] activation MaxPool2D(2), then Flatten and the
// perceptron's hidden and output layers as above.
struct ModelSpec {
  // Filters of each convolution block (empty: a perceptron). With batchnorm "before" or "after"
  // the convolutions have no bias and BatchNormalization sits between each and its activation
  // (the chapter's Conv-BN-ReLU); with "none" each Conv2D adds its bias and applies the activation.
  std::vector<std::int64_t> conv_filters = {};
  std::vector<std::int64_t> hidden = {300, 100};
  std::string activation = "elu";
  std::string initializer = "he_normal";
  // "none"; "after": BatchNormalization after Flatten and after each hidden Dense (with its
  // activation); "before": after Flatten and between each hidden Dense (without bias) and its
  // activation (a separate Activation layer).
  std::string batchnorm = "none";
  double dropout = 0.0;  // a Dropout of this rate before each Dense
  bool alpha_dropout = false;  // ... an AlphaDropout instead (for selu networks)
  double l1 = 0.0, l2 = 0.0;  // kernel penalties of every Dense
  double max_norm = 0.0;      // max-norm constraint of every hidden kernel (0: none)
  // Standardize the pixels inside the model (a Normalization layer after Flatten, whose mean and
  // variance are set from the training data with Normalization::adapt): the selu network's need.
  bool standardize = false;
};

// "plain", "bn", "bn-before", "selu", "dropout", "cnn", with a one-line description each.
std::vector<std::pair<std::string, std::string>> preset_models();
// The preset's spec; selu has `depth` hidden layers (the first of 300 units, the others of 100).
// An unknown name or a depth < 1 throws ModelError listing the presets.
ModelSpec preset_spec(const std::string& name, int depth = 100);
// The model of a spec as a new Sequential in `backend` (a new one when null); ModelError for an
// unknown activation, initializer or batchnorm mode, a size < 1, a rate outside [0, 1).
std::unique_ptr<Sequential> make_model(const ModelSpec& spec, BackendPtr backend = nullptr);

struct PresetOptions {
  int hidden_layers = 100;    // selu's depth
  double dropout_rate = 0.2;  // dropout's rate
};
// make_model(preset_spec(name)) with the options applied.
std::unique_ptr<Sequential> make_preset(const std::string& name, const PresetOptions& options = {},
                                        BackendPtr backend = nullptr);

}  // namespace dagrad::nn
