// Graph files: a directory holding graph.json (the nodes, attributes, variables, seed) and one
// .npy file per tensor attribute, so that numpy and jq can read them. The format is described
// in docs/graph-file-format.md.
#pragma once

#include <memory>
#include <string>

#include "graph.hpp"
#include "op_registry.hpp"

namespace dagrad {

// Version 2 added variables' trainable flags and collections, and signatures; version 1 files
// still load (every variable trainable, no collections, no signatures).
inline constexpr int kGraphFileVersion = 2;

// Writes `graph` to the directory `path`, atomically: everything is written into a temporary
// sibling directory that then replaces `path`, so a failed save leaves an existing graph file
// untouched. An existing `path` must be a graph file (a directory holding graph.json) or an
// empty directory; anything else is refused rather than deleted. Throws FileError naming the
// path (and the node, for attributes that cannot be stored).
void save_graph(const Graph& graph, const std::string& path);

// Reads a graph file (the directory, or the graph.json inside it) and rebuilds the graph
// through Graph::add_node with ops from `registry`, so every shape function runs again and a
// tampered file is caught. Node names, attributes, sites, backward tags, control inputs,
// variables (with trainable flags and collections), signatures and the seed are restored. Throws
// FileError (unreadable files, bad JSON with its byte offset, wrong format or version, missing
// fields or .npy files) or GraphError/ShapeError (unknown ops, dangling input references, rejected
// shapes), naming the file and the node. `registry` must outlive the returned graph.
std::unique_ptr<Graph> load_graph(const std::string& path, const OpRegistry& registry);

}  // namespace dagrad
