#include "dagrad/graph/graph.hpp"

#include <algorithm>
#include <sstream>
#include <unordered_set>
#include <utility>

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

const Node& Output::producer() const {
  if (!graph || node < 0 || node >= graph->num_nodes())
    throw GraphError(
        graph ? "output refers to node " + std::to_string(node) + ", which is not in the graph (" +
                    std::to_string(graph->num_nodes()) + " nodes)"
              : std::string("output is not a node of any graph (a default-constructed Output)"));
  return graph->node(node);
}

namespace {

const Node& output_node(const Output& o) {
  const Node& n = o.producer();
  if (o.index < 0 || o.index >= static_cast<int>(n.output_dtypes.size()))
    throw GraphError("node '" + n.name + "' (op " + n.op->name + ") has no output " +
                     std::to_string(o.index) + " (it has " +
                     std::to_string(n.output_dtypes.size()) + ")");
  return n;
}

}  // namespace

DType Output::dtype() const {
  return output_node(*this).output_dtypes[static_cast<std::size_t>(index)];
}
const Shape& Output::shape() const {
  return output_node(*this).output_shapes[static_cast<std::size_t>(index)];
}
std::string Output::name() const {
  const std::string& n = producer().name;
  return index == 0 ? n : n + ":" + std::to_string(index);
}

const Node& Operation::producer() const {
  return graph->node(node);
}
std::string Operation::name() const {
  return producer().name;
}

std::string Node::scope() const {
  auto pos = name.rfind('/');
  return pos == std::string::npos ? std::string() : name.substr(0, pos);
}

Graph::Graph(const OpRegistry& registry) : registry_(&registry) {}

void Graph::throw_no_node(int id) const {
  throw GraphError("node " + std::to_string(id) + " is not in the graph (it has " +
                   std::to_string(num_nodes()) + " nodes)");
}

namespace {

// A user's name for an error message: a name past the length limit is cut to its first 80
// bytes, with its length said (a 2 MB name made 2 MB messages).
std::string quoted(std::string_view name) {
  constexpr std::size_t kShown = 80;
  if (name.size() <= kMaxNameBytes) return "'" + std::string(name) + "'";
  return "'" + std::string(name.substr(0, kShown)) + "...' (" + std::to_string(name.size()) +
         " bytes)";
}

}  // namespace

// Names are '/'-separated paths of non-empty parts without ':' (which separates the output
// index in "name:1") or control characters, at most kMaxNameBytes long and kMaxNameDepth parts
// deep. Returns why `name` is not one, or "".
std::string invalid_name_reason(std::string_view name) {
  if (name.empty()) return "the name is empty";
  if (name.size() > kMaxNameBytes)
    return quoted(name) + " is longer than " + std::to_string(kMaxNameBytes) + " bytes";
  if (name.front() == '/' || name.back() == '/' || name.find("//") != std::string_view::npos)
    return quoted(name) + " has an empty scope or name part";
  if (auto parts = std::count(name.begin(), name.end(), '/') + 1; parts > kMaxNameDepth)
    return quoted(name) + " has " + std::to_string(parts) + " '/'-separated parts, more than " +
           std::to_string(kMaxNameDepth);
  for (char c : name) {
    if (c == ':')
      return quoted(name) + " contains ':' (reserved for output indices, as in \"name:1\")";
    if (static_cast<unsigned char>(c) < 0x20) return quoted(name) + " contains a control character";
  }
  return "";
}

void Graph::set_name_count(const std::string& name, int count) {
  auto it = name_counts_.find(name);
  if (live_checkpoints_ > 0)
    name_count_journal_.push_back(
        {name, it == name_counts_.end() ? std::nullopt : std::optional<int>(it->second)});
  if (it == name_counts_.end())
    name_counts_.emplace(name, count);
  else
    it->second = count;
}

std::string Graph::unique_name(const std::string& full) {
  if (!by_name_.count(full) && !name_counts_.count(full)) {
    set_name_count(full, 0);
    return full;
  }
  auto it = name_counts_.find(full);
  int count = it == name_counts_.end() ? 0 : it->second;
  std::string candidate;
  do {
    candidate = full + "_" + std::to_string(++count);
  } while (by_name_.count(candidate) || name_counts_.count(candidate));
  set_name_count(full, count);
  set_name_count(candidate, 0);
  return candidate;
}

