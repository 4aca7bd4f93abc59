#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <set>

#include "dagrad/dagrad.hpp"

using namespace dagrad;
namespace fs = std::filesystem;

namespace {

const OpRegistry& dot_registry() {
  static OpRegistry* registry = [] {
    auto* r = new OpRegistry();
    register_state_ops(*r);
    register_elementwise_ops(*r);
    register_binary_ops(*r);
    return r;
  }();
  return *registry;
}

// x (?, 784) -> model/dense: relu(x * w + b), model/dense/inner: tanh -> a backward node.
std::unique_ptr<Graph> scoped_graph() {
  auto g = std::make_unique<Graph>(dot_registry());
  Output x = placeholder(*g, DType::float32, Shape{-1, 784}, "x");
  auto model = g->name_scope("model");
  Output h;
  {
    auto dense = g->name_scope("dense");
    Output w = variable(*g, Tensor(DType::float32, Shape{784}), "w");
    Output b = variable(*g, Tensor(DType::float32, Shape{784}), "b");
    h = relu(x * w + b, "act");
    auto inner = g->name_scope("inner");
    h = tanh(h, "squash");
  }
  {
    auto section = g->backward_section();
    square(h, "grad_node");
  }
  return g;
}

// The line of the DOT source that defines node `label_start` (its label begins with it).
std::string node_line(const std::string& dot, const std::string& label_start) {
  auto at = dot.find("[label=\"" + label_start);
  BOOST_TEST_REQUIRE(at != std::string::npos, "no node labeled " << label_start);
  auto begin = dot.rfind('\n', at) + 1;
  return dot.substr(begin, dot.find('\n', at) - begin);
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// An MLP of `layers` dense layers (each its own name scope, variables in their own clusters)
// with a softmax cross-entropy loss and its gradients: forward and backward parts of ordinary size.
std::unique_ptr<Graph> mlp_with_gradients(int layers) {
  auto g = std::make_unique<Graph>();
  Output x = placeholder(*g, DType::float32, Shape{-1, 8}, "x");
  Output y = placeholder(*g, DType::float32, Shape{-1, 4}, "y");
  Output h = x;
  std::vector<Output> params;
  {
    auto model = g->name_scope("model");
    for (int i = 0; i < layers; ++i) {
      auto dense = g->name_scope("dense");
      std::int64_t out = i + 1 == layers ? 4 : 8;
      Output w = variable(*g, Tensor(DType::float32, Shape{h.shape()[1], out}), "kernel");
      Output b = variable(*g, Tensor(DType::float32, Shape{out}), "bias");
      params.insert(params.end(), {w, b});
      h = matmul(h, w) + b;
      if (i + 1 < layers) h = tanh(h, "act");
    }
  }
  Output loss = neg(mean(sum(y * log_softmax(h), {1})), "loss");
  gradients(loss, params);
  return g;
}

// The SVG's tags nest and close (a minimal XML check: comments, <?...?> and <!...> skipped).
bool tags_balance(const std::string& svg, std::string& why) {
  std::vector<std::string> open;
  for (std::size_t at = svg.find('<'); at != std::string::npos; at = svg.find('<', at + 1)) {
    if (svg.compare(at, 4, "<!--") == 0) {
      at = svg.find("-->", at);
      if (at == std::string::npos) return why = "unclosed comment", false;
      continue;
    }
    auto end = svg.find('>', at);
    if (end == std::string::npos) return why = "unclosed tag at " + std::to_string(at), false;
    std::string tag = svg.substr(at + 1, end - at - 1);
    if (tag.empty() || tag[0] == '?' || tag[0] == '!') continue;
    if (tag.back() == '/') continue;  // <path ... />
    std::string name = tag.substr(tag[0] == '/' ? 1 : 0);
    name = name.substr(0, name.find_first_of(" \t\n"));
    if (tag[0] != '/') {
      open.push_back(name);
    } else {
      if (open.empty() || open.back() != name)
        return why = "</" + name + "> closes " + (open.empty() ? "nothing" : open.back()), false;
      open.pop_back();
    }
  }
  if (!open.empty()) return why = "<" + open.back() + "> is never closed", false;
  return true;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(dot)

BOOST_AUTO_TEST_CASE(name_scopes_become_nested_clusters) {
  auto g = scoped_graph();
  std::string dot = to_dot(*g);
  BOOST_TEST(dot.rfind("digraph dagrad {", 0) == 0u);
  auto model = dot.find("subgraph cluster_model {");
  auto dense = dot.find("subgraph cluster_model_dense {");
  auto inner = dot.find("subgraph cluster_model_dense_inner {");
  BOOST_TEST_REQUIRE(model != std::string::npos);
  BOOST_TEST_REQUIRE(dense != std::string::npos);
  BOOST_TEST_REQUIRE(inner != std::string::npos);
  BOOST_TEST((model < dense && dense < inner));
  BOOST_TEST(dot.find("label=\"dense\";") != std::string::npos);
  BOOST_TEST(dot.find("label=\"inner\";") != std::string::npos);
  // The tanh node sits inside the inner cluster, x at top level before any cluster.
  BOOST_TEST(dot.find("[label=\"squash\\ntanh\"") > inner);
  BOOST_TEST(dot.find("[label=\"x\\nplaceholder\"") < model);
}

BOOST_AUTO_TEST_CASE(variable_is_drawn_with_its_initializer) {
  auto g = scoped_graph();
  std::string dot = to_dot(*g);
  auto cluster = dot.find("subgraph cluster_model_dense_w {");
  BOOST_TEST_REQUIRE(cluster != std::string::npos);
  auto end = dot.find("subgraph cluster_model_dense_b {");  // the next cluster
  for (const char* label : {"[label=\"w\\nvariable\"", "[label=\"initial_value\\nconstant\"",
                            "[label=\"Assign\\nassign\""}) {
    auto at = dot.find(label);
    BOOST_TEST((at > cluster && at < end), label);
  }
  DotOptions options;
  options.scope_filter = "model/dense/w";
  dot = to_dot(*g, options);
  BOOST_TEST(dot.find("[label=\"w\\nvariable\"") != std::string::npos);
  BOOST_TEST(dot.find("[label=\"b\\nvariable\"") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(edges_show_dtype_and_shape) {
  auto g = scoped_graph();
  std::string dot = to_dot(*g);
  int x = g->find_node("x")->id;
  int mul = g->find_node("model/dense/mul")->id;
  std::string edge =
      "n" + std::to_string(x) + " -> n" + std::to_string(mul) + " [label=\"float32 (?, 784)\"];";
  BOOST_TEST(dot.find(edge) != std::string::npos, edge);
  BOOST_TEST(dot.find("[label=\"float32 (784,)\"]") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(node_kinds_are_styled_apart) {
  auto g = scoped_graph();
  std::string dot = to_dot(*g);
  std::string placeholder_line = node_line(dot, "x\\nplaceholder");
  std::string variable_line = node_line(dot, "w\\nvariable");
  std::string constant_line = node_line(dot, "initial_value\\nconstant");
  std::string assign_line = node_line(dot, "Assign\\nassign");
  std::string compute_line = node_line(dot, "act\\nrelu");
  std::string backward_line = node_line(dot, "grad_node\\nsquare");
  BOOST_TEST(placeholder_line.find("shape=invhouse") != std::string::npos);
  BOOST_TEST(variable_line.find("shape=cylinder") != std::string::npos);
  BOOST_TEST(constant_line.find("fillcolor=\"#e0e0e0\"") != std::string::npos);
  BOOST_TEST(assign_line.find("fillcolor=\"#fff3b0\"") != std::string::npos);
  BOOST_TEST(compute_line.find("fillcolor=\"#ffffff\"") != std::string::npos);
  BOOST_TEST(backward_line.find("dashed") != std::string::npos);
  BOOST_TEST(backward_line.find("fillcolor=\"#fde0dd\"") != std::string::npos);
  std::set<std::string> styles;
  for (const std::string& line :
       {placeholder_line, variable_line, constant_line, assign_line, compute_line, backward_line})
    styles.insert(line.substr(line.find("shape=")));
  BOOST_TEST(styles.size() == 6u);
}

BOOST_AUTO_TEST_CASE(labels_are_escaped) {
  Graph g(dot_registry());
  NodeOptions options;
  // Node names cannot hold control characters (Graph rejects them), but quotes, backslashes
  // and markup characters are legal and must reach Graphviz escaped.
  options.name = "say \"hi\"\\ <b>";
  Output x = g.add("placeholder", {}, {{"dtype", DType::float32}, {"shape", Shape{2}}}, options);
  neg(x);
  std::string dot = to_dot(g);
  BOOST_TEST(dot.find("[label=\"say \\\"hi\\\"\\\\ <b>\\nplaceholder\"") != std::string::npos, dot);
  BOOST_CHECK_THROW(g.add("placeholder", {}, {{"dtype", DType::float32}, {"shape", Shape{2}}},
                          NodeOptions{"two\nlines", {}}),
                    GraphError);
  // Graphviz accepts it and escapes the markup characters in SVG.
  std::string svg = render_dot(dot, "svg");
  BOOST_TEST(svg.find("say &quot;hi&quot;\\ &lt;b&gt;") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(scope_filter_keeps_one_scope) {
  auto g = scoped_graph();
  DotOptions options;
  options.scope_filter = "model/dense/inner";
  std::string dot = to_dot(*g, options);
  BOOST_TEST(dot.find("squash\\ntanh") != std::string::npos);
  BOOST_TEST(dot.find("[label=\"act\\nrelu") == std::string::npos);
  BOOST_TEST(dot.find("[label=\"x\\nplaceholder") == std::string::npos);
  // The external input appears as a small plain node with its full name.
  BOOST_TEST(
      dot.find("[label=\"model/dense/act\", tooltip=\"model/dense/act\\nrelu\", shape=plaintext") !=
          std::string::npos,
      dot);
  BOOST_TEST(dot.find("subgraph cluster_model_dense_inner {") != std::string::npos);

  options.scope_filter = "model/dense/";
  dot = to_dot(*g, options);
  BOOST_TEST(dot.find("act\\nrelu") != std::string::npos);
  BOOST_TEST(dot.find("[label=\"x\", tooltip=\"x\\nplaceholder\", shape=plaintext") !=
             std::string::npos);

  options.scope_filter = "model/den";  // a prefix of a scope name is not a scope
  BOOST_CHECK_THROW(to_dot(*g, options), GraphError);
}

BOOST_AUTO_TEST_CASE(backward_nodes_can_be_hidden) {
  auto g = scoped_graph();
  BOOST_TEST(to_dot(*g).find("grad_node") != std::string::npos);
  DotOptions options;
  options.show_backward = false;
  std::string dot = to_dot(*g, options);
  BOOST_TEST(dot.find("grad_node") == std::string::npos);
  BOOST_TEST(dot.find("squash\\ntanh") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(control_edges_are_dashed) {
  Graph g(dot_registry());
  Output x = placeholder(g, DType::float32, Shape{2}, "x");
  Output y = neg(x, "y");
  Operation done = group(g, {y}, "done");
  std::string edge =
      "n" + std::to_string(y.node) + " -> n" + std::to_string(done.node) + " [style=dashed";
  BOOST_TEST(to_dot(g).find(edge) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(renders_svg_and_png_with_graphviz) {
  auto g = scoped_graph();
  std::string svg = render_dot(to_dot(*g), "svg");
  BOOST_TEST(svg.find("<svg") != std::string::npos);
  for (const char* name :
       {">x<", ">act<", ">squash<", ">grad_node<", ">dense<", ">float32 (?, 784)<"})
    BOOST_TEST(svg.find(name) != std::string::npos, name);
  std::string png = render_dot(to_dot(*g), "png");
  BOOST_TEST(png.rfind("\x89PNG", 0) == 0u);
  BOOST_TEST(render_dot("digraph { a -> b }", "dot").find("pos=") != std::string::npos);
}

// A layout past its deadline is stopped with a one-line error that says what to do instead,
// and nothing of the child is left behind (the next render works).
BOOST_AUTO_TEST_CASE(a_layout_past_its_deadline_is_stopped) {
  auto g = mlp_with_gradients(18);
  try {
    render_dot(to_dot(*g), "svg", 0.0);
    BOOST_FAIL("expected a FileError");
  } catch (const FileError& e) {
    std::string m = e.what();
    BOOST_TEST(m.find("did not finish") != std::string::npos, m);
    BOOST_TEST(m.find("--scope") != std::string::npos, m);
    BOOST_TEST(m.find('\n') == std::string::npos);
  }
  BOOST_TEST(render_dot("digraph { a }", "svg").find("<svg") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(render_errors_are_exceptions) {
  try {
    render_dot("digraph { a -> ; }", "svg");
    BOOST_FAIL("expected std::runtime_error");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string(e.what()).find("syntax error") != std::string::npos, e.what());
  }
  BOOST_CHECK_THROW(render_dot("digraph { a }", "pdf"), std::runtime_error);
  BOOST_CHECK_THROW(render_dot("", "svg"), std::runtime_error);
  // Graphviz still works after an error.
  BOOST_TEST(render_dot("digraph { a }", "svg").find("<svg") != std::string::npos);
}

// A forward and gradient graph of a few hundred nodes in nested clusters used to fail ("trouble
// in init_rank") or take dot many minutes (edges from each activation to its gradient rule
// across the whole graph); with newrank and the gradient part ranked upwards it takes well
// under a second.
BOOST_AUTO_TEST_CASE(large_clustered_gradient_graph_renders) {
  auto g = mlp_with_gradients(18);
  BOOST_TEST_REQUIRE(g->num_nodes() >= 300);
  std::string dot = to_dot(*g);
  BOOST_TEST(dot.find("newrank=true") != std::string::npos);
  std::string svg = render_dot(dot, "svg");
  BOOST_TEST(svg.rfind("<?xml", 0) == 0u);
  BOOST_TEST(svg.find("</svg>") != std::string::npos);
  std::string why;
  BOOST_TEST(tags_balance(svg, why), why);
  // Every node and every cluster is drawn (Graphviz writes one <g class="node"> / "cluster" each).
  BOOST_TEST(count(svg, "class=\"node\"") == static_cast<std::size_t>(g->num_nodes()));
  BOOST_TEST(count(svg, "class=\"cluster\"") == count(dot, "subgraph cluster_"));
  BOOST_TEST(count(dot, "subgraph cluster_") > 50u);
  // ... each under its id with its full name as tooltip.
  int missing = 0;
  for (const Node& n : g->nodes()) {
    std::string title = "<title>n" + std::to_string(n.id) + "</title>";
    std::string tooltip = "xlink:title=\"" + n.name + "&#10;" + n.op->name + "&#10;";
    auto at = svg.find(title);
    bool drawn = at != std::string::npos &&
                 svg.compare(svg.find("xlink:title=", at), tooltip.size(), tooltip) == 0;
    if (!drawn && ++missing <= 3) BOOST_ERROR("not drawn: " << title << " " << tooltip);
  }
  BOOST_TEST(missing == 0);
}

// An edge between two backward nodes is written head to tail with dir=back (drawn the same way,
// ranked upwards); every other edge keeps its direction.
BOOST_AUTO_TEST_CASE(gradient_edges_are_ranked_upwards) {
  auto g = mlp_with_gradients(2);
  std::string dot = to_dot(*g);
  int reversed = 0, forward = 0;
  for (const Node& n : g->nodes())
    for (const NodeInput& in : n.inputs) {
      std::string ahead =
          "  n" + std::to_string(in.node) + " -> n" + std::to_string(n.id) + " [label=";
      std::string back =
          "  n" + std::to_string(n.id) + " -> n" + std::to_string(in.node) + " [dir=back, label=";
      bool both_backward = n.backward && g->node(in.node).backward;
      BOOST_TEST((dot.find(both_backward ? back : ahead) != std::string::npos), n.name);
      BOOST_TEST((dot.find(both_backward ? ahead : back) == std::string::npos), n.name);
      ++(both_backward ? reversed : forward);
    }
  BOOST_TEST(reversed > 10);
  BOOST_TEST(forward > 10);
}

// Graphviz prints one message per bad label (kilobytes for a big graph); the error is one
// short line: the first error, without the temporary file's path.
BOOST_AUTO_TEST_CASE(render_error_is_one_short_line) {
  std::string bad = "digraph {\n";
  for (int i = 0; i < 50; ++i) bad += "  n" + std::to_string(i) + " [label=<<b>x</i>>];\n";
  bad += "}\n";
  for (const std::string& source : {bad, std::string("digraph { a -> ; }")}) {
    try {
      render_dot(source, "svg");
      BOOST_FAIL("expected std::runtime_error");
    } catch (const std::runtime_error& e) {
      std::string what = e.what();
      BOOST_TEST(what.find('\n') == std::string::npos, what);
      BOOST_TEST(what.size() < 300u, what);
      BOOST_TEST(what.find("render_dot: Graphviz cannot render svg: Error") == 0u, what);
      BOOST_TEST(what.find("dagrad-render-") == std::string::npos, what);
    }
  }
  try {
    render_dot(bad, "svg");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(
        std::string(e.what()).find(
            "mismatched tag in line 1 ... x</i> ... in label of node n0 (+") != std::string::npos,
        e.what());
    BOOST_TEST(std::string(e.what()).find("more lines)") != std::string::npos, e.what());
  }
  try {
    render_dot("digraph { a -> ; }", "svg");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string(e.what()).find("<input>: syntax error in line 1") != std::string::npos,
               e.what());
  }
}

BOOST_AUTO_TEST_CASE(write_dot_file_picks_the_format_from_the_extension) {
  fs::path dir =
      fs::temp_directory_path() / ("dagrad_dot_" + std::to_string(std::random_device{}()));
  fs::create_directories(dir);
  auto g = scoped_graph();
  write_dot_file(*g, (dir / "g.dot").string());
  write_dot_file(*g, (dir / "g.SVG").string());
  write_dot_file(*g, (dir / "g.png").string());
  BOOST_TEST(read_text(dir / "g.dot") == to_dot(*g));
  BOOST_TEST(read_text(dir / "g.SVG").find("<svg") != std::string::npos);
  BOOST_TEST(read_text(dir / "g.png").rfind("\x89PNG", 0) == 0u);
  try {
    write_dot_file(*g, (dir / "g.pdf").string());
    BOOST_FAIL("expected FileError");
  } catch (const FileError& e) {
    BOOST_TEST(std::string(e.what()).find("'.pdf'") != std::string::npos);
  }
  BOOST_CHECK_THROW(write_dot_file(*g, (dir / "missing" / "g.dot").string()), FileError);
  int entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++entries;
  BOOST_TEST(entries == 3);  // no temporary files, no g.pdf
  fs::remove_all(dir);
}

// Scopes as deep as names may go (kMaxNameDepth parts): one nested cluster per level, written by
// a loop (the recursive walk overflowed the stack on deep names under ASan) and in memory linear
// in the names (each cluster held its full path: 20,000 levels took 8.4 GB).
BOOST_AUTO_TEST_CASE(deepest_scopes_nest_one_cluster_per_level) {
  Graph g(dot_registry());
  std::string scope = "s";
  for (int i = 1; i < kMaxNameDepth - 1; ++i) scope += "/s";  // 63 parts: the node makes 64
  Output x = placeholder(g, DType::float32, Shape{2}, "x");
  Output y;
  Output z;
  {
    auto guard = g.absolute_scope(scope);
    y = neg(x, "deep");
  }
  {
    auto guard = g.absolute_scope("s/s/t");  // a sibling branch under the shared prefix
    z = neg(y, "side");
  }
  const std::string dot = to_dot(g);
  // 63 clusters on the deep path, plus "s/s/t".
  BOOST_TEST(count(dot, "subgraph cluster_") == 64u);
  BOOST_TEST(count(dot, "subgraph cluster_s {") == 1u);
  BOOST_TEST(count(dot, "subgraph cluster_s_s_t {") == 1u);
  // Opening and closing braces balance, and the deep node sits inside all 63 clusters: its line
  // is indented by 2 spaces per level plus the graph's 2.
  BOOST_TEST(count(dot, "{") == count(dot, "}"));
  const std::string line = node_line(dot, "deep");
  BOOST_TEST(line.find_first_not_of(' ') == 2u + 2u * 63u, line);
  BOOST_TEST(node_line(dot, "side").find_first_not_of(' ') == 2u + 2u * 3u);
  // The deepest cluster's tooltip is its full path; its label the last part.
  BOOST_TEST(dot.find("tooltip=\"" + scope + "\";") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
