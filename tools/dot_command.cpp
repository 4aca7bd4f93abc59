// `dagrad dot GRAPH_FILE -o OUT.dot|OUT.svg|OUT.png [--scope NAME_SCOPE] [--no-backward]`:
// draws a saved graph with Graphviz.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "dagrad/graph/dot.hpp"
#include "dagrad/graph/graph_file.hpp"
#include "dagrad/ops/ops.hpp"

namespace dagrad::tools {

namespace {
struct DotArgs {
  std::string graph_file;
  std::string output;
  std::string scope;
  bool no_backward = false;
  std::vector<std::string> plugins;
};
}  // namespace

void add_dot_command(CLI::App& app) {
  auto args = std::make_shared<DotArgs>();
  CLI::App* cmd = app.add_subcommand(
      "dot", "Draw a saved graph as DOT, SVG or PNG (format from -o's extension)");
  cmd->add_option("graph_file", args->graph_file, "Graph file (its directory or its graph.json)")
      ->required();
  cmd->add_option("-o,--output", args->output, "Output file: .dot, .gv, .svg or .png")->required();
  cmd->add_option("--scope", args->scope,
                  "Draw only the nodes inside this name scope (e.g. dense_1)");
  cmd->add_flag("--no-backward", args->no_backward, "Leave out the gradient (backward) nodes");
  add_plugin_option(cmd, args->plugins);
  cmd->callback([args] {
    load_plugins(args->plugins);
    std::unique_ptr<Graph> graph = load_graph(args->graph_file, default_registry());
    DotOptions options;
    options.scope_filter = args->scope;
    options.show_backward = !args->no_backward;
    write_dot_file(*graph, args->output, options);
    std::cout << "wrote " << args->output << " (graph of " << graph->num_nodes() << " nodes)\n";
  });
}

}  // namespace dagrad::tools
