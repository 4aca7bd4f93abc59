// `dagrad dot --optimized --passes --skip-pass --signature`: what the graph passes make of a
// graph file's signature, drawn and listed, through the real binary.
#include <boost/test/unit_test.hpp>
#include <filesystem>

#include "dagrad/dagrad.hpp"
#include "fixtures.hpp"

using namespace dagrad;
namespace fs = std::filesystem;

namespace {

struct OptimizedDotFixture : test::CliRun {
  fs::path graph_file;
  OptimizedDotFixture() : CliRun("dot_optimized") {
    Graph g;
    Output x = placeholder(g, DType::float32, Shape{-1, 3}, "x");
    Output w = variable(g, Tensor::from_vector<float>({3}, {1, 2, 3}), "w");
    Output two = add(scalar(g, 1.0), scalar(g, 1.0), "two");  // folds to a constant
    Output y = tanh(mul(elu(mul(x, w, "scale"), 1.0, "act"), two, "double"), "y");
    g.set_signature("serving", {{{"x", x}}, {{"y", y}}});
    graph_file = dir / "net.dagrad";
    save_graph(g, graph_file.string());
  }
  bool has(const std::string& text, const std::string& part) const {
    return text.find(part) != std::string::npos;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(dot_optimized, OptimizedDotFixture)

BOOST_AUTO_TEST_CASE(draws_the_plan_and_lists_the_passes) {
  BOOST_TEST(
      run("dot " + quoted(graph_file) + " --optimized --passes -o " + quoted(dir / "o.dot")) == 0,
      read("stderr"));
  std::string out = read("stdout");
  for (const char* pass : {"prune", "constant_folding", "algebraic_simplification", "cse",
                           "batchnorm_folding", "softmax_cross_entropy", "elementwise_fusion",
                           "gemm_epilogue"})
    BOOST_TEST(has(out, pass), pass);
  BOOST_TEST(has(out, "folded 'two' (add)"));
  BOOST_TEST(has(out, "fused 4 nodes into 'y/fused' (mul, elu, mul, tanh"));
  std::string dot = read("o.dot");
  BOOST_TEST(has(dot, "fused_elementwise"));
  BOOST_TEST(!has(dot, "act\\nelu"));  // the elu node is inside the fused one
}

BOOST_AUTO_TEST_CASE(an_opt_in_pass_runs_only_when_enabled) {
  BOOST_TEST(run("dot " + quoted(graph_file) + " --passes -o " + quoted(dir / "d.dot")) == 0,
             read("stderr"));
  std::string out = read("stdout");
  BOOST_TEST(!has(out, "gemm_epilogue:"));  // no report: it did not run
  BOOST_TEST(has(out, "opt-in passes (--enable-pass NAME): gemm_epilogue"));
  BOOST_TEST(run("dot " + quoted(graph_file) + " --passes --enable-pass gemm_epilogue -o " +
                 quoted(dir / "e.dot")) == 0,
             read("stderr"));
  BOOST_TEST(has(read("stdout"), "gemm_epilogue:"));
}

// The presets: BatchNormalization folds into the Dense layers of the bn and bn-before
// predictions (3 and 2 BatchNormalization layers beside a Dense: 6 and 3 rewrites), and the
// training step's loss becomes one softmax_cross_entropy node.
BOOST_AUTO_TEST_CASE(the_model_passes_fire_on_the_presets) {
  BOOST_TEST(run("dot --model bn --graph inference --optimized --passes -o " +
                 quoted(dir / "bn.dot")) == 0,
             read("stderr"));
  BOOST_TEST(has(read("stdout"),
                 "nodes, 6 changes\n      'sequential/predict/dense/matmul' "
                 "(matmul): folded 2 per-feature op(s) on its input"),
             read("stdout"));
  BOOST_TEST(run("dot --model bn-before --graph inference --optimized --passes -o " +
                 quoted(dir / "bnb.dot")) == 0,
             read("stderr"));
  BOOST_TEST(has(read("stdout"), "folded 3 per-feature op(s) on its output"), read("stdout"));
  BOOST_TEST(run("dot --model plain --graph train --optimized --passes -o " +
                 quoted(dir / "plain.dot")) == 0,
             read("stderr"));
  BOOST_TEST(has(read("stdout"), "is one softmax_cross_entropy node, its gradient chain too"),
             read("stdout"));
  BOOST_TEST(has(read("plain.dot"), "softmax_cross_entropy"));
}

BOOST_AUTO_TEST_CASE(a_skipped_pass_leaves_its_nodes) {
  BOOST_TEST(run("dot " + quoted(graph_file) + " --optimized --skip-pass elementwise_fusion -o " +
                 quoted(dir / "u.dot")) == 0,
             read("stderr"));
  std::string dot = read("u.dot");
  BOOST_TEST(!has(dot, "fused_elementwise"));
  BOOST_TEST(has(dot, "act\\nelu"));
}

BOOST_AUTO_TEST_CASE(bad_pass_and_signature_names_are_errors) {
  BOOST_TEST(run("dot " + quoted(graph_file) + " --optimized --skip-pass fusion -o " +
                 quoted(dir / "a.dot")) != 0);
  BOOST_TEST(has(read("stderr"), "no graph pass is named 'fusion'"));
  BOOST_TEST(has(read("stderr"), "elementwise_fusion"));
  BOOST_TEST(run("dot " + quoted(graph_file) + " --optimized --signature train -o " +
                 quoted(dir / "b.dot")) != 0);
  BOOST_TEST(has(read("stderr"), "no signature 'train' (it has: serving)"));
  BOOST_TEST(run("dot " + quoted(graph_file) + " --skip-pass cse -o " + quoted(dir / "c.dot")) !=
             0);
  BOOST_TEST(has(read("stderr"), "apply to --optimized or --passes"));
  BOOST_TEST(!fs::exists(dir / "a.dot"));
}

BOOST_AUTO_TEST_SUITE_END()
