// Helpers shared by op families' shape functions and builders (no xtensor here).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dagrad/graph/errors.hpp"
#include "dagrad/graph/graph.hpp"
#include "dagrad/graph/op_registry.hpp"
#include "dagrad/ops/ops.hpp"

namespace dagrad::detail {

// Maps axis in [-rank, rank) to [0, rank); throws ShapeError naming the axis and rank.
inline int normalize_axis(std::int64_t axis, int rank) {
  if (axis < -rank || axis >= rank)
    throw ShapeError("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return static_cast<int>(axis < 0 ? axis + rank : axis);
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
  if (!x.valid()) throw GraphError(std::string(op) + ": input is not a valid output (empty handle)");
  return *x.graph;
}

// A shape function for ops whose output has input 0's dtype and shape.
inline void same_as_input0(ShapeContext& ctx) {
  ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(0));
}

}  // namespace dagrad::detail
