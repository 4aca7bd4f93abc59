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

namespace dagrad::kernels::binary {

struct Div;

// Integer a / b is undefined for b == 0, and for min / -1 (the quotient overflows; x86 traps).
// Checks the element pairs the division will meet, in one pass over the output.
template <class T>
void check_integer_division(const Tensor& a, const Tensor& b, const Tensor& out) {
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  auto check = [](T x, T y, std::int64_t b_element) {
    if (y == 0)
      throw std::domain_error("integer division by zero (element " + std::to_string(b_element) +
                              " of b)");
    if (y == T(-1) && x == std::numeric_limits<T>::min())
      throw std::domain_error("integer division overflow: " + std::to_string(x) +
                              " / -1 (element " + std::to_string(b_element) + " of b)");
  };
  if (a.shape() == b.shape()) {
    for (std::int64_t i = 0; i < b.size(); ++i) check(pa[i], pb[i], i);
  } else if (b.size() == 1 && out.shape() == a.shape()) {
    // One divisor: zero always fails; -1 fails with any min in a.
    check(T(1), *pb, 0);
    if (*pb == T(-1))
      for (std::int64_t i = 0; i < a.size(); ++i) check(pa[i], *pb, 0);
  } else if (a.size() == 1 && out.shape() == b.shape()) {
    for (std::int64_t i = 0; i < b.size(); ++i) check(*pa, pb[i], i);
  } else {
    BroadcastWalk<2> walk(out.shape(), {&a.shape(), &b.shape()});
    for (std::int64_t e = 0; e < out.size(); ++e, walk.next())
      check(pa[walk.offset(0)], pb[walk.offset(1)], walk.offset(1));
  }
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
    if constexpr (std::is_same_v<F, Div> && std::is_integral_v<T>)
      check_integer_division<T>(a, b, o);
    if (a.shape() == b.shape()) {
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
DAGRAD_BINARY(Add, a + b, a + b)
DAGRAD_BINARY(Sub, a - b, a - b)
// clang-format reads this product as a pointer declaration (a* b).
// clang-format off
DAGRAD_BINARY(Mul, a * b, a * b)
// clang-format on
DAGRAD_BINARY(Div, a / b, a / b)
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
