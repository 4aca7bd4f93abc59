// Kernels of relu, softplus, elu, selu and leaky_relu (see elementwise_kernels.hpp).
#include "elementwise_kernel_templates.hpp"

namespace dagrad::kernels {

void set_relu_kernels(OpRecord& record) {
  unary::set_floating<unary::Relu>(record);
}
void set_softplus_kernels(OpRecord& record) {
  unary::set_floating<unary::Softplus>(record);
}
void set_elu_kernels(OpRecord& record) {
  unary::set_floating<unary::Elu>(record);
}
void set_selu_kernels(OpRecord& record) {
  unary::set_floating<unary::Selu>(record);
}
void set_leaky_relu_kernels(OpRecord& record) {
  unary::set_floating<unary::LeakyRelu>(record);
}

}  // namespace dagrad::kernels
