// Helpers for kernels: xtensor adaptors over a Tensor's buffer. Include only from kernel .cpp
// files (xtensor is heavy to compile; public headers never include it).
#pragma once

#include <cstddef>
#include <xtensor/xadapt.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xnoalias.hpp>
#include <xtensor/xoperation.hpp>

#include "dagrad/graph/op_registry.hpp"
#include "dagrad/graph/tensor.hpp"

namespace dagrad::kernels {

using xshape = xt::dynamic_shape<std::size_t>;  // small-buffer: no heap use up to rank 4

inline xshape to_xshape(const Shape& s) {
  xshape out(static_cast<std::size_t>(s.rank()));
  for (int i = 0; i < s.rank(); ++i) out[static_cast<std::size_t>(i)] = static_cast<std::size_t>(s[i]);
  return out;
}

// The elements of t as a 1-D contiguous xtensor expression (SIMD-friendly).
template <class T>
auto flat(const Tensor& t) {
  return xt::adapt(t.data<T>(), static_cast<std::size_t>(t.size()), xt::no_ownership(),
                   std::array<std::size_t, 1>{static_cast<std::size_t>(t.size())});
}

// t with its own shape (row-major), for broadcasting and axis work.
template <class T>
auto view(const Tensor& t) {
  return xt::adapt(t.data<T>(), static_cast<std::size_t>(t.size()), xt::no_ownership(),
                   to_xshape(t.shape()));
}

// Sets kernels[dtype] = &F::run<T> for every listed element type.
template <class F, class... Ts>
void set_kernels(OpRecord& record) {
  ((record.kernels[static_cast<std::size_t>(dtype_of_v<Ts>)] = &F::template run<Ts>), ...);
}

}  // namespace dagrad::kernels
