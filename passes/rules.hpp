// The op-specific passes of the default pipeline (passes/*.cpp): each knows some built-in ops by
// name and rewrites a PlanGraph (include/dagrad/graph/passes.hpp).
#pragma once

#include "dagrad/graph/passes.hpp"

namespace dagrad {

// algebraic_simplification: x*1, 1*x, x+0, 0+x, x-0, x/1, x^1, identity, stop_gradient, double
// negation, transpose of transpose, reshape chains, a reshape or sum_to that changes nothing,
// where with a constant condition, zeros_like/ones_like operands that a scalar can stand for;
// repeated until nothing changes. A rewrite that would make a node read a variable this plan
// writes directly (rather than through the node it bypasses) is not made: the read could move
// across the write.
Pass algebraic_simplification_pass();

// batchnorm_folding: a chain of mul, div, add, sub and neg by invariant per-feature operands
// (constants and variables the plan never writes: an inference BatchNormalization, a
// Normalization) on the input or the output of a 2-D matmul by an invariant kernel, or on the
// output of a conv2d by an invariant kernel (per output channel), folds into that kernel and one
// bias (passes/batchnorm_folding.cpp). Reassociates: results differ from the unfolded plan by
// rounding.
Pass batchnorm_folding_pass();

// softmax_cross_entropy: -sum(t * log_softmax(z), -1) and the gradient chain autodiff builds
// for it become one softmax_cross_entropy node (loss and backprop) and a product by the upstream
// gradient (passes/softmax_cross_entropy.cpp). Reassociates, like batchnorm_folding.
Pass softmax_cross_entropy_pass();

// elementwise_fusion: groups of elementwise nodes of one shape and dtype, and the assign,
// assign_add or assign_sub that ends an optimizer's update of a variable, become one
// fused_elementwise node (passes/fusion.cpp explains the grouping).
Pass elementwise_fusion_pass();

// gemm_epilogue: a 2-D matmul read only by one fused_elementwise node of the product's shape
// becomes one matmul_epilogue node, the GEMM followed by the program (passes/gemm_epilogue.cpp).
Pass gemm_epilogue_pass();

// conv_epilogue: a conv2d read only by one fused_elementwise node of the convolution's shape
// becomes one conv2d_epilogue node, the convolution followed by the program
// (passes/conv_epilogue.cpp).
Pass conv_epilogue_pass();

}  // namespace dagrad
