#include "dagrad/graph/graph.hpp"

#include <algorithm>
#include <sstream>

#include "dagrad/graph/errors.hpp"

namespace dagrad {

SourceSite SourceSite::from(const std::source_location& loc) {
  return SourceSite{loc.file_name(), static_cast<int>(loc.line()), loc.function_name()};
}

std::string SourceSite::to_string() const {
  if (file.empty()) return "unknown site";
  std::string s = file + ":" + std::to_string(line);
  if (!function.empty()) s += " (" + function + ")";
  return s;
}

const Node& Output::producer() const { return graph->node(node); }
DType Output::dtype() const { return producer().output_dtypes.at(static_cast<std::size_t>(index)); }
const Shape& Output::shape() const {
  return producer().output_shapes.at(static_cast<std::size_t>(index));
}
std::string Output::name() const {
  const std::string& n = producer().name;
  return index == 0 ? n : n + ":" + std::to_string(index);
}

std::string Node::scope() const {
  auto pos = name.rfind('/');
  return pos == std::string::npos ? std::string() : name.substr(0, pos);
}

Graph::Graph(const OpRegistry& registry) : registry_(&registry) {}

// Names are '/'-separated paths of non-empty parts without ':' (which separates the output
// index in "name:1") or control characters. Returns why `name` is not one, or "".
std::string invalid_name_reason(std::string_view name) {
  if (name.empty()) return "the name is empty";
  if (name.front() == '/' || name.back() == '/' || name.find("//") != std::string_view::npos)
    return "'" + std::string(name) + "' has an empty scope or name part";
  for (char c : name) {
    if (c == ':') return "'" + std::string(name) + "' contains ':' (reserved for output indices, as in \"name:1\")";
    if (static_cast<unsigned char>(c) < 0x20) return "'" + std::string(name) + "' contains a control character";
  }
  return "";
}

std::string Graph::unique_name(const std::string& full) {
  if (!by_name_.count(full) && !name_counts_.count(full)) {
    name_counts_[full] = 0;
    return full;
  }
  int& count = name_counts_[full];
  std::string candidate;
  do {
    candidate = full + "_" + std::to_string(++count);
  } while (by_name_.count(candidate) || name_counts_.count(candidate));
  name_counts_[candidate] = 0;
  return candidate;
}

std::string Graph::describe_failure(std::string_view op, const std::string& name,
                                    const std::vector<Output>& inputs,
                                    const SourceSite& site) const {
  std::ostringstream os;
  os << "node '" << name << "' (op " << op << ") with inputs [";
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (i) os << ", ";
    const Output& in = inputs[i];
    if (!in.valid() || in.graph != this || in.node >= num_nodes() || in.index < 0 ||
        in.index >= static_cast<int>(node(in.node).output_dtypes.size())) {
      os << "<invalid>";
      continue;
    }
    os << in.name() << ": " << dtype_name(in.dtype()) << " " << in.shape().to_string();
  }
  os << "] created at " << site.to_string();
  return os.str();
}

