// Graphviz DOT export of a graph, and rendering to SVG or PNG by Graphviz's dot program (run in
// a child process, not libgvc in this one).
#pragma once

#include <string>

#include "graph.hpp"

namespace dagrad {

struct DotOptions {
  // When set ("dense_1" or "model/dense_1"), only the nodes inside this name scope (and a node
  // of exactly that name, such as the variable whose initializer the scope holds) are drawn;
  // nodes outside it that feed them appear as small plain-text nodes.
  std::string scope_filter;
  // When false, nodes built by autodiff (Node::backward) are left out.
  bool show_backward = true;
};

// The DOT source of the graph: name scopes become nested clusters labeled with the scope name
// (a node named like a scope, such as a variable and its initializer's scope, joins it); each
// node shows its short name and op, each data edge its dtype and shape
// ("float32 (?, 784)"), control edges are dashed. The gradient part is ranked upwards (edges
// between backward nodes are written reversed, with dir=back), so each layer's gradient sits
// beside the layer: this keeps dot's layout of large gradient graphs fast. Placeholders, variables,
// constants, state updates, compute ops and backward nodes have distinct shapes and fill colours.
// Throws GraphError when scope_filter matches no node.
std::string to_dot(const Graph& graph, const DotOptions& options = {});

// Lays out `dot_source` with Graphviz's dot layout and renders it, by running Graphviz's `dot`
// program in a child process (a Graphviz crash cannot take the caller down); format is "svg",
// "png" or "dot" (the laid-out DOT with coordinates). Returns the rendered bytes. Throws
// FileError on bad DOT, an unknown format, a failed layout, a missing `dot` program, or a
// layout still running after `timeout_seconds` (the child is killed: some graphs with second
// derivatives take dot many minutes); its message is one line (the first error line of
// Graphviz's output, cut short).
std::string render_dot(const std::string& dot_source, const std::string& format,
                       double timeout_seconds = 120.0);

// Writes to_dot(graph, options) to `path`, as DOT source for .dot/.gv, rendered for .svg/.png
// (other extensions throw FileError). Writes a temporary sibling file, then renames it over
// `path`, so readers never see a half-written file.
void write_dot_file(const Graph& graph, const std::string& path, const DotOptions& options = {});

}  // namespace dagrad
