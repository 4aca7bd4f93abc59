// A Graph is a static DAG of nodes; each node applies a registered op to outputs of earlier
// nodes. Nodes are shape-checked as they are added and never change afterwards; a graph is
// data (records looked up in an OpRegistry at run time), not a C++ type.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <source_location>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "attr.hpp"
#include "dtype.hpp"
#include "flag.hpp"
#include "op_registry.hpp"
#include "shape.hpp"

namespace dagrad {

class Graph;
class OpRegistry;

// Where in user code a node was created.
struct SourceSite {
  std::string file;
  int line = 0;
  std::string function;
  static SourceSite from(const std::source_location& loc);
  std::string to_string() const;  // "file.cpp:12 (main)" or "unknown site"
};

// Limits on node and scope names, checked when a name is made (add_node, name scopes) and so
// also when a graph file is loaded: a name holds at most kMaxNameBytes bytes and kMaxNameDepth
// '/'-separated parts ("a/b/c" has 3). Deeper names only cost: tools such as DOT draw one
// nested cluster per scope level.
inline constexpr std::size_t kMaxNameBytes = 1024;
inline constexpr int kMaxNameDepth = 64;

// Why `name` cannot name a node or scope ("" when it can): names are '/'-separated paths of
// non-empty parts without ':' or control characters, within the limits above. The reason
// quotes a name longer than kMaxNameBytes by its first 80 bytes.
std::string invalid_name_reason(std::string_view name);

// A handle to output `index` of node `node` of a graph: the symbolic tensor users build with.
struct Output {
  Graph* graph = nullptr;
  int node = -1;
  int index = 0;

  bool valid() const { return graph != nullptr && node >= 0; }
  // These throw GraphError (naming the node) for a handle without a node or output, such as
  // output 0 of a group node, which has no outputs.
  const Node& producer() const;
  DType dtype() const;
  const Shape& shape() const;
  // "name" for output 0, "name:1" for the others.
  std::string name() const;
  bool operator==(const Output& other) const {
    return graph == other.graph && node == other.node && index == other.index;
  }
};

// A handle to a node run for its effects (a group, an assign used as a target): what
// Session targets and control_dependencies take. Any Output converts to the Operation of its
// node; an Operation has no dtype or shape, so a node without outputs cannot be used as a value.
struct Operation {
  Graph* graph = nullptr;
  int node = -1;

  Operation() = default;
  Operation(Graph* g, int id) : graph(g), node(id) {}
  Operation(const Output& output) : graph(output.graph), node(output.node) {}  // NOLINT: implicit

  bool valid() const { return graph != nullptr && node >= 0; }
  const Node& producer() const;
  std::string name() const;  // the node's full name
  bool operator==(const Operation& other) const {
    return graph == other.graph && node == other.node;
  }
};

// Collection tags of variables (Graph::variables_in). Any other non-empty name is a user
// collection. kTrainable is not a tag but the trainable flag itself (Graph::set_trainable).
namespace collections {
inline constexpr std::string_view kTrainable = "trainable_variables";
inline constexpr std::string_view kNonTrainableState = "non_trainable_state";  // moving statistics
inline constexpr std::string_view kOptimizerSlots = "optimizer_slots";  // moments, step counters
}  // namespace collections

// How a variable is registered: trainable (gradients and optimizers take it by default) and
// the collections it belongs to besides (no duplicates, not kTrainable).
struct VariableOptions {
  bool trainable = true;
  std::vector<std::string> collections;
};

struct NodeInput {
  int node;
  int index;
};

struct Node {
  int id = -1;
  std::string name;  // unique, hierarchical: "dense_1/MatMul"
  const OpRecord* op = nullptr;
  std::vector<NodeInput> inputs;
  std::vector<int> control_inputs;  // nodes that must run before this one
  AttrMap attrs;
  std::vector<DType> output_dtypes;
  std::vector<Shape> output_shapes;
  SourceSite site;
  bool backward = false;  // built by autodiff: part of a gradient computation

  // "dense_1/MatMul" scope part: "dense_1" ("" at top level).
  std::string scope() const;
};

// Options for adding a node beyond op, inputs and attributes.
struct NodeOptions {
  std::string name;                 // base name; default the op name. Made unique in scope.
  std::vector<int> control_inputs;  // extra ordering edges
  // Where the node was created, when not the caller's location: the site a graph file stores,
  // so that a loaded node's errors point at the program that built it.
  std::optional<SourceSite> site;
};

class Graph {
 public:
  // The graph of built-in ops plus every op registered in dagrad::default_registry()
  // (defined by the ops module, which provides the built-in ops).
  Graph();
  explicit Graph(const OpRegistry& registry);
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  const OpRegistry& registry() const { return *registry_; }

