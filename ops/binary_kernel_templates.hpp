// The kernel templates of the binary ops (see binary_kernels.hpp), for the binary_kernels_*.cpp
// files only: each instantiates a few of them, so that no one file compiles them all.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "kernel_util.hpp"
#include "wrapping_int.hpp"

namespace dagrad::kernels::binary {

struct Div;

// Integer a / b is undefined for b == 0: checked before dividing. Broadcasting only repeats
// elements, so a nonempty output meets every element of b. (min / -1, which overflows and traps
// on x86, wraps to min: wrapping::div.)
template <class T>
void check_integer_division(const Tensor& b, const Tensor& out) {
  if (out.size() == 0) return;
  const T* pb = b.data<T>();
  for (std::int64_t i = 0; i < b.size(); ++i)
    if (pb[i] == 0)
      throw std::domain_error("integer division by zero (element " + std::to_string(i) + " of b)");
}

// Broadcasting other than "same shapes" or "one side a single element": a contiguous loop per
// output row (BroadcastRows), with the element function F::scalar, which the compiler
// vectorizes. Plain loops rather than xtensor's broadcasting assignment, which steps an index
// per element, and which xtensor 0.24 + xsimd 8 get wrong for bool results once a row fills a
// SIMD register ((1, 9) against (2, 9) gave wrong comparisons and selections).
template <class F, class T, class R>
void broadcast_rows(const Tensor& a, const Tensor& b, Tensor& out) {
  BroadcastRows<2> rows(out.shape(), {&a.shape(), &b.shape()});
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  R* po = out.data<R>();
  auto n = rows.length();
  bool step_a = rows.inner_stride(0) != 0, step_b = rows.inner_stride(1) != 0;
  for (std::int64_t r = 0; r < rows.rows(); ++r, rows.next_row()) {
    const T* ra = pa + rows.offset(0);
    const T* rb = pb + rows.offset(1);
    R* ro = po + r * n;
    if (step_a && step_b) {  // (b, n) op (n,): the row of b again for every row of a
      for (std::int64_t j = 0; j < n; ++j) ro[j] = static_cast<R>(F::scalar(ra[j], rb[j]));
    } else if (step_a) {  // (b, n) op (b, 1): one element of b per row
      T vb = *rb;
      for (std::int64_t j = 0; j < n; ++j) ro[j] = static_cast<R>(F::scalar(ra[j], vb));
    } else if (step_b) {
      T va = *ra;
      for (std::int64_t j = 0; j < n; ++j) ro[j] = static_cast<R>(F::scalar(va, rb[j]));
    } else {
      std::fill(ro, ro + n, static_cast<R>(F::scalar(*ra, *rb)));
    }
  }
}

// Integers: plain loops over F::scalar (whose arithmetic wraps, wrapping_int.hpp), which the
// compiler vectorizes; xtensor's integer expressions would overflow as undefined behaviour.
template <class F, class T, class R>
void integer_loops(const Tensor& a, const Tensor& b, Tensor& out) {
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  R* po = out.data<R>();
  const std::int64_t n = out.size();
  if (a.shape() == b.shape()) {
    for (std::int64_t i = 0; i < n; ++i) po[i] = static_cast<R>(F::scalar(pa[i], pb[i]));
  } else if (b.size() == 1 && out.shape() == a.shape()) {
    const T vb = *pb;
    for (std::int64_t i = 0; i < n; ++i) po[i] = static_cast<R>(F::scalar(pa[i], vb));
  } else if (a.size() == 1 && out.shape() == b.shape()) {
    const T va = *pa;
    for (std::int64_t i = 0; i < n; ++i) po[i] = static_cast<R>(F::scalar(va, pb[i]));
  } else {
    broadcast_rows<F, T, R>(a, b, out);
  }
}

// F::apply(a, b) is an xtensor expression, F::scalar(a, b) the same function of two elements;
// the output element type is bool for comparisons, else T.
template <class F, bool Compare>
struct Binary {
  template <class T>
  static void run(KernelContext& c) {
    using R = std::conditional_t<Compare, bool, T>;
    const Tensor& a = c.input(0);
    const Tensor& b = c.input(1);
    Tensor& o = c.output(0);
    if constexpr (std::is_same_v<F, Div> && std::is_integral_v<T>) check_integer_division<T>(b, o);
    if constexpr (std::is_integral_v<T>) {
      integer_loops<F, T, R>(a, b, o);
    } else if (a.shape() == b.shape()) {
      auto vo = flat<R>(o);
      xt::noalias(vo) = F::apply(flat<T>(a), flat<T>(b));
    } else if (b.size() == 1 && o.shape() == a.shape()) {
      auto vo = flat<R>(o);
      xt::noalias(vo) = F::apply(flat<T>(a), *b.data<T>());
    } else if (a.size() == 1 && o.shape() == b.shape()) {
      auto vo = flat<R>(o);
      xt::noalias(vo) = F::apply(*a.data<T>(), flat<T>(b));
    } else {
      broadcast_rows<F, T, R>(a, b, o);
    }
  }
};

#define DAGRAD_BINARY(NAME, EXPR, SCALAR) \
  struct NAME {                           \
    template <class A, class B>           \
    static auto apply(A&& a, B&& b) {     \
      return EXPR;                        \
    }                                     \
    template <class T>                    \
    static auto scalar(T a, T b) {        \
      return SCALAR;                      \
    }                                     \
  };
// The scalar forms serve the integer loops and broadcasting: they wrap for integers.
DAGRAD_BINARY(Add, a + b, wrapping::add(a, b))
DAGRAD_BINARY(Sub, a - b, wrapping::sub(a, b))
// clang-format reads this product as a pointer declaration (a* b).
// clang-format off
DAGRAD_BINARY(Mul, a * b, wrapping::mul(a, b))
// clang-format on
DAGRAD_BINARY(Div, a / b, wrapping::div(a, b))
// Not xt::pow: xsimd 8's batched pow maps every zero base to 0 (so 0^0 = 0, 0^-1 = 0).
struct PowFn {
  template <class T>
  T operator()(T a, T b) const {
    return std::pow(a, b);
  }
};
DAGRAD_BINARY(Pow, xt::make_lambda_xfunction(PowFn{}, std::forward<A>(a), std::forward<B>(b)),
              PowFn{}(a, b))
// NaN in either operand gives NaN (as NumPy, TensorFlow and PyTorch); a tie gives a. Not
// xt::maximum: xsimd's max returns its second operand when either is NaN. Called on scalars by
// broadcast_rows and on expressions otherwise (xtensor's == compares whole expressions:
// equal is the elementwise one).
// b == b is false only for NaN. (Not not_equal(b, b): xsimd 8's AVX-512 inequality is an ordered
// comparison, false for NaN.)
template <class E>
auto is_number(E&& e) {
  using D = std::decay_t<E>;
  if constexpr (std::is_floating_point_v<D>)
    return !std::isnan(e);
  else if constexpr (std::is_arithmetic_v<D>)
    return true;
  else
    return xt::equal(e, e);
}
template <class A, class B>
constexpr bool both_scalars =
    std::is_arithmetic_v<std::decay_t<A>>&& std::is_arithmetic_v<std::decay_t<B>>;
template <class A, class B>
auto nan_max(A&& a, B&& b) {
  if constexpr (both_scalars<A, B>)
    return a < b ? b : (is_number(b) ? a : b);
  else
    return xt::where(a < b, b, xt::where(is_number(b), a, b));
}
template <class A, class B>
auto nan_min(A&& a, B&& b) {
  if constexpr (both_scalars<A, B>)
    return b < a ? b : (is_number(b) ? a : b);
  else
    return xt::where(b < a, b, xt::where(is_number(b), a, b));
}
DAGRAD_BINARY(Maximum, nan_max(a, b), nan_max(a, b))
DAGRAD_BINARY(Minimum, nan_min(a, b), nan_min(a, b))
DAGRAD_BINARY(Greater, xt::greater(a, b), a > b)
DAGRAD_BINARY(GreaterEqual, xt::greater_equal(a, b), a >= b)
DAGRAD_BINARY(Less, xt::less(a, b), a < b)
DAGRAD_BINARY(LessEqual, xt::less_equal(a, b), a <= b)
DAGRAD_BINARY(Equal, xt::equal(a, b), a == b)
#undef DAGRAD_BINARY

// The element types of the arithmetic and comparison kernels.
template <class F, bool Compare = false>
void set_numeric(OpRecord& record) {
  set_kernels<Binary<F, Compare>, float, double, std::int32_t, std::int64_t>(record);
}

}  // namespace dagrad::kernels::binary
