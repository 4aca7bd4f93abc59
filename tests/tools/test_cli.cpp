// Runs the real `dagrad` binary (DAGRAD_CLI) through the shell.
#include <sys/wait.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "dagrad/dagrad.hpp"
#include "fixtures.hpp"

using namespace dagrad;
namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}
void write_file(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
}

struct CliFixture : test::CliRun {
  fs::path graph_file;
  CliFixture() : CliRun("cli") {
    Graph g;  // the default registry, as the program uses
    Output x = placeholder(g, DType::float32, Shape{-1, 3}, "x");
    auto scope = g.name_scope("layer1");
    Output w = variable(g, Tensor::from_vector<float>({3}, {1, 2, 3}), "w");
    relu(x * w, "act");
    graph_file = dir / "net.dagrad";
    save_graph(g, graph_file.string());
  }
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
}

BOOST_AUTO_TEST_CASE(an_unknown_command_is_named_with_the_list_of_commands) {
  BOOST_TEST(run("frobnicate --out x") != 0);
  std::string err = read("stderr");
  BOOST_TEST(err.rfind("dagrad: error: unknown command 'frobnicate' (commands: dot, ops, ", 0) == 0u,
             err);
  BOOST_TEST(err.find("train") != std::string::npos, err);
  BOOST_TEST(err.find("lr-find") != std::string::npos, err);
  BOOST_TEST(err.find('\n') == err.size() - 1, "one line: " << err);
  BOOST_TEST(read("stdout").empty());
  BOOST_TEST(run("gradcheck " + quoted(graph_file) + " --seed -1") != 0);
  BOOST_TEST(read("stderr").find("--seed: '-1' is not a seed") != std::string::npos,
             read("stderr"));
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

BOOST_FIXTURE_TEST_SUITE(gradcheck_cli, CliFixture)

BOOST_AUTO_TEST_CASE(all_ops_pass_in_float64) {
  BOOST_TEST(run("gradcheck --all") == 0, read("stdout") + read("stderr"));
  std::string out = read("stdout");
  BOOST_TEST(out.find("max abs err") != std::string::npos);
  BOOST_TEST(out.find("matmul") != std::string::npos);
  BOOST_TEST(out.find("FAIL") == std::string::npos);
  BOOST_TEST(out.find(" 0 failed") != std::string::npos);
  BOOST_TEST(out.find("greater") != std::string::npos);  // listed as skipped, with its reason
}

BOOST_AUTO_TEST_CASE(some_ops_in_fast_mode) {
  BOOST_TEST(run("gradcheck --op softmax --op matmul --fast") == 0, read("stderr"));
  std::string out = read("stdout");
  BOOST_TEST(out.find("softmax") != std::string::npos);
  BOOST_TEST(out.find("relu") == std::string::npos);
}

#ifdef DAGRAD_PLUGIN_EXAMPLE
// --plugin without --op or --all checks the ops the plugin added (two samples each).
BOOST_AUTO_TEST_CASE(plugin_alone_checks_its_ops) {
  BOOST_TEST(run(std::string("gradcheck --plugin '") + DAGRAD_PLUGIN_EXAMPLE + "'") == 0,
             read("stdout") + read("stderr"));
  std::string out = read("stdout");
  BOOST_TEST(out.find("swish") != std::string::npos, out);
  BOOST_TEST(out.find("huber") != std::string::npos, out);
  BOOST_TEST(out.find("relu") == std::string::npos, out);
  BOOST_TEST(out.find("4 passed, 0 failed, 0 skipped") != std::string::npos, out);
}

// The same library named twice (even through another spelling of its path) loads once.
BOOST_AUTO_TEST_CASE(duplicate_plugin_is_loaded_once) {
  fs::path plugin = DAGRAD_PLUGIN_EXAMPLE;
  fs::path other_spelling = plugin.parent_path() / "." / plugin.filename();
  BOOST_TEST(run("gradcheck --plugin " + quoted(plugin) + " --plugin " + quoted(plugin) +
                 " --plugin " + quoted(other_spelling) + " --op swish") == 0,
             read("stdout") + read("stderr"));
  std::string err = read("stderr");
  BOOST_TEST(err.find("already registered") == std::string::npos, err);
  BOOST_TEST(err.find("loaded 2 op(s)") != std::string::npos, err);
  BOOST_TEST(read("stdout").find("2 passed, 0 failed") != std::string::npos, read("stdout"));
}

BOOST_AUTO_TEST_CASE(plugin_ops_are_loaded_and_checked) {
  BOOST_TEST(run(std::string("gradcheck --plugin '") + DAGRAD_PLUGIN_EXAMPLE +
                 "' --op swish --op huber") == 0,
             read("stdout") + read("stderr"));
  std::string out = read("stdout");
  BOOST_TEST(out.find("swish") != std::string::npos);
  BOOST_TEST(out.find("huber") != std::string::npos);
  BOOST_TEST(out.find("4 passed, 0 failed") != std::string::npos);
  BOOST_TEST(read("stderr").find("loaded 2 op(s)") != std::string::npos);
}
#endif

BOOST_AUTO_TEST_CASE(saved_graph_loss_against_its_variables) {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{-1, 3}, "x");
  Output w = variable(g, Tensor::from_vector<double>({3, 2}, {0.5, -1, 0.25, 2, -0.75, 1}), "w");
  Output b = variable(g, Tensor::from_vector<double>({2}, {0.1, -0.2}), "b");
  Output loss = mean(square(tanh(matmul(x, w) + b)), {}, false, "loss");
  (void)loss;
  fs::path file = dir / "loss.dagrad";
  save_graph(g, file.string());
  BOOST_TEST(run("gradcheck --graph " + quoted(file)) == 0, read("stdout") + read("stderr"));
  BOOST_TEST(read("stdout").find("loss wrt 2 variables") != std::string::npos);
  BOOST_TEST(read("stdout").find("1 passed, 0 failed") != std::string::npos);
}

