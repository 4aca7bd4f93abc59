// Binary elementwise ops with NumPy broadcasting, comparisons, where, and the C++ operators.
#include <array>
#include <cmath>
#include <functional>
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

using kernels::flat_at;

// Integer a / b is undefined for b == 0, and for min / -1 (the quotient overflows; x86 traps).
// Checks the element pairs the division will meet, in one pass over the output.
template <class T>
void check_integer_division(const Tensor& a, const Tensor& b, const Tensor& out) {
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  auto check = [](T x, T y, std::int64_t b_element) {
    if (y == 0)
      throw std::domain_error("integer division by zero (element " + std::to_string(b_element) +
                              " of b)");
    if (y == T(-1) && x == std::numeric_limits<T>::min())
      throw std::domain_error("integer division overflow: " + std::to_string(x) +
                              " / -1 (element " + std::to_string(b_element) + " of b)");
  };
  if (a.shape() == b.shape()) {
    for (std::int64_t i = 0; i < b.size(); ++i) check(pa[i], pb[i], i);
  } else if (b.size() == 1 && out.shape() == a.shape()) {
    // One divisor: zero always fails; -1 fails with any min in a.
    check(T(1), *pb, 0);
    if (*pb == T(-1))
      for (std::int64_t i = 0; i < a.size(); ++i) check(pa[i], *pb, 0);
  } else if (a.size() == 1 && out.shape() == b.shape()) {
    for (std::int64_t i = 0; i < b.size(); ++i) check(*pa, pb[i], i);
  } else {
    kernels::BroadcastWalk<2> walk(out.shape(), {&a.shape(), &b.shape()});
    for (std::int64_t e = 0; e < out.size(); ++e, walk.next())
      check(pa[walk.offset(0)], pb[walk.offset(1)], walk.offset(1));
  }
}

template <class F> struct ScalarCompare;

// xtensor 0.24 + xsimd 8 assign broadcast results involving bool wrongly once a row fills a
// SIMD register ((1, 9) against (2, 9) gave wrong comparisons and selections), so comparisons
// and where broadcast through these plain loops.
template <class T, class Out, class Fn>
void broadcast_loop(const Tensor& a, const Tensor& b, Tensor& out, Fn f) {
  kernels::BroadcastWalk<2> walk(out.shape(), {&a.shape(), &b.shape()});
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  Out* po = out.data<Out>();
  for (std::int64_t e = 0; e < out.size(); ++e, walk.next()) po[e] = f(pa[walk.offset(0)], pb[walk.offset(1)]);
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
    if constexpr (std::is_same_v<F, Div> && std::is_integral_v<T>)
      check_integer_division<T>(a, b, o);
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
    } else if constexpr (Compare) {
      broadcast_loop<T, bool>(a, b, o, typename ScalarCompare<F>::type{});
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

// The scalar comparison of each comparison op, for the plain broadcast loop.
template <> struct ScalarCompare<Greater> { using type = std::greater<>; };
template <> struct ScalarCompare<GreaterEqual> { using type = std::greater_equal<>; };
template <> struct ScalarCompare<Less> { using type = std::less<>; };
template <> struct ScalarCompare<LessEqual> { using type = std::less_equal<>; };
template <> struct ScalarCompare<Equal> { using type = std::equal_to<>; };

void binary_shape(ShapeContext& ctx, bool compare, bool floating_only) {
  ctx.expect_same_dtype(0, 1);
  if (floating_only) ctx.expect_floating(0);
  if (ctx.input_dtype(0) == DType::boolean)
    throw ShapeError(compare ? "comparison of bool inputs is not defined (cast them to int32 first)"
                             : "arithmetic on bool inputs is not defined");
  ctx.set_output(0, compare ? DType::boolean : ctx.input_dtype(0),
                 broadcast_shapes(ctx.input_shape(0), ctx.input_shape(1)));
}

// The gradients of a binary op (da, db) from a, b, y = f(a, b) and dy, at the broadcast shape;
// autodiff sums each back to its input's shape. needs[i] says whether input i's gradient is
// used: the rule builds nothing for an unused one (an invalid Output).
using BinaryRule = std::pair<Output, Output> (*)(Output a, Output b, Output y, Output dy,
                                                 const std::vector<bool>& needs);

template <class F, bool Compare = false>
void add_binary(OpRegistry& registry, const char* name, const char* summary, bool floating_only = false,
                BinaryRule rule = nullptr, GradCheckSpec check = {}) {
  OpRecord r;
  if (rule) {
    r.gradient = [rule](Graph& g, const Node& node, std::span<const Output> dys, const std::vector<bool>& needs) {
      auto [da, db] =
          rule(detail::input_of(g, node, 0), detail::input_of(g, node, 1), detail::output_of(g, node), dys[0], needs);
      return std::vector<Output>{da, db};
    };
  }
  r.broadcasting_inputs = {0, 1};
  r.gradcheck = std::move(check);
  if (r.gradcheck.samples.empty()) r.gradcheck.samples = detail::binary_samples();
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
    if (same) {
      auto vo = adapt_as<S>(o, true);
      xt::noalias(vo) = xt::where(adapt_as<bool>(cond, true), adapt_as<S>(x, true), adapt_as<S>(y, true));
      return;
    }
    kernels::BroadcastWalk<3> walk(o.shape(), {&cond.shape(), &x.shape(), &y.shape()});
    const bool* pc = cond.data<bool>();
    const T* px = x.data<T>();
    const T* py = y.data<T>();
    T* po = o.data<T>();
    for (std::int64_t e = 0; e < o.size(); ++e, walk.next())
      po[e] = pc[walk.offset(0)] ? px[walk.offset(1)] : py[walk.offset(2)];
  }
};

