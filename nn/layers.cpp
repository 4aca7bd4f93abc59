// The built-in layers (reference: keras-semantics.md sections 2-4): compositions of graph ops.
#include "dagrad/nn/layers.hpp"

#include <cmath>
#include <numeric>
#include <utility>

#include "dagrad/nn/errors.hpp"
#include "dagrad/ops/ops.hpp"
#include "nn/config_util.hpp"
#include "nn/layer_util.hpp"

namespace dagrad::nn {

using detail::describe;
using detail::require_batch_dimension;
using detail::finish;
using detail::initializer_from;
using detail::put_regularizer;
using detail::regularizer_from;
using detail::with_base;

namespace {

// SELU's constants (keras-semantics.md section 2), for AlphaDropout.
constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;

// The last dimension of a layer's input, which sizes its weights: it must be known.
std::int64_t features_of(const Layer& layer, const Shape& shape) {
  if (shape.rank() < 2)
    throw ModelError(describe(layer) + " needs inputs of shape (batch, ..., features), given " +
                     shape.to_string());
  std::int64_t f = shape[shape.rank() - 1];
  if (f == Shape::kUnknown)
    throw ModelError(describe(layer) + " needs a known last dimension, given " + shape.to_string());
  return f;
}

void check_rate(const std::string& layer_type, double rate) {
  if (!(rate >= 0.0 && rate < 1.0))
    throw ModelError(layer_type + ": rate must be in [0, 1), got " + std::to_string(rate));
}

// A layer whose computation needs no weights and no mode: y = f(x).
class StatelessLayer : public Layer {
 public:
  Shape output_shape(const std::vector<Shape>& input_shapes) const override {
    return input_shapes.at(0);
  }
};

// ---------------------------------------------------------------------------------------------

class FlattenLayer : public Layer {
 public:
  std::string type() const override { return "Flatten"; }
  Shape output_shape(const std::vector<Shape>& in) const override {
    const Shape& s = in.at(0);
    require_batch_dimension(*this, s);
    std::int64_t n = 1;
    for (int i = 1; i < s.rank(); ++i) {
      if (s[i] == Shape::kUnknown)
        throw ModelError(describe(*this) + " needs every dimension but the batch known, given " +
                         s.to_string());
      n *= s[i];
    }
    return Shape{s[0], n};
  }
  Output call(const std::vector<Output>& in, CallContext&) override {
    Shape out = output_shape({in.at(0).shape()});
    return reshape(in[0], {-1, out[1]}, "Reshape");
  }
};

class InputLayerImpl : public Layer {
 public:
  std::string type() const override { return "InputLayer"; }
  Shape output_shape(const std::vector<Shape>& in) const override { return in.at(0); }
  Output call(const std::vector<Output>& in, CallContext&) override { return in.at(0); }
};

// ---------------------------------------------------------------------------------------------

class ActivationLayerImpl : public StatelessLayer {
 public:
  explicit ActivationLayerImpl(Activation activation) : activation_(std::move(activation)) {}
  std::string type() const override { return "Activation"; }
  Output call(const std::vector<Output>& in, CallContext&) override { return activation_(in.at(0)); }
  AttrMap config() const override {
    AttrMap c = Layer::config();
    c.set("activation", activation_.name());
    return c;
  }

 private:
  Activation activation_;
};

class LeakyReLULayer : public StatelessLayer {
 public:
  explicit LeakyReLULayer(double alpha) : alpha_(alpha) {
    if (!std::isfinite(alpha)) throw ModelError("LeakyReLU: alpha must be a finite number");
  }
  std::string type() const override { return "LeakyReLU"; }
  // x if x > 0 else alpha x
  Output call(const std::vector<Output>& in, CallContext&) override {
    return leaky_relu(in.at(0), alpha_);
  }
  AttrMap config() const override {
    AttrMap c = Layer::config();
    c.set("alpha", alpha_);
    return c;
  }

 private:
  double alpha_;
};

class ELULayer : public StatelessLayer {
 public:
  explicit ELULayer(double alpha) : alpha_(alpha) {
    if (!std::isfinite(alpha)) throw ModelError("ELU: alpha must be a finite number");
  }
  std::string type() const override { return "ELU"; }
  Output call(const std::vector<Output>& in, CallContext&) override { return elu(in.at(0), alpha_); }
  AttrMap config() const override {
    AttrMap c = Layer::config();
    c.set("alpha", alpha_);
    return c;
  }

