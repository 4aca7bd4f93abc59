// The kernel templates of the unary elementwise ops (see elementwise_kernels.hpp), for the
// elementwise_kernels_*.cpp files only: each instantiates a few of them.
#pragma once

#include <cstdint>

#include "elementwise_kernels.hpp"
#include "kernel_util.hpp"
#include "vector_math.hpp"
#include "wrapping_int.hpp"

namespace dagrad::kernels::unary {

// Float kernels: F::function<T>(ctx) returns the op's batch function (vector_math.hpp), which
// the fused elementwise kernel shares, so both give the same bits.
template <class F>
struct Vector {
  template <class T>
  static void run(KernelContext& c) {
    const Tensor& x = c.input(0);
    vmath::apply<T>(F::template function<T>(c), c.output(0).data<T>(),
                    static_cast<std::size_t>(x.size()), x.data<T>());
  }
};

// Integer kernels: F::integer(x) of each element, a plain loop the compiler vectorizes. Integer
// arithmetic wraps (wrapping_int.hpp): neg and abs of min are min.
template <class F>
struct Integer {
  template <class T>
  static void run(KernelContext& c) {
    const T* x = c.input(0).template data<T>();
    T* y = c.output(0).template data<T>();
    const std::int64_t n = c.input(0).size();
    for (std::int64_t i = 0; i < n; ++i) y[i] = F::integer(x[i]);
  }
};

template <class F>
void set_floating(OpRecord& record) {
  set_kernels<Vector<F>, float, double>(record);
}
// F has both forms: the batch function for floats and the element function for integers.
template <class F>
void set_signed(OpRecord& record) {
  set_kernels<Vector<F>, float, double>(record);
  set_kernels<Integer<F>, std::int32_t, std::int64_t>(record);
}

#define DAGRAD_VECTOR_UNARY(NAME, FUNCTION)                                  \
  struct NAME {                                                              \
    template <class T>                                                       \
    static auto function(const KernelContext&) {                             \
      return [](const vmath::Batch<T>& x) { return vmath::FUNCTION<T>(x); }; \
    }                                                                        \
  };
#define DAGRAD_SIGNED_UNARY(NAME, FUNCTION, EXPR)                            \
  struct NAME {                                                              \
    template <class T>                                                       \
    static auto function(const KernelContext&) {                             \
      return [](const vmath::Batch<T>& x) { return vmath::FUNCTION<T>(x); }; \
    }                                                                        \
    template <class T>                                                       \
    static T integer(T x) {                                                  \
      return EXPR;                                                           \
    }                                                                        \
  };

DAGRAD_SIGNED_UNARY(Neg, neg, wrapping::neg(x))
DAGRAD_SIGNED_UNARY(Abs, abs, wrapping::abs(x))
DAGRAD_SIGNED_UNARY(Sign, sign, static_cast<T>((x > 0) - (x < 0)))
DAGRAD_SIGNED_UNARY(Square, square, wrapping::mul(x, x))
DAGRAD_VECTOR_UNARY(Exp, exp)
DAGRAD_VECTOR_UNARY(Log, log)
DAGRAD_VECTOR_UNARY(Log1p, log1p)
DAGRAD_VECTOR_UNARY(Sqrt, sqrt)
DAGRAD_VECTOR_UNARY(Rsqrt, rsqrt)
DAGRAD_VECTOR_UNARY(Reciprocal, reciprocal)
DAGRAD_VECTOR_UNARY(Sigmoid, sigmoid)
DAGRAD_VECTOR_UNARY(Tanh, tanh)
DAGRAD_VECTOR_UNARY(Relu, relu)
DAGRAD_VECTOR_UNARY(Softplus, softplus)
DAGRAD_VECTOR_UNARY(Selu, selu)
#undef DAGRAD_VECTOR_UNARY
#undef DAGRAD_SIGNED_UNARY

// The ops with an "alpha" attribute, read once per call.
struct Elu {
  template <class T>
  static auto function(const KernelContext& c) {
    return [alpha = T(c.attrs().get_float("alpha"))](const vmath::Batch<T>& x) {
      return vmath::elu<T>(x, alpha);
    };
  }
};
struct LeakyRelu {
  template <class T>
  static auto function(const KernelContext& c) {
    return [alpha = T(c.attrs().get_float("alpha"))](const vmath::Batch<T>& x) {
      return vmath::leaky_relu<T>(x, alpha);
    };
  }
};

}  // namespace dagrad::kernels::unary
