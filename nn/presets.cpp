// The chapter's models (keras-semantics.md section 12).
#include "dagrad/nn/presets.hpp"

#include "dagrad/nn/errors.hpp"
#include "dagrad/nn/layers.hpp"

namespace dagrad::nn {

std::vector<std::pair<std::string, std::string>> preset_models() {
  return {
      {"plain", "784-300-100-10, elu and he_normal"},
      {"bn", "BatchNormalization after Flatten and after each hidden Dense (elu, he_normal)"},
      {"bn-before",
       "BatchNormalization before each activation; hidden Dense layers without bias (elu, he_normal)"},
      {"selu",
       "self-normalizing: 300 then 100-unit selu layers, lecun_normal (standardize the inputs)"},
      {"dropout", "Dropout before each Dense of the plain model (elu, he_normal)"},
  };
}

std::unique_ptr<Sequential> make_preset(const std::string& name, const PresetOptions& options,
                                        BackendPtr backend) {
  const DenseOptions hidden{.activation = "elu", .kernel_initializer = "he_normal"};
  const DenseOptions output{.activation = "softmax"};
  std::vector<LayerPtr> layers{Flatten(Shape{28, 28})};
  if (name == "plain") {
    layers.push_back(Dense(300, hidden));
    layers.push_back(Dense(100, hidden));
  } else if (name == "bn") {
    layers.push_back(BatchNormalization());
    layers.push_back(Dense(300, hidden));
    layers.push_back(BatchNormalization());
    layers.push_back(Dense(100, hidden));
    layers.push_back(BatchNormalization());
  } else if (name == "bn-before") {
    const DenseOptions linear{.kernel_initializer = "he_normal", .use_bias = false};
    layers.push_back(BatchNormalization());
    for (std::int64_t units : {300, 100}) {
      layers.push_back(Dense(units, linear));
      layers.push_back(BatchNormalization());
      layers.push_back(ActivationLayer("elu"));
    }
  } else if (name == "selu") {
    if (options.hidden_layers < 1)
      throw ModelError("preset selu: hidden_layers must be >= 1, got " +
                       std::to_string(options.hidden_layers));
    const DenseOptions selu{.activation = "selu", .kernel_initializer = "lecun_normal"};
    layers.push_back(Dense(300, selu));
    for (int i = 1; i < options.hidden_layers; ++i) layers.push_back(Dense(100, selu));
  } else if (name == "dropout") {
    for (std::int64_t units : {300, 100}) {
      layers.push_back(Dropout(options.dropout_rate));
      layers.push_back(Dense(units, hidden));
    }
    layers.push_back(Dropout(options.dropout_rate));
  } else {
    std::string known;
    for (const auto& [preset, what] : preset_models()) known += (known.empty() ? "" : ", ") + preset;
    throw ModelError("unknown model '" + name + "' (presets: " + known + ")");
  }
  layers.push_back(Dense(10, output));
  return std::make_unique<Sequential>(std::move(layers), "", std::move(backend));
}

}  // namespace dagrad::nn