 private:
  double alpha_;
};

// ---------------------------------------------------------------------------------------------

class PReLULayer : public Layer {
 public:
  explicit PReLULayer(PReLUOptions options) : options_(std::move(options)) {}
  std::string type() const override { return "PReLU"; }
  Shape output_shape(const std::vector<Shape>& in) const override {
    (void)alpha_shape(in.at(0));
    return in[0];
  }
  // relu(x) - alpha relu(-x)
  Output call(const std::vector<Output>& in, CallContext&) override {
    const Output& x = in.at(0);
    return relu(x) - alpha_ * relu(-x);
  }
  AttrMap config() const override {
    AttrMap c = Layer::config();
    detail::put_prefixed(c, "alpha_initializer", options_.alpha_initializer.config());
    c.set("shared_axes", options_.shared_axes);
    return c;
  }

 protected:
  void build_weights(const std::vector<Shape>& in) override {
    alpha_ = add_weight("alpha", alpha_shape(in.at(0)), options_.alpha_initializer);
  }

 private:
  // input_shape[1:], with each shared axis (1-based over the full shape) set to 1.
  Shape alpha_shape(const Shape& s) const {
    if (s.rank() < 2)
      throw ModelError(describe(*this) + " needs inputs of shape (batch, ...), given " +
                       s.to_string());
    std::vector<std::int64_t> dims(s.dims().begin() + 1, s.dims().end());
    for (std::int64_t axis : options_.shared_axes) {
      if (axis < 1 || axis >= s.rank())
        throw ModelError(describe(*this) + ": shared axis " + std::to_string(axis) +
                         " is not an axis 1.." + std::to_string(s.rank() - 1) + " of input " +
                         s.to_string());
      dims[static_cast<std::size_t>(axis - 1)] = 1;
    }
    for (std::int64_t d : dims)
      if (d == Shape::kUnknown)
        throw ModelError(describe(*this) + " needs known dimensions outside its shared axes, given " +
                         s.to_string());
    return Shape(dims);
  }

  PReLUOptions options_;
  Output alpha_;
};

class RReLULayer : public StatelessLayer {
 public:
  explicit RReLULayer(RReLUOptions options) : options_(options) {
    if (!(options.lower >= 0.0 && options.lower <= options.upper && std::isfinite(options.upper)))
      throw ModelError("RReLU: needs 0 <= lower <= upper, got lower " +
                       std::to_string(options.lower) + ", upper " + std::to_string(options.upper));
  }
  std::string type() const override { return "RReLU"; }
  // Training: x >= 0 ? x : a x, a ~ U[lower, upper) per element and step; else a = midpoint.
  Output call(const std::vector<Output>& in, CallContext& ctx) override {
    const Output& x = in.at(0);
    if (!ctx.training) return leaky_relu(x, (options_.lower + options_.upper) / 2.0);
    // U[lower, lower) is empty: the slope is lower itself (random_uniform needs minval < maxval).
    if (options_.lower == options_.upper) return leaky_relu(x, options_.lower);
    Output a = random_uniform_like(x, options_.lower, options_.upper, options_.seed, "slope");
    return where(greater_equal(x, zeros_like(x)), x, a * x);
  }
  AttrMap config() const override {
    AttrMap c = Layer::config();
    c.set("lower", options_.lower);
    c.set("upper", options_.upper);
    c.set("seed", options_.seed);
    return c;
  }

 private:
  RReLUOptions options_;
};

// ---------------------------------------------------------------------------------------------

class DropoutLayer : public StatelessLayer {
 public:
  DropoutLayer(double rate, DropoutOptions options) : rate_(rate), options_(options) {
    check_rate("Dropout", rate);
  }
  std::string type() const override { return "Dropout"; }
  // Training (and MC dropout): x * (u >= rate) / (1 - rate), u ~ U[0, 1); inference: x.
  Output call(const std::vector<Output>& in, CallContext& ctx) override {
    const Output& x = in.at(0);
    if (!ctx.dropout_active() || rate_ == 0.0) return x;
    Output u = random_uniform_like(x, 0.0, 1.0, options_.seed, "uniform");
    Output keep = greater_equal(u, fill(*x.graph, Shape{}, rate_, x.dtype()));
    return where(keep, x * (1.0 / (1.0 - rate_)), zeros_like(x), "dropped");
  }
  AttrMap config() const override {
    AttrMap c = Layer::config();
    c.set("rate", rate_);
    c.set("seed", options_.seed);
    return c;
  }

