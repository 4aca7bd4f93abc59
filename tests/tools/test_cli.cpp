// Runs the real `dagrad` binary (DAGRAD_CLI) through the shell.
#include <sys/wait.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "dagrad/dagrad.hpp"

using namespace dagrad;
namespace fs = std::filesystem;

namespace {

struct CliFixture {
  fs::path dir;
  fs::path graph_file;
  CliFixture() {
    dir = fs::temp_directory_path() / ("dagrad_cli_" + std::to_string(std::random_device{}()));
    fs::create_directories(dir);
    Graph g;  // the default registry, as the program uses
    Output x = placeholder(g, DType::float32, Shape{-1, 3}, "x");
    auto scope = g.name_scope("layer1");
    Output w = variable(g, Tensor::from_vector<float>({3}, {1, 2, 3}), "w");
    relu(x * w, "act");
    graph_file = dir / "net.dagrad";
    save_graph(g, graph_file.string());
  }
  ~CliFixture() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  // Runs `dagrad ARGS` with stdout and stderr captured; returns the exit status.
  int run(const std::string& args) {
    std::string command = std::string("'") + DAGRAD_CLI + "' " + args + " >'" +
                          (dir / "stdout").string() + "' 2>'" + (dir / "stderr").string() + "'";
    int status = std::system(command.c_str());
    BOOST_TEST_REQUIRE(WIFEXITED(status));
    return WEXITSTATUS(status);
  }
  std::string read(const std::string& name) const {
    std::ifstream in(dir / name, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  std::string quoted(const fs::path& p) const { return "'" + p.string() + "'"; }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(cli, CliFixture)

BOOST_AUTO_TEST_CASE(dot_writes_dot_source) {
  BOOST_TEST(run("dot " + quoted(graph_file) + " -o " + quoted(dir / "g.dot")) == 0,
             read("stderr"));
  std::string dot = read("g.dot");
  BOOST_TEST(dot.rfind("digraph dagrad {", 0) == 0u);
  BOOST_TEST(dot.find("subgraph cluster_layer1 {") != std::string::npos);
  BOOST_TEST(dot.find("act\\nrelu") != std::string::npos);
  BOOST_TEST(read("stderr").empty());
}

BOOST_AUTO_TEST_CASE(dot_renders_svg_from_the_json_path) {
  BOOST_TEST(run("dot " + quoted(graph_file / "graph.json") + " -o " + quoted(dir / "g.svg")) == 0,
             read("stderr"));
  std::string svg = read("g.svg");
  BOOST_TEST(svg.find("<svg") != std::string::npos);
  BOOST_TEST(svg.find(">act<") != std::string::npos);
  BOOST_TEST(svg.find(">float32 (?, 3)<") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(dot_scope_filter) {
  BOOST_TEST(
      run("dot " + quoted(graph_file) + " -o " + quoted(dir / "s.dot") + " --scope layer1") == 0);
  std::string dot = read("s.dot");
  BOOST_TEST(dot.find("act\\nrelu") != std::string::npos);
  BOOST_TEST(dot.find("[label=\"x\\nplaceholder") == std::string::npos);
  BOOST_TEST(
      run("dot " + quoted(graph_file) + " -o " + quoted(dir / "t.dot") + " --scope nowhere") != 0);
  BOOST_TEST(read("stderr").find("nowhere") != std::string::npos);
  BOOST_TEST(!fs::exists(dir / "t.dot"));
}

BOOST_AUTO_TEST_CASE(bad_graph_path_fails_with_one_line) {
  fs::path missing = dir / "no_such.dagrad";
  BOOST_TEST(run("dot " + quoted(missing) + " -o " + quoted(dir / "x.svg")) != 0);
  std::string err = read("stderr");
  BOOST_TEST(err.rfind("dagrad: error: ", 0) == 0u, err);
  BOOST_TEST(err.find(missing.string()) != std::string::npos, err);
  BOOST_TEST(err.find('\n') == err.size() - 1, "one line: " << err);
  BOOST_TEST(!fs::exists(dir / "x.svg"));
}

BOOST_AUTO_TEST_CASE(unknown_output_extension_fails) {
  BOOST_TEST(run("dot " + quoted(graph_file) + " -o " + quoted(dir / "g.pdf")) != 0);
  BOOST_TEST(read("stderr").find("'.pdf'") != std::string::npos, read("stderr"));
}

BOOST_AUTO_TEST_CASE(missing_arguments_are_usage_errors) {
  BOOST_TEST(run("dot " + quoted(graph_file)) != 0);
  std::string err = read("stderr");
  BOOST_TEST(err.rfind("dagrad: error: ", 0) == 0u, err);
  BOOST_TEST(err.find("--output") != std::string::npos, err);
  BOOST_TEST(err.find('\n') == err.size() - 1, "one line: " << err);
  BOOST_TEST(run("") != 0);
  BOOST_TEST(run("frobnicate") != 0);
}

BOOST_AUTO_TEST_CASE(help_works) {
  BOOST_TEST(run("--help") == 0);
  BOOST_TEST(read("stdout").find("dot") != std::string::npos);
  BOOST_TEST(read("stdout").find("ops") != std::string::npos);
  BOOST_TEST(run("dot --help") == 0);
  BOOST_TEST(read("stdout").find("--scope") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(ops_lists_the_registry) {
  BOOST_TEST(run("ops") == 0, read("stderr"));
  std::string out = read("stdout");
  BOOST_TEST(out.find("placeholder(dtype: dtype, shape: shape) -> y") != std::string::npos, out);
  BOOST_TEST(out.find("leaky_relu(x; alpha: float = 0.2) -> y") != std::string::npos);
  BOOST_TEST(out.find("add(a, b) -> y") != std::string::npos);
  BOOST_TEST(out.find("    a value fed at run time") != std::string::npos);
  BOOST_TEST(run("ops relu") == 0);
  BOOST_TEST(read("stdout").rfind("relu(x) -> y", 0) == 0u);
  BOOST_TEST(run("ops no_such_op") != 0);
  BOOST_TEST(read("stderr").find("no_such_op") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
