// State and structure ops: placeholder, constant, variable, assign family, identity,
// stop_gradient, group.
#include <cstring>
#include <type_traits>

#include "kernel_util.hpp"
#include "op_util.hpp"
#include "wrapping_int.hpp"

namespace dagrad {

namespace {

struct Copy {
  template <class T>
  static void run(KernelContext& c) {
    std::memcpy(c.output(0).raw(), c.input(0).raw(), c.input(0).nbytes());
  }
};

// Overwrites the variable (input 0) with the value (input 1); the output aliases the variable.
struct AssignKernel {
  template <class T>
  static void run(KernelContext& c) {
    std::memcpy(c.input(0).raw(), c.input(1).raw(), c.input(1).nbytes());
  }
};
// Integer updates wrap (wrapping_int.hpp), as add and sub do.
template <bool Subtract>
struct AssignUpdateKernel {
  template <class T>
  static void run(KernelContext& c) {
    if constexpr (std::is_integral_v<T>) {
      T* v = c.input(0).data<T>();
      const T* d = c.input(1).data<T>();
      for (std::int64_t i = 0; i < c.input(0).size(); ++i)
        v[i] = Subtract ? kernels::wrapping::sub(v[i], d[i]) : kernels::wrapping::add(v[i], d[i]);
    } else {
      auto v = kernels::flat<T>(c.input(0));
      if constexpr (Subtract)
        xt::noalias(v) -= kernels::flat<T>(c.input(1));
      else
        xt::noalias(v) += kernels::flat<T>(c.input(1));
    }
  }
};
using AssignAddKernel = AssignUpdateKernel<false>;
using AssignSubKernel = AssignUpdateKernel<true>;

void assign_shape(ShapeContext& ctx) {
  if (!ctx.input_is_variable(0))
    throw ShapeError("input 0 must be a variable (the output of a variable node)");
  ctx.expect_same_dtype(0, 1);
  if (!ctx.input_shape(1).compatible_with(ctx.input_shape(0)))
    throw ShapeError("value of shape " + ctx.input_shape(1).to_string() +
                     " cannot be assigned to a variable of shape " +
                     ctx.input_shape(0).to_string());
  ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(0));
}

OpRecord assign_record(const char* name, bool overwrite, const char* summary) {
  OpRecord r;
  r.name = name;
  r.input_names = {"variable", "value"};
  if (overwrite) {
    r.shape_fn = assign_shape;
  } else {
    r.shape_fn = [](ShapeContext& ctx) {
      if (ctx.input_dtype(0) == DType::boolean)
        throw ShapeError("cannot add to or subtract from a bool variable");
      assign_shape(ctx);
    };
  }
  r.stateful = true;
  r.output_aliases_input0 = true;
  r.writes_input0 = !overwrite;
  r.overwrites_input0 = overwrite;
  r.not_differentiable_reason = "updates state";
  r.summary = summary;
  return r;
}

}  // namespace

void register_state_ops(OpRegistry& registry) {
  {
    OpRecord r;
    r.name = "placeholder";
    r.input_names = {};
    r.attrs = {{"dtype", AttrKind::DType, {}}, {"shape", AttrKind::Shape, {}}};
    r.shape_fn = [](ShapeContext& ctx) {
      ctx.set_output(0, ctx.attrs().get_dtype("dtype"), ctx.attrs().get_shape("shape"));
    };
    r.role = OpRole::Placeholder;
    r.summary = "a value fed at run time";
    registry.add(std::move(r));
  }
  {
    OpRecord r;
    r.name = "constant";
    r.attrs = {{"value", AttrKind::Tensor, {}}};
    r.shape_fn = [](ShapeContext& ctx) {
      const Tensor& t = ctx.attrs().get_tensor("value");
      if (!t.defined()) throw ShapeError("attribute 'value' is an undefined tensor");
      ctx.set_output(0, t.dtype(), t.shape());
    };
    r.role = OpRole::Constant;
    r.summary = "a fixed tensor stored in the graph";
    registry.add(std::move(r));
  }
  {
    OpRecord r;
    r.name = "variable";
    r.attrs = {{"dtype", AttrKind::DType, {}}, {"shape", AttrKind::Shape, {}}};
    r.shape_fn = [](ShapeContext& ctx) {
      const Shape& s = ctx.attrs().get_shape("shape");
      if (!s.is_fully_defined())
        throw ShapeError("a variable's shape must be fully defined, got " + s.to_string());
      ctx.set_output(0, ctx.attrs().get_dtype("dtype"), s);
    };
    r.role = OpRole::Variable;
    r.stateful = true;
    r.summary = "persistent state kept by the session across runs";
    registry.add(std::move(r));
  }
  {
    OpRecord r = assign_record("assign", true, "variable = value");
    kernels::set_kernels<AssignKernel, float, double, std::int32_t, std::int64_t, bool>(r);
    registry.add(std::move(r));
  }
  {
    OpRecord r = assign_record("assign_add", false, "variable += value");
    kernels::set_kernels<AssignAddKernel, float, double, std::int32_t, std::int64_t>(r);
    registry.add(std::move(r));
  }
  {
    OpRecord r = assign_record("assign_sub", false, "variable -= value");
    kernels::set_kernels<AssignSubKernel, float, double, std::int32_t, std::int64_t>(r);
    registry.add(std::move(r));
  }
  for (const char* name : {"identity", "stop_gradient"}) {
    OpRecord r;
    r.name = name;
    r.input_names = {"x"};
    r.shape_fn = detail::same_as_input0;
    kernels::set_kernels<Copy, float, double, std::int32_t, std::int64_t, bool>(r);
    if (std::string(name) == "identity") {
      // d identity(x) = dy
      r.gradient = [](Graph&, const Node&, std::span<const Output> dys, const std::vector<bool>&) {
        return std::vector<Output>{dys[0]};
      };
      r.gradcheck.samples = detail::unary_samples();
      r.summary = "a copy of x";
    } else {
      r.not_differentiable_reason = "blocks gradients by definition";
      r.summary = "x, through which no gradient flows";
    }
    registry.add(std::move(r));
  }
  {
    OpRecord r;
    r.name = "group";
    r.output_names = {};
    r.shape_fn = [](ShapeContext&) {};
    r.not_differentiable_reason = "has no outputs";
    r.summary = "runs after its control inputs; has no outputs";
    registry.add(std::move(r));
  }
}

