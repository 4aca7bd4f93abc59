#include "dagrad/graph/plan_graph.hpp"

#include <algorithm>
#include <optional>
#include <queue>
#include <sstream>

#include "dagrad/graph/errors.hpp"
#include "dagrad/graph/transforms.hpp"

namespace dagrad {

std::vector<int> written_inputs(const Node& n) {
  std::vector<int> out;
  if ((n.op->writes_input0 || n.op->overwrites_input0) && !n.inputs.empty()) out.push_back(0);
  if (n.op->written_inputs)
    for (int i : n.op->written_inputs(n.attrs))
      if (i >= 0 && i < static_cast<int>(n.inputs.size()) &&
          std::find(out.begin(), out.end(), i) == out.end())
        out.push_back(i);
  return out;
}

PlanGraph::PlanGraph(const Graph& source, const std::vector<int>& needed,
                     const std::vector<NodeInput>& fetches, const std::vector<int>& targets,
                     const std::vector<int>& feeds)
    : source_(&source), copy_of_(static_cast<std::size_t>(source.num_nodes()), -1) {
  for (int id : needed) {
    const Node& original = source.node(id);
    Node copy = original;
    copy.id = num_nodes();
    for (NodeInput& in : copy.inputs) in.node = copy_of(in.node);
    for (int& c : copy.control_inputs) c = copy_of(c);
    copy_of_[static_cast<std::size_t>(id)] = copy.id;
    nodes_.push_back(std::move(copy));
    live_.push_back(1);
    origin_.push_back(id);
    order_key_.push_back(static_cast<double>(id));
    ++num_live_;
  }
  users_.resize(nodes_.size());
  control_users_.resize(nodes_.size());
  for (const Node& n : nodes_) {
    for (const NodeInput& in : n.inputs) users_[static_cast<std::size_t>(in.node)].push_back(n.id);
    for (int c : n.control_inputs) control_users_[static_cast<std::size_t>(c)].push_back(n.id);
  }
  for (const NodeInput& f : fetches) fetches_.push_back({copy_of(f.node), f.index});
  for (int t : targets) targets_.push_back(copy_of(t));
  for (int p : feeds) feeds_.push_back(copy_of(p));
}

const Node& PlanGraph::node(int id) const {
  if (id < 0 || id >= num_nodes())
    throw GraphError("plan graph: node " + std::to_string(id) + " does not exist (it has " +
                     std::to_string(num_nodes()) + " nodes)");
  return nodes_[static_cast<std::size_t>(id)];
}

Node& PlanGraph::mutable_node(int id) {
  node(id);  // range check
  return nodes_[static_cast<std::size_t>(id)];
}

void PlanGraph::set_input(int id, int index, NodeInput value) {
  node(id);  // range check
  nodes_[static_cast<std::size_t>(id)].inputs.at(static_cast<std::size_t>(index)) = value;
  users_[static_cast<std::size_t>(value.node)].push_back(id);
}

int PlanGraph::copy_of(int source_id) const {
  if (source_id < 0 || source_id >= static_cast<int>(copy_of_.size())) return -1;
  return copy_of_[static_cast<std::size_t>(source_id)];
}

int PlanGraph::add_node(const OpRecord& op, std::vector<NodeInput> inputs, AttrMap attrs,
                        std::string name, std::vector<int> control_inputs, int like) {
  std::vector<ShapeContext::InputInfo> infos;
  infos.reserve(inputs.size());
  for (const NodeInput& in : inputs) {
    const Node& p = node(in.node);
    infos.push_back({p.output_dtypes.at(static_cast<std::size_t>(in.index)),
                     p.output_shapes.at(static_cast<std::size_t>(in.index)),
                     p.op->role == OpRole::Variable});
  }
  // Fill attribute defaults the way Graph::add_node does, so kernels find every attribute.
  AttrMap checked;
  for (const AttrSpec& spec : op.attrs) {
    if (const AttrValue* v = attrs.find(spec.name))
      checked.set(spec.name, *v);
    else if (spec.default_value)
      checked.set(spec.name, *spec.default_value);
    else
      throw GraphError("plan graph: node '" + name + "' (op " + op.name +
                       ") lacks required attribute '" + spec.name + "'");
  }
  ShapeContext* context = nullptr;
  std::optional<ShapeContext> ctx_storage;
  try {
    int num_outputs =
        op.output_count ? op.output_count(checked) : static_cast<int>(op.output_names.size());
    ctx_storage.emplace(infos, checked, num_outputs);
    context = &*ctx_storage;
    op.shape_fn(*context);
  } catch (const std::exception& e) {
    throw ShapeError("plan graph: node '" + name + "' (op " + op.name +
                     ") made by a pass is rejected by its shape function: " + e.what());
  }
  Node n;
  n.id = num_nodes();
  n.name = std::move(name);
  n.op = &op;
  n.inputs = std::move(inputs);
  n.control_inputs = std::move(control_inputs);
  n.attrs = std::move(checked);
  for (const auto& o : context->outputs()) {
    n.output_dtypes.push_back(o.dtype);
    n.output_shapes.push_back(o.shape);
  }
  double key = static_cast<double>(num_nodes());
  if (like >= 0) {
    n.site = node(like).site;
    n.backward = node(like).backward;
    key = order_key_[static_cast<std::size_t>(like)];
  }
  users_.emplace_back();
  control_users_.emplace_back();
  for (const NodeInput& in : n.inputs) users_[static_cast<std::size_t>(in.node)].push_back(n.id);
  for (int c : n.control_inputs) control_users_[static_cast<std::size_t>(c)].push_back(n.id);
  nodes_.push_back(std::move(n));
  live_.push_back(1);
  origin_.push_back(-1);
  order_key_.push_back(key);
  ++num_live_;
  return num_nodes() - 1;
}

void PlanGraph::replace_uses(NodeInput from, NodeInput to) {
  std::vector<int> users;
  users.swap(users_[static_cast<std::size_t>(from.node)]);
  std::vector<int> kept;  // users of other outputs of `from` still use it
  for (int id : users) {
    if (!live_[static_cast<std::size_t>(id)]) continue;
    bool moved = false, stays = false;
    for (NodeInput& in : nodes_[static_cast<std::size_t>(id)].inputs) {
      if (in.node != from.node) continue;
      if (in.index == from.index) {
        in = to;
        moved = true;
      } else {
        stays = true;
      }
    }
    if (moved) users_[static_cast<std::size_t>(to.node)].push_back(id);
    if (stays) kept.push_back(id);
  }
  auto& left = users_[static_cast<std::size_t>(from.node)];
  left.insert(left.end(), kept.begin(), kept.end());
  for (NodeInput& f : fetches_)
    if (f.node == from.node && f.index == from.index) f = to;
}

void PlanGraph::redirect_control(int from, int to) {
  std::vector<int> users;
  users.swap(control_users_[static_cast<std::size_t>(from)]);
  for (int id : users) {
    if (!live_[static_cast<std::size_t>(id)] || id == to) continue;
    auto& c = nodes_[static_cast<std::size_t>(id)].control_inputs;
    auto it = std::find(c.begin(), c.end(), from);
    if (it == c.end()) continue;
    c.erase(it);
    if (to >= 0 && std::find(c.begin(), c.end(), to) == c.end()) {
      c.push_back(to);
      control_users_[static_cast<std::size_t>(to)].push_back(id);
    }
  }
  bool targeted = false;
  for (int& t : targets_)
    if (t == from) {
      t = to;
      targeted = true;
    }
  if (!targeted) return;
  std::vector<int> unique;
  for (int t : targets_)
    if (t >= 0 && std::find(unique.begin(), unique.end(), t) == unique.end()) unique.push_back(t);
  targets_ = std::move(unique);
}

void PlanGraph::kill(int id) {
  if (!live(id)) return;
  live_[static_cast<std::size_t>(id)] = 0;
  --num_live_;
}

DType PlanGraph::dispatch_dtype(int id) const {
  const Node& n = node(id);
  if (n.op->dispatch_input >= 0 && n.op->dispatch_input < static_cast<int>(n.inputs.size())) {
    const NodeInput& in = n.inputs[static_cast<std::size_t>(n.op->dispatch_input)];
    return node(in.node).output_dtypes.at(static_cast<std::size_t>(in.index));
  }
  return n.output_dtypes.at(0);
}

std::vector<std::vector<int>> PlanGraph::consumers() const {
  std::vector<std::vector<int>> out(nodes_.size());
  for (std::size_t id = 0; id < nodes_.size(); ++id) {
    if (!live_[id]) continue;
    for (const NodeInput& in : nodes_[id].inputs) {
      auto& uses = out[static_cast<std::size_t>(in.node)];
      if (uses.empty() || uses.back() != static_cast<int>(id)) uses.push_back(static_cast<int>(id));
    }
  }
  return out;
}

std::vector<int> PlanGraph::topological_order() const {
  // Kahn's algorithm, always taking the ready node with the smallest order key: the source
  // graph's order where passes kept it, new nodes beside the node they stand for.
  const std::size_t n = nodes_.size();
  std::vector<int> pending(n, 0);
  std::vector<std::vector<int>> after(n);
  for (std::size_t id = 0; id < n; ++id) {
    if (!live_[id]) continue;
    auto edge = [&](int from) {
      if (!live_[static_cast<std::size_t>(from)])
        throw GraphError("plan graph: node '" + nodes_[id].name + "' (op " + nodes_[id].op->name +
                         ") depends on removed node '" +
                         nodes_[static_cast<std::size_t>(from)].name + "'");
      after[static_cast<std::size_t>(from)].push_back(static_cast<int>(id));
      ++pending[id];
    };
    for (const NodeInput& in : nodes_[id].inputs) edge(in.node);
    for (int c : nodes_[id].control_inputs) edge(c);
  }
  using Entry = std::pair<double, int>;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> ready;
  for (std::size_t id = 0; id < n; ++id)
    if (live_[id] && pending[id] == 0) ready.push({order_key_[id], static_cast<int>(id)});
  std::vector<int> order;
  order.reserve(static_cast<std::size_t>(num_live_));
  while (!ready.empty()) {
    int id = ready.top().second;
    ready.pop();
    order.push_back(id);
    for (int next : after[static_cast<std::size_t>(id)])
      if (--pending[static_cast<std::size_t>(next)] == 0)
        ready.push({order_key_[static_cast<std::size_t>(next)], next});
  }
  if (static_cast<int>(order.size()) != num_live_) {
    // Walk back through unfinished inputs until a node repeats: that loop is a cycle.
    int start = -1;
    for (std::size_t id = 0; id < n && start < 0; ++id)
      if (live_[id] && pending[id] > 0) start = static_cast<int>(id);
    std::vector<int> seen_at(n, -1), path;
    int u = start;
    while (seen_at[static_cast<std::size_t>(u)] < 0) {
      seen_at[static_cast<std::size_t>(u)] = static_cast<int>(path.size());
      path.push_back(u);
      const Node& node = nodes_[static_cast<std::size_t>(u)];
      int next = -1;
      for (const NodeInput& in : node.inputs)
        if (next < 0 && pending[static_cast<std::size_t>(in.node)] > 0) next = in.node;
      for (int c : node.control_inputs)
        if (next < 0 && pending[static_cast<std::size_t>(c)] > 0) next = c;
      u = next;
    }
    std::string cycle;
    for (std::size_t k = static_cast<std::size_t>(seen_at[static_cast<std::size_t>(u)]);
         k < path.size(); ++k)
      cycle = "'" + nodes_[static_cast<std::size_t>(path[k])].name + "' (" +
              nodes_[static_cast<std::size_t>(path[k])].op->name + ")" +
              (cycle.empty() ? "" : " <- ") + cycle;
    throw GraphError("plan graph has a cycle: " + cycle);
  }
  return order;
}

std::vector<int> PlanGraph::variable_aliases() const {
  std::vector<int> alias(nodes_.size(), -1);
  for (int id : topological_order()) {
    const Node& n = nodes_[static_cast<std::size_t>(id)];
    if (n.op->role == OpRole::Variable)
      alias[static_cast<std::size_t>(id)] = id;
    else if (n.op->output_aliases_input0 && !n.inputs.empty() && n.inputs[0].index == 0)
      alias[static_cast<std::size_t>(id)] = alias[static_cast<std::size_t>(n.inputs[0].node)];
  }
  return alias;
}

std::vector<char> PlanGraph::written_variables() const {
  std::vector<char> written(nodes_.size(), 0);
  for (std::size_t id = 0; id < nodes_.size(); ++id) {
    const Node& n = nodes_[id];
    if (!live_[id] || n.inputs.empty()) continue;
    for (int i : written_inputs(n))
      written[static_cast<std::size_t>(n.inputs[static_cast<std::size_t>(i)].node)] = 1;
  }
  return written;
}

std::vector<char> PlanGraph::invariant_nodes() const {
  std::vector<char> written = written_variables();
  std::vector<char> invariant(nodes_.size(), 0);
  for (int id : topological_order()) {
    const Node& n = nodes_[static_cast<std::size_t>(id)];
    const OpRecord& op = *n.op;
    bool value = false;
    switch (op.role) {
      case OpRole::Constant:
        value = n.control_inputs.empty();
        break;
      case OpRole::Variable:
        value = !written[static_cast<std::size_t>(id)];
        break;
      case OpRole::Placeholder:
        break;
      case OpRole::Compute:
        // An op marked stateful for the inputs it declares written (fused_elementwise, for its
        // stores) is pure in a node that writes none.
        value = !(op.stateful && !(op.written_inputs && written_inputs(n).empty())) &&
                !op.uses_rng && !op.writes_input0 && !op.overwrites_input0 &&
                !op.output_aliases_input0 && written_inputs(n).empty() &&
                !n.output_dtypes.empty() && op.has_kernel() && n.control_inputs.empty() &&
                std::all_of(n.inputs.begin(), n.inputs.end(), [&](const NodeInput& in) {
                  return invariant[static_cast<std::size_t>(in.node)] != 0;
                });
        break;
    }
    invariant[static_cast<std::size_t>(id)] = value;
  }
  return invariant;
}

std::unique_ptr<Graph> PlanGraph::to_graph() const {
  auto graph = std::make_unique<Graph>(registry());
  std::vector<int> id_in(nodes_.size(), -1);
  for (int id : topological_order()) {
    const Node& n = nodes_[static_cast<std::size_t>(id)];
    NodeSpec spec;
    spec.op = n.op->name;
    for (const NodeInput& in : n.inputs)
      spec.inputs.push_back(
          Output{graph.get(), id_in[static_cast<std::size_t>(in.node)], in.index});
    spec.attrs = n.attrs;
    spec.name = n.name;
    for (int c : n.control_inputs)
      spec.control_inputs.push_back(id_in[static_cast<std::size_t>(c)]);
    spec.site = n.site;
    spec.backward = n.backward;
    id_in[static_cast<std::size_t>(id)] = replay_node(*graph, spec);
  }
  return graph;
}

}  // namespace dagrad
