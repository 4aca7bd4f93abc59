// Unary elementwise ops. Each kernel maps a flat (contiguous, SIMD) view of x to y.
#include <cmath>

#include "kernel_util.hpp"
#include "op_util.hpp"

namespace dagrad {

namespace {

constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;

// F::apply(x, ctx) returns an xtensor expression of x (a 1-D adaptor).
template <class F>
struct Unary {
  template <class T>
  static void run(KernelContext& c) {
    auto x = kernels::flat<T>(c.input(0));
    auto y = kernels::flat<T>(c.output(0));
    xt::noalias(y) = F::template apply<T>(x, c);
  }
};

#define DAGRAD_UNARY(NAME, EXPR)                          \
  struct NAME {                                           \
    template <class T, class E>                           \
    static auto apply(E&& x, const KernelContext& ctx) {  \
      (void)ctx;                                          \
      return EXPR;                                        \
    }                                                     \
  };

DAGRAD_UNARY(Neg, -x)
DAGRAD_UNARY(Abs, xt::abs(x))
DAGRAD_UNARY(Sign, xt::sign(x))
DAGRAD_UNARY(Exp, xt::exp(x))
DAGRAD_UNARY(Log, xt::log(x))
DAGRAD_UNARY(Log1p, xt::log1p(x))
DAGRAD_UNARY(Sqrt, xt::sqrt(x))
DAGRAD_UNARY(Rsqrt, T(1) / xt::sqrt(x))
DAGRAD_UNARY(Square, x * x)
DAGRAD_UNARY(Reciprocal, T(1) / x)
// Both branches are finite for every x: exp(-|x|) never overflows.
DAGRAD_UNARY(Sigmoid, xt::where(x >= T(0), T(1) / (T(1) + xt::exp(-x)),
                                xt::exp(x) / (T(1) + xt::exp(x))))
DAGRAD_UNARY(Tanh, xt::tanh(x))
DAGRAD_UNARY(Relu, xt::maximum(x, T(0)))
// softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|), without overflow.
DAGRAD_UNARY(Softplus, xt::maximum(x, T(0)) + xt::log1p(xt::exp(-xt::abs(x))))
DAGRAD_UNARY(Elu, xt::where(x > T(0), x,
                            T(ctx.attrs().get_float("alpha")) * xt::expm1(xt::minimum(x, T(0)))))
DAGRAD_UNARY(Selu, T(kSeluScale) * xt::where(x > T(0), x, T(kSeluAlpha) * xt::expm1(xt::minimum(x, T(0)))))
DAGRAD_UNARY(LeakyRelu, xt::where(x > T(0), x, T(ctx.attrs().get_float("alpha")) * x))
#undef DAGRAD_UNARY

enum class Domain { Float, Signed };

template <class F>
void add_unary(OpRegistry& registry, const char* name, Domain domain, const char* summary,
               std::vector<AttrSpec> attrs = {}) {
  OpRecord r;
  r.name = name;
  r.input_names = {"x"};
  r.attrs = std::move(attrs);
  if (domain == Domain::Float) {
    r.shape_fn = [](ShapeContext& ctx) {
      ctx.expect_floating(0);
      detail::same_as_input0(ctx);
    };
    kernels::set_kernels<Unary<F>, float, double>(r);
  } else {
    r.shape_fn = [](ShapeContext& ctx) {
      if (ctx.input_dtype(0) == DType::boolean) throw ShapeError("input 0 must be numeric, got bool");
      detail::same_as_input0(ctx);
    };
    kernels::set_kernels<Unary<F>, float, double, std::int32_t, std::int64_t>(r);
  }
  r.summary = summary;
  registry.add(std::move(r));
}

Output unary(const char* op, Output x, const OpName& name, AttrMap attrs = {}) {
  return detail::build(detail::graph_of(x, op), op, {x}, std::move(attrs), name);
}

}  // namespace

void register_elementwise_ops(OpRegistry& registry) {
  add_unary<Neg>(registry, "neg", Domain::Signed, "-x");
  add_unary<Abs>(registry, "abs", Domain::Signed, "|x|");
  add_unary<Sign>(registry, "sign", Domain::Signed, "-1, 0 or 1 by the sign of x");
  add_unary<Exp>(registry, "exp", Domain::Float, "e^x");
  add_unary<Log>(registry, "log", Domain::Float, "natural logarithm");
  add_unary<Log1p>(registry, "log1p", Domain::Float, "log(1 + x), accurate near 0");
  add_unary<Sqrt>(registry, "sqrt", Domain::Float, "square root");
  add_unary<Rsqrt>(registry, "rsqrt", Domain::Float, "1 / sqrt(x)");
  add_unary<Square>(registry, "square", Domain::Signed, "x * x");
  add_unary<Reciprocal>(registry, "reciprocal", Domain::Float, "1 / x");
  add_unary<Sigmoid>(registry, "sigmoid", Domain::Float, "1 / (1 + e^-x)");
  add_unary<Tanh>(registry, "tanh", Domain::Float, "hyperbolic tangent");
  add_unary<Relu>(registry, "relu", Domain::Float, "max(x, 0)");
  add_unary<Softplus>(registry, "softplus", Domain::Float, "log(1 + e^x)");
  add_unary<Elu>(registry, "elu", Domain::Float, "x if x > 0 else alpha * (e^x - 1)",
                 {{"alpha", AttrKind::Float, AttrValue(1.0)}});
  add_unary<Selu>(registry, "selu", Domain::Float,
                  "scale * elu(x, alpha), scale = 1.0507009873554805, alpha = 1.6732632423543772");
  add_unary<LeakyRelu>(registry, "leaky_relu", Domain::Float, "x if x > 0 else alpha * x",
                       {{"alpha", AttrKind::Float, AttrValue(0.2)}});
}

Output neg(Output x, OpName name) { return unary("neg", x, name); }
Output abs(Output x, OpName name) { return unary("abs", x, name); }
Output sign(Output x, OpName name) { return unary("sign", x, name); }
Output exp(Output x, OpName name) { return unary("exp", x, name); }
Output log(Output x, OpName name) { return unary("log", x, name); }
Output log1p(Output x, OpName name) { return unary("log1p", x, name); }
Output sqrt(Output x, OpName name) { return unary("sqrt", x, name); }
Output rsqrt(Output x, OpName name) { return unary("rsqrt", x, name); }
Output square(Output x, OpName name) { return unary("square", x, name); }
Output reciprocal(Output x, OpName name) { return unary("reciprocal", x, name); }
Output sigmoid(Output x, OpName name) { return unary("sigmoid", x, name); }
Output tanh(Output x, OpName name) { return unary("tanh", x, name); }
Output relu(Output x, OpName name) { return unary("relu", x, name); }
Output softplus(Output x, OpName name) { return unary("softplus", x, name); }
Output elu(Output x, double alpha, OpName name) { return unary("elu", x, name, {{"alpha", alpha}}); }
Output selu(Output x, OpName name) { return unary("selu", x, name); }
Output leaky_relu(Output x, double alpha, OpName name) {
  return unary("leaky_relu", x, name, {{"alpha", alpha}});
}

}  // namespace dagrad
