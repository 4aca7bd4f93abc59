// Internal: helpers the built-in layer files share (error text, factories' common options).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "dagrad/nn/errors.hpp"
#include "dagrad/nn/layer.hpp"

namespace dagrad::nn::detail {

// A layer is named when it is built, after its input shapes are checked: errors about an
// unnamed layer name its type.
inline std::string describe(const Layer& layer) {
  if (layer.name().empty()) return "a " + layer.type() + " layer";
  return "layer '" + layer.name() + "' (" + layer.type() + ")";
}

// Throws ModelError naming the layer when `input` has no batch dimension (rank 0).
inline void require_batch_dimension(const Layer& layer, const Shape& input) {
  if (input.rank() < 1)
    throw ModelError(describe(layer) + " needs inputs with a batch dimension, given " +
                     input.to_string());
}

// Layer options shared by every layer: name and (for the first layer) the input shape.
template <class L>
std::shared_ptr<L> finish(std::shared_ptr<L> layer, const std::string& name,
                          const std::optional<Shape>& input_shape) {
  if (!name.empty()) layer->set_name(name);
  if (input_shape) layer->set_input_shape(*input_shape);
  return layer;
}

inline LayerPtr with_base(LayerPtr layer, const AttrMap& c) {
  layer->apply_base_config(c);
  return layer;
}

// Registers the types of conv_layers.cpp; register_builtin_layer_types calls it.
void register_conv_layer_types();

}  // namespace dagrad::nn::detail
