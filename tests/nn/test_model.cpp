// Models: Sequential and functional construction, parameter counts and the summary table of the
// chapter's models, predict and MC dropout, training with a hand-built step (gradients() and
// assign_sub), freezing, transfer learning, clone_model, model files, and a float64 gradient
// check through every layer type and loss.
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "dagrad/dagrad.hpp"
#include "dagrad/nn/nn.hpp"

using namespace dagrad;
namespace fs = std::filesystem;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag)
      : path(fs::temp_directory_path() / ("dagrad_nn_" + tag + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

Tensor random_tensor(Shape shape, std::uint32_t seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  Tensor t(DType::float32, shape);
  float* p = t.data<float>();
  for (std::int64_t i = 0; i < t.size(); ++i) p[i] = static_cast<float>(u(rng));
  return t;
}

bool bit_identical(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

// Dense parameter count from its definition: inputs * units + units.
std::int64_t dense_params(std::int64_t in, std::int64_t units, bool bias = true) {
  return in * units + (bias ? units : 0);
}

// A hand-built SGD step over the training graph: loss = mean loss + penalties; every trainable
// variable -= lr * gradient, after every gradient is computed; BN updates run too.
struct Step {
  Output loss;
  Output labels;
  Operation train;
};
Step sgd_step(nn::Model& model, const nn::Loss& loss_fn, double lr, DType label_dtype = DType::float32,
              Shape label_shape = Shape{-1, 1}) {
  const nn::ModelGraph& mg = model.training_graph();
  Graph& g = model.graph();
  Step s;
  s.labels = placeholder(g, label_dtype, label_shape, "labels");
  std::vector<Output> terms{loss_fn(s.labels, mg.outputs[0])};
  for (const Output& r : mg.regularization_losses) terms.push_back(r);
  s.loss = terms.size() == 1 ? terms[0] : add_n(terms);
  std::vector<Output> grads = gradients(s.loss, mg.trainable_variables);
  std::vector<Operation> after(grads.begin(), grads.end());
  auto deps = g.control_dependencies(after);
  std::vector<Operation> updates = mg.updates;
  for (std::size_t i = 0; i < grads.size(); ++i)
    updates.push_back(assign_sub(mg.trainable_variables[i], grads[i] * lr));
  s.train = group(g, updates);
  return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sequential)

BOOST_AUTO_TEST_CASE(keras_names_add_pop_and_indexing) {
  nn::Sequential model;
  model.add(nn::Flatten(Shape{28, 28}));
  model.add(nn::Dense(300, {.activation = "relu"}));
  model.add(nn::Dense(100, {.activation = "relu"}));
  model.add(nn::BatchNormalization());
  model.add(nn::Dense(10, {.activation = "softmax"}));
  BOOST_TEST(model.name() == "sequential");
  BOOST_REQUIRE(model.layers().size() == 5u);
  BOOST_TEST(model[0]->name() == "flatten");
  BOOST_TEST(model[1]->name() == "dense");
  BOOST_TEST(model[2]->name() == "dense_1");
  BOOST_TEST(model[3]->name() == "batch_normalization");
  BOOST_TEST(model[4]->name() == "dense_2");
  BOOST_TEST(model.layer("dense_1").get() == model[2].get());
  BOOST_CHECK_THROW(model.layer("dense_7"), nn::ModelError);
  BOOST_CHECK_THROW(model[5], nn::ModelError);
  BOOST_TEST((model.output_shapes()[0] == Shape{-1, 10}));
  model.pop();
  BOOST_TEST(model.layers().size() == 4u);
  BOOST_TEST((model.output_shapes()[0] == Shape{-1, 100}));
  model.add(nn::Dense(1, {.activation = "sigmoid"}));
  BOOST_TEST(model[4]->name() == "dense_3");  // names are never reused in a backend
  BOOST_TEST((model.output_shapes()[0] == Shape{-1, 1}));
  // Weights exist (and have values) as soon as a layer is built, as in Keras.
  BOOST_TEST(model.get_weights().size() == 2u + 2u + 4u + 2u);
}

BOOST_AUTO_TEST_CASE(unbuilt_until_an_input_shape_is_known) {
  nn::Sequential model({nn::Dense(4), nn::Dense(2)});
  BOOST_TEST(!model.built());
  BOOST_TEST(model.layers().size() == 2u);
  std::ostringstream out;
  BOOST_CHECK_THROW(model.summary(out), nn::ModelError);
  model.build(Shape{3});
  BOOST_TEST(model.built());
  BOOST_TEST(model.count_params() == dense_params(3, 4) + dense_params(4, 2));
}

BOOST_AUTO_TEST_CASE(a_layer_that_does_not_fit_is_refused_and_the_model_stays) {
  nn::Sequential model({nn::Flatten(Shape{2, 3}), nn::Dense(4)});
  // A Concatenate needs two inputs; a Sequential gives it one.
  BOOST_CHECK_THROW(model.add(nn::Concatenate()), nn::ModelError);
  BOOST_TEST(model.layers().size() == 2u);
  BOOST_TEST((model.output_shapes()[0] == Shape{-1, 4}));
  BOOST_CHECK_THROW(nn::Dense(0), nn::ModelError);
  BOOST_CHECK_THROW(nn::Dropout(1.0), nn::ModelError);
  BOOST_CHECK_THROW(nn::Dropout(-0.1), nn::ModelError);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(chapter_models)

BOOST_AUTO_TEST_CASE(parameter_counts_of_the_presets) {
  // From the layer definitions (keras-semantics.md sections 3.5 and 10.7), not from the code.
  const std::int64_t bn784 = 4 * 784, bn300 = 4 * 300, bn100 = 4 * 100;
  struct Expected {
    const char* name;
    std::int64_t total, non_trainable;
  };
  const Expected expected[] = {
      {"plain", dense_params(784, 300) + dense_params(300, 100) + dense_params(100, 10), 0},
      {"bn",
       bn784 + dense_params(784, 300) + bn300 + dense_params(300, 100) + bn100 + dense_params(100, 10),
       2 * (784 + 300 + 100)},
      {"bn-before",
       bn784 + dense_params(784, 300, false) + bn300 + dense_params(300, 100, false) + bn100 +
           dense_params(100, 10),
       2 * (784 + 300 + 100)},
      {"dropout", dense_params(784, 300) + dense_params(300, 100) + dense_params(100, 10), 0},
  };
  for (const Expected& e : expected) {
    BOOST_TEST_CONTEXT(e.name) {
      auto model = nn::make_preset(e.name);
      BOOST_TEST(model->count_params() == e.total);
      std::int64_t non_trainable = 0;
      for (const Output& w : model->non_trainable_weights()) non_trainable += w.shape().num_elements();
      BOOST_TEST(non_trainable == e.non_trainable);
    }
  }
  // The book's figures: 266,610 for the plain model, 271,346 / 268,978 / 2,368 with BN.
  BOOST_TEST(expected[0].total == 266610);
  BOOST_TEST(expected[1].total == 271346);
  BOOST_TEST(expected[1].total - expected[1].non_trainable == 268978);
  BOOST_TEST(expected[2].total == 270946);

  nn::PresetOptions deep;
  deep.hidden_layers = 100;
  auto selu = nn::make_preset("selu", deep);
  // Flatten, Normalization (mean and variance of the 784 pixels, not trainable), 100 hidden
  // layers, the output layer.
  BOOST_TEST(selu->layers().size() == 1u + 1u + 100u + 1u);
  BOOST_TEST(selu->count_params() ==
             2 * 784 + dense_params(784, 300) + dense_params(300, 100) + 98 * dense_params(100, 100) +
                 dense_params(100, 10));
  BOOST_TEST(selu->non_trainable_weights().size() == 2u);
  BOOST_CHECK_THROW(nn::make_preset("resnet"), nn::ModelError);
}

BOOST_AUTO_TEST_CASE(the_cnn_preset_is_two_conv_bn_relu_pool_blocks_and_a_dense_head) {
  // 3x3 kernels without bias (BatchNormalization follows): 3*3*1*32 and 3*3*32*64; two 2x2
  // poolings take 28x28 to 7x7, so the Dense(128, no bias) reads 7*7*64 = 3136 features;
  // Dropout(0.4) before each Dense.
  auto model = nn::make_preset("cnn");
  const std::int64_t conv = 3 * 3 * 1 * 32 + 3 * 3 * 32 * 64;
  const std::int64_t bn = 4 * 32 + 4 * 64 + 4 * 128;
  BOOST_TEST(model->count_params() == conv + bn + dense_params(3136, 128, false) + dense_params(128, 10));
  BOOST_TEST(model->count_params() == 422314);
  std::int64_t non_trainable = 0;
  for (const Output& w : model->non_trainable_weights()) non_trainable += w.shape().num_elements();
  BOOST_TEST(non_trainable == 2 * (32 + 64 + 128));
  std::vector<std::string> types;
  for (const auto& layer : model->layers()) types.push_back(layer->type());
  const std::vector<std::string> expected = {
      "Reshape", "Conv2D",  "BatchNormalization", "Activation", "MaxPooling2D",
      "Conv2D",  "BatchNormalization", "Activation", "MaxPooling2D", "Flatten",
      "Dropout", "Dense",   "BatchNormalization", "Activation", "Dropout",
      "Dense"};
  BOOST_TEST(types == expected, boost::test_tools::per_element());
  BOOST_TEST((model->output_shapes()[0] == Shape{-1, 10}));

  // Without BatchNormalization the convolutions carry their bias and activation.
  nn::ModelSpec spec = nn::preset_spec("cnn");
  spec.batchnorm = "none";
  auto plain = nn::make_model(spec);
  BOOST_TEST(plain->layers().size() == 1u + 2 * 2 + 1 + 2 * 2);  // Conv2D, MaxPool2D; Dropout, Dense
  BOOST_TEST(plain->count_params() == conv + 32 + 64 + dense_params(3136, 128) + dense_params(128, 10));

  spec.conv_filters = {8, 8, 8, 8, 8};  // 28 -> 14 -> 7 -> 3 -> 1 -> nothing
  BOOST_CHECK_THROW(nn::make_model(spec), nn::ModelError);
  spec.conv_filters = {8, 0};
  BOOST_CHECK_THROW(nn::make_model(spec), nn::ModelError);
}

BOOST_AUTO_TEST_CASE(summary_prints_the_books_table) {
  auto model = nn::make_preset("bn");
  std::ostringstream out;
  model->summary(out);
  // Keras 2.6's print_row: columns at 29, 55, 65; long names cut at the column.
  const std::string expected =
      "Model: \"sequential\"\n"
      "_________________________________________________________________\n"
      "Layer (type)                 Output Shape              Param #\n"
      "=================================================================\n"
      "flatten (Flatten)            (None, 784)               0\n"
      "_________________________________________________________________\n"
      "batch_normalization (BatchNo (None, 784)               3136\n"
      "_________________________________________________________________\n"
      "dense (Dense)                (None, 300)               235500\n"
      "_________________________________________________________________\n"
      "batch_normalization_1 (Batch (None, 300)               1200\n"
      "_________________________________________________________________\n"
      "dense_1 (Dense)              (None, 100)               30100\n"
      "_________________________________________________________________\n"
      "batch_normalization_2 (Batch (None, 100)               400\n"
      "_________________________________________________________________\n"
      "dense_2 (Dense)              (None, 10)                1010\n"
      "=================================================================\n"
      "Total params: 271,346\n"
      "Trainable params: 268,978\n"
      "Non-trainable params: 2,368\n"
      "_________________________________________________________________\n";
  BOOST_TEST(out.str() == expected);
}

BOOST_AUTO_TEST_CASE(a_frozen_layer_counts_as_non_trainable) {
  auto model = nn::make_preset("plain");
  model->layer("dense")->set_trainable(false);
  std::ostringstream out;
  model->summary(out);
  BOOST_TEST(contains(out.str(), "Trainable params: " + std::string("31,110")));  // 30100 + 1010
  BOOST_TEST(contains(out.str(), "Non-trainable params: 235,500"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(functional)

// Wide & Deep (Géron ch. 10): the input goes through two hidden layers and, concatenated with
// their output, into the output layer.
BOOST_AUTO_TEST_CASE(wide_and_deep_predicts_what_its_formula_gives) {
  nn::Symbol input = nn::Input(Shape{3}, "features");
  nn::Symbol h1 = nn::call(nn::Dense(4, {.activation = "relu"}), input);
  nn::Symbol h2 = nn::call(nn::Dense(2, {.activation = "tanh"}), h1);
  nn::Symbol both = nn::call(nn::Concatenate(), {input, h2});
  nn::Symbol out = nn::call(nn::Dense(1), both);
  nn::Model model({input}, {out}, "wide_deep");
  BOOST_TEST(model.count_params() == dense_params(3, 4) + dense_params(4, 2) + dense_params(5, 1));
  BOOST_TEST((out.shape() == Shape{-1, 1}));

  std::vector<Tensor> w = model.get_weights();  // k1, b1, k2, b2, k3, b3
  BOOST_REQUIRE(w.size() == 6u);
  // Non-zero biases, so that the test sees them.
  for (int i : {1, 3, 5}) w[i] = random_tensor(w[i].shape(), 10 + i);
  model.set_weights(w);
  Tensor x = random_tensor({5, 3}, 7);
  Tensor y = model.predict(x, 2);  // batches of 2, 2 and 1
  BOOST_REQUIRE((y.shape() == Shape{5, 1}));
  auto at = [](const Tensor& t, int r, int c) { return static_cast<double>(t.data<float>()[r * t.shape()[1] + c]); };
  for (int r = 0; r < 5; ++r) {
    double a1[4], a2[2];
    for (int j = 0; j < 4; ++j) {
      double s = w[1].data<float>()[j];
      for (int i = 0; i < 3; ++i) s += at(x, r, i) * at(w[0], i, j);
      a1[j] = std::max(0.0, s);
    }
    for (int j = 0; j < 2; ++j) {
      double s = w[3].data<float>()[j];
      for (int i = 0; i < 4; ++i) s += a1[i] * at(w[2], i, j);
      a2[j] = std::tanh(s);
    }
    double o = w[5].data<float>()[0];
    for (int i = 0; i < 3; ++i) o += at(x, r, i) * at(w[4], i, 0);
    for (int i = 0; i < 2; ++i) o += a2[i] * at(w[4], 3 + i, 0);
    BOOST_TEST(y.data<float>()[r] == o, boost::test_tools::tolerance(1e-5));
  }

  std::ostringstream table;
  model.summary(table);
  BOOST_TEST(contains(table.str(), "features (InputLayer)"));
  BOOST_TEST(contains(table.str(), "Connected to"));
  BOOST_TEST(contains(table.str(), "features[0][0]"));
  BOOST_TEST(contains(table.str(), "dense_1[0][0]"));
}

BOOST_AUTO_TEST_CASE(skip_connection_with_add) {
  nn::Symbol x = nn::Input(Shape{4});
  nn::Symbol h = nn::call(nn::Dense(4, {.kernel_initializer = "zeros"}), x);
  nn::Symbol y = nn::call(nn::Add(), {x, h});
  nn::Model model({x}, {y});
  Tensor in = random_tensor({3, 4}, 3);
  // With a zero kernel and bias the block is the identity: y = x + 0.
  BOOST_TEST(bit_identical(model.predict(in), in));
}

BOOST_AUTO_TEST_CASE(inputs_from_two_backends_are_refused) {
  nn::Symbol a = nn::Input(Shape{2});
  nn::Symbol b = nn::Input(Shape{2});
  BOOST_CHECK_THROW(nn::call(nn::Add(), {a, b}), nn::ModelError);
  nn::Symbol c = nn::Input(Shape{2}, "c", a.backend());
  nn::Symbol sum = nn::call(nn::Add(), {a, c});
  // An output that depends on an input the model does not declare.
  BOOST_CHECK_THROW(nn::Model({a}, {sum}), nn::ModelError);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(predict)

BOOST_AUTO_TEST_CASE(bad_inputs_get_clear_errors) {
  auto model = nn::make_preset("plain");
  Tensor wrong_shape(DType::float32, Shape{2, 784});
  try {
    model->predict(wrong_shape);
    BOOST_FAIL("expected a ModelError");
  } catch (const nn::ModelError& e) {
    BOOST_TEST(contains(e.what(), "(None, 28, 28)"));
    BOOST_TEST(contains(e.what(), "(2, 784)"));
  }
  Tensor wrong_dtype(DType::float64, Shape{2, 28, 28});
  try {
    model->predict(wrong_dtype);
    BOOST_FAIL("expected a ModelError");
  } catch (const nn::ModelError& e) {
    BOOST_TEST(contains(e.what(), "float64"));
  }
  BOOST_CHECK_THROW(model->predict(Tensor(DType::float32, Shape{2, 28, 28}), 0), nn::ModelError);
  // No rows: an empty result of the output's shape.
  Tensor none = model->predict(Tensor(DType::float32, Shape{0, 28, 28}));
  BOOST_TEST((none.shape() == Shape{0, 10}));
}

BOOST_AUTO_TEST_CASE(the_batch_size_does_not_change_the_result) {
  auto model = nn::make_preset("bn");
  Tensor x = random_tensor({7, 28, 28}, 5, 0.0, 1.0);
  Tensor a = model->predict(x, 32);
  Tensor b = model->predict(x, 3);
  // Equal up to rounding: BLAS may block a 7-row product differently from a 3-row one.
  for (std::int64_t i = 0; i < a.size(); ++i)
    BOOST_TEST(a.data<float>()[i] == b.data<float>()[i], boost::test_tools::tolerance(1e-5f));
  // Rows of a softmax sum to one.
  for (int r = 0; r < 7; ++r) {
    double s = 0;
    for (int c = 0; c < 10; ++c) s += a.data<float>()[r * 10 + c];
    BOOST_TEST(s == 1.0, boost::test_tools::tolerance(1e-5));
  }
}

BOOST_AUTO_TEST_CASE(mc_dropout_mean_and_stddev_follow_the_bernoulli_formula) {
  // Dropout(0.5) on ones: each pass gives 0 or 2 per element with probability 1/2, so across
  // passes the mean is 1 and the (population) standard deviation 1.
  nn::Sequential model({nn::Dropout(0.5)});
  model.build(Shape{50});
  Tensor ones(DType::float32, Shape{4, 50});
  for (std::int64_t i = 0; i < ones.size(); ++i) ones.data<float>()[i] = 1.0f;
  BOOST_TEST(bit_identical(model.predict(ones), ones));  // inference: identity
  const int samples = 400;
  nn::McPrediction mc = model.predict_mc_dropout(ones, samples, 3);
  BOOST_REQUIRE((mc.mean.shape() == Shape{4, 50}));
  // Each element's mean over n passes has standard error 1 / sqrt(n) = 0.05; the sample stddev
  // of a {0, 2} variable is 2 sqrt(p (1 - p)) with p the observed fraction, so stddev^2 +
  // (mean - 1)^2 == 1 holds exactly for every element.
  double worst = 0;
  for (std::int64_t i = 0; i < mc.mean.size(); ++i) {
    double m = mc.mean.data<float>()[i], s = mc.stddev.data<float>()[i];
    worst = std::max(worst, std::abs(m - 1.0));
    BOOST_TEST(s * s + (m - 1.0) * (m - 1.0) == 1.0, boost::test_tools::tolerance(1e-5));
  }
  BOOST_TEST(worst < 5 * 0.05 + 0.05);  // 200 elements: the largest of 200 |z| stays under ~4
}

BOOST_AUTO_TEST_CASE(mc_dropout_keeps_batch_normalization_in_inference_mode) {
  // Without dropout the MC graph is deterministic and equals predict, even with BN layers.
  auto model = nn::make_preset("bn");
  Tensor x = random_tensor({3, 28, 28}, 9, 0.0, 1.0);
  nn::McPrediction mc = model->predict_mc_dropout(x, 3);
  Tensor y = model->predict(x);
  for (std::int64_t i = 0; i < y.size(); ++i) {
    BOOST_TEST(mc.mean.data<float>()[i] == y.data<float>()[i], boost::test_tools::tolerance(1e-6));
    BOOST_TEST(mc.stddev.data<float>()[i] == 0.0f, boost::test_tools::tolerance(1e-6));
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(training)

BOOST_AUTO_TEST_CASE(a_hand_built_sgd_step_learns_a_linear_rule) {
  // Two classes split by the sign of x0 + x1; a small MLP learns it with plain SGD.
  auto backend = std::make_shared<nn::Backend>(3);
  nn::Sequential model({nn::Dense(16, {.activation = "relu", .input_shape = Shape{2}}),
                        nn::Dense(1, {.activation = "sigmoid"})},
                       "", backend);
  Step step = sgd_step(model, "binary_crossentropy", 0.5);
  Tensor x = random_tensor({64, 2}, 11);
  Tensor t(DType::float32, Shape{64, 1});
  for (int i = 0; i < 64; ++i) t.data<float>()[i] = x.data<float>()[2 * i] + x.data<float>()[2 * i + 1] > 0 ? 1.f : 0.f;
  Session& s = model.session();
  const nn::ModelGraph& mg = model.training_graph();
  double first = s.run(step.loss, {{mg.inputs[0], x}, {step.labels, t}}).item<float>();
  for (int i = 0; i < 300; ++i) s.run({}, {{mg.inputs[0], x}, {step.labels, t}}, {step.train});
  double last = s.run(step.loss, {{mg.inputs[0], x}, {step.labels, t}}).item<float>();
  BOOST_TEST(last < first * 0.5);
  Tensor p = model.predict(x);
  int correct = 0;
  for (int i = 0; i < 64; ++i) correct += (p.data<float>()[i] > 0.5f) == (t.data<float>()[i] > 0.5f);
  BOOST_TEST(correct >= 60);
}

BOOST_AUTO_TEST_CASE(a_frozen_layer_is_bit_identical_after_a_step_and_the_others_change) {
  nn::Sequential model({nn::Dense(8, {.activation = "elu", .input_shape = Shape{4}}),
                        nn::BatchNormalization(), nn::Dense(3, {.activation = "softmax"})});
  model[0]->set_trainable(false);
  model[1]->set_trainable(false);  // a frozen BN: inference mode, no moving-statistics update
  Step step = sgd_step(model, "sparse_categorical_crossentropy", 0.1, DType::int32, Shape{-1});
  const nn::ModelGraph& mg = model.training_graph();
  BOOST_TEST(mg.trainable_variables.size() == 2u);  // the last Dense's kernel and bias
  BOOST_TEST(mg.updates.empty());
  std::vector<Tensor> before = model.get_weights();
  Tensor x = random_tensor({6, 4}, 1);
  Tensor labels = Tensor::from_vector<std::int32_t>({6}, {0, 1, 2, 0, 1, 2});
  // The frozen BN normalizes with its moving statistics in the training graph too, so without
  // dropout the training graph computes what the inference graph computes.
  Tensor train_out = model.session().run(mg.outputs[0], {{mg.inputs[0], x}});
  BOOST_TEST(bit_identical(train_out, model.predict(x)));
  model.session().run({}, {{mg.inputs[0], x}, {step.labels, labels}}, {step.train});
  std::vector<Tensor> after = model.get_weights();
  for (int i = 0; i < 6; ++i) BOOST_TEST(bit_identical(before[i], after[i]), "weight " << i);
  BOOST_TEST(!bit_identical(before[6], after[6]));
  BOOST_TEST(!bit_identical(before[7], after[7]));
}

BOOST_AUTO_TEST_CASE(unfreezing_takes_effect_when_the_training_graph_is_next_built) {
  nn::Sequential model({nn::Dense(2, {.input_shape = Shape{3}}), nn::Dense(1)});
  model.set_trainable(false);
  BOOST_TEST(model.training_graph().trainable_variables.empty());
  model.set_trainable(true);
  BOOST_TEST(model.training_graph().trainable_variables.size() == 4u);
  BOOST_TEST(model.graph().trainable_variables().size() == 4u);
}

BOOST_AUTO_TEST_CASE(regularization_penalties_and_max_norm_follow_keras) {
  nn::Sequential model({nn::Dense(5, {.kernel_regularizer = nn::Regularizer::L2(0.01),
                                      .bias_regularizer = nn::Regularizer::L1(0.1),
                                      .kernel_constraint = nn::MaxNorm{0.5, 0},
                                      .input_shape = Shape{4}})});
  std::vector<Tensor> w = model.get_weights();
  w[1] = random_tensor({5}, 4);
  model.set_weights(w);
  const nn::ModelGraph& mg = model.training_graph();
  BOOST_REQUIRE(mg.regularization_losses.size() == 2u);
  double l2 = 0, l1 = 0;
  for (std::int64_t i = 0; i < w[0].size(); ++i) l2 += 0.01 * w[0].data<float>()[i] * w[0].data<float>()[i];
  for (std::int64_t i = 0; i < w[1].size(); ++i) l1 += 0.1 * std::abs(w[1].data<float>()[i]);
  BOOST_TEST(model.session().run(mg.regularization_losses[0]).item<float>() == l2,
             boost::test_tools::tolerance(1e-5));
  BOOST_TEST(model.session().run(mg.regularization_losses[1]).item<float>() == l1,
             boost::test_tools::tolerance(1e-5));

  // max_norm: w <- w * clip(norm, 0, 0.5) / (1e-7 + norm), per column (axis 0).
  std::vector<Operation> constraints = model.constraint_updates({});
  BOOST_REQUIRE(constraints.size() == 1u);
  model.session().run_targets(constraints);
  Tensor k = model.get_weights()[0];
  for (int c = 0; c < 5; ++c) {
    double norm = 0;
    for (int r = 0; r < 4; ++r) norm += std::pow(w[0].data<float>()[r * 5 + c], 2);
    norm = std::sqrt(norm);
    double factor = std::min(norm, 0.5) / (1e-7 + norm);
    for (int r = 0; r < 4; ++r)
      BOOST_TEST(k.data<float>()[r * 5 + c] == w[0].data<float>()[r * 5 + c] * factor,
                 boost::test_tools::tolerance(1e-6));
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(transfer_learning)

// The chapter's recipe: model_B_on_A = model_A.layers[:-1] + Dense(1, sigmoid), shared or on a
// clone of model A.
BOOST_AUTO_TEST_CASE(shared_layers_train_both_models_cloned_ones_do_not) {
  nn::Sequential model_a({nn::Flatten(Shape{2, 2}), nn::Dense(6, {.activation = "selu"}),
                          nn::Dense(3, {.activation = "softmax"})});
  Tensor x = random_tensor({4, 2, 2}, 2);
  Tensor labels(DType::float32, Shape{4, 1});
  for (int i = 0; i < 4; ++i) labels.data<float>()[i] = static_cast<float>(i % 2);

  // Clone first: new backend, fresh weights, same names; then copy the weights explicitly.
  std::unique_ptr<nn::Model> clone = nn::clone_model(model_a);
  BOOST_TEST(clone->layers().size() == 3u);
  BOOST_TEST(clone->layer("dense")->type() == "Dense");
  BOOST_TEST(&clone->backend() != &model_a.backend());
  clone->set_weights(model_a.get_weights());
  BOOST_TEST(bit_identical(clone->predict(x), model_a.predict(x)));

  std::vector<nn::LayerPtr> reused(clone->layers().begin(), clone->layers().end() - 1);
  reused.push_back(nn::Dense(1, {.activation = "sigmoid"}));
  nn::Sequential b_on_a(reused);
  for (std::size_t i = 0; i + 1 < reused.size(); ++i) reused[i]->set_trainable(false);
  Step step = sgd_step(b_on_a, "binary_crossentropy", 0.1);
  const nn::ModelGraph& mg = b_on_a.training_graph();
  BOOST_TEST(mg.trainable_variables.size() == 2u);
  std::vector<Tensor> clone_before = clone->get_weights();
  b_on_a.session().run({}, {{mg.inputs[0], x}, {step.labels, labels}}, {step.train});
  // Frozen reused layers: the clone's weights did not move; model A is untouched anyway.
  std::vector<Tensor> clone_after = clone->get_weights();
  for (std::size_t i = 0; i + 2 < clone_after.size(); ++i) BOOST_TEST(bit_identical(clone_before[i], clone_after[i]));

  // Unfreeze: the next training graph trains the shared layers, which changes the clone's
  // weights (shared), never model A's (cloned).
  for (auto& l : reused) l->set_trainable(true);
  Step step2 = sgd_step(b_on_a, "binary_crossentropy", 0.1);
  const nn::ModelGraph& mg2 = b_on_a.training_graph();
  BOOST_TEST(mg2.trainable_variables.size() == 4u);
  std::vector<Tensor> a_before = model_a.get_weights();
  b_on_a.session().run({}, {{mg2.inputs[0], x}, {step2.labels, labels}}, {step2.train});
  BOOST_TEST(!bit_identical(clone_before[1], clone->get_weights()[1]));
  std::vector<Tensor> a_after = model_a.get_weights();
  for (std::size_t i = 0; i < a_after.size(); ++i) BOOST_TEST(bit_identical(a_before[i], a_after[i]));
}

BOOST_AUTO_TEST_CASE(set_weights_checks_count_and_shapes_before_setting_anything) {
  nn::Sequential model({nn::Dense(3, {.input_shape = Shape{2}})});
  std::vector<Tensor> w = model.get_weights();
  std::vector<Tensor> bad = {Tensor(DType::float32, Shape{2, 3}), Tensor(DType::float32, Shape{4})};
  try {
    model.set_weights(bad);
    BOOST_FAIL("expected a ModelError");
  } catch (const nn::ModelError& e) {
    BOOST_TEST(contains(e.what(), "dense/bias"));
    BOOST_TEST(contains(e.what(), "(4,)"));
  }
  BOOST_TEST(bit_identical(model.get_weights()[0], w[0]));  // nothing was set
  BOOST_CHECK_THROW(model.set_weights({w[0]}), nn::ModelError);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(model_files)

BOOST_AUTO_TEST_CASE(save_load_predict_is_bit_identical) {
  TempDir dir("save");
  auto model = nn::make_preset("bn");
  // Move the moving statistics away from their initial values, so that loading must restore them.
  std::vector<Tensor> w = model->get_weights();
  for (std::size_t i = 0; i < w.size(); ++i)
    if (w[i].shape().rank() == 1) w[i] = random_tensor(w[i].shape(), 100 + static_cast<std::uint32_t>(i), 0.5, 1.5);
  model->set_weights(w);
  Tensor x = random_tensor({5, 28, 28}, 8, 0.0, 1.0);
  Tensor expected = model->predict(x);
  std::string path = (dir.path / "bn_model").string();
  nn::save_model(*model, path);
  BOOST_TEST(fs::exists(dir.path / "bn_model" / "model.json"));
  BOOST_TEST(fs::exists(dir.path / "bn_model" / "inference.dagrad" / "graph.json"));
  BOOST_TEST(fs::exists(dir.path / "bn_model" / "weights" / "checkpoint.json"));
  std::unique_ptr<nn::Model> loaded = nn::load_model(path);
  BOOST_TEST(loaded->type() == "Sequential");
  BOOST_TEST(loaded->count_params() == 271346);
  BOOST_TEST(bit_identical(loaded->predict(x), expected));
  std::ostringstream a, b;
  model->summary(a);
  loaded->summary(b);
  BOOST_TEST(a.str() == b.str());
  // Saving again over a model file replaces it.
  nn::save_model(*loaded, path);
  BOOST_TEST(bit_identical(nn::load_model(path)->predict(x), expected));
}

BOOST_AUTO_TEST_CASE(functional_models_round_trip) {
  TempDir dir("functional");
  nn::Symbol input = nn::Input(Shape{3}, "wide");
  nn::Symbol h = nn::call(nn::Dense(4, {.activation = "relu", .kernel_regularizer = nn::Regularizer::L1L2()}), input);
  nn::Symbol prelu = nn::call(nn::PReLU({.alpha_initializer = nn::Initializer::constant(0.25)}), h);
  nn::Symbol both = nn::call(nn::Concatenate(), {input, prelu});
  nn::Symbol out = nn::call(nn::Dense(2, {.kernel_constraint = nn::MaxNorm{1.0, 0}}), both);
  nn::Model model({input}, {out}, "wide_deep");
  Tensor x = random_tensor({4, 3}, 1);
  std::string path = (dir.path / "m").string();
  nn::save_model(model, path);
  auto loaded = nn::load_model(path);
  BOOST_TEST(loaded->type() == "Functional");
  BOOST_TEST(loaded->name() == "wide_deep");
  BOOST_TEST(bit_identical(loaded->predict(x), model.predict(x)));
  BOOST_TEST((loaded->layer("p_re_lu")->config() == model.layer("p_re_lu")->config()));
  BOOST_TEST((loaded->layer("dense")->config() == model.layer("dense")->config()));
  BOOST_TEST((loaded->layer("dense_1")->config() == model.layer("dense_1")->config()));
}

BOOST_AUTO_TEST_CASE(bad_files_are_clear_errors_naming_file_and_variable) {
  TempDir dir("bad");
  nn::Sequential model({nn::Dense(3, {.input_shape = Shape{2}})});
  std::string path = (dir.path / "m").string();
  nn::save_model(model, path);
  fs::path index = dir.path / "m" / "model.json";
  std::string text;
  {
    std::ifstream in(index);
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  auto expect_file_error = [&](const std::string& content, const std::vector<std::string>& parts) {
    {
      std::ofstream out(index, std::ios::trunc);
      out << content;
    }
    try {
      nn::load_model(path);
      BOOST_FAIL("expected a FileError");
    } catch (const FileError& e) {
      BOOST_TEST(contains(e.what(), path), e.what());
      for (const std::string& p : parts) BOOST_TEST(contains(e.what(), p), e.what() << " lacks " << p);
    }
  };
  expect_file_error(text.substr(0, text.size() / 2), {"invalid JSON at byte"});
  std::string v2 = text;
  v2.replace(v2.find("\"version\": 1"), 12, "\"version\": 2");
  expect_file_error(v2, {"version 2", "reads version 1"});
  std::string other_units = text;
  other_units.replace(other_units.find("\"units\": 3"), 10, "\"units\": 4");
  expect_file_error(other_units, {"dense/kernel"});
  // Not a model directory at all; nothing there is deleted by a failed save either.
  fs::create_directories(dir.path / "notes");
  { std::ofstream(dir.path / "notes" / "keep.txt") << "mine"; }
  BOOST_CHECK_THROW(nn::save_model(model, (dir.path / "notes").string()), FileError);
  BOOST_TEST(fs::exists(dir.path / "notes" / "keep.txt"));
  BOOST_CHECK_THROW(nn::load_model((dir.path / "missing").string()), FileError);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(gradient_check)

// Every layer type and every loss in one small model, checked in float64 against central
// differences: the training graph's random draws (dropout masks, RReLU slopes) are fixed by
// cloning the loss with each random output replaced by a constant of the values it drew.
BOOST_AUTO_TEST_CASE(every_layer_and_loss_in_float64) {
  auto backend = std::make_shared<nn::Backend>(5);
  nn::Symbol input = nn::Input(Shape{2, 3}, "x", backend);
  nn::Symbol flat = nn::call(nn::Flatten(), input);
  nn::Symbol h = nn::call(nn::Dense(5, {.activation = "tanh", .kernel_regularizer = nn::Regularizer::L1L2(0.01, 0.02)}), flat);
  h = nn::call(nn::BatchNormalization(), h);
  h = nn::call(nn::PReLU({.alpha_initializer = nn::Initializer::constant(0.1)}), h);
  h = nn::call(nn::Dropout(0.3), h);
  h = nn::call(nn::RReLU(), h);
  h = nn::call(nn::AlphaDropout(0.2), h);
  h = nn::call(nn::LeakyReLU(), h);
  h = nn::call(nn::ELU(0.7), h);
  h = nn::call(nn::ActivationLayer("selu"), h);
  nn::Symbol skip = nn::call(nn::Dense(5, {.activation = "softplus"}), flat);
  h = nn::call(nn::Add(), {h, skip});
  h = nn::call(nn::Concatenate(), {h, flat});
  nn::Symbol probs = nn::call(nn::Dense(3, {.activation = "softmax"}), h);
  nn::Symbol binary = nn::call(nn::Dense(1, {.activation = "sigmoid"}), h);
  nn::Symbol linear = nn::call(nn::Dense(2), h);
  nn::Model model({input}, {probs, binary, linear});

  Graph& g = model.graph();
  const nn::ModelGraph& mg = model.training_graph();
  Output onehot = placeholder(g, DType::float32, Shape{-1, 3}, "onehot");
  Output sparse = placeholder(g, DType::int32, Shape{-1}, "sparse");
  Output bits = placeholder(g, DType::float32, Shape{-1, 1}, "bits");
  Output targets = placeholder(g, DType::float32, Shape{-1, 2}, "targets");
  std::vector<Output> terms{nn::Loss("categorical_crossentropy")(onehot, mg.outputs[0]),
                            nn::Loss("sparse_categorical_crossentropy")(sparse, mg.outputs[0]),
                            nn::Loss("binary_crossentropy")(bits, mg.outputs[1]),
                            nn::Loss("mse")(targets, mg.outputs[2]),
                            nn::Loss("mae")(targets, mg.outputs[2])};
  for (const Output& r : mg.regularization_losses) terms.push_back(r);
  Output loss = add_n(terms, "total_loss");

  const int n = 6;
  std::vector<Feed> feeds{{mg.inputs[0], random_tensor({n, 2, 3}, 21)},
                          {onehot, Tensor::from_vector<float>({n, 3}, {1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1})},
                          {sparse, Tensor::from_vector<std::int32_t>({n}, {2, 1, 0, 2, 1, 0})},
                          {bits, Tensor::from_vector<float>({n, 1}, {1, 0, 1, 1, 0, 0})},
                          {targets, random_tensor({n, 2}, 22)}};
  // Fix the draws: run every random node of the loss once and substitute its values.
  std::vector<Output> random_outputs;
  for (const Node& node : g.nodes())
    if (node.op->uses_rng && node.name.find("/train/") != std::string::npos)
      random_outputs.push_back(g.output_of(node.id));
  BOOST_REQUIRE(random_outputs.size() >= 3u);  // dropout, RReLU, alpha dropout
  std::vector<Tensor> drawn = model.session().run(random_outputs, feeds);
  std::vector<std::pair<Output, Output>> fixed;
  for (std::size_t i = 0; i < random_outputs.size(); ++i)
    fixed.emplace_back(random_outputs[i], constant(g, drawn[i]));
  CloneOptions options;
  options.scope = "fixed_draws";
  Output deterministic = clone({loss}, fixed, options).outputs[0];

  // The float64 twin of the whole graph, with the float32 values widened.
  std::unique_ptr<Graph> g64 = promote_to_float64(g);
  Session s64(*g64);
  std::vector<Output> xs;
  for (const Output& v : model.trainable_weights()) {
    Output v64 = g64->output(v.name());
    s64.set_variable_value(v64, widen_to_float64(model.session().variable_value(v)));
    xs.push_back(v64);
  }
  for (const Output& v : model.non_trainable_weights())
    s64.set_variable_value(g64->output(v.name()), widen_to_float64(model.session().variable_value(v)));
  std::vector<Feed> feeds64;
  for (const Feed& f : feeds) feeds64.push_back({g64->output(f.placeholder.name()), widen_to_float64(f.value)});
  BOOST_TEST(xs.size() == model.trainable_weights().size());
  GradCheckResult r = check_graph_gradients(s64, g64->output(deterministic.name()), xs, feeds64);
  BOOST_TEST(r.passed, r.message << " max abs " << r.max_abs_error << " max rel " << r.max_rel_error);
}

BOOST_AUTO_TEST_SUITE_END()
