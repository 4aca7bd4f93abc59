// Registration of the built-in ops, and the process-wide default registry.
#include <mutex>

#include "dagrad/graph/graph.hpp"
#include "dagrad/ops/conv_epilogue.hpp"
#include "dagrad/ops/fused.hpp"
#include "dagrad/ops/matmul_epilogue.hpp"
#include "dagrad/ops/ops.hpp"
#include "dagrad/ops/softmax_cross_entropy.hpp"

namespace dagrad {

void register_builtin_ops(OpRegistry& registry) {
  register_state_ops(registry);
  register_elementwise_ops(registry);
  register_binary_ops(registry);
  register_reduce_ops(registry);
  register_linalg_ops(registry);
  register_conv_ops(registry);
  register_shape_ops(registry);
  register_nn_ops(registry);
  register_pool_ops(registry);
  register_random_ops(registry);
  register_collective_ops(registry);
  register_fused_ops(registry);
  register_matmul_epilogue_ops(registry);
  register_conv_epilogue_ops(registry);
  register_softmax_cross_entropy_ops(registry);
}

OpRegistry& default_registry() {
  static OpRegistry* registry = [] {
    auto* r = new OpRegistry();  // never destroyed: plugins' records may outlive static teardown
    register_builtin_ops(*r);
    return r;
  }();
  return *registry;
}

// Declared in graph/graph.hpp; defined here because graph/ does not know the built-in ops.
Graph::Graph() : Graph(default_registry()) {}

}  // namespace dagrad
