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
// xt::where computes both branches; the selected one takes exp of a non-positive number, so it
// never overflows (the other may, e.g. exp(x) = inf gives inf/inf = NaN, but is discarded).
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

using detail::input_of;
using detail::output_of;

// The gradient of a unary op from x, y = f(x) and dy; returns dx.
using UnaryRule = Output (*)(Graph& g, const Node& node, Output x, Output y, Output dy);

struct UnaryOp {
  const char* name;
  Domain domain;
  const char* summary;
  UnaryRule rule;
  GradCheckSpec check;
  std::vector<AttrSpec> attrs;
};

template <class F>
void add_unary(OpRegistry& registry, UnaryOp op) {
  OpRecord r;
  r.name = op.name;
  r.input_names = {"x"};
  r.attrs = std::move(op.attrs);
  if (op.domain == Domain::Float) {
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
  UnaryRule rule = op.rule;
  r.gradient = [rule](Graph& g, const Node& node, std::span<const Output> dys, const std::vector<bool>&) {
    return std::vector<Output>{rule(g, node, input_of(g, node, 0), output_of(g, node), dys[0])};
  };
  r.gradcheck = std::move(op.check);
  if (r.gradcheck.samples.empty()) r.gradcheck.samples = detail::unary_samples();
  r.summary = op.summary;
  registry.add(std::move(r));
}

Output unary(const char* op, Output x, const OpName& name, AttrMap attrs = {}) {
  return detail::build(detail::graph_of(x, op), op, {x}, std::move(attrs), name);
}

Output zeros_where_not_positive(Output x, Output value) {
  // x > 0 ? value : 0; the derivative of relu-like ops at exactly 0 is taken from the left (0).
  return where(greater(x, zeros_like(x)), value, zeros_like(value));
}

GradCheckSpec domain(double low, double high) {
  GradCheckSpec s;
  s.low = low;
  s.high = high;
  return s;
}
GradCheckSpec kinked_at_zero() {
  GradCheckSpec s;
  s.kinks = {0.0};
  return s;
}

}  // namespace

