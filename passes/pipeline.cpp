// The default pass table: cheap clean-ups first (so that fusion sees the simplest graph), then
// fusion, then a last prune of what the rewrites left unused.
#include "dagrad/graph/passes.hpp"
#include "passes/rules.hpp"

namespace dagrad {

const PassPipeline& default_pipeline() {
  static const PassPipeline pipeline = {
      prune_pass(), constant_folding_pass(), algebraic_simplification_pass(),
      cse_pass(),   constant_folding_pass(), prune_pass(),
  };
  return pipeline;
}

}  // namespace dagrad
