// Elementwise math on xsimd batches (xsimd::batch<T>, the default architecture, as the
// XTENSOR_USE_XSIMD build uses), shared by the unary kernels and the fused elementwise kernel so
// that an op gives bit-identical results in both. Include only from kernel .cpp files.
//
// Each function's result for an element depends on that element's operands only: apply() runs
// the same batch function on a zero-padded batch for the last n % lanes elements (never a scalar
// libm fallback), so a value does not depend on its position in the array. NaN propagates as in
// the op's documentation: comparisons that are false for NaN choose the NaN branch, and NaN is
// tested as !(x == x) (xsimd's max/min return the other operand for NaN, and xsimd 8's AVX-512
// != is an ordered comparison, false for NaN).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <utility>
#include <xsimd/xsimd.hpp>

#include "elementwise_kernels.hpp"  // kSeluAlpha, kSeluScale

namespace dagrad::kernels::vmath {

template <class T>
using Batch = xsimd::batch<T>;
template <class T>
inline constexpr std::size_t kLanes = Batch<T>::size;
inline constexpr std::size_t kAlignment = xsimd::default_arch::alignment();

// ---- unary -------------------------------------------------------------------------------

template <class T>
Batch<T> neg(const Batch<T>& x) {
  return -x;
}
template <class T>
Batch<T> abs(const Batch<T>& x) {
  return xsimd::abs(x);
}
// -1 or 1 by the sign bit, x itself for +-0, and a (positive quiet) NaN for NaN, as xt::sign.
template <class T>
Batch<T> sign(const Batch<T>& x) {
  Batch<T> r = xsimd::select(x == Batch<T>(T(0)), x, xsimd::copysign(Batch<T>(T(1)), x));
  return xsimd::select(x == x, r, Batch<T>(std::numeric_limits<T>::quiet_NaN()));
}
template <class T>
Batch<T> exp(const Batch<T>& x) {
  return xsimd::exp(x);
}
template <class T>
Batch<T> log(const Batch<T>& x) {
  return xsimd::log(x);
}
template <class T>
Batch<T> log1p(const Batch<T>& x) {
  return xsimd::log1p(x);
}
template <class T>
Batch<T> sqrt(const Batch<T>& x) {
  return xsimd::sqrt(x);
}
// An exact division, not xsimd::rsqrt (an approximation).
template <class T>
Batch<T> rsqrt(const Batch<T>& x) {
  return Batch<T>(T(1)) / xsimd::sqrt(x);
}
template <class T>
Batch<T> square(const Batch<T>& x) {
  return x * x;
}
// An exact division, not xsimd::reciprocal (an approximation).
template <class T>
Batch<T> reciprocal(const Batch<T>& x) {
  return Batch<T>(T(1)) / x;
}
// 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) otherwise: both with e = e^-|x| <= 1, so nothing
// overflows (one exp for both); NaN takes the second branch and stays NaN.
template <class T>
Batch<T> sigmoid(const Batch<T>& x) {
  Batch<T> one(T(1));
  Batch<T> e = xsimd::exp(-xsimd::abs(x));
  return xsimd::select(x >= Batch<T>(T(0)), one / (one + e), e / (one + e));
}
template <class T>
Batch<T> tanh(const Batch<T>& x) {
  return xsimd::tanh(x);
}
// x < 0 is false for NaN (and -0), so NaN stays NaN.
template <class T>
Batch<T> relu(const Batch<T>& x) {
  return xsimd::select(x < Batch<T>(T(0)), Batch<T>(T(0)), x);
}
// log(1 + e^x) = max(x, 0) + log1p(e^-|x|), without overflow; NaN: 0 + NaN.
template <class T>
Batch<T> softplus(const Batch<T>& x) {
  Batch<T> zero(T(0));
  return xsimd::select(x > zero, x, zero) + xsimd::log1p(xsimd::exp(-xsimd::abs(x)));
}
// x if x > 0 else alpha * expm1(x); expm1 sees min(x, 0), so the discarded branch never
// overflows, and NaN stays NaN.
template <class T>
Batch<T> elu(const Batch<T>& x, T alpha) {
  Batch<T> zero(T(0));
  auto positive = x > zero;
  return xsimd::select(positive, x,
                       Batch<T>(alpha) * xsimd::expm1(xsimd::select(positive, zero, x)));
}
// scale * (x if x > 0 else alpha * expm1(x)), with selu's scale and alpha.
template <class T>
Batch<T> selu(const Batch<T>& x) {
  Batch<T> zero(T(0));
  auto positive = x > zero;
  Batch<T> negative = Batch<T>(T(kSeluAlpha)) * xsimd::expm1(xsimd::select(positive, zero, x));
  return Batch<T>(T(kSeluScale)) * xsimd::select(positive, x, negative);
}
template <class T>
Batch<T> leaky_relu(const Batch<T>& x, T alpha) {
  return xsimd::select(x > Batch<T>(T(0)), x, Batch<T>(alpha) * x);
}
// Comparisons false for NaN: NaN stays NaN (xsimd's max/min would turn it into a bound).
template <class T>
Batch<T> clip(const Batch<T>& x, T lo, T hi) {
  Batch<T> l(lo), h(hi);
  return xsimd::select(x < l, l, xsimd::select(x > h, h, x));
}

// ---- binary ------------------------------------------------------------------------------

template <class T>
Batch<T> add(const Batch<T>& a, const Batch<T>& b) {
  return a + b;
}
template <class T>
Batch<T> sub(const Batch<T>& a, const Batch<T>& b) {
  return a - b;
}
template <class T>
Batch<T> mul(const Batch<T>& a, const Batch<T>& b) {
  return a * b;
}
template <class T>
Batch<T> div(const Batch<T>& a, const Batch<T>& b) {
  return a / b;
}
// NaN in either operand gives NaN; a tie gives a (as the maximum and minimum kernels).
template <class T>
Batch<T> maximum(const Batch<T>& a, const Batch<T>& b) {
  return xsimd::select(a < b, b, xsimd::select(b == b, a, b));
}
template <class T>
Batch<T> minimum(const Batch<T>& a, const Batch<T>& b) {
  return xsimd::select(b < a, b, xsimd::select(b == b, a, b));
}
// std::pow lane by lane: xsimd 8's batched pow maps every zero base to 0 (0^0 = 0, 0^-1 = 0).
template <class T>
Batch<T> pow(const Batch<T>& a, const Batch<T>& b) {
  alignas(kAlignment) std::array<T, kLanes<T>> x, y;
  a.store_aligned(x.data());
  b.store_aligned(y.data());
  for (std::size_t i = 0; i < kLanes<T>; ++i) x[i] = std::pow(x[i], y[i]);
  return Batch<T>::load_aligned(x.data());
}
// Comparisons give 1 or 0 in T.
template <class T>
Batch<T> from_mask(const xsimd::batch_bool<T>& m) {
  return xsimd::select(m, Batch<T>(T(1)), Batch<T>(T(0)));
}
template <class T>
Batch<T> greater(const Batch<T>& a, const Batch<T>& b) {
  return from_mask<T>(a > b);
}
template <class T>
Batch<T> greater_equal(const Batch<T>& a, const Batch<T>& b) {
  return from_mask<T>(a >= b);
}
template <class T>
Batch<T> less(const Batch<T>& a, const Batch<T>& b) {
  return from_mask<T>(a < b);
}
template <class T>
Batch<T> less_equal(const Batch<T>& a, const Batch<T>& b) {
  return from_mask<T>(a <= b);
}
template <class T>
Batch<T> equal(const Batch<T>& a, const Batch<T>& b) {
  return from_mask<T>(a == b);
}
// cond ? a : b, where any nonzero cond (NaN included) is true.
template <class T>
Batch<T> where(const Batch<T>& cond, const Batch<T>& a, const Batch<T>& b) {
  return xsimd::select(!(cond == Batch<T>(T(0))), a, b);
}

// ---- applying a batch function to arrays -------------------------------------------------

// y[i] = f(in[0][i], in[1][i], ...) for i < n. Whole batches are loaded unaligned; the last
// n % lanes elements go through f on zero-padded batches. y may be one of the inputs (the same
// pointer, not an overlapping offset).
template <class T, std::size_t N, class F>
void apply(F&& f, T* y, std::size_t n, const std::array<const T*, N>& in) {
  constexpr std::size_t L = kLanes<T>;
  std::size_t i = 0;
  auto at = [&]<std::size_t... K>(std::index_sequence<K...>, std::size_t offset) {
    return f(Batch<T>::load_unaligned(in[K] + offset)...);
  };
  for (; i + L <= n; i += L) at(std::make_index_sequence<N>{}, i).store_unaligned(y + i);
  if (i == n) return;
  std::size_t rest = n - i;
  alignas(kAlignment) std::array<std::array<T, L>, N + 1> pad{};
  for (std::size_t k = 0; k < N; ++k) std::copy(in[k] + i, in[k] + n, pad[k].begin());
  auto padded = [&]<std::size_t... K>(std::index_sequence<K...>) {
    return f(Batch<T>::load_aligned(pad[K].data())...);
  };
  padded(std::make_index_sequence<N>{}).store_aligned(pad[N].data());
  std::copy(pad[N].begin(), pad[N].begin() + static_cast<std::ptrdiff_t>(rest), y + i);
}

// The one-, two- and three-operand forms.
template <class T, class F>
void apply(F&& f, T* y, std::size_t n, const T* x) {
  apply<T, 1>(std::forward<F>(f), y, n, std::array<const T*, 1>{x});
}
template <class T, class F>
void apply(F&& f, T* y, std::size_t n, const T* a, const T* b) {
  apply<T, 2>(std::forward<F>(f), y, n, std::array<const T*, 2>{a, b});
}
template <class T, class F>
void apply(F&& f, T* y, std::size_t n, const T* a, const T* b, const T* c) {
  apply<T, 3>(std::forward<F>(f), y, n, std::array<const T*, 3>{a, b, c});
}

}  // namespace dagrad::kernels::vmath
