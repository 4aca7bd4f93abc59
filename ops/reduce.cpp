// Reductions over a set of axes (sum, mean, max, min) and argmax along one axis.
//
// The kernels collapse the input into alternating runs of reduced and kept dimensions (dims of
// size 1 dropped, neighbours of the same kind merged), so every reduction becomes a short
// nest of loops over contiguous memory: "all axes" is one run, "last axis" is (kept, reduced),
// "first axis" is (reduced, kept). They use plain loops over the buffers rather than xtensor
// reducers so that they can restart from the identity in the reused output buffer, accumulate
// float32 in double along contiguous runs, and run without allocating. sum_to is the sum over
// the broadcast axes and takes the same loops.
//
// Summation order, fixed so that every run and every machine gives the same result: a run of
// contiguous reduced elements (the last axis, all axes) is summed in 16 interleaved partial sums
// (SumOp::run); rows reduced into an output row (leading axes, as the bias gradient and
// BatchNormalization's moments do) are added to it one after the other, in the input's dtype.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>
#include <xtensor/xstorage.hpp>

#include "kernel_util.hpp"
#include "op_util.hpp"
#include "wrapping_int.hpp"

namespace dagrad {

namespace {

using detail::ints_to_string;

// Small-buffer storage, so kernels do not allocate for ranks up to 8.
using AxisMask = xt::svector<bool, 8>;

// Which axes of a rank-`rank` input are reduced: empty `axes` means all of them. Throws
// ShapeError for an axis out of range or named twice (possibly once negative, once not).
AxisMask reduced_mask(const std::vector<std::int64_t>& axes, int rank) {
  AxisMask mask(static_cast<std::size_t>(rank), axes.empty());
  for (std::int64_t a : axes) {
    int n = 0;
    try {
      n = detail::normalize_axis(a, rank);
    } catch (const ShapeError& e) {
      throw ShapeError(std::string(e.what()) + " (axes " + ints_to_string(axes) + ")");
    }
    if (mask[static_cast<std::size_t>(n)])
      throw ShapeError("axis " + std::to_string(n) + " appears twice in axes " +
                       ints_to_string(axes));
    mask[static_cast<std::size_t>(n)] = true;
  }
  return mask;
}

// `what` names the reduction in errors; `floating_only` for mean; `needs_elements` for the
// reductions without an identity (mean, max, min): they reject a reduced axis of size 0.
void reduce_shape(ShapeContext& ctx, const char* what, bool floating_only, bool needs_elements) {
  if (floating_only) ctx.expect_floating(0);
  if (ctx.input_dtype(0) == DType::boolean) throw ShapeError("input 0 must be numeric, got bool");
  const Shape& in = ctx.input_shape(0);
  AxisMask mask = reduced_mask(ctx.attrs().get_ints("axes"), in.rank());
  bool keepdims = ctx.attrs().get_bool("keepdims");
  std::vector<std::int64_t> out;
  for (int i = 0; i < in.rank(); ++i) {
    if (!mask[static_cast<std::size_t>(i)]) {
      out.push_back(in[i]);  // unknown stays unknown
      continue;
    }
    if (needs_elements && in[i] == 0)
      throw ShapeError(std::string("cannot take the ") + what + " over axis " + std::to_string(i) +
                       " of shape " + in.to_string() +
                       ": the axis has size 0, so there are no elements");
    if (keepdims) out.push_back(1);
  }
  ctx.set_output(0, ctx.input_dtype(0), Shape(std::move(out)));
}

// The input seen as nested runs: size[g] elements of stride in_stride[g] in the input, and
// out_stride[g] in the output (0 for a reduced run, which all lands on the same element).
struct Runs {
  xt::svector<std::size_t, 8> size, in_stride, out_stride;
  xt::svector<bool, 8> reduced;
  std::size_t count() const { return size.size(); }
};

Runs collapse(const Shape& shape, const AxisMask& mask) {
  Runs r;
  for (int i = 0; i < shape.rank(); ++i) {
    auto n = static_cast<std::size_t>(shape[i]);
    bool red = mask[static_cast<std::size_t>(i)];
    if (n == 1) continue;  // contributes nothing, reduced or not
    if (r.count() && r.reduced.back() == red) {
      r.size.back() *= n;
    } else {
      r.size.push_back(n);
      r.reduced.push_back(red);
    }
  }
  if (!r.count()) {  // every dim has size 1: one element copied through
    r.size.push_back(1);
    r.reduced.push_back(false);
  }
  r.in_stride.resize(r.count());
  r.out_stride.resize(r.count());
  std::size_t in = 1, out = 1;
  for (std::size_t g = r.count(); g-- > 0;) {
    r.in_stride[g] = in;
    r.out_stride[g] = r.reduced[g] ? 0 : out;
    in *= r.size[g];
    if (!r.reduced[g]) out *= r.size[g];
  }
  return r;
}

struct SumOp {
  template <class T>
  static T identity() {
    return T(0);
  }
  template <class T>
  static T combine(T a, T b) {
    return kernels::wrapping::add(a, b);  // integer sums wrap, as all integer arithmetic
  }
  // Sixteen partial sums (element i goes to partial i mod 16), added in a fixed pairwise tree,
  // plus the tail: independent lanes that the compiler vectorizes, short dependency chains and a
  // smaller rounding error than one running sum, and the same order, so the same result, on
  // every machine. float32 is accumulated in double and integers in wrapping uint64.
  template <class T>
  static T run(const T* p, std::size_t n) {
    using Acc = std::conditional_t<std::is_floating_point_v<T>, double, std::uint64_t>;
    constexpr std::size_t kLanes = 16;
    Acc lane[kLanes] = {};
    std::size_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
      for (std::size_t k = 0; k < kLanes; ++k) lane[k] += static_cast<Acc>(p[i + k]);
    Acc tail = 0;
    for (; i < n; ++i) tail += static_cast<Acc>(p[i]);
    for (std::size_t width = kLanes / 2; width > 0; width /= 2)
      for (std::size_t k = 0; k < width; ++k) lane[k] += lane[k + width];
    return static_cast<T>(lane[0] + tail);
  }
};

// max and min propagate NaN (as NumPy does), so a diverged value is not silently dropped.
template <bool IsMax>
struct ExtremumOp {
  template <class T>
  static T identity() {
    if constexpr (std::is_floating_point_v<T>)
      return IsMax ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
    else
      return IsMax ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
  }
  template <class T>
  static T combine(T a, T b) {
    bool better = IsMax ? b > a : b < a;
    if constexpr (std::is_floating_point_v<T>) better = better || std::isnan(b);
    return better ? b : a;
  }
  template <class T>
  static T run(const T* p, std::size_t n) {
    T best = identity<T>();
    for (std::size_t i = 0; i < n; ++i) best = combine(best, p[i]);
    return best;
  }
};

// out[j] = combine(out[j], row[j]) for each of `rows` rows of n elements from `in`, row after row.
// Four rows per pass over out (which stays in L1) cut its loads and stores by four; every column
// is still combined in row order, so sums come out bit for bit as with one row per pass.
template <class Op, class T>
void accumulate_rows(const T* in, std::size_t rows, std::size_t n, T* out) {
  std::size_t i = 0;
  for (; i + 4 <= rows; i += 4) {
    const T* r0 = in + i * n;
    const T* r1 = r0 + n;
    const T* r2 = r1 + n;
    const T* r3 = r2 + n;
    for (std::size_t j = 0; j < n; ++j)
      out[j] =
          Op::combine(Op::combine(Op::combine(Op::combine(out[j], r0[j]), r1[j]), r2[j]), r3[j]);
  }
  for (; i < rows; ++i) {
    const T* r = in + i * n;
    for (std::size_t j = 0; j < n; ++j) out[j] = Op::combine(out[j], r[j]);
  }
}

template <class Op, class T>
void walk(const Runs& r, std::size_t g, const T* in, T* out) {
  std::size_t n = r.size[g];
  if (g + 1 == r.count()) {
    if (r.reduced[g]) {  // a contiguous run into one output: the last axis, or all axes
      *out = Op::combine(*out, Op::template run<T>(in, n));
    } else {  // nothing reduced below here
      for (std::size_t j = 0; j < n; ++j) out[j] = Op::combine(out[j], in[j]);
    }
    return;
  }
  if (g + 2 == r.count() && r.reduced[g]) {  // rows into one output row: leading axes
    accumulate_rows<Op>(in, n, r.size[g + 1], out);
    return;
  }
  for (std::size_t i = 0; i < n; ++i)
    walk<Op>(r, g + 1, in + i * r.in_stride[g], out + i * r.out_stride[g]);
}

// y = the reduction of x over the axes in `mask`, in y's buffer, which may hold old values.
template <class Op, class T>
void reduce_into(const Tensor& x, const AxisMask& mask, Tensor& y) {
  T* out = y.data<T>();
  std::fill(out, out + y.size(), Op::template identity<T>());
  if (x.size() == 0) return;
  walk<Op>(collapse(x.shape(), mask), 0, x.data<T>(), out);
}

template <class Op, bool Mean = false>
struct Reduce {
  template <class T>
  static void run(KernelContext& c) {
    const Tensor& x = c.input(0);
    Tensor& y = c.output(0);
    // Only sum has an identity; the shape function rejects the others, this guards direct calls.
    if (x.size() == 0 && y.size() > 0 && !std::is_same_v<Op, SumOp>)
      throw std::domain_error("reduction over an axis of size 0 has no elements");
    // Output buffers are reused across runs: reduce_into starts from the identity every time.
    reduce_into<Op, T>(x, reduced_mask(c.attrs().get_ints("axes"), x.shape().rank()), y);
    if constexpr (Mean) {
      if (x.size() == 0) return;
      // mean = sum / (number of elements reduced into each output)
      T* out = y.data<T>();
      T scale = T(1) / static_cast<T>(x.size() / y.size());
      for (std::int64_t i = 0; i < y.size(); ++i) out[i] *= scale;
    }
  }
};

struct Argmax {
  template <class T>
  static void run(KernelContext& c) {
    const Tensor& x = c.input(0);
    Tensor& y = c.output(0);
    int axis = detail::normalize_axis(c.attrs().get_int("axis"), x.shape().rank());
    detail::AxisSplit s = detail::split_at(x.shape(), axis);
    if (y.size() == 0) return;
    if (s.n == 0) throw std::domain_error("argmax over an axis of size 0 has no elements");
    const T* in = x.data<T>();
    std::int64_t* idx = y.data<std::int64_t>();
    // The running best of column j is in[.., idx[j], j]: the output doubles as the scratch
    // space, and rows are read contiguously. First index wins ties; the first NaN wins.
    for (std::size_t o = 0; o < s.outer; ++o) {
      const T* block = in + o * s.n * s.inner;
      std::int64_t* best = idx + o * s.inner;
      std::fill(best, best + s.inner, std::int64_t{0});
      for (std::size_t i = 1; i < s.n; ++i) {
        const T* row = block + i * s.inner;
        for (std::size_t j = 0; j < s.inner; ++j) {
          T current = block[static_cast<std::size_t>(best[j]) * s.inner + j];
          bool better = row[j] > current;
          if constexpr (std::is_floating_point_v<T>)
            better = better || (std::isnan(row[j]) && !std::isnan(current));
          if (better) best[j] = static_cast<std::int64_t>(i);
        }
      }
    }
  }
};

void add_reduce(OpRegistry& registry, OpRecord r) {
  r.input_names = {"x"};
  r.attrs = {{"axes", AttrKind::Ints, AttrValue(std::vector<std::int64_t>{})},
             {"keepdims", AttrKind::Bool, AttrValue(false)}};
  registry.add(std::move(r));
}

Output reduce(const char* op, Output x, std::vector<std::int64_t> axes, bool keepdims,
              const OpName& name) {
  return detail::build(detail::graph_of(x, op), op, {x},
                       {{"axes", std::move(axes)}, {"keepdims", keepdims}}, name);
}

// A reduction's output (or its gradient) t with the reduced axes kept (as size 1), so that it
// broadcasts against the input x.
Output keep_reduced_axes(const Node& node, const Output& x, const Output& t) {
  if (node.attrs.get_bool("keepdims")) return t;
  const auto& axes = node.attrs.get_ints("axes");
  if (axes.empty()) return t;  // a scalar broadcasts as it is
  std::vector<std::int64_t> normalized;
  for (auto a : axes) normalized.push_back(detail::normalize_axis(a, x.shape().rank()));
  std::sort(normalized.begin(), normalized.end());
  return expand_dims(t, normalized);
}

// The number of elements reduced into each output of the reduction y of x, as a scalar of x's
// dtype: a constant when the reduced dimensions are known at build time, else size(x)/size(y)
// at run time (an unknown batch dimension reduced away).
Output reduced_count(Graph& g, const Node& node, const Output& x, const Output& y) {
  const Shape& shape = x.shape();
  AxisMask mask = reduced_mask(node.attrs.get_ints("axes"), shape.rank());
  double count = 1;
  for (int i = 0; i < shape.rank(); ++i) {
    if (!mask[static_cast<std::size_t>(i)]) continue;
    if (shape[i] == Shape::kUnknown) return div(cast(size(x), x.dtype()), cast(size(y), x.dtype()));
    count *= static_cast<double>(shape[i]);
  }
  return scalar(g, count, x.dtype());
}

// max and min: dy goes to the elements equal to the result, split equally among ties.
std::vector<Output> extremum_gradient(const Node& node, Output x, Output y, Output dy) {
  const auto& axes = node.attrs.get_ints("axes");
  // Compared at x's shape: the broadcasting comparison kernel is avoided on purpose (with
  // xtensor 0.24 + xsimd 8 it returns wrong values for rows of 8 or more; see the report).
  Output mask = cast(equal(x, broadcast_like(keep_reduced_axes(node, x, y), x)), x.dtype());
  Output ties = sum(mask, axes, true);
  return {mask * (keep_reduced_axes(node, x, dy) / ties)};
}

std::vector<GradCheckSample> reduce_samples() {
  using V = std::vector<std::int64_t>;
  return {{{Shape{2, 3}}, {}, {}, "all axes"},
          {{Shape{2, 3, 4}}, {{"axes", V{1}}}, {}, "middle axis"},
          {{Shape{2, 3, 4}}, {{"axes", V{0, -1}}, {"keepdims", true}}, {}, "outer axes, keepdims"},
          {{Shape{-1, 3}}, {{"axes", V{0}}}, {}, "unknown batch"}};
}

// sum_to: sums x over the axes along which `like` was broadcast to x's shape.
void sum_to_shape(ShapeContext& ctx) {
  const Shape& x = ctx.input_shape(0);
  const Shape& like = ctx.input_shape(1);
  if (ctx.input_dtype(0) == DType::boolean) throw ShapeError("cannot sum bool values");
  if (like.rank() > x.rank() || !broadcast_shapes(like, x).compatible_with(x))
    throw ShapeError("x of shape " + x.to_string() + " is not a broadcast of shape " +
                     like.to_string());
  ctx.set_output(0, ctx.input_dtype(0), like);
}

// The sum over the axes along which `like` was broadcast, so sum_to takes the reductions' loops
// (and their summation order: sum_to(x, like) equals sum(x, those axes, keepdims) bit for bit).
struct SumTo {
  template <class T>
  static void run(KernelContext& c) {
    const Tensor& x = c.input(0);
    Tensor& out = c.output(0);
    if (x.shape() == out.shape()) {  // autodiff adds sum_to wherever unknown dims might broadcast
      std::copy_n(x.data<T>(), x.size(), out.data<T>());
      return;
    }
    const Shape& xs = x.shape();
    const Shape& like = out.shape();
    AxisMask mask(static_cast<std::size_t>(xs.rank()), false);
    int lead = xs.rank() - like.rank();  // like's missing leading axes are summed away
    for (int i = 0; i < xs.rank(); ++i)
      mask[static_cast<std::size_t>(i)] = i < lead || (like[i - lead] == 1 && xs[i] != 1);
    reduce_into<SumOp, T>(x, mask, out);
  }
};

}  // namespace

void register_reduce_ops(OpRegistry& registry) {
  {
    OpRecord r;
    r.name = "sum_to";
    r.input_names = {"x", "like"};
    r.shape_fn = sum_to_shape;
    kernels::set_kernels<SumTo, float, double, std::int32_t, std::int64_t>(r);
    // d sum_to(x, like)/dx: the gradient broadcast back to x's shape; like's values are unused.
    r.gradient = [](Graph& g, const Node& node, std::span<const Output> dys,
                    const std::vector<bool>& needs) {
      if (!needs[0]) return std::vector<Output>(2);
      return std::vector<Output>{broadcast_like(dys[0], detail::input_of(g, node, 0)), Output{}};
    };
    r.gradcheck.samples = {{{Shape{2, 3}, Shape{3}}, {}, {}, "rows"},
                           {{Shape{2, 3}, Shape{2, 1}}, {}, {}, "columns"},
                           {{Shape{-1, 2, 3}, Shape{1, 3}}, {}, {}, "unknown batch"}};
    r.summary = "x summed down to the shape of `like` (the inverse of broadcasting)";
    registry.add(std::move(r));
  }
  {
    OpRecord r;
    r.name = "sum";
    r.shape_fn = [](ShapeContext& ctx) { reduce_shape(ctx, "sum", false, false); };
    kernels::set_kernels<Reduce<SumOp>, float, double, std::int32_t, std::int64_t>(r);
    // d sum(x, axes)/dx = dy broadcast back over the summed axes
    r.gradient = [](Graph& g, const Node& node, std::span<const Output> dys,
                    const std::vector<bool>&) {
      Output x = detail::input_of(g, node, 0);
      return std::vector<Output>{broadcast_like(keep_reduced_axes(node, x, dys[0]), x)};
    };
    r.gradcheck.samples = reduce_samples();
    r.summary = "sum over axes (all when empty); integer sums wrap around";
    add_reduce(registry, std::move(r));
  }
  {
    OpRecord r;
    r.name = "mean";
    r.shape_fn = [](ShapeContext& ctx) { reduce_shape(ctx, "mean", true, true); };
    kernels::set_kernels<Reduce<SumOp, true>, float, double>(r);
    // d mean(x, axes)/dx = dy / (number of elements reduced), broadcast back over the reduced axes
    r.gradient = [](Graph& g, const Node& node, std::span<const Output> dys,
                    const std::vector<bool>&) {
      Output x = detail::input_of(g, node, 0);
      Output count = reduced_count(g, node, x, detail::output_of(g, node));
      return std::vector<Output>{broadcast_like(keep_reduced_axes(node, x, dys[0]) / count, x)};
    };
    r.gradcheck.samples = reduce_samples();
    r.gradcheck.samples.push_back({{Shape{-1, 3, 2}},
                                   {{"axes", std::vector<std::int64_t>{-3, 2}}},
                                   {},
                                   "unknown batch reduced, negative axes"});
    r.gradcheck.samples.push_back({{Shape{-1, 4}},
                                   {{"axes", std::vector<std::int64_t>{-1}}, {"keepdims", true}},
                                   {},
                                   "unknown batch kept"});
    r.summary = "mean over axes (all when empty)";
    add_reduce(registry, std::move(r));
  }
  {
    OpRecord r;
    r.name = "max";
    r.shape_fn = [](ShapeContext& ctx) { reduce_shape(ctx, "maximum", false, true); };
    kernels::set_kernels<Reduce<ExtremumOp<true>>, float, double, std::int32_t, std::int64_t>(r);
    // d max(x, axes)/dx = [x == y] dy / (number of ties), with y and dy broadcast back over axes
    r.gradient = [](Graph& g, const Node& node, std::span<const Output> dys,
                    const std::vector<bool>&) {
      return extremum_gradient(node, detail::input_of(g, node, 0), detail::output_of(g, node),
                               dys[0]);
    };
    // Continuous random draws have no ties, so the function is smooth around every sample.
    r.gradcheck.samples = reduce_samples();
    r.summary = "maximum over axes (all when empty); NaN propagates";
    add_reduce(registry, std::move(r));
  }
  {
    OpRecord r;
    r.name = "min";
    r.shape_fn = [](ShapeContext& ctx) { reduce_shape(ctx, "minimum", false, true); };
    kernels::set_kernels<Reduce<ExtremumOp<false>>, float, double, std::int32_t, std::int64_t>(r);
    // d min(x, axes)/dx = [x == y] dy / (number of ties), with y and dy broadcast back over axes
    r.gradient = [](Graph& g, const Node& node, std::span<const Output> dys,
                    const std::vector<bool>&) {
      return extremum_gradient(node, detail::input_of(g, node, 0), detail::output_of(g, node),
                               dys[0]);
    };
    // Continuous random draws have no ties, so the function is smooth around every sample.
    r.gradcheck.samples = reduce_samples();
    r.summary = "minimum over axes (all when empty); NaN propagates";
    add_reduce(registry, std::move(r));
  }
  {
    OpRecord r;
    r.name = "argmax";
    r.input_names = {"x"};
    r.attrs = {{"axis", AttrKind::Int, AttrValue(std::int64_t{-1})}};
    r.shape_fn = [](ShapeContext& ctx) {
      if (ctx.input_dtype(0) == DType::boolean)
        throw ShapeError("input 0 must be numeric, got bool");
      const Shape& in = ctx.input_shape(0);
      int axis = detail::normalize_axis(ctx.attrs().get_int("axis"), in.rank());
      if (in[axis] == 0)
        throw ShapeError("cannot take the argmax over axis " + std::to_string(axis) + " of shape " +
                         in.to_string() + ": the axis has size 0, so there are no elements");
      std::vector<std::int64_t> out = in.dims();
      out.erase(out.begin() + axis);
      ctx.set_output(0, DType::int64, Shape(std::move(out)));
    };
    kernels::set_kernels<Argmax, float, double, std::int32_t, std::int64_t>(r);
    r.dispatch_input = 0;
    r.not_differentiable_reason = "an index: piecewise constant in x";
    r.summary = "index (int64) of the largest element along axis, first on ties";
    registry.add(std::move(r));
  }
}

Output sum_to(Output x, Output like, OpName name) {
  return detail::build(detail::graph_of(x, "sum_to"), "sum_to", {x, like}, {}, name);
}

Output sum(Output x, std::vector<std::int64_t> axes, Flag keepdims, OpName name) {
  return reduce("sum", x, std::move(axes), keepdims, name);
}
Output mean(Output x, std::vector<std::int64_t> axes, Flag keepdims, OpName name) {
  return reduce("mean", x, std::move(axes), keepdims, name);
}
Output max(Output x, std::vector<std::int64_t> axes, Flag keepdims, OpName name) {
  return reduce("max", x, std::move(axes), keepdims, name);
}
Output min(Output x, std::vector<std::int64_t> axes, Flag keepdims, OpName name) {
  return reduce("min", x, std::move(axes), keepdims, name);
}
Output argmax(Output x, std::int64_t axis, OpName name) {
  return detail::build(detail::graph_of(x, "argmax"), "argmax", {x}, {{"axis", axis}}, name);
}

}  // namespace dagrad
