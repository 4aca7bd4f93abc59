// float32 2-D convolutions through oneDNN's convolution primitives (internal to the conv kernels
// of ops/conv_kernels.cpp). Compiled in when CMake finds oneDNN (DAGRAD_HAVE_DNNL); without it,
// or with DAGRAD_ONEDNN=0 in the environment, dnnl_conv2d declines and the caller unrolls windows
// into BLAS products (the path float64 always takes).
//
// Why: the cnn preset's training step spent about half its time in im2col + sgemm (perf, batch
// 256); oneDNN's direct convolutions read NHWC without unrolling (bench/README.md, "cnn").
#pragma once

#include "conv_kernels.hpp"

namespace dagrad::kernels {

enum class ConvPass {
  Forward,         // out (N, OH, OW, C_out) = conv(a = x, b = kernel)
  BackwardData,    // out (N, H, W, C_in) = conv2d_backprop_input(a = dy, b = kernel)
  BackwardWeights  // out (KH, KW, C_in, C_out) = conv2d_backprop_filter(a = x, b = dy)
};

// Runs `pass` of the convolution of geometry g (NHWC activations, HWIO kernel, all dense
// row-major) on `threads` threads (the batch split between them), overwriting out. Returns false
// (and touches nothing) without oneDNN, or when oneDNN has no primitive for the geometry.
// Primitives are made once per geometry and thread and kept (thread-local).
bool dnnl_conv2d(ConvPass pass, const detail::ConvGeometry& g, const float* a, const float* b,
                 float* out, int threads);

}  // namespace dagrad::kernels