  // Adds a node and returns its outputs. Checks the op exists, the arity, the attributes
  // against the schema (filling defaults) and runs the shape function; on any failure throws
  // (ShapeError or GraphError) naming node, op, each input's dtype and shape and the site, and
  // leaves the graph unchanged.
  std::vector<Output> add_node(std::string_view op, const std::vector<Output>& inputs,
                               AttrMap attrs = {}, NodeOptions options = {},
                               std::source_location loc = std::source_location::current());
  // add_node for single-output ops.
  Output add(std::string_view op, const std::vector<Output>& inputs, AttrMap attrs = {},
             NodeOptions options = {}, std::source_location loc = std::source_location::current());

  int num_nodes() const { return static_cast<int>(nodes_.size()); }
  // Throws GraphError for an id that is not a node of this graph.
  const Node& node(int id) const {
    if (id < 0 || id >= num_nodes()) throw_no_node(id);
    return nodes_[static_cast<std::size_t>(id)];
  }
  // Sets where a node was created and whether it is backward; for code that rebuilds graphs
  // (file loading, transforms). Nothing else about a node changes after it is added.
  void annotate(int id, SourceSite site, bool backward);
  const std::deque<Node>& nodes() const { return nodes_; }
  // The node with this full name, or null.
  const Node* find_node(std::string_view name) const;
  // "name" or "name:i" to an Output; throws GraphError when absent.
  Output output(std::string_view name);
  Output output_of(int node, int index = 0) { return Output{this, node, index}; }

  // Name scopes nest ("dense_1/"); the guard pops the scope when destroyed.
  class ScopeGuard {
   public:
    explicit ScopeGuard(std::function<void()> restore) : restore_(std::move(restore)) {}
    ScopeGuard(ScopeGuard&& other) noexcept : restore_(std::move(other.restore_)) {
      other.restore_ = nullptr;
    }
    ScopeGuard(const ScopeGuard&) = delete;
    ~ScopeGuard() {
      if (restore_) restore_();
    }

   private:
    std::function<void()> restore_;
  };
  // Enters scope `name` made unique among scopes at this level unless reuse is true
  // ("dense", "dense_1", ...).
  [[nodiscard]] ScopeGuard name_scope(std::string_view name, Flag reuse = false);
  // Replaces the current scope with `scope` (a full path such as "gradients/dense"; "" for the
  // top level) until the guard is destroyed.
  [[nodiscard]] ScopeGuard absolute_scope(std::string_view scope);
  const std::string& current_scope() const { return scope_; }
  // Nodes added while the guard lives get these nodes as control inputs.
  [[nodiscard]] ScopeGuard control_dependencies(const std::vector<Operation>& nodes);
  // Nodes added while the guard lives are tagged backward (used by autodiff).
  [[nodiscard]] ScopeGuard backward_section();

  // Graph-level seed combined with each random node's own seed (as in TensorFlow 1).
  std::uint64_t seed() const { return seed_; }
  void set_seed(std::uint64_t seed) { seed_ = seed; }

  // Variables (in creation order) and the assign node that initializes each. A variable's
  // identity is its full node name: sessions and checkpoints key its value by it.
  struct VariableInfo {
    int variable;
    int initializer;
    bool trainable = true;
    std::vector<std::string> collections;  // tags besides trainable, in the order added
  };
  const std::vector<VariableInfo>& variables() const { return variables_; }
  // Throws GraphError unless variable_node is a variable registered for the first time,
  // initializer_node an assign to it and the options valid (no empty, repeated or kTrainable
  // collection names).
  void register_variable(int variable_node, int initializer_node, VariableOptions options = {});
  // The registration of `variable` (an output of a registered variable node); throws GraphError.
  const VariableInfo& variable_info(Output variable) const;
  // The variables of `collection` as outputs, in creation order; kTrainable gives the
  // trainable ones. An unknown collection is empty.
  std::vector<Output> variables_in(std::string_view collection);
  std::vector<Output> trainable_variables() { return variables_in(collections::kTrainable); }
  // Freezes (false) or unfreezes (true) a variable, e.g. a pretrained layer in transfer
  // learning; gradients and optimizers built afterwards see the change. Only a bool binds.
  void set_trainable(Output variable, bool trainable);
  template <class T>
  requires(!std::is_same_v<T, bool>) void set_trainable(Output variable, T trainable) = delete;
  // Adds `variable` to `collection` (no effect if it is already there); kTrainable is refused.
  void add_to_collection(Output variable, std::string_view collection);

