// The convolutional-network layers (nn/conv_layers.cpp) against hand computations: Conv2D's
// values with valid and same padding, its kernel's Keras fans, pooling and reshape values and
// shapes, errors naming the layer and shapes, the summary rows Keras prints, a small CNN that
// learns, and its model file round trip.
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>
#include <sstream>

#include "dagrad/dagrad.hpp"
#include "dagrad/nn/nn.hpp"

using namespace dagrad;
namespace fs = std::filesystem;
namespace tt = boost::test_tools;

namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

Tensor filled(Shape shape, const std::vector<float>& values) {
  return Tensor::from_vector<float>(shape, values);
}

std::vector<float> values_of(const Tensor& t) {
  return {t.data<float>(), t.data<float>() + t.size()};
}

bool bit_identical(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

std::unique_ptr<nn::Sequential> sequential(std::vector<nn::LayerPtr> layers, Shape input,
                                           std::uint64_t seed = 1) {
  auto m =
      std::make_unique<nn::Sequential>(std::move(layers), "", std::make_shared<nn::Backend>(seed));
  if (input.rank() > 0) m->build(input);
  return m;
}

// The ModelError message of building a one-layer model on `input`, or "" if it builds.
std::string build_error(nn::LayerPtr layer, Shape input) {
  try {
    sequential({std::move(layer)}, std::move(input));
  } catch (const nn::ModelError& e) {
    return e.what();
  }
  return "";
}

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag)
      : path(fs::temp_directory_path() /
             ("dagrad_conv_" + tag + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

// x = [[1 2 3] [4 5 6] [7 8 9]], one example, one channel.
Tensor three_by_three() {
  return filled({1, 3, 3, 1}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
}

// HWIO kernel (2, 2, 1, 2): filter 0 = [[1 0] [0 -1]], filter 1 = all ones.
Tensor two_filters() {
  // index ((kh * 2 + kw) * 1 + ci) * 2 + co
  return filled({2, 2, 1, 2}, {1, 1, /*kh0 kw1*/ 0, 1, /*kh1 kw0*/ 0, 1, /*kh1 kw1*/ -1, 1});
}

}  // namespace

BOOST_AUTO_TEST_SUITE(conv2d_layer)

// Valid: y[i][j][0] = x[i][j] - x[i+1][j+1] + 0.5 = -3.5; y[i][j][1] = window sum - 1.
BOOST_AUTO_TEST_CASE(valid_padding_gives_the_hand_computed_cross_correlation) {
  auto conv = nn::Conv2D(2, {2, 2});
  auto m = sequential({conv}, Shape{3, 3, 1});
  BOOST_TEST(conv->weights().size() == 2u);
  BOOST_TEST(conv->weights()[0].shape() == (Shape{2, 2, 1, 2}));
  BOOST_TEST(conv->weights()[1].shape() == (Shape{2}));
  m->set_weights({two_filters(), filled({2}, {0.5f, -1.0f})});
  Tensor y = m->predict(three_by_three());
  BOOST_TEST(y.shape() == (Shape{1, 2, 2, 2}));
  // windows: 1+2+4+5 = 12, 2+3+5+6 = 16, 4+5+7+8 = 24, 5+6+8+9 = 28
  std::vector<float> expected{-3.5f, 11.0f, -3.5f, 15.0f, -3.5f, 23.0f, -3.5f, 27.0f};
  BOOST_TEST(values_of(y) == expected, tt::per_element());
}

// Same with stride 2 on 3x3: OH = ceil(3 / 2) = 2, one padded row and column at the bottom and
// right. Filter 1's windows: {1,2,4,5} = 12, {3,6} = 9, {7,8} = 15, {9} = 9; relu clips filter 0.
BOOST_AUTO_TEST_CASE(same_padding_with_strides_pads_bottom_and_right) {
  auto conv = nn::Conv2D(2, {2}, {.strides = {2}, .padding = "same", .activation = "relu"});
  auto m = sequential({conv}, Shape{3, 3, 1});
  m->set_weights({two_filters(), filled({2}, {0.0f, 0.0f})});
  Tensor y = m->predict(three_by_three());
  BOOST_TEST(y.shape() == (Shape{1, 2, 2, 2}));
  // filter 0: 1-5 = -4 -> 0; 3-0 = 3; 7-0 = 7; 9
  std::vector<float> expected{0.0f, 12.0f, 3.0f, 9.0f, 7.0f, 15.0f, 9.0f, 9.0f};
  BOOST_TEST(values_of(y) == expected, tt::per_element());
}

// A dilation of 2 spreads a 2x2 kernel over 3x3: only the corners 1, 3, 7, 9 are read.
BOOST_AUTO_TEST_CASE(dilation_spreads_the_kernel) {
  auto conv = nn::Conv2D(1, {2, 2}, {.dilation_rate = {2, 2}, .use_bias = false});
  auto m = sequential({conv}, Shape{3, 3, 1});
  BOOST_TEST(conv->weights().size() == 1u);
  m->set_weights({filled({2, 2, 1, 1}, {1, 10, 100, 1000})});
  Tensor y = m->predict(three_by_three());
  BOOST_TEST(y.shape() == (Shape{1, 1, 1, 1}));
  BOOST_TEST(y.data<float>()[0] == 1 + 30 + 700 + 9000);
}

// Kernel (3, 3, 4, 8): receptive field 9, fan_in = 9 * 4 = 36, fan_out = 9 * 8 = 72.
BOOST_AUTO_TEST_CASE(kernel_initializers_use_keras_conv_fans) {
  nn::Fans fans = nn::compute_fans(Shape{3, 3, 4, 8});
  BOOST_TEST(fans.fan_in == 36);
  BOOST_TEST(fans.fan_out == 72);
  // glorot_uniform: limit sqrt(6 / (36 + 72)); he_normal: stddev sqrt(2 / 36).
  const double limit = std::sqrt(6.0 / 108.0);
  BOOST_TEST(
      nn::Initializer("glorot_uniform").target_stddev(Shape{3, 3, 4, 8}) == limit / std::sqrt(3.0),
      tt::tolerance(1e-12));
  BOOST_TEST(nn::Initializer("he_normal").target_stddev(Shape{3, 3, 4, 8}) == std::sqrt(2.0 / 36.0),
             tt::tolerance(1e-12));

  auto conv = nn::Conv2D(8, {3, 3});
  auto m = sequential({conv}, Shape{5, 5, 4}, 7);
  Tensor k = m->session().variable_value(conv->weights()[0]);
  BOOST_TEST(k.shape() == (Shape{3, 3, 4, 8}));
  double sum2 = 0, largest = 0;
  for (float v : values_of(k)) {
    BOOST_TEST(std::abs(v) <= limit);
    largest = std::max(largest, static_cast<double>(std::abs(v)));
    sum2 += static_cast<double>(v) * v;
  }
  // 288 draws of U(-limit, limit): the largest is near the limit, the RMS near limit / sqrt(3)
  // (its relative standard error is about 3.7% here).
  BOOST_TEST(largest > 0.95 * limit);
  BOOST_TEST(std::sqrt(sum2 / 288.0) == limit / std::sqrt(3.0), tt::tolerance(0.15));
  Tensor b = m->session().variable_value(conv->weights()[1]);
  for (float v : values_of(b)) BOOST_TEST(v == 0.0f);
}

BOOST_AUTO_TEST_CASE(output_shapes_follow_keras) {
  auto shape_of = [](nn::LayerPtr l, Shape in) {
    return sequential({l}, in)->output_shapes().at(0);
  };
  BOOST_TEST(shape_of(nn::Conv2D(5, {3, 3}), Shape{28, 28, 1}) == (Shape{-1, 26, 26, 5}));
  BOOST_TEST(shape_of(nn::Conv2D(5, {3}, {.padding = "same"}), Shape{28, 28, 1}) ==
             (Shape{-1, 28, 28, 5}));
  // valid, stride 2: (28 - 3) / 2 + 1 = 13; same, stride 3: ceil(28 / 3) = 10
  BOOST_TEST(shape_of(nn::Conv2D(5, {3}, {.strides = {2}}), Shape{28, 28, 1}) ==
             (Shape{-1, 13, 13, 5}));
  BOOST_TEST(shape_of(nn::Conv2D(5, {3}, {.strides = {3}, .padding = "same"}), Shape{28, 28, 1}) ==
             (Shape{-1, 10, 10, 5}));
  // dilation 2 on a 3-kernel: span 5, (7 - 5) + 1 = 3; on the width 1x1 kernel: 9
  BOOST_TEST(shape_of(nn::Conv2D(2, {3, 1}, {.dilation_rate = {2, 1}}), Shape{7, 9, 3}) ==
             (Shape{-1, 3, 9, 2}));
  BOOST_TEST(shape_of(nn::MaxPool2D(), Shape{7, 7, 3}) == (Shape{-1, 3, 3, 3}));
  BOOST_TEST(shape_of(nn::MaxPool2D({2}, {.padding = "same"}), Shape{7, 7, 3}) ==
             (Shape{-1, 4, 4, 3}));
  BOOST_TEST(shape_of(nn::AvgPool2D({3, 3}, {.strides = {1, 2}}), Shape{7, 7, 3}) ==
             (Shape{-1, 5, 3, 3}));
  BOOST_TEST(shape_of(nn::GlobalAveragePooling2D(), Shape{7, 7, 3}) == (Shape{-1, 3}));
  BOOST_TEST(shape_of(nn::Reshape({28, 28, 1}), Shape{784}) == (Shape{-1, 28, 28, 1}));
  BOOST_TEST(shape_of(nn::Reshape({-1, 4}), Shape{2, 3, 2}) == (Shape{-1, 3, 4}));
  // Unknown spatial dimensions stay unknown; the channels must be known.
  BOOST_TEST(shape_of(nn::Conv2D(4, {3}), Shape{-1, -1, 2}) == (Shape{-1, -1, -1, 4}));
}

BOOST_AUTO_TEST_CASE(errors_name_the_layer_and_the_shapes) {
  std::string e = build_error(nn::Conv2D(4, {3}), Shape{10});
  BOOST_TEST(contains(e, "a Conv2D layer"), e);  // named when built, after the check
  BOOST_TEST(contains(e, "(?, 10)"), e);
  e = build_error(nn::Conv2D(4, {5}, {.name = "c"}), Shape{4, 9, 1});
  BOOST_TEST(contains(e, "'c' (Conv2D)"), e);
  BOOST_TEST(contains(e, "(?, 4, 9, 1)"), e);
  BOOST_TEST(contains(e, "height"), e);
  e = build_error(nn::Conv2D(4, {3}), Shape{9, 9, -1});
  BOOST_TEST(contains(e, "channel"), e);
  e = build_error(nn::MaxPool2D({3}), Shape{2, 8, 1});
  BOOST_TEST(contains(e, "a MaxPooling2D layer"), e);
  e = build_error(nn::GlobalAveragePooling2D(), Shape{8, 1});
  BOOST_TEST(contains(e, "a GlobalAveragePooling2D layer"), e);
  e = build_error(nn::Reshape({5, 5}), Shape{28, 28});
  BOOST_TEST(contains(e, "a Reshape layer"), e);
  BOOST_TEST(contains(e, "(?, 28, 28)"), e);
  BOOST_TEST(contains(e, "(5, 5)"), e);
  e = build_error(nn::Reshape({-1, 5}), Shape{28, 28});
  BOOST_TEST(contains(e, "(-1, 5)"), e);
  e = build_error(nn::Reshape({-1, 2}), Shape{-1, 4});
  BOOST_TEST(contains(e, "known"), e);

  BOOST_CHECK_THROW(nn::Conv2D(0, {3}), nn::ModelError);
  BOOST_CHECK_THROW(nn::Conv2D(4, {3, 3, 3}), nn::ModelError);
  BOOST_CHECK_THROW(nn::Conv2D(4, {0, 3}), nn::ModelError);
  BOOST_CHECK_THROW(nn::Conv2D(4, {3}, {.strides = {0}}), nn::ModelError);
  BOOST_CHECK_THROW(nn::Conv2D(4, {3}, {.padding = "causal"}), nn::ModelError);
  // Keras refuses strides > 1 with dilation_rate > 1 ("not supported in conjunction").
  BOOST_CHECK_THROW(nn::Conv2D(4, {3}, {.strides = {1, 2}, .dilation_rate = {2, 1}}),
                    nn::ModelError);
  BOOST_CHECK_NO_THROW(nn::Conv2D(4, {3}, {.strides = {1, 2}, .dilation_rate = {1, 1}}));
  BOOST_CHECK_THROW(nn::Conv2D(4, {3}, {.kernel_regularizer = {NAN, 0.0}}), nn::ModelError);
  BOOST_CHECK_THROW(nn::MaxPool2D({}), nn::ModelError);
  BOOST_CHECK_THROW(nn::AvgPool2D({2}, {.padding = "full"}), nn::ModelError);
  BOOST_CHECK_THROW(nn::Reshape({-1, -1}), nn::ModelError);
  BOOST_CHECK_THROW(nn::Reshape({0, 4}), nn::ModelError);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(pooling_and_reshape)

// x (1, 4, 4, 1) = 1..16 row-major; 2x2 windows: {1,2,5,6} {3,4,7,8} {9,10,13,14} {11,12,15,16}.
BOOST_AUTO_TEST_CASE(max_and_average_pooling_values) {
  std::vector<float> v(16);
  for (int i = 0; i < 16; ++i) v[static_cast<std::size_t>(i)] = static_cast<float>(i + 1);
  Tensor x = filled({1, 4, 4, 1}, v);
  BOOST_TEST(values_of(sequential({nn::MaxPool2D()}, Shape{4, 4, 1})->predict(x)) ==
                 (std::vector<float>{6, 8, 14, 16}),
             tt::per_element());
  BOOST_TEST(values_of(sequential({nn::AvgPool2D()}, Shape{4, 4, 1})->predict(x)) ==
                 (std::vector<float>{3.5f, 5.5f, 11.5f, 13.5f}),
             tt::per_element());
  // 3x3 same, stride 2: OH = 2, pad max((2-1)*2+3-4, 0) = 1: 0 on top, 1 at the bottom.
  // Windows rows {0,1,2} and {2,3}, same for columns; the mean counts real cells only.
  // (0,0): rows 0-2 cols 0-2: mean of {1,2,3,5,6,7,9,10,11} = 6; (0,1): cols 2-3: {3,4,7,8,11,12}
  // = 7.5 (1,0): rows 2-3: {9,10,11,13,14,15} = 12; (1,1): {11,12,15,16} = 13.5
  BOOST_TEST(values_of(sequential({nn::AvgPool2D({3}, {.strides = {2}, .padding = "same"})},
                                  Shape{4, 4, 1})
                           ->predict(x)) == (std::vector<float>{6, 7.5f, 12, 13.5f}),
             tt::per_element());
  BOOST_TEST(values_of(sequential({nn::MaxPool2D({3}, {.strides = {2}, .padding = "same"})},
                                  Shape{4, 4, 1})
                           ->predict(x)) == (std::vector<float>{11, 12, 15, 16}),
             tt::per_element());
}

// Per channel means over H and W: channel 0 holds 1..4, channel 1 holds 10, 20, 30, 40.
BOOST_AUTO_TEST_CASE(global_average_pooling_means_each_channel) {
  Tensor x = filled({1, 2, 2, 2}, {1, 10, 2, 20, 3, 30, 4, 40});
  Tensor y = sequential({nn::GlobalAveragePooling2D()}, Shape{2, 2, 2})->predict(x);
  BOOST_TEST(y.shape() == (Shape{1, 2}));
  BOOST_TEST(values_of(y) == (std::vector<float>{2.5f, 25.0f}), tt::per_element());
}

BOOST_AUTO_TEST_CASE(reshape_keeps_the_batch_and_row_major_order) {
  Tensor x = filled({2, 6}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  Tensor y = sequential({nn::Reshape({3, -1})}, Shape{6})->predict(x);
  BOOST_TEST(y.shape() == (Shape{2, 3, 2}));
  BOOST_TEST(values_of(y) == values_of(x), tt::per_element());
  BOOST_TEST(y.data<float>()[1 * 6 + 2 * 2 + 1] == 11.0f);  // y[1][2][1] = x[1][5]
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(small_cnn)

namespace {

// 8x8 one-channel images on 64 inputs; class 0: a vertical bar, 1: a horizontal bar, 2: none,
// over uniform noise in [0, 0.3).
struct Bars {
  Tensor x, y;
};
Bars bars(std::int64_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> noise(0.0f, 0.3f);
  std::uniform_int_distribution<int> where(0, 7);
  Bars d{Tensor(DType::float32, Shape{n, 64}), Tensor(DType::int32, Shape{n})};
  for (std::int64_t i = 0; i < n; ++i) {
    int label = static_cast<int>(i % 3);
    float* p = d.x.data<float>() + i * 64;
    for (int k = 0; k < 64; ++k) p[k] = noise(rng);
    int at = where(rng);
    for (int k = 0; k < 8 && label < 2; ++k) p[label == 0 ? k * 8 + at : at * 8 + k] += 1.0f;
    d.y.data<std::int32_t>()[i] = label;
  }
  return d;
}

std::unique_ptr<nn::Sequential> small_cnn(std::uint64_t seed) {
  return sequential(
      {nn::Reshape({8, 8, 1}, Shape{64}), nn::Conv2D(4, {3, 3}, {.padding = "same"}),
       nn::BatchNormalization({.momentum = 0.9}), nn::ActivationLayer("relu"), nn::MaxPool2D(),
       nn::GlobalAveragePooling2D(), nn::Dense(3, {.activation = "softmax"})},
      Shape{}, seed);
}

}  // namespace

// Conv2D: 3*3*1*4 + 4 = 40; BN over 4 channels: 4*4 = 16 (8 non-trainable); Dense: 4*3 + 3 = 15.
BOOST_AUTO_TEST_CASE(summary_prints_keras_rows) {
  auto model = small_cnn(1);
  std::ostringstream out;
  model->summary(out);
  const std::string expected =
      "Model: \"sequential\"\n"
      "_________________________________________________________________\n"
      "Layer (type)                 Output Shape              Param #\n"
      "=================================================================\n"
      "reshape (Reshape)            (None, 8, 8, 1)           0\n"
      "_________________________________________________________________\n"
      "conv2d (Conv2D)              (None, 8, 8, 4)           40\n"
      "_________________________________________________________________\n"
      "batch_normalization (BatchNo (None, 8, 8, 4)           16\n"
      "_________________________________________________________________\n"
      "activation (Activation)      (None, 8, 8, 4)           0\n"
      "_________________________________________________________________\n"
      "max_pooling2d (MaxPooling2D) (None, 4, 4, 4)           0\n"
      "_________________________________________________________________\n"
      "global_average_pooling2d (Gl (None, 4)                 0\n"
      "_________________________________________________________________\n"
      "dense (Dense)                (None, 3)                 15\n"
      "=================================================================\n"
      "Total params: 71\n"
      "Trainable params: 63\n"
      "Non-trainable params: 8\n"
      "_________________________________________________________________\n";
  BOOST_TEST(out.str() == expected);
  std::ostringstream avg;
  sequential({nn::AvgPool2D({2}, {.input_shape = Shape{4, 4, 2}})}, Shape{})->summary(avg);
  BOOST_TEST(contains(avg.str(), "average_pooling2d (AveragePo (None, 2, 2, 2)           0\n"),
             avg.str());
}

// BN's momentum is 0.9 so that its moving statistics, which evaluate uses, follow the batches
// within the run's 36 steps.
BOOST_AUTO_TEST_CASE(compiles_fits_and_lowers_its_loss) {
  Bars d = bars(96, 5);
  auto model = small_cnn(3);
  model->compile(optim::Adam({.learning_rate = 0.02}), "sparse_categorical_crossentropy",
                 {"accuracy"});
  double before = model->evaluate(d.x, d.y).at("loss");
  nn::History h = model->fit(d.x, d.y, {.epochs = 6, .batch_size = 16, .verbose = 0});
  double after = model->evaluate(d.x, d.y).at("loss");
  BOOST_TEST_MESSAGE("small cnn loss " << before << " -> " << after << ", fit losses "
                                       << h["loss"].front() << " .. " << h["loss"].back());
  BOOST_TEST(h["loss"].back() < h["loss"].front());
  BOOST_TEST(after < 0.8 * before);
}

BOOST_AUTO_TEST_CASE(model_file_round_trip) {
  TempDir dir("cnn");
  Bars d = bars(48, 9);
  auto model = small_cnn(4);
  model->compile(optim::SGD({.learning_rate = 0.05}), "sparse_categorical_crossentropy",
                 {"accuracy"});
  model->fit(d.x, d.y, {.epochs = 1, .batch_size = 16, .verbose = 0});  // moves BN's moving stats
  Tensor expected = model->predict(d.x);
  std::string path = (dir.path / "cnn").string();
  nn::save_model(*model, path);
  std::unique_ptr<nn::Model> loaded = nn::load_model(path);
  BOOST_TEST(bit_identical(loaded->predict(d.x), expected));
  std::ostringstream a, b;
  model->summary(a);
  loaded->summary(b);
  BOOST_TEST(a.str() == b.str());
}

BOOST_AUTO_TEST_CASE(configs_rebuild_identical_layers) {
  std::vector<nn::LayerPtr> layers{
      nn::Conv2D(6, {3, 5},
                 {.strides = {2, 1},
                  .padding = "same",
                  .dilation_rate = {1, 1},
                  .activation = "elu",
                  .use_bias = false,
                  .kernel_initializer = "he_normal",
                  .kernel_regularizer = nn::Regularizer::L2(0.01),
                  .input_shape = Shape{9, 9, 2}}),
      nn::Conv2D(2, {1},
                 {.dilation_rate = {2}, .bias_initializer = nn::Initializer::constant(0.1)}),
      nn::MaxPool2D({3, 2}, {.strides = {1, 1}, .padding = "same"}),
      nn::AvgPool2D({2}),
      nn::GlobalAveragePooling2D("gap"),
      nn::Reshape({-1, 2}, Shape{4})};
  for (const nn::LayerPtr& l : layers) {
    BOOST_TEST_CONTEXT(l->type()) {
      AttrMap c = l->config();
      nn::LayerPtr copy = nn::layer_from_config(l->type(), c);
      BOOST_TEST(copy->type() == l->type());
      BOOST_TEST((copy->config() == c));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(conv_gradient_check)

// Every new layer (and BatchNormalization over an image) in one model, its training loss checked
// in float64 against central differences. Random inputs keep max pooling away from ties.
BOOST_AUTO_TEST_CASE(a_small_cnn_in_float64) {
  auto model = sequential(
      {nn::Reshape({6, 6, 1}, Shape{36}),
       nn::Conv2D(3, {3, 3},
                  {.padding = "same",
                   .activation = "tanh",
                   .bias_initializer = nn::Initializer::constant(0.1),
                   .kernel_regularizer = nn::Regularizer::L2(0.01)}),
       nn::BatchNormalization(),
       nn::Conv2D(2, {2, 2}, {.strides = {2, 1}, .dilation_rate = {1, 1}, .activation = "elu"}),
       nn::MaxPool2D({2, 2}, {.strides = {1, 1}}), nn::AvgPool2D({2}, {.padding = "same"}),
       nn::GlobalAveragePooling2D(), nn::Dense(3, {.activation = "softmax"})},
      Shape{}, 11);
  BOOST_TEST(model->output_shapes().at(0) == (Shape{-1, 3}));
  Graph& g = model->graph();
  const nn::ModelGraph& mg = model->training_graph();
  Output labels = placeholder(g, DType::int32, Shape{-1}, "labels");
  std::vector<Output> terms{nn::Loss("sparse_categorical_crossentropy")(labels, mg.outputs[0])};
  for (const Output& r : mg.regularization_losses) terms.push_back(r);
  BOOST_TEST(terms.size() == 2u);
  Output loss = add_n(terms, "total_loss");

  std::mt19937 rng(3);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  Tensor x(DType::float32, Shape{4, 36});
  for (std::int64_t i = 0; i < x.size(); ++i) x.data<float>()[i] = static_cast<float>(u(rng));
  std::unique_ptr<Graph> g64 = promote_to_float64(g);
  Session s64(*g64);
  std::vector<Output> xs;
  for (const Output& v : model->trainable_weights()) {
    Output v64 = g64->output(v.name());
    s64.set_variable_value(v64, widen_to_float64(model->session().variable_value(v)));
    xs.push_back(v64);
  }
  for (const Output& v : model->non_trainable_weights())
    s64.set_variable_value(g64->output(v.name()),
                           widen_to_float64(model->session().variable_value(v)));
  BOOST_TEST(xs.size() == 8u);  // two conv kernels and biases, gamma, beta, dense kernel and bias
  std::vector<Feed> feeds64{
      {g64->output(mg.inputs[0].name()), widen_to_float64(x)},
      {g64->output(labels.name()), Tensor::from_vector<std::int32_t>({4}, {0, 2, 1, 2})}};
  GradCheckResult r = check_graph_gradients(s64, g64->output(loss.name()), xs, feeds64);
  BOOST_TEST_MESSAGE("cnn gradient check: max abs " << r.max_abs_error << ", max rel "
                                                    << r.max_rel_error);
  BOOST_TEST(!r.skipped);
  BOOST_TEST(r.passed,
             r.message << " max abs " << r.max_abs_error << " max rel " << r.max_rel_error);
}

BOOST_AUTO_TEST_SUITE_END()
