// 2-D pooling over NHWC tensors with TensorFlow's geometry (valid and same padding): max_pool2d,
// avg_pool2d, and their gradients as ops of their own (max_pool2d_grad, max_pool2d_grad_grad,
// avg_pool2d_grad), each differentiable, so second derivatives work. Kernels are plain loops over
// output positions (pooling is memory-bound); they allocate nothing.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "op_util.hpp"

namespace dagrad {

namespace {

// TensorFlow's window geometry along one spatial axis: valid out = floor((in - k) / s) + 1;
// same out = ceil(in / s), padded by max((out - 1) s + k - in, 0) in total, the smaller half
// before. Unknown sizes (-1) give an unknown output size.
struct AxisGeometry {
  std::int64_t in = 0, k = 1, s = 1, out = 0, pad_before = 0;
};

struct PoolAttrs {
  std::int64_t kh, kw, sh, sw;
  bool same;
};

std::string pool_window_text(const PoolAttrs& a) {
  return "pool size [" + std::to_string(a.kh) + ", " + std::to_string(a.kw) + "], strides [" +
         std::to_string(a.sh) + ", " + std::to_string(a.sw) + "]";
}

// Reads and checks ksize, strides, padding; throws ShapeError naming a bad value.
PoolAttrs read_pool_attrs(const AttrMap& attrs) {
  const auto& ksize = attrs.get_ints("ksize");
  const auto& strides = attrs.get_ints("strides");
  const std::string& padding = attrs.get_string("padding");
  if (ksize.size() != 2 || ksize[0] <= 0 || ksize[1] <= 0)
    throw ShapeError("ksize must be two positive sizes [kh, kw], got " +
                     detail::ints_to_string(ksize));
  if (strides.size() != 2 || strides[0] <= 0 || strides[1] <= 0)
    throw ShapeError("strides must be two positive steps [sh, sw], got " +
                     detail::ints_to_string(strides));
  if (padding != "valid" && padding != "same")
    throw ShapeError("unknown padding \"" + padding + "\" (expected \"valid\" or \"same\")");
  return {ksize[0], ksize[1], strides[0], strides[1], padding == "same"};
}

AxisGeometry axis_geometry(std::int64_t in, std::int64_t k, std::int64_t s, bool same) {
  AxisGeometry g{in, k, s, Shape::kUnknown, 0};
  if (in == Shape::kUnknown) return g;
  if (same) {
    g.out = (in + s - 1) / s;
    std::int64_t total = std::max<std::int64_t>((g.out - 1) * s + k - in, 0);
    g.pad_before = total / 2;
  } else {
    g.out = (in - k) / s + 1;  // in >= k, checked by pooled_shape
  }
  return g;
}

// The pooled shape of NHWC `x`; throws ShapeError for a rank other than 4, or a window larger
// than a known input with valid padding.
Shape pooled_shape(const Shape& x, const PoolAttrs& a) {
  if (x.rank() != 4)
    throw ShapeError("pooling needs an NHWC input of rank 4, got shape " + x.to_string());
  if (!a.same &&
      ((x[1] != Shape::kUnknown && x[1] < a.kh) || (x[2] != Shape::kUnknown && x[2] < a.kw)))
    throw ShapeError("with valid padding the window (" + pool_window_text(a) +
                     ") must fit in the input, whose shape is " + x.to_string());
  return Shape{x[0], axis_geometry(x[1], a.kh, a.sh, a.same).out,
               axis_geometry(x[2], a.kw, a.sw, a.same).out, x[3]};
}

// Requires `given` (input `what`) to be compatible with the pooled shape of x.
void expect_pooled(const Shape& given, const Shape& pooled, const Shape& x, const char* what) {
  if (given.rank() != 4 || !given.compatible_with(pooled))
    throw ShapeError(std::string(what) + " has shape " + given.to_string() +
                     ", but pooling the input of shape " + x.to_string() + " gives " +
                     pooled.to_string());
}

// The run-time geometry of one node: fully defined input shape x.
struct Geometry {
  std::int64_t n, c;
  AxisGeometry h, w;
  Geometry(const Shape& x, const AttrMap& attrs) {
    PoolAttrs a = read_pool_attrs(attrs);
    n = x[0];
    c = x[3];
    h = axis_geometry(x[1], a.kh, a.sh, a.same);
    w = axis_geometry(x[2], a.kw, a.sw, a.same);
  }
  // Calls fn(input_offset_of_cell_row0, output_offset, h0, h1, w0, w1) for every output position
  // (n, oh, ow), with the window clipped to the real cells [h0, h1) x [w0, w1); offsets are
  // element offsets of channel 0.
  template <class Fn>
  void for_each_window(Fn&& fn) const {
    std::int64_t out = 0;
    for (std::int64_t b = 0; b < n; ++b)
      for (std::int64_t oh = 0; oh < h.out; ++oh) {
        std::int64_t h0 = oh * h.s - h.pad_before;
        std::int64_t h1 = std::min(h0 + h.k, h.in);
        h0 = std::max<std::int64_t>(h0, 0);
        for (std::int64_t ow = 0; ow < w.out; ++ow, out += c) {
          std::int64_t w0 = ow * w.s - w.pad_before;
          std::int64_t w1 = std::min(w0 + w.k, w.in);
          w0 = std::max<std::int64_t>(w0, 0);
          fn(b * h.in * w.in * c, out, h0, h1, w0, w1);
        }
      }
  }
  std::int64_t cell(std::int64_t hh, std::int64_t ww) const { return (hh * w.in + ww) * c; }
};

// Calls fn(image, out, ch, at) for each window and channel with `at` the offset (from the image's
// start) of the channel's first largest element in the window, in row-major window order, as
// TensorFlow's CPU MaxPoolGrad picks it on ties (a NaN wins only in the first cell). Padding
// never wins: only real cells are visited. All channels of a window advance together, so the
// inner loop runs along contiguous channels instead of striding across cells.
template <class T, class Fn>
void for_each_argmax(const Geometry& g, const T* x, Fn&& fn) {
  thread_local std::vector<T> best;
  thread_local std::vector<std::int64_t> best_at;
  const auto channels = static_cast<std::size_t>(g.c);
  if (best.size() < channels) best.resize(channels), best_at.resize(channels);
  T* bv = best.data();
  std::int64_t* ba = best_at.data();
  g.for_each_window([&](std::int64_t image, std::int64_t out, std::int64_t h0, std::int64_t h1,
                        std::int64_t w0, std::int64_t w1) {
    const T* img = x + image;
    const std::int64_t first = g.cell(h0, w0);
    for (std::int64_t ch = 0; ch < g.c; ++ch) bv[ch] = img[first + ch], ba[ch] = first;
    for (std::int64_t hh = h0; hh < h1; ++hh)
      for (std::int64_t ww = (hh == h0 ? w0 + 1 : w0); ww < w1; ++ww) {
        const std::int64_t cell = g.cell(hh, ww);
        const T* row = img + cell;
        for (std::int64_t ch = 0; ch < g.c; ++ch) {
          const bool better = row[ch] > bv[ch];
          bv[ch] = better ? row[ch] : bv[ch];
          ba[ch] = better ? cell : ba[ch];
        }
      }
    for (std::int64_t ch = 0; ch < g.c; ++ch) fn(image, out, ch, ba[ch] + ch);
  });
}

struct MaxPoolKernel {
  template <class T>
  static void run(KernelContext& c) {
    Geometry g(c.input(0).shape(), c.attrs());
    const T* x = c.input(0).data<T>();
    T* y = c.output(0).data<T>();
    g.for_each_window([&](std::int64_t image, std::int64_t out, std::int64_t h0, std::int64_t h1,
                          std::int64_t w0, std::int64_t w1) {
      for (std::int64_t ch = 0; ch < g.c; ++ch) y[out + ch] = -std::numeric_limits<T>::infinity();
      for (std::int64_t hh = h0; hh < h1; ++hh)
        for (std::int64_t ww = w0; ww < w1; ++ww) {
          const T* row = x + image + g.cell(hh, ww);
          for (std::int64_t ch = 0; ch < g.c; ++ch)
            if (row[ch] > y[out + ch]) y[out + ch] = row[ch];
        }
    });
  }
};

// dx: zeros, plus each dy at its window's argmax (inputs x, y, dy; y's values are not read).
struct MaxPoolGradKernel {
  template <class T>
  static void run(KernelContext& c) {
    Geometry g(c.input(0).shape(), c.attrs());
    const T* x = c.input(0).data<T>();
    const T* dy = c.input(2).data<T>();
    T* dx = c.output(0).data<T>();
    std::fill(dx, dx + c.output(0).size(), T(0));
    for_each_argmax(g, x,
                    [&](std::int64_t image, std::int64_t out, std::int64_t ch, std::int64_t at) {
                      dx[image + at] += dy[out + ch];
                    });
  }
};

// z: g at each window's argmax (inputs x, y, g; y's values are not read).
struct MaxPoolGradGradKernel {
  template <class T>
  static void run(KernelContext& c) {
    Geometry g(c.input(0).shape(), c.attrs());
    const T* x = c.input(0).data<T>();
    const T* grad = c.input(2).data<T>();
    T* z = c.output(0).data<T>();
    for_each_argmax(g, x,
                    [&](std::int64_t image, std::int64_t out, std::int64_t ch, std::int64_t at) {
                      z[out + ch] = grad[image + at];
                    });
  }
};

// The mean over the window's real cells (same padding: padded cells are not counted).
struct AvgPoolKernel {
  template <class T>
  static void run(KernelContext& c) {
    Geometry g(c.input(0).shape(), c.attrs());
    const T* x = c.input(0).data<T>();
    T* y = c.output(0).data<T>();
    g.for_each_window([&](std::int64_t image, std::int64_t out, std::int64_t h0, std::int64_t h1,
                          std::int64_t w0, std::int64_t w1) {
      for (std::int64_t ch = 0; ch < g.c; ++ch) y[out + ch] = T(0);
      for (std::int64_t hh = h0; hh < h1; ++hh)
        for (std::int64_t ww = w0; ww < w1; ++ww) {
          const T* row = x + image + g.cell(hh, ww);
          for (std::int64_t ch = 0; ch < g.c; ++ch) y[out + ch] += row[ch];
        }
      T count = static_cast<T>((h1 - h0) * (w1 - w0));
      for (std::int64_t ch = 0; ch < g.c; ++ch) y[out + ch] /= count;
    });
  }
};

// dx: each dy spread equally over its window's real cells (inputs dy, like; like's run-time
// shape is x's, its values are not read).
struct AvgPoolGradKernel {
  template <class T>
  static void run(KernelContext& c) {
    Geometry g(c.input(1).shape(), c.attrs());
    const T* dy = c.input(0).data<T>();
    T* dx = c.output(0).data<T>();
    for (std::int64_t i = 0; i < c.output(0).size(); ++i) dx[i] = T(0);
    g.for_each_window([&](std::int64_t image, std::int64_t out, std::int64_t h0, std::int64_t h1,
                          std::int64_t w0, std::int64_t w1) {
      T count = static_cast<T>((h1 - h0) * (w1 - w0));
      for (std::int64_t hh = h0; hh < h1; ++hh)
        for (std::int64_t ww = w0; ww < w1; ++ww) {
          T* row = dx + image + g.cell(hh, ww);
          for (std::int64_t ch = 0; ch < g.c; ++ch) row[ch] += dy[out + ch] / count;
        }
    });
  }
};

template <class K>
void set_float_kernels(OpRecord& r) {
  r.kernels[static_cast<std::size_t>(DType::float32)] = [](KernelContext& c) {
    K::template run<float>(c);
  };
  r.kernels[static_cast<std::size_t>(DType::float64)] = [](KernelContext& c) {
    K::template run<double>(c);
  };
}

std::vector<AttrSpec> pool_attr_specs() {
  return {{"ksize", AttrKind::Ints, {}},
          {"strides", AttrKind::Ints, {}},
          {"padding", AttrKind::String, AttrValue(std::string("valid"))}};
}

AttrMap pool_attrs(std::vector<std::int64_t> ksize, std::vector<std::int64_t> strides,
                   const char* padding) {
  return {{"ksize", std::move(ksize)},
          {"strides", std::move(strides)},
          {"padding", std::string(padding)}};
}

Output add_pool_node(Graph& g, const char* op, const std::vector<Output>& inputs,
                     const AttrMap& attrs) {
  return detail::build(g, op, inputs, attrs, OpName{});
}

// Samples over x of shape (N, H, W, C) for the forward ops (one input) and, through `inputs`,
// the gradient ops (which take the pooled shape as well): valid and same, stride 1 and 2,
// overlapping windows, odd sizes with same padding, an unknown batch.
struct PoolCase {
  Shape x;
  AttrMap attrs;
  std::string note;
};
std::vector<PoolCase> pool_cases() {
  return {{Shape{1, 4, 4, 2}, pool_attrs({2, 2}, {2, 2}, "valid"), "valid 2x2 stride 2"},
          {Shape{2, 4, 5, 1}, pool_attrs({3, 2}, {1, 1}, "valid"), "valid stride 1 overlapping"},
          {Shape{1, 5, 5, 2}, pool_attrs({3, 3}, {2, 2}, "same"), "same odd size overlapping"},
          {Shape{1, 3, 4, 1}, pool_attrs({2, 3}, {1, 1}, "same"), "same stride 1"},
          {Shape{-1, 4, 3, 2}, pool_attrs({2, 2}, {2, 1}, "same"), "unknown batch"}};
}

// Input shapes x then `n_pooled` of the pooled shape, or (pooled_first) the pooled shape then x.
std::vector<GradCheckSample> pool_samples(int n_pooled, bool pooled_first) {
  std::vector<GradCheckSample> out;
  for (const PoolCase& pc : pool_cases()) {
    Shape y = pooled_shape(pc.x, read_pool_attrs(pc.attrs));
    std::vector<Shape> shapes;
    if (pooled_first) {
      shapes = {y, pc.x};
    } else {
      shapes = {pc.x};
      for (int i = 0; i < n_pooled; ++i) shapes.push_back(y);
    }
    GradCheckSample s{shapes, pc.attrs, {}, pc.note};
    if (pc.x[0] == Shape::kUnknown) {  // one batch size fed to every input
      for (Shape sh : shapes) {
        sh[0] = 2;
        s.feed_shapes.push_back(sh);
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

void register_pool_ops(OpRegistry& registry) {
  {
    OpRecord r;
    r.name = "max_pool2d";
    r.input_names = {"x"};
    r.attrs = pool_attr_specs();
    r.shape_fn = [](ShapeContext& ctx) {
      ctx.expect_floating(0);
      ctx.set_output(0, ctx.input_dtype(0),
                     pooled_shape(ctx.input_shape(0), read_pool_attrs(ctx.attrs())));
    };
    set_float_kernels<MaxPoolKernel>(r);
    // dx = dy routed to each window's (first) argmax
    r.gradient = [](Graph& g, const Node& node, std::span<const Output> dys,
                    const std::vector<bool>&) {
      Output x = detail::input_of(g, node, 0), y = detail::output_of(g, node);
      return std::vector<Output>{add_pool_node(g, "max_pool2d_grad", {x, y, dys[0]}, node.attrs)};
    };
    // Ties and near-ties make the max non-differentiable: every input's elements are distinct.
    r.gradcheck.distinct_elements = true;
    r.gradcheck.samples = pool_samples(0, false);
    r.summary =
        "NHWC max over ksize windows moved by strides, padding valid|same (padding never wins)";
    registry.add(std::move(r));
  }
  {
    OpRecord r;
    r.name = "max_pool2d_grad";
    r.input_names = {"x", "y", "dy"};
    r.attrs = pool_attr_specs();
    r.shape_fn = [](ShapeContext& ctx) {
      ctx.expect_floating(0);
      ctx.expect_same_dtype(0, 1);
      ctx.expect_same_dtype(0, 2);
      Shape pooled = pooled_shape(ctx.input_shape(0), read_pool_attrs(ctx.attrs()));
      expect_pooled(ctx.input_shape(1), pooled, ctx.input_shape(0), "y");
      expect_pooled(ctx.input_shape(2), pooled, ctx.input_shape(0), "dy");
      detail::same_as_input0(ctx);
    };
    set_float_kernels<MaxPoolGradKernel>(r);
    // Linear in dy: d/d dy = g gathered at the argmaxes (max_pool2d_grad_grad); piecewise
    // constant in x and y, whose gradients are zero (invalid Output: nothing built).
    r.gradient = [](Graph& g, const Node& node, std::span<const Output> dys,
                    const std::vector<bool>& needs) {
      Output x = detail::input_of(g, node, 0), y = detail::input_of(g, node, 1);
      Output ddy = needs[2] ? add_pool_node(g, "max_pool2d_grad_grad", {x, y, dys[0]}, node.attrs)
                            : Output{};
      return std::vector<Output>{Output{}, Output{}, ddy};
    };
    r.gradcheck.distinct_elements = true;
    r.gradcheck.samples = pool_samples(2, false);
    r.summary =
        "max_pool2d's gradient: dy added at each window's first argmax of x (TF's CPU MaxPoolGrad; "
        "y's values are not read)";
    registry.add(std::move(r));
  }
  {
    OpRecord r;
    r.name = "max_pool2d_grad_grad";
    r.input_names = {"x", "y", "g"};
    r.attrs = pool_attr_specs();
    r.shape_fn = [](ShapeContext& ctx) {
      ctx.expect_floating(0);
      ctx.expect_same_dtype(0, 1);
      ctx.expect_same_dtype(0, 2);
      Shape pooled = pooled_shape(ctx.input_shape(0), read_pool_attrs(ctx.attrs()));
      expect_pooled(ctx.input_shape(1), pooled, ctx.input_shape(0), "y");
      if (!ctx.input_shape(2).compatible_with(ctx.input_shape(0)))
        throw ShapeError("g has shape " + ctx.input_shape(2).to_string() +
                         ", but it must have x's shape " + ctx.input_shape(0).to_string());
      ctx.set_output(0, ctx.input_dtype(0), pooled);
    };
    set_float_kernels<MaxPoolGradGradKernel>(r);
    // Linear in g, the adjoint of max_pool2d_grad in dy: d/dg = max_pool2d_grad(x, y, dz); zero
    // in x and y.
    r.gradient = [](Graph& g, const Node& node, std::span<const Output> dys,
                    const std::vector<bool>& needs) {
      Output x = detail::input_of(g, node, 0), y = detail::input_of(g, node, 1);
      Output dg =
          needs[2] ? add_pool_node(g, "max_pool2d_grad", {x, y, dys[0]}, node.attrs) : Output{};
      return std::vector<Output>{Output{}, Output{}, dg};
    };
    r.gradcheck.distinct_elements = true;
    r.gradcheck.samples = pool_samples(1, false);
    for (GradCheckSample& s : r.gradcheck.samples) {  // g has x's shape
      s.shapes.push_back(s.shapes[0]);
      if (!s.feed_shapes.empty()) s.feed_shapes.push_back(s.feed_shapes[0]);
    }
    r.summary = "g (x's shape) gathered at each window's first argmax of x (TF's MaxPoolGradGrad)";
    registry.add(std::move(r));
  }
  {
    OpRecord r;
    r.name = "avg_pool2d";
    r.input_names = {"x"};
    r.attrs = pool_attr_specs();
    r.shape_fn = [](ShapeContext& ctx) {
      ctx.expect_floating(0);
      ctx.set_output(0, ctx.input_dtype(0),
                     pooled_shape(ctx.input_shape(0), read_pool_attrs(ctx.attrs())));
    };
    set_float_kernels<AvgPoolKernel>(r);
    // dx = each dy / (its window's real cell count), spread over those cells
    r.gradient = [](Graph& g, const Node& node, std::span<const Output> dys,
                    const std::vector<bool>&) {
      Output x = detail::input_of(g, node, 0);
      return std::vector<Output>{add_pool_node(g, "avg_pool2d_grad", {dys[0], x}, node.attrs)};
    };
    r.gradcheck.samples = pool_samples(0, false);
    r.summary =
        "NHWC mean over ksize windows moved by strides, padding valid|same (only real cells "
        "counted)";
    registry.add(std::move(r));
  }
  {
    OpRecord r;
    r.name = "avg_pool2d_grad";
    r.input_names = {"dy", "like"};
    r.attrs = pool_attr_specs();
    r.shape_fn = [](ShapeContext& ctx) {
      ctx.expect_floating(0);
      ctx.expect_same_dtype(0, 1);
      Shape pooled = pooled_shape(ctx.input_shape(1), read_pool_attrs(ctx.attrs()));
      expect_pooled(ctx.input_shape(0), pooled, ctx.input_shape(1), "dy");
      ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(1));
    };
    set_float_kernels<AvgPoolGradKernel>(r);
    // Linear in dy, the adjoint of avg_pool2d: d/d dy = avg_pool2d(g); like's values are not
    // read (zero gradient, nothing built).
    r.gradient = [](Graph& g, const Node& node, std::span<const Output> dys,
                    const std::vector<bool>& needs) {
      Output ddy = needs[0] ? add_pool_node(g, "avg_pool2d", {dys[0]}, node.attrs) : Output{};
      return std::vector<Output>{ddy, Output{}};
    };
    r.gradcheck.samples = pool_samples(0, true);
    r.summary =
        "avg_pool2d's gradient: dy spread equally over each window's real cells of a tensor of "
        "like's run-time shape";
    registry.add(std::move(r));
  }
}

namespace {
AttrMap builder_attrs(std::vector<std::int64_t> pool_size, const Pool2DOptions& options) {
  std::vector<std::int64_t> strides = options.strides.empty() ? pool_size : options.strides;
  return {{"ksize", std::move(pool_size)},
          {"strides", std::move(strides)},
          {"padding", options.padding}};
}
}  // namespace

Output max_pool2d(Output x, std::vector<std::int64_t> pool_size, Pool2DOptions options,
                  OpName name) {
  return detail::build(detail::graph_of(x, "max_pool2d"), "max_pool2d", {x},
                       builder_attrs(std::move(pool_size), options), name);
}
Output avg_pool2d(Output x, std::vector<std::int64_t> pool_size, Pool2DOptions options,
                  OpName name) {
  return detail::build(detail::graph_of(x, "avg_pool2d"), "avg_pool2d", {x},
                       builder_attrs(std::move(pool_size), options), name);
}
Output max_pool2d_grad(Output x, Output y, Output dy, std::vector<std::int64_t> pool_size,
                       Pool2DOptions options, OpName name) {
  return detail::build(detail::graph_of(x, "max_pool2d_grad"), "max_pool2d_grad", {x, y, dy},
                       builder_attrs(std::move(pool_size), options), name);
}
Output max_pool2d_grad_grad(Output x, Output y, Output g, std::vector<std::int64_t> pool_size,
                            Pool2DOptions options, OpName name) {
  return detail::build(detail::graph_of(x, "max_pool2d_grad_grad"), "max_pool2d_grad_grad",
                       {x, y, g}, builder_attrs(std::move(pool_size), options), name);
}
Output avg_pool2d_grad(Output dy, Output like, std::vector<std::int64_t> pool_size,
                       Pool2DOptions options, OpName name) {
  return detail::build(detail::graph_of(dy, "avg_pool2d_grad"), "avg_pool2d_grad", {dy, like},
                       builder_attrs(std::move(pool_size), options), name);
}

}  // namespace dagrad
