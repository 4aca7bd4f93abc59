// The Normalization layer: fixed per-feature standardization with statistics adapted from data.
#include <cmath>

#include "dagrad/nn/errors.hpp"
#include "dagrad/nn/layers.hpp"
#include "dagrad/ops/ops.hpp"

namespace dagrad::nn {

Shape NormalizationLayer::output_shape(const std::vector<Shape>& in) const {
  const Shape& s = in.at(0);
  if (s.rank() < 2 || s[s.rank() - 1] == Shape::kUnknown)
    throw ModelError("layer '" + name() + "' (Normalization) needs inputs (batch, ..., features) with known "
                     "features, given " + s.to_string());
  return s;
}

void NormalizationLayer::build_weights(const std::vector<Shape>& in) {
  Shape f{in.at(0)[in.at(0).rank() - 1]};
  add_weight("mean", f, "zeros", false);
  add_weight("variance", f, "ones", false);
}

// (x - mean) / max(sqrt(variance), 1e-7)
Output NormalizationLayer::call(const std::vector<Output>& in, CallContext&) {
  Output mean = weights().at(0), variance = weights().at(1);
  Output scale = maximum(sqrt(variance), fill(*mean.graph, Shape{}, 1e-7, mean.dtype()));
  return (in.at(0) - mean) / scale;
}

void NormalizationLayer::adapt(const Tensor& x) {
  if (!built()) throw ModelError("Normalization::adapt: layer '" + name() + "' is not built yet");
  const std::int64_t features = weights().at(0).shape()[0];
  if (!x.defined() || x.dtype() != DType::float32 || x.shape().rank() < 1)
    throw ModelError("Normalization::adapt: layer '" + name() + "' takes float32 data with a batch axis");
  const std::int64_t n = x.shape()[0];
  if (n == 0 || x.size() != n * features)
    throw ModelError("Normalization::adapt: layer '" + name() + "' has " + std::to_string(features) +
                     " features; data of shape " + x.shape().to_string() + " does not have that many per row");
  std::vector<double> mean(static_cast<std::size_t>(features), 0.0), m2(mean.size(), 0.0);
  const float* p = x.data<float>();
  for (std::int64_t r = 0; r < n; ++r)
    for (std::int64_t f = 0; f < features; ++f) {
      // Welford's update per feature, in double.
      double v = p[r * features + f];
      auto k = static_cast<std::size_t>(f);
      double delta = v - mean[k];
      mean[k] += delta / static_cast<double>(r + 1);
      m2[k] += delta * (v - mean[k]);
    }
  Tensor mean_t(DType::float32, Shape{features}), var_t(DType::float32, Shape{features});
  for (std::size_t k = 0; k < mean.size(); ++k) {
    mean_t.data<float>()[k] = static_cast<float>(mean[k]);
    var_t.data<float>()[k] = static_cast<float>(m2[k] / static_cast<double>(n));
  }
  Session& s = backend()->session();
  s.set_variable_value(weights().at(0), mean_t);
  s.set_variable_value(weights().at(1), var_t);
}

std::shared_ptr<NormalizationLayer> Normalization(std::string name) {
  auto layer = std::make_shared<NormalizationLayer>();
  if (!name.empty()) layer->set_name(name);
  return layer;
}

}  // namespace dagrad::nn
