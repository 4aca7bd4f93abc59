// Kernels of neg, abs, sign, square, reciprocal, sqrt and rsqrt (see elementwise_kernels.hpp).
#include "elementwise_kernel_templates.hpp"

namespace dagrad::kernels {

void set_neg_kernels(OpRecord& record) {
  unary::set_signed<unary::Neg>(record);
}
void set_abs_kernels(OpRecord& record) {
  unary::set_signed<unary::Abs>(record);
}
void set_sign_kernels(OpRecord& record) {
  unary::set_signed<unary::Sign>(record);
}
void set_square_kernels(OpRecord& record) {
  unary::set_signed<unary::Square>(record);
}
void set_reciprocal_kernels(OpRecord& record) {
  unary::set_floating<unary::Reciprocal>(record);
}
void set_sqrt_kernels(OpRecord& record) {
  unary::set_floating<unary::Sqrt>(record);
}
void set_rsqrt_kernels(OpRecord& record) {
  unary::set_floating<unary::Rsqrt>(record);
}

}  // namespace dagrad::kernels