Output binary(const char* op, Output a, Output b, const OpName& name) {
  return detail::build(detail::graph_of(a, op), op, {a, b}, {}, name);
}

// The constant for `x op value`; rejects a bool x, and a value x's dtype cannot hold exactly
// (int * 0.5 would otherwise multiply by 0), before adding anything to the graph.
Output scalar_like(const Output& x, double value, const char* op, const std::source_location& loc) {
  Graph& g = detail::graph_of(x, op);
  std::string operands = "operator" + std::string(op) + " of '" + x.name() + "' (" +
                         std::string(dtype_name(x.dtype())) + " " + x.shape().to_string() + ") and " +
                         detail::number_to_string(value);
  std::string site = " (created at " + SourceSite::from(loc).to_string() + ")";
  if (x.dtype() == DType::boolean)
    throw ShapeError(operands + ": arithmetic on bool inputs is not defined" + site);
  if (std::string why = detail::scalar_misfit(value, x.dtype()); !why.empty())
    throw ShapeError(operands + ": " + why + "; cast '" + x.name() + "' to a float dtype first" + site);
  return scalar(g, value, x.dtype(), OpName("", loc));
}

GradCheckSpec distinct_inputs() {
  GradCheckSpec s;
  s.distinct_inputs = true;
  return s;
}

struct AddN {
  template <class T>
  static void run(KernelContext& c) {
    auto out = kernels::flat<T>(c.output(0));
    xt::noalias(out) = kernels::flat<T>(c.input(0));
    for (std::size_t i = 1; i < c.inputs.size(); ++i) xt::noalias(out) += kernels::flat<T>(c.input(static_cast<int>(i)));
  }
};

}  // namespace

