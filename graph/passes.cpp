#include "dagrad/graph/passes.hpp"

#include <algorithm>
#include <chrono>
#include <unordered_map>

#include "dagrad/graph/errors.hpp"
#include "variable_order.hpp"

namespace dagrad {

namespace {

std::string describe(const Node& n) {
  return "'" + n.name + "' (" + n.op->name + ")";
}

// Ops a pass may evaluate early, merge or drop: no state, no randomness, no writes.
bool pure(const OpRecord& op) {
  return op.role == OpRole::Compute && !op.stateful && !op.uses_rng && !op.writes_input0 &&
         !op.overwrites_input0 && !op.output_aliases_input0;
}

}  // namespace

bool same_shape(const Shape& a, const Shape& b) {
  if (a.rank() != b.rank()) return false;
  for (int i = 0; i < a.rank(); ++i)
    if (a[i] != b[i]) return false;
  return true;
}

bool constant_scalar(const PlanGraph& graph, NodeInput output, double& value) {
  const Node& n = graph.node(output.node);
  if (n.op->role != OpRole::Constant) return false;
  const Tensor& t = n.attrs.get_tensor("value");
  if (!t.defined() || t.size() != 1) return false;
  value = t.value_as_double(0);
  return true;
}

bool constant_all_equal(const PlanGraph& graph, NodeInput output, double value) {
  const Node& n = graph.node(output.node);
  if (n.op->role != OpRole::Constant) return false;
  const Tensor& t = n.attrs.get_tensor("value");
  if (!t.defined()) return false;
  for (std::int64_t i = 0; i < t.size(); ++i)
    if (t.value_as_double(i) != value) return false;
  return true;
}

void check_pass_names(const PassPipeline& pipeline, const std::vector<std::string>& names) {
  for (const std::string& name : names)
    if (std::none_of(pipeline.begin(), pipeline.end(),
                     [&](const Pass& p) { return p.name == name; })) {
      std::string known;
      for (const Pass& p : pipeline) known += (known.empty() ? "" : ", ") + p.name;
      throw GraphError("no graph pass is named '" + name + "' (the passes: " + known + ")");
    }
}

std::vector<PassReport> run_passes(PlanGraph& graph, const PassPipeline& pipeline,
                                   const OptimizerOptions& options) {
  check_pass_names(pipeline, options.disabled);
  check_pass_names(pipeline, options.enabled);
  std::vector<PassReport> reports;
  if (!options.optimize) return reports;
  auto named = [](const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  for (const Pass& pass : pipeline) {
    if (named(options.disabled, pass.name)) continue;
    if (!pass.on_by_default && !named(options.enabled, pass.name)) continue;
    PassReport report;
    report.pass = pass.name;
    report.nodes_before = graph.num_live();
    auto start = std::chrono::steady_clock::now();
    pass.run(graph, report);
    report.milliseconds =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    report.nodes_after = graph.num_live();
    if (options.verify) {
      try {
        verify_plan_graph(graph);
      } catch (const Error& e) {
        throw GraphError("after graph pass '" + pass.name + "': " + e.what());
      }
    }
    reports.push_back(std::move(report));
  }
  return reports;
}

void verify_plan_graph(const PlanGraph& g) {
  for (int id = 0; id < g.num_nodes(); ++id) {
    if (!g.live(id)) continue;
    const Node& n = g.node(id);
    const OpRecord& op = *n.op;
    int arity = static_cast<int>(n.inputs.size());
    if (op.variadic_inputs ? arity < op.min_inputs
                           : arity != static_cast<int>(op.input_names.size()))
      throw GraphError("node " + describe(n) + " has " + std::to_string(arity) +
                       " inputs, which its op does not accept");
    for (std::size_t i = 0; i < n.inputs.size(); ++i) {
      const NodeInput& in = n.inputs[i];
      if (in.node < 0 || in.node >= g.num_nodes() || !g.live(in.node))
        throw GraphError("node " + describe(n) + " input " + std::to_string(i) +
                         " refers to a removed or missing node");
      if (in.index < 0 || in.index >= static_cast<int>(g.node(in.node).output_dtypes.size()))
        throw GraphError("node " + describe(n) + " input " + std::to_string(i) +
                         " refers to a missing output of " + describe(g.node(in.node)));
    }
    for (int c : n.control_inputs)
      if (c < 0 || c >= g.num_nodes() || !g.live(c))
        throw GraphError("node " + describe(n) + " has a removed or missing control input");
    for (const AttrSpec& spec : op.attrs) {
      const AttrValue* v = n.attrs.find(spec.name);
      if (!v || attr_kind_of(*v) != spec.kind)
        throw GraphError("node " + describe(n) + " lacks attribute '" + spec.name + "' of kind " +
                         std::string(attr_kind_name(spec.kind)));
    }
    if (n.attrs.items().size() != op.attrs.size())
      throw GraphError("node " + describe(n) + " has attributes its op does not declare");
    std::vector<ShapeContext::InputInfo> infos;
    for (const NodeInput& in : n.inputs) {
      const Node& p = g.node(in.node);
      infos.push_back({p.output_dtypes[static_cast<std::size_t>(in.index)],
                       p.output_shapes[static_cast<std::size_t>(in.index)],
                       p.op->role == OpRole::Variable});
    }
    ShapeContext ctx(infos, n.attrs, static_cast<int>(n.output_dtypes.size()));
    try {
      op.shape_fn(ctx);
    } catch (const std::exception& e) {
      throw GraphError("node " + describe(n) + " is rejected by its shape function: " + e.what());
    }
    for (std::size_t o = 0; o < n.output_dtypes.size(); ++o) {
      const auto& info = ctx.outputs().at(o);
      if (info.dtype != n.output_dtypes[o] || !info.shape.compatible_with(n.output_shapes[o]))
        throw GraphError("node " + describe(n) + " output " + std::to_string(o) +
                         " is recorded as " + std::string(dtype_name(n.output_dtypes[o])) + " " +
                         n.output_shapes[o].to_string() + " but its inputs give " +
                         std::string(dtype_name(info.dtype)) + " " + info.shape.to_string());
    }
  }
  for (const NodeInput& f : g.fetches())
    if (!g.live(f.node)) throw GraphError("a fetch refers to a removed node");
  for (int t : g.targets())
    if (!g.live(t)) throw GraphError("a target refers to a removed node");
  std::vector<int> order = g.topological_order();  // throws on a cycle
  // A pass must not leave a read of a variable unordered with a write of it (fusion moves
  // stores into fused nodes; simplification forwards values past nodes).
  detail::check_variable_order(g, order);
}

Pass prune_pass() {
  return {"prune", "drops nodes that no fetch or target needs",
          [](PlanGraph& g, PassReport& report) {
            std::vector<int> roots = g.targets();
            for (const NodeInput& f : g.fetches()) roots.push_back(f.node);
            std::vector<char> needed = needed_by(g, std::move(roots));
            for (int id = 0; id < g.num_nodes(); ++id) {
              if (!g.live(id) || needed[static_cast<std::size_t>(id)]) continue;
              // Fed placeholders stay: the plan still checks and binds every feed.
              if (g.node(id).op->role == OpRole::Placeholder) continue;
              report.note("removed " + describe(g.node(id)));
              g.kill(id);
            }
          }};
}

Pass constant_folding_pass() {
  return {"constant_folding",
          "evaluates once, at compile time, pure nodes whose inputs are all constants",
          [](PlanGraph& g, PassReport& report) {
            const OpRecord* constant_op = g.registry().find("constant");
            if (!constant_op) return;  // a registry without constants: nothing to fold into
            const OpRecord& constant = *constant_op;
            for (int id : g.topological_order()) {
              const Node& n = g.node(id);
              if (!pure(*n.op) || n.output_dtypes.size() != 1 || !n.op->has_kernel()) continue;
              if (!n.output_shapes[0].is_fully_defined()) continue;
              // Control inputs order others through this node (a read after a write): keep them.
              if (!n.control_inputs.empty()) continue;
              std::int64_t input_elements = 0;
              bool all_constant = true;
              std::vector<Tensor> values;
              for (const NodeInput& in : n.inputs) {
                const Node& p = g.node(in.node);
                if (p.op->role != OpRole::Constant || !p.control_inputs.empty()) {
                  all_constant = false;
                  break;
                }
                values.push_back(p.attrs.get_tensor("value"));
                input_elements += values.back().size();
              }
              if (!all_constant) continue;
              // A folded broadcast or fill must not turn a few numbers into a large constant.
              std::int64_t out_elements = 0;
              try {
                out_elements = n.output_shapes[0].num_elements();
              } catch (const std::exception&) {
                continue;  // too many to count: the run reports it, naming the node
              }
              if (out_elements > std::max<std::int64_t>(input_elements, 4096)) continue;
              KernelFn kernel = n.op->kernel_for(g.dispatch_dtype(id));
              if (!kernel) continue;
              Tensor result(n.output_dtypes[0], n.output_shapes[0]);
              std::vector<const Tensor*> in_ptrs;
              for (const Tensor& t : values) in_ptrs.push_back(&t);
              Tensor* out_ptr = &result;
              KernelContext ctx{n, std::span<const Tensor* const>(in_ptrs.data(), in_ptrs.size()),
                                std::span<Tensor* const>(&out_ptr, 1), nullptr};
              try {
                kernel(ctx);
              } catch (const std::exception&) {
                continue;  // left to fail at run time, with the run's error context
              }
              AttrMap attrs;
              attrs.set("value", result);
              std::string name = n.name;
              int folded = g.add_node(constant, {}, std::move(attrs), name, {}, id);
              g.replace_uses({id, 0}, {folded, 0});
              g.redirect_control(id, folded);
              report.note("folded " + describe(g.node(id)) + " into a constant " +
                          g.node(folded).output_shapes[0].to_string());
              g.kill(id);
            }
          }};
}

Pass cse_pass() {
  return {"cse", "merges nodes with the same op, attributes, inputs and control inputs",
          [](PlanGraph& g, PassReport& report) {
            std::vector<int> alias = g.variable_aliases();
            std::vector<char> written = g.written_variables();
            auto volatile_input = [&](const NodeInput& in) {
              if (in.index != 0) return false;
              int v = alias[static_cast<std::size_t>(in.node)];
              return v >= 0 && written[static_cast<std::size_t>(v)];
            };
            std::unordered_map<std::size_t, std::vector<int>> seen;
            for (int id : g.topological_order()) {
              const Node& n = g.node(id);
              bool mergeable = (pure(*n.op) || n.op->role == OpRole::Constant) &&
                               !n.output_dtypes.empty() &&
                               std::none_of(n.inputs.begin(), n.inputs.end(), volatile_input);
              if (!mergeable) continue;
              std::size_t h = std::hash<const void*>{}(n.op) ^ (n.attrs.hash() * 31);
              for (const NodeInput& in : n.inputs)
                h = h * 1000003u ^
                    (static_cast<std::size_t>(in.node) * 8u + static_cast<std::size_t>(in.index));
              std::vector<int> control = n.control_inputs;
              std::sort(control.begin(), control.end());
              for (int c : control) h = h * 999983u ^ static_cast<std::size_t>(c);
              auto& bucket = seen[h];
              int same = -1;
              for (int other : bucket) {
                const Node& o = g.node(other);
                std::vector<int> oc = o.control_inputs;
                std::sort(oc.begin(), oc.end());
                bool equal = o.op == n.op && o.inputs.size() == n.inputs.size() && oc == control &&
                             o.attrs == n.attrs && o.output_shapes.size() == n.output_shapes.size();
                for (std::size_t i = 0; equal && i < n.inputs.size(); ++i)
                  equal = o.inputs[i].node == n.inputs[i].node &&
                          o.inputs[i].index == n.inputs[i].index;
                for (std::size_t i = 0; equal && i < n.output_shapes.size(); ++i)
                  equal = same_shape(o.output_shapes[i], n.output_shapes[i]);
                if (equal) {
                  same = other;
                  break;
                }
              }
              if (same < 0) {
                bucket.push_back(id);
                continue;
              }
              for (int o = 0; o < static_cast<int>(n.output_dtypes.size()); ++o)
                g.replace_uses({id, o}, {same, o});
              g.redirect_control(id, same);
              report.note("merged " + describe(n) + " into '" + g.node(same).name + "'");
              g.kill(id);
            }
          }};
}

}  // namespace dagrad
