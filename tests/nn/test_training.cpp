// The training loop: compile, fit, evaluate, History, callbacks, the progress bar's text, and
// resuming from a model file to the same weights as an uninterrupted run.
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>

#include "common/three_classes.hpp"
#include "dagrad/dagrad.hpp"

using namespace dagrad;
namespace fs = std::filesystem;
namespace tt = boost::test_tools;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

bool bit_identical(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag)
      : path(fs::temp_directory_path() / ("dagrad_train_" + tag + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

using dagrad::testing::Data;
using dagrad::testing::three_classes;

std::unique_ptr<nn::Sequential> small_model(std::uint64_t seed, double dropout = 0.0) {
  std::vector<nn::LayerPtr> layers{
      nn::Dense(16, {.activation = "elu", .kernel_initializer = "he_normal", .input_shape = Shape{4}}),
      nn::BatchNormalization()};
  if (dropout > 0) layers.push_back(nn::Dropout(dropout));
  layers.push_back(nn::Dense(3, {.activation = "softmax"}));
  return std::make_unique<nn::Sequential>(layers, "", std::make_shared<nn::Backend>(seed));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fit_and_evaluate)

BOOST_AUTO_TEST_CASE(a_short_run_learns_and_history_has_keras_keys) {
  Data d = three_classes(600, 1);
  auto model = small_model(3);
  model->compile(optim::SGD({.learning_rate = 0.05, .momentum = 0.9}), "sparse_categorical_crossentropy",
                 {"accuracy"});
  double before = model->evaluate(d.x, d.y).at("loss");
  std::ostringstream out;
  nn::History h = model->fit(d.x, d.y, {.epochs = 6, .validation_split = 0.2, .out = &out});
  BOOST_TEST((h.keys == std::vector<std::string>{"loss", "accuracy", "val_loss", "val_accuracy"}));
  BOOST_TEST((h.epochs == std::vector<int>{0, 1, 2, 3, 4, 5}));
  BOOST_TEST(h["loss"].size() == 6u);
  BOOST_TEST(h["loss"].back() < h["loss"].front());
  BOOST_TEST(h["val_accuracy"].back() > 0.85);
  BOOST_TEST(model->evaluate(d.x, d.y).at("loss") < before * 0.5);
  BOOST_TEST(model->epoch() == 6);
  BOOST_CHECK_THROW(h["lr"], nn::ModelError);
}

// With one batch per epoch and a deterministic model (no dropout, no BN), the reported loss of
// an epoch is the loss before its update: what evaluate gives just before the fit.
BOOST_AUTO_TEST_CASE(the_reported_loss_is_the_forward_loss_of_the_step) {
  Data d = three_classes(64, 2);
  nn::Sequential model({nn::Dense(8, {.activation = "tanh", .kernel_regularizer = nn::Regularizer::L2(0.01),
                                      .input_shape = Shape{4}}),
                        nn::Dense(3, {.activation = "softmax"})});
  model.compile(optim::SGD({.learning_rate = 0.1}), "sparse_categorical_crossentropy", {"accuracy"});
  nn::Logs before = model.evaluate(d.x, d.y, 64);
  nn::History h = model.fit(d.x, d.y, {.epochs = 1, .batch_size = 64, .verbose = 0, .shuffle = false});
  BOOST_TEST(h["loss"][0] == before.at("loss"), tt::tolerance(1e-6));  // penalty included in both
  BOOST_TEST(h["accuracy"][0] == before.at("accuracy"), tt::tolerance(1e-6));
  // Several batches: the epoch's figure is the mean of the batch losses weighted by batch size
  // (64 = 32 + 32 here, 5 rows in a third batch of the next case).
  nn::History h2 = model.fit(d.x, d.y, {.epochs = 1, .batch_size = 30, .verbose = 0});
  BOOST_TEST(std::isfinite(h2["loss"][0]));
}

BOOST_AUTO_TEST_CASE(validation_split_takes_the_last_rows_before_shuffling) {
  Data d = three_classes(100, 3);
  auto model = small_model(4);
  model->compile(optim::Adam(), "sparse_categorical_crossentropy", {"accuracy"});
  nn::History h = model->fit(d.x, d.y, {.epochs = 1, .verbose = 0, .validation_split = 0.25});
  // split_at = floor(100 * 0.75) = 75: validation is rows 75..99, evaluated after the epoch.
  Tensor vx(DType::float32, Shape{25, 4}), vy(DType::int32, Shape{25});
  std::memcpy(vx.raw(), d.x.data<float>() + 75 * 4, 25 * 4 * sizeof(float));
  std::memcpy(vy.raw(), d.y.data<std::int32_t>() + 75, 25 * sizeof(std::int32_t));
  nn::Logs v = model->evaluate(vx, vy);
  BOOST_TEST(h["val_loss"][0] == v.at("loss"), tt::tolerance(1e-6));
  BOOST_TEST(h["val_accuracy"][0] == v.at("accuracy"), tt::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(bad_requests_are_clear_errors) {
  Data d = three_classes(10, 5);
  auto model = small_model(1);
  BOOST_CHECK_THROW(model->fit(d.x, d.y), nn::ModelError);  // not compiled
  model->compile(optim::SGD(), "sparse_categorical_crossentropy", {"accuracy"});
  Tensor bad_labels = Tensor::from_vector<std::int32_t>({10}, {0, 1, 2, 3, 0, 1, 2, 0, 1, 2});
  try {
    model->fit(d.x, bad_labels, {.verbose = 0});
    BOOST_FAIL("expected a ModelError");
  } catch (const nn::ModelError& e) {
    BOOST_TEST(contains(e.what(), "label 3"));
    BOOST_TEST(contains(e.what(), "[0, 3)"));
  }
  BOOST_CHECK_THROW(model->fit(d.x, Tensor(DType::int32, Shape{9}), {.verbose = 0}), nn::ModelError);
  BOOST_CHECK_THROW(model->fit(d.x, Tensor(DType::int32, Shape{10, 3}), {.verbose = 0}), nn::ModelError);
  BOOST_CHECK_THROW(model->fit(Tensor(DType::float64, Shape{10, 4}), d.y, {.verbose = 0}), nn::ModelError);
  BOOST_CHECK_THROW(model->fit(d.x, d.y, {.batch_size = 0}), nn::ModelError);
  BOOST_CHECK_THROW(model->fit(d.x, d.y, {.validation_split = 1.0}), nn::ModelError);
  BOOST_CHECK_THROW(model->fit(d.x, d.y, {.validation_split = 0.95}), nn::ModelError);  // floor(0.5): no training rows
  BOOST_CHECK_THROW(model->compile(optim::SGD(), "hinge"), nn::ModelError);
  BOOST_CHECK_THROW(model->compile(optim::SGD(), "mse", {"auc"}), nn::ModelError);
  // Freezing after compile: fit asks for compile() again rather than training the old set.
  (*model)[0]->set_trainable(false);
  try {
    model->fit(d.x, d.y, {.verbose = 0});
    BOOST_FAIL("expected a ModelError");
  } catch (const nn::ModelError& e) {
    BOOST_TEST(contains(e.what(), "compile() again"));
  }
  model->compile(optim::SGD(), "sparse_categorical_crossentropy");
  std::vector<Tensor> before = model->get_weights();
  model->fit(d.x, d.y, {.verbose = 0});
  BOOST_TEST(bit_identical(before[0], model->get_weights()[0]));   // frozen
  BOOST_TEST(!bit_identical(before.back(), model->get_weights().back()));
}

BOOST_AUTO_TEST_CASE(labels_of_other_dtypes_and_shapes_are_converted) {
  // Binary: a (n,) float64 y for a (None, 1) sigmoid output; mse on (n, 2) targets.
  Data d = three_classes(40, 6);
  nn::Sequential binary({nn::Dense(1, {.activation = "sigmoid", .input_shape = Shape{4}})});
  binary.compile(optim::SGD(), "binary_crossentropy", {"accuracy"});
  Tensor y(DType::float64, Shape{40});
  for (int i = 0; i < 40; ++i) y.data<double>()[i] = d.y.data<std::int32_t>()[i] == 2 ? 1.0 : 0.0;
  nn::History h = binary.fit(d.x, y, {.verbose = 0});
  BOOST_TEST(std::isfinite(h["loss"][0]));
  nn::Sequential regression({nn::Dense(2, {.input_shape = Shape{4}})});
  regression.compile(optim::Adam(), "mse", {"mae"});
  nn::History r = regression.fit(d.x, Tensor(DType::float32, Shape{40, 2}), {.verbose = 0});
  BOOST_TEST((r.keys == std::vector<std::string>{"loss", "mae"}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(progress_output)

// Keras's lines: "4/4 [==============================] - 0s 1ms/step - loss: 1.0986 - ..." when
// the output is not a terminal, and the one-line form of verbose 2.
BOOST_AUTO_TEST_CASE(epoch_lines_have_keras_format) {
  Data d = three_classes(100, 7);
  auto model = small_model(2);
  model->compile(optim::SGD(), "sparse_categorical_crossentropy", {"accuracy"});
  std::ostringstream out;
  model->fit(d.x, d.y, {.epochs = 2, .validation_split = 0.2, .out = &out});
  std::string text = out.str();
  std::regex line1(R"(Epoch 1/2\n3/3 \[==============================\] - \d+s \d+(us|ms|s)/step - loss: \d\.\d{4} - accuracy: \d\.\d{4} - val_loss: \d\.\d{4} - val_accuracy: \d\.\d{4}\nEpoch 2/2\n)");
  BOOST_TEST(std::regex_search(text, line1), text);
  std::ostringstream quiet;
  model->fit(d.x, d.y, {.epochs = 1, .verbose = 0, .out = &quiet});
  BOOST_TEST(quiet.str().empty());
  std::ostringstream two;
  model->fit(d.x, d.y, {.epochs = 1, .verbose = 2, .out = &two});
  std::regex line2(R"(^4/4 - \d+s - loss: \d\.\d{4} - accuracy: \d\.\d{4} - \d+s/epoch - \d+(us|ms|s)/step\n$)");
  BOOST_TEST(std::regex_search(two.str(), line2), two.str());
  std::ostringstream eval;
  model->evaluate(d.x, d.y, 32, 1, &eval);
  std::regex line3(R"(^4/4 \[==============================\] - \d+s \d+(us|ms|s)/step - loss: \d\.\d{4} - accuracy: \d\.\d{4}\n$)");
  BOOST_TEST(std::regex_search(eval.str(), line3), eval.str());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(callbacks)

// Records the weights and logs at every epoch's end.
struct Recorder : nn::Callback {
  std::vector<std::vector<Tensor>> weights;
  std::vector<nn::Logs> logs;
  void on_epoch_end(nn::Model& model, int, nn::Logs& l) override {
    weights.push_back(model.get_weights());
    logs.push_back(l);
  }
};

// Writes a scripted figure into the logs, for the monitors below.
struct Script : nn::Callback {
  std::string name;
  std::vector<double> values;
  Script(std::string n, std::vector<double> v) : name(std::move(n)), values(std::move(v)) {}
  void on_epoch_end(nn::Model&, int epoch, nn::Logs& l) override { l.set(name, values.at(static_cast<std::size_t>(epoch))); }
};

BOOST_AUTO_TEST_CASE(early_stopping_restores_the_best_weights_when_it_stops) {
  Data d = three_classes(64, 8);
  auto model = small_model(5);
  model->compile(optim::SGD(), "sparse_categorical_crossentropy");
  // The monitored figure improves until epoch 2, then worsens: with patience 2 training stops
  // after epoch 4 (waits 1 and 2 at epochs 3 and 4) and restores epoch 2's weights.
  auto script = std::make_shared<Script>("score", std::vector<double>{5, 4, 3, 3.5, 3.6, 1, 1, 1});
  auto recorder = std::make_shared<Recorder>();
  auto stop = nn::EarlyStopping({.monitor = "score", .patience = 2, .restore_best_weights = true});
  nn::History h = model->fit(d.x, d.y, {.epochs = 8, .verbose = 0, .callbacks = {script, recorder, stop}});
  BOOST_TEST(h.epochs.size() == 5u);
  std::vector<Tensor> now = model->get_weights();
  for (std::size_t i = 0; i < now.size(); ++i) BOOST_TEST(bit_identical(now[i], recorder->weights[2][i]));
  BOOST_TEST(!bit_identical(now[0], recorder->weights[4][0]));
  // A missing monitor is an error naming what the logs hold.
  try {
    model->fit(d.x, d.y, {.epochs = 1, .verbose = 0, .callbacks = {nn::EarlyStopping()}});
    BOOST_FAIL("expected a ModelError");
  } catch (const nn::ModelError& e) {
    BOOST_TEST(contains(e.what(), "val_loss"));
    BOOST_TEST(contains(e.what(), "validation data"));
  }
}

BOOST_AUTO_TEST_CASE(early_stopping_without_restoring_keeps_the_last_weights) {
  Data d = three_classes(64, 8);
  auto model = small_model(6);
  model->compile(optim::SGD(), "sparse_categorical_crossentropy");
  auto script = std::make_shared<Script>("score", std::vector<double>{1, 2, 3, 4, 5});
  auto recorder = std::make_shared<Recorder>();
  nn::History h = model->fit(d.x, d.y, {.epochs = 5, .verbose = 0,
                                        .callbacks = {script, recorder, nn::EarlyStopping({.monitor = "score"})}});
  BOOST_TEST(h.epochs.size() == 2u);  // patience 0: stops at epoch 1 (never at epoch 0)
  BOOST_TEST(bit_identical(model->get_weights()[0], recorder->weights[1][0]));
}

BOOST_AUTO_TEST_CASE(reduce_lr_on_plateau_follows_keras_rules) {
  Data d = three_classes(32, 9);
  auto model = small_model(7);
  model->compile(optim::SGD({.learning_rate = 0.1}), "sparse_categorical_crossentropy");
  // min mode, min_delta 1e-4, patience 2, factor 0.5, cooldown 1 (Keras's on_epoch_end):
  // epochs 0, 1 improve; 2, 3 do not (wait 1, 2) -> after epoch 3 the rate halves to 0.05 and
  // the cooldown counter is 1; epoch 4 spends the cooldown (counter 0, wait 0) and, no longer in
  // cooldown, counts wait 1; epoch 5 wait 2 -> 0.025; epoch 6 spends the cooldown, wait 1;
  // epoch 7 improves.
  std::vector<double> values{1.0, 0.9, 0.95, 0.9, 0.91, 0.92, 0.93, 0.5};
  auto script = std::make_shared<Script>("score", values);
  auto plateau = nn::ReduceLROnPlateau({.monitor = "score", .factor = 0.5, .patience = 2, .cooldown = 1});
  nn::History h = model->fit(d.x, d.y, {.epochs = 8, .verbose = 0, .callbacks = {script, plateau}});
  // "lr" is logged at each epoch's end before any reduction of that epoch.
  std::vector<double> expected{0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025};
  BOOST_REQUIRE(h["lr"].size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) BOOST_TEST(h["lr"][i] == expected[i], tt::tolerance(1e-6));
  BOOST_TEST(model->learning_rate() == 0.025, tt::tolerance(1e-6));
  BOOST_CHECK_THROW(nn::ReduceLROnPlateau({.factor = 1.0}), nn::ModelError);
}

BOOST_AUTO_TEST_CASE(learning_rate_scheduler_sets_the_rate_variable_each_epoch) {
  Data d = three_classes(32, 10);
  auto model = small_model(8);
  model->compile(optim::Nadam({.learning_rate = 0.01}), "sparse_categorical_crossentropy");
  // The chapter's exponential decay by epoch: lr = 0.01 * 0.1^(epoch / 20).
  auto exponential = nn::LearningRateScheduler([](int epoch, double) { return 0.01 * std::pow(0.1, epoch / 20.0); });
  nn::History h = model->fit(d.x, d.y, {.epochs = 3, .verbose = 0, .callbacks = {exponential}});
  for (int e = 0; e < 3; ++e) BOOST_TEST(h["lr"][static_cast<std::size_t>(e)] == 0.01 * std::pow(0.1, e / 20.0), tt::tolerance(1e-6));
  // A rate that follows a schedule cannot be set.
  auto scheduled = small_model(9);
  scheduled->compile(optim::SGD({.schedule = optim::exponential_decay(0.01, 10, 0.1)}), "sparse_categorical_crossentropy");
  BOOST_CHECK_THROW(scheduled->fit(d.x, d.y, {.verbose = 0, .callbacks = {exponential}}), nn::ModelError);
  BOOST_TEST(scheduled->learning_rate() == 0.01, tt::tolerance(1e-9));  // step 0
}

BOOST_AUTO_TEST_CASE(csv_logger_writes_a_row_per_epoch) {
  TempDir dir("csv");
  Data d = three_classes(32, 11);
  auto model = small_model(10);
  model->compile(optim::SGD(), "sparse_categorical_crossentropy", {"accuracy"});
  std::string path = (dir.path / "log.csv").string();
  nn::History h = model->fit(d.x, d.y, {.epochs = 2, .verbose = 0, .callbacks = {nn::CSVLogger(path)}});
  std::ifstream in(path);
  std::string header, row0, row1;
  std::getline(in, header);
  std::getline(in, row0);
  std::getline(in, row1);
  BOOST_TEST(header == "epoch,loss,accuracy");
  BOOST_TEST(row0.rfind("0,", 0) == 0u);
  BOOST_TEST(std::stod(row1.substr(2)) == h["loss"][1], tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(model_checkpoint_saves_the_best_model) {
  TempDir dir("ckpt");
  Data d = three_classes(32, 12);
  auto model = small_model(11);
  model->compile(optim::SGD(), "sparse_categorical_crossentropy");
  auto script = std::make_shared<Script>("score", std::vector<double>{3, 1, 2});
  auto recorder = std::make_shared<Recorder>();
  std::string path = (dir.path / "best").string();
  model->fit(d.x, d.y, {.epochs = 3, .verbose = 0,
                        .callbacks = {script, recorder, nn::ModelCheckpoint(path, {.monitor = "score", .save_best_only = true})}});
  auto best = nn::load_model(path);
  BOOST_TEST(best->epoch() == 2);  // saved after epoch 1 (index), i.e. two epochs done
  std::vector<Tensor> w = best->get_weights();
  for (std::size_t i = 0; i < w.size(); ++i) BOOST_TEST(bit_identical(w[i], recorder->weights[1][i]));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(resuming)

// 4 epochs in one go equal 2 epochs, save, load, 2 more: weights, optimizer state, moving
// statistics, the shuffling and the dropout masks all continue where they stopped.
BOOST_AUTO_TEST_CASE(two_plus_two_epochs_equal_four) {
  TempDir dir("resume");
  Data d = three_classes(200, 13);
  auto compile = [](nn::Model& m) {
    m.compile(optim::Adam({.learning_rate = 0.01}), "sparse_categorical_crossentropy", {"accuracy"});
  };
  auto straight = small_model(21, 0.2);
  compile(*straight);
  straight->fit(d.x, d.y, {.epochs = 4, .verbose = 0});

  auto first = small_model(21, 0.2);
  compile(*first);
  first->fit(d.x, d.y, {.epochs = 2, .verbose = 0});
  std::string path = (dir.path / "half").string();
  nn::save_model(*first, path);
  auto resumed = nn::load_model(path);
  BOOST_TEST(resumed->compiled());
  BOOST_TEST(resumed->epoch() == 2);
  BOOST_TEST(resumed->optimizer().name() == "Adam");
  resumed->fit(d.x, d.y, {.epochs = 4, .verbose = 0, .initial_epoch = resumed->epoch()});

  std::vector<Tensor> a = straight->get_weights(), b = resumed->get_weights();
  BOOST_REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) BOOST_TEST(bit_identical(a[i], b[i]), "weight " << i);
  BOOST_TEST(straight->session().variable_value(straight->optimizer().iterations()).item<std::int64_t>() ==
             resumed->session().variable_value(resumed->optimizer().iterations()).item<std::int64_t>());
}

BOOST_AUTO_TEST_CASE(a_model_file_keeps_the_optimizer_and_its_schedule) {
  TempDir dir("opt");
  auto model = small_model(3);
  model->compile(optim::SGD({.learning_rate = 0.02, .momentum = 0.9, .nesterov = true,
                             .schedule = optim::piecewise_constant({5, 15}, {0.01, 0.005, 0.001}),
                             .clipnorm = 1.0}),
                 "sparse_categorical_crossentropy", {"accuracy"});
  nn::save_model(*model, (dir.path / "m").string());
  auto loaded = nn::load_model((dir.path / "m").string());
  BOOST_TEST((loaded->optimizer().config() == model->optimizer().config()));
  BOOST_TEST(loaded->metrics() == model->metrics());
  BOOST_TEST(loaded->loss().name() == "sparse_categorical_crossentropy");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(graph_transforms_in_fit)

// Nesterov's lookahead and clipping with frozen layers and BatchNormalization's updates: the
// step trains, the frozen layer stays, the moving statistics move.
BOOST_AUTO_TEST_CASE(nesterov_and_clipping_with_frozen_layers_and_batch_norm) {
  Data d = three_classes(128, 14);
  auto model = small_model(12);
  (*model)[0]->set_trainable(false);
  model->compile(optim::SGD({.learning_rate = 0.05, .momentum = 0.9, .nesterov = true, .global_clipnorm = 1.0}),
                 "sparse_categorical_crossentropy", {"accuracy"});
  bool lookahead = false;
  for (const Node& n : model->graph().nodes()) lookahead |= contains(n.name, "lookahead");
  BOOST_TEST(lookahead);
  std::vector<Tensor> before = model->get_weights();
  nn::History h = model->fit(d.x, d.y, {.epochs = 3, .verbose = 0});
  std::vector<Tensor> after = model->get_weights();
  BOOST_TEST(bit_identical(before[0], after[0]));  // frozen kernel
  BOOST_TEST(bit_identical(before[1], after[1]));  // frozen bias
  BOOST_TEST(!bit_identical(before[4], after[4]));  // BN moving mean moved
  BOOST_TEST(!bit_identical(before[6], after[6]));  // last kernel trained
  BOOST_TEST(h["loss"].back() < h["loss"].front());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(numerics_guard)

// Every variable of the model and its optimizer, by value, after each completed step.
struct StateRecorder : nn::Callback {
  std::vector<Output> variables;
  std::vector<Tensor> last;
  int steps = 0;
  void record(nn::Model& m) {
    last.clear();
    for (const Output& v : variables) last.push_back(m.session().variable_value(v));
  }
  void on_train_begin(nn::Model& m) override { record(m); }
  void on_batch_end(nn::Model& m, int, const nn::Logs&) override {
    record(m);
    ++steps;
  }
};

// A rate of 1e30 overflows within a few steps: the guard stops the step that makes the first
// NaN or Inf, with every weight, slot and counter holding the bits of the step before.
BOOST_AUTO_TEST_CASE(a_diverging_fit_stops_with_the_weights_of_the_last_good_step) {
  Data d = three_classes(256, 5);
  auto model = small_model(7);
  model->compile(optim::SGD({.learning_rate = 1e30, .momentum = 0.9}),
                 "sparse_categorical_crossentropy", {"accuracy"});
  auto recorder = std::make_shared<StateRecorder>();
  recorder->variables = model->weights();
  for (const Output& v : model->optimizer().state_variables()) recorder->variables.push_back(v);
  std::ostringstream out;
  std::string message;
  try {
    model->fit(d.x, d.y,
               {.epochs = 3, .batch_size = 32, .verbose = 0, .callbacks = {recorder}, .out = &out,
                .check_numerics = true});
  } catch (const NumericsError& e) {
    message = e.what();
  }
  BOOST_TEST_REQUIRE(!message.empty());  // it diverged, and the guard saw it
  BOOST_TEST(contains(message, "numerics check: node '"), message);
  BOOST_TEST(contains(message, "non-finite"), message);
  BOOST_TEST(recorder->steps < 24);  // stopped before the end of the fit
  BOOST_TEST_REQUIRE(recorder->last.size() == recorder->variables.size());
  for (std::size_t i = 0; i < recorder->variables.size(); ++i)
    BOOST_TEST(bit_identical(model->session().variable_value(recorder->variables[i]), recorder->last[i]),
               recorder->variables[i].name());
  BOOST_TEST(!model->session().check_numerics());  // on for that fit only
  // Without the guard the same fit runs to its end with non-finite weights.
  auto unguarded = small_model(7);
  unguarded->compile(optim::SGD({.learning_rate = 1e30, .momentum = 0.9}),
                     "sparse_categorical_crossentropy", {"accuracy"});
  nn::History h = unguarded->fit(d.x, d.y, {.epochs = 3, .batch_size = 32, .verbose = 0, .out = &out});
  BOOST_TEST(!std::isfinite(h["loss"].back()));
}

BOOST_AUTO_TEST_SUITE_END()