 private:
  double rate_;
  DropoutOptions options_;
};

class AlphaDropoutLayer : public StatelessLayer {
 public:
  AlphaDropoutLayer(double rate, DropoutOptions options) : rate_(rate), options_(options) {
    check_rate("AlphaDropout", rate);
  }
  std::string type() const override { return "AlphaDropout"; }
  // keep = (u >= rate); y = a (x keep + alpha' (1 - keep)) + b, with alpha' = -lambda alpha,
  // a = ((1 - rate)(1 + rate alpha'^2))^-1/2, b = -a alpha' rate: keeps SELU's mean and variance.
  Output call(const std::vector<Output>& in, CallContext& ctx) override {
    const Output& x = in.at(0);
    if (!ctx.dropout_active() || rate_ == 0.0) return x;
    const double alpha_p = -kSeluAlpha * kSeluScale;
    const double a = 1.0 / std::sqrt((1.0 - rate_) * (1.0 + rate_ * alpha_p * alpha_p));
    const double b = -a * alpha_p * rate_;
    Output u = random_uniform_like(x, 0.0, 1.0, options_.seed, "uniform");
    Output keep = greater_equal(u, fill(*x.graph, Shape{}, rate_, x.dtype()));
    Output dropped = fill(*x.graph, Shape{}, a * alpha_p + b, x.dtype());
    return where(keep, x * a + b, dropped, "dropped");
  }
  AttrMap config() const override {
    AttrMap c = Layer::config();
    c.set("rate", rate_);
    c.set("seed", options_.seed);
    return c;
  }

 private:
  double rate_;
  DropoutOptions options_;
};

// ---------------------------------------------------------------------------------------------

class BatchNormalizationLayer : public Layer {
 public:
  explicit BatchNormalizationLayer(BatchNormalizationOptions options) : options_(std::move(options)) {
    if (!(options_.momentum >= 0.0 && options_.momentum <= 1.0))
      throw ModelError("BatchNormalization: momentum must be in [0, 1], got " +
                       std::to_string(options_.momentum));
    if (!(options_.epsilon > 0.0 && std::isfinite(options_.epsilon)))
      throw ModelError("BatchNormalization: epsilon must be a finite number > 0, got " +
                       std::to_string(options_.epsilon));
  }
  std::string type() const override { return "BatchNormalization"; }
  Shape output_shape(const std::vector<Shape>& in) const override {
    (void)features_of(*this, in.at(0));
    return in[0];
  }

  Output call(const std::vector<Output>& in, CallContext& ctx) override {
    const Output& x = in.at(0);
    std::vector<std::int64_t> axes(static_cast<std::size_t>(x.shape().rank() - 1));
    std::iota(axes.begin(), axes.end(), 0);
    // A frozen layer always normalizes with its moving statistics (TF2), and updates nothing.
    if (ctx.training && trainable()) {
      // Batch statistics over every axis but the last; the variance is biased (divides by N).
      Output mu = mean(x, axes, false, "batch_mean");
      Output centered = x - mu;
      Output var = mean(square(centered), axes, false, "batch_variance");
      Output y = centered * rsqrt(var + options_.epsilon);
      // m <- m - (m - batch) (1 - momentum), as Keras's _assign_moving_average.
      const double decay = 1.0 - options_.momentum;
      ctx.updates.emplace_back(assign_sub(moving_mean_, (moving_mean_ - stop_gradient(mu)) * decay,
                                          "update_moving_mean"));
      Output batch_var = stop_gradient(var);
      // Keras runs a rank-4 input (Conv2D's NHWC) through TF's fused kernel, which normalizes
      // with the biased variance but averages the unbiased one, n / (n - 1) times it with
      // n = N H W (keras-semantics.md 3.3); other ranks average the biased one.
      if (x.shape().rank() == 4) {
        Output n = cast(size(x), x.dtype()) * (1.0 / static_cast<double>(x.shape()[3]));
        Output one = fill(*x.graph, Shape{}, 1.0, x.dtype());
        batch_var = batch_var * (n / maximum(n - 1.0, one));
      }
      ctx.updates.emplace_back(assign_sub(moving_variance_,
                                          (moving_variance_ - batch_var) * decay,
                                          "update_moving_variance"));
      if (options_.scale) y = y * gamma_;
      if (options_.center) y = y + beta_;
      return y;
    }
    // inv = rsqrt(var + eps) gamma; y = x inv + (beta - mean inv), as tf.nn.batch_normalization.
    Output inv = rsqrt(moving_variance_ + options_.epsilon);
    if (options_.scale) inv = inv * gamma_;
    Output shift = -(moving_mean_ * inv);
    if (options_.center) shift = beta_ + shift;
    return x * inv + shift;
  }

