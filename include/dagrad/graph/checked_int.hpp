// Checked int64 arithmetic for element counts, byte sizes and shape functions: a dimension or
// count that overflows must become an error, never a wrapped (small) size that a kernel then
// writes past. One place, so that every shape computation uses the same rule.
#pragma once

#include <cstdint>
#include <optional>

namespace dagrad {

// a + b, or nothing when it does not fit an int64.
inline std::optional<std::int64_t> checked_add(std::int64_t a, std::int64_t b) {
  std::int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}

// a * b, or nothing when it does not fit an int64.
inline std::optional<std::int64_t> checked_mul(std::int64_t a, std::int64_t b) {
  std::int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

}  // namespace dagrad
