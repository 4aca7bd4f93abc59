// Shared by the pass tests: run one request with the passes on and off and compare.
#pragma once

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "common/random_tensor.hpp"
#include "dagrad/dagrad.hpp"

namespace dagrad::testing {

// How many live nodes of the plan's graph apply `op`.
inline int count_op(const Plan& plan, const std::string& op) {
  const PlanGraph& g = plan.plan_graph();
  int n = 0;
  for (int id = 0; id < g.num_nodes(); ++id)
    if (g.live(id) && g.node(id).op->name == op) ++n;
  return n;
}

// The report of pass `name` (the first one of that name).
inline const PassReport* report_of(const Plan& plan, const std::string& name) {
  for (const PassReport& r : plan.pass_reports())
    if (r.pass == name) return &r;
  return nullptr;
}

// Verification alone, for a test's own pipeline (verified() names the default table's opt-in
// passes, which such a pipeline lacks).
inline OptimizerOptions verify_only() {
  OptimizerOptions options;
  options.verify = true;
  return options;
}

// Options that run every pass, the opt-in ones included, and verify the graph after each.
inline OptimizerOptions verified() {
  OptimizerOptions options;
  options.verify = true;
  for (const Pass& p : default_pipeline())
    if (!p.on_by_default) options.enabled.push_back(p.name);
  return options;
}

// verified() without fusion, for tests of the passes before it (fusion would absorb the nodes
// whose presence they count).
inline OptimizerOptions verified_without_fusion() {
  OptimizerOptions options = verified();
  options.disabled = {"elementwise_fusion"};
  return options;
}

inline OptimizerOptions unoptimized() {
  OptimizerOptions options;
  options.optimize = false;
  return options;
}

// Whether two tensors have the same dtype, shape and bytes.
inline bool identical(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  const auto* pa = static_cast<const unsigned char*>(a.raw());
  const auto* pb = static_cast<const unsigned char*>(b.raw());
  for (std::size_t i = 0; i < a.nbytes(); ++i)
    if (pa[i] != pb[i]) return false;
  return true;
}

// Whether two float tensors of one dtype and shape agree to `relative` of the larger magnitude,
// or of `floor` for values smaller than that.
inline bool close(const Tensor& a, const Tensor& b, double relative, double floor = 1.0) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  for (std::int64_t i = 0; i < a.size(); ++i) {
    double x = a.value_as_double(i), y = b.value_as_double(i);
    if (!(std::abs(x - y) <= relative * std::max({std::abs(x), std::abs(y), floor}))) return false;
  }
  return true;
}

// Runs the same request `steps` times with every pass on (verified after each) and with none;
// requires equal bits of every fetch and variable. Returns how many `op` nodes the optimized
// plan has (0 for an empty name).
inline int check_same(Graph& g, const std::vector<Output>& fetches, const std::vector<Feed>& feeds,
                      const std::vector<Operation>& targets = {}, int steps = 1,
                      const std::string& op = "") {
  Session on(g), off(g);
  on.set_optimizer_options(verified());
  off.set_optimizer_options(unoptimized());
  on.initialize_variables();
  off.initialize_variables();
  for (int step = 0; step < steps; ++step) {
    auto a = on.run(fetches, feeds, targets);
    auto b = off.run(fetches, feeds, targets);
    for (std::size_t i = 0; i < a.size(); ++i)
      BOOST_TEST(identical(a[i], b[i]),
                 "fetch " << fetches[i].name() << " differs at step " << step);
  }
  for (const auto& v : g.variables()) {
    Output var = g.output_of(v.variable);
    BOOST_TEST(identical(on.variable_value(var), off.variable_value(var)),
               "variable " << var.name() << " differs");
  }
  if (op.empty()) return 0;
  std::vector<Output> placeholders;
  for (const Feed& f : feeds) placeholders.push_back(f.placeholder);
  return count_op(on.compile(fetches, targets, placeholders), op);
}

}  // namespace dagrad::testing
