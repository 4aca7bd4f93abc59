// matmul_epilogue: one node that computes the 2-D product op(a) op(b) and then runs a
// fused_elementwise program over it (bias, activation, an activation's derivative, an optimizer's
// update), so the product needs no buffer of its own and no separate pass over memory. The
// optimizer's gemm_epilogue pass makes these nodes from a matmul whose only reader is a
// fused_elementwise node of the product's shape; the bits are those of the two nodes run one
// after the other (the same BLAS call, then the same program kernel). Not differentiable: passes
// run after autodiff.
//
// Inputs: a, b (2-D, of the compute dtype), then the program's other inputs.
// Attributes: transpose_a, transpose_b (Bool, as matmul's) and every attribute of
// fused_elementwise (dtype, program, constants, outputs, stores; include/dagrad/ops/fused.hpp),
// where the program's register 0 is the product and its input k >= 1 is the node's input k + 1
// (a store's input index counts the same way; the product is never a store target).
// Outputs: as the program's, each of the broadcast of the product's and the other inputs' shapes.
//
// The kernel writes the product into output 0 when that has the product's shape and runs the
// program there in place (fused.hpp allows an output to alias a full-shape input), otherwise
// into per-thread scratch memory kept between calls.
#pragma once

#include <vector>

#include "../graph/flag.hpp"
#include "fused.hpp"

namespace dagrad {

// Adds a matmul_epilogue node: `program` reads op(a) op(b) as register 0 and `others` as
// registers 1, 2, ... (so program.num_inputs() == 1 + others.size()).
FusedNode matmul_epilogue(Output a, Output b, Flag transpose_a, Flag transpose_b,
                          const std::vector<Output>& others, DType dtype,
                          const FusedProgram& program, OpName name = {});

// Adds matmul_epilogue to `registry`, which must hold fused_elementwise already (called by
// register_builtin_ops).
void register_matmul_epilogue_ops(OpRegistry& registry);

}  // namespace dagrad
