// The model flags of `dagrad train` and `dagrad lr-find`: a preset and the knobs on top of it.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "dagrad/nn/presets.hpp"

namespace dagrad::tools {

struct ModelFlags {
  std::string preset = "bn";
  std::string layers, activation, init, batchnorm;  // empty: the preset's
  double dropout = -1;                              // < 0: the preset's
  double l1 = 0, l2 = 0, max_norm = 0;
  int depth = 100;  // selu's hidden layers
};

// --model --layers --activation --init --batchnorm --dropout --l1 --l2 --max-norm --depth.
void add_model_flags(CLI::App* cmd, ModelFlags& flags);
// The preset's spec with the knobs applied; ModelError for an unknown preset or bad --layers.
nn::ModelSpec model_spec(const ModelFlags& flags);

}  // namespace dagrad::tools
