// The kernel templates of the unary elementwise ops (see elementwise_kernels.hpp), for the
// elementwise_kernels_*.cpp files only: each instantiates a few of them.
#pragma once

#include <cstdint>

#include "elementwise_kernels.hpp"
#include "kernel_util.hpp"

namespace dagrad::kernels::unary {

// F::apply(x, ctx) returns an xtensor expression of x (a 1-D adaptor); each kernel maps a flat
// (contiguous, SIMD) view of x to y.
template <class F>
struct Unary {
  template <class T>
  static void run(KernelContext& c) {
    auto x = flat<T>(c.input(0));
    auto y = flat<T>(c.output(0));
    xt::noalias(y) = F::template apply<T>(x, c);
  }
};

template <class F>
void set_floating(OpRecord& record) {
  set_kernels<Unary<F>, float, double>(record);
}
template <class F>
void set_signed(OpRecord& record) {
  set_kernels<Unary<F>, float, double, std::int32_t, std::int64_t>(record);
}

#define DAGRAD_UNARY(NAME, EXPR)                         \
  struct NAME {                                          \
    template <class T, class E>                          \
    static auto apply(E&& x, const KernelContext& ctx) { \
      (void)ctx;                                         \
      return EXPR;                                       \
    }                                                    \
  };

DAGRAD_UNARY(Neg, -x)
DAGRAD_UNARY(Abs, xt::abs(x))
DAGRAD_UNARY(Sign, xt::sign(x))
DAGRAD_UNARY(Exp, xt::exp(x))
DAGRAD_UNARY(Log, xt::log(x))
DAGRAD_UNARY(Log1p, xt::log1p(x))
DAGRAD_UNARY(Sqrt, xt::sqrt(x))
DAGRAD_UNARY(Rsqrt, T(1) / xt::sqrt(x))
// clang-format reads this product as a pointer declaration (x* x).
// clang-format off
DAGRAD_UNARY(Square, x * x)
// clang-format on
DAGRAD_UNARY(Reciprocal, T(1) / x)
// xt::where computes both branches; the selected one takes exp of a non-positive number, so it
// never overflows (the other may, e.g. exp(x) = inf gives inf/inf = NaN, but is discarded).
DAGRAD_UNARY(Sigmoid,
             xt::where(x >= T(0), T(1) / (T(1) + xt::exp(-x)), xt::exp(x) / (T(1) + xt::exp(x))))
DAGRAD_UNARY(Tanh, xt::tanh(x))
// Written with comparisons that are false for NaN, so NaN propagates (xsimd's max/min return
// the second operand when either is NaN: relu(NaN) would be 0, hiding a diverged network).
DAGRAD_UNARY(Relu, xt::where(x < T(0), T(0), x))
// softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|), without overflow.
DAGRAD_UNARY(Softplus, xt::maximum(x, T(0)) + xt::log1p(xt::exp(-xt::abs(x))))
// expm1 of where(x > 0, 0, x): the discarded branch never overflows, and NaN stays NaN.
DAGRAD_UNARY(Elu,
             xt::where(x > T(0), x,
                       T(ctx.attrs().get_float("alpha")) * xt::expm1(xt::where(x > T(0), T(0), x))))
DAGRAD_UNARY(Selu,
             T(kSeluScale) *
                 xt::where(x > T(0), x, T(kSeluAlpha) * xt::expm1(xt::where(x > T(0), T(0), x))))
DAGRAD_UNARY(LeakyRelu, xt::where(x > T(0), x, T(ctx.attrs().get_float("alpha")) * x))
#undef DAGRAD_UNARY

}  // namespace dagrad::kernels::unary
