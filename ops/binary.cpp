// Binary elementwise ops with NumPy broadcasting, comparisons, where, and the C++ operators.
#include <cmath>
#include <limits>

#include "kernel_util.hpp"
#include "op_util.hpp"

namespace dagrad {

namespace {

struct Div;

// Is `small` a suffix of `big` (so `small` repeats over the leading rows of `big`)?
bool is_trailing(const Shape& small, const Shape& big) {
  if (small.rank() > big.rank()) return false;
  for (int i = 1; i <= small.rank(); ++i)
    if (small[small.rank() - i] != big[big.rank() - i]) return false;
  return true;
}

template <class T, std::size_t N = 1>
auto flat_at(T* p, std::size_t n) {
  return xt::adapt(p, n, xt::no_ownership(), std::array<std::size_t, 1>{n});
}

// F::apply(a, b) is an xtensor expression; R<T> is the output element type.
template <class F, bool Compare>
struct Binary {
  template <class T>
  static void run(KernelContext& c) {
    using R = std::conditional_t<Compare, bool, T>;
    const Tensor& a = c.input(0);
    const Tensor& b = c.input(1);
    Tensor& o = c.output(0);
    if constexpr (std::is_same_v<F, Div> && std::is_integral_v<T>) {
      const T* pb = b.data<T>();
      for (std::int64_t i = 0; i < b.size(); ++i) {
        if (pb[i] == 0) throw std::domain_error("integer division by zero (element " + std::to_string(i) + " of b)");
        // min / -1 overflows, and x86 traps on it.
        if (pb[i] == T(-1)) {
          const T* pa = a.data<T>();
          for (std::int64_t j = 0; j < a.size(); ++j)
            if (pa[j] == std::numeric_limits<T>::min())
              throw std::domain_error("integer division overflow: " + std::to_string(pa[j]) + " / -1");
        }
      }
    }
    if (a.shape() == b.shape()) {
      auto vo = kernels::flat<R>(o);
      xt::noalias(vo) = F::apply(kernels::flat<T>(a), kernels::flat<T>(b));
    } else if (b.size() == 1 && o.shape() == a.shape()) {
      auto vo = kernels::flat<R>(o);
      xt::noalias(vo) = F::apply(kernels::flat<T>(a), *b.data<T>());
    } else if (a.size() == 1 && o.shape() == b.shape()) {
      auto vo = kernels::flat<R>(o);
      xt::noalias(vo) = F::apply(*a.data<T>(), kernels::flat<T>(b));
    } else if (o.shape() == a.shape() && is_trailing(b.shape(), a.shape()) && b.size() > 0) {
      // Bias-style broadcast: b repeats over the rows of a.
      auto n = static_cast<std::size_t>(b.size());
      auto vb = flat_at(b.data<T>(), n);
      for (std::int64_t row = 0; row < a.size() / b.size(); ++row) {
        auto va = flat_at(a.data<T>() + row * b.size(), n);
        auto vo = flat_at(o.data<R>() + row * b.size(), n);
        xt::noalias(vo) = F::apply(va, vb);
      }
    } else if (o.shape() == b.shape() && is_trailing(a.shape(), b.shape()) && a.size() > 0) {
      auto n = static_cast<std::size_t>(a.size());
      auto va = flat_at(a.data<T>(), n);
      for (std::int64_t row = 0; row < b.size() / a.size(); ++row) {
        auto vb = flat_at(b.data<T>() + row * a.size(), n);
        auto vo = flat_at(o.data<R>() + row * a.size(), n);
        xt::noalias(vo) = F::apply(va, vb);
      }
    } else {
      auto vo = kernels::view<R>(o);
      xt::noalias(vo) = F::apply(kernels::view<T>(a), kernels::view<T>(b));
    }
  }
};

#define DAGRAD_BINARY(NAME, EXPR)          \
  struct NAME {                            \
    template <class A, class B>            \
    static auto apply(A&& a, B&& b) {      \
      return EXPR;                         \
    }                                      \
  };
DAGRAD_BINARY(Add, a + b)
DAGRAD_BINARY(Sub, a - b)
DAGRAD_BINARY(Mul, a * b)
DAGRAD_BINARY(Div, a / b)
// Not xt::pow: xsimd 8's batched pow maps every zero base to 0 (so 0^0 = 0, 0^-1 = 0).
struct PowFn {
  template <class T>
  T operator()(T a, T b) const { return std::pow(a, b); }
};
DAGRAD_BINARY(Pow, xt::make_lambda_xfunction(PowFn{}, std::forward<A>(a), std::forward<B>(b)))
DAGRAD_BINARY(Maximum, xt::maximum(a, b))
DAGRAD_BINARY(Minimum, xt::minimum(a, b))
DAGRAD_BINARY(Greater, xt::greater(a, b))
DAGRAD_BINARY(GreaterEqual, xt::greater_equal(a, b))
DAGRAD_BINARY(Less, xt::less(a, b))
DAGRAD_BINARY(LessEqual, xt::less_equal(a, b))
DAGRAD_BINARY(Equal, xt::equal(a, b))
#undef DAGRAD_BINARY

void binary_shape(ShapeContext& ctx, bool compare, bool floating_only) {
  ctx.expect_same_dtype(0, 1);
  if (floating_only) ctx.expect_floating(0);
  if (ctx.input_dtype(0) == DType::boolean)
    throw ShapeError(compare ? "comparison of bool inputs is not defined (cast them to int32 first)"
                             : "arithmetic on bool inputs is not defined");
  ctx.set_output(0, compare ? DType::boolean : ctx.input_dtype(0),
                 broadcast_shapes(ctx.input_shape(0), ctx.input_shape(1)));
}

template <class F, bool Compare = false>
void add_binary(OpRegistry& registry, const char* name, const char* summary, bool floating_only = false) {
  OpRecord r;
  r.name = name;
  r.input_names = {"a", "b"};
  if (floating_only) {
    r.shape_fn = [](ShapeContext& ctx) { binary_shape(ctx, Compare, true); };
    kernels::set_kernels<Binary<F, Compare>, float, double>(r);
  } else {
    r.shape_fn = [](ShapeContext& ctx) { binary_shape(ctx, Compare, false); };
    kernels::set_kernels<Binary<F, Compare>, float, double, std::int32_t, std::int64_t>(r);
  }
  if (Compare) {
    r.dispatch_input = 0;
    r.not_differentiable_reason = "a comparison: its output is boolean";
  }
  r.summary = summary;
  registry.add(std::move(r));
}

template <class S>
auto adapt_as(const Tensor& t, bool flat) {
  kernels::xshape shape = flat ? kernels::xshape{static_cast<std::size_t>(t.size())} : kernels::to_xshape(t.shape());
  return xt::adapt(static_cast<S*>(t.raw()), static_cast<std::size_t>(t.size()), xt::no_ownership(), shape);
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
    auto vo = adapt_as<S>(o, same);
    xt::noalias(vo) = xt::where(adapt_as<bool>(cond, same), adapt_as<S>(x, same), adapt_as<S>(y, same));
  }
};

Output binary(const char* op, Output a, Output b, const OpName& name) {
  return detail::build(detail::graph_of(a, op), op, {a, b}, {}, name);
}

// The constant for `x op value`; rejects a bool x before adding anything to the graph.
Output scalar_like(const Output& x, double value, const char* op, const std::source_location& loc) {
  Graph& g = detail::graph_of(x, op);
  if (x.dtype() == DType::boolean)
    throw ShapeError("operator" + std::string(op) + " of '" + x.name() + "' (bool " + x.shape().to_string() +
                     ") and a number: arithmetic on bool inputs is not defined (created at " +
                     SourceSite::from(loc).to_string() + ")");
  return scalar(g, value, x.dtype(), OpName("", loc));
}

}  // namespace

