// The default pass table: cheap clean-ups first (so that fusion sees the simplest graph), then
// fusion, then a last prune of what the rewrites left unused.
#include "dagrad/graph/passes.hpp"
#include "passes/rules.hpp"

namespace dagrad {

const PassPipeline& default_pipeline() {
  static const PassPipeline pipeline = {
      prune_pass(),                     // what the request does not need
      constant_folding_pass(),          // constant subgraphs, once
      algebraic_simplification_pass(),  // x*1, zeros_like operands, transposes, reshapes, ...
      cse_pass(),                       // equal nodes (the simplifications make more of them)
      batchnorm_folding_pass(),         // inference BatchNormalization into the adjacent matmul
      softmax_cross_entropy_pass(),     // the loss on a softmax's logits and its gradient, one op
      constant_folding_pass(),          // what the merges made constant
      prune_pass(),                     // what the rewrites left unused
      elementwise_fusion_pass(),        // groups of elementwise nodes and optimizer updates
      gemm_epilogue_pass(),             // opt-in: a matmul and the fused node reading it
      conv_epilogue_pass(),             // a conv2d and the fused node reading it
      prune_pass(),                     // constants the fused programs took in as numbers
  };
  return pipeline;
}

}  // namespace dagrad
