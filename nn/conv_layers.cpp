// Conv2D, the 2-D pooling layers, GlobalAveragePooling2D and Reshape: compositions of the
// conv2d, pooling, mean and reshape ops, with Keras 2's output shapes and configs.
#include "dagrad/nn/conv_layers.hpp"

#include <cmath>
#include <utility>

#include "dagrad/nn/errors.hpp"
#include "dagrad/ops/ops.hpp"
#include "nn/config_util.hpp"
#include "nn/layer_util.hpp"

namespace dagrad::nn {

using detail::describe;
using detail::require_batch_dimension;
using detail::finish;
using detail::with_base;

namespace {

// Dimensions as Keras prints a tuple: "(8, 8, -1)" (not a Shape: -1 here means "inferred").
std::string dims_text(const std::vector<std::int64_t>& v) {
  std::string s = "(";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + (v.size() == 1 ? ",)" : ")");
}

// Keras's int-or-tuple arguments: one value for both axes, or [height, width]; each > 0.
std::vector<std::int64_t> pair_of(const std::string& layer_type, const std::string& what,
                                  std::vector<std::int64_t> v) {
  if (v.size() == 1) v.push_back(v[0]);
  if (v.size() != 2 || v[0] <= 0 || v[1] <= 0) {
    throw ModelError(layer_type + ": " + what + " must be one or two positive integers, given " +
                     dims_text(v));
  }
  return v;
}

std::string check_padding(const std::string& layer_type, const std::string& padding) {
  if (padding != "valid" && padding != "same")
    throw ModelError(layer_type + ": padding must be \"valid\" or \"same\", given \"" + padding +
                     "\"");
  return padding;
}

// (batch, H, W, C) with C known, as every layer here needs.
void check_image(const Layer& layer, const Shape& s) {
  if (s.rank() != 4)
    throw ModelError(describe(layer) +
                     " needs inputs of shape (batch, height, width, channels), "
                     "given " +
                     s.to_string());
  if (s[3] == Shape::kUnknown)
    throw ModelError(describe(layer) + " needs a known channel count, given " + s.to_string());
}

// One spatial output size (Keras's conv_output_length): valid keeps the windows that fit,
// same gives ceil(size / stride). Unknown stays unknown.
std::int64_t output_length(const Layer& layer, const Shape& input, int axis, std::int64_t window,
                           const std::string& padding, std::int64_t stride, std::int64_t dilation) {
  std::int64_t size = input[axis];
  if (size == Shape::kUnknown) return Shape::kUnknown;
  if (padding == "same") return (size + stride - 1) / stride;
  std::int64_t span = (window - 1) * dilation + 1;
  if (size < span)
    throw ModelError(describe(layer) + ": its window spans " + std::to_string(span) +
                     " cells (dilation included), more than the " +
                     (axis == 1 ? "height" : "width") + " of input " + input.to_string() +
                     " with valid padding");
  return (size - span) / stride + 1;
}

// ---------------------------------------------------------------------------------------------

class Conv2DLayer : public Layer {
 public:
  Conv2DLayer(std::int64_t filters, std::vector<std::int64_t> kernel_size,
              Conv2DLayerOptions options)
      : filters_(filters),
        kernel_size_(pair_of("Conv2D", "kernel_size", std::move(kernel_size))),
        options_(std::move(options)) {
    if (filters <= 0)
      throw ModelError("Conv2D: filters must be > 0, got " + std::to_string(filters));
    options_.strides = pair_of("Conv2D", "strides", options_.strides);
    options_.dilation_rate = pair_of("Conv2D", "dilation_rate", options_.dilation_rate);
    check_padding("Conv2D", options_.padding);
    // As Keras's Conv2D (through tf.nn.convolution), though the conv2d op allows both.
    bool strided = options_.strides[0] > 1 || options_.strides[1] > 1;
    bool dilated = options_.dilation_rate[0] > 1 || options_.dilation_rate[1] > 1;
    if (strided && dilated)
      throw ModelError(
          "Conv2D: strides > 1 are not supported with dilation_rate > 1, given strides " +
          dims_text(options_.strides) + " and dilation_rate " + dims_text(options_.dilation_rate));
    for (const auto& [which, r] : {std::pair{"kernel_regularizer", options_.kernel_regularizer},
                                   std::pair{"bias_regularizer", options_.bias_regularizer}})
      if (!std::isfinite(r.l1) || !std::isfinite(r.l2))
        throw ModelError(std::string("Conv2D: ") + which + " factors must be finite, got l1 = " +
                         std::to_string(r.l1) + ", l2 = " + std::to_string(r.l2));
  }
  std::string type() const override { return "Conv2D"; }

  Shape output_shape(const std::vector<Shape>& in) const override {
    const Shape& s = in.at(0);
    check_image(*this, s);
    std::int64_t h = output_length(*this, s, 1, kernel_size_[0], options_.padding,
                                   options_.strides[0], options_.dilation_rate[0]);
    std::int64_t w = output_length(*this, s, 2, kernel_size_[1], options_.padding,
                                   options_.strides[1], options_.dilation_rate[1]);
    return Shape{s[0], h, w, filters_};
  }

