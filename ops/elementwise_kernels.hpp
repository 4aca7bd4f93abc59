// The kernels of the unary elementwise ops, whose records live in elementwise.cpp. They are
// compiled in separate files (elementwise_kernels_*.cpp, over elementwise_kernel_templates.hpp)
// so that no one file instantiates the xtensor expressions of every op and dtype.
// Each function installs kernels for the dtypes listed at it, and nothing else; the record's
// shape function must accept exactly those dtypes.
#pragma once

#include "dagrad/graph/op_registry.hpp"

namespace dagrad::kernels {

// selu(x) = scale * (x if x > 0 else alpha * (e^x - 1)); the kernel and the gradient rule
// share these constants.
inline constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
inline constexpr double kSeluScale = 1.0507009873554804934193349852946;

// float32, float64, int32, int64 (elementwise_kernels_arith.cpp)
void set_neg_kernels(OpRecord& record);
void set_abs_kernels(OpRecord& record);
void set_sign_kernels(OpRecord& record);
void set_square_kernels(OpRecord& record);
// float32, float64 (elementwise_kernels_arith.cpp)
void set_reciprocal_kernels(OpRecord& record);
void set_sqrt_kernels(OpRecord& record);
void set_rsqrt_kernels(OpRecord& record);
// float32, float64 (elementwise_kernels_exp_log.cpp)
void set_exp_kernels(OpRecord& record);
void set_log_kernels(OpRecord& record);
void set_log1p_kernels(OpRecord& record);
void set_sigmoid_kernels(OpRecord& record);
void set_tanh_kernels(OpRecord& record);
// float32, float64 (elementwise_kernels_activation.cpp)
void set_relu_kernels(OpRecord& record);
void set_softplus_kernels(OpRecord& record);
void set_elu_kernels(OpRecord& record);  // reads the float attribute "alpha"
void set_selu_kernels(OpRecord& record);
void set_leaky_relu_kernels(OpRecord& record);  // reads the float attribute "alpha"

}  // namespace dagrad::kernels
