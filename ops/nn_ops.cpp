// Neural-network ops kept primitive for numerical reasons: softmax and log_softmax (the max
// shift and the log-sum-exp done in one kernel), and clip_by_value.
// The kernels are compiled apart, in nn_ops_kernels.cpp.
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "nn_ops_kernels.hpp"
#include "op_util.hpp"

namespace dagrad {

namespace {

void add_softmax(OpRegistry& registry, const char* name, bool log, const char* summary,
                 GradientFn gradient) {
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
    kernels::set_log_softmax_kernels(r);
  else
    kernels::set_softmax_kernels(r);
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

}  // namespace

void register_nn_ops(OpRegistry& registry) {
  // d softmax(x)/dx: dx = y (dy - sum(dy y, axis))
  add_softmax(
      registry, "softmax", false, "e^x / sum e^x along axis, shifted by the max for stability",
      [](Graph& g, const Node& node, std::span<const Output> dys, const std::vector<bool>&) {
        Output y = detail::output_of(g, node), dy = dys[0];
        std::vector<std::int64_t> axis{node.attrs.get_int("axis")};
        return std::vector<Output>{y * (dy - sum(dy * y, axis, true))};
      });
  // d log_softmax(x)/dx: dx = dy - e^y sum(dy, axis)  (e^y = softmax(x))
  add_softmax(
      registry, "log_softmax", true,
      "x - log(sum e^x) along axis, shifted by the max for stability",
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
        throw ShapeError("clip_min " + attr_to_string(lo) + " must not exceed clip_max " +
                         attr_to_string(hi));
      if (is_integer(d) && std::ceil(lo) > std::floor(hi))
        throw ShapeError("no " + std::string(dtype_name(d)) + " value lies in [" +
                         attr_to_string(lo) + ", " + attr_to_string(hi) + "]");
      detail::same_as_input0(ctx);
    };
    kernels::set_clip_by_value_kernels(r);
    // d clip(x)/dx = 1 where clip_min <= x <= clip_max, else 0
    r.gradient = [](Graph& g, const Node& node, std::span<const Output> dys,
                    const std::vector<bool>&) {
      Output x = detail::input_of(g, node, 0), dy = dys[0];
      Output lo = scalar(g, node.attrs.get_float("clip_min"), x.dtype());
      Output hi = scalar(g, node.attrs.get_float("clip_max"), x.dtype());
      Output zero = zeros_like(dy);
      return std::vector<Output>{
          where(greater_equal(x, lo), where(less_equal(x, hi), dy, zero), zero)};
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
  return detail::build(detail::graph_of(x, "log_softmax"), "log_softmax", {x}, {{"axis", axis}},
                       name);
}
Output clip_by_value(Output x, double clip_min, double clip_max, OpName name) {
  return detail::build(detail::graph_of(x, "clip_by_value"), "clip_by_value", {x},
                       {{"clip_min", clip_min}, {"clip_max", clip_max}}, name);
}

}  // namespace dagrad