void register_binary_ops(OpRegistry& registry) {
  add_binary<Add>(registry, "add", "a + b");
  add_binary<Sub>(registry, "sub", "a - b");
  add_binary<Mul>(registry, "mul", "a * b");
  add_binary<Div>(registry, "div", "a / b (integer division truncates)");
  add_binary<Pow>(registry, "pow", "a ^ b", /*floating_only=*/true);
  add_binary<Maximum>(registry, "maximum", "elementwise max(a, b)");
  add_binary<Minimum>(registry, "minimum", "elementwise min(a, b)");
  add_binary<Greater, true>(registry, "greater", "a > b");
  add_binary<GreaterEqual, true>(registry, "greater_equal", "a >= b");
  add_binary<Less, true>(registry, "less", "a < b");
  add_binary<LessEqual, true>(registry, "less_equal", "a <= b");
  add_binary<Equal, true>(registry, "equal", "a == b");
  {
    OpRecord r;
    r.name = "where";
    r.input_names = {"condition", "x", "y"};
    r.shape_fn = [](ShapeContext& ctx) {
      ctx.expect_dtype(0, DType::boolean);
      ctx.expect_same_dtype(1, 2);
      Shape s = broadcast_shapes(ctx.input_shape(1), ctx.input_shape(2));
      ctx.set_output(0, ctx.input_dtype(1), broadcast_shapes(ctx.input_shape(0), s));
    };
    kernels::set_kernels<Where, float, double, std::int32_t, std::int64_t, bool>(r);
    r.summary = "condition ? x : y, elementwise with broadcasting";
    registry.add(std::move(r));
  }
}

