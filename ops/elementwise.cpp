// Unary elementwise ops. The kernels are compiled apart, in elementwise_kernels_*.cpp (see
// elementwise_kernels.hpp).
#include <utility>
#include <vector>

#include "elementwise_kernels.hpp"
#include "op_util.hpp"

namespace dagrad {

namespace {

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

// set_kernels installs the op's kernels for the dtypes of op.domain.
using SetKernels = void (*)(OpRecord&);

void add_unary(OpRegistry& registry, SetKernels set_kernels, UnaryOp op) {
  OpRecord r;
  r.name = op.name;
  r.input_names = {"x"};
  r.attrs = std::move(op.attrs);
  if (op.domain == Domain::Float) {
    r.shape_fn = [](ShapeContext& ctx) {
      ctx.expect_floating(0);
      detail::same_as_input0(ctx);
    };
  } else {
    r.shape_fn = [](ShapeContext& ctx) {
      if (ctx.input_dtype(0) == DType::boolean)
        throw ShapeError("input 0 must be numeric, got bool");
      detail::same_as_input0(ctx);
    };
  }
  set_kernels(r);
  UnaryRule rule = op.rule;
  r.gradient = [rule](Graph& g, const Node& node, std::span<const Output> dys,
                      const std::vector<bool>&) {
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
  add_unary(registry, kernels::set_neg_kernels,
            {"neg",
             Domain::Signed,
             "-x",
             [](Graph&, const Node&, Output, Output, Output dy) { return neg(dy); },
             {},
             {}});
  // d|x|/dx = sign(x)
  add_unary(registry, kernels::set_abs_kernels,
            {"abs",
             Domain::Signed,
             "|x|",
             [](Graph&, const Node&, Output x, Output, Output dy) { return dy * sign(x); },
             kinked_at_zero(),
             {}});
  // sign is piecewise constant: its derivative is 0 wherever it exists.
  {
    GradCheckSpec s = kinked_at_zero();
    s.zero_gradient_expected = true;
    add_unary(registry, kernels::set_sign_kernels,
              {"sign",
               Domain::Signed,
               "-1, 0 or 1 by the sign of x",
               [](Graph&, const Node&, Output, Output, Output dy) { return zeros_like(dy); },
               s,
               {}});
  }
  // d e^x/dx = e^x = y
  add_unary(registry, kernels::set_exp_kernels,
            {"exp",
             Domain::Float,
             "e^x",
             [](Graph&, const Node&, Output, Output y, Output dy) { return dy * y; },
             {},
             {}});
  // d log(x)/dx = 1/x
  add_unary(registry, kernels::set_log_kernels,
            {"log",
             Domain::Float,
             "natural logarithm",
             [](Graph&, const Node&, Output x, Output, Output dy) { return dy / x; },
             domain(0.2, 3.0),
             {}});
  // d log(1+x)/dx = 1/(1+x)
  add_unary(registry, kernels::set_log1p_kernels,
            {"log1p",
             Domain::Float,
             "log(1 + x), accurate near 0",
             [](Graph&, const Node&, Output x, Output, Output dy) { return dy / (1.0 + x); },
             domain(-0.7, 3.0),
             {}});
  // d sqrt(x)/dx = 1/(2 sqrt(x)) = 0.5/y
  add_unary(registry, kernels::set_sqrt_kernels,
            {"sqrt",
             Domain::Float,
             "square root",
             [](Graph&, const Node&, Output, Output y, Output dy) { return dy * 0.5 / y; },
             domain(0.2, 3.0),
             {}});
  // d x^-1/2 /dx = -1/2 x^-3/2 = -0.5 y^3
  add_unary(registry, kernels::set_rsqrt_kernels,
            {"rsqrt",
             Domain::Float,
             "1 / sqrt(x)",
             [](Graph&, const Node&, Output, Output y, Output dy) {
               return dy * (-0.5 * (y * square(y)));
             },
             domain(0.2, 3.0),
             {}});
  // d x^2/dx = 2x
  add_unary(registry, kernels::set_square_kernels,
            {"square",
             Domain::Signed,
             "x * x",
             [](Graph&, const Node&, Output x, Output, Output dy) { return dy * (2.0 * x); },
             {},
             {}});
  // d (1/x)/dx = -1/x^2 = -y^2
  {
    GradCheckSpec s = kinked_at_zero();
    s.kink_margin = 0.3;
    add_unary(registry, kernels::set_reciprocal_kernels,
              {"reciprocal",
               Domain::Float,
               "1 / x",
               [](Graph&, const Node&, Output, Output y, Output dy) { return -(dy * square(y)); },
               s,
               {}});
  }
  // d sigmoid(x)/dx = y (1 - y)
  add_unary(registry, kernels::set_sigmoid_kernels,
            {"sigmoid",
             Domain::Float,
             "1 / (1 + e^-x)",
             [](Graph&, const Node&, Output, Output y, Output dy) { return dy * (y * (1.0 - y)); },
             {},
             {}});
  // d tanh(x)/dx = 1 - y^2
  add_unary(
      registry, kernels::set_tanh_kernels,
      {"tanh",
       Domain::Float,
       "hyperbolic tangent",
       [](Graph&, const Node&, Output, Output y, Output dy) { return dy * (1.0 - square(y)); },
       {},
       {}});
  // d max(x, 0)/dx = 1 if x > 0 else 0
  add_unary(registry, kernels::set_relu_kernels,
            {"relu",
             Domain::Float,
             "max(x, 0)",
             [](Graph&, const Node&, Output x, Output, Output dy) {
               return zeros_where_not_positive(x, dy);
             },
             kinked_at_zero(),
             {}});
  // d softplus(x)/dx = sigmoid(x)
  add_unary(registry, kernels::set_softplus_kernels,
            {"softplus",
             Domain::Float,
             "log(1 + e^x)",
             [](Graph&, const Node&, Output x, Output, Output dy) { return dy * sigmoid(x); },
             {},
             {}});
  // d elu/dx = 1 if x > 0 else alpha e^x = y + alpha
  add_unary(registry, kernels::set_elu_kernels,
            {"elu",
             Domain::Float,
             "x if x > 0 else alpha * (e^x - 1)",
             [](Graph&, const Node& node, Output x, Output y, Output dy) {
               double alpha = node.attrs.get_float("alpha");
               return where(greater(x, zeros_like(x)), dy, dy * (y + alpha));
             },
             kinked_at_zero(),
             {{"alpha", AttrKind::Float, AttrValue(1.0)}}});
  // d selu/dx = scale if x > 0 else y + scale alpha
  add_unary(registry, kernels::set_selu_kernels,
            {"selu",
             Domain::Float,
             "scale * elu(x, alpha), scale = 1.0507009873554805, alpha = 1.6732632423543772",
             [](Graph&, const Node&, Output x, Output y, Output dy) {
               return where(greater(x, zeros_like(x)), dy * kernels::kSeluScale,
                            dy * (y + kernels::kSeluScale * kernels::kSeluAlpha));
             },
             kinked_at_zero(),
             {}});
  // d leaky_relu/dx = 1 if x > 0 else alpha
  add_unary(registry, kernels::set_leaky_relu_kernels,
            {"leaky_relu",
             Domain::Float,
             "x if x > 0 else alpha * x",
             [](Graph&, const Node& node, Output x, Output, Output dy) {
               return where(greater(x, zeros_like(x)), dy, dy * node.attrs.get_float("alpha"));
             },
             kinked_at_zero(),
             {{"alpha", AttrKind::Float, AttrValue(0.2)}}});
}

Output neg(Output x, OpName name) {
  return unary("neg", x, name);
}
Output abs(Output x, OpName name) {
  return unary("abs", x, name);
}
Output sign(Output x, OpName name) {
  return unary("sign", x, name);
}
Output exp(Output x, OpName name) {
  return unary("exp", x, name);
}
Output log(Output x, OpName name) {
  return unary("log", x, name);
}
Output log1p(Output x, OpName name) {
  return unary("log1p", x, name);
}
Output sqrt(Output x, OpName name) {
  return unary("sqrt", x, name);
}
Output rsqrt(Output x, OpName name) {
  return unary("rsqrt", x, name);
}
Output square(Output x, OpName name) {
  return unary("square", x, name);
}
Output reciprocal(Output x, OpName name) {
  return unary("reciprocal", x, name);
}
Output sigmoid(Output x, OpName name) {
  return unary("sigmoid", x, name);
}
Output tanh(Output x, OpName name) {
  return unary("tanh", x, name);
}
Output relu(Output x, OpName name) {
  return unary("relu", x, name);
}
Output softplus(Output x, OpName name) {
  return unary("softplus", x, name);
}
Output elu(Output x, double alpha, OpName name) {
  return unary("elu", x, name, {{"alpha", alpha}});
}
Output selu(Output x, OpName name) {
  return unary("selu", x, name);
}
Output leaky_relu(Output x, double alpha, OpName name) {
  return unary("leaky_relu", x, name, {{"alpha", alpha}});
}

}  // namespace dagrad