// A "loss" signature says which output is the loss: the check takes it, even where the heuristic
// would pick another scalar (here "penalty", consumed by nothing and created last).
BOOST_AUTO_TEST_CASE(loss_signature_names_the_checked_output) {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{-1, 3}, "x");
  Output w = variable(g, Tensor::from_vector<double>({3}, {0.5, -1, 0.25}), "w");
  Output data_loss = mean(square(tanh(x * w)), {}, false, "data_loss");
  sum(square(w), {}, false, "penalty");
  g.set_signature("loss", {{{"x", x}}, {{"loss", data_loss}}});
  fs::path file = dir / "signed.dagrad";
  save_graph(g, file.string());
  BOOST_TEST(run("gradcheck --graph " + quoted(file)) == 0, read("stdout") + read("stderr"));
  BOOST_TEST(read("stdout").find("data_loss wrt 1 variables") != std::string::npos, read("stdout"));
  BOOST_TEST(run("gradcheck --graph " + quoted(file) + " --output penalty") == 0);
  BOOST_TEST(read("stdout").find("penalty wrt 1 variables") != std::string::npos, read("stdout"));
}

BOOST_AUTO_TEST_CASE(float32_graph_with_integer_feed) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 2}, "x");
  Output labels = placeholder(g, DType::int64, Shape{-1}, "labels");
  Output w = variable(g, Tensor::from_vector<float>({2, 3}, {0.5f, -1, 0.25f, 2, -0.75f, 1}), "w");
  Output picked = sum(one_hot(labels, 3) * log_softmax(matmul(x, w)), {1});
  neg(mean(picked), "loss");
  fs::path file = dir / "clf.dagrad";
  save_graph(g, file.string());
  write_npy((dir / "x.npy").string(), Tensor::from_vector<float>({3, 2}, {1, 2, -1, 0.5f, 0, 3}));
  write_npy((dir / "labels.npy").string(), Tensor::from_vector<std::int64_t>({3}, {0, 2, 1}));
  // Without the labels the integer placeholder cannot be made up.
  BOOST_TEST(run("gradcheck --graph " + quoted(file)) != 0);
  BOOST_TEST(read("stderr").find("--feed labels=FILE.npy") != std::string::npos);
  BOOST_TEST(run("gradcheck --graph " + quoted(file) + " --feed x=" + quoted(dir / "x.npy") +
                 " --feed labels=" + quoted(dir / "labels.npy")) == 0,
             read("stdout") + read("stderr"));
  BOOST_TEST(read("stdout").find("loss wrt 1 variables") != std::string::npos);
}

