#include "probe.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "dagrad/autodiff/gradients.hpp"
#include "dagrad/ops/ops.hpp"

namespace dagrad::tools::experiments {

Moments moments(const Tensor& t) {
  Moments m;
  const std::int64_t n = t.size();
  if (n == 0) return m;
  const float* p = t.data<float>();
  double sum = 0;
  for (std::int64_t i = 0; i < n; ++i) sum += p[i];
  m.mean = sum / static_cast<double>(n);
  // Two passes: the squares of deviations, not E[x^2] - E[x]^2, which cancels badly for
  // saturated layers (values near 1 with a tiny spread).
  double squares = 0;
  for (std::int64_t i = 0; i < n; ++i) squares += (p[i] - m.mean) * (p[i] - m.mean);
  m.stddev = std::sqrt(squares / static_cast<double>(n));
  return m;
}

double frobenius_norm(const Tensor& t) {
  const float* p = t.data<float>();
  double squares = 0;
  for (std::int64_t i = 0; i < t.size(); ++i) squares += static_cast<double>(p[i]) * p[i];
  return std::sqrt(squares);
}

namespace {

std::vector<double> shares_of_false(const std::vector<std::vector<bool>>& flags) {
  std::vector<double> out;
  for (const auto& units : flags)
    out.push_back(units.empty()
                      ? 0.0
                      : static_cast<double>(std::count(units.begin(), units.end(), false)) /
                            static_cast<double>(units.size()));
  return out;
}

}  // namespace

std::vector<double> UnitActivity::never_nonzero_share() const {
  return shares_of_false(nonzero);
}
std::vector<double> UnitActivity::never_positive_share() const {
  return shares_of_false(positive);
}

LayerProbe::LayerProbe(nn::Model& model, std::vector<Output> kernels) : model_(model) {
  const nn::ModelGraph& graph = model.inference_graph();
  if (graph.inputs.size() != 1 || graph.outputs.empty())
    throw nn::ModelError("LayerProbe: model '" + model.name() +
                         "' needs one input and at least one output (the class probabilities)");
  input_ = graph.inputs[0];
  taps_.assign(graph.outputs.begin(), graph.outputs.end() - 1);
  Output probabilities = graph.outputs.back();
  labels_ = placeholder(model.graph(), DType::int32, Shape{-1}, "probe_labels");
  loss_ = mean(nn::sparse_categorical_crossentropy(labels_, probabilities));
  gradients_ = gradients(loss_, kernels);
  for (std::size_t i = 0; i < gradients_.size(); ++i)
    if (!gradients_[i].valid())
      throw nn::ModelError("LayerProbe: kernel " + std::to_string(i) + " of model '" +
                           model.name() + "' does not affect its loss");
}

LayerFigures LayerProbe::measure(const Tensor& x, const Tensor& y) {
  std::vector<Output> fetches = taps_;
  fetches.insert(fetches.end(), gradients_.begin(), gradients_.end());
  fetches.push_back(loss_);
  std::vector<Tensor> values = model_.session().run(fetches, {{input_, x}, {labels_, y}});
  LayerFigures f;
  for (std::size_t i = 0; i < taps_.size(); ++i) f.taps.push_back(moments(values[i]));
  for (std::size_t i = 0; i < gradients_.size(); ++i)
    f.gradient_norms.push_back(frobenius_norm(values[taps_.size() + i]));
  f.loss = values.back().value_as_double(0);
  return f;
}

UnitActivity LayerProbe::activity(const Tensor& x, std::int64_t batch_size) {
  UnitActivity a;
  for (const Output& tap : taps_) {
    auto units = static_cast<std::size_t>(tap.shape()[tap.shape().rank() - 1]);
    a.nonzero.emplace_back(units, false);
    a.positive.emplace_back(units, false);
  }
  const std::int64_t n = x.shape()[0];
  for (std::int64_t start = 0; start < n; start += batch_size) {
    std::vector<Tensor> values =
        model_.session().run(taps_, {{input_, row_range(x, start, batch_size)}});
    for (std::size_t t = 0; t < taps_.size(); ++t) {
      const float* p = values[t].data<float>();
      const std::size_t units = a.nonzero[t].size();
      const auto count = static_cast<std::size_t>(values[t].size());
      for (std::size_t i = 0; i < count; ++i) {
        if (p[i] != 0.0f) a.nonzero[t][i % units] = true;
        if (p[i] > 0.0f) a.positive[t][i % units] = true;
      }
    }
  }
  return a;
}

namespace {

nn::LayerPtr activation_layer(const MlpSpec& spec) {
  const std::string& a = spec.activation;
  if (a == "leaky_relu") return nn::LeakyReLU(spec.leaky_alpha);
  if (a == "prelu") return nn::PReLU();
  if (a == "rrelu") return nn::RReLU();
  if (a == "sigmoid" || a == "tanh" || a == "relu" || a == "elu" || a == "selu")
    return nn::ActivationLayer(a);
  throw nn::ModelError("make_probed_mlp: unknown activation '" + a +
                       "' (sigmoid, tanh, relu, elu, selu, leaky_relu, prelu, rrelu)");
}

}  // namespace

ProbedMlp make_probed_mlp(const MlpSpec& spec, std::uint64_t seed, const nn::FashionMnist& data) {
  if (spec.depth < 1)
    throw nn::ModelError("make_probed_mlp: the depth must be >= 1, got " +
                         std::to_string(spec.depth));
  (void)activation_layer(spec);  // the activation's name is checked before anything is built
  auto backend = std::make_shared<nn::Backend>(seed);
  nn::Symbol x = nn::Input(Shape{28, 28}, "images", backend);
  nn::Symbol h = nn::call(nn::Flatten(), x);
  std::shared_ptr<nn::NormalizationLayer> norm;
  if (spec.standardize) {
    norm = nn::Normalization();
    h = nn::call(norm, h);
    norm->adapt(data.x_train);
  }
  ProbedMlp net;
  std::vector<nn::Symbol> activations, preactivations;
  for (int i = 0; i < spec.depth; ++i) {
    auto dense = nn::Dense(spec.units, {.kernel_initializer = spec.kernel_initializer});
    h = nn::call(dense, h);
    preactivations.push_back(h);
    net.kernels.push_back(dense->kernel());
    h = nn::call(activation_layer(spec), h);
    activations.push_back(h);
  }
  nn::Symbol probabilities = nn::call(nn::Dense(10, {.activation = "softmax"}), h);
  net.model = std::make_unique<nn::Model>(std::vector<nn::Symbol>{x},
                                          std::vector<nn::Symbol>{probabilities});
  std::vector<nn::Symbol> outputs = activations;
  outputs.insert(outputs.end(), preactivations.begin(), preactivations.end());
  outputs.push_back(probabilities);
  net.probe_model = std::make_unique<nn::Model>(std::vector<nn::Symbol>{x}, outputs, "probe");
  return net;
}

Tensor row_range(const Tensor& t, std::int64_t start, std::int64_t count) {
  const std::int64_t rows = t.shape()[0];
  start = std::clamp<std::int64_t>(start, 0, rows);
  count = std::clamp<std::int64_t>(count, 0, rows - start);
  std::vector<std::int64_t> dims = t.shape().dims();
  dims[0] = count;
  Tensor out(t.dtype(), Shape(dims));
  if (count > 0) {
    const std::size_t row_bytes = t.nbytes() / static_cast<std::size_t>(rows);
    std::memcpy(out.raw(),
                static_cast<const char*>(t.raw()) + static_cast<std::size_t>(start) * row_bytes,
                static_cast<std::size_t>(count) * row_bytes);
  }
  return out;
}

}  // namespace dagrad::tools::experiments
