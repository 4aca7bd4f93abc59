// What gemm_epilogue and conv_epilogue share: merging a producer node (a matmul, a conv2d) with
// the one fused_elementwise node that reads its result into one "epilogue" node that computes
// the result into its output and runs the program there in place (passes/epilogue_fusion.cpp).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "dagrad/graph/passes.hpp"

namespace dagrad {

// One kind of producer and the op that merges it with its reader.
struct EpilogueRule {
  std::string epilogue_op;  // e.g. "matmul_epilogue"; its inputs are the producer's, then the
                            // program's other inputs; its attributes the producer's `attrs` and
                            // fused_elementwise's
  std::vector<std::string> attrs;  // the producer's attributes the epilogue node takes over
  // Whether node `id` is a producer this rule merges (the op, ranks, dtype it supports).
  std::function<bool(const PlanGraph& g, int id)> accepts;
};

// Merges each accepted producer, when it has one output, is neither fetched nor read by anyone
// but one fused_elementwise node of its dtype whose inputs broadcast to exactly the producer's
// shape (not larger), writes no store into it, and no other path of data or control edges
// leads from it to that reader (merging would then make a cycle: an optimizer's
// gradients_ready group between a weight gradient and its update is one). The producer's result
// becomes the program's register 0 and the reader's other inputs follow in their order; the
// merged node is scheduled where the producer was and takes both nodes' control inputs. Notes
// one line per merge in `report`.
void fuse_epilogues(PlanGraph& g, PassReport& report, const EpilogueRule& rule);

}  // namespace dagrad