// A training graph like examples/train_gd: the loss, an accuracy nobody differentiates, the
// gradients of the loss and plain gradient-descent updates. Without --output the check must pick
// the loss, not a gradient node (or the accuracy, whose gradients are all zero).
BOOST_AUTO_TEST_CASE(default_output_of_a_training_graph_is_its_loss) {
  Graph g;
  g.set_seed(3);
  Output x = placeholder(g, DType::float32, Shape{-1, 2}, "x");
  Output labels = placeholder(g, DType::int64, Shape{-1}, "labels");
  Output hidden, logits;
  {
    auto scope = g.name_scope("dense_1");
    Output kernel =
        variable(random_uniform(g, Shape{2, 4}, -1, 1, DType::float32, 1, "init"), "kernel");
    Output bias = variable(g, Tensor::from_vector<float>({4}, {0.1f, -0.2f, 0.3f, 0.05f}), "bias");
    hidden = tanh(matmul(x, kernel) + bias);
  }
  {
    auto scope = g.name_scope("dense_2");
    Output kernel =
        variable(random_uniform(g, Shape{4, 3}, -1, 1, DType::float32, 2, "init"), "kernel");
    logits = matmul(hidden, kernel);
  }
  Output loss, accuracy;
  {
    auto scope = g.name_scope("loss");
    loss = neg(mean(sum(one_hot(labels, 3) * log_softmax(logits), {1})), "cross_entropy");
    accuracy = mean(cast(equal(argmax(logits, 1), labels), DType::float32), {}, false, "accuracy");
  }
  std::vector<Output> params;
  for (const auto& v : g.variables()) params.push_back(g.output_of(v.variable));
  std::vector<Output> grads = gradients(loss, params);
  {
    auto scope = g.name_scope("sgd");
    Output learning_rate = scalar(g, 0.5, DType::float32, "learning_rate");
    std::vector<Operation> updates;
    for (std::size_t i = 0; i < params.size(); ++i)
      updates.push_back(assign_sub(params[i], learning_rate * grads[i]));
    group(g, updates, "train");
  }
  (void)accuracy;
  fs::path file = dir / "train.dagrad";
  save_graph(g, file.string());
  write_npy((dir / "x.npy").string(),
            Tensor::from_vector<float>({4, 2}, {0.5f, -1, 1, 0.25f, -0.75f, 0, 0.1f, 0.9f}));
  write_npy((dir / "labels.npy").string(), Tensor::from_vector<std::int64_t>({4}, {0, 2, 1, 2}));
  BOOST_TEST(run("gradcheck --graph " + quoted(file) + " --feed x=" + quoted(dir / "x.npy") +
                 " --feed labels=" + quoted(dir / "labels.npy")) == 0,
             read("stdout") + read("stderr"));
  BOOST_TEST(read("stdout").find("loss/cross_entropy wrt 3 variables") != std::string::npos,
             read("stdout"));
  BOOST_TEST(read("stdout").find("1 passed, 0 failed") != std::string::npos, read("stdout"));
}

BOOST_AUTO_TEST_CASE(bad_requests_fail_with_one_line) {
  BOOST_TEST(run("gradcheck") != 0);
  BOOST_TEST(read("stderr").find("nothing to check") != std::string::npos);
  BOOST_TEST(run("gradcheck --op no_such_op") != 0);
  BOOST_TEST(read("stderr").find("no_such_op") != std::string::npos);
  BOOST_TEST(run("gradcheck --op relu --plugin /nonexistent/lib.so") != 0);
  BOOST_TEST(read("stderr").find("/nonexistent/lib.so") != std::string::npos);
}