  Output call(const std::vector<Output>& in, CallContext&) override {
    Output y = conv2d(in.at(0), kernel(),
                      dagrad::Conv2DOptions{.strides = options_.strides,
                                            .padding = options_.padding,
                                            .dilations = options_.dilation_rate});
    if (options_.use_bias) y = y + bias();
    return options_.activation(y);
  }

  std::vector<Output> regularization_losses() override {
    std::vector<Output> out;
    if (!built()) return out;
    if (options_.kernel_regularizer.active()) out.push_back(options_.kernel_regularizer(kernel()));
    if (options_.use_bias && options_.bias_regularizer.active())
      out.push_back(options_.bias_regularizer(bias()));
    return out;
  }

  AttrMap config() const override {
    AttrMap c = Layer::config();
    c.set("filters", filters_);
    c.set("kernel_size", kernel_size_);
    c.set("strides", options_.strides);
    c.set("padding", options_.padding);
    c.set("dilation_rate", options_.dilation_rate);
    c.set("activation", options_.activation.name());
    c.set("use_bias", static_cast<bool>(options_.use_bias));
    detail::put_prefixed(c, "kernel_initializer", options_.kernel_initializer.config());
    detail::put_prefixed(c, "bias_initializer", options_.bias_initializer.config());
    detail::put_regularizer(c, "kernel_regularizer", options_.kernel_regularizer);
    detail::put_regularizer(c, "bias_regularizer", options_.bias_regularizer);
    return c;
  }

 protected:
  // Kernel HWIO: the initializer's fans are Keras's for a rank-4 shape (receptive field kh kw).
  void build_weights(const std::vector<Shape>& in) override {
    std::int64_t channels = in.at(0)[3];
    add_weight("kernel", Shape{kernel_size_[0], kernel_size_[1], channels, filters_},
               options_.kernel_initializer);
    if (options_.use_bias) add_weight("bias", Shape{filters_}, options_.bias_initializer);
  }

 private:
  Output kernel() const { return weights().at(0); }
  Output bias() const { return weights().at(1); }

  std::int64_t filters_;
  std::vector<std::int64_t> kernel_size_;
  Conv2DLayerOptions options_;
};

// ---------------------------------------------------------------------------------------------

class Pool2DLayer : public Layer {
 public:
  Pool2DLayer(bool max, std::vector<std::int64_t> pool_size, Pool2DLayerOptions options)
      : max_(max),
        pool_size_(pair_of(type(), "pool_size", std::move(pool_size))),
        options_(std::move(options)) {
    options_.strides =
        options_.strides.empty() ? pool_size_ : pair_of(type(), "strides", options_.strides);
    check_padding(type(), options_.padding);
  }
  std::string type() const override { return max_ ? "MaxPooling2D" : "AveragePooling2D"; }

  Shape output_shape(const std::vector<Shape>& in) const override {
    const Shape& s = in.at(0);
    check_image(*this, s);
    return Shape{
        s[0], output_length(*this, s, 1, pool_size_[0], options_.padding, options_.strides[0], 1),
        output_length(*this, s, 2, pool_size_[1], options_.padding, options_.strides[1], 1), s[3]};
  }

  Output call(const std::vector<Output>& in, CallContext&) override {
    Pool2DOptions o{.strides = options_.strides, .padding = options_.padding};
    return max_ ? max_pool2d(in.at(0), pool_size_, o) : avg_pool2d(in.at(0), pool_size_, o);
  }

  AttrMap config() const override {
    AttrMap c = Layer::config();
    c.set("pool_size", pool_size_);
    c.set("strides", options_.strides);
    c.set("padding", options_.padding);
    return c;
  }

 private:
  bool max_;
  std::vector<std::int64_t> pool_size_;
  Pool2DLayerOptions options_;
};

class GlobalAveragePooling2DLayer : public Layer {
 public:
  std::string type() const override { return "GlobalAveragePooling2D"; }
  Shape output_shape(const std::vector<Shape>& in) const override {
    check_image(*this, in.at(0));
    return Shape{in[0][0], in[0][3]};
  }
  Output call(const std::vector<Output>& in, CallContext&) override {
    return mean(in.at(0), {1, 2}, false, "Mean");
  }
};

// ---------------------------------------------------------------------------------------------

class ReshapeLayer : public Layer {
 public:
  explicit ReshapeLayer(std::vector<std::int64_t> target) : target_(std::move(target)) {
    int inferred = 0;
    for (std::int64_t d : target_) {
      if (d == -1) ++inferred;
      if (d == 0 || d < -1 || inferred > 1)
        throw ModelError("Reshape: target_shape " + dims_text(target_) +
                         " needs positive dimensions and at most one -1");
    }
  }
  std::string type() const override { return "Reshape"; }

