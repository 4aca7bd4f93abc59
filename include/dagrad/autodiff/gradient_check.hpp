// Checks symbolic gradients against central finite differences, in float64 by default.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "../graph/graph.hpp"
#include "../graph/op_registry.hpp"
#include "../graph/session.hpp"

namespace dagrad {

struct GradCheckOptions {
  // float32 is possible but unreliable: a warning is printed (once per process), and the step
  // and tolerances become at least eps 1e-3, rtol 1e-2, atol 1e-4 unless overridden below.
  DType dtype = DType::float64;
  bool fast = false;    // compare random directional derivatives, not the full Jacobian
  int projections = 4;  // directions in fast mode
  std::uint64_t seed = 1;
  // Override the op's own tolerances and step.
  std::optional<double> rtol, atol, eps;
};

struct GradCheckResult {
  std::string op;      // op name, or "graph"
  std::string shapes;  // "(2, 3), (3,)" and the sample's note
  double max_abs_error = 0.0;
  double max_rel_error = 0.0;
  bool passed = false;
  bool skipped = false;  // not differentiable, or a leaf: nothing to check
  std::string message;   // why it failed or was skipped
};

// Checks op `op` of `registry` in each sample of its GradCheckSpec: float inputs drawn (seeded)
// from the spec's domain away from its kinks, the outputs reduced to a scalar through fixed
// random weights, and d(scalar)/d(inputs) compared with central differences. A check where
// both gradients are zero everywhere fails unless the spec expects it. Ops that are not
// differentiable or have no inputs are reported as skipped; an op with float inputs and neither
// a gradient nor a not_differentiable_reason fails.
std::vector<GradCheckResult> check_op_gradients(const OpRegistry& registry, const std::string& op,
                                                const GradCheckOptions& options = {});

// Checks d y / d xs for a scalar float y of an existing graph, where each x is a float variable
// (its session value is perturbed) or a fed placeholder. Variables must be initialized in
// `session`; their values are restored afterwards, also when a run throws. The caller's feed
// tensors are never modified. Throws GraphError when an x appears twice in xs, or when y depends
// on a random op (one that draws new values on every evaluation). A float32 y or x is checked
// with the float32 step and tolerances (see GradCheckOptions::dtype).
GradCheckResult check_graph_gradients(Session& session, Output y, const std::vector<Output>& xs,
                                      const std::vector<Feed>& feeds,
                                      const GradCheckOptions& options = {}, double rtol = 1e-6,
                                      double atol = 1e-9, double eps = 1e-6,
                                      bool zero_gradient_expected = false);

// One line per result: op, shapes, max abs error, max rel error, verdict.
std::string format_gradcheck_table(const std::vector<GradCheckResult>& results);

}  // namespace dagrad
