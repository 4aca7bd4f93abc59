#include "dagrad/graph/session.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <sstream>

#include "dagrad/graph/errors.hpp"
#include "dagrad/graph/passes.hpp"
#include "numerics.hpp"
#include "variable_order.hpp"

namespace dagrad {

namespace {

std::string node_context(const Node& n) {
  return "node '" + n.name + "' (op " + n.op->name + ", created at " + n.site.to_string() + ")";
}

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

constexpr int kForever = std::numeric_limits<int>::max();

std::vector<int> schedule_of(const std::vector<char>& needed) {
  std::vector<int> ids;
  for (std::size_t id = 0; id < needed.size(); ++id)
    if (needed[id]) ids.push_back(static_cast<int>(id));
  return ids;
}


}  // namespace

Session::Session(Graph& graph) : graph_(&graph) {}
Session::~Session() = default;

Session::VariableState& Session::variable_state(int node) {
  const Node& n = graph_->node(node);
  auto& slot = variables_[n.name];
  if (!slot) {
    auto state = std::make_unique<VariableState>();
    try {
      state->value = Tensor(n.output_dtypes.at(0), n.output_shapes.at(0));
    } catch (const AllocationError& e) {  // it names bytes, dtype and shape
      variables_.erase(n.name);
      throw AllocationError("variable '" + n.name + "' (op " + n.op->name + ", created at " +
                            n.site.to_string() + "): " + e.what());
    }
    slot = std::move(state);
  }
  return *slot;
}

std::mt19937_64& Session::rng_for(int node) {
  auto& slot = rngs_[node];
  if (!slot) {
    const Node& n = graph_->node(node);
    auto op_seed = static_cast<std::uint64_t>(n.attrs.get_int("seed"));
    // Seed 0: a deterministic stream from the node id, kept apart from every explicit seed's.
    std::uint64_t stream =
        op_seed != 0 ? splitmix64(op_seed)
                     : splitmix64(static_cast<std::uint64_t>(node)) ^ 0xD1B54A32D192ED03ull;
    if (stream_offset_ != 0) stream ^= splitmix64(stream_offset_ ^ 0x9E3779B97F4A7C15ull);
    slot = std::make_unique<std::mt19937_64>(splitmix64(graph_->seed() ^ stream));
  }
  return *slot;
}

void Session::set_stream_offset(std::uint64_t offset) {
  if (offset == stream_offset_) return;
  stream_offset_ = offset;
  // In place: compiled plans hold pointers to these generators.
  for (auto& [node, engine] : rngs_)
    engine->seed(splitmix64((*engine)() ^ splitmix64(offset ^ 0x9E3779B97F4A7C15ull)));
}

std::map<std::string, std::string> Session::random_states() const {
  std::map<std::string, std::string> out;
  for (const auto& [node, engine] : rngs_) {
    std::ostringstream text;
    text << *engine;
    out[graph_->node(node).name] = text.str();
  }
  return out;
}

void Session::set_random_states(const std::map<std::string, std::string>& states) {
  std::vector<std::pair<int, std::mt19937_64>> parsed;
  for (const auto& [name, text] : states) {
    const Node* n = graph_->find_node(name);
    if (!n || !n->op->uses_rng)
      throw RunError("random state for '" + name + "': not a random node of this session's graph");
    std::istringstream in(text);
    std::mt19937_64 engine;
    in >> engine;
    if (in.fail())
      throw RunError("random state for '" + name + "' does not parse as a generator state");
    parsed.emplace_back(n->id, engine);
  }
  // Assigned in place: compiled plans hold pointers to these generators.
  for (auto& [id, engine] : parsed) rng_for(id) = engine;
}

void Session::check_request(const std::vector<Output>& fetches,
                            const std::vector<Operation>& targets,
                            const std::vector<Output>& feed_placeholders) const {
  auto check = [&](const Output& o, const char* what, bool need_output) {
    if (!o.valid() || o.graph != graph_ || o.node >= graph_->num_nodes())
      throw RunError(std::string(what) + " is not an output of this session's graph");
    const Node& n = graph_->node(o.node);
    if (need_output && n.output_dtypes.empty())
      throw RunError("cannot use " + node_context(n) + " as " + what +
                     ": it has no outputs (run it as a target)");
    if (need_output && (o.index < 0 || o.index >= static_cast<int>(n.output_dtypes.size())))
      throw RunError(std::string(what) + " " + node_context(n) + " has no output " +
                     std::to_string(o.index) + " (it has " +
                     std::to_string(n.output_dtypes.size()) + ")");
  };
  for (const Output& f : fetches) check(f, "a fetch", true);
  for (const Operation& t : targets) check(Output{t.graph, t.node, 0}, "a target", false);
  for (const Output& p : feed_placeholders) check(p, "a feed", true);
}

std::unique_ptr<Plan> Session::build_plan(const std::vector<Output>& fetches,
                                          const std::vector<Operation>& targets,
                                          const std::vector<Output>& feed_placeholders,
                                          bool optimize) {
  const Graph& g = *graph_;
  std::vector<char> fed(static_cast<std::size_t>(g.num_nodes()), 0);
  for (const Output& f : feed_placeholders) {
    const Node& n = g.node(f.node);
    if (n.op->role != OpRole::Placeholder)
      throw RunError("cannot feed " + node_context(n) + ": only placeholders can be fed");
    if (fed[static_cast<std::size_t>(f.node)])
      throw RunError("placeholder '" + n.name + "' is fed twice");
    fed[static_cast<std::size_t>(f.node)] = 1;
  }
  // Prune: nodes reachable backwards from fetches and targets. Ids are topological.
  std::vector<int> roots;
  for (const Output& f : fetches) roots.push_back(f.node);
  for (const Operation& t : targets) roots.push_back(t.node);
  std::vector<char> needed = needed_by(g, std::move(roots));

  detail::check_variable_order(g, schedule_of(needed));

  auto plan = std::unique_ptr<Plan>(new Plan());
  plan->session_ = this;
  plan->graph_ = graph_;
  plan->feeds_ = feed_placeholders;

  // Which variables the plan reads (all uses other than input 0 of an overwriting op) and which
  // it initializes (assign without reading): from the request as written, which passes may
  // rewrite (a fused update reads and writes a variable in one node) but never change in meaning.
  std::vector<char> read(static_cast<std::size_t>(g.num_nodes()), 0);
  for (int id = 0; id < g.num_nodes(); ++id) {
    if (!needed[static_cast<std::size_t>(id)]) continue;
    const Node& n = g.node(id);
    for (std::size_t i = 0; i < n.inputs.size(); ++i)
      if (!(i == 0 && n.op->overwrites_input0))
        read[static_cast<std::size_t>(n.inputs[i].node)] = 1;
  }
  for (const Output& f : fetches) read[static_cast<std::size_t>(f.node)] = 1;
  for (int id = 0; id < g.num_nodes(); ++id) {
    if (!needed[static_cast<std::size_t>(id)]) continue;
    const Node& n = g.node(id);
    for (int i : written_inputs(n)) {
      const Node& target = g.node(n.inputs.at(static_cast<std::size_t>(i)).node);
      if (target.op->role != OpRole::Variable || n.inputs[static_cast<std::size_t>(i)].index != 0)
        throw RunError(node_context(n) + " writes its input " + std::to_string(i) +
                       ", which must be a variable, but '" + target.name + "' is a " +
                       target.op->name);
      if (i == 0 && n.op->overwrites_input0) plan->variables_initialized_.push_back(target.id);
    }
  }
  for (int id = 0; id < g.num_nodes(); ++id) {
    const Node& n = g.node(id);
    if (!needed[static_cast<std::size_t>(id)] || n.op->role != OpRole::Placeholder ||
        fed[static_cast<std::size_t>(id)])
      continue;
    std::string why = "placeholder '" + n.name + "' (" +
                      std::string(dtype_name(n.output_dtypes[0])) + " " +
                      n.output_shapes[0].to_string() + ") must be fed";
    if (!fetches.empty())
      why += " to compute '" + fetches[0].name() + "'";
    else if (!targets.empty())
      why += " to run '" + g.node(targets[0].node).name + "'";
    throw RunError(why);
  }

  // Copy the request into the plan's own graph and let the passes rewrite it.
  std::vector<NodeInput> fetch_inputs;
  for (const Output& f : fetches) fetch_inputs.push_back({f.node, f.index});
  std::vector<int> target_ids, feed_ids;
  for (const Operation& t : targets) target_ids.push_back(t.node);
  for (const Output& p : feed_placeholders) feed_ids.push_back(p.node);
  plan->plan_graph_ =
      std::make_unique<PlanGraph>(g, schedule_of(needed), fetch_inputs, target_ids, feed_ids);
  PlanGraph& pg = *plan->plan_graph_;
  if (optimize) {
    OptimizerOptions options = options_;
    if (check_numerics_) {
      // Each guarded step is then one op of the user's graph, which the error can name
      // (a fused node would only say that one of a dozen ops it runs overflowed).
      options.disabled.push_back("elementwise_fusion");
      options.disabled.push_back("gemm_epilogue");
      options.disabled.push_back("conv_epilogue");
    }
    plan->reports_ = run_passes(pg, default_pipeline(), options);
  }
  plan->check_numerics_ = check_numerics_;

  plan->schedule_ = pg.topological_order();
  std::vector<int> slot_base(static_cast<std::size_t>(pg.num_nodes()), -1);  // plan node -> slot
  int num_slots = 0;
  for (int id : plan->schedule_) {
    slot_base[static_cast<std::size_t>(id)] = num_slots;
    num_slots += static_cast<int>(pg.node(id).output_dtypes.size());
  }
  plan->slots_.resize(static_cast<std::size_t>(num_slots));
  auto slot_of = [&](int node, int index) {
    return slot_base[static_cast<std::size_t>(node)] + index;
  };

  for (std::size_t fi = 0; fi < feed_placeholders.size(); ++fi) {
    int id = pg.feeds()[fi];
    if (id >= 0 && pg.live(id)) plan->feed_slots_.push_back({static_cast<int>(fi), slot_of(id, 0)});
  }

  // Steps, and the slot bindings that never change. Invariant steps are hoisted (Plan::run).
  const std::vector<char> invariant = pg.invariant_nodes();
  const std::vector<char> written = pg.written_variables();
  plan->slot_hoisted_.assign(static_cast<std::size_t>(num_slots), 0);
  for (int id : plan->schedule_) {
    const Node& n = pg.node(id);
    switch (n.op->role) {
      case OpRole::Placeholder:
        continue;
      case OpRole::Constant:
        plan->slots_[static_cast<std::size_t>(slot_of(id, 0))] = n.attrs.get_tensor("value");
        continue;
      case OpRole::Variable: {
        int source_id = pg.origin(id);
        plan->slots_[static_cast<std::size_t>(slot_of(id, 0))] = variable_state(source_id).value;
        if (written[static_cast<std::size_t>(id)])
          plan->written_states_.push_back(&variable_state(source_id));
        if (read[static_cast<std::size_t>(source_id)]) {
          plan->variables_read_.push_back(source_id);
          plan->read_states_.push_back(&variable_state(source_id));
        }
        continue;
      }
      case OpRole::Compute:
        break;
    }
    // A node without outputs and kernels only orders others (group); one with kernels runs
    // for its effects (the registry makes sure it dispatches on an input).
    if (n.output_dtypes.empty() && !n.op->has_kernel()) continue;
    DType d = pg.dispatch_dtype(id);
    KernelFn kernel = n.op->kernel_for(d);
    if (!kernel)
      throw RunError(node_context(n) + " has no kernel for dtype " + std::string(dtype_name(d)));
    Plan::Step step{&n,
                    kernel,
                    static_cast<std::uint32_t>(plan->input_slots_.size()),
                    static_cast<std::uint32_t>(n.inputs.size()),
                    static_cast<std::uint32_t>(plan->output_slots_.size()),
                    static_cast<std::uint32_t>(n.output_dtypes.size()),
                    n.op->uses_rng ? &rng_for(pg.origin(id)) : nullptr,
                    Plan::memory_of(n)};
    // The guard reports a failing step's inputs, so none may be overwritten by its output.
    if (check_numerics_ && step.memory == Plan::Step::Memory::InPlace)
      step.memory = Plan::Step::Memory::Fresh;
    for (const auto& in : n.inputs)
      plan->input_slots_.push_back(
          &plan->slots_[static_cast<std::size_t>(slot_of(in.node, in.index))]);
    const bool hoisted = invariant[static_cast<std::size_t>(id)] != 0;
    for (int o = 0; o < static_cast<int>(n.output_dtypes.size()); ++o) {
      plan->output_slots_.push_back(&plan->slots_[static_cast<std::size_t>(slot_of(id, o))]);
      if (hoisted)
        plan->slot_hoisted_[static_cast<std::size_t>(slot_of(id, o))] = 1;
      else
        plan->bound_slots_.push_back(slot_of(id, o));
    }
    if (hoisted)
      for (const NodeInput& in : n.inputs) {
        if (pg.node(in.node).op->role != OpRole::Variable) continue;
        VariableState* state = &variable_state(pg.origin(in.node));
        auto& reads = plan->hoisted_reads_;
        if (std::none_of(reads.begin(), reads.end(), [&](const auto& r) { return r.first == state; }))
          reads.emplace_back(state, 0);
      }
    plan->hoisted_.push_back(hoisted);
    plan->steps_.push_back(step);
  }
  for (const NodeInput& f : pg.fetches()) plan->fetch_slots_.push_back(slot_of(f.node, f.index));
  // Liveness for buffer reuse: the last step reading each slot (fetches are read after the run).
  plan->reuse_buffers_ = buffer_reuse_;
  plan->slot_last_use_.assign(static_cast<std::size_t>(num_slots), -1);
  plan->slot_written_.assign(static_cast<std::size_t>(num_slots), 0);
  for (std::size_t k = 0; k < plan->steps_.size(); ++k) {
    const Plan::Step& step = plan->steps_[k];
    for (std::uint32_t o = 0; o < step.num_outputs; ++o)
      plan->slot_last_use_[plan->slot_index(plan->output_slots_[step.first_output + o])] =
          static_cast<int>(k);
    for (std::uint32_t i = 0; i < step.num_inputs; ++i)
      plan->slot_last_use_[plan->slot_index(plan->input_slots_[step.first_input + i])] =
          static_cast<int>(k);
    if (step.node->op->written_inputs) {  // fused stores (fused_elementwise, matmul_epilogue)
      for (int written : step.node->op->written_inputs(step.node->attrs)) {
        auto in = static_cast<std::size_t>(written);
        plan->slot_written_[plan->slot_index(
            plan->input_slots_[step.first_input + static_cast<std::uint32_t>(in)])] = 1;
        // The fusion pass stores only into variables; a view made before a store into anything
        // else would see the new value where its copy would not, so such a plan makes none.
        if (pg.node(step.node->inputs[in].node).op->role != OpRole::Variable)
          plan->allow_views_ = false;
      }
    }
  }
  for (int f : plan->fetch_slots_) plan->slot_last_use_[static_cast<std::size_t>(f)] = kForever;
  for (const auto& [fi, slot] : plan->feed_slots_) plan->bound_slots_.push_back(slot);
  for (int v : plan->variables_initialized_)
    plan->initialized_states_.push_back(&variable_state(v));
  if (check_numerics_)
    for (std::size_t k = 0; k < plan->steps_.size(); ++k) {
      const Plan::Step& step = plan->steps_[k];
      for (int i : written_inputs(*step.node)) {
        const Tensor& target = *plan->input_slots_[step.first_input + static_cast<std::uint32_t>(i)];
        plan->saved_writes_.push_back({static_cast<std::uint32_t>(k), static_cast<std::uint32_t>(i),
                                       Tensor(target.dtype(), target.shape())});
      }
    }
  return plan;
}

Plan& Session::compile(const std::vector<Output>& fetches, const std::vector<Operation>& targets,
                       const std::vector<Output>& feed_placeholders) {
  check_request(fetches, targets, feed_placeholders);  // before the cache, whose key is node ids
  std::vector<std::int64_t> key;
  key.reserve(2 * fetches.size() + targets.size() + feed_placeholders.size() + 2);
  for (const Output& f : fetches) {
    key.push_back(f.node);
    key.push_back(f.index);
  }
  key.push_back(-1);
  for (const Operation& t : targets) key.push_back(t.node);
  key.push_back(-2);
  for (const Output& p : feed_placeholders) key.push_back(p.node);
  auto it = plans_.find(key);
  if (it != plans_.end()) return *it->second;
  auto plan = build_plan(fetches, targets, feed_placeholders, true);
  Plan& ref = *plan;
  plans_.emplace(std::move(key), std::move(plan));
  return ref;
}

std::vector<Tensor> Session::run(const std::vector<Output>& fetches, const std::vector<Feed>& feeds,
                                 const std::vector<Operation>& targets) {
  std::vector<Output> placeholders;
  std::vector<Tensor> values;
  placeholders.reserve(feeds.size());
  values.reserve(feeds.size());
  for (const Feed& f : feeds) {
    placeholders.push_back(f.placeholder);
    values.push_back(f.value);
  }
  return compile(fetches, targets, placeholders).run(values);
}

Tensor Session::run(Output fetch, const std::vector<Feed>& feeds) {
  return run(std::vector<Output>{fetch}, feeds).at(0);
}

void Session::run_targets(const std::vector<Operation>& targets, const std::vector<Feed>& feeds) {
  run({}, feeds, targets);
}

void Session::run_initializers(bool only_uninitialized) {
  // One plan per initializer, in creation order, so an initializer may read a variable created
  // before it: in one plan that read and the earlier initializer's write would be unordered.
  // The plans are not cached: each runs once per initialization.
  const auto& variables = graph_->variables();
  if (prefix_rollbacks_ != graph_->rollbacks()) {
    initialized_prefix_ = 0;
    prefix_rollbacks_ = graph_->rollbacks();
  }
  std::size_t first = only_uninitialized ? std::min(initialized_prefix_, variables.size()) : 0;
  for (std::size_t i = first; i < variables.size(); ++i) {
    const auto& v = variables[i];
    if (only_uninitialized && variable_state(v.variable).initialized) continue;
    build_plan({}, {Operation(graph_, v.initializer)}, {}, false)->run({});
  }
  initialized_prefix_ = variables.size();
}

void Session::initialize_variables() {
  run_initializers(false);
}
void Session::initialize_uninitialized_variables() {
  run_initializers(true);
}

void Session::set_optimizer_options(OptimizerOptions options) {
  check_pass_names(default_pipeline(), options.disabled);
  check_pass_names(default_pipeline(), options.enabled);
  options_ = std::move(options);
  plans_.clear();
}

void Session::set_buffer_reuse(Flag on) {
  buffer_reuse_ = on;
  plans_.clear();
}

void Session::set_check_numerics(Flag on) {
  if (check_numerics_ == static_cast<bool>(on)) return;  // keep the plans
  check_numerics_ = on;
  plans_.clear();
}

void Session::rebind(Graph& other) {
  // Check everything before changing anything.
  for (const Node& n : other.nodes()) {
    if (n.op->role != OpRole::Variable) continue;
    auto it = variables_.find(n.name);
    if (it == variables_.end()) continue;
    const Tensor& value = it->second->value;
    if (value.dtype() != n.output_dtypes.at(0) || value.shape() != n.output_shapes.at(0))
      throw RunError("cannot rebind the session: variable '" + n.name + "' is " +
                     std::string(dtype_name(value.dtype())) + " " + value.shape().to_string() +
                     " in the session but " + std::string(dtype_name(n.output_dtypes[0])) + " " +
                     n.output_shapes[0].to_string() + " in the new graph (created at " +
                     n.site.to_string() + ")");
  }
  plans_.clear();
  rngs_.clear();  // keyed by node id, which means nothing in the new graph
  graph_ = &other;
  initialized_prefix_ = 0;
}

const Session::VariableState* Session::find_state(Output variable, const char* what) const {
  if (!variable.valid() || variable.graph != graph_ || variable.node >= graph_->num_nodes() ||
      variable.producer().op->role != OpRole::Variable)
    throw RunError(std::string(what) + ": not a variable of this session's graph");
  auto it = variables_.find(variable.producer().name);
  return it == variables_.end() ? nullptr : it->second.get();
}

bool Session::is_initialized(Output variable) const {
  const VariableState* state = find_state(variable, "is_initialized");
  return state && state->initialized;
}

Tensor Session::variable_value(Output variable) const {
  const VariableState* state = find_state(variable, "variable_value");
  if (!state || !state->initialized)
    throw RunError("variable '" + variable.producer().name + "' is not initialized");
  return state->value.clone();
}

void Session::set_variable_value(Output variable, const Tensor& value) {
  find_state(variable, "set_variable_value");
  VariableState& state = variable_state(variable.node);
  try {
    state.value.copy_from(value);
  } catch (const std::exception& e) {
    throw RunError("set_variable_value('" + variable.producer().name + "'): " + e.what());
  }
  state.initialized = true;
  ++state.version;
}

// Which ops' kernels buffer reuse may skip (a memcpy of input 0: CopyKernel in ops/shape.cpp,
// Copy in ops/state.cpp; sum_to's reduction with nothing to sum) or run in place (fused.hpp
// documents that an output may alias a full-shape input).
Plan::Step::Memory Plan::memory_of(const Node& n) {
  using M = Step::Memory;
  const std::string& op = n.op->name;
  if (n.output_dtypes.size() != 1 || n.inputs.empty() || n.op->output_aliases_input0)
    return M::Fresh;
  if (op == "reshape" || op == "expand_dims" || op == "identity" || op == "stop_gradient")
    return M::View;
  if (op == "sum_to") return M::ViewIfSameShape;
  if (op == "fused_elementwise") return M::InPlace;
  return M::Fresh;
}

void Plan::check_feeds(std::span<const Tensor> feeds) const {
  if (feeds.size() != feeds_.size())
    throw RunError("plan expects " + std::to_string(feeds_.size()) + " feeds, got " +
                   std::to_string(feeds.size()));
  for (std::size_t i = 0; i < feeds.size(); ++i) {
    const Node& p = feeds_[i].producer();
    const Tensor& t = feeds[i];
    DType want = p.output_dtypes[0];
    const Shape& shape = p.output_shapes[0];
    if (!t.defined())
      throw RunError("feed for placeholder '" + p.name + "' is an undefined tensor");
    if (t.dtype() != want || !t.shape().compatible_with(shape))
      throw RunError("feed for placeholder '" + p.name + "' is " +
                     std::string(dtype_name(t.dtype())) + " " + t.shape().to_string() +
                     ", expected " + std::string(dtype_name(want)) + " " + shape.to_string());
  }
}

void Plan::swap_binding(Binding& binding) {
  for (std::size_t j = 0; j < bound_slots_.size(); ++j)
    std::swap(slots_[static_cast<std::size_t>(bound_slots_[j])], binding.tensors[j]);
  std::swap(skip_, binding.skip);
  std::swap(prepared_, binding.prepared);
  std::swap(bound_bytes_, binding.bytes);
}

void Plan::activate(std::span<const Tensor> feeds) {
  ++runs_;
  auto matches = [&](const Binding& b) {
    if (b.feed_shapes.size() != feeds.size()) return false;
    for (std::size_t i = 0; i < feeds.size(); ++i)
      if (b.feed_shapes[i] != feeds[i].shape()) return false;
    return true;
  };
  if (active_ >= 0 && matches(bindings_[static_cast<std::size_t>(active_)])) {
    bindings_[static_cast<std::size_t>(active_)].last_use = runs_;
    return;
  }
  if (active_ >= 0) swap_binding(bindings_[static_cast<std::size_t>(active_)]);  // park it
  active_ = -1;
  for (std::size_t k = 0; k < bindings_.size(); ++k)
    if (matches(bindings_[k])) {
      swap_binding(bindings_[k]);
      bindings_[k].last_use = runs_;
      active_ = static_cast<int>(k);
      return;
    }
  // A new signature: infer shapes and allocate, in a fresh binding or the least recently used.
  std::size_t k = bindings_.size();
  if (k == kMaxBindings) {
    k = 0;
    for (std::size_t i = 1; i < bindings_.size(); ++i)
      if (bindings_[i].last_use < bindings_[k].last_use) k = i;
    bindings_.erase(bindings_.begin() + static_cast<std::ptrdiff_t>(k));
    k = bindings_.size();
  }
  bind_shapes(feeds);  // throws, leaving no binding active, when a shape function rejects them
  Binding binding;
  for (const Tensor& t : feeds) binding.feed_shapes.push_back(t.shape());
  binding.tensors.resize(bound_slots_.size());
  binding.last_use = runs_;
  bindings_.push_back(std::move(binding));
  active_ = static_cast<int>(k);
}

void Plan::bind_shapes(std::span<const Tensor> feeds) {
  const PlanGraph& g = *plan_graph_;
  // The buffers of this binding. A slot maps to one (-1: a variable's or constant's, or an
  // output aliasing one, which the plan never recycles nor views). `last_use` is the last step
  // reading any slot on the buffer; after it the buffer goes back to the free pool.
  struct Buffer {
    Tensor storage;
    int last_use;
    bool pooled;  // a step output's: recyclable, and writable in place by its last reader
    bool free = false;
    int taken_by = -1;  // the step whose output last took it
  };
  std::vector<Buffer> buffers;
  std::vector<int> buffer_of(slots_.size(), -1);
  std::multimap<std::size_t, int> free_pool;  // capacity -> buffer
  std::size_t bytes = 0;
  auto last_use = [&](std::size_t slot) {
    // A value written in place by a fused store must survive: never recycled.
    return slot_written_[slot] ? kForever : slot_last_use_[slot];
  };
  auto add_buffer = [&](Tensor storage, std::size_t slot, bool pooled) {
    bytes += storage.nbytes();
    buffers.push_back({std::move(storage), last_use(slot), pooled});
    buffer_of[slot] = static_cast<int>(buffers.size()) - 1;
  };
  for (const auto& [fi, slot] : feed_slots_) {
    const Tensor& feed = feeds[static_cast<std::size_t>(fi)];
    add_buffer(Tensor(feed.dtype(), feed.shape()), static_cast<std::size_t>(slot), false);
    buffers.back().last_use = kForever;
    slots_[static_cast<std::size_t>(slot)] = buffers.back().storage;
  }
  skip_.assign(steps_.size(), 0);
  std::vector<ShapeContext::InputInfo> infos;
  for (std::size_t k = 0; k < steps_.size(); ++k) {
    const Step& step = steps_[k];
    const int now = static_cast<int>(k);
    const Node& n = *step.node;
    infos.clear();
    for (std::uint32_t i = 0; i < step.num_inputs; ++i) {
      const Tensor* t = input_slots_[step.first_input + i];
      infos.push_back(
          {t->dtype(), t->shape(), g.node(n.inputs[i].node).op->role == OpRole::Variable});
    }
    ShapeContext ctx(infos, n.attrs, static_cast<int>(step.num_outputs));
    auto inputs_text = [&] {
      std::ostringstream os;
      for (std::size_t i = 0; i < infos.size(); ++i)
        os << (i ? ", " : "") << dtype_name(infos[i].dtype) << " " << infos[i].shape.to_string();
      return os.str();
    };
    try {
      n.op->shape_fn(ctx);
    } catch (const std::exception& e) {
      throw ShapeError(node_context(n) + " rejects its run-time inputs [" + inputs_text() +
                       "]: " + e.what());
    }
    auto input_buffer = [&](std::uint32_t i) {
      return buffer_of[slot_index(input_slots_[step.first_input + i])];
    };
    for (std::uint32_t o = 0; o < step.num_outputs; ++o) {
      Tensor& out = *output_slots_[step.first_output + o];
      const std::size_t slot = slot_index(&out);
      if (slot_hoisted_[slot]) {
        // Independent of the feeds: one buffer of the plan's own for every binding, never
        // recycled nor viewed (buffer_of stays -1, as for a variable's).
        const auto& info = ctx.outputs()[o];
        if (!out.defined() || out.dtype() != info.dtype || out.shape() != info.shape) {
          try {
            out = Tensor(info.dtype, info.shape);
          } catch (const std::exception& e) {
            throw RunError(node_context(n) + ": cannot allocate output " + std::to_string(o) +
                           " of shape " + info.shape.to_string() + " for inputs [" + inputs_text() +
                           "]: " + e.what());
          }
          hoisted_valid_ = false;
        }
        continue;
      }
      if (o == 0 && n.op->output_aliases_input0) {
        out = *input_slots_[step.first_input];
        int b = input_buffer(0);
        buffer_of[slot] = b;
        if (b >= 0) {
          auto& buf = buffers[static_cast<std::size_t>(b)];
          buf.last_use = std::max(buf.last_use, last_use(slot));
        }
        continue;
      }
      const auto& info = ctx.outputs()[o];
      try {
        if (!reuse_buffers_) {
          out = Tensor(info.dtype, info.shape);
          bytes += out.nbytes();
          continue;
        }
        // A copy of input 0 becomes a view of its buffer, when that is a feed's or a step
        // output's nobody writes in place (a variable's changes under the view).
        const bool copy_op = step.memory == Step::Memory::View ||
                             step.memory == Step::Memory::ViewIfSameShape;  // has an input 0
        const int b = copy_op ? input_buffer(0) : -1;
        const Tensor* x = copy_op ? input_slots_[step.first_input] : nullptr;
        if (o == 0 && b >= 0 && allow_views_ && x->dtype() == info.dtype &&
            (step.memory == Step::Memory::View || x->shape() == info.shape)) {
          auto& buf = buffers[static_cast<std::size_t>(b)];
          out = buf.storage.view(info.dtype, info.shape);
          buffer_of[slot] = b;
          buf.last_use = std::max(buf.last_use, last_use(slot));
          skip_[k] = 1;
          continue;
        }
        const std::size_t need =
            static_cast<std::size_t>(info.shape.num_elements()) * dtype_size(info.dtype);
        int chosen = -1;
        if (step.memory == Step::Memory::InPlace) {
          // Over an input this step reads last, when every read of that buffer here is at the
          // output's positions (same dtype and full shape).
          for (std::uint32_t i = 0; i < step.num_inputs && chosen < 0; ++i) {
            int c = input_buffer(i);
            if (c < 0) continue;
            const auto& buf = buffers[static_cast<std::size_t>(c)];
            if (!buf.pooled || buf.free || buf.last_use != now || buf.taken_by == now ||
                buf.storage.capacity() < need)
              continue;
            bool same_positions = true;
            for (std::uint32_t j = 0; j < step.num_inputs; ++j)
              if (input_buffer(j) == c) {
                const Tensor& t = *input_slots_[step.first_input + j];
                same_positions =
                    same_positions && t.dtype() == info.dtype && t.shape() == info.shape;
              }
            if (same_positions) chosen = c;
          }
        }
        if (chosen < 0) {
          auto it = free_pool.lower_bound(need);  // the smallest free buffer large enough
          if (it != free_pool.end()) {
            chosen = it->second;
            free_pool.erase(it);
            buffers[static_cast<std::size_t>(chosen)].free = false;
          }
        }
        if (chosen < 0) {
          add_buffer(Tensor(info.dtype, info.shape), slot, true);
          chosen = buffer_of[slot];
        }
        auto& buf = buffers[static_cast<std::size_t>(chosen)];
        buf.last_use = std::max(now, last_use(slot));
        buf.taken_by = now;
        buffer_of[slot] = chosen;
        out = buf.storage.view(info.dtype, info.shape);
      } catch (const std::exception& e) {  // a shape left unknown, too many elements, bad_alloc
        throw RunError(node_context(n) + ": cannot allocate output " + std::to_string(o) +
                       " of shape " + info.shape.to_string() + " for inputs [" + inputs_text() +
                       "]: " + e.what());
      }
    }
    // Buffers whose last reader this step was (or outputs nobody reads) become free.
    auto release = [&](const Tensor* slot) {
      int b = buffer_of[slot_index(slot)];
      if (b < 0) return;
      auto& buf = buffers[static_cast<std::size_t>(b)];
      if (!buf.pooled || buf.free || buf.last_use > now) return;
      buf.free = true;
      free_pool.emplace(buf.storage.capacity(), b);
    };
    for (std::uint32_t i = 0; i < step.num_inputs; ++i) release(input_slots_[step.first_input + i]);
    for (std::uint32_t o = 0; o < step.num_outputs; ++o)
      release(output_slots_[step.first_output + o]);
  }
  bound_bytes_ = bytes;
  ++allocations_;
  // The ops' prepare steps, now that every step's tensors have their shapes.
  prepared_.clear();
  prepared_.resize(steps_.size());
  for (std::size_t k = 0; k < steps_.size(); ++k) {
    const Step& step = steps_[k];
    if (skip_[k] || !step.node->op->prepare) continue;
    try {
      prepared_[k] = step.node->op->prepare(step_context(k));
    } catch (const std::exception& e) {
      throw RunError(node_context(*step.node) + " failed to prepare: " + e.what());
    }
  }
}

int Plan::view_steps() const {
  return static_cast<int>(std::count(skip_.begin(), skip_.end(), char{1}));
}

int Plan::hoisted_steps() const {
  return static_cast<int>(std::count(hoisted_.begin(), hoisted_.end(), char{1}));
}

std::vector<Tensor> Plan::run(std::span<const Tensor> feeds) {
  check_feeds(feeds);
  for (std::size_t i = 0; i < read_states_.size(); ++i)
    if (!read_states_[i]->initialized)
      throw RunError(
          "variable '" + graph_->node(variables_read_[i]).name +
          "' is read before it is initialized: run Session::initialize_variables() first");
  activate(feeds);
  for (const auto& [fi, slot] : feed_slots_)
    slots_[static_cast<std::size_t>(slot)].copy_from(feeds[static_cast<std::size_t>(fi)]);
  // Before any step: a write the run makes invalidates the other plans' hoisted values.
  for (detail::VariableState* state : written_states_) ++state->version;
  bool fresh = hoisted_valid_;
  for (const auto& [state, seen] : hoisted_reads_) fresh = fresh && state->version == seen;
  if (!fresh) run_hoisted();
  if (check_numerics_) {
    run_checked();
  } else {
    for (std::size_t k = 0; k < steps_.size(); ++k) {
      if (skip_[k] || hoisted_[k]) continue;  // a view of its input, or computed already
      run_step(k);
    }
  }
  for (detail::VariableState* state : initialized_states_) state->initialized = true;
  std::vector<Tensor> out;
  out.reserve(fetch_slots_.size());
  for (int s : fetch_slots_) out.push_back(slots_[static_cast<std::size_t>(s)].clone());
  return out;
}

KernelContext Plan::step_context(std::size_t k) {
  const Step& step = steps_[k];
  return KernelContext{
      *step.node,
      std::span<const Tensor* const>(input_slots_.data() + step.first_input, step.num_inputs),
      std::span<Tensor* const>(output_slots_.data() + step.first_output, step.num_outputs),
      step.rng};
}

void Plan::run_step(std::size_t k) {
  const Step& step = steps_[k];
  KernelContext ctx = step_context(k);
  try {
    if (k < prepared_.size() && prepared_[k])
      prepared_[k]->run(ctx);
    else
      step.kernel(ctx);
  } catch (const std::exception& e) {
    throw RunError(node_context(*step.node) + " failed: " + e.what());
  }
}

void Plan::run_hoisted() {
  // Hoisted steps read only constants, unwritten variables and each other, so they may run
  // before the others, in schedule order. They write nothing: a failure (the numerics guard's
  // too) leaves them invalid, to be run again.
  hoisted_valid_ = false;
  for (std::size_t k = 0; k < steps_.size(); ++k)
    if (hoisted_[k]) {
      run_step(k);
      if (check_numerics_) check_step(k);
    }
  for (auto& [state, seen] : hoisted_reads_) seen = state->version;
  hoisted_valid_ = true;
  ++hoisted_computations_;
}

void Plan::run_checked() {
  std::size_t saved = 0;  // saved_writes_[0, saved) hold values from before this run's writes
  try {
    for (std::size_t k = 0; k < steps_.size(); ++k) {
      if (skip_[k] || hoisted_[k]) continue;
      for (; saved < saved_writes_.size() && saved_writes_[saved].step == k; ++saved) {
        SavedWrite& w = saved_writes_[saved];
        w.before.copy_from(*input_slots_[steps_[k].first_input + w.input]);
      }
      run_step(k);
      check_step(k);
    }
  } catch (...) {
    // Undo the writes latest first, so a variable written twice ends with its first saved value.
    // The versions stay bumped: other plans recompute what they hoisted from these variables.
    while (saved > 0) {
      const SavedWrite& w = saved_writes_[--saved];
      Tensor target = *input_slots_[steps_[w.step].first_input + w.input];  // shares the buffer
      target.copy_from(w.before);
    }
    throw;
  }
}

void Plan::check_step(std::size_t k) const {
  const Step& step = steps_[k];
  auto first_write = std::lower_bound(
      saved_writes_.begin(), saved_writes_.end(), k,
      [](const SavedWrite& w, std::size_t step) { return w.step < step; });
  std::string what;
  for (std::uint32_t o = 0; o < step.num_outputs && what.empty(); ++o)
    if (!detail::all_finite(*output_slots_[step.first_output + o]))
      what = "output " + std::to_string(o) + " (" +
             detail::describe_statistics(*output_slots_[step.first_output + o]) + ")";
  for (auto w = first_write; w != saved_writes_.end() && w->step == k && what.empty(); ++w) {
    const Tensor& target = *input_slots_[step.first_input + w->input];
    if (!detail::all_finite(target))
      what = "the variable it writes, input " + std::to_string(w->input) + " (" +
             detail::describe_statistics(target) + ")";
  }
  if (what.empty()) return;
  const Node& n = *step.node;
  std::ostringstream os;
  os << "numerics check: " << node_context(n) << " produced NaN or Inf in its " << what
     << "; its inputs:";
  for (std::uint32_t i = 0; i < step.num_inputs; ++i) {
    const Tensor* value = input_slots_[step.first_input + i];
    const char* note = "";
    for (auto w = first_write; w != saved_writes_.end() && w->step == k; ++w)
      if (w->input == i) {
        value = &w->before;  // the step has overwritten it
        note = " before the write";
      }
    os << (i ? "; " : " ") << i << " '" << plan_graph_->node(n.inputs[i].node).name << "'" << note
       << ": " << detail::describe_statistics(*value);
  }
  if (step.num_inputs == 0) os << " none";
  os << ". The run was undone: the variables it wrote hold their values from before it";
  throw NumericsError(os.str());
}

}  // namespace dagrad
