// Element types of dagrad tensors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string_view>

namespace dagrad {

enum class DType : std::uint8_t { float32 = 0, float64 = 1, int32 = 2, int64 = 3, boolean = 4 };
inline constexpr int kNumDTypes = 5;

// Size in bytes of one element (bool is stored as one byte).
std::size_t dtype_size(DType dtype);
// "float32", "float64", "int32", "int64", "bool".
std::string_view dtype_name(DType dtype);
// Inverse of dtype_name; throws std::invalid_argument naming the unknown string.
DType dtype_from_name(std::string_view name);

std::ostream& operator<<(std::ostream& os, DType dtype);

inline bool is_floating(DType d) {
  return d == DType::float32 || d == DType::float64;
}
inline bool is_integer(DType d) {
  return d == DType::int32 || d == DType::int64;
}

// The C++ element type of each dtype, and back.
template <class T>
struct dtype_of;
template <>
struct dtype_of<float> {
  static constexpr DType value = DType::float32;
};
template <>
struct dtype_of<double> {
  static constexpr DType value = DType::float64;
};
template <>
struct dtype_of<std::int32_t> {
  static constexpr DType value = DType::int32;
};
template <>
struct dtype_of<std::int64_t> {
  static constexpr DType value = DType::int64;
};
template <>
struct dtype_of<bool> {
  static constexpr DType value = DType::boolean;
};
template <class T>
inline constexpr DType dtype_of_v = dtype_of<T>::value;

}  // namespace dagrad
