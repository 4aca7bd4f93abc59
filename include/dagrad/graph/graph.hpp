// A Graph is a static DAG of nodes; each node applies a registered op to outputs of earlier
// nodes. Nodes are shape-checked as they are added and never change afterwards; a graph is
// data (records looked up in an OpRegistry at run time), not a C++ type.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <source_location>
#include <string>
#include <string_view>
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

// Why `name` cannot name a node or scope ("" when it can): names are '/'-separated paths of
// non-empty parts without ':' or control characters.
std::string invalid_name_reason(std::string_view name);

// A handle to output `index` of node `node` of a graph: the symbolic tensor users build with.
struct Output {
  Graph* graph = nullptr;
  int node = -1;
  int index = 0;

  bool valid() const { return graph != nullptr && node >= 0; }
  const Node& producer() const;
  DType dtype() const;
  const Shape& shape() const;
  // "name" for output 0, "name:1" for the others.
  std::string name() const;
  bool operator==(const Output& other) const {
    return graph == other.graph && node == other.node && index == other.index;
  }
};

struct NodeInput {
  int node;
  int index;
};

struct Node {
  int id = -1;
  std::string name;          // unique, hierarchical: "dense_1/MatMul"
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
  const Node& node(int id) const { return nodes_.at(static_cast<std::size_t>(id)); }
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
  [[nodiscard]] ScopeGuard control_dependencies(const std::vector<Output>& nodes);
  // Nodes added while the guard lives are tagged backward (used by autodiff).
  [[nodiscard]] ScopeGuard backward_section();

  // Graph-level seed combined with each random node's own seed (as in TensorFlow 1).
  std::uint64_t seed() const { return seed_; }
  void set_seed(std::uint64_t seed) { seed_ = seed; }

  // Variables and the assign node that initializes each.
  struct VariableInfo {
    int variable;
    int initializer;
  };
  const std::vector<VariableInfo>& variables() const { return variables_; }
  // Throws GraphError unless variable_node is a variable registered for the first time and
  // initializer_node an assign to it.
  void register_variable(int variable_node, int initializer_node);

  // Nodes that consume output (node, *) as a data input.
  std::vector<int> consumers(int node) const;
  // Throws GraphError if the node ids form a cycle or inputs are out of range (for loaded graphs).
  void verify() const;

 private:
  std::string unique_name(const std::string& full);
  std::string describe_failure(std::string_view op, const std::string& name,
                               const std::vector<Output>& inputs, const SourceSite& site) const;

  const OpRegistry* registry_;
  std::deque<Node> nodes_;
  std::unordered_map<std::string, int> by_name_;
  std::unordered_map<std::string, int> name_counts_;
  std::string scope_;  // "" or "a/b/"
  std::vector<int> control_scope_;
  bool backward_ = false;
  std::uint64_t seed_ = 0;
  std::vector<VariableInfo> variables_;
};

}  // namespace dagrad
