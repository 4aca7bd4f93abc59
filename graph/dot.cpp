// DOT export, and rendering with Graphviz's dot program in a child process.
#include "dagrad/graph/dot.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "dagrad/graph/errors.hpp"

extern char** environ;

namespace dagrad {

namespace {

// The body of a DOT double-quoted string. Inside quotes '<' and '>' are literal (only <...>
// delimiters make an HTML label, and we draw no record shapes), and Graphviz escapes them in
// SVG output itself; but a backslash starts an escape (\n, \l, \N ...) and must be doubled.
std::string escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        break;
      default:
        out += (static_cast<unsigned char>(c) < 0x20) ? ' ' : c;
    }
  }
  return out;
}
std::string dot_string(std::string_view s) {
  std::string out = "\"";
  out += escape(s);
  out += '"';
  return out;
}

std::string short_name(const std::string& name) {
  auto slash = name.rfind('/');
  return slash == std::string::npos ? name : name.substr(slash + 1);
}

std::string node_style(const Node& n) {
  if (n.backward)
    return "shape=box, style=\"rounded,filled,dashed\", fillcolor=\"#fde0dd\", color=\"#c51b8a\"";
  switch (n.op->role) {
    case OpRole::Placeholder:
      return "shape=invhouse, style=filled, fillcolor=\"#c6dbef\"";
    case OpRole::Variable:
      return "shape=cylinder, style=filled, fillcolor=\"#fdd0a2\"";
    case OpRole::Constant:
      return "shape=box, style=filled, fillcolor=\"#e0e0e0\"";
    case OpRole::Compute:
      break;
  }
  if (n.op->writes_input0 || n.op->overwrites_input0)
    return "shape=box, style=\"rounded,filled\", fillcolor=\"#fff3b0\"";
  return "shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\"";
}

std::string output_label(const Node& producer, int index) {
  std::string s =
      std::string(dtype_name(producer.output_dtypes.at(static_cast<std::size_t>(index)))) + " " +
      producer.output_shapes.at(static_cast<std::size_t>(index)).to_string();
  return index == 0 ? s : std::to_string(index) + ": " + s;
}

// Name scopes as a tree; each node sits in the cluster of its innermost scope. Clusters live in
// one vector and refer to each other by index, and every walk over the tree is a loop with an
// explicit stack: no recursion over the scope depth (a deep name overflowed the stack), and no
// per-cluster copy of the full path (deep names made that quadratic in memory).
struct Cluster {
  std::string name;  // the last part of the path: "dense_1"
  int parent = -1;
  std::vector<int> nodes;
  std::vector<int> children;  // in order of first appearance
  std::map<std::string, int, std::less<>> child_index;
};

class ClusterTree {
 public:
  ClusterTree() : clusters_(1) {}  // the root: top-level nodes
  static constexpr int kRoot = 0;

  // The cluster of `path` ("a/b"; "" is the root), created when `create`; -1 when absent.
  int find(std::string_view path, bool create) {
    int c = kRoot;
    for (std::size_t start = 0; !path.empty() && start <= path.size();) {
      auto slash = path.find('/', start);
      if (slash == std::string_view::npos) slash = path.size();
      std::string_view part = path.substr(start, slash - start);
      start = slash + 1;
      auto& index = clusters_[static_cast<std::size_t>(c)].child_index;
      if (auto it = index.find(part); it != index.end()) {
        c = it->second;
        continue;
      }
      if (!create) return -1;
      const int added = static_cast<int>(clusters_.size());
      index.emplace(std::string(part), added);
      clusters_[static_cast<std::size_t>(c)].children.push_back(added);
      Cluster child;
      child.name = std::string(part);
      child.parent = c;
      clusters_.push_back(std::move(child));
      c = added;
    }
    return c;
  }
  Cluster& operator[](int c) { return clusters_[static_cast<std::size_t>(c)]; }

 private:
  std::vector<Cluster> clusters_;
};

class DotWriter {
 public:
  DotWriter(const Graph& g, std::ostringstream& os) : g_(g), os_(os) {}