  AttrMap config() const override {
    AttrMap c = Layer::config();
    c.set("momentum", options_.momentum);
    c.set("epsilon", options_.epsilon);
    c.set("center", static_cast<bool>(options_.center));
    c.set("scale", static_cast<bool>(options_.scale));
    detail::put_prefixed(c, "beta_initializer", options_.beta_initializer.config());
    detail::put_prefixed(c, "gamma_initializer", options_.gamma_initializer.config());
    detail::put_prefixed(c, "moving_mean_initializer", options_.moving_mean_initializer.config());
    detail::put_prefixed(c, "moving_variance_initializer",
                         options_.moving_variance_initializer.config());
    return c;
  }

 protected:
  void build_weights(const std::vector<Shape>& in) override {
    Shape f{features_of(*this, in.at(0))};
    if (options_.scale) gamma_ = add_weight("gamma", f, options_.gamma_initializer);
    if (options_.center) beta_ = add_weight("beta", f, options_.beta_initializer);
    moving_mean_ = add_weight("moving_mean", f, options_.moving_mean_initializer, false);
    moving_variance_ = add_weight("moving_variance", f, options_.moving_variance_initializer, false);
  }

 private:
  BatchNormalizationOptions options_;
  Output gamma_, beta_, moving_mean_, moving_variance_;
};

// ---------------------------------------------------------------------------------------------

class ConcatenateLayer : public Layer {
 public:
  explicit ConcatenateLayer(std::int64_t axis) : axis_(axis) {}
  std::string type() const override { return "Concatenate"; }
  int num_inputs() const override { return -1; }
  Shape output_shape(const std::vector<Shape>& in) const override {
    if (in.size() < 2)
      throw ModelError(describe(*this) + " needs at least 2 inputs, given " +
                       std::to_string(in.size()));
    int rank = in[0].rank();
    if (axis_ < -rank || axis_ >= rank || axis_ == 0 || axis_ == -rank)
      throw ModelError(describe(*this) + ": axis " + std::to_string(axis_) +
                       " is not a non-batch axis of rank " + std::to_string(rank));
    int a = static_cast<int>(axis_ < 0 ? axis_ + rank : axis_);
    Shape out = in[0];
    for (std::size_t i = 1; i < in.size(); ++i) {
      bool fits = in[i].rank() == rank;
      for (int d = 0; fits && d < rank; ++d)
        fits = d == a || in[i][d] == out[d] || in[i][d] == Shape::kUnknown || out[d] == Shape::kUnknown;
      if (!fits)
        throw ModelError(describe(*this) + ": input " + std::to_string(i) + " of shape " +
                         in[i].to_string() + " does not fit input 0 of shape " + in[0].to_string() +
                         " outside axis " + std::to_string(axis_));
      out[a] = (out[a] == Shape::kUnknown || in[i][a] == Shape::kUnknown) ? Shape::kUnknown
                                                                         : out[a] + in[i][a];
    }
    return out;
  }
  Output call(const std::vector<Output>& in, CallContext&) override { return concat(in, axis_); }
  AttrMap config() const override {
    AttrMap c = Layer::config();
    c.set("axis", axis_);
    return c;
  }

