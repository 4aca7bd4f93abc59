// Kernels of equal, where and add_n (see binary_kernels.hpp).
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "binary_kernel_templates.hpp"
#include "binary_kernels.hpp"

namespace dagrad::kernels {

namespace {

template <class S>
auto adapt_as(const Tensor& t, bool flat) {
  xshape shape = flat ? xshape{static_cast<std::size_t>(t.size())} : to_xshape(t.shape());
  return xt::adapt(static_cast<S*>(t.raw()), static_cast<std::size_t>(t.size()), xt::no_ownership(),
                   shape);
}

struct Where {
  template <class T>
  static void run(KernelContext& c) {
    // bool values are selected as bytes: xsimd 8 has no select over bool batches.
    using S = std::conditional_t<std::is_same_v<T, bool>, std::uint8_t, T>;
    const Tensor& cond = c.input(0);
    const Tensor& x = c.input(1);
    const Tensor& y = c.input(2);
    Tensor& o = c.output(0);
    (void)x.data<T>();  // dtype checks
    (void)o.data<T>();
    bool same = cond.shape() == o.shape() && x.shape() == o.shape() && y.shape() == o.shape();
    if (same) {
      auto vo = adapt_as<S>(o, true);
      xt::noalias(vo) =
          xt::where(adapt_as<bool>(cond, true), adapt_as<S>(x, true), adapt_as<S>(y, true));
      return;
    }
    BroadcastWalk<3> walk(o.shape(), {&cond.shape(), &x.shape(), &y.shape()});
    const bool* pc = cond.data<bool>();
    const T* px = x.data<T>();
    const T* py = y.data<T>();
    T* po = o.data<T>();
    for (std::int64_t e = 0; e < o.size(); ++e, walk.next())
      po[e] = pc[walk.offset(0)] ? px[walk.offset(1)] : py[walk.offset(2)];
  }
};

struct AddN {
  template <class T>
  static void run(KernelContext& c) {
    if constexpr (std::is_integral_v<T>) {  // wraps, as add does
      T* out = c.output(0).data<T>();
      const std::int64_t n = c.output(0).size();
      std::copy_n(c.input(0).data<T>(), n, out);
      for (std::size_t i = 1; i < c.inputs.size(); ++i) {
        const T* in = c.input(static_cast<int>(i)).data<T>();
        for (std::int64_t j = 0; j < n; ++j) out[j] = wrapping::add(out[j], in[j]);
      }
      return;
    }
    auto out = flat<T>(c.output(0));
    xt::noalias(out) = flat<T>(c.input(0));
    for (std::size_t i = 1; i < c.inputs.size(); ++i)
      xt::noalias(out) += flat<T>(c.input(static_cast<int>(i)));
  }
};

}  // namespace

void set_equal_kernels(OpRecord& record) {
  binary::set_numeric<binary::Equal, true>(record);
}
void set_where_kernels(OpRecord& record) {
  set_kernels<Where, float, double, std::int32_t, std::int64_t, bool>(record);
}
void set_add_n_kernels(OpRecord& record) {
  set_kernels<AddN, float, double, std::int32_t, std::int64_t>(record);
}

}  // namespace dagrad::kernels
