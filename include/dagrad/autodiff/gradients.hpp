// Symbolic reverse-mode differentiation: gradients are added to the graph as ordinary nodes,
// built with the public graph API, so they can be printed, optimized, run and differentiated
// again.
#pragma once

#include <vector>

#include "../graph/graph.hpp"

namespace dagrad {

// Adds the nodes computing d(sum of ys)/d(x) for every x in xs and returns them, in the order
// of xs. grad_ys, when given, holds one seed per y (same dtype and shape; default ones), so the
// result is the vector-Jacobian product sum_i grad_ys[i]^T dys[i]/dx.
//
// Requires: ys and xs in one graph; every y floating point. Ensures:
// - only nodes on a path from some x to some y are visited, in reverse topological order;
// - fan-out gradients are summed with one add_n per output;
// - a gradient whose shape differs from its input's (broadcasting) is summed back to the
//   input's shape (sum_to), in this one place rather than in each rule;
// - stop_gradient and ops with a not_differentiable_reason pass no gradient; integer and bool
//   inputs get none;
// - an x with no path to any y gets an invalid Output (x.valid() is false), not zeros;
// - nodes are named "gradients/<forward node name>_grad/..." and tagged backward.
// Throws GraphError naming op, node and creation site when an op on a path has no gradient
// rule.
std::vector<Output> gradients(const std::vector<Output>& ys, const std::vector<Output>& xs,
                              const std::vector<Output>& grad_ys = {});

// Convenience for a single y: its gradient with respect to each x.
std::vector<Output> gradients(Output y, const std::vector<Output>& xs);

}  // namespace dagrad