  void node(int id, const std::string& indent) {
    const Node& n = g_.node(id);
    std::string tooltip = n.name + "\n" + n.op->name;
    for (std::size_t i = 0; i < n.output_dtypes.size(); ++i)
      tooltip.append("\n").append(output_label(n, static_cast<int>(i)));
    tooltip += "\ncreated at " + n.site.to_string();
    os_ << indent << "n" << id << " [label=" << dot_string(short_name(n.name) + "\n" + n.op->name)
        << ", tooltip=" << dot_string(tooltip) << ", " << node_style(n) << "];\n";
  }

  // The root's nodes, then each cluster with its nodes and, nested, its children, depth first.
  void write(ClusterTree& tree) {
    for (int id : tree[ClusterTree::kRoot].nodes) node(id, "  ");
    struct Frame {
      int cluster;
      std::size_t next_child;
    };
    std::vector<Frame> stack{{ClusterTree::kRoot, 0}};
    std::string path, indent = "  ";  // of the cluster on top of the stack
    while (!stack.empty()) {
      Frame& top = stack.back();
      Cluster& c = tree[top.cluster];
      if (top.next_child == c.children.size()) {  // done: close it
        stack.pop_back();
        if (stack.empty()) break;
        indent.resize(indent.size() - 2);
        os_ << indent << "}\n";
        auto slash = path.rfind('/');
        path.resize(slash == std::string::npos ? 0 : slash);
        continue;
      }
      const int child = c.children[top.next_child++];
      const Cluster& open = tree[child];
      path += path.empty() ? open.name : "/" + open.name;
      std::string id = "cluster_";
      for (char ch : path) id += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
      // "a/b" and "a_b" sanitize alike; the suffix keeps cluster ids distinct.
      std::string unique = id;
      for (int k = 2; !cluster_ids_.insert(unique).second; ++k)
        unique = id + "_" + std::to_string(k);
      os_ << indent << "subgraph " << unique << " {\n"
          << indent << "  label=" << dot_string(open.name) << ";\n"
          << indent << "  tooltip=" << dot_string(path) << ";\n"
          << indent << "  style=\"rounded\"; color=\"#9e9e9e\"; fontcolor=\"#616161\";\n";
      indent += "  ";
      for (int id_ : open.nodes) node(id_, indent);
      stack.push_back({child, 0});
    }
  }

 private:
  const Graph& g_;
  std::ostringstream& os_;
  std::set<std::string> cluster_ids_;
};

}  // namespace

