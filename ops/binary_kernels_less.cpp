// Kernels of less and less_equal (see binary_kernels.hpp).
#include "binary_kernel_templates.hpp"
#include "binary_kernels.hpp"

namespace dagrad::kernels {

void set_less_kernels(OpRecord& record) {
  binary::set_numeric<binary::Less, true>(record);
}
void set_less_equal_kernels(OpRecord& record) {
  binary::set_numeric<binary::LessEqual, true>(record);
}

}  // namespace dagrad::kernels
