// The nn API used wrongly, as a newcomer would: every mistake is a ModelError (or FileError)
// that names what was wrong, when the layer or model is made, never a std:: exception, a crash
// or a silently wrong result. Also the cases that look like misuse but are valid.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdint>
#include <limits>

#include "dagrad/dagrad.hpp"

using namespace dagrad;

namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
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