std::string Graph::describe_failure(std::string_view op, const std::string& name,
                                    const std::vector<Output>& inputs,
                                    const SourceSite& site) const {
  std::ostringstream os;
  os << "node " << quoted(name) << " (op " << op << ") with inputs [";
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
  SourceSite site = options.site ? *options.site : SourceSite::from(loc);
  std::string base = options.name.empty() ? std::string(op_name) : options.name;
  std::string full = scope_ + base;
  const OpRecord* op = registry_->find(op_name);
  if (!op)
    throw GraphError("cannot add node " + quoted(full) + ": unknown op '" + std::string(op_name) +
                     "' (created at " + site.to_string() + ")");
  auto fail = [&](const std::string& why) -> GraphError {
    return GraphError(describe_failure(op_name, full, inputs, site) + ": " + why);
  };
  // Arity.
  int n = static_cast<int>(inputs.size());
  if (op->variadic_inputs) {
    if (n < op->min_inputs)
      throw fail("needs at least " + std::to_string(op->min_inputs) + " inputs, got " +
                 std::to_string(n));
  } else if (n != static_cast<int>(op->input_names.size())) {
    throw fail("needs " + std::to_string(op->input_names.size()) + " inputs, got " +
               std::to_string(n));
  }
  for (int i = 0; i < n; ++i) {
    const Output& in = inputs[static_cast<std::size_t>(i)];
    if (!in.valid()) throw fail("input " + std::to_string(i) + " is not a valid output");
    if (in.graph != this) throw fail("input " + std::to_string(i) + " belongs to another graph");
    if (in.node >= num_nodes())
      throw fail("input " + std::to_string(i) + " refers to node " + std::to_string(in.node) +
                 ", which does not exist");
    if (in.index < 0 || in.index >= static_cast<int>(node(in.node).output_dtypes.size()))
      throw fail("input " + std::to_string(i) + " refers to a missing output");
  }
  if (std::string why = invalid_name_reason(full); !why.empty())
    throw fail("invalid node name: " + why);
  // Attributes: reject unknown names, check kinds, fill defaults, order as in the schema.
  for (const auto& [k, v] : attrs.items())
    if (std::none_of(op->attrs.begin(), op->attrs.end(),
                     [&](const AttrSpec& s) { return s.name == k; }))
      throw fail("unknown attribute '" + k + "'");
  AttrMap checked;
  for (const auto& spec : op->attrs) {
    if (const AttrValue* v = attrs.find(spec.name)) {
      AttrValue value = *v;
      // Let users write integer literals for float attributes.
      if (spec.kind == AttrKind::Float && attr_kind_of(value) == AttrKind::Int)
        value = static_cast<double>(std::get<std::int64_t>(value));
      if (attr_kind_of(value) != spec.kind)
        throw fail("attribute '" + spec.name + "' must be " +
                   std::string(attr_kind_name(spec.kind)) + ", got " +
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
  int num_outputs = static_cast<int>(op->output_names.size());
  if (op->output_count) {
    try {
      num_outputs = op->output_count(checked);
    } catch (const GraphError& e) {
      throw fail(e.what());
    } catch (const std::exception& e) {
      throw ShapeError(describe_failure(op_name, full, inputs, site) + ": " + e.what());
    }
    if (num_outputs < 0)
      throw fail("the attributes give " + std::to_string(num_outputs) + " outputs");
  }
  ShapeContext ctx(infos, checked, num_outputs);
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
    if (c < 0 || c >= num_nodes())
      throw fail("control input " + std::to_string(c) + " is not a node");
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
    if (std::string scope = node_record.name.substr(0, slash); !name_counts_.count(scope))
      set_name_count(scope, 0);
  nodes_.push_back(std::move(node_record));
  const Node& added = nodes_.back();
  consumers_.emplace_back();
  control_consumers_.emplace_back();
  for (const NodeInput& in : added.inputs) {
    auto& uses = consumers_[static_cast<std::size_t>(in.node)];
    if (uses.empty() || uses.back() != added.id) uses.push_back(added.id);  // once per consumer
  }
  for (int c : added.control_inputs)
    control_consumers_[static_cast<std::size_t>(c)].push_back(added.id);
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
  if (std::string why = invalid_name_reason(full); !why.empty())
    throw GraphError("invalid name scope: " + why);
  if (!reuse) {
    // Scopes and node names share one namespace so "dense" and "dense_1" never collide.
    if (by_name_.count(full) || name_counts_.count(full))
      full = unique_name(full);
    else
      set_name_count(full, 0);
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
    if (std::string why = invalid_name_reason(scope); !why.empty())
      throw GraphError("invalid name scope: " + why);
  std::string saved = scope_;
  scope_ = scope.empty() ? std::string() : std::string(scope) + "/";
  return ScopeGuard([this, saved] { scope_ = saved; });
}

Graph::ScopeGuard Graph::control_dependencies(const std::vector<Operation>& nodes) {
  std::vector<int> saved = control_scope_;
  for (const Operation& o : nodes)
    if (!o.valid() || o.graph != this || o.node >= num_nodes())
      throw GraphError("control_dependencies: an operation that is not in this graph");
  for (const Operation& o : nodes) {
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

namespace {
std::string collection_problem(std::string_view collection) {
  if (collection.empty()) return "an empty collection name";
  if (collection == collections::kTrainable)
    return "'" + std::string(collections::kTrainable) +
           "' is the trainable flag, not a collection tag (use set_trainable)";
  return "";
}
}  // namespace

void Graph::register_variable(int variable_node, int initializer_node, VariableOptions options) {
  if (variable_node < 0 || variable_node >= num_nodes() || initializer_node < 0 ||
      initializer_node >= num_nodes())
    throw GraphError("register_variable: node id out of range");
  const Node& var = node(variable_node);
  const Node& init = node(initializer_node);
  if (var.op->role != OpRole::Variable)
    throw GraphError("register_variable: node '" + var.name + "' is not a variable");
  if (!init.op->overwrites_input0 || init.inputs.empty() || init.inputs[0].node != variable_node)
    throw GraphError("register_variable: initializer '" + init.name + "' (" + init.op->name +
                     ") of variable '" + var.name + "' is not an assign to this variable");
  for (const VariableInfo& v : variables_)
    if (v.variable == variable_node)
      throw GraphError("register_variable: '" + var.name + "' is registered twice");
  for (std::size_t i = 0; i < options.collections.size(); ++i) {
    const std::string& c = options.collections[i];
    if (std::string why = collection_problem(c); !why.empty())
      throw GraphError("register_variable('" + var.name + "'): " + why);
    if (std::find(options.collections.begin(),
                  options.collections.begin() + static_cast<std::ptrdiff_t>(i),
                  c) != options.collections.begin() + static_cast<std::ptrdiff_t>(i))
      throw GraphError("register_variable('" + var.name + "'): collection '" + c +
                       "' is given twice");
  }
  variables_.push_back(
      {variable_node, initializer_node, options.trainable, std::move(options.collections)});
}

const Graph::VariableInfo& Graph::variable_info(Output variable) const {
  if (!variable.valid() || variable.graph != this || variable.node >= num_nodes())
    throw GraphError("not an output of this graph where a variable was expected");
  for (const VariableInfo& v : variables_)
    if (v.variable == variable.node) return v;
  throw GraphError("'" + node(variable.node).name + "' (op " + node(variable.node).op->name +
                   ") is not a registered variable");
}

std::vector<Output> Graph::variables_in(std::string_view collection) {
  std::vector<Output> out;
  bool trainable = collection == collections::kTrainable;
  for (const VariableInfo& v : variables_)
    if (trainable ? v.trainable
                  : std::find(v.collections.begin(), v.collections.end(), collection) !=
                        v.collections.end())
      out.push_back(output_of(v.variable));
  return out;
}

void Graph::set_trainable(Output variable, bool trainable) {
  const_cast<VariableInfo&>(variable_info(variable)).trainable = trainable;
}

void Graph::add_to_collection(Output variable, std::string_view collection) {
  auto& info = const_cast<VariableInfo&>(variable_info(variable));
  if (std::string why = collection_problem(collection); !why.empty())
    throw GraphError("add_to_collection('" + node(info.variable).name + "'): " + why);
  if (std::find(info.collections.begin(), info.collections.end(), collection) ==
      info.collections.end())
    info.collections.emplace_back(collection);
}

void Graph::set_signature(const std::string& name, Signature signature) {
  auto fail = [&](const std::string& why) {
    return GraphError("signature '" + name + "': " + why);
  };
  if (std::string why = invalid_name_reason(name); !why.empty()) throw fail(why);
  auto check = [&](const std::vector<std::pair<std::string, Output>>& entries, const char* what,
                   bool placeholder) {
    std::unordered_set<std::string_view> keys;  // a loaded file may hold many
    for (const auto& [key, o] : entries) {
      if (std::string why = invalid_name_reason(key); !why.empty())
        throw fail(std::string(what) + " key: " + why);
      if (!keys.insert(key).second)
        throw fail(std::string(what) + " key '" + key + "' appears twice");
      if (!o.valid() || o.graph != this || o.node >= num_nodes() || o.index < 0 ||
          o.index >= static_cast<int>(node(o.node).output_dtypes.size()))
        throw fail(std::string(what) + " '" + key + "' is not an output of this graph");
      if (placeholder && node(o.node).op->role != OpRole::Placeholder)
        throw fail("input '" + key + "' is '" + o.name() + "' (op " + node(o.node).op->name +
                   "), not a placeholder");
    }
  };
  check(signature.inputs, "input", true);
  check(signature.outputs, "output", false);
  signatures_[name] = std::move(signature);
}

const Graph::Signature* Graph::signature(std::string_view name) const {
  auto it = signatures_.find(name);
  return it == signatures_.end() ? nullptr : &it->second;
}

Graph::Checkpoint::Checkpoint(Checkpoint&& other) noexcept
    : graph(std::exchange(other.graph, nullptr)),
      num_nodes(other.num_nodes),
      num_variables(other.num_variables),
      journal_size(other.journal_size),
      signatures(std::move(other.signatures)) {}

Graph::Checkpoint::~Checkpoint() {
  if (graph && --graph->live_checkpoints_ == 0)
    graph->name_count_journal_.clear();
}

Graph::Checkpoint Graph::checkpoint() const {
  Checkpoint c;
  c.graph = this;
  ++live_checkpoints_;
  c.num_nodes = num_nodes();
  c.num_variables = variables_.size();
  c.journal_size = name_count_journal_.size();
  c.signatures = signatures_;
  return c;
}

void Graph::rollback(const Checkpoint& checkpoint) {
  if (checkpoint.graph != this)
    throw GraphError("rollback: the checkpoint belongs to another graph");
  if (checkpoint.num_nodes > num_nodes() || checkpoint.num_variables > variables_.size() ||
      checkpoint.journal_size > name_count_journal_.size())
    throw GraphError(
        "rollback: the graph is older than the checkpoint (rolled back past it already)");
  while (num_nodes() > checkpoint.num_nodes) {
    // Removed nodes are the newest, so no remaining node refers to them; only the entries they
    // put into bookkeeping go.
    by_name_.erase(nodes_.back().name);
    nodes_.pop_back();
  }
  // Use-lists are in id order: the removed consumers are at the back of each list.
  const auto n = static_cast<std::size_t>(checkpoint.num_nodes);
  consumers_.resize(n);
  control_consumers_.resize(n);
  for (auto* lists : {&consumers_, &control_consumers_})
    for (auto& list : *lists)
      while (!list.empty() && list.back() >= checkpoint.num_nodes) list.pop_back();
  variables_.resize(checkpoint.num_variables);
  ++rollbacks_;
  // Undo the names taken since, newest first.
  while (name_count_journal_.size() > checkpoint.journal_size) {
    NameCountUndo& undo = name_count_journal_.back();
    if (undo.old)
      name_counts_[undo.name] = *undo.old;
    else
      name_counts_.erase(undo.name);
    name_count_journal_.pop_back();
  }
  signatures_ = checkpoint.signatures;
}

const std::vector<int>& Graph::consumers(int id) const {
  if (id < 0 || id >= num_nodes())
    throw GraphError("consumers: node " + std::to_string(id) + " is not in the graph");
  return consumers_[static_cast<std::size_t>(id)];
}

const std::vector<int>& Graph::control_consumers(int id) const {
  if (id < 0 || id >= num_nodes())
    throw GraphError("control_consumers: node " + std::to_string(id) + " is not in the graph");
  return control_consumers_[static_cast<std::size_t>(id)];
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