std::string to_dot(const Graph& graph, const DotOptions& options) {
  std::string filter = options.scope_filter;
  while (!filter.empty() && filter.back() == '/') filter.pop_back();
  const std::string prefix = filter + "/";

  std::vector<bool> shown(static_cast<std::size_t>(graph.num_nodes()), false);
  bool any = false;
  for (const Node& n : graph.nodes()) {
    bool keep =
        (options.show_backward || !n.backward) &&
        (filter.empty() || n.name.compare(0, prefix.size(), prefix) == 0 || n.name == filter);
    shown[static_cast<std::size_t>(n.id)] = keep;
    any = any || keep;
  }
  if (!filter.empty() && !any)
    throw GraphError("to_dot: no node in name scope '" + filter + "'" +
                     (options.show_backward ? "" : " outside the backward part"));

  ClusterTree tree;
  for (const Node& n : graph.nodes())
    if (shown[static_cast<std::size_t>(n.id)]) tree.find(n.scope(), true);
  // A variable's initializer is built in a scope named after the variable; drawing the
  // variable inside that cluster keeps the pair together.
  for (const Node& n : graph.nodes()) {
    if (!shown[static_cast<std::size_t>(n.id)]) continue;
    int own = tree.find(n.name, false);
    tree[own >= 0 ? own : tree.find(n.scope(), false)].nodes.push_back(n.id);
  }

  std::ostringstream os;
  os << "digraph dagrad {\n"
     // newrank: ranks the whole graph at once, ignoring clusters, which old dot's per-cluster
     // ranking cannot do on some clustered graphs ("trouble in init_rank"); it is also
     // 20x faster on large gradient graphs.
     << "  graph [newrank=true, rankdir=TB, fontname=\"Helvetica\", fontsize=11];\n"
     << "  node [fontname=\"Helvetica\", fontsize=10];\n"
     << "  edge [fontname=\"Helvetica\", fontsize=8, color=\"#616161\"];\n";
  DotWriter(graph, os).write(tree);

  // Inputs from nodes that are not drawn (outside the filter, or hidden backward nodes).
  std::set<int> external;
  for (const Node& n : graph.nodes()) {
    if (!shown[static_cast<std::size_t>(n.id)]) continue;
    for (const NodeInput& in : n.inputs)
      if (!shown[static_cast<std::size_t>(in.node)]) external.insert(in.node);
    for (int c : n.control_inputs)
      if (!shown[static_cast<std::size_t>(c)]) external.insert(c);
  }
  for (int id : external)
    os << "  n" << id << " [label=" << dot_string(graph.node(id).name)
       << ", tooltip=" << dot_string(graph.node(id).name + "\n" + graph.node(id).op->name)
       << ", shape=plaintext, fontsize=8, fontcolor=\"#757575\"];\n";

  // An edge between two backward nodes is written head to tail with dir=back: drawn the same,
  // it ranks the gradient part upwards, so the gradient of each layer sits beside the layer
  // instead of below the whole forward part. Otherwise every activation a gradient rule reads
  // becomes an edge across the whole graph, and dot's layout of a few hundred nodes takes
  // minutes (its x-coordinate network simplex over tens of thousands of virtual nodes).
  // Known limit: a graph with second derivatives (gradients of gradients, ~800 nodes) still
  // takes dot many minutes, since its two gradient parts cannot both sit beside the forward one.
  auto edge = [&](int from, int to, const std::string& attrs, const char* arrow) {
    if (graph.node(from).backward && graph.node(to).backward)
      os << "  n" << to << " -> n" << from << " [dir=back, " << attrs
         << (*arrow ? ", arrowtail=" : "") << arrow << "];\n";
    else
      os << "  n" << from << " -> n" << to << " [" << attrs << (*arrow ? ", arrowhead=" : "")
         << arrow << "];\n";
  };
  for (const Node& n : graph.nodes()) {
    if (!shown[static_cast<std::size_t>(n.id)]) continue;
    for (const NodeInput& in : n.inputs)
      edge(in.node, n.id, "label=" + dot_string(output_label(graph.node(in.node), in.index)), "");
    for (int c : n.control_inputs) edge(c, n.id, "style=dashed", "odot");
  }
  os << "}\n";
  return os.str();
}

