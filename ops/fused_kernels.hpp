// The kernel of fused_elementwise, whose record lives in fused.cpp, compiled apart in
// fused_kernels.cpp (xsimd). It trusts the program the shape function validated.
#pragma once

#include "dagrad/graph/op_registry.hpp"

namespace dagrad::kernels {

// Dispatches on input 0: float32, float64 and bool (any input may be bool); computes in the
// node's "dtype" attribute.
void set_fused_elementwise_kernels(OpRecord& record);

}  // namespace dagrad::kernels
