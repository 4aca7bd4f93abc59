#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <random>

#include "common/dir_snapshot.hpp"
#include "dagrad/dagrad.hpp"

using namespace dagrad;
namespace fs = std::filesystem;

namespace {

// A scratch directory removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    path =
        fs::temp_directory_path() / ("dagrad_graph_file_" + std::to_string(std::random_device{}()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}
void write_text(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << s;
}
// Replaces the first occurrence of `from` in graph.json.
void edit_json(const fs::path& dir, const std::string& from, const std::string& to) {
  std::string text = read_text(dir / "graph.json");
  auto at = text.find(from);
  BOOST_TEST_REQUIRE(at != std::string::npos, "graph.json has no '" << from << "'");
  text.replace(at, from.size(), to);
  write_text(dir / "graph.json", text);
}

// Replaces the first occurrence of `from` after `anchor` in graph.json (to edit one node's line).
void edit_json_after(const fs::path& dir, const std::string& anchor, const std::string& from,
                     const std::string& to) {
  std::string text = read_text(dir / "graph.json");
  auto at = text.find(from, text.find(anchor));
  BOOST_TEST_REQUIRE(text.find(anchor) != std::string::npos,
                     "graph.json has no '" << anchor << "'");
  BOOST_TEST_REQUIRE(at != std::string::npos,
                     "graph.json has no '" << from << "' after " << anchor);
  text.replace(at, from.size(), to);
  write_text(dir / "graph.json", text);
}

void copy_float(KernelContext& c) {
  std::memcpy(c.output(0).raw(), c.input(0).raw(), c.input(0).nbytes());
}

// A fresh registry: the state, elementwise and binary families plus "tagged", an identity op
// with one attribute of every kind.
const OpRegistry& test_registry() {
  static OpRegistry* registry = [] {
    auto* r = new OpRegistry();
    register_state_ops(*r);
    register_elementwise_ops(*r);
    register_binary_ops(*r);
    OpRecord op;
    op.name = "tagged";
    op.input_names = {"x"};
    op.attrs = {{"flag", AttrKind::Bool, false},
                {"count", AttrKind::Int, std::int64_t{3}},
                {"scale", AttrKind::Float, {}},
                {"label", AttrKind::String, std::string("plain")},
                {"out_dtype", AttrKind::DType, DType::float32},
                {"target", AttrKind::Shape, Shape{-1, 2}},
                {"axes", AttrKind::Ints, std::vector<std::int64_t>{}},
                {"table", AttrKind::Tensor, {}}};
    op.shape_fn = [](ShapeContext& ctx) {
      ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(0));
    };
    op.kernels[static_cast<std::size_t>(DType::float32)] = &copy_float;
    op.not_differentiable_reason = "test op";
    r->add(std::move(op));
    return r;
  }();
  return *registry;
}

// x (?, 3) -> layer1: relu(x * w + b) -> head: leaky_relu(h - 1) ; a backward node; a group.
std::unique_ptr<Graph> small_network() {
  auto g = std::make_unique<Graph>(test_registry());
  g->set_seed(1234);
  Output x = placeholder(*g, DType::float32, Shape{-1, 3}, "x");
  Output h;
  {
    auto scope = g->name_scope("layer1");
    Output w = variable(*g, Tensor::from_vector<float>({3}, {0.5f, -1.f, 2.f}), "w");
    Output b = variable(*g, Tensor::from_vector<float>({3}, {0.1f, 0.2f, 0.3f}), "b");
    h = relu(x * w + b);
  }
  Output y;
  {
    auto scope = g->name_scope("head");
    y = leaky_relu(h - 1.0, 0.1, "out");
  }
  {
    auto section = g->backward_section();
    square(y, "grad_like");
  }
  Operation done = group(*g, {y}, "done");
  {
    auto after = g->control_dependencies({done});  // a control input without outputs
    identity(y, "after_done");
  }
  return g;
}

const Tensor kBatch = Tensor::from_vector<float>({2, 3}, {1, 2, 3, -4, 5, 0.5f});

std::vector<float> run_network(Graph& g) {
  Session s(g);
  s.initialize_variables();
  return s.run(g.output("head/out"), {{g.output("x"), kBatch}}).to_vector<float>();
}

bool same_attr(const AttrValue& a, const AttrValue& b) {
  if (attr_kind_of(a) != attr_kind_of(b)) return false;
  if (attr_kind_of(a) != AttrKind::Tensor) return attr_to_string(a) == attr_to_string(b);
  const Tensor& x = std::get<Tensor>(a);
  const Tensor& y = std::get<Tensor>(b);
  if (!x.defined() || !y.defined()) return x.defined() == y.defined();
  return x.dtype() == y.dtype() && x.shape() == y.shape() &&
         std::memcmp(x.raw(), y.raw(), x.nbytes()) == 0;
}

void expect_same_graph(const Graph& a, const Graph& b) {
  BOOST_TEST_REQUIRE(a.num_nodes() == b.num_nodes());
  BOOST_TEST(a.seed() == b.seed());
  for (int i = 0; i < a.num_nodes(); ++i) {
    const Node& x = a.node(i);
    const Node& y = b.node(i);
    BOOST_TEST_CONTEXT("node " << x.name) {
      BOOST_TEST(x.name == y.name);
      BOOST_TEST(x.op->name == y.op->name);
      BOOST_TEST_REQUIRE(x.inputs.size() == y.inputs.size());
      for (std::size_t k = 0; k < x.inputs.size(); ++k) {
        BOOST_TEST(x.inputs[k].node == y.inputs[k].node);
        BOOST_TEST(x.inputs[k].index == y.inputs[k].index);
      }
      BOOST_TEST(x.control_inputs == y.control_inputs, boost::test_tools::per_element());
      BOOST_TEST_REQUIRE(x.attrs.items().size() == y.attrs.items().size());
      for (std::size_t k = 0; k < x.attrs.items().size(); ++k) {
        BOOST_TEST(x.attrs.items()[k].first == y.attrs.items()[k].first);
        BOOST_TEST(same_attr(x.attrs.items()[k].second, y.attrs.items()[k].second),
                   x.attrs.items()[k].first << ": " << attr_to_string(x.attrs.items()[k].second)
                                            << " vs " << attr_to_string(y.attrs.items()[k].second));
      }
      BOOST_TEST(x.output_shapes == y.output_shapes);
      BOOST_TEST(x.site.to_string() == y.site.to_string());
      BOOST_TEST(x.backward == y.backward);
    }
  }
  BOOST_TEST_REQUIRE(a.variables().size() == b.variables().size());
  for (std::size_t k = 0; k < a.variables().size(); ++k) {
    BOOST_TEST(a.variables()[k].variable == b.variables()[k].variable);
    BOOST_TEST(a.variables()[k].initializer == b.variables()[k].initializer);
  }
}

// Runs `load` and checks it throws E whose message contains every fragment.
template <class E>
void expect_load_error(const fs::path& path, std::vector<std::string> fragments) {
  try {
    load_graph(path.string(), test_registry());
    BOOST_FAIL("expected an error containing '" << fragments.front() << "'");
  } catch (const E& e) {
    std::string message = e.what();
    BOOST_TEST_INFO("message: " << message);
    for (const auto& f : fragments)
      BOOST_TEST(message.find(f) != std::string::npos, "missing '" << f << "'");
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(graph_file)

BOOST_AUTO_TEST_CASE(round_trip_preserves_structure) {
  TempDir dir;
  auto g = small_network();
  save_graph(*g, (dir.path / "net.dagrad").string());
  auto loaded = load_graph((dir.path / "net.dagrad").string(), test_registry());
  expect_same_graph(*g, *loaded);
  BOOST_TEST(loaded->find_node("grad_like")->backward);
  BOOST_TEST(loaded->find_node("done")->control_inputs.size() == 1u);
  BOOST_TEST(loaded->find_node("after_done")->control_inputs ==
             std::vector<int>{loaded->find_node("done")->id});
  BOOST_TEST(loaded->find_node("head/out")->site.file.find("test_graph_file.cpp") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(loaded_graph_runs_to_the_same_values) {
  TempDir dir;
  auto g = small_network();
  std::vector<float> expected = run_network(*g);
  save_graph(*g, (dir.path / "net.dagrad").string());
  auto loaded = load_graph((dir.path / "net.dagrad").string(), test_registry());
  std::vector<float> got = run_network(*loaded);
  BOOST_TEST(got == expected, boost::test_tools::per_element());
  // relu(x*w+b) - 1 then leaky_relu(0.1), computed by hand for the first row.
  BOOST_TEST(expected[0] == -0.1f * (1.0f - 0.6f), boost::test_tools::tolerance(1e-6f));
}

BOOST_AUTO_TEST_CASE(every_attribute_kind_round_trips) {
  TempDir dir;
  Graph g(test_registry());
  Output x = placeholder(g, DType::float32, Shape{-1, 2}, "x");
  auto table = Tensor::from_vector<std::int64_t>(
      {2, 2}, {1, -2, std::numeric_limits<std::int64_t>::min(), 4});
  for (double scale : {0.1, std::nan(""), -std::numeric_limits<double>::infinity(), 1e308}) {
    g.add("tagged", {x},
          {{"flag", true},
           {"count", std::int64_t{-9}},
           {"scale", scale},
           {"label", std::string("q\"u\\o\nté")},
           {"out_dtype", DType::boolean},
           {"target", Shape{}},
           {"axes", std::vector<std::int64_t>{0, -1}},
           {"table", table}});
  }
  g.add("tagged", {x}, {{"scale", 2.0}, {"table", Tensor()}});  // defaults and an undefined tensor
  save_graph(g, (dir.path / "attrs").string());
  auto loaded = load_graph((dir.path / "attrs").string(), test_registry());
  expect_same_graph(g, *loaded);
  BOOST_TEST(std::isnan(loaded->find_node("tagged_1")->attrs.get_float("scale")));
}

BOOST_AUTO_TEST_CASE(files_are_plain_json_and_npy) {
  TempDir dir;
  auto g = small_network();
  fs::path path = dir.path / "net.dagrad";
  save_graph(*g, path.string());
  std::string json = read_text(path / "graph.json");
  BOOST_TEST(json.find("\"format\": \"dagrad-graph\"") != std::string::npos);
  BOOST_TEST(json.find("\"version\": 2") != std::string::npos);
  BOOST_TEST(json.find("\"name\":\"layer1/w\"") != std::string::npos);
  int npy_files = 0;
  for (const auto& entry : fs::directory_iterator(path)) {
    if (entry.path().extension() != ".npy") continue;
    ++npy_files;
    BOOST_TEST(json.find("\"" + entry.path().filename().string() + "\"") != std::string::npos);
    BOOST_TEST(read_npy(entry.path().string()).defined());
  }
  int tensor_attrs = 0;
  for (const Node& n : g->nodes())
    for (const auto& [name, value] : n.attrs.items())
      tensor_attrs += attr_kind_of(value) == AttrKind::Tensor;
  BOOST_TEST(npy_files == tensor_attrs);
  BOOST_TEST(npy_files >= 3);  // w and b initial values, the scalar constants
}

BOOST_AUTO_TEST_CASE(load_accepts_the_directory_or_its_json) {
  TempDir dir;
  auto g = small_network();
  save_graph(*g, (dir.path / "net.dagrad/").string());
  BOOST_TEST(load_graph((dir.path / "net.dagrad").string(), test_registry())->num_nodes() ==
             g->num_nodes());
  BOOST_TEST(
      load_graph((dir.path / "net.dagrad" / "graph.json").string(), test_registry())->num_nodes() ==
      g->num_nodes());
  expect_load_error<FileError>(dir.path / "missing.dagrad",
                               {"missing.dagrad", "cannot read graph file"});
}

BOOST_AUTO_TEST_CASE(unknown_op_names_file_and_node) {
  TempDir dir;
  save_graph(*small_network(), (dir.path / "g").string());
  edit_json(dir.path / "g", "\"op\":\"relu\"", "\"op\":\"no_such_op\"");
  expect_load_error<GraphError>(dir.path / "g",
                                {"graph.json", "'layer1/relu'", "unknown op 'no_such_op'"});
}

// Variables' trainable flags and collections, and named signatures, survive a round trip.
BOOST_AUTO_TEST_CASE(variable_state_and_signatures_round_trip) {
  TempDir dir;
  auto g = small_network();
  g->set_trainable(g->output("layer1/b"), false);
  g->add_to_collection(g->output("layer1/b"), collections::kNonTrainableState);
  g->set_signature("predict", {{{"x", g->output("x")}}, {{"y", g->output("head/out")}}});
  g->set_signature("loss", {{{"x", g->output("x")}},
                            {{"loss", g->output("grad_like")}, {"aux", g->output("head/out")}}});
  save_graph(*g, (dir.path / "g").string());
  auto loaded = load_graph((dir.path / "g").string(), test_registry());
  BOOST_TEST(loaded->variable_info(loaded->output("layer1/w")).trainable);
  const auto& b = loaded->variable_info(loaded->output("layer1/b"));
  BOOST_TEST(!b.trainable);
  BOOST_TEST(
      b.collections == (std::vector<std::string>{std::string(collections::kNonTrainableState)}),
      boost::test_tools::per_element());
  BOOST_TEST(loaded->trainable_variables().size() == 1u);
  BOOST_TEST(loaded->signatures().size() == 2u);
  const Graph::Signature* loss = loaded->signature("loss");
  BOOST_REQUIRE(loss);
  BOOST_REQUIRE(loss->outputs.size() == 2u);
  BOOST_TEST(loss->outputs[0].first == "loss");  // key order is kept
  BOOST_TEST((loss->outputs[0].second == loaded->output("grad_like")));
  BOOST_TEST(loss->outputs[1].first == "aux");
  BOOST_TEST((loaded->signature("predict")->inputs[0].second == loaded->output("x")));
  BOOST_TEST(!loaded->signature("train"));
}

// A version 1 file (no trainable flags, collections or signatures) still loads.
BOOST_AUTO_TEST_CASE(version_1_files_load_with_trainable_variables) {
  TempDir dir;
  save_graph(*small_network(), (dir.path / "g").string());
  std::string text = read_text(dir.path / "g" / "graph.json");
  auto erase_all = [&](const std::string& what) {
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what))
      text.erase(at, what.size());
  };
  erase_all(",\"trainable\":true,\"collections\":[]");
  erase_all(",\n \"signatures\": {}");
  write_text(dir.path / "g" / "graph.json", text);
  edit_json(dir.path / "g", "\"version\": 2", "\"version\": 1");
  auto loaded = load_graph((dir.path / "g").string(), test_registry());
  BOOST_TEST(loaded->trainable_variables().size() == 2u);
  BOOST_TEST(loaded->signatures().empty());
  // Version 2 requires the fields.
  edit_json(dir.path / "g", "\"version\": 1", "\"version\": 2");
  expect_load_error<FileError>(dir.path / "g", {"graph.json", "variable 0", "'trainable'"});
}

// A signature whose input is not a placeholder, or that names a missing node, is refused.
BOOST_AUTO_TEST_CASE(bad_signatures_name_the_signature) {
  auto g = small_network();
  BOOST_CHECK_EXCEPTION(g->set_signature("predict", {{{"x", g->output("head/out")}}, {}}),
                        GraphError, [](const GraphError& e) {
                          std::string m = e.what();
                          return m.find("signature 'predict'") != std::string::npos &&
                                 m.find("not a placeholder") != std::string::npos;
                        });
  BOOST_CHECK_THROW(g->set_signature("p", {{}, {{"y", Output{}}}}), GraphError);
  BOOST_CHECK_THROW(g->set_signature("p", {{}, {{"y", g->output("x")}, {"y", g->output("x")}}}),
                    GraphError);
  BOOST_CHECK_THROW(g->set_signature("", {}), GraphError);
  TempDir dir;
  g->set_signature("predict", {{{"x", g->output("x")}}, {{"y", g->output("head/out")}}});
  save_graph(*g, (dir.path / "g").string());
  edit_json(dir.path / "g", "{\"x\":\"x\"}", "{\"x\":\"head/out\"}");
  expect_load_error<GraphError>(dir.path / "g",
                                {"graph.json", "signature 'predict'", "not a placeholder"});
  edit_json(dir.path / "g", "{\"x\":\"head/out\"}", "{\"x\":\"nowhere\"}");
  expect_load_error<GraphError>(dir.path / "g", {"graph.json", "signature 'predict'", "'nowhere'"});
}

BOOST_AUTO_TEST_CASE(wrong_version_or_format_is_rejected) {
  TempDir dir;
  save_graph(*small_network(), (dir.path / "g").string());
  edit_json(dir.path / "g", "\"version\": 2", "\"version\": 7");
  expect_load_error<FileError>(dir.path / "g", {"graph.json", "unsupported version 7"});
  edit_json(dir.path / "g", "\"version\": 7", "\"version\": 2");
  edit_json(dir.path / "g", "\"dagrad-graph\"", "\"other-graph\"");
  expect_load_error<FileError>(dir.path / "g", {"graph.json", "format"});
}

BOOST_AUTO_TEST_CASE(truncated_json_reports_the_byte_offset) {
  TempDir dir;
  save_graph(*small_network(), (dir.path / "g").string());
  std::string text = read_text(dir.path / "g" / "graph.json");
  write_text(dir.path / "g" / "graph.json", text.substr(0, text.size() / 2));
  expect_load_error<FileError>(
      dir.path / "g",
      {"graph.json", "invalid JSON at byte " + std::to_string(text.size() / 2 + 1)});
}

BOOST_AUTO_TEST_CASE(missing_npy_file_names_file_and_node) {
  TempDir dir;
  auto g = small_network();
  save_graph(*g, (dir.path / "g").string());
  const Node* init = g->find_node("layer1/w/initial_value");
  BOOST_TEST_REQUIRE(init);
  std::string file = std::to_string(init->id) + "_layer1_w_initial_value.value.npy";
  BOOST_TEST_REQUIRE(fs::remove(dir.path / "g" / file));
  expect_load_error<FileError>(dir.path / "g", {"graph.json", "'layer1/w/initial_value'", file});
}

// A directory where the loader expects a file is a FileError naming the path (it used to leak
// "basic_filebuf::underflow error reading the file: Is a directory").
BOOST_AUTO_TEST_CASE(directory_instead_of_a_file_names_the_path) {
  TempDir dir;
  auto g = small_network();
  save_graph(*g, (dir.path / "g").string());
  const Node* init = g->find_node("layer1/w/initial_value");
  BOOST_TEST_REQUIRE(init);
  std::string file = std::to_string(init->id) + "_layer1_w_initial_value.value.npy";
  BOOST_TEST_REQUIRE(fs::remove(dir.path / "g" / file));
  fs::create_directory(dir.path / "g" / file);
  expect_load_error<FileError>(dir.path / "g",
                               {"graph.json", "'layer1/w/initial_value'", file, "is a directory"});

  fs::create_directories(dir.path / "h" / "graph.json");
  expect_load_error<FileError>(dir.path / "h",
                               {(dir.path / "h" / "graph.json").string(), "is a directory"});
}

// Each variable is registered once, with the assign that initializes it.
BOOST_AUTO_TEST_CASE(bad_variable_registrations_name_file_and_node) {
  TempDir dir;
  save_graph(*small_network(), (dir.path / "g").string());
  edit_json(dir.path / "g", "{\"variable\":\"layer1/b\",\"initializer\":\"layer1/b/Assign\",",
            "{\"variable\":\"layer1/w\",\"initializer\":\"layer1/w/Assign\",");
  expect_load_error<GraphError>(dir.path / "g", {"graph.json", "'layer1/w'", "registered twice"});

  save_graph(*small_network(), (dir.path / "g").string());
  edit_json(dir.path / "g", "\"initializer\":\"layer1/w/Assign\"",
            "\"initializer\":\"layer1/w/initial_value\"");
  expect_load_error<GraphError>(
      dir.path / "g", {"graph.json", "'layer1/w'", "'layer1/w/initial_value'", "not an assign"});

  // An assign, but to another variable.
  save_graph(*small_network(), (dir.path / "g").string());
  edit_json(dir.path / "g", "\"initializer\":\"layer1/w/Assign\"",
            "\"initializer\":\"layer1/b/Assign\"");
  expect_load_error<GraphError>(dir.path / "g", {"graph.json", "'layer1/w'", "'layer1/b/Assign'",
                                                 "not an assign to this variable"});
}

BOOST_AUTO_TEST_CASE(dangling_input_and_missing_field_are_reported) {
  TempDir dir;
  save_graph(*small_network(), (dir.path / "g").string());
  edit_json(dir.path / "g", "\"layer1/w:0\"", "\"layer1/nothing:0\"");
  expect_load_error<GraphError>(dir.path / "g",
                                {"graph.json", "layer1/nothing:0", "not an earlier node"});

  save_graph(*small_network(), (dir.path / "g").string());
  edit_json(dir.path / "g", "\"op\":\"relu\"", "\"opcode\":\"relu\"");
  expect_load_error<FileError>(dir.path / "g", {"graph.json", "node", "missing field 'op'"});
}

BOOST_AUTO_TEST_CASE(tampered_attribute_is_caught_by_the_shape_function) {
  TempDir dir;
  save_graph(*small_network(), (dir.path / "g").string());
  // The first dtype in the file is placeholder x's; an int32 x no longer multiplies float32 w.
  edit_json(dir.path / "g", "\"value\":\"float32\"", "\"value\":\"int32\"");
  expect_load_error<ShapeError>(dir.path / "g", {"graph.json", "layer1/mul", "int32"});
}

// leaky_relu's alpha has a default (0.2); a file without it must not load as alpha = 0.2.
BOOST_AUTO_TEST_CASE(missing_attribute_is_an_error_not_the_default) {
  TempDir dir;
  save_graph(*small_network(), (dir.path / "g").string());
  edit_json(dir.path / "g", "\"attrs\":{\"alpha\":{\"kind\":\"float\",\"value\":0.1}}",
            "\"attrs\":{}");
  expect_load_error<GraphError>(dir.path / "g",
                                {"graph.json", "'head/out'", "attribute 'alpha'", "missing"});
}

BOOST_AUTO_TEST_CASE(integer_for_a_float_attribute_is_an_error) {
  TempDir dir;
  save_graph(*small_network(), (dir.path / "g").string());
  edit_json(dir.path / "g", "\"alpha\":{\"kind\":\"float\",\"value\":0.1}",
            "\"alpha\":{\"kind\":\"float\",\"value\":1}");
  expect_load_error<FileError>(dir.path / "g",
                               {"graph.json", "'head/out'", "attribute 'alpha'", "integer 1"});
  // The same value stored under kind int.
  save_graph(*small_network(), (dir.path / "g").string());
  edit_json(dir.path / "g", "\"alpha\":{\"kind\":\"float\",\"value\":0.1}",
            "\"alpha\":{\"kind\":\"int\",\"value\":1}");
  expect_load_error<GraphError>(
      dir.path / "g", {"graph.json", "'head/out'", "attribute 'alpha'", "is float", "stores int"});
  // A float with an integral value is written as 2.0 and loads back.
  auto g = std::make_unique<Graph>(test_registry());
  leaky_relu(placeholder(*g, DType::float32, Shape{2}, "x"), 2.0, "y");
  save_graph(*g, (dir.path / "h").string());
  BOOST_TEST(read_text(dir.path / "h" / "graph.json").find("\"value\":2.0") != std::string::npos);
  auto loaded = load_graph((dir.path / "h").string(), test_registry());
  BOOST_TEST(loaded->find_node("y")->attrs.get_float("alpha") == 2.0);
}

BOOST_AUTO_TEST_CASE(failed_save_keeps_the_old_graph) {
  TempDir dir;
  fs::path path = dir.path / "g.dagrad";
  auto old = small_network();
  save_graph(*old, path.string());
  // A string attribute that is not UTF-8 cannot be stored in JSON: the save fails.
  Graph bad(test_registry());
  Output x = placeholder(bad, DType::float32, Shape{2}, "x");
  bad.add("tagged", {x}, {{"scale", 1.0}, {"label", std::string("\xff\xfe")}, {"table", Tensor()}});
  try {
    save_graph(bad, path.string());
    BOOST_FAIL("expected FileError");
  } catch (const FileError& e) {
    BOOST_TEST(std::string(e.what()).find("'tagged'") != std::string::npos, e.what());
  }
  expect_same_graph(*old, *load_graph(path.string(), test_registry()));
  // No temporary directories are left behind.
  int entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path)) ++entries;
  BOOST_TEST(entries == 1);
}

BOOST_AUTO_TEST_CASE(saving_over_a_graph_replaces_it) {
  TempDir dir;
  fs::path path = dir.path / "g.dagrad";
  save_graph(*small_network(), path.string());
  Graph other(test_registry());
  placeholder(other, DType::int64, Shape{4}, "only");
  save_graph(other, path.string());
  auto loaded = load_graph(path.string(), test_registry());
  BOOST_TEST(loaded->num_nodes() == 1);
  BOOST_TEST(loaded->node(0).name == "only");
  int npy = 0;
  for (const auto& e : fs::directory_iterator(path)) npy += e.path().extension() == ".npy";
  BOOST_TEST(npy == 0);  // the old graph's tensors went with it
}

BOOST_AUTO_TEST_CASE(save_refuses_to_replace_other_files) {
  TempDir dir;
  fs::create_directories(dir.path / "mine");
  write_text(dir.path / "mine" / "keep.txt", "precious");
  BOOST_CHECK_THROW(save_graph(*small_network(), (dir.path / "mine").string()), FileError);
  BOOST_TEST(read_text(dir.path / "mine" / "keep.txt") == "precious");
  write_text(dir.path / "plain_file", "data");
  BOOST_CHECK_THROW(save_graph(*small_network(), (dir.path / "plain_file").string()), FileError);
  BOOST_TEST(read_text(dir.path / "plain_file") == "data");
  // An empty directory is fine.
  fs::create_directories(dir.path / "empty");
  save_graph(*small_network(), (dir.path / "empty").string());
  BOOST_TEST(fs::exists(dir.path / "empty" / "graph.json"));
}

// ---------------------------------------------------------------------------------------------
// Hostile files: each must end in a clear error naming graph.json, never a crash or a hang.

// A document `text` with `extra` inserted right after its '{'.
std::string with_extra_fields(const std::string& text, const std::string& extra) {
  BOOST_TEST_REQUIRE(text.front() == '{');
  return "{" + extra + text.substr(1);
}

std::string repeat(const std::string& s, std::size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

// 100,000 nested arrays or objects used to overflow the stack (the error message dumped the
// value recursively, and ordered_json copied it).
BOOST_AUTO_TEST_CASE(deep_nesting_is_refused_with_the_depth_limit) {
  TempDir dir;
  save_graph(*small_network(), (dir.path / "g").string());
  const std::string original = read_text(dir.path / "g" / "graph.json");
  const std::size_t deep = 100000;
  for (auto [open, close] : {std::pair<std::string, std::string>{"[", "]"},
                             std::pair<std::string, std::string>{"{\"a\":", "}"}}) {
    BOOST_TEST_CONTEXT("nesting with " << open) {
      write_text(dir.path / "g" / "graph.json",
                 with_extra_fields(original, "\"extra\":" + repeat(open, deep) + "1" +
                                                 repeat(close, deep) + ","));
      expect_load_error<FileError>(dir.path / "g", {"graph.json", "nested deeper than 64 levels"});
      // Unclosed, as a truncated file would be.
      write_text(dir.path / "g" / "graph.json", repeat(open, deep));
      expect_load_error<FileError>(dir.path / "g", {"graph.json", "nested deeper than 64 levels"});
    }
  }
  // The limit counts the document itself: 64 levels parse (the seed is then refused as a value),
  // 65 do not.
  write_text(dir.path / "g" / "graph.json",
             "{\"format\": \"dagrad-graph\", \"version\": 2, \"seed\": " + repeat("[", 63) +
                 repeat("]", 63) + "}");
  expect_load_error<FileError>(dir.path / "g", {"graph.json", "field 'seed'"});
  write_text(dir.path / "g" / "graph.json",
             "{\"format\": \"dagrad-graph\", \"version\": 2, \"seed\": " + repeat("[", 64) +
                 repeat("]", 64) + "}");
  expect_load_error<FileError>(dir.path / "g", {"graph.json", "nested deeper than 64 levels"});
}

// 200,000 keys in one object took 35 s to parse (ordered_json looks up each key in a list).
BOOST_AUTO_TEST_CASE(objects_with_200000_keys) {
  TempDir dir;
  auto g = small_network();
  g->set_signature("predict", {{{"x", g->output("x")}}, {{"y", g->output("head/out")}}});
  save_graph(*g, (dir.path / "g").string());
  const int keys = 200000;
  // Fields the loader does not read are ignored: the graph loads.
  std::string extra;
  for (int k = 0; k < keys; ++k) extra += "\"unread_" + std::to_string(k) + "\":0,";
  std::string original = read_text(dir.path / "g" / "graph.json");
  write_text(dir.path / "g" / "graph.json", with_extra_fields(original, extra));
  expect_same_graph(*g, *load_graph((dir.path / "g").string(), test_registry()));

  // A signature with 200,000 inputs keeps them in file order.
  std::string inputs;
  for (int k = 0; k < keys; ++k)
    inputs += (k ? "," : "") + ("\"x" + std::to_string(k) + "\":\"x\"");
  write_text(dir.path / "g" / "graph.json", original);
  edit_json(dir.path / "g", "\"inputs\":{\"x\":\"x\"}", "\"inputs\":{" + inputs + "}");
  auto loaded = load_graph((dir.path / "g").string(), test_registry());
  const Graph::Signature* predict = loaded->signature("predict");
  BOOST_TEST_REQUIRE(predict);
  BOOST_TEST_REQUIRE(predict->inputs.size() == static_cast<std::size_t>(keys));
  BOOST_TEST(predict->inputs[0].first == "x0");
  BOOST_TEST(predict->inputs[keys - 1].first == "x" + std::to_string(keys - 1));

  // 200,000 attributes the op does not have: refused at the first.
  std::string attrs;
  for (int k = 0; k < keys; ++k)
    attrs += "\"bogus_" + std::to_string(k) + "\":{\"kind\":\"int\",\"value\":1},";
  write_text(dir.path / "g" / "graph.json", original);
  edit_json(dir.path / "g", "\"attrs\":{\"alpha\":", "\"attrs\":{" + attrs + "\"alpha\":");
  expect_load_error<GraphError>(
      dir.path / "g", {"graph.json", "'head/out'", "op leaky_relu has no attribute 'bogus_0'"});
}

// 1e309 is valid JSON syntax but no double: it escaped as a raw nlohmann out_of_range.
BOOST_AUTO_TEST_CASE(a_number_out_of_range_is_a_file_error_with_its_offset) {
  TempDir dir;
  save_graph(*small_network(), (dir.path / "g").string());
  for (std::string number : std::vector<std::string>{"1e309", "-1e309"}) {
    edit_json(dir.path / "g", "\"alpha\":{\"kind\":\"float\",\"value\":0.1}",
              "\"alpha\":{\"kind\":\"float\",\"value\":" + number + "}");
    std::string text = read_text(dir.path / "g" / "graph.json");
    // nlohmann counts the bytes read up to the end of the offending token.
    std::size_t end = text.find(number) + number.size();
    expect_load_error<FileError>(
        dir.path / "g", {"graph.json", "invalid JSON at byte " + std::to_string(end), number});
    edit_json(dir.path / "g", "\"value\":" + number + "}", "\"value\":0.1}");
  }
}

BOOST_AUTO_TEST_CASE(a_key_twice_in_one_object_is_refused) {
  TempDir dir;
  save_graph(*small_network(), (dir.path / "g").string());
  edit_json(dir.path / "g", "\"op\":\"relu\"", "\"op\":\"relu\",\"op\":\"tanh\"");
  expect_load_error<FileError>(dir.path / "g", {"graph.json", "\"op\" appears twice"});
}

// Messages quote at most about 80 characters of a value, however large or deep it is.
BOOST_AUTO_TEST_CASE(errors_quote_a_bounded_excerpt_of_the_value) {
  TempDir dir;
  save_graph(*small_network(), (dir.path / "g").string());
  std::string huge = "[" + repeat("[1,{\"k\":\"v\"}],", 100000) + "0]";
  edit_json(dir.path / "g", "\"value\":\"float32\"", "\"value\":" + huge);
  try {
    load_graph((dir.path / "g").string(), test_registry());
    BOOST_FAIL("expected a FileError");
  } catch (const FileError& e) {
    std::string message = e.what();
    BOOST_TEST(
        message.find("must be a dtype name, got [[1,{\"k\":\"v\"}],[1,") != std::string::npos,
        message);
    BOOST_TEST(message.find("...") != std::string::npos, message);
    BOOST_TEST(message.size() < 400u, message);
  }
  // A long string as the op name.
  save_graph(*small_network(), (dir.path / "g").string());
  edit_json(dir.path / "g", "\"op\":\"relu\"", "\"op\":\"" + repeat("relu", 250000) + "\"");
  try {
    load_graph((dir.path / "g").string(), test_registry());
    BOOST_FAIL("expected a GraphError");
  } catch (const GraphError& e) {
    std::string message = e.what();
    BOOST_TEST(message.find("unknown op 'relurelu") != std::string::npos, message);
    BOOST_TEST(message.size() < 400u, message);
  }
}

// The shape error of a loaded node used to say "created at graph/transforms.cpp" (the loader).
BOOST_AUTO_TEST_CASE(load_time_shape_errors_quote_the_site_stored_in_the_file) {
  TempDir dir;
  auto g = small_network();
  save_graph(*g, (dir.path / "g").string());
  const Node* mul = g->find_node("layer1/mul");
  BOOST_TEST_REQUIRE(mul);
  std::string stored =
      "\"site\":{\"file\":\"" + mul->site.file + "\",\"line\":" + std::to_string(mul->site.line);
  std::string text = read_text(dir.path / "g" / "graph.json");
  std::size_t line = text.find("\"name\":\"layer1/mul\"");
  BOOST_TEST_REQUIRE(line != std::string::npos);
  std::size_t site = text.find(stored, line);
  BOOST_TEST_REQUIRE(site != std::string::npos);
  text.replace(site, stored.size(), "\"site\":{\"file\":\"builder.cpp\",\"line\":77");
  write_text(dir.path / "g" / "graph.json", text);
  edit_json(dir.path / "g", "\"value\":\"float32\"", "\"value\":\"int32\"");
  expect_load_error<ShapeError>(dir.path / "g",
                                {"graph.json", "layer1/mul", "int32", "created at builder.cpp:77"});
  try {
    load_graph((dir.path / "g").string(), test_registry());
  } catch (const ShapeError& e) {
    BOOST_TEST(std::string(e.what()).find("transforms.cpp") == std::string::npos, e.what());
  }
}

// A huge id said only "input 0 is out of range".
BOOST_AUTO_TEST_CASE(a_node_id_out_of_range_is_named_with_the_valid_ids) {
  TempDir dir;
  auto g = small_network();
  const Node* mul = g->find_node("layer1/mul");
  BOOST_TEST_REQUIRE(mul);
  std::string range = "node ids here are 0 to " + std::to_string(mul->id - 1);
  save_graph(*g, (dir.path / "g").string());
  std::string original = read_text(dir.path / "g" / "graph.json");
  for (std::string id : std::vector<std::string>{"4611686018427387904", "18446744073709551615",
                                                 "-3", std::to_string(mul->id)}) {
    BOOST_TEST_CONTEXT("id " << id) {
      write_text(dir.path / "g" / "graph.json", original);
      edit_json_after(dir.path / "g", "\"name\":\"layer1/mul\"", "\"layer1/w:0\"", id);
      expect_load_error<GraphError>(
          dir.path / "g", {"graph.json", "'layer1/mul'", "input 1 refers to node " + id, range});
    }
  }
}

// Inputs must name earlier nodes, so no file can hold a cycle: a later node or the node itself
// is refused.
BOOST_AUTO_TEST_CASE(a_cycle_is_refused) {
  TempDir dir;
  save_graph(*small_network(), (dir.path / "g").string());
  std::string original = read_text(dir.path / "g" / "graph.json");
  for (std::string target : std::vector<std::string>{"head/out", "layer1/mul"}) {
    write_text(dir.path / "g" / "graph.json", original);
    edit_json_after(dir.path / "g", "\"name\":\"layer1/mul\"", "\"layer1/w:0\"",
                    "\"" + target + ":0\"");
    expect_load_error<GraphError>(dir.path / "g", {"graph.json", "'layer1/mul'", "input 1",
                                                   "'" + target + ":0'", "not an earlier node"});
  }
  write_text(dir.path / "g" / "graph.json", original);
  edit_json(dir.path / "g", "\"control_inputs\":[\"done\"]", "\"control_inputs\":[\"after_done\"]");
  expect_load_error<GraphError>(
      dir.path / "g", {"graph.json", "'after_done'", "control input 0", "not an earlier node"});
}

// The dtype and shape written next to a tensor's file name must be those of the .npy header.
BOOST_AUTO_TEST_CASE(a_tensor_header_that_disagrees_with_graph_json) {
  TempDir dir;
  save_graph(*small_network(), (dir.path / "g").string());
  std::string original = read_text(dir.path / "g" / "graph.json");
  edit_json(dir.path / "g", "\"dtype\":\"float32\",\"shape\":[3]}",
            "\"dtype\":\"float32\",\"shape\":[4]}");
  expect_load_error<FileError>(
      dir.path / "g", {"graph.json", "'layer1/w/initial_value'", "says shape [4]", "holds (3,)"});
  write_text(dir.path / "g" / "graph.json", original);
  edit_json(dir.path / "g", "\"dtype\":\"float32\",\"shape\":[3]}",
            "\"dtype\":\"float64\",\"shape\":[3]}");
  expect_load_error<FileError>(dir.path / "g", {"graph.json", "'layer1/w/initial_value'",
                                                "says dtype \"float64\"", "float32"});
  // A .npy header claiming far more data than the file holds: refused before allocating it.
  write_text(dir.path / "g" / "graph.json", original);
  auto g = small_network();
  const Node* init = g->find_node("layer1/w/initial_value");
  BOOST_TEST_REQUIRE(init);
  fs::path npy = dir.path / "g" / (std::to_string(init->id) + "_layer1_w_initial_value.value.npy");
  BOOST_TEST_REQUIRE(fs::exists(npy));
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776,), }";
  std::string bytes("\x93NUMPY\x01\x00", 8);
  bytes += static_cast<char>(dict.size());
  bytes += '\0';
  write_text(npy, bytes + dict + std::string(12, '\0'));
  expect_load_error<FileError>(dir.path / "g",
                               {"graph.json", "'layer1/w/initial_value'", npy.filename().string(),
                                "truncated data", "needs 4398046511104 data bytes"});
}

// Loading only reads: after failed loads of every kind the directory is byte for byte the same.
BOOST_AUTO_TEST_CASE(a_failed_load_leaves_the_files_as_they_were) {
  TempDir dir;
  save_graph(*small_network(), (dir.path / "g").string());
  edit_json(dir.path / "g", "\"op\":\"relu\"", "\"op\":\"no_such_op\"");
  auto snapshot = [&] { return dagrad::testing::directory_snapshot(dir.path); };
  auto before = snapshot();
  BOOST_CHECK_THROW(load_graph((dir.path / "g").string(), test_registry()), GraphError);
  BOOST_CHECK_THROW(load_graph((dir.path / "g" / "graph.json").string(), test_registry()),
                    GraphError);
  BOOST_CHECK_THROW(load_graph((dir.path / "missing").string(), test_registry()), FileError);
  BOOST_TEST((snapshot() == before));
  BOOST_TEST(!fs::exists(dir.path / "missing"));
}

BOOST_AUTO_TEST_SUITE_END()
