// `dagrad gradcheck --all | --op NAME... | --graph FILE [--output NAME] [--feed NAME=FILE.npy]
// | --plugin LIB.so` (a plugin alone: the ops it adds): checks symbolic gradients against
// central finite differences (float64 unless --float32; a float32 graph is checked as its
// float64 twin) and prints one row per check: op, shapes, max abs error, max rel error,
// verdict. Exits 1 when any check fails.
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "commands.hpp"
#include "number_flags.hpp"
#include "dagrad/autodiff/gradient_check.hpp"
#include "dagrad/graph/errors.hpp"
#include "dagrad/graph/graph_file.hpp"
#include "dagrad/graph/npy.hpp"
#include "dagrad/graph/transforms.hpp"
#include "dagrad/ops/ops.hpp"

namespace dagrad::tools {

namespace {

struct GradcheckArgs {
  bool all = false;
  std::vector<std::string> ops;
  std::string graph_file;
  std::string output;
  std::vector<std::string> plugins;
  std::vector<std::string> feeds;  // NAME=FILE.npy
  bool fast = false;
  bool float32 = false;
  std::uint64_t seed = 1;
};

// The output to differentiate: the named one, else the output of the graph's "loss" signature,
// else (a graph without one) a float scalar of a compute op that is
// forward (not added by gradients()), not computed from gradients (an update step) and not a
// state update. Preferred, in order: one that no forward node consumes and that the graph
// differentiates (a loss whose gradients are in the graph); one that the graph differentiates;
// one that no node consumes (a final result); any. The last one wins a tie.
Output pick_output(Graph& graph, const std::string& name) {
  if (!name.empty()) return graph.output(name);
  // A graph that says which output is its loss is taken at its word.
  if (const Graph::Signature* loss = graph.signature("loss")) {
    for (const auto& [key, output] : loss->outputs)
      if (key == "loss") return output;
    if (loss->outputs.size() == 1) return loss->outputs[0].second;
    throw GraphError("signature 'loss' has " + std::to_string(loss->outputs.size()) +
                     " outputs and none is keyed 'loss'; name the output with --output");
  }
  auto n = static_cast<std::size_t>(graph.num_nodes());
  std::vector<char> used_forward(n, 0), used_backward(n, 0), from_gradients(n, 0);
  for (const Node& node : graph.nodes()) {
    auto id = static_cast<std::size_t>(node.id);
    from_gradients[id] = node.backward;
    for (const NodeInput& in : node.inputs) {
      auto k = static_cast<std::size_t>(in.node);
      (node.backward ? used_backward : used_forward)[k] = 1;
      if (from_gradients[k]) from_gradients[id] = 1;  // inputs are earlier nodes
    }
  }
  Output best;
  int best_rank = -1;
  for (const Node& node : graph.nodes()) {
    auto id = static_cast<std::size_t>(node.id);
    if (from_gradients[id] || node.op->role != OpRole::Compute || node.op->writes_input0 ||
        node.op->overwrites_input0)
      continue;
    for (std::size_t o = 0; o < node.output_dtypes.size(); ++o) {
      if (!is_floating(node.output_dtypes[o]) || node.output_shapes[o].rank() != 0) continue;
      int rank = used_backward[id] ? (used_forward[id] ? 2 : 3) : (used_forward[id] ? 0 : 1);
      if (rank >= best_rank) {
        best_rank = rank;
        best = graph.output_of(node.id, static_cast<int>(o));
      }
    }
  }
  if (!best.valid())
    throw GraphError(
        "the graph has no forward float scalar output to check; name one with --output");
  return best;
}

GradCheckResult check_saved_graph(const GradcheckArgs& args, const GradCheckOptions& options) {
  std::unique_ptr<Graph> graph = load_graph(args.graph_file, default_registry());
  // Finite differences need float64: a float32 model is checked as its float64 twin.
  if (options.dtype == DType::float64) graph = promote_to_float64(*graph);
  Output y = pick_output(*graph, args.output);
  if (!is_floating(y.dtype()) || y.shape().rank() != 0)
    throw GraphError("output '" + y.name() + "' is " + std::string(dtype_name(y.dtype())) + " " +
                     y.shape().to_string() + ", not a float scalar");
  Session session(*graph);
  session.initialize_variables();
  std::vector<Output> xs;
  for (const auto& v : graph->variables()) {
    Output var = graph->output_of(v.variable);
    if (is_floating(var.dtype())) xs.push_back(var);
  }
  if (xs.empty()) throw GraphError("the graph has no float variables to check the gradient against");
  // Placeholders are fed from --feed NAME=FILE.npy, else float ones get seeded random values
  // (unknown dimensions as 3).
  std::mt19937_64 rng(args.seed);
  std::normal_distribution<double> normal;
  std::vector<Feed> feeds;
  std::vector<std::string> unused;
  for (const std::string& spec : args.feeds) {
    auto eq = spec.find('=');
    if (eq == std::string::npos) throw std::invalid_argument("--feed '" + spec + "': expected NAME=FILE.npy");
    Output p = graph->output(spec.substr(0, eq));
    Tensor value = read_npy(spec.substr(eq + 1));
    // The float64 twin takes the float32 data the model was fed.
    if (p.dtype() == DType::float64) value = widen_to_float64(value);
    feeds.push_back({p, value});
  }
  auto fed = [&](int node) {
    for (const Feed& f : feeds)
      if (f.placeholder.node == node) return true;
    return false;
  };
  for (const Node& n : graph->nodes()) {
    if (n.op->role != OpRole::Placeholder || n.backward || fed(n.id)) continue;
    std::vector<std::int64_t> dims = n.output_shapes[0].dims();
    for (auto& d : dims)
      if (d == Shape::kUnknown) d = 3;
    Tensor value(n.output_dtypes[0], Shape(dims));
    if (!is_floating(value.dtype()))
      throw GraphError("placeholder '" + n.name + "' is " + std::string(dtype_name(value.dtype())) +
                       ": feed it with --feed " + n.name + "=FILE.npy (only float placeholders get random values)");
    for (std::int64_t i = 0; i < value.size(); ++i) {
      if (value.dtype() == DType::float64) value.data<double>()[i] = normal(rng);
      else value.data<float>()[i] = static_cast<float>(normal(rng));
    }
    feeds.push_back({graph->output_of(n.id), value});
  }
  GradCheckResult r = check_graph_gradients(session, y, xs, feeds, options);
  r.op = "graph";
  r.shapes = y.name() + " wrt " + std::to_string(xs.size()) + " variables";
  return r;
}

}  // namespace

void add_gradcheck_command(CLI::App& app) {
  auto args = std::make_shared<GradcheckArgs>();
  CLI::App* cmd = app.add_subcommand(
      "gradcheck", "Check symbolic gradients against central finite differences (float64)");
  cmd->add_flag("--all", args->all,
                "Check every registered op (plugins included; --plugin alone checks its ops)");
  cmd->add_option("--op", args->ops, "Check this op (repeatable)");
  cmd->add_option("--graph", args->graph_file, "Check a saved graph's scalar output against its float variables");
  cmd->add_option(
      "--output", args->output,
      "With --graph: the scalar output to check (default: the 'loss' signature's output, else a forward float scalar)");
  cmd->add_option("--feed", args->feeds, "With --graph: feed a placeholder from a .npy file, NAME=FILE.npy (repeatable)");
  cmd->add_flag("--fast", args->fast, "Compare random directional derivatives instead of the full Jacobian");
  cmd->add_flag("--float32", args->float32, "Check in float32 (unreliable: finite differences need float64)");
  cmd->add_option("--seed", args->seed, "Seed of the random inputs")->check(seed_validator());
  add_plugin_option(cmd, args->plugins);
  cmd->callback([args] {
    std::vector<std::string> plugin_ops = load_plugins(args->plugins);
    bool plugins_only = !args->all && args->ops.empty() && args->graph_file.empty();
    if (plugins_only && args->plugins.empty())
      throw std::invalid_argument(
          "nothing to check: give --all, --op NAME, --graph FILE or --plugin LIB.so");
    if (plugins_only && plugin_ops.empty())
      throw std::invalid_argument("nothing to check: the plugins added no ops");
    GradCheckOptions options;
    options.fast = args->fast;
    options.seed = args->seed;
    if (args->float32) options.dtype = DType::float32;
    std::vector<std::string> ops = args->ops;
    if (args->all)
      ops = default_registry().names();
    else if (plugins_only)
      ops = plugin_ops;  // --plugin alone: the ops it added
    std::vector<GradCheckResult> results;
    for (const std::string& op : ops) {
      auto r = check_op_gradients(default_registry(), op, options);
      results.insert(results.end(), r.begin(), r.end());
    }
    if (!args->graph_file.empty()) results.push_back(check_saved_graph(*args, options));
    std::cout << format_gradcheck_table(results);
    int failed = 0, skipped = 0, passed = 0;
    for (const auto& r : results) {
      if (r.skipped)
        ++skipped;
      else if (r.passed)
        ++passed;
      else
        ++failed;
    }
    std::cout << passed << " passed, " << failed << " failed, " << skipped << " skipped\n";
    if (failed > 0) throw std::runtime_error(std::to_string(failed) + " gradient check(s) failed");
  });
}

}  // namespace dagrad::tools
