// Binary elementwise ops with NumPy broadcasting, comparisons, where, and the C++ operators.
// The kernels are compiled apart, in binary_kernels_*.cpp (see binary_kernels.hpp).
#include <string>
#include <utility>
#include <vector>

#include "binary_kernels.hpp"
#include "op_util.hpp"

namespace dagrad {

namespace {

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

// set_kernels installs the op's kernels for the dtypes its shape function accepts (all but bool,
// or only floating ones with floating_only).
using SetKernels = void (*)(OpRecord&);

void add_binary(OpRegistry& registry, const char* name, const char* summary, SetKernels set_kernels,
                bool floating_only = false, BinaryRule rule = nullptr, GradCheckSpec check = {},
                bool compare = false) {
  OpRecord r;
  if (rule) {
    r.gradient = [rule](Graph& g, const Node& node, std::span<const Output> dys,
                        const std::vector<bool>& needs) {
      auto [da, db] = rule(detail::input_of(g, node, 0), detail::input_of(g, node, 1),
                           detail::output_of(g, node), dys[0], needs);
      return std::vector<Output>{da, db};
    };
  }
  r.broadcasting_inputs = {0, 1};
  r.gradcheck = std::move(check);
  if (r.gradcheck.samples.empty()) r.gradcheck.samples = detail::binary_samples();
  r.name = name;
  r.input_names = {"a", "b"};
  r.shape_fn = [compare, floating_only](ShapeContext& ctx) {
    binary_shape(ctx, compare, floating_only);
  };
  set_kernels(r);
  if (compare) {
    r.dispatch_input = 0;
    r.not_differentiable_reason = "a comparison: its output is boolean";
  }
  r.summary = summary;
  registry.add(std::move(r));
}

// A comparison: a boolean output, so no gradient.
void add_comparison(OpRegistry& registry, const char* name, const char* summary,
                    SetKernels set_kernels) {
  add_binary(registry, name, summary, set_kernels, false, nullptr, {}, /*compare=*/true);
}

Output binary(const char* op, Output a, Output b, const OpName& name) {
  return detail::build(detail::graph_of(a, op), op, {a, b}, {}, name);
}

// The constant for `x op value`; rejects a bool x, and a value x's dtype cannot hold exactly
// (int * 0.5 would otherwise multiply by 0), before adding anything to the graph.
Output scalar_like(const Output& x, double value, const char* op, const std::source_location& loc) {
  Graph& g = detail::graph_of(x, op);
  std::string operands = "operator" + std::string(op) + " of '" + x.name() + "' (" +
                         std::string(dtype_name(x.dtype())) + " " + x.shape().to_string() +
                         ") and " + detail::number_to_string(value);
  std::string site = " (created at " + SourceSite::from(loc).to_string() + ")";
  if (x.dtype() == DType::boolean)
    throw ShapeError(operands + ": arithmetic on bool inputs is not defined" + site);
  if (std::string why = detail::scalar_misfit(value, x.dtype()); !why.empty())
    throw ShapeError(operands + ": " + why + "; cast '" + x.name() + "' to a float dtype first" +
                     site);
  return scalar(g, value, x.dtype(), OpName("", loc));
}

GradCheckSpec distinct_inputs() {
  GradCheckSpec s;
  s.distinct_inputs = true;
  return s;
}

}  // namespace

void register_binary_ops(OpRegistry& registry) {
  // d(a+b) = (dy, dy)
  add_binary(registry, "add", "a + b", kernels::set_add_kernels, false,
             [](Output, Output, Output, Output dy, const std::vector<bool>&) {
               return std::pair{dy, dy};
             });
  // d(a-b) = (dy, -dy)
  add_binary(registry, "sub", "a - b", kernels::set_sub_kernels, false,
             [](Output, Output, Output, Output dy, const std::vector<bool>& needs) {
               return std::pair{dy, needs[1] ? neg(dy) : Output{}};
             });
  // d(ab) = (dy b, dy a)
  add_binary(registry, "mul", "a * b", kernels::set_mul_kernels, false,
             [](Output a, Output b, Output, Output dy, const std::vector<bool>& needs) {
               return std::pair{needs[0] ? dy * b : Output{}, needs[1] ? dy * a : Output{}};
             });
  // d(a/b) = (dy / b, -dy a / b^2 = -dy y / b)
  {
    GradCheckSpec s;
    s.low = 0.5;  // keeps b away from 0 (a shares the range)
    s.high = 2.0;
    add_binary(
        registry, "div", "a / b (integer division truncates)", kernels::set_div_kernels, false,
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
    add_binary(
        registry, "pow", "a ^ b", kernels::set_pow_kernels, /*floating_only=*/true,
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
  add_binary(
      registry, "maximum", "elementwise max(a, b)", kernels::set_maximum_kernels, false,
      [](Output a, Output b, Output, Output dy, const std::vector<bool>& needs) {
        Output pick_a = greater_equal(a, b);
        Output zero = zeros_like(dy);
        return std::pair{needs[0] ? where(pick_a, dy, zero) : Output{},
                         needs[1] ? where(pick_a, zero, dy) : Output{}};
      },
      distinct_inputs());
  add_binary(
      registry, "minimum", "elementwise min(a, b)", kernels::set_minimum_kernels, false,
      [](Output a, Output b, Output, Output dy, const std::vector<bool>& needs) {
        Output pick_a = less_equal(a, b);
        Output zero = zeros_like(dy);
        return std::pair{needs[0] ? where(pick_a, dy, zero) : Output{},
                         needs[1] ? where(pick_a, zero, dy) : Output{}};
      },
      distinct_inputs());
  add_comparison(registry, "greater", "a > b", kernels::set_greater_kernels);
  add_comparison(registry, "greater_equal", "a >= b", kernels::set_greater_equal_kernels);
  add_comparison(registry, "less", "a < b", kernels::set_less_kernels);
  add_comparison(registry, "less_equal", "a <= b", kernels::set_less_equal_kernels);
  add_comparison(registry, "equal", "a == b", kernels::set_equal_kernels);
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
    kernels::set_where_kernels(r);
    // d where(c, x, y) = (none, c ? dy : 0, c ? 0 : dy)
    r.gradient = [](Graph& g, const Node& node, std::span<const Output> dys,
                    const std::vector<bool>& needs) {
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
      if (ctx.input_dtype(0) == DType::boolean)
        throw ShapeError("arithmetic on bool inputs is not defined");
      ctx.set_output(0, ctx.input_dtype(0), shape);
    };
    kernels::set_add_n_kernels(r);
    // d(x0 + x1 + ...) = (dy, dy, ...)
    r.gradient = [](Graph&, const Node& node, std::span<const Output> dys,
                    const std::vector<bool>&) {
      return std::vector<Output>(node.inputs.size(), dys[0]);
    };
    r.gradcheck.samples = {{{Shape{2, 3}, Shape{2, 3}, Shape{2, 3}}, {}, {}, "three"},
                           {{Shape{-1, 2}, Shape{-1, 2}}, {}, {}, "unknown batch"}};
    r.summary = "x0 + x1 + ... of equal shapes, in one pass";
    registry.add(std::move(r));
  }
}

Output add(Output a, Output b, OpName name) {
  return binary("add", a, b, name);
}
Output sub(Output a, Output b, OpName name) {
  return binary("sub", a, b, name);
}
Output mul(Output a, Output b, OpName name) {
  return binary("mul", a, b, name);
}
Output div(Output a, Output b, OpName name) {
  return binary("div", a, b, name);
}
Output pow(Output a, Output b, OpName name) {
  return binary("pow", a, b, name);
}
Output maximum(Output a, Output b, OpName name) {
  return binary("maximum", a, b, name);
}
Output minimum(Output a, Output b, OpName name) {
  return binary("minimum", a, b, name);
}
Output greater(Output a, Output b, OpName name) {
  return binary("greater", a, b, name);
}
Output greater_equal(Output a, Output b, OpName name) {
  return binary("greater_equal", a, b, name);
}
Output less(Output a, Output b, OpName name) {
  return binary("less", a, b, name);
}
Output less_equal(Output a, Output b, OpName name) {
  return binary("less_equal", a, b, name);
}
Output equal(Output a, Output b, OpName name) {
  return binary("equal", a, b, name);
}
Output add_n(const std::vector<Output>& xs, OpName name) {
  if (xs.empty()) throw GraphError("add_n: no inputs");
  return detail::build(detail::graph_of(xs[0], "add_n"), "add_n", xs, {}, name);
}
Output where(Output cond, Output x, Output y, OpName name) {
  return detail::build(detail::graph_of(cond, "where"), "where", {cond, x, y}, {}, name);
}

Output operator+(Operand a, Output b) {
  return add(a.value, b, OpName("", a.loc));
}
Output operator-(Operand a, Output b) {
  return sub(a.value, b, OpName("", a.loc));
}
Output operator*(Operand a, Output b) {
  return mul(a.value, b, OpName("", a.loc));
}
Output operator/(Operand a, Output b) {
  return div(a.value, b, OpName("", a.loc));
}
Output operator-(Operand a) {
  return neg(a.value, OpName("", a.loc));
}
Output operator+(Operand a, double b) {
  return add(a.value, scalar_like(a.value, b, "+", a.loc), OpName("", a.loc));
}
Output operator-(Operand a, double b) {
  return sub(a.value, scalar_like(a.value, b, "-", a.loc), OpName("", a.loc));
}
Output operator*(Operand a, double b) {
  return mul(a.value, scalar_like(a.value, b, "*", a.loc), OpName("", a.loc));
}
Output operator/(Operand a, double b) {
  return div(a.value, scalar_like(a.value, b, "/", a.loc), OpName("", a.loc));
}
Output operator+(double a, Operand b) {
  return add(scalar_like(b.value, a, "+", b.loc), b.value, OpName("", b.loc));
}
Output operator-(double a, Operand b) {
  return sub(scalar_like(b.value, a, "-", b.loc), b.value, OpName("", b.loc));
}
Output operator*(double a, Operand b) {
  return mul(scalar_like(b.value, a, "*", b.loc), b.value, OpName("", b.loc));
}
Output operator/(double a, Operand b) {
  return div(scalar_like(b.value, a, "/", b.loc), b.value, OpName("", b.loc));
}

}  // namespace dagrad
