// The chapter's Fashion-MNIST models (Géron, ch. 11) by name, for `dagrad train --model NAME`
// and `dagrad summary --model NAME`. Each takes 28x28 images and ends in Dense(10, softmax).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model.hpp"

namespace dagrad::nn {

struct PresetOptions {
  // selu: the number of hidden layers (the first of 300 units, the others of 100); the
  // chapter's self-normalizing network has 100.
  int hidden_layers = 100;
  // dropout: the rate of each Dropout layer.
  double dropout_rate = 0.2;
};

// "plain", "bn", "bn-before", "selu", "dropout", with a one-line description each.
std::vector<std::pair<std::string, std::string>> preset_models();
// The preset `name` as a new Sequential model in `backend` (a new one when null); an unknown
// name or bad option throws ModelError listing the presets.
std::unique_ptr<Sequential> make_preset(const std::string& name, const PresetOptions& options = {},
                                        BackendPtr backend = nullptr);

}  // namespace dagrad::nn
