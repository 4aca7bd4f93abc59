// Kernels of softmax, log_softmax and clip_by_value (see nn_ops_kernels.hpp).
#include "nn_ops_kernels.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>

#include "kernel_util.hpp"
#include "op_util.hpp"
#include "vector_math.hpp"

namespace dagrad::kernels {

namespace {

// softmax(x)_i = e^(x_i - m) / sum_j e^(x_j - m), m = max_j x_j (so no exp overflows);
// log_softmax(x)_i = x_i - m - log(sum_j e^(x_j - m)).
template <bool Log>
struct Softmax {
  template <class T>
  static void run(KernelContext& c) {
    const Tensor& x = c.input(0);
    Tensor& y = c.output(0);
    if (y.size() == 0) return;
    int axis = detail::normalize_axis(c.attrs().get_int("axis"), x.shape().rank());
    detail::AxisSplit s = detail::split_at(x.shape(), axis);
    const T* in = x.data<T>();
    T* out = y.data<T>();
    if (s.inner == 1) {
      // The common case (last axis): each softmax is a contiguous row.
      for (std::size_t o = 0; o < s.outer; ++o) {
        auto xr = flat_at(in + o * s.n, s.n);
        auto yr = flat_at(out + o * s.n, s.n);
        T m = *std::max_element(in + o * s.n, in + (o + 1) * s.n);
        xt::noalias(yr) = xt::exp(xr - m);
        double total = 0;
        for (std::size_t i = 0; i < s.n; ++i) total += static_cast<double>(yr[i]);
        // (x - m) is exact for nearby values; folding m + log(total) into one T first would
        // round it at the magnitude of m (about 6e-5 at 1000 in float32).
        if constexpr (Log)
          xt::noalias(yr) = (xr - m) - static_cast<T>(std::log(total));
        else
          yr *= static_cast<T>(1.0 / total);
      }
      return;
    }
    // Softmax over a middle axis: each of the `inner` columns of an (n, inner) block is one
    // softmax. Working row by row keeps memory access contiguous and SIMD; without scratch
    // memory, output row 0 holds the max m and row n-1 the log-sum L until the other rows are
    // done, then those two rows are finished column by column.
    for (std::size_t o = 0; o < s.outer; ++o) {
      const T* xb = in + o * s.n * s.inner;
      T* yb = out + o * s.n * s.inner;
      auto x_row = [&](std::size_t i) { return flat_at(xb + i * s.inner, s.inner); };
      auto y_row = [&](std::size_t i) { return flat_at(yb + i * s.inner, s.inner); };
      auto m = y_row(0);
      xt::noalias(m) = x_row(0);
      for (std::size_t i = 1; i < s.n; ++i) xt::noalias(m) = xt::maximum(m, x_row(i));
      if (s.n == 1) {  // log(e^(x - m)) = 0
        if constexpr (Log)
          xt::noalias(m) = x_row(0) - m;
        else
          xt::noalias(m) = xt::exp(x_row(0) - m);
        continue;
      }
      auto lsum = y_row(s.n - 1);
      xt::noalias(lsum) = xt::exp(x_row(s.n - 1) - m);
      for (std::size_t i = 0; i + 1 < s.n; ++i) xt::noalias(lsum) += xt::exp(x_row(i) - m);
      xt::noalias(lsum) = xt::log(lsum);  // L = log(sum_j e^(x_j - m))
      for (std::size_t i = 1; i + 1 < s.n; ++i) {
        auto yi = y_row(i);
        if constexpr (Log)
          xt::noalias(yi) = (x_row(i) - m) - lsum;
        else
          xt::noalias(yi) = xt::exp((x_row(i) - m) - lsum);
      }
      T* first = yb;
      T* last = yb + (s.n - 1) * s.inner;
      const T* x_last = xb + (s.n - 1) * s.inner;
      for (std::size_t j = 0; j < s.inner; ++j) {
        T mj = first[j], lj = last[j];
        T z0 = (xb[j] - mj) - lj, z1 = (x_last[j] - mj) - lj;
        first[j] = Log ? z0 : std::exp(z0);
        last[j] = Log ? z1 : std::exp(z1);
      }
    }
  }
};

// The clip bounds in T. Integer dtypes round the bounds inward (x in [0.5, 2.5] is x in [1, 2])
// and saturate them to T's range, so no out-of-range double is converted.
template <class T>
std::pair<T, T> clip_bounds(double lo, double hi) {
  if constexpr (std::is_floating_point_v<T>) {
    return {static_cast<T>(lo), static_cast<T>(hi)};
  } else {
    auto lowest = static_cast<double>(std::numeric_limits<T>::lowest());
    auto highest = static_cast<double>(std::numeric_limits<T>::max());
    auto saturate = [&](double v) {
      if (v <= lowest) return std::numeric_limits<T>::lowest();
      if (v >= highest) return std::numeric_limits<T>::max();
      return static_cast<T>(v);
    };
    return {saturate(std::ceil(lo)), saturate(std::floor(hi))};
  }
}

struct Clip {
  template <class T>
  static void run(KernelContext& c) {
    auto [lo, hi] =
        clip_bounds<T>(c.attrs().get_float("clip_min"), c.attrs().get_float("clip_max"));
    if constexpr (std::is_floating_point_v<T>) {
      // The batch function the fused elementwise kernel shares (NaN stays NaN).
      const Tensor& x = c.input(0);
      vmath::apply<T>([lo, hi](const vmath::Batch<T>& v) { return vmath::clip<T>(v, lo, hi); },
                      c.output(0).data<T>(), static_cast<std::size_t>(x.size()), x.data<T>());
    } else {
      auto y = flat<T>(c.output(0));
      auto x = flat<T>(c.input(0));
      xt::noalias(y) = xt::where(x < lo, lo, xt::where(x > hi, hi, x));
    }
  }
};

}  // namespace

void set_softmax_kernels(OpRecord& record) {
  set_kernels<Softmax<false>, float, double>(record);
}
void set_log_softmax_kernels(OpRecord& record) {
  set_kernels<Softmax<true>, float, double>(record);
}
void set_clip_by_value_kernels(OpRecord& record) {
  set_kernels<Clip, float, double, std::int32_t, std::int64_t>(record);
}

}  // namespace dagrad::kernels