void register_binary_ops(OpRegistry& registry) {
  // d(a+b) = (dy, dy)
  add_binary<Add>(registry, "add", "a + b", false,
                  [](Output, Output, Output, Output dy, const std::vector<bool>&) { return std::pair{dy, dy}; });
  // d(a-b) = (dy, -dy)
  add_binary<Sub>(registry, "sub", "a - b", false,
                  [](Output, Output, Output, Output dy, const std::vector<bool>& needs) {
                    return std::pair{dy, needs[1] ? neg(dy) : Output{}};
                  });
  // d(ab) = (dy b, dy a)
  add_binary<Mul>(registry, "mul", "a * b", false,
                  [](Output a, Output b, Output, Output dy, const std::vector<bool>& needs) {
                    return std::pair{needs[0] ? dy * b : Output{}, needs[1] ? dy * a : Output{}};
                  });
  // d(a/b) = (dy / b, -dy a / b^2 = -dy y / b)
  {
    GradCheckSpec s;
    s.low = 0.5;  // keeps b away from 0 (a shares the range)
    s.high = 2.0;
    add_binary<Div>(registry, "div", "a / b (integer division truncates)", false,
                    [](Output, Output b, Output y, Output dy, const std::vector<bool>& needs) {
                      return std::pair{needs[0] ? dy / b : Output{}, needs[1] ? -(dy * y / b) : Output{}};
                    },
                    s);
  }
  // d(a^b) = (dy b a^(b-1), dy y log(a)). b a^(b-1) is 0 where b == 0 (even at a = 0, where
  // 0 * 0^-1 would be NaN), so the exponent b - 1 becomes 0 there. Where a <= 0, log(a) is
  // replaced by 0, and it is taken of 1 there so that the unused branch of the where stays
  // finite and second derivatives do not meet NaN.
  {
    GradCheckSpec s;
    s.low = 0.3;
    s.high = 2.0;
    add_binary<Pow>(registry, "pow", "a ^ b", /*floating_only=*/true,
                    [](Output a, Output b, Output y, Output dy, const std::vector<bool>& needs) {
                      Output da, db;
                      if (needs[0]) {
                        Output safe_b = where(equal(b, zeros_like(b)), ones_like(b), b);
                        da = dy * b * pow(a, safe_b - 1.0);
                      }
                      if (needs[1]) {
                        Output positive = greater(a, zeros_like(a));
                        Output safe_a = where(positive, a, ones_like(a));
                        Output log_a = where(positive, log(safe_a), zeros_like(a));
                        db = dy * y * log_a;
                      }
                      return std::pair{da, db};
                    },
                    s);
  }
  // Subgradient convention: at a tie, maximum/minimum pass the whole gradient to a.
  add_binary<Maximum>(registry, "maximum", "elementwise max(a, b)", false,
                      [](Output a, Output b, Output, Output dy, const std::vector<bool>& needs) {
                        Output pick_a = greater_equal(a, b);
                        Output zero = zeros_like(dy);
                        return std::pair{needs[0] ? where(pick_a, dy, zero) : Output{},
                                         needs[1] ? where(pick_a, zero, dy) : Output{}};
                      },
                      distinct_inputs());
  add_binary<Minimum>(registry, "minimum", "elementwise min(a, b)", false,
                      [](Output a, Output b, Output, Output dy, const std::vector<bool>& needs) {
                        Output pick_a = less_equal(a, b);
                        Output zero = zeros_like(dy);
                        return std::pair{needs[0] ? where(pick_a, dy, zero) : Output{},
                                         needs[1] ? where(pick_a, zero, dy) : Output{}};
                      },
                      distinct_inputs());
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
    // d where(c, x, y) = (none, c ? dy : 0, c ? 0 : dy)
    r.gradient = [](Graph& g, const Node& node, std::span<const Output> dys, const std::vector<bool>& needs) {
      Output c = detail::input_of(g, node, 0);
      Output zero = zeros_like(dys[0]);
      return std::vector<Output>{Output{}, needs[1] ? where(c, dys[0], zero) : Output{},
                                 needs[2] ? where(c, zero, dys[0]) : Output{}};
    };
    r.broadcasting_inputs = {0, 1, 2};  // the condition broadcasts too
    Tensor mask = Tensor::from_vector<bool>({2, 3}, {true, false, true, false, false, true});
    r.gradcheck.samples = {
        {{Shape{2, 3}, Shape{2, 3}, Shape{2, 3}}, {}, {mask, Tensor(), Tensor()}, "same shape"},
        {{Shape{2, 3}, Shape{3}, Shape{2, 1}}, {}, {mask, Tensor(), Tensor()}, "broadcast"},
        {{Shape{2, 3}, Shape{-1, 3}, Shape{-1, 1}},
         {},
         {mask, Tensor(), Tensor()},
         "unknown batch",
         {Shape{2, 3}, Shape{2, 3}, Shape{2, 1}}}};
    r.summary = "condition ? x : y, elementwise with broadcasting";
    registry.add(std::move(r));
  }
  {
    OpRecord r;
    r.name = "add_n";
    r.input_names = {"xs"};
    r.variadic_inputs = true;
    r.min_inputs = 1;
    r.shape_fn = [](ShapeContext& ctx) {
      Shape shape = ctx.input_shape(0);
      for (int i = 1; i < ctx.num_inputs(); ++i) {
        ctx.expect_same_dtype(0, i);
        const Shape& other = ctx.input_shape(i);
        if (!other.compatible_with(shape))
          throw ShapeError("input " + std::to_string(i) + " has shape " + other.to_string() +
                           ", input 0 has " + shape.to_string() + " (add_n does not broadcast)");
        for (int d = 0; d < shape.rank(); ++d)
          if (shape[d] == Shape::kUnknown) shape[d] = other[d];
      }
      if (ctx.input_dtype(0) == DType::boolean) throw ShapeError("arithmetic on bool inputs is not defined");
      ctx.set_output(0, ctx.input_dtype(0), shape);
    };
    kernels::set_kernels<AddN, float, double, std::int32_t, std::int64_t>(r);
    // d(x0 + x1 + ...) = (dy, dy, ...)
    r.gradient = [](Graph&, const Node& node, std::span<const Output> dys, const std::vector<bool>&) {
      return std::vector<Output>(node.inputs.size(), dys[0]);
    };
    r.gradcheck.samples = {{{Shape{2, 3}, Shape{2, 3}, Shape{2, 3}}, {}, {}, "three"},
                           {{Shape{-1, 2}, Shape{-1, 2}}, {}, {}, "unknown batch"}};
    r.summary = "x0 + x1 + ... of equal shapes, in one pass";
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
Output add_n(const std::vector<Output>& xs, OpName name) {
  if (xs.empty()) throw GraphError("add_n: no inputs");
  return detail::build(detail::graph_of(xs[0], "add_n"), "add_n", xs, {}, name);
}
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
