// The chapter's models (keras-semantics.md section 12) as specs, and the builder of any spec.
#include "dagrad/nn/presets.hpp"

#include <cmath>

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
       "self-normalizing: standardized inputs, 300 then 100-unit selu layers, lecun_normal (100 deep)"},
      {"dropout", "Dropout(0.2) before each Dense of the plain model (elu, he_normal)"},
  };
}

ModelSpec preset_spec(const std::string& name, int depth) {
  ModelSpec s;
  if (name == "plain") return s;
  if (name == "bn") {
    s.batchnorm = "after";
    return s;
  }
  if (name == "bn-before") {
    s.batchnorm = "before";
    return s;
  }
  if (name == "selu") {
    if (depth < 1) throw ModelError("preset selu: the depth must be >= 1, got " + std::to_string(depth));
    s.hidden.assign(static_cast<std::size_t>(depth), 100);
    s.hidden[0] = 300;
    s.activation = "selu";
    s.initializer = "lecun_normal";
    s.standardize = true;
    return s;
  }
  if (name == "dropout") {
    s.dropout = 0.2;
    return s;
  }
  std::string known;
  for (const auto& [preset, what] : preset_models()) known += (known.empty() ? "" : ", ") + preset;
  throw ModelError("unknown model '" + name + "' (presets: " + known + ")");
}

std::unique_ptr<Sequential> make_model(const ModelSpec& spec, BackendPtr backend) {
  if (spec.batchnorm != "none" && spec.batchnorm != "after" && spec.batchnorm != "before")
    throw ModelError("batchnorm must be none, after or before, got '" + spec.batchnorm + "'");
  if (!(spec.dropout >= 0.0 && spec.dropout < 1.0))
    throw ModelError("the dropout rate must be in [0, 1), got " + std::to_string(spec.dropout));
  if (!(std::isfinite(spec.l1) && spec.l1 >= 0 && std::isfinite(spec.l2) && spec.l2 >= 0))
    throw ModelError("l1 and l2 must be finite numbers >= 0");
  if (!(std::isfinite(spec.max_norm) && spec.max_norm >= 0))
    throw ModelError("max_norm must be a finite number >= 0 (0: none)");
  for (std::int64_t units : spec.hidden)
    if (units < 1) throw ModelError("hidden layer sizes must be >= 1, got " + std::to_string(units));
  Activation activation(spec.activation);  // ModelError for an unknown name
  Initializer initializer(spec.initializer);
  Regularizer penalty{spec.l1, spec.l2};
  std::optional<MaxNorm> constraint;
  if (spec.max_norm > 0) constraint = MaxNorm{spec.max_norm, 0};

  std::vector<LayerPtr> layers{Flatten(Shape{28, 28})};
  if (spec.standardize) layers.push_back(Normalization());
  if (spec.batchnorm != "none") layers.push_back(BatchNormalization());
  for (std::int64_t units : spec.hidden) {
    if (spec.dropout > 0) layers.push_back(spec.alpha_dropout ? AlphaDropout(spec.dropout) : Dropout(spec.dropout));
    if (spec.batchnorm == "before") {
      layers.push_back(Dense(units, {.kernel_initializer = initializer, .use_bias = false,
                                     .kernel_regularizer = penalty, .kernel_constraint = constraint}));
      layers.push_back(BatchNormalization());
      layers.push_back(ActivationLayer(activation));
    } else {
      layers.push_back(Dense(units, {.activation = activation, .kernel_initializer = initializer,
                                     .kernel_regularizer = penalty, .kernel_constraint = constraint}));
      if (spec.batchnorm == "after") layers.push_back(BatchNormalization());
    }
  }
  if (spec.dropout > 0) layers.push_back(spec.alpha_dropout ? AlphaDropout(spec.dropout) : Dropout(spec.dropout));
  layers.push_back(Dense(10, {.activation = "softmax", .kernel_regularizer = penalty}));
  return std::make_unique<Sequential>(std::move(layers), "", std::move(backend));
}

std::unique_ptr<Sequential> make_preset(const std::string& name, const PresetOptions& options,
                                        BackendPtr backend) {
  ModelSpec spec = preset_spec(name, options.hidden_layers);
  if (name == "dropout") spec.dropout = options.dropout_rate;
  return make_model(spec, std::move(backend));
}

}  // namespace dagrad::nn
