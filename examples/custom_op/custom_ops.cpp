// A plugin with two custom ops, defined with exactly the API the built-in ops use:
//   swish(x)        = x * sigmoid(x)                      (elementwise, no attributes)
//   huber(x, delta) = x^2 / 2              if |x| <= delta
//                     delta (|x| - delta/2) otherwise      (an attribute; a piecewise gradient)
// Build it as a shared library linked to dagrad::dagrad; load it with dagrad::load_plugin or
// `dagrad gradcheck --plugin libdagrad_custom_ops.so`.
#include <cmath>
#include <dagrad/dagrad.hpp>
#include <dagrad/graph/plugin.hpp>

namespace {

using dagrad::DType;
using dagrad::KernelContext;
using dagrad::Output;

// One kernel template per op, instantiated for each dtype the op supports.
template <class T>
void swish_kernel(KernelContext& c) {
  const T* x = c.input(0).data<T>();
  T* y = c.output(0).data<T>();
  for (std::int64_t i = 0; i < c.input(0).size(); ++i) y[i] = x[i] / (T(1) + std::exp(-x[i]));
}

template <class T>
void huber_kernel(KernelContext& c) {
  const T delta = static_cast<T>(c.attrs().get_float("delta"));
  const T* x = c.input(0).data<T>();
  T* y = c.output(0).data<T>();
  for (std::int64_t i = 0; i < c.input(0).size(); ++i) {
    T a = std::abs(x[i]);
    y[i] = a <= delta ? T(0.5) * x[i] * x[i] : delta * (a - T(0.5) * delta);
  }
}

// Float inputs only; the output has the input's dtype and shape (unknown dimensions included).
void float_elementwise_shape(dagrad::ShapeContext& ctx) {
  ctx.expect_floating(0);
  ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(0));
}

std::vector<dagrad::GradCheckSample> samples(dagrad::AttrMap attrs = {}) {
  using dagrad::Shape;
  return {{{Shape{2, 3}}, attrs, {}, "matrix"}, {{Shape{-1, 4}}, attrs, {}, "unknown batch"}};
}

dagrad::OpRecord swish_record() {
  dagrad::OpRecord r;
  r.name = "swish";
  r.input_names = {"x"};
  r.shape_fn = float_elementwise_shape;
  r.kernels[static_cast<std::size_t>(DType::float32)] = &swish_kernel<float>;
  r.kernels[static_cast<std::size_t>(DType::float64)] = &swish_kernel<double>;
  // d swish/dx = s + x s (1 - s), s = sigmoid(x): built from differentiable ops, so second
  // derivatives work too.
  r.gradient = [](dagrad::Graph& g, const dagrad::Node& node, std::span<const Output> dy,
                  const std::vector<bool>& /*needs_gradient: one input, always needed*/) {
    Output x = g.output_of(node.inputs[0].node, node.inputs[0].index);
    Output s = dagrad::sigmoid(x);
    return std::vector<Output>{dy[0] * (s + x * s * (1.0 - s))};
  };
  r.gradcheck.samples = samples();
  r.summary = "x * sigmoid(x) (custom op from the example plugin)";
  return r;
}

dagrad::OpRecord huber_record() {
  dagrad::OpRecord r;
  r.name = "huber";
  r.input_names = {"x"};
  r.attrs = {{"delta", dagrad::AttrKind::Float, dagrad::AttrValue(1.0)}};
  r.shape_fn = [](dagrad::ShapeContext& ctx) {
    if (!(ctx.attrs().get_float("delta") > 0)) throw dagrad::ShapeError("delta must be > 0");
    float_elementwise_shape(ctx);
  };
  r.kernels[static_cast<std::size_t>(DType::float32)] = &huber_kernel<float>;
  r.kernels[static_cast<std::size_t>(DType::float64)] = &huber_kernel<double>;
  // d huber/dx = clip(x, -delta, delta)
  r.gradient = [](dagrad::Graph& g, const dagrad::Node& node, std::span<const Output> dy,
                  const std::vector<bool>& /*needs_gradient: one input, always needed*/) {
    double delta = node.attrs.get_float("delta");
    Output x = g.output_of(node.inputs[0].node, node.inputs[0].index);
    return std::vector<Output>{dy[0] * dagrad::clip_by_value(x, -delta, delta)};
  };
  // The gradient has kinks at +-delta: draws stay away from them.
  r.gradcheck.samples = samples({{"delta", 0.8}});
  r.gradcheck.kinks = {-0.8, 0.8};
  r.summary = "Huber loss of x with threshold delta (custom op from the example plugin)";
  return r;
}

}  // namespace

DAGRAD_PLUGIN(registry) {
  registry.add(swish_record());
  registry.add(huber_record());
}