  // A named entry point of the graph, as in TensorFlow's SavedModel: which placeholders feed it
  // and which outputs it computes, by key ("loss": {"x", "labels"} -> {"loss"}). Saved in graph
  // files, so tools find a model's loss or predictions without guessing.
  struct Signature {
    std::vector<std::pair<std::string, Output>> inputs;   // key -> placeholder
    std::vector<std::pair<std::string, Output>> outputs;  // key -> any output
  };
  // Adds or replaces signature `name`. Throws GraphError naming the signature and key unless the
  // name and keys are valid names (unique within inputs and within outputs), every input is a
  // placeholder of this graph and every output an output of this graph.
  void set_signature(const std::string& name, Signature signature);
  // The signature `name`, or null.
  const Signature* signature(std::string_view name) const;
  const std::map<std::string, Signature, std::less<>>& signatures() const { return signatures_; }

  // A restore point for undoing a construction of several nodes that failed part way (autodiff
  // uses it so that a failed gradients() leaves the graph as it was).
  // Taking one costs O(signatures), not O(graph): while any checkpoint is alive the graph
  // journals the names it takes, and a rollback undoes the journal. Move-only; it must not
  // outlive its graph.
  class Checkpoint {
   public:
    Checkpoint(Checkpoint&& other) noexcept;
    Checkpoint& operator=(Checkpoint&&) = delete;
    ~Checkpoint();

   private:
    friend class Graph;
    Checkpoint() = default;
    const Graph* graph = nullptr;
    int num_nodes = 0;
    std::size_t num_variables = 0;
    std::size_t journal_size = 0;  // entries of the name journal when it was taken
    std::map<std::string, Signature, std::less<>> signatures;
  };
  [[nodiscard]] Checkpoint checkpoint() const;
  // Removes every node added since `checkpoint`, frees the node and scope names taken since (a
  // later add or name_scope gets the name it would have got) and drops variables registered
  // since. Requires: a checkpoint of this graph, no rollback past it since, and no live
  // control_dependencies guard entered after it. Scope guards restore the current scope.
  // Signatures are restored to what they were at the checkpoint.
  void rollback(const Checkpoint& checkpoint);
  // How many rollbacks this graph has had: node ids and variable indices may be reused after
  // one, so a cache keyed by them compares this count.
  std::uint64_t rollbacks() const { return rollbacks_; }

  // Nodes that consume output (node, *) as a data input, each once, in id order; kept up to
  // date as nodes are added (a node removal must update them too).
  const std::vector<int>& consumers(int node) const;
  // Nodes that have `node` among their control inputs, in id order.
  const std::vector<int>& control_consumers(int node) const;
  // Throws GraphError if the node ids form a cycle or inputs are out of range (for loaded graphs).
  void verify() const;

 private:
  [[noreturn]] void throw_no_node(int id) const;
  std::string unique_name(const std::string& full);
  // name_counts_[name] = count, journaled while a checkpoint is alive.
  void set_name_count(const std::string& name, int count);
  std::string describe_failure(std::string_view op, const std::string& name,
                               const std::vector<Output>& inputs, const SourceSite& site) const;

  const OpRegistry* registry_;
  std::deque<Node> nodes_;
  std::unordered_map<std::string, int> by_name_;
  std::unordered_map<std::string, int> name_counts_;  // names taken by nodes and scopes
  struct NameCountUndo {
    std::string name;
    std::optional<int> old;  // the entry before the change; none if there was none
  };
  mutable int live_checkpoints_ = 0;
  mutable std::vector<NameCountUndo> name_count_journal_;  // only while a checkpoint is alive
  std::uint64_t rollbacks_ = 0;
  std::string scope_;  // "" or "a/b/"
  std::vector<int> control_scope_;
  bool backward_ = false;
  std::uint64_t seed_ = 0;
  std::map<std::string, Signature, std::less<>> signatures_;
  std::vector<VariableInfo> variables_;
  std::vector<std::vector<int>> consumers_;  // use-lists, indexed by node id
  std::vector<std::vector<int>> control_consumers_;
};

}  // namespace dagrad

// Outputs hash on (graph, node, index), as operator== compares them.
template <>
struct std::hash<dagrad::Output> {
  std::size_t operator()(const dagrad::Output& o) const noexcept {
    std::size_t h = std::hash<const void*>{}(o.graph);
    h ^= static_cast<std::size_t>(o.node) * 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    h ^= static_cast<std::size_t>(o.index) + 0x7F4A7C15ull + (h << 6) + (h >> 2);
    return h;
  }
};
