// The kernels of the binary op family, whose records live in binary.cpp. They are compiled in
// separate files (binary_kernels_*.cpp, over binary_kernel_templates.hpp) because instantiating
// every xtensor expression of every op and dtype in one file took a minute and 1.7 GB.
// Each function installs kernels for the dtypes listed at it, and nothing else; the record's
// shape function must accept exactly those dtypes.
#pragma once

#include "dagrad/graph/op_registry.hpp"

namespace dagrad::kernels {

// float32, float64, int32, int64 (binary_kernels_add_sub.cpp, binary_kernels_mul.cpp)
void set_add_kernels(OpRecord& record);
void set_sub_kernels(OpRecord& record);
void set_mul_kernels(OpRecord& record);
// float32, float64, int32, int64; integer division checks for b == 0 and min / -1
// (binary_kernels_div_pow.cpp)
void set_div_kernels(OpRecord& record);
// float32, float64 (binary_kernels_div_pow.cpp)
void set_pow_kernels(OpRecord& record);
// float32, float64, int32, int64 (binary_kernels_max_min.cpp)
void set_maximum_kernels(OpRecord& record);
void set_minimum_kernels(OpRecord& record);
// float32, float64, int32, int64 inputs, bool output (binary_kernels_greater.cpp,
// binary_kernels_less.cpp, binary_kernels_equal_where.cpp)
void set_greater_kernels(OpRecord& record);
void set_greater_equal_kernels(OpRecord& record);
void set_less_kernels(OpRecord& record);
void set_less_equal_kernels(OpRecord& record);
void set_equal_kernels(OpRecord& record);
// float32, float64, int32, int64, bool (binary_kernels_equal_where.cpp)
void set_where_kernels(OpRecord& record);
// float32, float64, int32, int64 (binary_kernels_equal_where.cpp)
void set_add_n_kernels(OpRecord& record);

}  // namespace dagrad::kernels
