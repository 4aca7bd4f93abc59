// The nn API used wrongly, as a newcomer would: every mistake is a ModelError (or FileError)
// that names what was wrong, when the layer or model is made, never a std:: exception, a crash
// or a silently wrong result. Also the cases that look like misuse but are valid.
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <random>
#include <set>
#include <sstream>

#include "dagrad/dagrad.hpp"

using namespace dagrad;
namespace fs = std::filesystem;

namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

Tensor uniform_tensor(Shape shape, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  Tensor t(DType::float32, shape);
  for (std::int64_t i = 0; i < t.size(); ++i) t.data<float>()[i] = static_cast<float>(u(rng));
  return t;
}

// Runs f, which must throw E; returns the message (empty, with a test failure, otherwise).
template <class E, class F>
std::string message_of(F f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    BOOST_ERROR("expected another exception type, got: " << e.what());
    return "";
  }
  BOOST_ERROR("expected an exception");
  return "";
}

// A custom layer whose output has one row whatever the batch, while it declares (batch, f).
class BatchMeanLayer : public nn::Layer {
 public:
  std::string type() const override { return "BatchMean"; }
  Shape output_shape(const std::vector<Shape>& in) const override { return in.at(0); }
  Output call(const std::vector<Output>& in, nn::CallContext&) override {
    return mean(in.at(0), {0}, true);
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(misuse_layers)

BOOST_AUTO_TEST_CASE(a_weight_too_large_for_the_machine_is_a_model_error) {
  // 784 x 2^40 float32 is 3.4 PB: refused before anything is allocated (it was std::bad_alloc).
  auto backend = std::make_shared<nn::Backend>();
  nn::LayerPtr huge = nn::Dense(std::int64_t{1} << 40);
  std::string m = message_of<nn::ModelError>([&] {
    nn::Sequential({nn::Flatten(Shape{28, 28}), huge}, "", backend);
  });
  BOOST_TEST(contains(m, "kernel"), m);
  BOOST_TEST(contains(m, "(784, 1099511627776)"), m);
  BOOST_TEST(contains(m, "memory"), m);
  // The layer stays unbuilt and buildable: the same error again, not "name already used".
  BOOST_TEST(!huge->built());
  std::string again = message_of<nn::ModelError>([&] {
    nn::Sequential({nn::Flatten(Shape{28, 28}), huge}, "", backend);
  });
  BOOST_TEST(contains(again, "memory"), again);
  // More elements than an int64 counts (it was std::invalid_argument from Shape).
  std::string overflow = message_of<nn::ModelError>([] {
    nn::Sequential(
        {nn::Dense(std::numeric_limits<std::int64_t>::max() / 2, {.input_shape = Shape{784}})});
  });
  BOOST_TEST(contains(overflow, "int64"), overflow);
  // The backend is still usable: a layer that fits builds, with its variables initialized.
  nn::Sequential small({nn::Dense(3, {.input_shape = Shape{2}})}, "", backend);
  BOOST_TEST(small.get_weights().size() == 2u);
}

BOOST_AUTO_TEST_CASE(rrelu_with_equal_bounds_trains_with_that_slope) {
  // U[0.2, 0.2) is empty; the slope is 0.2 (random_uniform refused minval == maxval).
  nn::Sequential model({nn::RReLU({.lower = 0.2, .upper = 0.2})});
  model.build(Shape{4});
  const nn::ModelGraph& mg = model.training_graph();
  Tensor x = Tensor::from_vector<float>({1, 4}, {-2.0f, -0.5f, 0.0f, 3.0f});
  Tensor y = model.session().run(mg.outputs[0], {{mg.inputs[0], x}});
  const float expected[] = {-0.4f, -0.1f, 0.0f, 3.0f};
  for (int i = 0; i < 4; ++i)
    BOOST_TEST(y.data<float>()[i] == expected[i], boost::test_tools::tolerance(1e-6f));
}

BOOST_AUTO_TEST_CASE(batch_normalization_epsilon_must_be_finite) {
  // An infinite epsilon made every output beta (rsqrt(inf) = 0) without a word.
  std::string m = message_of<nn::ModelError>(
      [] { nn::BatchNormalization({.epsilon = std::numeric_limits<double>::infinity()}); });
  BOOST_TEST(contains(m, "epsilon"), m);
  BOOST_CHECK_THROW(nn::BatchNormalization({.epsilon = std::nan("")}), nn::ModelError);
  BOOST_CHECK_THROW(nn::BatchNormalization({.momentum = std::nan("")}), nn::ModelError);
}

BOOST_AUTO_TEST_CASE(max_norm_options_are_checked_when_the_layer_is_made) {
  // An axis the kernel lacks failed only when constraint_updates built its ops (a ShapeError).
  std::string m = message_of<nn::ModelError>([] {
    nn::Dense(3, {.kernel_constraint = nn::MaxNorm{1.0, 2}});
  });
  BOOST_TEST(contains(m, "axis 2"), m);
  BOOST_CHECK_THROW(nn::Dense(3, {.kernel_constraint = nn::MaxNorm{1.0, -3}}), nn::ModelError);
  BOOST_CHECK_THROW(
      nn::Dense(3, {.kernel_constraint = nn::MaxNorm{std::numeric_limits<double>::infinity(), 0}}),
      nn::ModelError);
  // axis -1 is valid: the norm of each kernel row (one per input), clipped to 0.5.
  nn::Sequential model(
      {nn::Dense(3, {.kernel_constraint = nn::MaxNorm{0.5, -1}, .input_shape = Shape{2}})});
  Tensor k = Tensor::from_vector<float>({2, 3}, {0.3f, 0.4f, 0.0f, 1.0f, 2.0f, 2.0f});
  model.set_weights({k, Tensor(DType::float32, Shape{3})});
  model.session().run_targets(model.constraint_updates({}));
  Tensor after = model.get_weights()[0];
  // Row 0: norm 0.5, factor 0.5 / (0.5 + 1e-7); row 1: norm 3, factor 0.5 / (3 + 1e-7).
  const double factor[] = {0.5 / (0.5 + 1e-7), 0.5 / (3.0 + 1e-7)};
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 3; ++c)
      BOOST_TEST(after.data<float>()[r * 3 + c] == k.data<float>()[r * 3 + c] * factor[r],
                 boost::test_tools::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(regularizer_factors_are_checked_when_the_layer_is_made) {
  // As Keras: a NaN or infinite factor is refused at once, not when the training graph is built.
  std::string m = message_of<nn::ModelError>(
      [] { nn::Dense(3, {.kernel_regularizer = nn::Regularizer::L2(std::nan(""))}); });
  BOOST_TEST(contains(m, "kernel_regularizer"), m);
  BOOST_CHECK_THROW(
      nn::Dense(3,
                {.bias_regularizer = nn::Regularizer::L1(std::numeric_limits<double>::infinity())}),
      nn::ModelError);
}

BOOST_AUTO_TEST_CASE(dense_over_unknown_inner_dimensions_fails_where_it_is_called) {
  // It failed only later, when predict built the inference graph.
  nn::Symbol x = nn::Input(Shape{-1, 4});
  std::string m = message_of<nn::ModelError>([&] { nn::call(nn::Dense(2), x); });
  BOOST_TEST(contains(m, "(?, ?, 4)"), m);
  // Known inner dimensions work: Dense acts on the last axis.
  nn::Symbol known = nn::Input(Shape{3, 4}, "", x.backend());
  BOOST_TEST((nn::call(nn::Dense(2), known).shape() == Shape{-1, 3, 2}));
}

BOOST_AUTO_TEST_CASE(errors_about_an_unnamed_layer_name_its_type) {
  auto backend = std::make_shared<nn::Backend>();
  nn::Symbol a = nn::Input(Shape{4}, "", backend);
  nn::Symbol b = nn::Input(Shape{3, 2}, "", backend);
  std::string m = message_of<nn::ModelError>([&] { nn::call(nn::Concatenate(), {a, b}); });
  BOOST_TEST(!contains(m, "''"), m);
  BOOST_TEST(contains(m, "Concatenate layer"), m);
  BOOST_TEST(contains(m, "(?, 3, 2)"), m);
}

BOOST_AUTO_TEST_CASE(a_name_with_a_slash_is_refused_as_written) {
  // It was refused later under the derived input name 'a/b_input'.
  std::string m = message_of<nn::ModelError>([] { nn::Dense(4, {.name = "a/b"}); });
  BOOST_TEST(contains(m, "'a/b'"), m);
  BOOST_CHECK_THROW(nn::Dense(4, {.name = "x:0"}), nn::ModelError);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(misuse_models)

BOOST_AUTO_TEST_CASE(a_layer_repeated_in_a_sequential_model_has_one_set_of_weights) {
  // Keras's model.layers and weights list a layer once; this model's weights, parameter count
  // and trainable variables counted the repeated layer twice (so a hand-built step updated its
  // variables twice), its clone failed and its file could not be loaded.
  nn::LayerPtr shared = nn::Dense(2);
  nn::Sequential model({nn::Dense(2, {.input_shape = Shape{2}}), shared, shared});
  BOOST_TEST(model.layers().size() == 2u);
  BOOST_TEST(model.count_params() == 2 * (2 * 2 + 2));
  BOOST_TEST(model.get_weights().size() == 4u);
  const nn::ModelGraph& mg = model.training_graph();
  BOOST_TEST(mg.trainable_variables.size() == 4u);
  std::set<int> distinct;
  for (const Output& v : mg.trainable_variables) distinct.insert(v.node);
  BOOST_TEST(distinct.size() == 4u);

  // y = f2(f2(f1(x))) with f(x) = x K + b, by hand.
  std::vector<Tensor> w{Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4}),
                        Tensor::from_vector<float>({2}, {0.5f, -1}),
                        Tensor::from_vector<float>({2, 2}, {0.5f, -1, 2, 0.25f}),
                        Tensor::from_vector<float>({2}, {1, 2})};
  model.set_weights(w);
  auto dense = [](const double* in, const Tensor& k, const Tensor& b, double* out) {
    for (int j = 0; j < 2; ++j)
      out[j] = b.data<float>()[j] + in[0] * k.data<float>()[j] + in[1] * k.data<float>()[2 + j];
  };
  Tensor x = Tensor::from_vector<float>({1, 2}, {1, -2});
  double in[2] = {1, -2}, h1[2], h2[2], h3[2];
  dense(in, w[0], w[1], h1);
  dense(h1, w[2], w[3], h2);
  dense(h2, w[2], w[3], h3);
  Tensor y = model.predict(x);
  for (int j = 0; j < 2; ++j)
    BOOST_TEST(y.data<float>()[j] == h3[j], boost::test_tools::tolerance(1e-6));

  std::ostringstream table;
  model.summary(table);
  BOOST_TEST(contains(table.str(), "Total params: 12\n"), table.str());

  // The clone repeats one copy, with the same predictions once the weights are copied.
  std::unique_ptr<nn::Model> clone = nn::clone_model(model);
  BOOST_TEST(clone->count_params() == 12);
  clone->set_weights(model.get_weights());
  Tensor again = clone->predict(x);
  for (int j = 0; j < 2; ++j) BOOST_TEST(again.data<float>()[j] == y.data<float>()[j]);

  // A Sequential file lists each layer once, so it cannot hold the repetition: refused.
  fs::path dir = fs::temp_directory_path() / ("dagrad_nn_repeat_" + std::to_string(::getpid()));
  std::string m = message_of<FileError>([&] { nn::save_model(model, dir.string()); });
  BOOST_TEST(contains(m, "more than once"), m);
  BOOST_TEST(!fs::exists(dir));
}

BOOST_AUTO_TEST_CASE(an_input_layer_after_the_first_is_refused) {
  // It was dropped silently.
  nn::Sequential model({nn::Dense(2, {.input_shape = Shape{3}})});
  std::string m = message_of<nn::ModelError>([&] { model.add(nn::InputLayer(Shape{2})); });
  BOOST_TEST(contains(m, "InputLayer"), m);
  BOOST_TEST(model.layers().size() == 1u);
  BOOST_CHECK_THROW(
      nn::Sequential({nn::Dense(2, {.input_shape = Shape{3}}), nn::InputLayer(Shape{2})}),
      nn::ModelError);
  // First, it declares the input.
  nn::Sequential first({nn::InputLayer(Shape{3}), nn::Dense(2)});
  BOOST_TEST((first.output_shapes()[0] == Shape{-1, 2}));
}

BOOST_AUTO_TEST_CASE(mc_dropout_of_no_rows_has_the_output_shape) {
  // It returned two scalars of unset values.
  auto model = nn::make_preset("dropout");
  nn::McPrediction mc = model->predict_mc_dropout(Tensor(DType::float32, Shape{0, 28, 28}), 4);
  BOOST_TEST((mc.mean.shape() == Shape{0, 10}));
  BOOST_TEST((mc.stddev.shape() == Shape{0, 10}));
}

BOOST_AUTO_TEST_CASE(predict_refuses_an_output_without_one_row_per_input_row) {
  // A custom layer that averages over the batch: predict copied one row per batch into the
  // result and left the others zero, without a word.
  nn::Sequential model({std::make_shared<BatchMeanLayer>()});
  model.build(Shape{2});
  Tensor x = uniform_tensor({3, 2}, 4);
  std::string m = message_of<nn::ModelError>([&] { model.predict(x, 2); });
  BOOST_TEST(contains(m, "one row per input row"), m);
  BOOST_CHECK_THROW(model.predict_mc_dropout(x, 2, 2), nn::ModelError);
}

BOOST_AUTO_TEST_SUITE_END()
