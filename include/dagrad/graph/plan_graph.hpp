// The executor's working copy of one request: the nodes a plan needs, copied out of the user's
// graph into a graph that passes may rewrite (the user's graph never changes, as in TensorFlow 1,
// where grappler optimizes a copy). Node ids here are the copy's own; origin() maps a copied
// node back to the user's graph (variables keep their names, their stable identity, so a
// session finds their values; random nodes keep their generators). Nodes are killed, never
// erased, so ids stay valid while passes run; ids stop being a topological order once a pass
// adds nodes, so run order comes from topological_order().
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "graph.hpp"

namespace dagrad {

// The inputs node `n` writes in place: input 0 of an op that writes or overwrites it (assign,
// assign_add, ...) and those its op's written_inputs names (a fused_elementwise node's stores),
// each once.
std::vector<int> written_inputs(const Node& n);

// Per node id of `graph` (a Graph or a PlanGraph): whether it is one of `roots` or an input or
// control input, directly or not, of one: what a request needs.
template <class GraphLike>
std::vector<char> needed_by(const GraphLike& graph, std::vector<int> roots) {
  std::vector<char> needed(static_cast<std::size_t>(graph.num_nodes()), 0);
  while (!roots.empty()) {
    int id = roots.back();
    roots.pop_back();
    if (needed[static_cast<std::size_t>(id)]) continue;
    needed[static_cast<std::size_t>(id)] = 1;
    const Node& n = graph.node(id);
    for (const NodeInput& in : n.inputs) roots.push_back(in.node);
    for (int c : n.control_inputs) roots.push_back(c);
  }
  return needed;
}

class PlanGraph {
 public:
  // Copies nodes `needed` (ids ascending) of `source`, with their names, attributes, shapes,
  // sites and backward tags. Fetches, targets and feeds are given in source ids and kept here
  // as ids of the copy.
  PlanGraph(const Graph& source, const std::vector<int>& needed,
            const std::vector<NodeInput>& fetches, const std::vector<int>& targets,
            const std::vector<int>& feeds);
  PlanGraph(const PlanGraph&) = delete;
  PlanGraph& operator=(const PlanGraph&) = delete;

  const Graph& source() const { return *source_; }
  const OpRegistry& registry() const { return source_->registry(); }

  int num_nodes() const { return static_cast<int>(nodes_.size()); }  // dead ones included
  int num_live() const { return num_live_; }
  const Node& node(int id) const;  // throws GraphError for an id out of range
  // A node to change in place: attributes, shapes, name. Its inputs and control inputs change only
  // through set_input, replace_uses and redirect_control, which keep the use lists.
  Node& mutable_node(int id);
  // Input `index` of node `id` reads `value` instead (kept in the use lists replace_uses walks).
  void set_input(int id, int index, NodeInput value);
  bool live(int id) const { return live_.at(static_cast<std::size_t>(id)) != 0; }
  // The source-graph node this one copies, or -1 for a node a pass made.
  int origin(int id) const { return origin_.at(static_cast<std::size_t>(id)); }
  // The copy of source node `source_id`, or -1.
  int copy_of(int source_id) const;

  const std::vector<NodeInput>& fetches() const { return fetches_; }
  const std::vector<int>& targets() const { return targets_; }
  const std::vector<int>& feeds() const { return feeds_; }  // placeholders, in request order

  // Adds a node applying `op` (its shape function runs on the inputs' build-time shapes; a
  // rejection throws ShapeError naming the node and op). `like` is a node whose site and backward
  // tag the new one takes and near which it is scheduled (-1: none).
  int add_node(const OpRecord& op, std::vector<NodeInput> inputs, AttrMap attrs, std::string name,
               std::vector<int> control_inputs = {}, int like = -1);
  // Every use of output `from` (data inputs of live nodes, fetches) reads `to` instead.
  void replace_uses(NodeInput from, NodeInput to);
  // Control edges from `from` (as control input of live nodes, and as a target) now come from
  // `to`; pass -1 to drop them.
  void redirect_control(int from, int to);
  // Marks a node dead: it no longer runs. Its uses must have been replaced.
  void kill(int id);

  // The dtype that selects node `id`'s kernel: its op's dispatch input's, else output 0's.
  DType dispatch_dtype(int id) const;

  // Data consumers of each node (live ones, each once, ascending), indexed by node id.
  std::vector<std::vector<int>> consumers() const;
  // The live nodes in an order where every node follows its data and control inputs, as close
  // to the source graph's order as that allows. Throws GraphError on a cycle.
  std::vector<int> topological_order() const;
  // Per node id: the variable node whose buffer output 0 is (the variable itself, or an assign
  // or other aliasing op applied to it), else -1.
  std::vector<int> variable_aliases() const;
  // Variable nodes that some live node of this plan writes (writes_input0, overwrites_input0, or
  // an input its op's written_inputs names, as fused stores).
  std::vector<char> written_variables() const;
  // Per node id: whether the live node's value is invariant, the same in every run until a
  // variable it reads is written from outside the plan: a constant, a variable no live node
  // writes, or a pure node (no randomness, state or writes, a fused_elementwise node without
  // stores included; with outputs and a kernel; no control inputs) whose inputs are all invariant.
  // Placeholders and what depends on them are not.
  std::vector<char> invariant_nodes() const;

  // The live nodes as an ordinary Graph (same names, ops, attributes; sites and backward tags
  // carried over), for DOT and inspection. Variables come without initializers.
  std::unique_ptr<Graph> to_graph() const;

 private:
  const Graph* source_;
  std::deque<Node> nodes_;
  std::vector<char> live_;
  std::vector<int> origin_;
  std::vector<double> order_key_;  // scheduling preference: the source position
  std::vector<int> copy_of_;       // source id -> copy id
  // Who may use each node (data and control), appended as edges appear and checked when read:
  // replace_uses and redirect_control visit these instead of every node.
  std::vector<std::vector<int>> users_, control_users_;
  std::vector<NodeInput> fetches_;
  std::vector<int> targets_;
  std::vector<int> feeds_;
  int num_live_ = 0;
};

}  // namespace dagrad
