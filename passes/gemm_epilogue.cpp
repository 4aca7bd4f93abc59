// gemm_epilogue: a 2-D matmul whose only reader is one fused_elementwise node working at the
// product's shape becomes one matmul_epilogue node (include/dagrad/ops/matmul_epilogue.hpp):
// the forward's x w + bias -> activation, the backward's dy w^T * activation'(z), an optimizer
// update of w from x^T dz. The product then needs no buffer of its own (the GEMM writes into
// the node's output and the program runs there in place) and the elementwise work follows the
// GEMM in one step. Runs after elementwise_fusion, whose groups it takes as they are.
//
// The product takes register 0 of the program and the fused node's other inputs follow in their
// order (passes/epilogue_fusion.cpp). The node computes what the two did, bit for bit. Not fused:
// batched products, a product anyone else reads or a request fetches, and a fused node whose
// full shape is larger than the product (a broadcast of it).
#include "passes/epilogue_fusion.hpp"
#include "passes/rules.hpp"

namespace dagrad {

namespace {

// Whether `n` is a matmul of two matrices (no batch) in float32 or float64.
bool is_plain_matmul(const PlanGraph& g, int id) {
  const Node& n = g.node(id);
  if (n.op->name != "matmul" || n.inputs.size() != 2 || n.output_dtypes.size() != 1) return false;
  for (const NodeInput& in : n.inputs)
    if (g.node(in.node).output_shapes.at(static_cast<std::size_t>(in.index)).rank() != 2)
      return false;
  return is_floating(n.output_dtypes[0]);
}

}  // namespace

Pass gemm_epilogue_pass() {
  return {"gemm_epilogue",
          "a 2-D matmul read only by one fused_elementwise node of its shape becomes one "
          "matmul_epilogue node: the GEMM, then the program over its result in place",
          [](PlanGraph& g, PassReport& report) {
            // A graph of a registry without the ops (a test's own, a plugin's) stays as is.
            if (g.registry().find("matmul_epilogue") && g.registry().find("fused_elementwise"))
              fuse_epilogues(g, report,
                             {"matmul_epilogue", {"transpose_a", "transpose_b"}, is_plain_matmul});
          },
          // Opt-in: on the chapter's MLP it measured neutral to 3% slower (the fused node
          // already ran in place on the product while it was in cache; merging saves only a
          // dispatch). It is the hook for a GEMM library that runs epilogues in its kernel.
          /*on_by_default=*/false};
}

}  // namespace dagrad
