// What matmul_epilogue (ops/matmul_epilogue.cpp) shares with matmul (ops/linalg.cpp): the shape
// rule and the 2-D product, so that the fused op computes the very bits matmul does.
#pragma once

#include "dagrad/graph/shape.hpp"
#include "dagrad/graph/tensor.hpp"

namespace dagrad {

namespace detail {
// matmul's output shape for a and b (transposed as flagged); throws ShapeError as matmul does.
Shape matmul_shape(const Shape& a, const Shape& b, bool ta, bool tb);
}  // namespace detail

namespace kernels {
// out (m x n, row-major) = op(a) op(b) for 2-D a and b of dtype T: the same BLAS call, thread
// count and empty-product handling as matmul's kernel for those inputs.
template <class T>
void matmul_2d(const Tensor& a, const Tensor& b, bool ta, bool tb, T* out);
}  // namespace kernels

}  // namespace dagrad