std::vector<Output> Graph::add_node(std::string_view op_name, const std::vector<Output>& inputs,
                                    AttrMap attrs, NodeOptions options, std::source_location loc) {
  SourceSite site = SourceSite::from(loc);
  std::string base = options.name.empty() ? std::string(op_name) : options.name;
  std::string full = scope_ + base;
  const OpRecord* op = registry_->find(op_name);
  if (!op)
    throw GraphError("cannot add node '" + full + "': unknown op '" + std::string(op_name) +
                     "' (created at " + site.to_string() + ")");
  auto fail = [&](const std::string& why) -> GraphError {
    return GraphError(describe_failure(op_name, full, inputs, site) + ": " + why);
  };
  // Arity.
  int n = static_cast<int>(inputs.size());
  if (op->variadic_inputs) {
    if (n < op->min_inputs)
      throw fail("needs at least " + std::to_string(op->min_inputs) + " inputs, got " + std::to_string(n));
  } else if (n != static_cast<int>(op->input_names.size())) {
    throw fail("needs " + std::to_string(op->input_names.size()) + " inputs, got " + std::to_string(n));
  }
  for (int i = 0; i < n; ++i) {
    const Output& in = inputs[static_cast<std::size_t>(i)];
    if (!in.valid()) throw fail("input " + std::to_string(i) + " is not a valid output");
    if (in.graph != this) throw fail("input " + std::to_string(i) + " belongs to another graph");
    if (in.node >= num_nodes()) throw fail("input " + std::to_string(i) + " refers to node " +
                                           std::to_string(in.node) + ", which does not exist");
    if (in.index < 0 || in.index >= static_cast<int>(node(in.node).output_dtypes.size()))
      throw fail("input " + std::to_string(i) + " refers to a missing output");
  }
  if (std::string why = invalid_name_reason(full); !why.empty()) throw fail("invalid node name: " + why);
  // Attributes: reject unknown names, check kinds, fill defaults, order as in the schema.
  for (const auto& [k, v] : attrs.items())
    if (std::none_of(op->attrs.begin(), op->attrs.end(), [&](const AttrSpec& s) { return s.name == k; }))
      throw fail("unknown attribute '" + k + "'");
  AttrMap checked;
  for (const auto& spec : op->attrs) {
    if (const AttrValue* v = attrs.find(spec.name)) {
      AttrValue value = *v;
      // Let users write integer literals for float attributes.
      if (spec.kind == AttrKind::Float && attr_kind_of(value) == AttrKind::Int)
        value = static_cast<double>(std::get<std::int64_t>(value));
      if (attr_kind_of(value) != spec.kind)
        throw fail("attribute '" + spec.name + "' must be " + std::string(attr_kind_name(spec.kind)) + ", got " +
                   std::string(attr_kind_name(attr_kind_of(*v))));
      checked.set(spec.name, std::move(value));
    } else if (spec.default_value) {
      checked.set(spec.name, *spec.default_value);
    } else {
      throw fail("missing required attribute '" + spec.name + "'");
    }
  }
  // Shapes and dtypes.
  std::vector<ShapeContext::InputInfo> infos;
  infos.reserve(inputs.size());
  for (const Output& in : inputs)
    infos.push_back({in.dtype(), in.shape(), node(in.node).op->role == OpRole::Variable});
  ShapeContext ctx(infos, checked, static_cast<int>(op->output_names.size()));
  try {
    op->shape_fn(ctx);
  } catch (const GraphError& e) {
    throw fail(e.what());
  } catch (const std::exception& e) {
    throw ShapeError(describe_failure(op_name, full, inputs, site) + ": " + e.what());
  }
  for (std::size_t i = 0; i < ctx.outputs().size(); ++i)
    if (!ctx.outputs()[i].set) throw fail("shape function did not set output " + std::to_string(i));
  std::vector<int> control = control_scope_;
  for (int c : options.control_inputs) {
    if (c < 0 || c >= num_nodes()) throw fail("control input " + std::to_string(c) + " is not a node");
    if (std::find(control.begin(), control.end(), c) == control.end()) control.push_back(c);
  }

  // Commit: nothing above changed the graph.
  Node node_record;
  node_record.id = num_nodes();
  node_record.name = unique_name(full);
  node_record.op = op;
  for (const Output& in : inputs) node_record.inputs.push_back({in.node, in.index});
  node_record.control_inputs = std::move(control);
  node_record.attrs = std::move(checked);
  for (const auto& o : ctx.outputs()) {
    node_record.output_dtypes.push_back(o.dtype);
    node_record.output_shapes.push_back(o.shape);
  }
  node_record.site = std::move(site);
  node_record.backward = backward_;
  by_name_[node_record.name] = node_record.id;
  // Every scope on the node's path is taken, also for nodes added with a full name (loaded
  // graphs), so that a later name_scope("layer1") opens "layer1_1" rather than reusing it.
  for (auto slash = node_record.name.find('/'); slash != std::string::npos;
       slash = node_record.name.find('/', slash + 1))
    name_counts_.try_emplace(node_record.name.substr(0, slash), 0);
  nodes_.push_back(std::move(node_record));
  const Node& added = nodes_.back();
  std::vector<Output> outs;
  for (std::size_t i = 0; i < added.output_dtypes.size(); ++i)
    outs.push_back(Output{this, added.id, static_cast<int>(i)});
  return outs;
}

Output Graph::add(std::string_view op, const std::vector<Output>& inputs, AttrMap attrs,
                  NodeOptions options, std::source_location loc) {
  auto outs = add_node(op, inputs, std::move(attrs), std::move(options), loc);
  if (outs.empty()) return Output{this, num_nodes() - 1, 0};  // a node without outputs (group)
  return outs[0];
}

const Node* Graph::find_node(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : &node(it->second);
}

