// The kernel of fused_elementwise, whose record lives in fused.cpp, compiled apart in
// fused_kernels.cpp (xsimd). It trusts the program the shape function validated.
#pragma once

#include "dagrad/graph/op_registry.hpp"

namespace dagrad::kernels {

// Dispatches on input 0: float32, float64 and bool (any input may be bool); computes in the
// node's "dtype" attribute.
void set_fused_elementwise_kernels(OpRecord& record);

}  // namespace dagrad::kernels

namespace dagrad::kernels {

// The fused_elementwise kernel itself, for ops that run a program over values of their own
// (matmul_epilogue): reads the program attributes from c.attrs() and the inputs and outputs
// from c, as the fused node would.
void run_fused_elementwise(KernelContext& c);

}  // namespace dagrad::kernels
