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

std::vector<Output> allreduce_gradients(const std::vector<Output>& gradients,
                                        const GradientAllreduce& options) {
  if (options.bucket_bytes <= 0)
    throw OptimizerError("allreduce_gradients: bucket_bytes must be > 0, got " +
                         std::to_string(options.bucket_bytes));
  std::vector<Output> g = gradients;
  Graph* graph = nullptr;
  for (const Output& x : g)
    if (x.valid()) graph = x.graph;
  if (!graph) return g;
  if (options.weight.valid()) {
    const Output& w = options.weight;
    for (const Output& x : g)
      if (x.valid() && (w.shape().rank() != 0 || w.dtype() != x.dtype()))
        throw OptimizerError("allreduce_gradients: the weight '" + w.name() + "' is " +
                             std::string(dtype_name(w.dtype())) + " " + w.shape().to_string() +
                             "; it must be a scalar of the gradients' dtype (" +
                             std::string(dtype_name(x.dtype())) + ")");
  }
  auto scope = graph->name_scope("allreduce_gradients");
  auto reduce = [&](Output x) {
    if (options.weight.valid()) x = x * options.weight;
    return allreduce(x, distributed::Reduction::Mean, "allreduce");
  };
  // One bucket: the flattened gradients concatenated, reduced once, then cut back into shapes.
  std::vector<std::size_t> bucket;
  std::int64_t bucket_size = 0;
  auto flush = [&] {
    if (bucket.empty()) return;
    if (bucket.size() == 1) {
      g[bucket[0]] = reduce(g[bucket[0]]);
    } else {
      std::vector<Output> flat;
      for (std::size_t i : bucket) flat.push_back(reshape(g[i], {-1}));
      Output reduced = reduce(concat(flat, 0, "bucket"));
      std::int64_t offset = 0;
      for (std::size_t i : bucket) {
        const Shape shape = g[i].shape();
        const std::int64_t n = shape.num_elements();
        g[i] = reshape(slice(reduced, {offset}, {n}), shape.dims());
        offset += n;
      }
    }
    bucket.clear();
    bucket_size = 0;
  };
  for (std::size_t i = 0; i < g.size(); ++i) {
    if (!g[i].valid()) continue;
    if (!g[i].shape().is_fully_defined())
      throw OptimizerError("allreduce_gradients: gradient '" + g[i].name() + "' has shape " +
                           g[i].shape().to_string() + "; every rank's gradient needs a known shape");
    const std::int64_t bytes =
        g[i].shape().num_elements() * static_cast<std::int64_t>(dtype_size(g[i].dtype()));
    if (bytes >= options.bucket_bytes) {
      g[i] = reduce(g[i]);  // large: alone, in place in the order
      continue;
    }
    if (bucket_size + bytes > options.bucket_bytes) flush();
    bucket.push_back(i);
    bucket_size += bytes;
  }
  flush();
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
