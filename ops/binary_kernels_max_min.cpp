// Kernels of maximum and minimum (see binary_kernels.hpp).
#include "binary_kernel_templates.hpp"
#include "binary_kernels.hpp"

namespace dagrad::kernels {

void set_maximum_kernels(OpRecord& record) {
  binary::set_numeric<binary::Maximum>(record);
}
void set_minimum_kernels(OpRecord& record) {
  binary::set_numeric<binary::Minimum>(record);
}

}  // namespace dagrad::kernels
