// The geometry of a 2-D convolution (NHWC input, HWIO kernel, Keras/TensorFlow padding) shared
// by the conv records' shape functions (ops/conv.cpp) and their BLAS kernels
// (ops/conv_kernels.cpp). No xtensor here.
#pragma once

#include <cstdint>

#include "dagrad/graph/attr.hpp"
#include "dagrad/graph/op_registry.hpp"
#include "dagrad/graph/shape.hpp"

namespace dagrad::detail {

// Strides, padding and dilations as read from a conv node's attributes.
struct ConvAttrs {
  std::int64_t stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
  bool same = false;  // padding "same", else "valid"
};
// Reads "strides", "padding" and "dilations"; throws ShapeError naming a bad value (two
// positive strides and dilations, padding "same" or "valid").
ConvAttrs read_conv_attrs(const AttrMap& attrs);

// One spatial axis: the output size and the zero rows added before the input (TensorFlow's
// rule: "same" pads max((out-1)*stride + (k-1)*dilation + 1 - in, 0) in all, the smaller half
// first). in may be Shape::kUnknown, and then so is out. Throws ShapeError when a "valid"
// window (k-1)*dilation+1 is larger than the input.
struct ConvAxis {
  std::int64_t out = 0, pad_before = 0;
};
ConvAxis conv_axis(std::int64_t in, std::int64_t k, std::int64_t stride, std::int64_t dilation,
                   bool same, const char* axis_name);

// Everything a kernel needs, for fully defined shapes.
struct ConvGeometry {
  std::int64_t n = 0, h = 0, w = 0, cin = 0;  // input (N, H, W, C_in)
  std::int64_t kh = 0, kw = 0, cout = 0;      // kernel (KH, KW, C_in, C_out)
  std::int64_t oh = 0, ow = 0;                // output (N, OH, OW, C_out)
  std::int64_t sh = 1, sw = 1, dh = 1, dw = 1, pad_top = 0, pad_left = 0;
};
ConvGeometry conv_geometry(const Shape& input, const Shape& kernel, const ConvAttrs& a);

}  // namespace dagrad::detail

namespace dagrad::kernels {
// float32 and float64 kernels (im2col into BLAS gemm) of conv2d, conv2d_backprop_input and
// conv2d_backprop_filter.
void set_conv2d_kernels(OpRecord& record);
void set_conv2d_backprop_input_kernels(OpRecord& record);
void set_conv2d_backprop_filter_kernels(OpRecord& record);
}  // namespace dagrad::kernels
