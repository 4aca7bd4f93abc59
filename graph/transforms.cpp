#include "dagrad/graph/transforms.hpp"

#include <map>
#include <optional>

#include "dagrad/graph/errors.hpp"

namespace dagrad {

namespace {

AttrValue promote(const AttrValue& value) {
  if (const DType* d = std::get_if<DType>(&value))
    return *d == DType::float32 ? DType::float64 : *d;
  if (const Tensor* t = std::get_if<Tensor>(&value)) return widen_to_float64(*t);
  return value;
}

// The seeding of Session::rng_for (graph/session.cpp): a node's generator starts at
// splitmix64(graph_seed ^ stream), stream = splitmix64(seed) for an explicit seed, else
// splitmix64(node id) ^ kIdStream. tests/graph/test_transforms.cpp checks by running both that
// clone's seeds reproduce the original's draws, so a change there fails here.
constexpr std::uint64_t kIdStream = 0xD1B54A32D192ED03ull;
constexpr std::uint64_t kGolden = 0x9E3779B97F4A7C15ull;
constexpr std::uint64_t kMul1 = 0xBF58476D1CE4E5B9ull;
constexpr std::uint64_t kMul2 = 0x94D049BB133111EBull;

std::uint64_t splitmix64(std::uint64_t x) {
  x += kGolden;
  x = (x ^ (x >> 30)) * kMul1;
  x = (x ^ (x >> 27)) * kMul2;
  return x ^ (x >> 31);
}

std::uint64_t unxorshift(std::uint64_t y, int k) {
  std::uint64_t x = y;
  for (int s = k; s < 64; s += k) x ^= y >> s;
  return x;
}

std::uint64_t odd_inverse(std::uint64_t m) {
  std::uint64_t inv = m;  // Newton's iteration doubles the correct low bits each step
  for (int i = 0; i < 6; ++i) inv *= 2 - m * inv;
  return inv;
}

// splitmix64 is a bijection (xorshifts and odd multiplications are invertible mod 2^64).
std::uint64_t unsplitmix64(std::uint64_t y) {
  std::uint64_t x = unxorshift(y, 31);
  x = unxorshift(x * odd_inverse(kMul2), 27);
  x = unxorshift(x * odd_inverse(kMul1), 30);
  return x - kGolden;
}

std::uint64_t stream_of(const Node& n) {
  auto seed = static_cast<std::uint64_t>(n.attrs.get_int("seed"));
  return seed != 0 ? splitmix64(seed) : splitmix64(static_cast<std::uint64_t>(n.id)) ^ kIdStream;
}

// The seed attribute of the copy of random node `n` that will get id `copy_id` in `target`.
std::int64_t copy_seed(const Node& n, const Graph& source, const Graph& target, int copy_id,
                       RandomPolicy policy) {
  std::int64_t seed = n.attrs.get_int("seed");
  std::uint64_t stream = stream_of(n);
  if (policy == RandomPolicy::FreshStream) {
    // Low bit set: never 0, which would mean "derive from the node id".
    return static_cast<std::int64_t>(
        splitmix64(stream ^ splitmix64(static_cast<std::uint64_t>(copy_id) + kGolden)) | 1u);
  }
  if (source.seed() == target.seed() && (seed != 0 || copy_id == n.id)) return seed;
  // splitmix64(target_seed ^ splitmix64(s)) == splitmix64(source_seed ^ stream).
  std::uint64_t s = unsplitmix64(source.seed() ^ target.seed() ^ stream);
  if (s == 0)  // one value in 2^64: seed 0 cannot be made explicit
    throw GraphError("clone: random node '" + n.name +
                     "' cannot keep its stream in the copy (seed 0 would be "
                     "reinterpreted); use RandomPolicy::FreshStream");
  return static_cast<std::int64_t>(s);
}

bool writes_variable(const Node& n) {
  return n.op->writes_input0 || n.op->overwrites_input0;
}

}  // namespace

int replay_node(Graph& graph, const NodeSpec& spec) {
  auto top = graph.absolute_scope("");
  NodeOptions options{spec.name, spec.control_inputs, spec.site};
  graph.add_node(spec.op, spec.inputs, spec.attrs, std::move(options));
  int id = graph.num_nodes() - 1;
  graph.annotate(id, spec.site, spec.backward);
  return id;
}

Output CloneResult::map(const Output& o) const {
  for (const auto& [from, to] : replacements)
    if (from == o) return to;
  if (copied(o.node)) return Output{target, copies[static_cast<std::size_t>(o.node)], o.index};
  return o;
}

CloneResult clone(const std::vector<Output>& outputs,
                  const std::vector<std::pair<Output, Output>>& replacements,
                  CloneOptions options) {
  // The source graph: that of the outputs (or of the replaced tensors, or options.source).
  const Graph* source = options.source;
  for (const Output& o : outputs)
    if (!source && o.valid()) source = o.graph;
  for (const auto& r : replacements)
    if (!source && r.first.valid()) source = r.first.graph;
  if (!source)
    throw GraphError("clone: no source graph (give outputs, replacements or options.source)");
  Graph* target = options.target;
  if (!target) {
    if (!outputs.empty() && outputs[0].valid())
      target = outputs[0].graph;
    else if (!replacements.empty() && replacements[0].first.valid())
      target = replacements[0].first.graph;
    else
      throw GraphError("clone: no target graph (set options.target)");
  }
  if (!options.whole_graph && target != source)
    throw GraphError(
        "clone: a region clone adds to the source graph, whose uncopied nodes it shares; "
        "use whole_graph to copy into another graph");
  // A requested output may be a node without outputs (a group of updates): its copy is mapped.
  auto check_source = [&](const Output& o, const std::string& what) {
    if (!o.valid() || o.graph != source || o.node >= source->num_nodes())
      throw GraphError("clone: " + what + " is not an output of the source graph");
  };
  for (const Output& o : outputs) check_source(o, "a requested output");
  const int n = source->num_nodes();

  CloneResult result;
  result.target = target;
  result.copies.assign(static_cast<std::size_t>(n), -1);
  std::map<std::pair<int, int>, Output> replaced;
  for (const auto& [from, to] : replacements) {
    check_source(from, "a replaced tensor");
    (void)from.dtype();  // GraphError naming the node when it has no such output
    if (!to.valid() || to.graph != target || to.node >= target->num_nodes())
      throw GraphError("clone: the replacement of '" + from.name() +
                       "' is not an output of the target graph");
    (void)to.dtype();
    if (!replaced.emplace(std::pair{from.node, from.index}, to).second)
      throw GraphError("clone: '" + from.name() + "' is replaced twice");
    result.replacements.emplace_back(from, to);
  }
  auto replacement = [&](const NodeInput& in) -> const Output* {
    auto it = replaced.find({in.node, in.index});
    return it == replaced.end() ? nullptr : &it->second;
  };

  // The nodes to copy, in id (topological) order.
  std::vector<char> copy(static_cast<std::size_t>(n), options.whole_graph ? 1 : 0);
  if (!options.whole_graph) {
    // Forward: nodes that read a replaced tensor, then everything downstream (data or control).
    std::vector<char> affected(static_cast<std::size_t>(n), 0);
    std::vector<int> work;
    for (const auto& [key, to] : replaced)
      for (int c : source->consumers(key.first))
        for (const NodeInput& in : source->node(c).inputs)
          if (in.node == key.first && in.index == key.second &&
              !affected[static_cast<std::size_t>(c)]) {
            affected[static_cast<std::size_t>(c)] = 1;
            work.push_back(c);
          }
    while (!work.empty()) {
      int u = work.back();
      work.pop_back();
      auto reach = [&](int v) {
        if (!affected[static_cast<std::size_t>(v)]) {
          affected[static_cast<std::size_t>(v)] = 1;
          work.push_back(v);
        }
      };
      for (int v : source->consumers(u)) reach(v);
      for (int v : source->control_consumers(u)) reach(v);
    }
    // Backward: nodes some output depends on, not looking past a replaced tensor.
    std::vector<char> needed(static_cast<std::size_t>(n), 0);
    for (const Output& o : outputs)
      if (!replaced.count({o.node, o.index}) && !needed[static_cast<std::size_t>(o.node)]) {
        needed[static_cast<std::size_t>(o.node)] = 1;
        work.push_back(o.node);
      }
    while (!work.empty()) {
      const Node& v = source->node(work.back());
      work.pop_back();
      auto reach = [&](int u) {
        if (!needed[static_cast<std::size_t>(u)]) {
          needed[static_cast<std::size_t>(u)] = 1;
          work.push_back(u);
        }
      };
      for (const NodeInput& in : v.inputs)
        if (!replacement(in)) reach(in.node);
      for (int c : v.control_inputs) reach(c);
    }
    for (int id = 0; id < n; ++id)
      copy[static_cast<std::size_t>(id)] = affected[static_cast<std::size_t>(id)] &&
                                           needed[static_cast<std::size_t>(id)] &&
                                           source->node(id).op->role != OpRole::Variable;
  }

  // Refusals come before anything is added.
  if (options.stateful == StatefulPolicy::Refuse)
    for (int id = 0; id < n; ++id) {
      const Node& node = source->node(id);
      if (!copy[static_cast<std::size_t>(id)] || !writes_variable(node) || node.inputs.empty())
        continue;
      const NodeInput& var = node.inputs[0];
      if (!replacement(var) && copy[static_cast<std::size_t>(var.node)])
        continue;  // writes the copied variable
      throw GraphError("clone: node '" + node.name + "' (op " + node.op->name + ", created at " +
                       node.site.to_string() +
                       ") is in the cloned region and would update variable '" +
                       source->node(var.node).name +
                       "' a second time; keep it out of the region or use StatefulPolicy::Copy");
    }

  // A copy that fails part way (a rewrite the shape function rejects, ...) leaves nothing behind.
  Graph::Checkpoint mark = target->checkpoint();
  std::string prefix;
  std::optional<Graph::ScopeGuard> scope;
  try {
    if (!options.scope.empty() || target == source) {
      scope.emplace(target->name_scope(options.scope.empty() ? "clone" : options.scope));
      prefix = target->current_scope();
    }

    for (int id = 0; id < n; ++id) {
      if (!copy[static_cast<std::size_t>(id)]) continue;
      const Node& node = source->node(id);
      NodeSpec spec;
      spec.op = node.op->name;
      for (const NodeInput& in : node.inputs) {
        if (const Output* r = replacement(in))
          spec.inputs.push_back(*r);
        else if (result.copied(in.node))
          spec.inputs.push_back(
              Output{target, result.copies[static_cast<std::size_t>(in.node)], in.index});
        else
          spec.inputs.push_back(
              Output{target, in.node, in.index});  // shared (target is the source)
      }
      for (int c : node.control_inputs)
        spec.control_inputs.push_back(result.copied(c) ? result.copies[static_cast<std::size_t>(c)]
                                                       : c);
      spec.attrs = node.attrs;
      spec.name = prefix + node.name;
      spec.site = node.site;
      spec.backward = node.backward;
      if (node.op->uses_rng && node.attrs.has("seed"))
        spec.attrs.set("seed",
                       copy_seed(node, *source, *target, target->num_nodes(), options.random));
      if (options.rewrite) options.rewrite(node, spec);
      result.copies[static_cast<std::size_t>(id)] = replay_node(*target, spec);
    }
    scope.reset();

    for (const auto& v : source->variables())
      if (result.copied(v.variable) && result.copied(v.initializer))
        target->register_variable(result.copies[static_cast<std::size_t>(v.variable)],
                                  result.copies[static_cast<std::size_t>(v.initializer)],
                                  VariableOptions{v.trainable, v.collections});
    // A whole-graph copy keeps the graph's entry points (into the same graph they would clash).
    if (options.whole_graph && target != source)
      for (const auto& [name, signature] : source->signatures()) {
        Graph::Signature copy;
        for (const auto& [key, o] : signature.inputs) copy.inputs.emplace_back(key, result.map(o));
        for (const auto& [key, o] : signature.outputs)
          copy.outputs.emplace_back(key, result.map(o));
        target->set_signature(name, std::move(copy));
      }
  } catch (...) {
    scope.reset();
    target->rollback(mark);
    throw;
  }
  for (const Output& o : outputs) result.outputs.push_back(result.map(o));
  return result;
}

Tensor widen_to_float64(const Tensor& tensor) {
  if (!tensor.defined() || tensor.dtype() != DType::float32) return tensor;
  Tensor wide(DType::float64, tensor.shape());
  const float* src = tensor.data<float>();
  double* dst = wide.data<double>();
  for (std::int64_t i = 0; i < tensor.size(); ++i) dst[i] = src[i];
  return wide;
}

std::unique_ptr<Graph> promote_to_float64(const Graph& graph) {
  auto out = std::make_unique<Graph>(graph.registry());
  out->set_seed(graph.seed());
  CloneOptions options;
  options.target = out.get();
  options.source = &graph;
  options.whole_graph = true;
  // Into an empty graph with the same seed: ids, names, edges and random streams carry over.
  options.rewrite = [](const Node&, NodeSpec& spec) {
    AttrMap wide;
    for (const auto& [name, value] : spec.attrs.items()) wide.set(name, promote(value));
    spec.attrs = std::move(wide);
  };
  clone({}, {}, std::move(options));
  return out;
}

}  // namespace dagrad