namespace {

// One line of Graphviz's messages for an error text: the first "Error" message (else the first
// line) with its continuation lines, without the temporary input's path, cut to 200 characters. A
// failed layout can print kilobytes (one line per node), which would bury the error in a log.
std::string first_message(const std::string& messages, const std::string& input_path) {
  std::vector<std::string> lines;
  std::istringstream in(messages);
  for (std::string line; std::getline(in, line);) {
    for (auto at = line.find(input_path); at != std::string::npos; at = line.find(input_path))
      line.replace(at, input_path.size(), "<input>");
    std::replace_if(
        line.begin(), line.end(), [](unsigned char c) { return std::iscntrl(c); }, ' ');
    while (!line.empty() && line.back() == ' ') line.pop_back();
    if (!line.empty()) lines.push_back(line);
  }
  if (lines.empty()) return "no message from Graphviz";
  auto starts_message = [](const std::string& l) {
    return l.rfind("Error", 0) == 0 || l.rfind("Warning", 0) == 0;
  };
  auto first = std::find_if(lines.begin(), lines.end(),
                            [](const std::string& l) { return l.rfind("Error", 0) == 0; });
  if (first == lines.end()) first = lines.begin();
  // The message continues on the lines up to the next "Error"/"Warning" ("in label of node n0").
  std::string line = *first;
  auto next = first + 1;
  for (; next != lines.end() && !starts_message(*next); ++next) line += " " + *next;
  constexpr std::size_t kMax = 200;
  if (line.size() > kMax) line = line.substr(0, kMax - 3) + "...";
  if (std::size_t rest = lines.size() - static_cast<std::size_t>(next - first); rest > 0)
    line += " (+" + std::to_string(rest) + " more lines)";
  return line;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

}  // namespace

// Renders with Graphviz's `dot` program in a child process rather than libgvc in this one:
// Graphviz 2.42 (Debian 12) frees a layout twice for some clustered graphs
// (gvFreeLayout -> dot_layout plugin: "double free detected"), which would kill the caller;
// a crash of the child is reported as an error instead.
std::string render_dot(const std::string& dot_source, const std::string& format,
                       double timeout_seconds) {
  namespace fs = std::filesystem;
  if (format != "svg" && format != "png" && format != "dot")
    throw FileError("render_dot: unknown format '" + format + "' (expected svg, png or dot)");
  std::random_device rd;
  fs::path dir = fs::temp_directory_path() /
                 ("dagrad-render-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
  fs::create_directories(dir);
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{dir};
  fs::path input = dir / "graph.dot", output = dir / ("graph." + format), errors = dir / "stderr";
  {
    std::ofstream out(input, std::ios::binary);
    out << dot_source;
    if (!out) throw FileError("render_dot: cannot write " + input.string());
  }
  std::string type = "-T" + format, out_arg = "-o" + output.string(), in_arg = input.string();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, errors.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  char* argv[] = {const_cast<char*>("dot"), type.data(), out_arg.data(), in_arg.data(), nullptr};
  pid_t pid = 0;
  int spawned = posix_spawnp(&pid, "dot", &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0)
    throw FileError("render_dot: cannot run Graphviz's dot program (" +
                    std::string(std::strerror(spawned)) +
                    "); install the graphviz package (scripts/install-deps.sh)");
  int status = 0;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
  for (;;) {
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) {
      int err = errno;
      ::kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      throw FileError("render_dot: waitpid failed: " + std::string(std::strerror(err)));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      std::ostringstream os;
      os << "render_dot: Graphviz's dot did not finish the " << format << " layout within "
         << timeout_seconds
         << " s and was stopped; draw a part of the graph (dagrad dot --scope NAME, --no-backward, "
            "DotOptions) or write .dot and render it yourself";
      throw FileError(os.str());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::string messages = read_file(errors);
  if (WIFSIGNALED(status))
    throw FileError("render_dot: Graphviz's dot crashed (signal " +
                    std::to_string(WTERMSIG(status)) +
                    "): " + first_message(messages, input.string()));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !fs::exists(output))
    throw FileError("render_dot: Graphviz cannot render " + format + ": " +
                    first_message(messages, input.string()));
  return read_file(output);
}

void write_dot_file(const Graph& graph, const std::string& path, const DotOptions& options) {
  namespace fs = std::filesystem;
  fs::path target(path);
  std::string ext = target.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  std::string bytes;
  if (ext == ".dot" || ext == ".gv") {
    bytes = to_dot(graph, options);
  } else if (ext == ".svg" || ext == ".png") {
    bytes = render_dot(to_dot(graph, options), ext.substr(1));
  } else {
    throw FileError("cannot write '" + path + "': unknown extension '" + ext +
                    "' (expected .dot, .gv, .svg or .png)");
  }

  std::random_device rd;
  fs::path temp = target;
  std::string temp_name = ".";
  temp_name += target.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" +
               std::to_string(rd() % 1000000000u);
  temp.replace_filename(temp_name);
  std::error_code ec;
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) throw FileError("cannot write '" + path + "': " + std::strerror(errno));
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) {
      fs::remove(temp, ec);
      throw FileError("cannot write '" + path + "': write failed (disk full?)");
    }
  }
  fs::rename(temp, target, ec);
  if (ec) {
    std::string why = ec.message();
    fs::remove(temp, ec);
    throw FileError("cannot write '" + path + "': " + why);
  }
}

}  // namespace dagrad