void register_elementwise_ops(OpRegistry& registry) {
  // d(-x)/dx = -1
  add_unary<Neg>(registry, {"neg", Domain::Signed, "-x",
                            [](Graph&, const Node&, Output, Output, Output dy) { return neg(dy); }, {}, {}});
  // d|x|/dx = sign(x)
  add_unary<Abs>(registry, {"abs", Domain::Signed, "|x|",
                            [](Graph&, const Node&, Output x, Output, Output dy) { return dy * sign(x); },
                            kinked_at_zero(), {}});
  // sign is piecewise constant: its derivative is 0 wherever it exists.
  {
    GradCheckSpec s = kinked_at_zero();
    s.zero_gradient_expected = true;
    add_unary<Sign>(registry, {"sign", Domain::Signed, "-1, 0 or 1 by the sign of x",
                               [](Graph&, const Node&, Output, Output, Output dy) { return zeros_like(dy); },
                               s, {}});
  }
  // d e^x/dx = e^x = y
  add_unary<Exp>(registry, {"exp", Domain::Float, "e^x",
                            [](Graph&, const Node&, Output, Output y, Output dy) { return dy * y; }, {}, {}});
  // d log(x)/dx = 1/x
  add_unary<Log>(registry, {"log", Domain::Float, "natural logarithm",
                            [](Graph&, const Node&, Output x, Output, Output dy) { return dy / x; },
                            domain(0.2, 3.0), {}});
  // d log(1+x)/dx = 1/(1+x)
  add_unary<Log1p>(registry, {"log1p", Domain::Float, "log(1 + x), accurate near 0",
                              [](Graph&, const Node&, Output x, Output, Output dy) { return dy / (1.0 + x); },
                              domain(-0.7, 3.0), {}});
  // d sqrt(x)/dx = 1/(2 sqrt(x)) = 0.5/y
  add_unary<Sqrt>(registry, {"sqrt", Domain::Float, "square root",
                             [](Graph&, const Node&, Output, Output y, Output dy) { return dy * 0.5 / y; },
                             domain(0.2, 3.0), {}});
  // d x^-1/2 /dx = -1/2 x^-3/2 = -0.5 y^3
  add_unary<Rsqrt>(registry, {"rsqrt", Domain::Float, "1 / sqrt(x)",
                              [](Graph&, const Node&, Output, Output y, Output dy) {
                                return dy * (-0.5 * (y * square(y)));
                              },
                              domain(0.2, 3.0), {}});
  // d x^2/dx = 2x
  add_unary<Square>(registry, {"square", Domain::Signed, "x * x",
                               [](Graph&, const Node&, Output x, Output, Output dy) { return dy * (2.0 * x); },
                               {}, {}});
  // d (1/x)/dx = -1/x^2 = -y^2
  {
    GradCheckSpec s = kinked_at_zero();
    s.kink_margin = 0.3;
    add_unary<Reciprocal>(registry, {"reciprocal", Domain::Float, "1 / x",
                                     [](Graph&, const Node&, Output, Output y, Output dy) { return -(dy * square(y)); },
                                     s, {}});
  }
  // d sigmoid(x)/dx = y (1 - y)
  add_unary<Sigmoid>(registry, {"sigmoid", Domain::Float, "1 / (1 + e^-x)",
                                [](Graph&, const Node&, Output, Output y, Output dy) { return dy * (y * (1.0 - y)); },
                                {}, {}});
  // d tanh(x)/dx = 1 - y^2
  add_unary<Tanh>(registry, {"tanh", Domain::Float, "hyperbolic tangent",
                             [](Graph&, const Node&, Output, Output y, Output dy) { return dy * (1.0 - square(y)); },
                             {}, {}});
  // d max(x, 0)/dx = 1 if x > 0 else 0
  add_unary<Relu>(registry, {"relu", Domain::Float, "max(x, 0)",
                             [](Graph&, const Node&, Output x, Output, Output dy) { return zeros_where_not_positive(x, dy); },
                             kinked_at_zero(), {}});
  // d softplus(x)/dx = sigmoid(x)
  add_unary<Softplus>(registry, {"softplus", Domain::Float, "log(1 + e^x)",
                                 [](Graph&, const Node&, Output x, Output, Output dy) { return dy * sigmoid(x); },
                                 {}, {}});
  // d elu/dx = 1 if x > 0 else alpha e^x = y + alpha
  add_unary<Elu>(registry, {"elu", Domain::Float, "x if x > 0 else alpha * (e^x - 1)",
                            [](Graph&, const Node& node, Output x, Output y, Output dy) {
                              double alpha = node.attrs.get_float("alpha");
                              return where(greater(x, zeros_like(x)), dy, dy * (y + alpha));
                            },
                            kinked_at_zero(), {{"alpha", AttrKind::Float, AttrValue(1.0)}}});
  // d selu/dx = scale if x > 0 else y + scale alpha
  add_unary<Selu>(registry, {"selu", Domain::Float,
                             "scale * elu(x, alpha), scale = 1.0507009873554805, alpha = 1.6732632423543772",
                             [](Graph&, const Node&, Output x, Output y, Output dy) {
                               return where(greater(x, zeros_like(x)), dy * kSeluScale,
                                            dy * (y + kSeluScale * kSeluAlpha));
                             },
                             kinked_at_zero(), {}});
  // d leaky_relu/dx = 1 if x > 0 else alpha
  add_unary<LeakyRelu>(registry, {"leaky_relu", Domain::Float, "x if x > 0 else alpha * x",
                                  [](Graph&, const Node& node, Output x, Output, Output dy) {
                                    return where(greater(x, zeros_like(x)), dy, dy * node.attrs.get_float("alpha"));
                                  },
                                  kinked_at_zero(), {{"alpha", AttrKind::Float, AttrValue(0.2)}}});
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