// Broken graph and model files end with one line "dagrad: error: ..." naming the file and a
// non-zero status, from every command that loads them.
BOOST_AUTO_TEST_CASE(broken_files_fail_with_one_line) {
  fs::path json = graph_file / "graph.json";
  std::string text = read_file(json);
  auto expect_one_line = [&](const std::string& args, const std::vector<std::string>& parts) {
    BOOST_TEST_CONTEXT(args) {
      BOOST_TEST(run(args) != 0);
      std::string err = read("stderr");
      BOOST_TEST(err.rfind("dagrad: error: ", 0) == 0u, err);
      BOOST_TEST(err.find('\n') == err.size() - 1, "one line: " << err);
      for (const std::string& part : parts) BOOST_TEST(err.find(part) != std::string::npos, err);
    }
  };
  auto graph_commands = [&](const std::vector<std::string>& parts) {
    expect_one_line("gradcheck --graph " + quoted(graph_file), parts);
    expect_one_line("dot " + quoted(graph_file) + " -o " + quoted(dir / "g.dot"), parts);
    BOOST_TEST(!fs::exists(dir / "g.dot"));
  };
  write_file(json, text.substr(0, text.size() / 2));
  graph_commands({json.string(), "invalid JSON at byte " + std::to_string(text.size() / 2 + 1)});
  write_file(json, "{\"format\": \"dagrad-graph\", \"version\": 2, \"seed\": 1e309}");
  graph_commands({json.string(), "invalid JSON at byte", "1e309"});
  write_file(json, std::string(100000, '['));
  graph_commands({json.string(), "nested deeper than 64 levels"});
  std::string edited = text;
  edited.replace(edited.find("\"version\": 2"), 12, "\"version\": 9");
  write_file(json, edited);
  graph_commands({json.string(), "unsupported version 9"});
  edited = text;
  edited.replace(edited.find("\"dagrad-graph\""), 14, "\"dagrad-model\"");
  write_file(json, edited);
  graph_commands({json.string(), "field 'format'"});
  edited = text;
  edited.replace(edited.find("\"op\":\"relu\""), 11, "\"op\":\"relu9\"");
  write_file(json, edited);
  graph_commands({json.string(), "unknown op 'relu9'"});

  auto model = nn::make_preset("plain");
  fs::path model_dir = dir / "m";
  nn::save_model(*model, model_dir.string());
  fs::path index = model_dir / "model.json";
  std::string model_text = read_file(index);
  write_file(index, model_text.substr(0, model_text.size() / 3));
  expect_one_line("summary " + quoted(model_dir), {model_dir.string(), "invalid JSON at byte"});
  write_file(index, "{\"format\": \"dagrad-model\", \"version\": 1e309}");
  expect_one_line("summary " + quoted(model_dir), {model_dir.string(), "1e309"});
  write_file(index, "{\"format\": \"dagrad-graph\"}");
  expect_one_line("summary " + quoted(model_dir), {model_dir.string(), "not a dagrad model file"});
  write_file(index, "{\"format\": \"dagrad-model\", \"version\": 99}");
  expect_one_line("summary " + quoted(model_dir), {model_dir.string(), "version 99"});
}

// A plugin path that is not a shared library.
BOOST_AUTO_TEST_CASE(a_plugin_that_is_not_a_library_fails_with_one_line) {
  fs::path notes = dir / "notes.so";
  write_file(notes, "not a library\n");
  BOOST_TEST(run("gradcheck --op relu --plugin " + quoted(notes)) != 0);
  std::string err = read("stderr");
  BOOST_TEST(err.rfind("dagrad: error: cannot load plugin", 0) == 0u, err);
  BOOST_TEST(err.find(notes.string()) != std::string::npos, err);
  BOOST_TEST(err.find('\n') == err.size() - 1, "one line: " << err);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(summary_cli, CliFixture)

BOOST_AUTO_TEST_CASE(preset_tables_print_the_books_totals) {
  BOOST_TEST(run("summary --model bn") == 0, read("stderr"));
  std::string out = read("stdout");
  BOOST_TEST(out.find("Total params: 271,346\n") != std::string::npos, out);
  BOOST_TEST(out.find("Trainable params: 268,978\n") != std::string::npos, out);
  BOOST_TEST(out.find("Non-trainable params: 2,368\n") != std::string::npos, out);
  BOOST_TEST(run("summary --model plain") == 0);
  BOOST_TEST(read("stdout").find("Total params: 266,610\n") != std::string::npos);
  // selu: the Normalization's 2 x 784 statistics, then 784-300 and 100-unit layers: 1,568 +
  // 235,500 + 30,100 + 10,100 + 1,010 with 3 hidden layers.
  BOOST_TEST(run("summary --model selu --hidden-layers 3") == 0);
  BOOST_TEST(read("stdout").find("Total params: 278,278\n") != std::string::npos, read("stdout"));
  BOOST_TEST(read("stdout").find("Non-trainable params: 1,568\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_saved_model_file) {
  auto model = nn::make_preset("dropout");
  nn::save_model(*model, (dir / "m").string());
  BOOST_TEST(run("summary " + quoted(dir / "m")) == 0, read("stderr"));
  BOOST_TEST(read("stdout").find("dropout_2 (Dropout)") != std::string::npos, read("stdout"));
}

BOOST_AUTO_TEST_CASE(bad_requests_fail_with_one_line) {
  BOOST_TEST(run("summary --model resnet") != 0);
  BOOST_TEST(
      read("stderr").find("presets: plain, bn, bn-before, selu, dropout") != std::string::npos,
      read("stderr"));
  BOOST_TEST(run("summary") != 0);
  BOOST_TEST(run("summary " + quoted(dir / "missing")) != 0);
  BOOST_TEST(read("stderr").find("missing") != std::string::npos);
  BOOST_TEST(run("summary --model bn " + quoted(dir / "m")) != 0);  // one or the other
}

BOOST_AUTO_TEST_SUITE_END()
