// Convolutional-network layers over NHWC images (reference: keras-semantics.md; Keras 2's
// Conv2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D and Reshape). Compositions of
// the conv2d, pooling, mean and reshape ops. Window sizes, strides and dilations take one value
// (both axes) or two ([height, width]), as Keras's int-or-tuple arguments.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../graph/flag.hpp"
#include "activations.hpp"
#include "initializers.hpp"
#include "layer.hpp"
#include "losses.hpp"

namespace dagrad::nn {

struct Conv2DLayerOptions {
  std::vector<std::int64_t> strides = {1, 1};
  std::string padding = "valid";  // "valid" or "same"
  std::vector<std::int64_t> dilation_rate = {1, 1};
  Activation activation = "linear";
  Flag use_bias = true;
  Initializer kernel_initializer = "glorot_uniform";
  Initializer bias_initializer = "zeros";
  Regularizer kernel_regularizer = {};
  Regularizer bias_regularizer = {};
  std::string name = "";
  std::optional<Shape> input_shape = std::nullopt;  // (H, W, C), without the batch dimension
};
// y = activation(conv2d(x, kernel) + bias): x (batch, H, W, C_in), kernel (kh, kw, C_in, filters)
// (HWIO, initialized with Keras's conv fans: fan_in = kh kw C_in, fan_out = kh kw filters).
// Bad sizes, and strides > 1 with dilation_rate > 1 (as Keras), throw ModelError; an input that
// is not (batch, H, W, C) with known C, or a valid window larger than the (dilated) input, throws
// ModelError naming the layer and the shape.
std::shared_ptr<Layer> Conv2D(std::int64_t filters, std::vector<std::int64_t> kernel_size,
                              Conv2DLayerOptions options = {});

struct Pool2DLayerOptions {
  std::vector<std::int64_t> strides = {};  // empty: pool_size, as Keras's strides=None
  std::string padding = "valid";
  std::string name = "";
  std::optional<Shape> input_shape = std::nullopt;
};
// Keras's MaxPooling2D (type "MaxPooling2D", names max_pooling2d, ...): the window's maximum.
std::shared_ptr<Layer> MaxPool2D(std::vector<std::int64_t> pool_size = {2, 2},
                                 Pool2DLayerOptions options = {});
// Keras's AveragePooling2D: the mean of the window's real cells (same padding counts no pads).
std::shared_ptr<Layer> AvgPool2D(std::vector<std::int64_t> pool_size = {2, 2},
                                 Pool2DLayerOptions options = {});
// (batch, H, W, C) -> (batch, C): the mean over H and W.
std::shared_ptr<Layer> GlobalAveragePooling2D(std::string name = "");

// (batch, ...) -> (batch, target_shape...): target_shape excludes the batch; one of its
// dimensions may be -1, inferred from the input's size (which must then be known). A size that
// does not match the input's is a ModelError naming the layer and both shapes.
std::shared_ptr<Layer> Reshape(std::vector<std::int64_t> target_shape,
                               std::optional<Shape> input_shape = std::nullopt,
                               std::string name = "");

}  // namespace dagrad::nn
