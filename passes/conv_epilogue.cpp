// conv_epilogue: a conv2d whose only reader is one fused_elementwise node working at the
// convolution's shape (the bias add and activation of a Conv2D layer, or a folded
// BatchNormalization's shift and the activation after it, as elementwise_fusion grouped them)
// becomes one conv2d_epilogue node (include/dagrad/ops/conv_epilogue.hpp): the convolution is
// computed into the node's output and the program runs there in place, in one step. Runs after
// elementwise_fusion, whose groups it takes as they are.
//
// The convolution takes register 0 of the program and the fused node's other inputs follow in
// their order (passes/epilogue_fusion.cpp, shared with gemm_epilogue). The node computes what
// the two did, bit for bit. Not fused: a convolution anyone else reads or a request fetches, and
// a fused node whose full shape is larger than the convolution (a broadcast of it).
#include "passes/epilogue_fusion.hpp"
#include "passes/rules.hpp"

namespace dagrad {

namespace {

// Whether node `id` is a conv2d in float32 or float64 (the dtypes conv2d_epilogue runs).
bool is_conv2d(const PlanGraph& g, int id) {
  const Node& n = g.node(id);
  return n.op->name == "conv2d" && n.inputs.size() == 2 && n.output_dtypes.size() == 1 &&
         is_floating(n.output_dtypes[0]);
}

}  // namespace

Pass conv_epilogue_pass() {
  return {"conv_epilogue",
          "a conv2d read only by one fused_elementwise node of its shape becomes one "
          "conv2d_epilogue node: the convolution, then the program over its result in place",
          [](PlanGraph& g, PassReport& report) {
            // A graph of a registry without the ops (a test's own, a plugin's) stays as is.
            if (g.registry().find("conv2d_epilogue") && g.registry().find("fused_elementwise"))
              fuse_epilogues(g, report,
                             {"conv2d_epilogue", {"strides", "padding", "dilations"}, is_conv2d});
          },
          // Opt-in, as gemm_epilogue and for its reason: the fused node already runs in place
          // on the convolution's output, so merging saves a dispatch; the cnn model's
          // prediction measured neutral within the noise (README.md's pass table).
          /*on_by_default=*/false};
}

}  // namespace dagrad
