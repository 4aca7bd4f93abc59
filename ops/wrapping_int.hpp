// Integer arithmetic of the kernels: two's complement wrap-around, without undefined behaviour.
// Signed overflow is undefined in C++ (and UBSan reports it), so each operation is done in the
// unsigned type, where it is defined modulo 2^bits, and converted back (defined since C++20).
// Division by zero stays an error the kernel reports before dividing; min / -1 wraps to min
// (there is no modulo op; one would define min % -1 as 0). Reductions and scatter_add follow the
// same rule (wrapping::add).
#pragma once

#include <limits>
#include <type_traits>

namespace dagrad::kernels::wrapping {

template <class T>
using U = std::make_unsigned_t<T>;

// For floating T these are the plain operations, so a kernel can call them for every dtype.
template <class T>
T add(T a, T b) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
    return static_cast<T>(static_cast<U<T>>(a) + static_cast<U<T>>(b));
  else
    return a + b;
}
template <class T>
T sub(T a, T b) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
    return static_cast<T>(static_cast<U<T>>(a) - static_cast<U<T>>(b));
  else
    return a - b;
}
template <class T>
T mul(T a, T b) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    // In at least unsigned int: a type narrower than int would promote to (signed) int.
    using W = std::common_type_t<U<T>, unsigned>;
    return static_cast<T>(static_cast<W>(static_cast<U<T>>(a)) *
                          static_cast<W>(static_cast<U<T>>(b)));
  } else {
    return a * b;
  }
}
template <class T>
T neg(T a) {
  if constexpr (std::is_integral_v<T>)
    return static_cast<T>(U<T>(0) - static_cast<U<T>>(a));
  else
    return -a;
}
// abs(min) is min: the negation wraps.
template <class T>
T abs(T a) {
  if constexpr (std::is_integral_v<T>)
    return a < 0 ? neg(a) : a;
  else
    return a < 0 ? -a : a;
}
// Requires b != 0 for integers (the kernel checks first); min / -1 wraps to min.
template <class T>
T div(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    if (b == T(-1)) return neg(a);
    return static_cast<T>(a / b);
  } else {
    return a / b;
  }
}
}  // namespace dagrad::kernels::wrapping
