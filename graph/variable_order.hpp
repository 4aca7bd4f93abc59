// The read/write ordering check of a plan's variables, shared by Session::compile (on the user's
// graph) and the optimizer's verifier (on the plan's graph after each pass). Internal.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "dagrad/graph/errors.hpp"
#include "dagrad/graph/graph.hpp"
#include "dagrad/graph/plan_graph.hpp"

namespace dagrad::detail {

// The variable whose buffer output (node, index) is (the variable's own output or an output
// aliasing it, such as an assign's), or -1; `alias` holds that for output 0 of earlier nodes.
inline int aliased_variable(const std::vector<int>& alias, int node, int index) {
  if (index != 0) return -1;
  return alias[static_cast<std::size_t>(node)];
}

// Enforces the read/write ordering rule (session.hpp) over a plan's nodes, `schedule` listing
// them in a topological order. G is Graph (before the passes) or PlanGraph (after each pass,
// when the optimizer verifies): anything with node(id) and num_nodes().
template <class G>
void check_variable_order(const G& g, const std::vector<int>& schedule) {
  const auto num = static_cast<std::size_t>(g.num_nodes());
  std::vector<int> alias(num, -1);
  std::map<int, std::vector<int>> writers;  // variable -> writing nodes
  for (int id : schedule) {
    const Node& n = g.node(id);
    if (n.op->role == OpRole::Variable)
      alias[static_cast<std::size_t>(id)] = id;
    else if (n.op->output_aliases_input0 && !n.inputs.empty())
      alias[static_cast<std::size_t>(id)] =
          aliased_variable(alias, n.inputs[0].node, n.inputs[0].index);
    for (int i : written_inputs(n)) {
      auto& w = writers[n.inputs[static_cast<std::size_t>(i)].node];
      if (w.empty() || w.back() != id) w.push_back(id);
    }
  }
  if (writers.empty()) return;
  std::map<int, std::vector<int>> readers;  // variable -> reading nodes (ascending, no repeats)
  for (int id : schedule) {
    const Node& n = g.node(id);
    std::vector<int> own = written_inputs(n);
    for (std::size_t i = 0; i < n.inputs.size(); ++i) {
      int v = aliased_variable(alias, n.inputs[i].node, n.inputs[i].index);
      if (v < 0 || !writers.count(v)) continue;
      if (std::find(own.begin(), own.end(), static_cast<int>(i)) != own.end())
        continue;  // the write itself
      auto& r = readers[v];
      if (r.empty() || r.back() != id) r.push_back(id);
    }
  }
  auto describe = [&](int id) {
    const Node& n = g.node(id);
    return "node '" + n.name + "' (op " + n.op->name + ", created at " + n.site.to_string() + ")";
  };
  // Reachability between every node and every write, as bitsets over the writes: one pass down
  // the schedule (the writes each node follows) and one up it (the writes each node precedes).
  // Linear in the plan's size times the number of writes / 64, where a search per write would
  // be quadratic in the depth of a deep network.
  std::vector<int> writes;
  std::vector<int> write_index(num, -1);
  for (const auto& [v, ws] : writers)
    for (int w : ws) {
      write_index[static_cast<std::size_t>(w)] = static_cast<int>(writes.size());
      writes.push_back(w);
    }
  const std::size_t words = (writes.size() + 63) / 64;
  std::vector<int> position(num, -1);
  for (std::size_t k = 0; k < schedule.size(); ++k)
    position[static_cast<std::size_t>(schedule[k])] = static_cast<int>(k);
  std::vector<std::uint64_t> follows(schedule.size() * words, 0),
      precedes(schedule.size() * words, 0);
  auto row = [&](std::vector<std::uint64_t>& bits, int id) {
    return bits.data() + static_cast<std::size_t>(position[static_cast<std::size_t>(id)]) * words;
  };
  auto set_own = [&](std::vector<std::uint64_t>& bits, int id) {
    int k = write_index[static_cast<std::size_t>(id)];
    if (k >= 0) row(bits, id)[k / 64] |= std::uint64_t{1} << (k % 64);
  };
  for (int id : schedule) {
    std::uint64_t* mine = row(follows, id);
    const Node& n = g.node(id);
    auto take = [&](int from) {
      const std::uint64_t* theirs = row(follows, from);
      for (std::size_t w = 0; w < words; ++w) mine[w] |= theirs[w];
    };
    for (const auto& in : n.inputs) take(in.node);
    for (int c : n.control_inputs) take(c);
    set_own(follows, id);
  }
  for (auto it = schedule.rbegin(); it != schedule.rend(); ++it) {
    int id = *it;
    set_own(precedes, id);
    const std::uint64_t* mine = row(precedes, id);
    const Node& n = g.node(id);
    auto give = [&](int to) {
      std::uint64_t* theirs = row(precedes, to);
      for (std::size_t w = 0; w < words; ++w) theirs[w] |= mine[w];
    };
    for (const auto& in : n.inputs) give(in.node);
    for (int c : n.control_inputs) give(c);
  }
  auto ordered = [&](int other, int w) {
    int k = write_index[static_cast<std::size_t>(w)];
    std::uint64_t bit = std::uint64_t{1} << (k % 64);
    return ((row(follows, other)[k / 64] | row(precedes, other)[k / 64]) & bit) != 0;
  };
  for (const auto& [v, ws] : writers) {
    const std::string& var = g.node(v).name;
    for (std::size_t k = 0; k < ws.size(); ++k) {
      int w = ws[k];
      for (int r : readers[v])
        if (r != w && !ordered(r, w))
          throw RunError("variable '" + var + "' is read by " + describe(r) + " and written by " +
                         describe(w) +
                         " in one plan with no path of data edges or control dependencies between "
                         "them, so the "
                         "value read is undefined; order them: build the write under "
                         "g.control_dependencies({read}) to read the old value, or the read under "
                         "g.control_dependencies({write}) to read the new one");
      for (std::size_t j = k + 1; j < ws.size(); ++j)
        if (!ordered(ws[j], w))
          throw RunError("variable '" + var + "' is written by " + describe(w) + " and by " +
                         describe(ws[j]) +
                         " in one plan with no path of data edges or control dependencies between "
                         "them, so the "
                         "final value is undefined; order them: build the second write under "
                         "g.control_dependencies({first write})");
    }
  }
}

}  // namespace dagrad::detail
