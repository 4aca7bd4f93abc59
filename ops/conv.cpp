// 2-D convolution, NHWC with HWIO kernels, as Keras's Conv2D and TensorFlow's Conv2D compute it:
// conv2d and its two gradient ops, conv2d_backprop_input and conv2d_backprop_filter. Each of
// the three is linear in each input, and the gradients of each are written with the other two
// (TensorFlow's conv_grad rules), so gradients of gradients work. Kernels:
// ops/conv_kernels.cpp.
#include <string>
#include <vector>

#include "conv_kernels.hpp"
#include "op_util.hpp"
#include "shape_util.hpp"

namespace dagrad {

namespace detail {

ConvAttrs read_conv_attrs(const AttrMap& attrs) {
  const auto& strides = attrs.get_ints("strides");
  const auto& dilations = attrs.get_ints("dilations");
  const std::string& padding = attrs.get_string("padding");
  auto positive_pair = [](const std::vector<std::int64_t>& v) {
    return v.size() == 2 && v[0] > 0 && v[1] > 0;
  };
  if (!positive_pair(strides))
    throw ShapeError("strides must be two positive numbers [height, width], got " +
                     ints_to_string(strides));
  if (!positive_pair(dilations))
    throw ShapeError("dilations must be two positive numbers [height, width], got " +
                     ints_to_string(dilations));
  if (padding != "same" && padding != "valid")
    throw ShapeError("padding must be \"same\" or \"valid\", got \"" + padding + "\"");
  ConvAttrs a;
  a.stride_h = strides[0];
  a.stride_w = strides[1];
  a.dilation_h = dilations[0];
  a.dilation_w = dilations[1];
  a.same = padding == "same";
  return a;
}

ConvAxis conv_axis(std::int64_t in, std::int64_t k, std::int64_t stride, std::int64_t dilation,
                   bool same, const char* axis_name) {
  ConvAxis r;
  if (in == Shape::kUnknown || k == Shape::kUnknown) {
    r.out = same && in != Shape::kUnknown ? (in + stride - 1) / stride : Shape::kUnknown;
    return r;  // the padding is worked out again at run time, with every size known
  }
  // The window the dilated kernel spans; checked so that huge attributes cannot overflow.
  std::int64_t span =
      k == 0 ? 0
             : shape_util::add_dims(shape_util::mul_dims(k - 1, dilation, "the dilated kernel"), 1,
                                    "the dilated kernel");
  if (same) {
    r.out = (in + stride - 1) / stride;
    std::int64_t needed = r.out > 0 ? (r.out - 1) * stride + span : 0;
    r.pad_before = std::max<std::int64_t>(needed - in, 0) / 2;
    return r;
  }
  if (span > in)
    throw ShapeError(std::string("the kernel's ") + axis_name + " window of " +
                     std::to_string(span) + " (kernel " + std::to_string(k) + ", dilation " +
                     std::to_string(dilation) + ") is larger than the input's " + axis_name + " " +
                     std::to_string(in) + " with padding \"valid\"");
  r.out = (in - span) / stride + 1;
  return r;
}

ConvGeometry conv_geometry(const Shape& input, const Shape& kernel, const ConvAttrs& a) {
  ConvGeometry g;
  g.n = input[0];
  g.h = input[1];
  g.w = input[2];
  g.cin = input[3];
  g.kh = kernel[0];
  g.kw = kernel[1];
  g.cout = kernel[3];
  g.sh = a.stride_h;
  g.sw = a.stride_w;
  g.dh = a.dilation_h;
  g.dw = a.dilation_w;
  ConvAxis rows = conv_axis(g.h, g.kh, g.sh, g.dh, a.same, "height");
  ConvAxis cols = conv_axis(g.w, g.kw, g.sw, g.dw, a.same, "width");
  g.oh = rows.out;
  g.ow = cols.out;
  g.pad_top = rows.pad_before;
  g.pad_left = cols.pad_before;
  return g;
}

}  // namespace detail

namespace {

using detail::ConvAttrs;

bool known(std::int64_t d) {
  return d != Shape::kUnknown;
}
bool differ(std::int64_t a, std::int64_t b) {
  return known(a) && known(b) && a != b;
}

void expect_rank4(const Shape& s, const std::string& what, const char* layout) {
  if (s.rank() != 4)
    throw ShapeError(what + " must have rank 4 " + layout + ", got " + s.to_string());
}

// The spatial output size of input `x` under `kernel`, with every conv check: "x (..) and
// kernel (..)" name the shapes in each message.
std::pair<std::int64_t, std::int64_t> output_hw(const Shape& x, const Shape& kernel,
                                                const ConvAttrs& a, const std::string& shapes) {
  try {
    detail::ConvAxis rows =
        detail::conv_axis(x[1], kernel[0], a.stride_h, a.dilation_h, a.same, "height");
    detail::ConvAxis cols =
        detail::conv_axis(x[2], kernel[1], a.stride_w, a.dilation_w, a.same, "width");
    return {rows.out, cols.out};
  } catch (const ShapeError& e) {
    throw ShapeError(std::string(e.what()) + " (" + shapes + ")");
  }
}

std::string describe(const char* a_name, const Shape& a, const char* b_name, const Shape& b) {
  return std::string(a_name) + " " + a.to_string() + ", " + b_name + " " + b.to_string();
}

void check_channels(const Shape& x, const Shape& kernel, const std::string& shapes) {
  if (differ(x[3], kernel[2]))
    throw ShapeError("channels differ: the input has " + std::to_string(x[3]) +
                     " channels, the kernel expects " + std::to_string(kernel[2]) + " (" + shapes +
                     ")");
}

void check_output_matches(const Shape& dy, std::int64_t batch, std::int64_t oh, std::int64_t ow,
                          std::int64_t cout, const std::string& shapes) {
  if (differ(dy[0], batch) || differ(dy[1], oh) || differ(dy[2], ow) || differ(dy[3], cout))
    throw ShapeError("dy " + dy.to_string() + " is not the shape of the convolution's output " +
                     Shape{batch, oh, ow, cout}.to_string() + " (" + shapes + ")");
}

void conv2d_shape(ShapeContext& ctx) {
  ctx.expect_same_dtype(0, 1);
  ctx.expect_floating(0);
  const Shape& x = ctx.input_shape(0);
  const Shape& kernel = ctx.input_shape(1);
  expect_rank4(x, "x", "(N, H, W, C_in)");
  expect_rank4(kernel, "the kernel", "(KH, KW, C_in, C_out)");
  ConvAttrs a = detail::read_conv_attrs(ctx.attrs());
  std::string shapes = describe("x", x, "kernel", kernel);
  check_channels(x, kernel, shapes);
  auto [oh, ow] = output_hw(x, kernel, a, shapes);
  ctx.set_output(0, ctx.input_dtype(0), Shape{x[0], oh, ow, kernel[3]});
}

// input_shape gives H, W and C_in, which dy cannot (a stride drops rows); the batch comes from
// dy, so the attribute's batch may be unknown (-1) while dy's is known at run time.
void conv2d_backprop_input_shape(ShapeContext& ctx) {
  ctx.expect_same_dtype(0, 1);
  ctx.expect_floating(0);
  const Shape& dy = ctx.input_shape(0);
  const Shape& kernel = ctx.input_shape(1);
  const Shape& x = ctx.attrs().get_shape("input_shape");
  expect_rank4(dy, "dy", "(N, OH, OW, C_out)");
  expect_rank4(kernel, "the kernel", "(KH, KW, C_in, C_out)");
  expect_rank4(x, "input_shape", "(N, H, W, C_in)");
  for (int i = 1; i < 4; ++i)
    if (x[i] < 0)
      throw ShapeError("input_shape " + x.to_string() +
                       " must give the height, width and channels (only the batch may be -1)");
  ConvAttrs a = detail::read_conv_attrs(ctx.attrs());
  std::string shapes = describe("dy", dy, "kernel", kernel) + ", input_shape " + x.to_string();
  check_channels(x, kernel, shapes);
  auto [oh, ow] = output_hw(x, kernel, a, shapes);
  check_output_matches(dy, x[0], oh, ow, kernel[3], shapes);
  ctx.set_output(0, ctx.input_dtype(0), Shape{known(dy[0]) ? dy[0] : x[0], x[1], x[2], x[3]});
}

void conv2d_backprop_filter_shape(ShapeContext& ctx) {
  ctx.expect_same_dtype(0, 1);
  ctx.expect_floating(0);
  const Shape& x = ctx.input_shape(0);
  const Shape& dy = ctx.input_shape(1);
  const Shape& kernel = ctx.attrs().get_shape("kernel_shape");
  expect_rank4(x, "x", "(N, H, W, C_in)");
  expect_rank4(dy, "dy", "(N, OH, OW, C_out)");
  expect_rank4(kernel, "kernel_shape", "(KH, KW, C_in, C_out)");
  if (!kernel.is_fully_defined())
    throw ShapeError("kernel_shape " + kernel.to_string() + " must be fully defined");
  ConvAttrs a = detail::read_conv_attrs(ctx.attrs());
  std::string shapes = describe("x", x, "dy", dy) + ", kernel_shape " + kernel.to_string();
  check_channels(x, kernel, shapes);
  auto [oh, ow] = output_hw(x, kernel, a, shapes);
  check_output_matches(dy, x[0], oh, ow, kernel[3], shapes);
  ctx.set_output(0, ctx.input_dtype(0), kernel);
}

std::vector<AttrSpec> conv_attrs() {
  return {{"strides", AttrKind::Ints, AttrValue(std::vector<std::int64_t>{1, 1})},
          {"padding", AttrKind::String, AttrValue(std::string("valid"))},
          {"dilations", AttrKind::Ints, AttrValue(std::vector<std::int64_t>{1, 1})}};
}

Conv2DOptions options_of(const Node& node) {
  return {node.attrs.get_ints("strides"), node.attrs.get_string("padding"),
          node.attrs.get_ints("dilations")};
}

// The build-time shape a gradient op needs as an attribute (the batch may be unknown: the op
// takes it from dy at run time). Autodiff passes a rule's error on as is, so it names the node.
Shape static_shape(const Node& node, const Output& t, const char* what, bool batch_may_be_unknown) {
  const Shape& s = t.shape();
  for (int i = batch_may_be_unknown ? 1 : 0; i < s.rank(); ++i)
    if (!known(s[i]))
      throw ShapeError(
          "the gradient of node '" + node.name + "' (op " + node.op->name + ", created at " +
          node.site.to_string() + ") needs " + what + "'s shape known when the graph is built" +
          (batch_may_be_unknown ? " (but for the batch)" : "") + ", got " + s.to_string());
  return s;
}

// y = conv(x, k), linear in each: <conv(x, k), dy> = <x, B_in(dy, k)> = <k, B_f(x, dy)>.
// dx = B_in(dy, k), dk = B_f(x, dy)
std::vector<Output> conv2d_gradient(Graph& g, const Node& node, std::span<const Output> dys,
                                    const std::vector<bool>& needs) {
  Output x = detail::input_of(g, node, 0), kernel = detail::input_of(g, node, 1), dy = dys[0];
  Conv2DOptions o = options_of(node);
  Output dx, dk;
  if (needs[0]) dx = conv2d_backprop_input(dy, kernel, static_shape(node, x, "x", true), o);
  if (needs[1])
    dk = conv2d_backprop_filter(x, dy, static_shape(node, kernel, "the kernel", false), o);
  return {dx, dk};
}

// z = B_in(dy, k), so <g, z> = <conv(g, k), dy> = <k, B_f(g, dy)>:
// d dy = conv(g, k), dk = B_f(g, dy)
std::vector<Output> conv2d_backprop_input_gradient(Graph& g, const Node& node,
                                                   std::span<const Output> gs,
                                                   const std::vector<bool>& needs) {
  Output dy = detail::input_of(g, node, 0), kernel = detail::input_of(g, node, 1), grad = gs[0];
  Conv2DOptions o = options_of(node);
  Output d_dy, dk;
  if (needs[0]) d_dy = conv2d(grad, kernel, o);
  if (needs[1])
    dk = conv2d_backprop_filter(grad, dy, static_shape(node, kernel, "the kernel", false), o);
  return {d_dy, dk};
}

// w = B_f(x, dy), so <g, w> = <conv(x, g), dy> = <x, B_in(dy, g)>:
// dx = B_in(dy, g), d dy = conv(x, g)
std::vector<Output> conv2d_backprop_filter_gradient(Graph& g, const Node& node,
                                                    std::span<const Output> gs,
                                                    const std::vector<bool>& needs) {
  Output x = detail::input_of(g, node, 0), dy = detail::input_of(g, node, 1), grad = gs[0];
  Conv2DOptions o = options_of(node);
  Output dx, d_dy;
  if (needs[0]) dx = conv2d_backprop_input(dy, grad, static_shape(node, x, "x", true), o);
  if (needs[1]) d_dy = conv2d(x, grad, o);
  return {dx, d_dy};
}

// One configuration of the samples: x's shape, the kernel's, the options.
struct ConvCase {
  Shape x, kernel;
  std::vector<std::int64_t> strides;
  std::string padding;
  std::vector<std::int64_t> dilations;
  std::string note;
};

// Small, so that every sample runs in the normal test suite; together they cover valid and
// same, stride 2, dilation 2, an unknown batch, and same padding of an odd input at stride 2
// (one more padding row at the bottom than at the top).
std::vector<ConvCase> conv_cases() {
  return {{Shape{2, 4, 5, 2}, Shape{2, 3, 2, 3}, {1, 1}, "valid", {1, 1}, "valid"},
          {Shape{1, 4, 4, 2}, Shape{3, 3, 2, 2}, {1, 1}, "same", {1, 1}, "same"},
          {Shape{1, 5, 6, 2}, Shape{2, 2, 2, 2}, {2, 2}, "valid", {1, 1}, "valid, stride 2"},
          {Shape{1, 5, 5, 1}, Shape{2, 2, 1, 2}, {1, 1}, "valid", {2, 2}, "valid, dilation 2"},
          {Shape{1, 4, 5, 2}, Shape{2, 3, 2, 2}, {1, 1}, "same", {2, 1}, "same, dilation 2 rows"},
          {Shape{-1, 4, 4, 1}, Shape{3, 3, 1, 2}, {1, 2}, "same", {1, 1}, "unknown batch"},
          {Shape{1, 5, 5, 2},
           Shape{3, 2, 2, 2},
           {2, 2},
           "same",
           {1, 1},
           "same, odd input, stride 2 (asymmetric padding)"},
          {Shape{2, 3, 3, 2}, Shape{1, 1, 2, 3}, {1, 1}, "valid", {1, 1}, "1x1 kernel"}};
}

AttrMap attrs_of(const ConvCase& c) {
  return {{"strides", c.strides}, {"padding", c.padding}, {"dilations", c.dilations}};
}

Shape dy_shape(const ConvCase& c) {
  ConvAttrs a = detail::read_conv_attrs(attrs_of(c));
  auto [oh, ow] = output_hw(c.x, c.kernel, a, "");
  return Shape{c.x[0], oh, ow, c.kernel[3]};
}

std::vector<GradCheckSample> conv2d_samples() {
  std::vector<GradCheckSample> out;
  for (const ConvCase& c : conv_cases()) out.push_back({{c.x, c.kernel}, attrs_of(c), {}, c.note});
  return out;
}
std::vector<GradCheckSample> conv2d_backprop_input_samples() {
  std::vector<GradCheckSample> out;
  for (const ConvCase& c : conv_cases()) {
    AttrMap attrs = attrs_of(c);
    attrs.set("input_shape", c.x);
    out.push_back({{dy_shape(c), c.kernel}, attrs, {}, c.note});
  }
  return out;
}
std::vector<GradCheckSample> conv2d_backprop_filter_samples() {
  std::vector<GradCheckSample> out;
  for (const ConvCase& c : conv_cases()) {
    AttrMap attrs = attrs_of(c);
    attrs.set("kernel_shape", c.kernel);
    out.push_back({{c.x, dy_shape(c)}, attrs, {}, c.note});
  }
  return out;
}

AttrMap node_attrs(const Conv2DOptions& o) {
  return {{"strides", o.strides}, {"padding", o.padding}, {"dilations", o.dilations}};
}

// The checker's loss sum(w * op(a, b)) is linear in each single input element, so central
// differences have no truncation error at any step; a large step divides their rounding error
// (ulp(loss) / step, 4e-9 at the default 1e-6, more than 1e-6 relative on a small element).
void set_gradcheck(OpRecord& r, std::vector<GradCheckSample> samples) {
  r.gradcheck.samples = std::move(samples);
  r.gradcheck.eps = 1e-2;
}

}  // namespace

void register_conv_ops(OpRegistry& registry) {
  {
    OpRecord r;
    r.name = "conv2d";
    r.input_names = {"x", "kernel"};
    r.attrs = conv_attrs();
    r.shape_fn = conv2d_shape;
    kernels::set_conv2d_kernels(r);
    r.gradient = conv2d_gradient;
    set_gradcheck(r, conv2d_samples());
    r.summary = "2-D convolution, x NHWC, kernel HWIO (im2col + BLAS gemm)";
    registry.add(std::move(r));
  }
  {
    OpRecord r;
    r.name = "conv2d_backprop_input";
    r.input_names = {"dy", "kernel"};
    r.attrs = conv_attrs();
    r.attrs.push_back({"input_shape", AttrKind::Shape, std::nullopt});
    r.shape_fn = conv2d_backprop_input_shape;
    kernels::set_conv2d_backprop_input_kernels(r);
    r.gradient = conv2d_backprop_input_gradient;
    set_gradcheck(r, conv2d_backprop_input_samples());
    r.summary = "conv2d's gradient with respect to x (batch from dy, rest from input_shape)";
    registry.add(std::move(r));
  }
  {
    OpRecord r;
    r.name = "conv2d_backprop_filter";
    r.input_names = {"x", "dy"};
    r.attrs = conv_attrs();
    r.attrs.push_back({"kernel_shape", AttrKind::Shape, std::nullopt});
    r.shape_fn = conv2d_backprop_filter_shape;
    kernels::set_conv2d_backprop_filter_kernels(r);
    r.gradient = conv2d_backprop_filter_gradient;
    set_gradcheck(r, conv2d_backprop_filter_samples());
    r.summary = "conv2d's gradient with respect to the kernel";
    registry.add(std::move(r));
  }
}

Output conv2d(Output x, Output kernel, Conv2DOptions options, OpName name) {
  return detail::build(detail::graph_of(x, "conv2d"), "conv2d", {x, kernel}, node_attrs(options),
                       name);
}

Output conv2d_backprop_input(Output dy, Output kernel, Shape input_shape, Conv2DOptions options,
                             OpName name) {
  AttrMap attrs = node_attrs(options);
  attrs.set("input_shape", std::move(input_shape));
  return detail::build(detail::graph_of(dy, "conv2d_backprop_input"), "conv2d_backprop_input",
                       {dy, kernel}, std::move(attrs), name);
}

Output conv2d_backprop_filter(Output x, Output dy, Shape kernel_shape, Conv2DOptions options,
                              OpName name) {
  AttrMap attrs = node_attrs(options);
  attrs.set("kernel_shape", std::move(kernel_shape));
  return detail::build(detail::graph_of(x, "conv2d_backprop_filter"), "conv2d_backprop_filter",
                       {x, dy}, std::move(attrs), name);
}

}  // namespace dagrad
