// Kernels of mul (see binary_kernels.hpp).
#include "binary_kernel_templates.hpp"
#include "binary_kernels.hpp"

namespace dagrad::kernels {

void set_mul_kernels(OpRecord& record) {
  binary::set_numeric<binary::Mul>(record);
}

}  // namespace dagrad::kernels
