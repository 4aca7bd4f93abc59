// Graph passes over a plan's working copy (PlanGraph) and the ordered table that runs them: the
// middle stage of the plan compiler (prune -> copy -> passes -> schedule -> memory -> steps).
// A pass is a small named function that rewrites the copy in place and reports what it changed;
// the pipeline can be printed and each pass switched off by name (OptimizerOptions, and
// `dagrad dot --optimized --passes`). The general passes live here (dead-node pruning, constant
// folding, common-subexpression elimination); op-specific rules (algebraic simplification,
// fusion) live in passes/ and the default table is assembled there (default_pipeline()).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "plan_graph.hpp"

namespace dagrad {

// What one pass did, for `--passes` and tests.
struct PassReport {
  std::string pass;
  int nodes_before = 0;  // live nodes
  int nodes_after = 0;
  int changes = 0;                   // rewrites made (nodes folded, merged, fused, ...)
  std::vector<std::string> details;  // one line per rewrite, at most kMaxDetails kept
  double milliseconds = 0;
  static constexpr std::size_t kMaxDetails = 200;
  void note(std::string line) {
    ++changes;
    if (details.size() < kMaxDetails) details.push_back(std::move(line));
  }
};

struct Pass {
  std::string name;
  std::string summary;  // one line for `--passes`
  std::function<void(PlanGraph&, PassReport&)> run;
  // false: an opt-in pass, run only when OptimizerOptions::enabled names it (one measured not to
  // pay on the models it was built for, kept for the cases where it does).
  bool on_by_default = true;
};

using PassPipeline = std::vector<Pass>;

// How Session compiles plans.
struct OptimizerOptions {
  bool optimize = true;               // false: no passes at all (the plan runs the copy as is)
  std::vector<std::string> disabled;  // passes switched off by name
  std::vector<std::string> enabled;   // opt-in passes switched on by name
  bool verify = false;                // run verify_plan_graph after every pass (tests do)
};

// Throws GraphError, listing the pipeline's passes, for a name that names none of them.
void check_pass_names(const PassPipeline& pipeline, const std::vector<std::string>& names);

// Runs the passes in order: those on by default and not disabled, and the opt-in ones enabled
// (disabled wins). Throws GraphError for a disabled or enabled name that names no pass,
// and, with verify, when a pass leaves the graph broken (the message names the pass).
std::vector<PassReport> run_passes(PlanGraph& graph, const PassPipeline& pipeline,
                                   const OptimizerOptions& options);

// Checks what every pass must keep true: each live node's arity and attributes fit its op's
// schema, inputs are live nodes' existing outputs, no cycles, every node's dtypes and shapes are
// what its shape function gives for its inputs (unknown dimensions may have become known), and
// fetches and targets are live. Throws GraphError naming the node and the broken rule.
void verify_plan_graph(const PlanGraph& graph);

// The default pass table (defined by the passes module, with the built-in ops).
const PassPipeline& default_pipeline();

// The general passes, for building other tables and for tests.
// prune: drops nodes no fetch or target needs (after rewrites left them unused).
Pass prune_pass();
// constant_folding: evaluates pure nodes whose inputs are all constants (and whose result is
// not much larger than those inputs) once, at compile time.
Pass constant_folding_pass();
// cse: merges nodes with the same op, attributes, inputs and control inputs (hash-consing);
// never stateful or random ops, nor readers of a variable this plan writes.
Pass cse_pass();

// Helpers for passes.
// The scalar value of output (node, index) when it is a constant with one element, else false.
bool constant_scalar(const PlanGraph& graph, NodeInput output, double& value);
// Whether a constant output has every element equal to `value`.
bool constant_all_equal(const PlanGraph& graph, NodeInput output, double value);
// Whether two build-time shapes are the same, unknown dimensions included (equal as written).
bool same_shape(const Shape& a, const Shape& b);

}  // namespace dagrad
