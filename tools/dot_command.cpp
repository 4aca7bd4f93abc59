// `dagrad dot GRAPH_FILE -o OUT.dot|OUT.svg|OUT.png [--scope NAME_SCOPE] [--no-backward]
// [--optimized] [--passes] [--skip-pass NAME] [--enable-pass NAME]`: draws a saved graph with Graphviz, or what the
// graph passes make of one of its plans.
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "dagrad/graph/dot.hpp"
#include "dagrad/graph/graph_file.hpp"
#include "dagrad/graph/session.hpp"
#include "dagrad/nn/nn.hpp"
#include "dagrad/ops/ops.hpp"
#include "dagrad/optim/optim.hpp"

namespace dagrad::tools {

namespace {
struct DotArgs {
  std::string graph_file;
  std::string output;
  std::string scope;
  bool no_backward = false;
  std::vector<std::string> plugins;
  std::string preset;
  std::string part = "train";
  bool optimized = false;
  bool passes = false;
  std::vector<std::string> skipped;
  std::vector<std::string> enabled;
  std::string signature;
};

// The request a graph file's plan is compiled for: a signature's outputs, fed its inputs.
Plan& compile_signature(Session& session, Graph& graph, const std::string& wanted) {
  const Graph::Signature* sig = nullptr;
  std::string name = wanted;
  if (name.empty()) {
    if (graph.signatures().empty())
      throw GraphError(
          "dot --optimized: the graph file has no signature to compile (a request "
          "needs outputs to fetch)");
    name = graph.signature("serving") ? "serving" : graph.signatures().begin()->first;
  }
  sig = graph.signature(name);
  if (!sig) {
    std::string known;
    for (const auto& [k, v] : graph.signatures()) known += (known.empty() ? "" : ", ") + k;
    throw GraphError("dot --optimized: the graph file has no signature '" + name +
                     "' (it has: " + (known.empty() ? "none" : known) + ")");
  }
  std::vector<Output> fetches, feeds;
  for (const auto& [key, out] : sig->outputs) fetches.push_back(out);
  for (const auto& [key, in] : sig->inputs) feeds.push_back(in);
  return session.compile(fetches, {}, feeds);
}

void print_passes(const Plan& plan, std::ostream& out) {
  out << "graph passes (" << plan.pass_reports().size() << " run):\n";
  for (const PassReport& r : plan.pass_reports()) {
    out << "  " << r.pass << ": " << r.nodes_before << " -> " << r.nodes_after << " nodes, "
        << r.changes << (r.changes == 1 ? " change" : " changes") << "\n";
    std::size_t shown = 0;
    for (const std::string& line : r.details) {
      if (++shown > 12) {
        out << "      ... and " << (r.changes - 12) << " more\n";
        break;
      }
      out << "      " << line << "\n";
    }
  }
  std::string opt_in;
  for (const Pass& p : default_pipeline())
    if (!p.on_by_default) opt_in += (opt_in.empty() ? "" : ", ") + p.name;
  if (!opt_in.empty()) out << "opt-in passes (--enable-pass NAME): " << opt_in << "\n";
  out << "plan: " << plan.plan_graph().num_live() << " nodes, " << plan.schedule().size()
      << " scheduled\n";
}
}  // namespace

void add_dot_command(CLI::App& app) {
  auto args = std::make_shared<DotArgs>();
  CLI::App* cmd = app.add_subcommand(
      "dot", "Draw a saved graph as DOT, SVG or PNG (format from -o's extension)");
  cmd->add_option(
      "graph_file", args->graph_file,
      "Graph file (its directory or its graph.json), or a model file (its inference.dagrad)");
  cmd->add_option("--model", args->preset,
                  "Draw a preset model (compiled with Nesterov momentum) instead of a file");
  cmd->add_option("--graph", args->part,
                  "With a model: inference (its predict graph) or train (everything: "
                  "training graph, gradients, lookahead, updates)")
      ->check(CLI::IsMember({"inference", "train"}));
  cmd->add_option("-o,--output", args->output, "Output file: .dot, .gv, .svg or .png")->required();
  cmd->add_option("--scope", args->scope,
                  "Draw only the nodes inside this name scope (e.g. dense_1)");
  cmd->add_flag("--no-backward", args->no_backward, "Leave out the gradient (backward) nodes");
  cmd->add_flag("--optimized", args->optimized,
                "Draw the plan the executor runs after the graph passes: a model's training step "
                "(--graph train) or predict (--graph inference), or a graph file's signature");
  cmd->add_flag("--passes", args->passes,
                "Print the graph pass table and what each pass changed in that plan");
  cmd->add_option("--skip-pass", args->skipped, "Switch a graph pass off by name (repeatable)");
  cmd->add_option("--enable-pass", args->enabled,
                  "Switch an opt-in graph pass on by name (repeatable; see --passes)");
  cmd->add_option("--signature", args->signature,
                  "With --optimized and a graph file: the signature to compile (default serving)");
  add_plugin_option(cmd, args->plugins);
  cmd->callback([args] {
    load_plugins(args->plugins);
    if (args->graph_file.empty() == args->preset.empty())
      throw GraphError("dot: give a graph or model file, or --model NAME (one of them)");
    std::unique_ptr<Graph> loaded;
    std::unique_ptr<nn::Model> model;
    std::string model_scope;
    const Graph* graph = nullptr;
    if (!args->preset.empty()) {
      model = nn::make_preset(args->preset);
      model->compile(optim::SGD({.learning_rate = 0.01, .momentum = 0.9, .nesterov = true}),
                     "sparse_categorical_crossentropy", {"accuracy"});
      graph = &model->graph();
      model_scope = model->name();
    } else {
      std::filesystem::path p(args->graph_file);
      // A model file: its inference.dagrad holds the model's whole graph.
      if (std::filesystem::exists(p / "model.json")) p /= "inference.dagrad";
      loaded = load_graph(p.string(), default_registry());
      graph = loaded.get();
      // The "serving" signature's output is "<model>/predict/...": the model's scope.
      if (const Graph::Signature* serving = graph->signature("serving");
          serving && !serving->outputs.empty()) {
        std::string output = serving->outputs[0].second.name();
        if (auto at = output.find("/predict/"); at != std::string::npos)
          model_scope = output.substr(0, at);
      }
    }
    std::unique_ptr<Graph> plan_graph;
    std::unique_ptr<Session> file_session;
    if (args->optimized || args->passes) {
      OptimizerOptions optimizer;
      optimizer.disabled = args->skipped;
      optimizer.enabled = args->enabled;
      Plan* plan = nullptr;
      if (model) {
        model->session().set_optimizer_options(optimizer);
        plan = args->part == "train" ? &model->training_plan() : &model->prediction_plan();
      } else {
        file_session = std::make_unique<Session>(*loaded);
        file_session->set_optimizer_options(optimizer);
        plan = &compile_signature(*file_session, *loaded, args->signature);
      }
      if (args->passes) print_passes(*plan, std::cout);
      if (args->optimized) {
        plan_graph = plan->plan_graph().to_graph();
        graph = plan_graph.get();
        model_scope.clear();  // the plan holds only what the request needs
      }
    } else if (!args->skipped.empty() || !args->enabled.empty() || !args->signature.empty()) {
      throw GraphError(
          "dot: --skip-pass, --enable-pass and --signature apply to --optimized or --passes");
    }
    DotOptions options;
    options.scope_filter = args->scope;
    if (args->scope.empty() && !model_scope.empty() && args->part == "inference")
      options.scope_filter = model_scope + "/predict";
    options.show_backward = !args->no_backward;
    write_dot_file(*graph, args->output, options);
    std::cout << "wrote " << args->output << " (graph of " << graph->num_nodes() << " nodes)\n";
  });
}

}  // namespace dagrad::tools