Output placeholder(Graph& g, DType dtype, Shape shape, OpName name) {
  return detail::build(g, "placeholder", {}, {{"dtype", dtype}, {"shape", std::move(shape)}}, name);
}

Output constant(Graph& g, Tensor value, OpName name) {
  // A private copy: later writes to the caller's tensor must not change the graph.
  return detail::build(g, "constant", {}, {{"value", value.clone()}}, name);
}

Output scalar(Graph& g, double value, DType dtype, OpName name) {
  if (std::string why = detail::scalar_misfit(value, dtype); !why.empty())
    throw ShapeError("scalar" + (name.name.empty() ? std::string() : " '" + name.name + "'") +
                     ": " + why + " (created at " + SourceSite::from(name.loc).to_string() + ")");
  Tensor t(dtype, Shape{});
  switch (dtype) {
    case DType::float32:
      *t.data<float>() = static_cast<float>(value);
      break;
    case DType::float64:
      *t.data<double>() = value;
      break;
    case DType::int32:
      *t.data<std::int32_t>() = static_cast<std::int32_t>(value);
      break;
    case DType::int64:
      *t.data<std::int64_t>() = static_cast<std::int64_t>(value);
      break;
    case DType::boolean:
      *t.data<bool>() = value != 0.0;
      break;
  }
  return detail::build(g, "constant", {}, {{"value", std::move(t)}}, name);
}

namespace {
// Creates the variable node, then its initializer assign in the variable's own name scope.
Output make_variable(Graph& g, DType dtype, const Shape& shape, const OpName& name,
                     const std::function<Output()>& initial_value, VariableOptions options) {
  OpName var_name = name.name.empty() ? OpName("variable", name.loc) : name;
  Output var = detail::build(g, "variable", {}, {{"dtype", dtype}, {"shape", shape}}, var_name);
  const std::string& full = var.producer().name;
  auto scope = g.name_scope(full.substr(full.rfind('/') + 1), /*reuse=*/true);
  Output init = initial_value();
  Output assign_node = detail::build(g, "assign", {var, init}, {}, OpName("Assign", name.loc));
  g.register_variable(var.node, assign_node.node, std::move(options));
  return var;
}
}  // namespace

Output variable(Output initial_value, OpName name) {
  return variable(initial_value, VariableOptions{}, std::move(name));
}

Output variable(Graph& g, Tensor initial_value, OpName name) {
  return variable(g, std::move(initial_value), VariableOptions{}, std::move(name));
}

Output variable(Output initial_value, VariableOptions options, OpName name) {
  Graph& g = detail::graph_of(initial_value, "variable");
  if (!initial_value.shape().is_fully_defined())
    throw ShapeError("variable '" + name.name + "': initial value '" + initial_value.name() +
                     "' has shape " + initial_value.shape().to_string() +
                     ", which is not fully defined (created at " +
                     SourceSite::from(name.loc).to_string() + ")");
  return make_variable(
      g, initial_value.dtype(), initial_value.shape(), name, [&] { return initial_value; },
      std::move(options));
}

Output variable(Graph& g, Tensor initial_value, VariableOptions options, OpName name) {
  if (!initial_value.defined())
    throw GraphError("variable '" + name.name + "': undefined initial value");
  return make_variable(
      g, initial_value.dtype(), initial_value.shape(), name,
      [&] { return constant(g, initial_value, OpName("initial_value", name.loc)); },
      std::move(options));
}

Output assign(Output var, Output value, OpName name) {
  return detail::build(detail::graph_of(var, "assign"), "assign", {var, value}, {}, name);
}
Output assign_add(Output var, Output value, OpName name) {
  return detail::build(detail::graph_of(var, "assign_add"), "assign_add", {var, value}, {}, name);
}
Output assign_sub(Output var, Output value, OpName name) {
  return detail::build(detail::graph_of(var, "assign_sub"), "assign_sub", {var, value}, {}, name);
}
Output identity(Output x, OpName name) {
  return detail::build(detail::graph_of(x, "identity"), "identity", {x}, {}, name);
}
Output stop_gradient(Output x, OpName name) {
  return detail::build(detail::graph_of(x, "stop_gradient"), "stop_gradient", {x}, {}, name);
}

Operation group(Graph& g, const std::vector<Operation>& deps, OpName name) {
  NodeOptions options;
  options.name = name.name;
  for (const Operation& d : deps) {
    if (!d.valid() || d.graph != &g) throw GraphError("group: a dependency is not in this graph");
    options.control_inputs.push_back(d.node);
  }
  g.add_node("group", {}, {}, std::move(options), name.loc);
  return Operation(&g, g.num_nodes() - 1);
}

}  // namespace dagrad
