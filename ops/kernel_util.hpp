// Helpers for kernels: xtensor adaptors over a Tensor's buffer. Include only from kernel .cpp
// files (xtensor is heavy to compile; public headers never include it).
#pragma once

#include <array>
#include <cstddef>
#include <stdexcept>
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
  for (int i = 0; i < s.rank(); ++i)
    out[static_cast<std::size_t>(i)] = static_cast<std::size_t>(s[i]);
  return out;
}

// n contiguous elements from p as a 1-D xtensor expression (a row of a larger buffer).
template <class T>
auto flat_at(T* p, std::size_t n) {
  return xt::adapt(p, n, xt::no_ownership(), std::array<std::size_t, 1>{n});
}

// The elements of t as a 1-D contiguous xtensor expression (SIMD-friendly).
template <class T>
auto flat(const Tensor& t) {
  return flat_at(t.data<T>(), static_cast<std::size_t>(t.size()));
}

// t with its own shape (row-major), for broadcasting and axis work.
template <class T>
auto view(const Tensor& t) {
  return xt::adapt(t.data<T>(), static_cast<std::size_t>(t.size()), xt::no_ownership(),
                   to_xshape(t.shape()));
}

// Offsets into N inputs broadcast (NumPy rules) to an output shape, advanced element by element
// in the output's row-major order.
template <std::size_t N>
class BroadcastWalk {
 public:
  static constexpr int kMaxRank = 8;
  BroadcastWalk(const Shape& out, std::array<const Shape*, N> inputs) : out_(out) {
    if (out.rank() > kMaxRank) throw std::invalid_argument("broadcasting supports rank up to 8");
    for (std::size_t k = 0; k < N; ++k) {
      const Shape& s = *inputs[k];
      std::int64_t step = 1;
      for (int i = s.rank() - 1; i >= 0; --i) {
        strides_[k][static_cast<std::size_t>(out.rank() - s.rank() + i)] = s[i] == 1 ? 0 : step;
        step *= s[i];
      }
    }
  }
  std::int64_t offset(std::size_t k) const { return offset_[k]; }
  void next() {
    for (int d = out_.rank() - 1; d >= 0; --d) {
      auto ud = static_cast<std::size_t>(d);
      for (std::size_t k = 0; k < N; ++k) offset_[k] += strides_[k][ud];
      if (++index_[ud] < out_[d]) return;
      for (std::size_t k = 0; k < N; ++k) offset_[k] -= strides_[k][ud] * out_[d];
      index_[ud] = 0;
    }
  }

 private:
  const Shape& out_;
  std::array<std::array<std::int64_t, kMaxRank>, N> strides_{};
  std::array<std::int64_t, kMaxRank> index_{};
  std::array<std::int64_t, N> offset_{};
};

// N inputs broadcast (NumPy rules) to an output shape, seen as rows of the output: dims of size
// 1 dropped, and neighbouring dims merged wherever every input steps through both as through one
// (all of them kept, or broadcast, alike). Along the last merged dim, the row, each input either
// steps by one element or stays on one (inner_stride 0 or 1), so a kernel runs a contiguous loop
// per row instead of walking index by index: (b, n) op (n,) is b rows of n with the (n,) input
// restarting each row, (b, n) op (b, 1) is b rows with one element of the (b, 1) input per row.
// Rows are visited in the output's row-major order; the output's row r starts at r * length().
template <std::size_t N>
class BroadcastRows {
 public:
  static constexpr int kMaxRank = 8;
  BroadcastRows(const Shape& out, std::array<const Shape*, N> inputs) {
    if (out.rank() > kMaxRank) throw std::invalid_argument("broadcasting supports rank up to 8");
    std::array<std::array<std::int64_t, kMaxRank>, N> strides{};
    for (std::size_t k = 0; k < N; ++k) {
      const Shape& s = *inputs[k];
      std::int64_t step = 1;
      for (int i = s.rank() - 1; i >= 0; --i) {
        strides[k][static_cast<std::size_t>(out.rank() - s.rank() + i)] = s[i] == 1 ? 0 : step;
        step *= s[i];
      }
    }
    for (int i = 0; i < out.rank(); ++i) {
      auto ui = static_cast<std::size_t>(i);
      if (out[i] == 1) continue;
      bool merge = dims_ > 0;
      for (std::size_t k = 0; k < N && merge; ++k)
        merge = strides_[k][dims_ - 1] == strides[k][ui] * out[i];
      if (!merge) ++dims_;
      size_[dims_ - 1] = merge ? size_[dims_ - 1] * out[i] : out[i];
      for (std::size_t k = 0; k < N; ++k) strides_[k][dims_ - 1] = strides[k][ui];
    }
    if (dims_ == 0) {  // a single element: one row of one, every input on its only element
      dims_ = 1;
      size_[0] = 1;
    }
    rows_ = 1;
    for (std::size_t d = 0; d + 1 < dims_; ++d) rows_ *= size_[d];
    if (size_[dims_ - 1] == 0) rows_ = 0;
  }
  std::int64_t rows() const { return rows_; }
  std::int64_t length() const { return size_[dims_ - 1]; }
  // 1 when input k steps along a row, 0 when it repeats one element.
  std::int64_t inner_stride(std::size_t k) const { return strides_[k][dims_ - 1]; }
  // Input k's element at the start of the current row.
  std::int64_t offset(std::size_t k) const { return offset_[k]; }
  void next_row() {
    for (std::size_t d = dims_ - 1; d-- > 0;) {
      for (std::size_t k = 0; k < N; ++k) offset_[k] += strides_[k][d];
      if (++index_[d] < size_[d]) return;
      for (std::size_t k = 0; k < N; ++k) offset_[k] -= strides_[k][d] * size_[d];
      index_[d] = 0;
    }
  }

 private:
  std::size_t dims_ = 0;
  std::int64_t rows_ = 0;
  std::array<std::int64_t, kMaxRank> size_{};
  std::array<std::array<std::int64_t, kMaxRank>, N> strides_{};
  std::array<std::int64_t, kMaxRank> index_{};
  std::array<std::int64_t, N> offset_{};
};

// Sets kernels[dtype] = &F::run<T> for every listed element type.
template <class F, class... Ts>
void set_kernels(OpRecord& record) {
  ((record.kernels[static_cast<std::size_t>(dtype_of_v<Ts>)] = &F::template run<Ts>), ...);
}

}  // namespace dagrad::kernels
