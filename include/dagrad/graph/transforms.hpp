// Graph transforms: copying nodes with their inputs remapped (clone), and the whole-graph
// transforms built on it. Every copy is re-added through one replay routine (replay_node), which
// the graph-file loader uses too, so schema checks and shape functions run on every rebuilt node.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "graph.hpp"

namespace dagrad {

// A node as a description, before it is added: what clone and the graph-file loader replay.
struct NodeSpec {
  std::string op;
  std::vector<Output> inputs;  // outputs of the graph the node is added to
  AttrMap attrs;
  std::string name;                 // full name ("dense/MatMul"), used as is (no current scope)
  std::vector<int> control_inputs;  // node ids of that graph
  SourceSite site;
  bool backward = false;
};

// Adds `spec` to `graph` through Graph::add_node (attribute schema, arity and shape function
// checked again; errors as add_node's, naming spec's site) and gives it spec's site and
// backward tag; returns the new node's id. Its name is spec.name unless the graph must make it
// unique (callers that need the exact name check it). Nodes still get the graph's active
// control_dependencies.
int replay_node(Graph& graph, const NodeSpec& spec);

// What clone does with an assign, assign_add or assign_sub that would be copied while the
// variable it writes is shared with the original (always the case in a region clone).
enum class StatefulPolicy {
  Refuse,  // throw GraphError naming the node: the copy would update the variable a second time
  Copy,    // copy it: running the copy updates the shared variable too
};

// What clone does with the seed attribute of a copied random node (op marked uses_rng).
enum class RandomPolicy {
  // The copy's generator starts in the same state as the original's, so the copy's k-th run
  // draws exactly what the original's k-th run draws (each node has its own generator in a
  // Session: they do not share one sequence). An explicit seed is kept. A node with seed 0 draws
  // from a stream Session derives from its node id, which the copy does not share: the copy
  // gets the explicit seed that yields the same stream (it keeps 0 when the copy has the
  // original's id, as in a whole-graph copy into an empty graph). Sameness holds while the
  // source and target graph seeds stay as they were at clone time (always, in one graph).
  SameStream,
  // The copy gets a new explicit seed, derived from the original's stream and the copy's id:
  // its draws are independent of the original's, and deterministic.
  FreshStream,
};

struct CloneOptions {
  // Where copies go. Default: the graph of the outputs (a region clone must use that graph,
  // whose uncopied nodes the copies share).
  Graph* target = nullptr;
  // Copy every node of the source graph, variables included (the copies of variables are
  // registered with the copies of their initializers, with their trainable flags and
  // collections), rather than only the region. Into another graph, signatures come along.
  bool whole_graph = false;
  // For a whole-graph copy requested without outputs: the graph to copy.
  const Graph* source = nullptr;
  // Copies are named "<scope>/<original name>", with scope made unique in the target
  // ("lookahead", "lookahead_1", ...) under the target's current scope. An empty scope means
  // "clone" when copying into the source graph and the original names otherwise.
  std::string scope;
  StatefulPolicy stateful = StatefulPolicy::Refuse;
  RandomPolicy random = RandomPolicy::SameStream;
  // Called for each copy just before it is replayed, after inputs, name and seed were set: may
  // change the op, attributes (dtypes, ...), name or anything else of the description.
  std::function<void(const Node& original, NodeSpec& copy)> rewrite;
};

struct CloneResult {
  Graph* target = nullptr;
  std::vector<Output>
      outputs;              // per requested output: its copy, its replacement, or itself (shared)
  std::vector<int> copies;  // per source node id: the id of its copy in target, or -1
  std::vector<std::pair<Output, Output>> replacements;  // as given
  // The copy of `o` (an output of the source graph): its replacement if replaced, the copied
  // node's output if copied, else `o` itself (shared).
  Output map(const Output& o) const;
  bool copied(int source_node) const {
    return source_node >= 0 && source_node < static_cast<int>(copies.size()) &&
           copies[static_cast<std::size_t>(source_node)] >= 0;
  }
};

// Copies the nodes between `replacements` and `outputs`, each copy reading the replacement
// wherever the original read a replaced tensor. A region clone copies exactly the nodes that
// depend (through data or control inputs) on a replaced tensor and on which some output depends;
// every other node, and every variable, is shared, not copied. With options.whole_graph every
// node is copied. Control inputs of copies point to copies where they exist, else to the
// originals. Shape functions run again for every copy; sites and backward tags carry over.
// Refusals (stateful policy, bad arguments) throw GraphError before anything is added; a copy
// that fails to build (say after a rewrite) throws as add_node does, and the target is rolled
// back to what it was before the call (nodes, names, variables).
//   Nesterov lookahead: clone({loss}, {{theta, theta + beta * m}}) then gradients of the copy.
CloneResult clone(const std::vector<Output>& outputs,
                  const std::vector<std::pair<Output, Output>>& replacements = {},
                  CloneOptions options = {});

// A copy of `graph` (same node names, structure, seed, variables, signatures, sites and backward
// tags) in which every float32 is float64: dtype attributes and float32 tensor attributes are
// promoted, and every shape function runs again. Used to check the gradients of a float32 model
// with float64 finite differences. A whole-graph clone with a rewrite hook.
std::unique_ptr<Graph> promote_to_float64(const Graph& graph);

// A float32 tensor as a new float64 tensor of the same shape (exact: every float is a double);
// any other tensor, undefined included, is returned as it is.
Tensor widen_to_float64(const Tensor& tensor);

}  // namespace dagrad
