// Helpers shared by the shape ops (shape.cpp) and the indexing ops (indexing.cpp): the
// strided-copy routine their kernels are built on, index-tensor access, and record building.
//
// Kernels run once per step of a cached plan and must not allocate: strides, dimensions and
// odometer indices live in fixed-size arrays (rank up to kMaxRank), which the shape functions
// enforce with a ShapeError at build time.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "dagrad/graph/checked_int.hpp"
#include "kernel_util.hpp"
#include "op_util.hpp"

namespace dagrad::shape_util {

inline constexpr int kMaxRank = 8;
// Per-axis integers of a tensor of rank <= kMaxRank (unused entries are 0).
using Dims = std::array<std::int64_t, kMaxRank>;

using detail::ints_to_string;

// For shape functions: the kernels of `op` index with fixed-size arrays.
inline void expect_max_rank(const Shape& s, const char* what) {
  if (s.rank() > kMaxRank)
    throw ShapeError(std::string(what) + " has rank " + std::to_string(s.rank()) + " " +
                     s.to_string() + "; this op supports rank up to " + std::to_string(kMaxRank));
}

// For shape functions: a + b, or a ShapeError saying `what` overflows (never a wrapped size).
inline std::int64_t add_dims(std::int64_t a, std::int64_t b, const std::string& what) {
  auto sum = checked_add(a, b);
  if (!sum)
    throw ShapeError(what + ": " + std::to_string(a) + " + " + std::to_string(b) +
                     " overflows an int64");
  return *sum;
}
inline std::int64_t mul_dims(std::int64_t a, std::int64_t b, const std::string& what) {
  auto product = checked_mul(a, b);
  if (!product)
    throw ShapeError(what + ": " + std::to_string(a) + " * " + std::to_string(b) +
                     " overflows an int64");
  return *product;
}

// For kernels (a guard for direct calls; the shape function rejects these first).
inline void check_kernel_rank(int rank) {
  if (rank > kMaxRank)
    throw std::invalid_argument("rank " + std::to_string(rank) +
                                " exceeds the supported maximum of " + std::to_string(kMaxRank));
}

inline Dims dims_of(const Shape& s) {
  check_kernel_rank(s.rank());
  Dims d{};
  for (int i = 0; i < s.rank(); ++i) d[static_cast<std::size_t>(i)] = s[i];
  return d;
}

// Row-major element strides of a fully defined shape.
inline Dims strides_of(const Shape& s) {
  check_kernel_rank(s.rank());
  Dims strides{};
  std::int64_t step = 1;
  for (int i = s.rank() - 1; i >= 0; --i) {
    strides[static_cast<std::size_t>(i)] = step;
    step *= s[i];
  }
  return strides;
}

// Copies the elements of an index space of shape dims[0..rank): element (i0, i1, ...) goes from
// src + sum(i_k * src_strides[k]) to dst + sum(i_k * dst_strides[k]). A source stride of 0
// repeats (broadcasts) along that axis. Offsets are integers, so stepping past the end of a
// buffer while the odometer carries is harmless.
template <class T>
void strided_copy(T* dst, const Dims& dst_strides, const T* src, const Dims& src_strides, int rank,
                  const Dims& dims) {
  if (rank == 0) {
    *dst = *src;
    return;
  }
  for (int i = 0; i < rank; ++i)
    if (dims[static_cast<std::size_t>(i)] == 0) return;
  const auto last = static_cast<std::size_t>(rank - 1);
  const std::int64_t inner = dims[last], src_inner = src_strides[last],
                     dst_inner = dst_strides[last];
  Dims index{};  // odometer over the axes before the last
  std::int64_t src_offset = 0, dst_offset = 0;
  for (;;) {
    if (dst_inner == 1 && src_inner == 1) {
      std::copy_n(src + src_offset, inner, dst + dst_offset);
    } else if (dst_inner == 1 && src_inner == 0) {
      std::fill_n(dst + dst_offset, inner, src[src_offset]);
    } else {
      for (std::int64_t i = 0; i < inner; ++i)
        dst[dst_offset + i * dst_inner] = src[src_offset + i * src_inner];
    }
    std::size_t axis = last;
    for (;;) {
      if (axis == 0) return;
      --axis;
      src_offset += src_strides[axis];
      dst_offset += dst_strides[axis];
      if (++index[axis] < dims[axis]) break;
      src_offset -= src_strides[axis] * dims[axis];
      dst_offset -= dst_strides[axis] * dims[axis];
      index[axis] = 0;
    }
  }
}

// Value conversion without undefined behaviour: float to integer truncates toward zero,
// saturates out-of-range values and maps NaN to 0; anything to bool is "!= 0".
template <class To, class From>
To convert_value(From v) {
  if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
    if (std::isnan(v)) return To(0);
    // min() is -2^k and max() + 1 is 2^k: both exact in any floating type.
    if (v <= static_cast<From>(std::numeric_limits<To>::min()))
      return std::numeric_limits<To>::min();
    if (v >= -static_cast<From>(std::numeric_limits<To>::min()))
      return std::numeric_limits<To>::max();
    return static_cast<To>(v);
  } else if constexpr (std::is_same_v<To, float> && std::is_same_v<From, double>) {
    // Finite doubles beyond float's range become infinities explicitly (else undefined).
    constexpr double kMax = std::numeric_limits<float>::max();
    if (v > kMax) return std::numeric_limits<float>::infinity();
    if (v < -kMax) return -std::numeric_limits<float>::infinity();
    return static_cast<float>(v);
  } else {
    return static_cast<To>(v);
  }
}

// An attribute value that becomes an element of `dtype` follows the scalar rule
// (detail::scalar_misfit): the kernel never truncates it or converts an out-of-range double.
inline void check_fits(double v, DType dtype, const char* attr) {
  if (std::string why = detail::scalar_misfit(v, dtype); !why.empty())
    throw ShapeError("attribute '" + std::string(attr) + "': " + why);
}

// Calls f(pointer) with the elements of an int32 or int64 index tensor.
template <class F>
void with_indices(const Tensor& t, F&& f) {
  if (t.dtype() == DType::int32)
    f(static_cast<const std::int32_t*>(t.data<std::int32_t>()));
  else
    f(static_cast<const std::int64_t*>(t.data<std::int64_t>()));
}

inline void expect_index_dtype(const ShapeContext& ctx, int i, const char* what) {
  if (!is_integer(ctx.input_dtype(i)))
    throw ShapeError(std::string(what) + " (input " + std::to_string(i) +
                     ") must be int32 or int64, got " +
                     std::string(dtype_name(ctx.input_dtype(i))));
}

// Every dtype: these ops only move or produce elements.
template <class K>
void set_all_kernels(OpRecord& r) {
  kernels::set_kernels<K, float, double, std::int32_t, std::int64_t, bool>(r);
}

// A record with kernel K for every dtype; the caller adds the gradient rule and its
// gradient-check samples (or a not-differentiable reason) before registering it.
template <class K>
OpRecord make_record(const char* name, std::vector<std::string> inputs, std::vector<AttrSpec> attrs,
                     ShapeFn shape_fn, const char* summary) {
  OpRecord r;
  r.name = name;
  r.input_names = std::move(inputs);
  r.attrs = std::move(attrs);
  r.shape_fn = std::move(shape_fn);
  set_all_kernels<K>(r);
  r.summary = summary;
  return r;
}

using Ints = std::vector<std::int64_t>;

}  // namespace dagrad::shape_util