Output Graph::output(std::string_view name) {
  std::string base(name);
  int index = 0;
  auto colon = base.rfind(':');
  if (colon != std::string::npos) {
    try {
      index = std::stoi(base.substr(colon + 1));
    } catch (const std::exception&) {
      throw GraphError("bad output name '" + std::string(name) + "' (expected NAME or NAME:INDEX)");
    }
    base = base.substr(0, colon);
  }
  const Node* n = find_node(base);
  if (!n) throw GraphError("no node named '" + base + "' in the graph");
  if (index < 0 || index >= static_cast<int>(n->output_dtypes.size()))
    throw GraphError("node '" + base + "' has no output " + std::to_string(index));
  return Output{this, n->id, index};
}

Graph::ScopeGuard Graph::name_scope(std::string_view name, Flag reuse) {
  std::string saved = scope_;
  std::string full = scope_ + std::string(name);
  if (std::string why = invalid_name_reason(full); !why.empty()) throw GraphError("invalid name scope: " + why);
  if (!reuse) {
    // Scopes and node names share one namespace so "dense" and "dense_1" never collide.
    if (by_name_.count(full) || name_counts_.count(full)) full = unique_name(full);
    else name_counts_[full] = 0;
  }
  scope_ = full + "/";
  return ScopeGuard([this, saved] { scope_ = saved; });
}

void Graph::annotate(int id, SourceSite site, bool backward) {
  Node& n = nodes_.at(static_cast<std::size_t>(id));
  n.site = std::move(site);
  n.backward = backward;
}

Graph::ScopeGuard Graph::absolute_scope(std::string_view scope) {
  if (!scope.empty())
    if (std::string why = invalid_name_reason(scope); !why.empty()) throw GraphError("invalid name scope: " + why);
  std::string saved = scope_;
  scope_ = scope.empty() ? std::string() : std::string(scope) + "/";
  return ScopeGuard([this, saved] { scope_ = saved; });
}

Graph::ScopeGuard Graph::control_dependencies(const std::vector<Output>& nodes) {
  std::vector<int> saved = control_scope_;
  for (const Output& o : nodes)
    if (!o.valid() || o.graph != this)
      throw GraphError("control_dependencies: an output that is not in this graph");
  for (const Output& o : nodes) {
    if (std::find(control_scope_.begin(), control_scope_.end(), o.node) == control_scope_.end())
      control_scope_.push_back(o.node);
  }
  return ScopeGuard([this, saved] { control_scope_ = saved; });
}

Graph::ScopeGuard Graph::backward_section() {
  bool saved = backward_;
  backward_ = true;
  return ScopeGuard([this, saved] { backward_ = saved; });
}

void Graph::register_variable(int variable_node, int initializer_node) {
  if (variable_node < 0 || variable_node >= num_nodes() || initializer_node < 0 || initializer_node >= num_nodes())
    throw GraphError("register_variable: node id out of range");
  const Node& var = node(variable_node);
  const Node& init = node(initializer_node);
  if (var.op->role != OpRole::Variable)
    throw GraphError("register_variable: node '" + var.name + "' is not a variable");
  if (!init.op->overwrites_input0 || init.inputs.empty() || init.inputs[0].node != variable_node)
    throw GraphError("register_variable: initializer '" + init.name + "' (" + init.op->name + ") of variable '" +
                     var.name + "' is not an assign to this variable");
  for (const VariableInfo& v : variables_)
    if (v.variable == variable_node) throw GraphError("register_variable: '" + var.name + "' is registered twice");
  variables_.push_back({variable_node, initializer_node});
}

std::vector<int> Graph::consumers(int id) const {
  std::vector<int> out;
  for (const Node& n : nodes_)
    for (const auto& in : n.inputs)
      if (in.node == id) {
        out.push_back(n.id);
        break;
      }
  return out;
}

void Graph::verify() const {
  for (const Node& n : nodes_) {
    for (const auto& in : n.inputs)
      if (in.node < 0 || in.node >= n.id)
        throw GraphError("node '" + n.name + "' has input node " + std::to_string(in.node) +
                         " that is not an earlier node (graphs are built in topological order)");
    for (int c : n.control_inputs)
      if (c < 0 || c >= n.id)
        throw GraphError("node '" + n.name + "' has control input " + std::to_string(c) +
                         " that is not an earlier node");
  }
}

}  // namespace dagrad
