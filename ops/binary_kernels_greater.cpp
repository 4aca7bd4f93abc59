// Kernels of greater and greater_equal (see binary_kernels.hpp).
#include "binary_kernel_templates.hpp"
#include "binary_kernels.hpp"

namespace dagrad::kernels {

void set_greater_kernels(OpRecord& record) {
  binary::set_numeric<binary::Greater, true>(record);
}
void set_greater_equal_kernels(OpRecord& record) {
  binary::set_numeric<binary::GreaterEqual, true>(record);
}

}  // namespace dagrad::kernels
