// Kernels of exp, log, log1p, sigmoid and tanh (see elementwise_kernels.hpp).
#include "elementwise_kernel_templates.hpp"

namespace dagrad::kernels {

void set_exp_kernels(OpRecord& record) {
  unary::set_floating<unary::Exp>(record);
}
void set_log_kernels(OpRecord& record) {
  unary::set_floating<unary::Log>(record);
}
void set_log1p_kernels(OpRecord& record) {
  unary::set_floating<unary::Log1p>(record);
}
void set_sigmoid_kernels(OpRecord& record) {
  unary::set_floating<unary::Sigmoid>(record);
}
void set_tanh_kernels(OpRecord& record) {
  unary::set_floating<unary::Tanh>(record);
}

}  // namespace dagrad::kernels
