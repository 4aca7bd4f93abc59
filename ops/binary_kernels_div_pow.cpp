// Kernels of div and pow (see binary_kernels.hpp).
#include "binary_kernel_templates.hpp"
#include "binary_kernels.hpp"

namespace dagrad::kernels {

void set_div_kernels(OpRecord& record) {
  binary::set_numeric<binary::Div>(record);
}
void set_pow_kernels(OpRecord& record) {
  set_kernels<binary::Binary<binary::Pow, false>, float, double>(record);
}

}  // namespace dagrad::kernels
