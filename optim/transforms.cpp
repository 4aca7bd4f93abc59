// Gradient clipping and the Nesterov lookahead, as graph rewrites.
#include "dagrad/optim/transforms.hpp"

#include <cmath>

#include "dagrad/graph/transforms.hpp"
#include "dagrad/ops/ops.hpp"
#include "dagrad/optim/errors.hpp"

namespace dagrad::optim {

void validate(const Clipping& c) {
  auto check = [](const std::optional<double>& v, const char* name) {
    if (v && !(std::isfinite(*v) && *v > 0))
      throw OptimizerError(std::string(name) + " must be a finite number > 0, got " + std::to_string(*v));
  };
  check(c.clipvalue, "clipvalue");
  check(c.clipnorm, "clipnorm");
  check(c.global_clipnorm, "global_clipnorm");
  if (c.clipnorm && c.global_clipnorm)
    throw OptimizerError("clipnorm and global_clipnorm cannot both be set (as in Keras): clipnorm "
                         "clips each variable's gradient, global_clipnorm all of them together");
}

std::vector<Output> clip_gradients(const std::vector<Output>& gradients, const Clipping& c) {
  validate(c);
  std::vector<Output> g = gradients;
  if (!c.active()) return g;
  Graph* graph = nullptr;
  for (const Output& x : g)
    if (x.valid()) graph = x.graph;
  if (!graph) return g;
  auto scope = graph->name_scope("clip_gradients");
  if (c.clipvalue)
    for (Output& x : g)
      if (x.valid()) x = clip_by_value(x, -*c.clipvalue, *c.clipvalue, "clip_by_value");
  if (c.clipnorm) {
    // g * c / max(||g||, c): the direction is kept, the norm is at most c.
    for (Output& x : g) {
      if (!x.valid()) continue;
      Output norm = sqrt(sum(square(x)), "norm");
      Output limit = fill(*graph, Shape{}, *c.clipnorm, x.dtype());
      x = x * (limit / maximum(norm, limit));
    }
  }
  if (c.global_clipnorm) {
    // G = sqrt(sum_i ||g_i||^2); g_i * c / max(G, c).
    std::vector<Output> squares;
    for (const Output& x : g)
      if (x.valid()) squares.push_back(sum(square(x)));
    Output global = sqrt(squares.size() == 1 ? squares[0] : add_n(squares), "global_norm");
    Output limit = fill(*graph, Shape{}, *c.global_clipnorm, global.dtype());
    Output factor = limit / maximum(global, limit);
    for (Output& x : g)
      if (x.valid()) x = x * factor;
  }
  return g;
}

std::vector<Output> nesterov_lookahead(const std::vector<Output>& outputs,
                                       const std::vector<std::pair<Output, Output>>& variable_momentum,
                                       Output beta, const std::string& scope) {
  if (outputs.empty()) return {};
  Graph& g = *outputs[0].graph;
  std::vector<std::pair<Output, Output>> replacements;
  {
    auto s = g.name_scope(scope + "_point");
    for (const auto& [var, m] : variable_momentum) replacements.emplace_back(var, var + beta * m);
  }
  CloneOptions options;
  options.scope = scope;
  options.stateful = StatefulPolicy::Copy;  // BN's moving-statistics assigns, from this pass
  options.random = RandomPolicy::SameStream;
  return clone(outputs, replacements, options).outputs;
}

}  // namespace dagrad::optim
