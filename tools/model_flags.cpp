#include "model_flags.hpp"

#include <sstream>

#include "dagrad/nn/activations.hpp"
#include "dagrad/nn/errors.hpp"
#include "dagrad/nn/initializers.hpp"

namespace dagrad::tools {

namespace {

std::vector<std::int64_t> parse_sizes(const std::string& text) {
  std::vector<std::int64_t> sizes;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) {
    std::size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != part.size() || part.empty() || v < 1 || v > 100000)
      throw nn::ModelError("--layers takes sizes like 300,100 (each in 1..100000), got '" + text +
                           "'");
    sizes.push_back(v);
  }
  if (sizes.empty()) throw nn::ModelError("--layers takes sizes like 300,100, got nothing");
  return sizes;
}

}  // namespace

nn::ModelSpec model_spec(const ModelFlags& a) {
  // Names are checked here, before any work, and their errors name the flag.
  auto for_flag = [](const char* flag, const auto& check) {
    try {
      check();
    } catch (const nn::ModelError& e) {
      throw nn::ModelError(std::string(flag) + ": " + e.what());
    }
  };
  nn::ModelSpec spec;
  for_flag("--model", [&] { spec = nn::preset_spec(a.preset, a.depth); });
  if (!a.activation.empty()) for_flag("--activation", [&] { nn::Activation{a.activation}; });
  if (!a.init.empty()) for_flag("--init", [&] { nn::Initializer{a.init}; });
  if (!a.layers.empty()) spec.hidden = parse_sizes(a.layers);
  if (!a.activation.empty()) spec.activation = a.activation;
  if (!a.init.empty()) spec.initializer = a.init;
  if (!a.batchnorm.empty()) spec.batchnorm = a.batchnorm;
  if (a.dropout >= 0) spec.dropout = a.dropout;
  spec.l1 = a.l1;
  spec.l2 = a.l2;
  spec.max_norm = a.max_norm;
  return spec;
}

void add_model_flags(CLI::App* cmd, ModelFlags& f) {
  std::string presets;
  for (const auto& [name, what] : nn::preset_models()) presets += "\n  " + name + ": " + what;
  cmd->add_option("--model", f.preset, "Preset model:" + presets)->capture_default_str();
  cmd->add_option("--layers", f.layers,
                  "Hidden layer sizes, e.g. 300,100 (overrides the preset's)");
  cmd->add_option("--activation", f.activation,
                  "Hidden activation: relu, elu, selu, leaky_relu, tanh, ...");
  cmd->add_option("--init", f.init,
                  "Kernel initializer: he_normal, glorot_uniform, lecun_normal, ...");
  cmd->add_option("--batchnorm", f.batchnorm,
                  "none, after (BN after each hidden layer) or before (BN before the activation); cnn's "
      "convolution blocks put BN before the activation with either")
      ->check(CLI::IsMember({"none", "after", "before"}));
  cmd->add_option("--dropout", f.dropout, "Dropout rate before each Dense")
      ->check(CLI::Range(0.0, 0.999));
  cmd->add_option("--l1", f.l1, "l1 penalty of every kernel")->check(CLI::NonNegativeNumber);
  cmd->add_option("--l2", f.l2, "l2 penalty of every kernel")->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-norm", f.max_norm,
                  "Max-norm of every hidden Dense kernel's columns (not cnn's convolutions)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--depth", f.depth, "Hidden layers of the selu model")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
}

}  // namespace dagrad::tools
