// Helpers shared by op families' shape functions and builders (no xtensor here).
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "dagrad/graph/errors.hpp"
#include "dagrad/graph/graph.hpp"
#include "dagrad/graph/op_registry.hpp"
#include "dagrad/ops/ops.hpp"

namespace dagrad::detail {

// "[1, -2, 3]": axes, sizes and permutations in error messages.
inline std::string ints_to_string(const std::vector<std::int64_t>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

// Maps axis in [-rank, rank) to [0, rank); throws ShapeError naming the axis and rank.
inline int normalize_axis(std::int64_t axis, int rank) {
  if (axis < -rank || axis >= rank)
    throw ShapeError("axis " + std::to_string(axis) + " is out of range for rank " +
                     std::to_string(rank));
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

// A fully defined shape seen as (outer, n, inner) around `axis`, for kernels that work along
// one axis (reductions, softmax).
struct AxisSplit {
  std::size_t outer = 1, n = 1, inner = 1;
};
inline AxisSplit split_at(const Shape& s, int axis) {
  AxisSplit a;
  for (int i = 0; i < s.rank(); ++i) {
    auto d = static_cast<std::size_t>(s[i]);
    if (i < axis)
      a.outer *= d;
    else if (i == axis)
      a.n = d;
    else
      a.inner *= d;
  }
  return a;
}

// Adds a single-output node, with the builder's name and caller location.
inline Output build(Graph& g, const char* op, const std::vector<Output>& inputs, AttrMap attrs,
                    const OpName& name) {
  NodeOptions options;
  options.name = name.name;
  return g.add(op, inputs, std::move(attrs), std::move(options), name.loc);
}

// The graph of an input handle; throws GraphError when the handle is empty.
inline Graph& graph_of(const Output& x, const char* op) {
  if (!x.valid())
    throw GraphError(std::string(op) + ": input is not a valid output (empty handle)");
  return *x.graph;
}

// The i-th input and output of a node, as handles to build gradient rules with.
inline Output input_of(Graph& g, const Node& node, int i) {
  const NodeInput& in = node.inputs.at(static_cast<std::size_t>(i));
  return g.output_of(in.node, in.index);
}
inline Output output_of(Graph& g, const Node& node, int i = 0) {
  return g.output_of(node.id, i);
}

// Gradient-check samples for elementwise ops: a matrix, an unknown batch, a scalar.
inline std::vector<GradCheckSample> unary_samples() {
  return {{{Shape{2, 3}}, {}, {}, "matrix"},
          {{Shape{-1, 3}}, {}, {}, "unknown batch"},
          {{Shape{}}, {}, {}, "scalar"}};
}
// ... and for broadcasting binary ops.
inline std::vector<GradCheckSample> binary_samples() {
  return {{{Shape{2, 3}, Shape{2, 3}}, {}, {}, "same shape"},
          {{Shape{2, 3}, Shape{3}}, {}, {}, "broadcast row"},
          {{Shape{2, 1}, Shape{1, 3}}, {}, {}, "broadcast both"},
          {{Shape{}, Shape{2, 2}}, {}, {}, "scalar and matrix"},
          {{Shape{-1, 3}, Shape{1, 3}}, {}, {}, "unknown batch"},
          // Both batches unknown when the graph is built; they broadcast only at run time.
          {{Shape{-1, 3}, Shape{-1, 3}}, {}, {}, "run-time broadcast", {Shape{4, 3}, Shape{1, 3}}}};
}

// A shape function for ops whose output has input 0's dtype and shape.
inline void same_as_input0(ShapeContext& ctx) {
  ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(0));
}

// "0.5", "1e+10", "nan": the shortest text that reads back as `value`, for error messages.
inline std::string number_to_string(double value) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(value);
}

// The rule for a number that becomes an element of `dtype` (scalar(), the scalar operand of
// + - * /, fill, one_hot; see ops.hpp): it must be representable, so that nothing truncates
// silently. Returns "" when it is, else "<value> is not representable in <dtype>: <why>".
inline std::string scalar_misfit(double value, DType dtype) {
  std::string why;
  switch (dtype) {
    case DType::float64:
      break;
    case DType::float32:  // rounding is fine; a finite value becoming infinite is not
      if (std::isfinite(value) && std::abs(value) > std::numeric_limits<float>::max())
        why = "outside float32's range";
      break;
    case DType::int32:
    case DType::int64: {
      // -2^31 and -2^63 are exact doubles; the range is [lo, -lo).
      double lo = dtype == DType::int32 ? -2147483648.0 : -9223372036854775808.0;
      if (!std::isfinite(value))
        why = "an integer tensor has no " + number_to_string(value);
      else if (std::trunc(value) != value)
        why = "not a whole number (it would be truncated)";
      else if (!(value >= lo && value < -lo))
        why = "outside its range [" + number_to_string(lo) + ", " + number_to_string(-lo) + ")";
      break;
    }
    case DType::boolean:
      if (value != 0.0 && value != 1.0) why = "a bool takes 0 or 1";
      break;
  }
  if (why.empty()) return why;
  return number_to_string(value) + " is not representable in " + std::string(dtype_name(dtype)) +
         ": " + why;
}

}  // namespace dagrad::detail
