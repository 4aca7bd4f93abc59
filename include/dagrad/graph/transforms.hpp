// Whole-graph transforms that build a new graph from an old one.
#pragma once

#include <memory>

#include "graph.hpp"

namespace dagrad {

// A copy of `graph` (same node names, structure, seed, variables, sites and backward tags) in
// which every float32 is float64: dtype attributes and float32 tensor attributes are promoted,
// and every shape function runs again. Used to check the gradients of a float32 model with
// float64 finite differences.
std::unique_ptr<Graph> promote_to_float64(const Graph& graph);

// A float32 tensor as a new float64 tensor of the same shape (exact: every float is a double);
// any other tensor, undefined included, is returned as it is.
Tensor widen_to_float64(const Tensor& tensor);

}  // namespace dagrad
