// Model files beyond the happy path: hand-edited model.json files with options the layer type
// does not read, the graph seed kept across save and load, and a round trip of every layer type
// with non-default options (configs, trainable flags, predictions, penalties, constraints).
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "common/dir_snapshot.hpp"
#include "dagrad/dagrad.hpp"

using namespace dagrad;
namespace fs = std::filesystem;

namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

struct ScratchDir {
  fs::path path;
  explicit ScratchDir(const std::string& tag)
      : path(fs::temp_directory_path() /
             ("dagrad_nn_file_" + tag + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~ScratchDir() { fs::remove_all(path); }
};

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::trunc);
  out << text;
}

Tensor uniform_tensor(Shape shape, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  Tensor t(DType::float32, shape);
  for (std::int64_t i = 0; i < t.size(); ++i) t.data<float>()[i] = static_cast<float>(u(rng));
  return t;
}

bool bit_identical(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(model_file_misuse)

BOOST_AUTO_TEST_CASE(an_option_the_layer_type_does_not_read_is_refused) {
  // A misspelt key was ignored: here the L2 penalty would silently be lost.
  ScratchDir dir("unknown_option");
  nn::Sequential model(
      {nn::Dense(3, {.kernel_regularizer = nn::Regularizer::L2(0.5), .input_shape = Shape{2}})});
  std::string path = (dir.path / "m").string();
  nn::save_model(model, path);
  fs::path index = dir.path / "m" / "model.json";
  std::string text = read_text(index);
  const std::string key = "\"kernel_regularizer.l2\"";
  BOOST_REQUIRE(contains(text, key));
  text.replace(text.find(key), key.size(), "\"kernel_regularizer.L2\"");
  write_text(index, text);
  try {
    nn::load_model(path);
    BOOST_FAIL("expected a FileError");
  } catch (const FileError& e) {
    BOOST_TEST(contains(e.what(), path), e.what());
    BOOST_TEST(contains(e.what(), "kernel_regularizer.L2"), e.what());
    BOOST_TEST(contains(e.what(), "Dense"), e.what());
  }
}

BOOST_AUTO_TEST_CASE(the_graph_seed_is_kept_so_mc_dropout_repeats) {
  // load_model built the model with seed 0 whatever the saved model's seed, so its dropout
  // masks differed from the original's, explicit layer seeds included.
  ScratchDir dir("seed");
  auto backend = std::make_shared<nn::Backend>(7);
  nn::Sequential model(
      {nn::Dense(6, {.input_shape = Shape{3}}), nn::Dropout(0.5, {.seed = 3}), nn::Dense(2)}, "",
      backend);
  std::string path = (dir.path / "m").string();
  nn::save_model(model, path);
  std::unique_ptr<nn::Model> loaded = nn::load_model(path);
  BOOST_TEST(loaded->graph().seed() == 7u);
  Tensor x = uniform_tensor({4, 3}, 1);
  nn::McPrediction a = model.predict_mc_dropout(x, 5);
  nn::McPrediction b = loaded->predict_mc_dropout(x, 5);
  BOOST_TEST(bit_identical(a.mean, b.mean));
  BOOST_TEST(bit_identical(a.stddev, b.stddev));
}

// A save killed between the two renames of the fallback for file systems without
// RENAME_EXCHANGE leaves the model's folder missing and the previous model whole in a backup
// ".m.old-PID-N" beside it: has_model_file sees it and load_model reads it, so `dagrad train
// --checkpoint` continues; the next save deletes it.
BOOST_AUTO_TEST_CASE(a_model_whose_save_was_killed_midway_loads_from_its_backup) {
  ScratchDir dir("interrupted");
  nn::Sequential model({nn::Dense(2, {.input_shape = Shape{3}})});
  std::string path = (dir.path / "m").string();
  BOOST_TEST(!nn::has_model_file(path));
  nn::save_model(model, path);
  std::vector<Tensor> saved = model.get_weights();
  fs::path backup = dir.path / ".m.old-4194305-1";  // a pid above Linux's largest pid_max
  fs::rename(path, backup);
  BOOST_TEST(nn::has_model_file(path));
  std::unique_ptr<nn::Model> loaded = nn::load_model(path);
  BOOST_TEST(bit_identical(loaded->get_weights().at(0), saved.at(0)));
  BOOST_TEST(fs::exists(backup));  // loading changes nothing on disk
  model.set_weights({uniform_tensor({3, 2}, 5), uniform_tensor({2}, 6)});
  nn::save_model(model, path);
  BOOST_TEST(!fs::exists(backup));
  BOOST_TEST(bit_identical(nn::load_model(path)->get_weights().at(0), model.get_weights().at(0)));
  // Without a backup, a missing model is still a FileError naming model.json.
  BOOST_CHECK_EXCEPTION(nn::load_model((dir.path / "absent").string()), FileError,
                        [](const FileError& e) { return contains(e.what(), "model.json"); });
}

BOOST_AUTO_TEST_CASE(every_layer_type_and_option_round_trips) {
  ScratchDir dir("every");
  auto backend = std::make_shared<nn::Backend>(11);
  nn::Symbol x = nn::Input(Shape{2, 3}, "x", backend);
  nn::Symbol h = nn::call(
      nn::Dense(
          4, {.activation = "tanh",
              .kernel_initializer = nn::Initializer::variance_scaling(2.0, "fan_avg", "uniform", 5),
              .bias_initializer = nn::Initializer::random_normal(0.1, 0.2, 3),
              .kernel_regularizer = nn::Regularizer::L1L2(0.01, 0.02),
              .bias_regularizer = nn::Regularizer::L2(0.3),
              .kernel_constraint = nn::MaxNorm{1.5, 1},
              .name = "frozen_dense"}),
      x);
  h = nn::call(nn::BatchNormalization({.momentum = 0.8,
                                       .epsilon = 0.01,
                                       .center = false,
                                       .gamma_initializer = nn::Initializer::constant(2.0)}),
               h);
  h = nn::call(nn::BatchNormalization(
                   {.scale = false, .moving_variance_initializer = nn::Initializer::constant(3.0)}),
               h);
  h = nn::call(nn::PReLU({.alpha_initializer = nn::Initializer::random_uniform(0.1, 0.3),
                          .shared_axes = {1}}),
               h);
  h = nn::call(nn::Dropout(0.25, {.seed = 9}), h);
  h = nn::call(nn::AlphaDropout(0.15, {.seed = 3}), h);
  h = nn::call(nn::RReLU({.lower = 0.05, .upper = 0.4, .seed = 2}), h);
  h = nn::call(nn::LeakyReLU(0.15), h);
  h = nn::call(nn::ELU(0.6), h);
  h = nn::call(nn::ActivationLayer("softplus"), h);
  nn::Symbol joined =
      nn::call(nn::Concatenate(1), {nn::call(nn::Flatten(), h), nn::call(nn::Flatten(), x)});
  nn::Symbol sum = nn::call(nn::Add(), {nn::call(nn::Dense(6, {.use_bias = false}), joined),
                                        nn::call(nn::Dense(6, {.activation = "selu"}), joined)});
  nn::Symbol y =
      nn::call(nn::Dense(3, {.activation = "softmax",
                             .kernel_initializer = nn::Initializer::truncated_normal(0.0, 0.3, 1)}),
               sum);
  nn::Model model({x}, {y}, "everything");
  model.layer("frozen_dense")->set_trainable(false);
  // Moving statistics away from their initial values, so that loading must restore them.
  std::vector<Tensor> w = model.get_weights();
  for (std::size_t i = 0; i < w.size(); ++i)
    w[i] = uniform_tensor(w[i].shape(), 50 + static_cast<std::uint32_t>(i));
  for (Tensor& t : w)
    if (t.shape() == Shape{4})  // moving variances (and others of 4 values) must stay positive
      for (std::int64_t i = 0; i < 4; ++i) t.data<float>()[i] = 1.5f + t.data<float>()[i];
  model.set_weights(w);

  std::string path = (dir.path / "everything").string();
  nn::save_model(model, path);
  std::unique_ptr<nn::Model> loaded = nn::load_model(path);
  std::unique_ptr<nn::Model> cloned = nn::clone_model(model);
  cloned->set_weights(model.get_weights());
  for (nn::Model* other : {loaded.get(), cloned.get()}) {
    BOOST_REQUIRE(other->layers().size() == model.layers().size());
    for (std::size_t i = 0; i < model.layers().size(); ++i) {
      BOOST_TEST_CONTEXT(model.layers()[i]->name()) {
        BOOST_TEST((other->layers()[i]->config() == model.layers()[i]->config()));
        BOOST_TEST(other->layers()[i]->trainable() == model.layers()[i]->trainable());
      }
    }
    Tensor in = uniform_tensor({5, 2, 3}, 3);
    BOOST_TEST(bit_identical(other->predict(in), model.predict(in)));
    BOOST_TEST(other->training_graph().regularization_losses.size() == 2u);
    BOOST_TEST(other->training_graph().trainable_variables.size() ==
               model.training_graph().trainable_variables.size());
    BOOST_TEST(other->constraint_updates({}).size() == 1u);
    std::ostringstream a, b;
    model.summary(a);
    other->summary(b);
    BOOST_TEST(a.str() == b.str());
  }
}

// ---------------------------------------------------------------------------------------------
// Hostile model.json files: each ends in a FileError naming the model, never a crash or a hang.

namespace {

void expect_model_error(const std::string& path, const std::vector<std::string>& parts) {
  try {
    nn::load_model(path);
    BOOST_FAIL("expected a FileError");
  } catch (const FileError& e) {
    BOOST_TEST(contains(e.what(), path), e.what());
    for (const std::string& p : parts)
      BOOST_TEST(contains(e.what(), p), e.what() << " lacks " << p);
  }
}

std::string repeat(const std::string& s, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(hostile_model_json_files_are_file_errors) {
  ScratchDir dir("hostile");
  nn::Sequential model({nn::Dense(3, {.input_shape = Shape{2}})});
  std::string path = (dir.path / "m").string();
  nn::save_model(model, path);
  fs::path index = dir.path / "m" / "model.json";
  const std::string text = read_text(index);
  BOOST_TEST_REQUIRE(text.front() == '{');
  auto with_field = [&](const std::string& field) { return "{" + field + "," + text.substr(1); };

  // 100,000 levels of arrays or objects.
  write_text(index, with_field("\"deep\": " + repeat("[", 100000) + repeat("]", 100000)));
  expect_model_error(path, {"model.json", "nested deeper than 64 levels"});
  write_text(index,
             with_field("\"deep\": " + repeat("{\"a\":", 100000) + "1" + repeat("}", 100000)));
  expect_model_error(path, {"model.json", "nested deeper than 64 levels"});
  // A number no double holds.
  write_text(index, with_field("\"extra\": 1e309"));
  expect_model_error(path, {"model.json", "invalid JSON at byte", "1e309"});
  // A key twice.
  write_text(index, with_field("\"format\": \"dagrad-model\""));
  expect_model_error(path, {"model.json", "\"format\" appears twice"});
  // Another format, an unknown layer type.
  std::string other = text;
  other.replace(other.find("dagrad-model"), 12, "dagrad-graph");
  write_text(index, other);
  expect_model_error(path, {"model.json", "not a dagrad model file"});
  std::string unknown_type = text;
  unknown_type.replace(unknown_type.find("\"Dense\""), 7, "\"Dense2\"");
  write_text(index, unknown_type);
  expect_model_error(path, {"model.json", "layer 0", "Dense2"});
  // 200,000 options in one layer's config: refused (as unknown) in linear time.
  std::string options;
  for (int k = 0; k < 200000; ++k) options += "\"bogus_" + std::to_string(k) + "\": 1, ";
  std::string many = text;
  const std::string config = "\"config\": {";
  BOOST_TEST_REQUIRE(contains(many, config));
  many.insert(many.find(config) + config.size(), options);
  write_text(index, many);
  expect_model_error(path, {"model.json", "layer 0", "unknown option 'bogus_0'"});
}

// Node references of a functional model past 2^63 wrapped to negative numbers; every bad index
// is now quoted with the valid ones.
BOOST_AUTO_TEST_CASE(functional_references_out_of_range_are_named) {
  ScratchDir dir("functional_refs");
  auto backend = std::make_shared<nn::Backend>(1);
  nn::Symbol x = nn::Input(Shape{2}, "x", backend);
  nn::Model model({x}, {nn::call(nn::Dense(3), x)}, "f");
  std::string path = (dir.path / "m").string();
  nn::save_model(model, path);
  fs::path index = dir.path / "m" / "model.json";
  const auto doc = nlohmann::ordered_json::parse(read_text(index));
  BOOST_TEST_REQUIRE(doc["nodes"].size() == 2u);
  // 1 is node 1 itself (not an earlier node) but a valid layer and output: 2 is past both.
  for (auto [big, past] : std::vector<std::pair<nlohmann::ordered_json, nlohmann::ordered_json>>{
           {18446744073709551615ull, 18446744073709551615ull},
           {4611686018427387904ll, 4611686018427387904ll},
           {-1, -1},
           {1, 2}}) {
    BOOST_TEST_CONTEXT("index " << big.dump()) {
      auto edited = doc;
      edited["nodes"][1]["inputs"][0] = big;
      write_text(index, edited.dump());
      expect_model_error(path, {"node 1", "input " + big.dump(), "earlier nodes are 0 to 0"});
      edited = doc;
      edited["nodes"][1]["layer"] = past;
      write_text(index, edited.dump());
      expect_model_error(path,
                         {"node 1", "\"layer\" is " + past.dump(), "layer indices are 0 to 1"});
      edited = doc;
      edited["outputs"][0] = past;
      write_text(index, edited.dump());
      expect_model_error(path, {"\"outputs\" names node " + past.dump(), "nodes are 0 to 1"});
    }
  }
}

// Loading only reads: after failed loads the model directory is byte for byte the same.
BOOST_AUTO_TEST_CASE(a_failed_model_load_leaves_the_files_as_they_were) {
  ScratchDir dir("failed_load");
  nn::Sequential model({nn::Dense(3, {.input_shape = Shape{2}})});
  model.compile(optim::SGD(), "mse");
  std::string path = (dir.path / "m").string();
  nn::save_model(model, path);
  fs::path index = dir.path / "m" / "model.json";
  std::string text = read_text(index);
  text.replace(text.find("\"units\": 3"), 10, "\"units\": 4");  // the weights no longer fit
  write_text(index, text);
  auto snapshot = [&] { return dagrad::testing::directory_snapshot(dir.path); };
  auto before = snapshot();
  expect_model_error(path, {"dense/kernel"});
  BOOST_TEST((snapshot() == before));
  write_text(index, text.substr(0, text.size() / 2));
  before = snapshot();
  expect_model_error(path, {"invalid JSON"});
  BOOST_TEST((snapshot() == before));
}

BOOST_AUTO_TEST_SUITE_END()