Output add(Output a, Output b, OpName name) { return binary("add", a, b, name); }
Output sub(Output a, Output b, OpName name) { return binary("sub", a, b, name); }
Output mul(Output a, Output b, OpName name) { return binary("mul", a, b, name); }
Output div(Output a, Output b, OpName name) { return binary("div", a, b, name); }
Output pow(Output a, Output b, OpName name) { return binary("pow", a, b, name); }
Output maximum(Output a, Output b, OpName name) { return binary("maximum", a, b, name); }
Output minimum(Output a, Output b, OpName name) { return binary("minimum", a, b, name); }
Output greater(Output a, Output b, OpName name) { return binary("greater", a, b, name); }
Output greater_equal(Output a, Output b, OpName name) { return binary("greater_equal", a, b, name); }
Output less(Output a, Output b, OpName name) { return binary("less", a, b, name); }
Output less_equal(Output a, Output b, OpName name) { return binary("less_equal", a, b, name); }
Output equal(Output a, Output b, OpName name) { return binary("equal", a, b, name); }
Output where(Output cond, Output x, Output y, OpName name) {
  return detail::build(detail::graph_of(cond, "where"), "where", {cond, x, y}, {}, name);
}

Output operator+(Operand a, Output b) { return add(a.value, b, OpName("", a.loc)); }
Output operator-(Operand a, Output b) { return sub(a.value, b, OpName("", a.loc)); }
Output operator*(Operand a, Output b) { return mul(a.value, b, OpName("", a.loc)); }
Output operator/(Operand a, Output b) { return div(a.value, b, OpName("", a.loc)); }
Output operator-(Operand a) { return neg(a.value, OpName("", a.loc)); }
Output operator+(Operand a, double b) { return add(a.value, scalar_like(a.value, b, "+", a.loc), OpName("", a.loc)); }
Output operator-(Operand a, double b) { return sub(a.value, scalar_like(a.value, b, "-", a.loc), OpName("", a.loc)); }
Output operator*(Operand a, double b) { return mul(a.value, scalar_like(a.value, b, "*", a.loc), OpName("", a.loc)); }
Output operator/(Operand a, double b) { return div(a.value, scalar_like(a.value, b, "/", a.loc), OpName("", a.loc)); }
Output operator+(double a, Operand b) { return add(scalar_like(b.value, a, "+", b.loc), b.value, OpName("", b.loc)); }
Output operator-(double a, Operand b) { return sub(scalar_like(b.value, a, "-", b.loc), b.value, OpName("", b.loc)); }
Output operator*(double a, Operand b) { return mul(scalar_like(b.value, a, "*", b.loc), b.value, OpName("", b.loc)); }
Output operator/(double a, Operand b) { return div(scalar_like(b.value, a, "/", b.loc), b.value, OpName("", b.loc)); }

}  // namespace dagrad