  Shape output_shape(const std::vector<Shape>& in) const override {
    const Shape& s = in.at(0);
    require_batch_dimension(*this, s);
    bool known = true;
    std::int64_t size = 1;
    for (int i = 1; i < s.rank(); ++i) {
      if (s[i] == Shape::kUnknown)
        known = false;
      else
        size *= s[i];
    }
    std::int64_t target_size = 1;
    int unknown_at = -1;
    for (std::size_t i = 0; i < target_.size(); ++i) {
      if (target_[i] == -1)
        unknown_at = static_cast<int>(i);
      else
        target_size *= target_[i];
    }
    std::vector<std::int64_t> dims{s[0]};
    dims.insert(dims.end(), target_.begin(), target_.end());
    if (unknown_at >= 0 && !known)
      throw ModelError(describe(*this) +
                       " needs every input dimension but the batch known to "
                       "infer the -1 of target_shape " +
                       dims_text(target_) + ", given " + s.to_string());
    if (known && (unknown_at >= 0 ? size % target_size != 0 : size != target_size))
      throw ModelError(describe(*this) + ": input " + s.to_string() + " of " +
                       std::to_string(size) + " elements per example cannot take target_shape " +
                       dims_text(target_));
    if (unknown_at >= 0) dims[static_cast<std::size_t>(unknown_at) + 1] = size / target_size;
    return Shape(dims);
  }

  Output call(const std::vector<Output>& in, CallContext&) override {
    Shape out = output_shape({in.at(0).shape()});
    std::vector<std::int64_t> dims = out.dims();
    dims[0] = -1;  // the batch, known at run time
    return reshape(in[0], dims, "Reshape");
  }

  AttrMap config() const override {
    AttrMap c = Layer::config();
    c.set("target_shape", target_);
    return c;
  }

 private:
  std::vector<std::int64_t> target_;
};

LayerPtr pool_from_config(bool max, const AttrMap& c) {
  Pool2DLayerOptions o;
  o.strides = c.get_ints("strides");
  o.padding = c.get_string("padding");
  return with_base(std::make_shared<Pool2DLayer>(max, c.get_ints("pool_size"), std::move(o)), c);
}

}  // namespace

// ---- factories -------------------------------------------------------------------------------

std::shared_ptr<Layer> Conv2D(std::int64_t filters, std::vector<std::int64_t> kernel_size,
                              Conv2DLayerOptions options) {
  std::string name = options.name;
  std::optional<Shape> input_shape = options.input_shape;
  return finish(std::make_shared<Conv2DLayer>(filters, std::move(kernel_size), std::move(options)),
                name, input_shape);
}

std::shared_ptr<Layer> MaxPool2D(std::vector<std::int64_t> pool_size, Pool2DLayerOptions options) {
  std::string name = options.name;
  std::optional<Shape> input_shape = options.input_shape;
  return finish(std::make_shared<Pool2DLayer>(true, std::move(pool_size), std::move(options)), name,
                input_shape);
}

std::shared_ptr<Layer> AvgPool2D(std::vector<std::int64_t> pool_size, Pool2DLayerOptions options) {
  std::string name = options.name;
  std::optional<Shape> input_shape = options.input_shape;
  return finish(std::make_shared<Pool2DLayer>(false, std::move(pool_size), std::move(options)),
                name, input_shape);
}

std::shared_ptr<Layer> GlobalAveragePooling2D(std::string name) {
  return finish(std::make_shared<GlobalAveragePooling2DLayer>(), name, std::nullopt);
}

std::shared_ptr<Layer> Reshape(std::vector<std::int64_t> target_shape,
                               std::optional<Shape> input_shape, std::string name) {
  return finish(std::make_shared<ReshapeLayer>(std::move(target_shape)), name, input_shape);
}

// ---- rebuilding from configs -------------------------------------------------------------------

void detail::register_conv_layer_types() {
  register_layer_type("Conv2D", [](const AttrMap& c) -> LayerPtr {
    Conv2DLayerOptions o;
    o.strides = c.get_ints("strides");
    o.padding = c.get_string("padding");
    o.dilation_rate = c.get_ints("dilation_rate");
    o.activation = Activation(c.get_string("activation"));
    o.use_bias = c.get_bool("use_bias");
    o.kernel_initializer = detail::initializer_from(c, "kernel_initializer", "glorot_uniform");
    o.bias_initializer = detail::initializer_from(c, "bias_initializer", "zeros");
    o.kernel_regularizer = detail::regularizer_from(c, "kernel_regularizer");
    o.bias_regularizer = detail::regularizer_from(c, "bias_regularizer");
    return with_base(std::make_shared<Conv2DLayer>(c.get_int("filters"), c.get_ints("kernel_size"),
                                                   std::move(o)),
                     c);
  });
  register_layer_type("MaxPooling2D", [](const AttrMap& c) { return pool_from_config(true, c); });
  register_layer_type("AveragePooling2D",
                      [](const AttrMap& c) { return pool_from_config(false, c); });
  register_layer_type("GlobalAveragePooling2D", [](const AttrMap& c) -> LayerPtr {
    return with_base(std::make_shared<GlobalAveragePooling2DLayer>(), c);
  });
  register_layer_type("Reshape", [](const AttrMap& c) -> LayerPtr {
    return with_base(std::make_shared<ReshapeLayer>(c.get_ints("target_shape")), c);
  });
}

}  // namespace dagrad::nn
