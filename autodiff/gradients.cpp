#include "dagrad/autodiff/gradients.hpp"

#include <algorithm>
#include <map>
#include <stdexcept>
#include <string>

#include "dagrad/graph/errors.hpp"
#include "dagrad/ops/ops.hpp"

namespace dagrad {

namespace {

bool differentiable_dtype(DType d) {
  return is_floating(d);
}

// Sums the contributions to one output's gradient: one add_n for fan-out.
Output sum_contributions(std::vector<Output>& parts) {
  if (parts.size() == 1) return parts[0];
  return add_n(parts, "AddN");
}

// Whether input i of node may be broadcast at run time although its build-time shape already
// matches its gradient's: the op declares it broadcasting, and along some axis where it is
// unknown another broadcasting input (a different tensor) is not 1 ((?, 3) against (?, 3) may be
// fed (1, 3) and (4, 3); (?, 3) against (3) never broadcasts).
bool may_broadcast_at_run_time(const Graph& g, const Node& node, int i) {
  const auto& declared = node.op->broadcasting_inputs;
  if (std::find(declared.begin(), declared.end(), i) == declared.end()) return false;
  const NodeInput& in = node.inputs[static_cast<std::size_t>(i)];
  const Shape& x = g.node(in.node).output_shapes[static_cast<std::size_t>(in.index)];
  for (int axis = 0; axis < x.rank(); ++axis) {
    if (x[axis] != Shape::kUnknown) continue;
    for (int j : declared) {
      if (j == i || j >= static_cast<int>(node.inputs.size())) continue;
      const NodeInput& other = node.inputs[static_cast<std::size_t>(j)];
      if (other.node == in.node && other.index == in.index) continue;  // x * x: the same tensor
      const Shape& s = g.node(other.node).output_shapes[static_cast<std::size_t>(other.index)];
      int aligned = s.rank() - x.rank() + axis;
      if (aligned >= 0 && s[aligned] != 1) return true;
    }
  }
  return false;
}

// Whether a gradient of shape dx can be summed back to an input of shape x (x broadcasts to dx).
bool reducible_to(const Shape& dx, const Shape& x) {
  if (x.rank() > dx.rank()) return false;
  try {
    return broadcast_shapes(x, dx).compatible_with(dx);
  } catch (const std::invalid_argument&) {
    return false;
  }
}

std::string describe_node(const Node& node) {
  return "node '" + node.name + "', created at " + node.site.to_string();
}

// The walk proper, adding nodes; gradients() undoes them all when it throws.
std::vector<Output> build_gradients(Graph& g, const std::vector<Output>& ys,
                                    const std::vector<Output>& xs,
                                    const std::vector<Output>& grad_ys,
                                    const std::vector<char>& on_path, int highest) {
  auto needs_of = [&](const Node& node) {
    std::vector<bool> needs(node.inputs.size(), false);
    for (std::size_t i = 0; i < node.inputs.size(); ++i) {
      const NodeInput& in = node.inputs[i];
      needs[i] =
          on_path[static_cast<std::size_t>(in.node)] &&
          differentiable_dtype(g.node(in.node).output_dtypes[static_cast<std::size_t>(in.index)]);
    }
    return needs;
  };
  const int n = g.num_nodes();
  // Pending gradient contributions per (node, output).
  std::map<std::pair<int, int>, std::vector<Output>> pending;
  std::map<std::pair<int, int>, Output> done;  // summed gradients, for xs
  // One top-level scope per call, taken like a name scope ("gradients", "gradients_1", ...), so
  // that the nodes of separate calls do not interleave.
  std::string top;
  {
    auto outside = g.absolute_scope("");
    auto scope = g.name_scope("gradients");
    top = g.current_scope();  // "gradients_1/"
  }
  auto scope_guard = g.absolute_scope(top.substr(0, top.size() - 1));
  auto backward = g.backward_section();
  for (std::size_t i = 0; i < ys.size(); ++i) {
    const Output& y = ys[i];
    if (!on_path[static_cast<std::size_t>(y.node)]) continue;
    Output seed;
    if (!grad_ys.empty() && grad_ys[i].valid()) {
      if (grad_ys[i].dtype() != y.dtype() || !grad_ys[i].shape().compatible_with(y.shape()))
        throw ShapeError("gradients: grad_ys[" + std::to_string(i) + "] is " +
                         std::string(dtype_name(grad_ys[i].dtype())) + " " +
                         grad_ys[i].shape().to_string() + ", y '" + y.name() + "' is " +
                         std::string(dtype_name(y.dtype())) + " " + y.shape().to_string());
      seed = grad_ys[i];
    } else {
      seed = ones_like(y, y.producer().name + "_grad_seed");
    }
    pending[{y.node, y.index}].push_back(seed);
  }

  std::vector<char> is_x(static_cast<std::size_t>(n), 0);
  for (const Output& x : xs) is_x[static_cast<std::size_t>(x.node)] = 1;

  for (int id = highest; id >= 0; --id) {
    if (!on_path[static_cast<std::size_t>(id)]) continue;
    const Node& node = g.node(id);
    const int num_outputs = static_cast<int>(node.output_dtypes.size());
    std::vector<Output> dys(static_cast<std::size_t>(num_outputs));
    bool any = false;
    const std::string node_scope = top + node.name + "_grad";
    {
      auto scope = g.absolute_scope(node_scope);
      for (int o = 0; o < num_outputs; ++o) {
        auto it = pending.find({id, o});
        if (it == pending.end()) continue;
        dys[static_cast<std::size_t>(o)] = sum_contributions(it->second);
        pending.erase(it);
        any = true;
      }
    }
    if (!any) continue;
    if (is_x[static_cast<std::size_t>(id)])
      for (int o = 0; o < num_outputs; ++o) done[{id, o}] = dys[static_cast<std::size_t>(o)];
    if (node.inputs.empty() || !node.op->not_differentiable_reason.empty()) continue;
    std::vector<bool> needs = needs_of(node);
    if (std::find(needs.begin(), needs.end(), true) == needs.end()) continue;
    if (!node.op->gradient)
      throw GraphError("no gradient defined for op '" + node.op->name + "' (" +
                       describe_node(node) + ")");
    auto scope = g.absolute_scope(node_scope);
    std::vector<Output> dxs = node.op->gradient(g, node, dys, needs);
    if (dxs.size() != node.inputs.size())
      throw GraphError("gradient rule of op '" + node.op->name + "' returned " +
                       std::to_string(dxs.size()) + " gradients for " +
                       std::to_string(node.inputs.size()) + " inputs (" + describe_node(node) +
                       ")");
    for (std::size_t i = 0; i < dxs.size(); ++i) {
      const auto& in = node.inputs[i];
      if (!needs[i] || !dxs[i].valid()) continue;
      Output x = g.output_of(in.node, in.index);
      Output dx = dxs[i];
      // Checked here, so that a wrong rule is blamed rather than the sum_to or add_n it feeds.
      auto wrong = [&](const std::string& what) {
        return GraphError("gradient rule of op '" + node.op->name + "' (" + describe_node(node) +
                          ") returned for input " + std::to_string(i) + " " + what);
      };
      if (dx.graph != &g || dx.node >= g.num_nodes()) throw wrong("an output of another graph");
      if (dx.dtype() != x.dtype())
        throw wrong("a " + std::string(dtype_name(dx.dtype())) + " gradient for a " +
                    std::string(dtype_name(x.dtype())) + " input");
      if (!reducible_to(dx.shape(), x.shape()))
        throw wrong("a gradient of shape " + dx.shape().to_string() + " for an input of shape " +
                    x.shape().to_string() + ", which is neither that shape nor a broadcast of it");
      // Broadcasting: sum the gradient back to the input's shape, here for every rule.
      if (dx.shape() != x.shape() || may_broadcast_at_run_time(g, node, static_cast<int>(i)))
        dx = sum_to(dx, x, "SumTo");
      pending[{in.node, in.index}].push_back(dx);
    }
  }

  std::vector<Output> result;
  result.reserve(xs.size());
  for (const Output& x : xs) {
    auto it = done.find({x.node, x.index});
    result.push_back(it == done.end() ? Output{} : it->second);
  }
  return result;
}

}  // namespace

std::vector<Output> gradients(const std::vector<Output>& ys, const std::vector<Output>& xs,
                              const std::vector<Output>& grad_ys) {
  if (ys.empty()) throw GraphError("gradients: no ys");
  if (!ys[0].valid()) throw GraphError("gradients: ys[0] is not a valid output");
  Graph& g = *ys[0].graph;
  for (const Output& y : ys) {
    if (!y.valid() || y.graph != &g)
      throw GraphError("gradients: ys must be valid outputs of one graph");
    if (!differentiable_dtype(y.dtype()))
      throw GraphError("gradients: y '" + y.name() + "' is " + std::string(dtype_name(y.dtype())) +
                       "; only float32/float64 outputs can be differentiated");
  }
  for (const Output& x : xs)
    if (!x.valid() || x.graph != &g)
      throw GraphError("gradients: xs must be valid outputs of the ys' graph");
  for (const Output& seed : grad_ys)
    if (seed.valid() && seed.graph != &g)
      throw GraphError("gradients: grad_ys must be outputs of the ys' graph");
  if (!grad_ys.empty() && grad_ys.size() != ys.size())
    throw GraphError("gradients: " + std::to_string(grad_ys.size()) + " grad_ys for " +
                     std::to_string(ys.size()) + " ys");

  const int n = g.num_nodes();
  // Nodes that depend on some x (forward reachable), through differentiable edges.
  std::vector<char> from_x(static_cast<std::size_t>(n), 0);
  int lowest = n;
  for (const Output& x : xs) {
    from_x[static_cast<std::size_t>(x.node)] = 1;
    lowest = std::min(lowest, x.node);
  }
  for (int id = lowest; id < n; ++id) {
    if (from_x[static_cast<std::size_t>(id)]) continue;
    const Node& node = g.node(id);
    if (!node.op->not_differentiable_reason.empty()) continue;  // stop_gradient, comparisons, ...
    for (const auto& in : node.inputs)
      if (from_x[static_cast<std::size_t>(in.node)] &&
          differentiable_dtype(g.node(in.node).output_dtypes[static_cast<std::size_t>(in.index)])) {
        from_x[static_cast<std::size_t>(id)] = 1;
        break;
      }
  }
  // Nodes some y depends on (backward reachable) that also depend on an x: the path.
  std::vector<char> on_path(static_cast<std::size_t>(n), 0);
  int highest = -1;
  {
    std::vector<int> stack;
    for (const Output& y : ys) stack.push_back(y.node);
    while (!stack.empty()) {
      int id = stack.back();
      stack.pop_back();
      if (on_path[static_cast<std::size_t>(id)] || !from_x[static_cast<std::size_t>(id)]) continue;
      on_path[static_cast<std::size_t>(id)] = 1;
      highest = std::max(highest, id);
      for (const auto& in : g.node(id).inputs) stack.push_back(in.node);
    }
  }

  // Every op that must pass a gradient has a rule: checked before any node is added, so a
  // failure leaves the graph unchanged.
  for (int id = 0; id <= highest; ++id) {
    if (!on_path[static_cast<std::size_t>(id)]) continue;
    const Node& node = g.node(id);
    if (node.inputs.empty() || !node.op->not_differentiable_reason.empty() || node.op->gradient)
      continue;
    bool needs = false;
    for (const auto& in : node.inputs)
      needs =
          needs ||
          (on_path[static_cast<std::size_t>(in.node)] &&
           differentiable_dtype(g.node(in.node).output_dtypes[static_cast<std::size_t>(in.index)]));
    if (needs)
      throw GraphError("no gradient defined for op '" + node.op->name + "' (node '" + node.name +
                       "', created at " + node.site.to_string() + ")");
  }

  // Every failure from here on (a rule that throws, or returns a gradient of the wrong count,
  // dtype or shape) removes what the walk added, names included.
  Graph::Checkpoint restore = g.checkpoint();
  try {
    return build_gradients(g, ys, xs, grad_ys, on_path, highest);
  } catch (...) {
    g.rollback(restore);
    throw;
  }
}

std::vector<Output> gradients(Output y, const std::vector<Output>& xs) {
  return gradients(std::vector<Output>{y}, xs);
}

}  // namespace dagrad
