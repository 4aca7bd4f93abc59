// Neural-network ops kept primitive for numerical reasons: softmax and log_softmax (the max
// shift and the log-sum-exp done in one kernel), and clip_by_value.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "kernel_util.hpp"
#include "op_util.hpp"

namespace dagrad {

namespace {

using kernels::flat_at;

// softmax(x)_i = e^(x_i - m) / sum_j e^(x_j - m), m = max_j x_j (so no exp overflows);
// log_softmax(x)_i = x_i - m - log(sum_j e^(x_j - m)).
template <bool Log>
struct Softmax {
  template <class T>
  static void run(KernelContext& c) {
    const Tensor& x = c.input(0);
    Tensor& y = c.output(0);
    if (y.size() == 0) return;
    int axis = detail::normalize_axis(c.attrs().get_int("axis"), x.shape().rank());
    detail::AxisSplit s = detail::split_at(x.shape(), axis);
    const T* in = x.data<T>();
    T* out = y.data<T>();
    if (s.inner == 1) {
      // The common case (last axis): each softmax is a contiguous row.
      for (std::size_t o = 0; o < s.outer; ++o) {
        auto xr = flat_at(in + o * s.n, s.n);
        auto yr = flat_at(out + o * s.n, s.n);
        T m = *std::max_element(in + o * s.n, in + (o + 1) * s.n);
        xt::noalias(yr) = xt::exp(xr - m);
        double total = 0;
        for (std::size_t i = 0; i < s.n; ++i) total += static_cast<double>(yr[i]);
        // (x - m) is exact for nearby values; folding m + log(total) into one T first would
        // round it at the magnitude of m (about 6e-5 at 1000 in float32).
        if constexpr (Log)
          xt::noalias(yr) = (xr - m) - static_cast<T>(std::log(total));
        else
          yr *= static_cast<T>(1.0 / total);
      }
      return;
    }
    // Softmax over a middle axis: each of the `inner` columns of an (n, inner) block is one
    // softmax. Working row by row keeps memory access contiguous and SIMD; without scratch
    // memory, output row 0 holds the max m and row n-1 the log-sum L until the other rows are
    // done, then those two rows are finished column by column.
    for (std::size_t o = 0; o < s.outer; ++o) {
      const T* xb = in + o * s.n * s.inner;
      T* yb = out + o * s.n * s.inner;
      auto x_row = [&](std::size_t i) { return flat_at(xb + i * s.inner, s.inner); };
      auto y_row = [&](std::size_t i) { return flat_at(yb + i * s.inner, s.inner); };
      auto m = y_row(0);
      xt::noalias(m) = x_row(0);
      for (std::size_t i = 1; i < s.n; ++i) xt::noalias(m) = xt::maximum(m, x_row(i));
      if (s.n == 1) {  // log(e^(x - m)) = 0
        if constexpr (Log)
          xt::noalias(m) = x_row(0) - m;
        else
          xt::noalias(m) = xt::exp(x_row(0) - m);
        continue;
      }
      auto lsum = y_row(s.n - 1);
      xt::noalias(lsum) = xt::exp(x_row(s.n - 1) - m);
      for (std::size_t i = 0; i + 1 < s.n; ++i) xt::noalias(lsum) += xt::exp(x_row(i) - m);
      xt::noalias(lsum) = xt::log(lsum);  // L = log(sum_j e^(x_j - m))
      for (std::size_t i = 1; i + 1 < s.n; ++i) {
        auto yi = y_row(i);
        if constexpr (Log)
          xt::noalias(yi) = (x_row(i) - m) - lsum;
        else
          xt::noalias(yi) = xt::exp((x_row(i) - m) - lsum);
      }
      T* first = yb;
      T* last = yb + (s.n - 1) * s.inner;
      const T* x_last = xb + (s.n - 1) * s.inner;
      for (std::size_t j = 0; j < s.inner; ++j) {
        T mj = first[j], lj = last[j];
        T z0 = (xb[j] - mj) - lj, z1 = (x_last[j] - mj) - lj;
        first[j] = Log ? z0 : std::exp(z0);
        last[j] = Log ? z1 : std::exp(z1);
      }
    }
  }
};

void add_softmax(OpRegistry& registry, const char* name, bool log, const char* summary, GradientFn gradient) {
  OpRecord r;
  r.name = name;
  r.input_names = {"x"};
  r.attrs = {{"axis", AttrKind::Int, AttrValue(std::int64_t{-1})}};
  r.shape_fn = [](ShapeContext& ctx) {
    ctx.expect_floating(0);
    detail::normalize_axis(ctx.attrs().get_int("axis"), ctx.input_shape(0).rank());
    detail::same_as_input0(ctx);
  };
  if (log)
    kernels::set_kernels<Softmax<true>, float, double>(r);
  else
    kernels::set_kernels<Softmax<false>, float, double>(r);
  r.gradient = std::move(gradient);
  auto axis = [](std::int64_t a) { return AttrMap{{"axis", a}}; };
  r.gradcheck.samples = {{{Shape{2, 3}}, axis(-1), {}, "last axis"},
                         {{Shape{2, 3, 4}}, axis(1), {}, "middle axis"},
                         {{Shape{3, 2}}, axis(0), {}, "first axis"},
                         {{Shape{5}}, axis(0), {}, "vector"},
                         {{Shape{-1, 4}}, axis(-1), {}, "unknown batch"}};
  r.summary = summary;
  registry.add(std::move(r));
}

// The clip bounds in T. Integer dtypes round the bounds inward (x in [0.5, 2.5] is x in [1, 2])
// and saturate them to T's range, so no out-of-range double is converted.
template <class T>
std::pair<T, T> clip_bounds(double lo, double hi) {
  if constexpr (std::is_floating_point_v<T>) {
    return {static_cast<T>(lo), static_cast<T>(hi)};
  } else {
    auto lowest = static_cast<double>(std::numeric_limits<T>::lowest());
    auto highest = static_cast<double>(std::numeric_limits<T>::max());
    auto saturate = [&](double v) {
      if (v <= lowest) return std::numeric_limits<T>::lowest();
      if (v >= highest) return std::numeric_limits<T>::max();
      return static_cast<T>(v);
    };
    return {saturate(std::ceil(lo)), saturate(std::floor(hi))};
  }
}

struct Clip {
  template <class T>
  static void run(KernelContext& c) {
    auto [lo, hi] = clip_bounds<T>(c.attrs().get_float("clip_min"), c.attrs().get_float("clip_max"));
    auto y = kernels::flat<T>(c.output(0));
    xt::noalias(y) = xt::minimum(xt::maximum(kernels::flat<T>(c.input(0)), lo), hi);
  }
};

}  // namespace

void register_nn_ops(OpRegistry& registry) {
  // d softmax(x)/dx: dx = y (dy - sum(dy y, axis))
  add_softmax(registry, "softmax", false, "e^x / sum e^x along axis, shifted by the max for stability",
              [](Graph& g, const Node& node, std::span<const Output> dys, const std::vector<bool>&) {
                Output y = detail::output_of(g, node), dy = dys[0];
                std::vector<std::int64_t> axis{node.attrs.get_int("axis")};
                return std::vector<Output>{y * (dy - sum(dy * y, axis, true))};
              });
  // d log_softmax(x)/dx: dx = dy - e^y sum(dy, axis)  (e^y = softmax(x))
  add_softmax(registry, "log_softmax", true, "x - log(sum e^x) along axis, shifted by the max for stability",
              [](Graph& g, const Node& node, std::span<const Output> dys, const std::vector<bool>&) {
                Output y = detail::output_of(g, node), dy = dys[0];
                std::vector<std::int64_t> axis{node.attrs.get_int("axis")};
                return std::vector<Output>{dy - exp(y) * sum(dy, axis, true)};
              });
  {
    OpRecord r;
    r.name = "clip_by_value";
    r.input_names = {"x"};
    r.attrs = {{"clip_min", AttrKind::Float, {}}, {"clip_max", AttrKind::Float, {}}};
    r.shape_fn = [](ShapeContext& ctx) {
      DType d = ctx.input_dtype(0);
      if (d == DType::boolean) throw ShapeError("input 0 must be numeric, got bool");
      double lo = ctx.attrs().get_float("clip_min");
      double hi = ctx.attrs().get_float("clip_max");
      if (!(lo <= hi))  // also rejects NaN bounds
        throw ShapeError("clip_min " + attr_to_string(lo) + " must not exceed clip_max " + attr_to_string(hi));
      if (is_integer(d) && std::ceil(lo) > std::floor(hi))
        throw ShapeError("no " + std::string(dtype_name(d)) + " value lies in [" + attr_to_string(lo) + ", " +
                         attr_to_string(hi) + "]");
      detail::same_as_input0(ctx);
    };
    kernels::set_kernels<Clip, float, double, std::int32_t, std::int64_t>(r);
    // d clip(x)/dx = 1 where clip_min <= x <= clip_max, else 0
    r.gradient = [](Graph& g, const Node& node, std::span<const Output> dys, const std::vector<bool>&) {
      Output x = detail::input_of(g, node, 0), dy = dys[0];
      Output lo = scalar(g, node.attrs.get_float("clip_min"), x.dtype());
      Output hi = scalar(g, node.attrs.get_float("clip_max"), x.dtype());
      Output zero = zeros_like(dy);
      return std::vector<Output>{where(greater_equal(x, lo), where(less_equal(x, hi), dy, zero), zero)};
    };
    // Inputs in [-2, 2] around the bounds -1 and 1: both sides of both kinks are checked.
    r.gradcheck.kinks = {-1.0, 1.0};
    auto bounds = AttrMap{{"clip_min", -1.0}, {"clip_max", 1.0}};
    r.gradcheck.samples = {{{Shape{2, 3}}, bounds, {}, "matrix"},
                           {{Shape{4, 5}}, bounds, {}, "larger"},
                           {{Shape{-1, 3}}, bounds, {}, "unknown batch"}};
    r.summary = "min(max(x, clip_min), clip_max); integer dtypes round the bounds inward";
    registry.add(std::move(r));
  }
}

Output softmax(Output x, std::int64_t axis, OpName name) {
  return detail::build(detail::graph_of(x, "softmax"), "softmax", {x}, {{"axis", axis}}, name);
}
Output log_softmax(Output x, std::int64_t axis, OpName name) {
  return detail::build(detail::graph_of(x, "log_softmax"), "log_softmax", {x}, {{"axis", axis}}, name);
}
Output clip_by_value(Output x, double clip_min, double clip_max, OpName name) {
  return detail::build(detail::graph_of(x, "clip_by_value"), "clip_by_value", {x},
                       {{"clip_min", clip_min}, {"clip_max", clip_max}}, name);
}

}  // namespace dagrad
