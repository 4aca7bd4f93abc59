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
// - a rule is told which of its node's inputs need a gradient and builds only those, so every
//   node added is an ancestor of some returned gradient (built-in rules);
// - a gradient whose shape differs from its input's (broadcasting) is summed back to the
//   input's shape (sum_to), in this one place rather than in each rule; so is the gradient of
//   an input the op declares broadcasting (OpRecord::broadcasting_inputs) where an unknown
//   dimension may broadcast at run time, and no other;
// - stop_gradient and ops with a not_differentiable_reason pass no gradient; integer and bool
//   inputs get none;
// - an x with no path to any y gets an invalid Output (x.valid() is false), not zeros;
// - each call takes its own top-level scope, like name_scope("gradients") at the top level
//   ("gradients", then "gradients_1", ...): nodes are named
//   "<that scope>/<forward node name>_grad/..." and tagged backward;
// - on any throw the graph is left as it was: no node, name or scope of the call remains.
// Throws GraphError naming op, node and creation site when an op on a path has no gradient
// rule, or when a rule returns the wrong number of gradients, or a gradient whose dtype is not
// its input's or whose shape is neither the input's nor a broadcast of it (naming the input
// index and both shapes).
std::vector<Output> gradients(const std::vector<Output>& ys, const std::vector<Output>& xs,
                              const std::vector<Output>& grad_ys = {});

// Convenience for a single y: its gradient with respect to each x.
std::vector<Output> gradients(Output y, const std::vector<Output>& xs);

}  // namespace dagrad
