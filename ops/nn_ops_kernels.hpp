// The kernels of the nn ops, whose records live in nn_ops.cpp, compiled apart in
// nn_ops_kernels.cpp so that the record file needs no xtensor. Each function installs kernels
// for the dtypes listed at it; the record's shape function must accept exactly those dtypes.
#pragma once

#include "dagrad/graph/op_registry.hpp"

namespace dagrad::kernels {

// float32, float64; read the int attribute "axis"
void set_softmax_kernels(OpRecord& record);
void set_log_softmax_kernels(OpRecord& record);
// float32, float64, int32, int64; read the float attributes "clip_min" and "clip_max"
void set_clip_by_value_kernels(OpRecord& record);

}  // namespace dagrad::kernels