 private:
  std::int64_t axis_;
};

class AddLayer : public Layer {
 public:
  std::string type() const override { return "Add"; }
  int num_inputs() const override { return -1; }
  Shape output_shape(const std::vector<Shape>& in) const override {
    if (in.size() < 2)
      throw ModelError(describe(*this) + " needs at least 2 inputs, given " +
                       std::to_string(in.size()));
    for (std::size_t i = 1; i < in.size(); ++i)
      if (in[i].rank() != in[0].rank() || !in[i].compatible_with(in[0]))
        throw ModelError(describe(*this) + ": input " + std::to_string(i) + " has shape " +
                         in[i].to_string() + ", input 0 has " + in[0].to_string());
    return in[0];
  }
  Output call(const std::vector<Output>& in, CallContext&) override { return add_n(in); }
};

// ---------------------------------------------------------------------------------------------


}  // namespace

// ---- Dense ---------------------------------------------------------------------------------

DenseLayer::DenseLayer(std::int64_t units, DenseOptions options)
    : units_(units), options_(std::move(options)) {
  if (units <= 0) throw ModelError("Dense: units must be > 0, got " + std::to_string(units));
  if (const auto& c = options_.kernel_constraint) {
    if (!(c->max_value > 0.0 && std::isfinite(c->max_value)))
      throw ModelError("Dense: max-norm max_value must be a finite number > 0, got " +
                       std::to_string(c->max_value));
    if (c->axis < -2 || c->axis > 1)
      throw ModelError("Dense: max-norm axis " + std::to_string(c->axis) +
                       " is not an axis of the (inputs, units) kernel (0, 1, -1 or -2)");
  }
  // As Keras's regularizers: the factors are checked when the layer is made, not when the
  // training graph first needs the penalty.
  for (const auto& [which, r] : {std::pair{"kernel_regularizer", options_.kernel_regularizer},
                                 std::pair{"bias_regularizer", options_.bias_regularizer}})
    if (!std::isfinite(r.l1) || !std::isfinite(r.l2))
      throw ModelError(std::string("Dense: ") + which + " factors must be finite, got l1 = " +
                       std::to_string(r.l1) + ", l2 = " + std::to_string(r.l2));
}

Shape DenseLayer::output_shape(const std::vector<Shape>& in) const {
  Shape out = in.at(0);
  (void)features_of(*this, out);
  // call() folds the inner axes into the batch and back, which needs them known.
  for (int i = 1; i + 1 < out.rank(); ++i)
    if (out[i] == Shape::kUnknown)
      throw ModelError(describe(*this) + " needs known inner dimensions, given " + out.to_string());
  out[out.rank() - 1] = units_;
  return out;
}

void DenseLayer::build_weights(const std::vector<Shape>& in) {
  std::int64_t features = features_of(*this, in.at(0));
  add_weight("kernel", Shape{features, units_}, options_.kernel_initializer);
  if (options_.use_bias) add_weight("bias", Shape{units_}, options_.bias_initializer);
}

Output DenseLayer::kernel() const { return weights().at(0); }
Output DenseLayer::bias() const { return options_.use_bias ? weights().at(1) : Output{}; }

Output DenseLayer::call(const std::vector<Output>& in, CallContext&) {
  Output x = in.at(0);
  const Shape& s = x.shape();
  Output y;
  if (s.rank() == 2) {
    y = matmul(x, kernel());
  } else {
    // Over the last axis of a (batch, d1, ..., features) input, as Keras's tensordot.
    std::vector<std::int64_t> out_dims = s.dims();
    for (int i = 1; i + 1 < s.rank(); ++i)
      if (s[i] == Shape::kUnknown)
        throw ModelError(describe(*this) + " needs known inner dimensions, given " + s.to_string());
    out_dims[0] = -1;
    out_dims.back() = units_;
    y = reshape(matmul(reshape(x, {-1, s[s.rank() - 1]}), kernel()), out_dims);
  }
  if (options_.use_bias) y = y + bias();
  return options_.activation(y);
}

std::vector<Output> DenseLayer::regularization_losses() {
  std::vector<Output> out;
  if (!built()) return out;
  if (options_.kernel_regularizer.active()) out.push_back(options_.kernel_regularizer(kernel()));
  if (options_.use_bias && options_.bias_regularizer.active())
    out.push_back(options_.bias_regularizer(bias()));
  return out;
}

// w <- w * clip(norms, 0, max_value) / (1e-7 + norms), norms over `axis` (keepdims).
std::vector<Operation> DenseLayer::constraint_updates() {
  if (!built() || !options_.kernel_constraint) return {};
  const MaxNorm& c = *options_.kernel_constraint;
  Output w = kernel();
  Output norms = sqrt(sum(square(w), {c.axis}, true), "norms");
  Output desired = clip_by_value(norms, 0.0, c.max_value);
  return {assign(w, w * (desired / (norms + 1e-7)), "max_norm")};
}

AttrMap DenseLayer::config() const {
  AttrMap c = Layer::config();
  c.set("units", units_);
  c.set("activation", options_.activation.name());
  detail::put_prefixed(c, "kernel_initializer", options_.kernel_initializer.config());
  detail::put_prefixed(c, "bias_initializer", options_.bias_initializer.config());
  c.set("use_bias", static_cast<bool>(options_.use_bias));
  put_regularizer(c, "kernel_regularizer", options_.kernel_regularizer);
  put_regularizer(c, "bias_regularizer", options_.bias_regularizer);
  if (options_.kernel_constraint) {
    c.set("kernel_constraint.max_value", options_.kernel_constraint->max_value);
    c.set("kernel_constraint.axis", options_.kernel_constraint->axis);
  }
  return c;
}

std::shared_ptr<DenseLayer> Dense(std::int64_t units, DenseOptions options) {
  std::string name = options.name;
  std::optional<Shape> input_shape = options.input_shape;
  return finish(std::make_shared<DenseLayer>(units, std::move(options)), name, input_shape);
}

// ---- factories -------------------------------------------------------------------------------

std::shared_ptr<Layer> Flatten(Shape input_shape, std::string name) {
  std::optional<Shape> declared;
  if (input_shape.rank() > 0) declared = std::move(input_shape);
  return finish(std::make_shared<FlattenLayer>(), name, declared);
}

std::shared_ptr<Layer> InputLayer(Shape shape, std::string name) {
  return finish(std::make_shared<InputLayerImpl>(), name, std::optional<Shape>(std::move(shape)));
}

std::shared_ptr<Layer> BatchNormalization(BatchNormalizationOptions options) {
  std::string name = options.name;
  std::optional<Shape> input_shape = options.input_shape;
  return finish(std::make_shared<BatchNormalizationLayer>(std::move(options)), name, input_shape);
}

std::shared_ptr<Layer> Dropout(double rate, DropoutOptions options) {
  return finish(std::make_shared<DropoutLayer>(rate, options), options.name, std::nullopt);
}

std::shared_ptr<Layer> AlphaDropout(double rate, DropoutOptions options) {
  return finish(std::make_shared<AlphaDropoutLayer>(rate, options), options.name, std::nullopt);
}

std::shared_ptr<Layer> ActivationLayer(Activation activation, std::string name) {
  return finish(std::make_shared<ActivationLayerImpl>(std::move(activation)), name, std::nullopt);
}

std::shared_ptr<Layer> LeakyReLU(double alpha, std::string name) {
  return finish(std::make_shared<LeakyReLULayer>(alpha), name, std::nullopt);
}

std::shared_ptr<Layer> ELU(double alpha, std::string name) {
  return finish(std::make_shared<ELULayer>(alpha), name, std::nullopt);
}

std::shared_ptr<Layer> PReLU(PReLUOptions options) {
  std::string name = options.name;
  return finish(std::make_shared<PReLULayer>(std::move(options)), name, std::nullopt);
}

std::shared_ptr<Layer> RReLU(RReLUOptions options) {
  return finish(std::make_shared<RReLULayer>(options), options.name, std::nullopt);
}

std::shared_ptr<Layer> Concatenate(std::int64_t axis, std::string name) {
  return finish(std::make_shared<ConcatenateLayer>(axis), name, std::nullopt);
}

std::shared_ptr<Layer> Add(std::string name) {
  return finish(std::make_shared<AddLayer>(), name, std::nullopt);
}

// ---- rebuilding from configs (model files, clone_model) ------------------------------------

void register_builtin_layer_types() {
  detail::register_conv_layer_types();
  register_layer_type("Dense", [](const AttrMap& c) -> LayerPtr {
    DenseOptions o;
    o.activation = Activation(c.get_string("activation"));
    o.kernel_initializer = initializer_from(c, "kernel_initializer", "glorot_uniform");
    o.bias_initializer = initializer_from(c, "bias_initializer", "zeros");
    o.use_bias = c.get_bool("use_bias");
    o.kernel_regularizer = regularizer_from(c, "kernel_regularizer");
    o.bias_regularizer = regularizer_from(c, "bias_regularizer");
    if (c.has("kernel_constraint.max_value"))
      o.kernel_constraint = MaxNorm{c.get_float("kernel_constraint.max_value"),
                                    c.get_int("kernel_constraint.axis")};
    return with_base(std::make_shared<DenseLayer>(c.get_int("units"), std::move(o)), c);
  });
  register_layer_type("Flatten", [](const AttrMap& c) -> LayerPtr {
    return with_base(std::make_shared<FlattenLayer>(), c);
  });
  register_layer_type("InputLayer", [](const AttrMap& c) -> LayerPtr {
    return with_base(std::make_shared<InputLayerImpl>(), c);
  });
  register_layer_type("BatchNormalization", [](const AttrMap& c) -> LayerPtr {
    BatchNormalizationOptions o;
    o.momentum = c.get_float("momentum");
    o.epsilon = c.get_float("epsilon");
    o.center = c.get_bool("center");
    o.scale = c.get_bool("scale");
    o.beta_initializer = initializer_from(c, "beta_initializer", "zeros");
    o.gamma_initializer = initializer_from(c, "gamma_initializer", "ones");
    o.moving_mean_initializer = initializer_from(c, "moving_mean_initializer", "zeros");
    o.moving_variance_initializer = initializer_from(c, "moving_variance_initializer", "ones");
    return with_base(std::make_shared<BatchNormalizationLayer>(std::move(o)), c);
  });
  register_layer_type("Dropout", [](const AttrMap& c) -> LayerPtr {
    DropoutOptions o;
    o.seed = c.get_int("seed");
    return with_base(std::make_shared<DropoutLayer>(c.get_float("rate"), o), c);
  });
  register_layer_type("AlphaDropout", [](const AttrMap& c) -> LayerPtr {
    DropoutOptions o;
    o.seed = c.get_int("seed");
    return with_base(std::make_shared<AlphaDropoutLayer>(c.get_float("rate"), o), c);
  });
  register_layer_type("Activation", [](const AttrMap& c) -> LayerPtr {
    return with_base(std::make_shared<ActivationLayerImpl>(Activation(c.get_string("activation"))), c);
  });
  register_layer_type("LeakyReLU", [](const AttrMap& c) -> LayerPtr {
    return with_base(std::make_shared<LeakyReLULayer>(c.get_float("alpha")), c);
  });
  register_layer_type("ELU", [](const AttrMap& c) -> LayerPtr {
    return with_base(std::make_shared<ELULayer>(c.get_float("alpha")), c);
  });
  register_layer_type("PReLU", [](const AttrMap& c) -> LayerPtr {
    PReLUOptions o;
    o.alpha_initializer = initializer_from(c, "alpha_initializer", "zeros");
    o.shared_axes = c.get_ints("shared_axes");
    return with_base(std::make_shared<PReLULayer>(std::move(o)), c);
  });
  register_layer_type("RReLU", [](const AttrMap& c) -> LayerPtr {
    RReLUOptions o;
    o.lower = c.get_float("lower");
    o.upper = c.get_float("upper");
    o.seed = c.get_int("seed");
    return with_base(std::make_shared<RReLULayer>(o), c);
  });
  register_layer_type("Concatenate", [](const AttrMap& c) -> LayerPtr {
    return with_base(std::make_shared<ConcatenateLayer>(c.get_int("axis")), c);
  });
  register_layer_type("Normalization", [](const AttrMap& c) -> LayerPtr {
    return with_base(std::make_shared<NormalizationLayer>(), c);
  });
  register_layer_type("Add", [](const AttrMap& c) -> LayerPtr {
    return with_base(std::make_shared<AddLayer>(), c);
  });
}

}  // namespace dagrad::nn
