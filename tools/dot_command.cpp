// `dagrad dot GRAPH_FILE -o OUT.dot|OUT.svg|OUT.png [--scope NAME_SCOPE] [--no-backward]`:
// draws a saved graph with Graphviz.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "dagrad/graph/dot.hpp"
#include "dagrad/graph/graph_file.hpp"
#include "dagrad/nn/nn.hpp"
#include "dagrad/ops/ops.hpp"
#include "dagrad/optim/optim.hpp"

#include <filesystem>

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
};
}  // namespace

void add_dot_command(CLI::App& app) {
  auto args = std::make_shared<DotArgs>();
  CLI::App* cmd = app.add_subcommand(
      "dot", "Draw a saved graph as DOT, SVG or PNG (format from -o's extension)");
  cmd->add_option("graph_file", args->graph_file,
                  "Graph file (its directory or its graph.json), or a model file (its inference.dagrad)");
  cmd->add_option("--model", args->preset, "Draw a preset model (compiled with Nesterov momentum) instead of a file");
  cmd->add_option("--graph", args->part, "With a model: inference (its predict graph) or train (everything: "
                                         "training graph, gradients, lookahead, updates)")
      ->check(CLI::IsMember({"inference", "train"}));
  cmd->add_option("-o,--output", args->output, "Output file: .dot, .gv, .svg or .png")->required();
  cmd->add_option("--scope", args->scope,
                  "Draw only the nodes inside this name scope (e.g. dense_1)");
  cmd->add_flag("--no-backward", args->no_backward, "Leave out the gradient (backward) nodes");
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
      if (const Graph::Signature* serving = graph->signature("serving"); serving && !serving->outputs.empty()) {
        std::string output = serving->outputs[0].second.name();
        if (auto at = output.find("/predict/"); at != std::string::npos) model_scope = output.substr(0, at);
      }
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
