// conv2d_epilogue: one node that computes conv2d(x, kernel) (NHWC, HWIO) and then runs a
// fused_elementwise program over it (a bias and an activation, a folded BatchNormalization's
// shift), so the convolution's result needs no buffer of its own and no separate step. The
// optimizer's conv_epilogue pass makes these nodes from a conv2d whose only reader is a
// fused_elementwise node of the convolution's shape; the bits are those of the two nodes run
// one after the other (conv2d's own kernel, then fused_elementwise's). Not differentiable:
// passes run after autodiff.
//
// Inputs: x, kernel (as conv2d's, of the compute dtype), then the program's other inputs.
// Attributes: strides, padding, dilations (as conv2d's) and every attribute of
// fused_elementwise (dtype, program, constants, outputs, stores, reductions;
// include/dagrad/ops/fused.hpp), where the program's register 0 is the convolution and its
// input k >= 1 is the node's input k + 1 (a store's input index counts the same way; the
// convolution is never a store target).
// Outputs: as the program's, each of the broadcast of the convolution's and the other inputs'
// shapes.
//
// The kernel writes the convolution into output 0 when that has the convolution's shape and
// runs the program there in place (fused.hpp allows an output to alias a full-shape input),
// otherwise into per-thread scratch memory kept between calls.
#pragma once

#include <vector>

#include "fused.hpp"
#include "ops.hpp"

namespace dagrad {

// Adds a conv2d_epilogue node: `program` reads conv2d(x, kernel, options) as register 0 and
// `others` as registers 1, 2, ... (so program.num_inputs() == 1 + others.size()).
FusedNode conv2d_epilogue(Output x, Output kernel, Conv2DOptions options,
                          const std::vector<Output>& others, DType dtype,
                          const FusedProgram& program, OpName name = {});

// Adds conv2d_epilogue to `registry`, which must hold conv2d and fused_elementwise already
// (called by register_builtin_ops).
void register_conv_epilogue_ops(OpRegistry& registry);

}  // namespace dagrad
