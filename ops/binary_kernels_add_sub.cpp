// Kernels of add and sub (see binary_kernels.hpp).
#include "binary_kernel_templates.hpp"
#include "binary_kernels.hpp"

namespace dagrad::kernels {

void set_add_kernels(OpRecord& record) {
  binary::set_numeric<binary::Add>(record);
}
void set_sub_kernels(OpRecord& record) {
  binary::set_numeric<binary::Sub>(record);
}

}  // namespace dagrad::kernels
