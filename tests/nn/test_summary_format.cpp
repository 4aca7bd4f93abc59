// Model::summary against Keras 2.6's print_summary (keras-semantics.md section 10.7), the tables
// written out from its print_row rules: InputLayer rows show a list of one shape
// ("[(None, 8)]"), default inputs are named input_1, input_2, ..., a functional model that is a
// chain prints in the Sequential format with its InputLayer, a functional model's rows are in
// Keras's order (by depth from the outputs), and a layer called more than once has one row
// ("multiple" when its calls' shapes differ) listing every call's inputs. As everywhere in
// dagrad's table, rows carry no trailing spaces.
#include <boost/test/unit_test.hpp>
#include <sstream>

#include "dagrad/dagrad.hpp"

using namespace dagrad;

namespace {

std::string summary_of(const nn::Model& model) {
  std::ostringstream out;
  model.summary(out);
  return out.str();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(summary_format)

BOOST_AUTO_TEST_CASE(a_functional_chain_prints_like_keras_sequential_like_models) {
  nn::Symbol x = nn::Input(Shape{4});
  nn::Symbol y = nn::call(nn::Dense(2), x);
  nn::Model model({x}, {y});
  const std::string expected =
      "Model: \"model\"\n"
      "_________________________________________________________________\n"
      "Layer (type)                 Output Shape              Param #\n"
      "=================================================================\n"
      "input_1 (InputLayer)         [(None, 4)]               0\n"
      "_________________________________________________________________\n"
      "dense (Dense)                (None, 2)                 10\n"
      "=================================================================\n"
      "Total params: 10\n"
      "Trainable params: 10\n"
      "Non-trainable params: 0\n"
      "_________________________________________________________________\n";
  BOOST_TEST(summary_of(model) == expected);
}

BOOST_AUTO_TEST_CASE(wide_and_deep_as_in_the_readme) {
  nn::Symbol x = nn::Input(Shape{8});
  nn::Symbol h = nn::call(nn::Dense(30, {.activation = "relu"}), x);
  nn::Symbol y = nn::call(nn::Dense(1), nn::call(nn::Concatenate(), {x, h}));
  nn::Model model({x}, {y});
  const std::string expected =
      "Model: \"model\"\n"
      "____________________________________________________________________________________________"
      "______\n"
      "Layer (type)                    Output Shape         Param #     Connected to\n"
      "============================================================================================"
      "======\n"
      "input_1 (InputLayer)            [(None, 8)]          0\n"
      "____________________________________________________________________________________________"
      "______\n"
      "dense (Dense)                   (None, 30)           270         input_1[0][0]\n"
      "____________________________________________________________________________________________"
      "______\n"
      "concatenate (Concatenate)       (None, 38)           0           input_1[0][0]\n"
      "                                                                 dense[0][0]\n"
      "____________________________________________________________________________________________"
      "______\n"
      "dense_1 (Dense)                 (None, 1)            39          concatenate[0][0]\n"
      "============================================================================================"
      "======\n"
      "Total params: 309\n"
      "Trainable params: 309\n"
      "Non-trainable params: 0\n"
      "____________________________________________________________________________________________"
      "______\n";
  BOOST_TEST(summary_of(model) == expected);
}

BOOST_AUTO_TEST_CASE(two_inputs_as_in_the_book_in_keras_row_order) {
  // HOML ch. 10's Wide & Deep with two inputs: Keras lists deep_input and its Dense layer
  // before wide_input (deepest first, then first reached from the outputs).
  nn::Symbol wide = nn::Input(Shape{5}, "wide_input");
  nn::Symbol deep = nn::Input(Shape{6}, "deep_input", wide.backend());
  nn::Symbol h1 = nn::call(nn::Dense(30, {.activation = "relu"}), deep);
  nn::Symbol h2 = nn::call(nn::Dense(100, {.activation = "relu"}), h1);
  nn::Symbol concat = nn::call(nn::Concatenate(), {wide, h2});
  nn::Symbol out = nn::call(nn::Dense(1, {.name = "output"}), concat);
  nn::Model model({wide, deep}, {out});
  const std::string expected =
      "Model: \"model\"\n"
      "____________________________________________________________________________________________"
      "______\n"
      "Layer (type)                    Output Shape         Param #     Connected to\n"
      "============================================================================================"
      "======\n"
      "deep_input (InputLayer)         [(None, 6)]          0\n"
      "____________________________________________________________________________________________"
      "______\n"
      "dense (Dense)                   (None, 30)           210         deep_input[0][0]\n"
      "____________________________________________________________________________________________"
      "______\n"
      "wide_input (InputLayer)         [(None, 5)]          0\n"
      "____________________________________________________________________________________________"
      "______\n"
      "dense_1 (Dense)                 (None, 100)          3100        dense[0][0]\n"
      "____________________________________________________________________________________________"
      "______\n"
      "concatenate (Concatenate)       (None, 105)          0           wide_input[0][0]\n"
      "                                                                 dense_1[0][0]\n"
      "____________________________________________________________________________________________"
      "______\n"
      "output (Dense)                  (None, 1)            106         concatenate[0][0]\n"
      "============================================================================================"
      "======\n"
      "Total params: 3,416\n"
      "Trainable params: 3,416\n"
      "Non-trainable params: 0\n"
      "____________________________________________________________________________________________"
      "______\n";
  BOOST_TEST(summary_of(model) == expected);
}

BOOST_AUTO_TEST_CASE(a_layer_called_twice_has_one_row_with_both_calls) {
  nn::Symbol x = nn::Input(Shape{4});
  nn::LayerPtr dense = nn::Dense(4);
  nn::Symbol y = nn::call(dense, nn::call(dense, x));
  nn::Model model({x}, {y});
  const std::string expected =
      "Model: \"model\"\n"
      "____________________________________________________________________________________________"
      "______\n"
      "Layer (type)                    Output Shape         Param #     Connected to\n"
      "============================================================================================"
      "======\n"
      "input_1 (InputLayer)            [(None, 4)]          0\n"
      "____________________________________________________________________________________________"
      "______\n"
      "dense (Dense)                   (None, 4)            20          input_1[0][0]\n"
      "                                                                 dense[0][0]\n"
      "============================================================================================"
      "======\n"
      "Total params: 20\n"
      "Trainable params: 20\n"
      "Non-trainable params: 0\n"
      "____________________________________________________________________________________________"
      "______\n";
  BOOST_TEST(summary_of(model) == expected);
}

BOOST_AUTO_TEST_CASE(a_layer_called_on_two_shapes_shows_multiple) {
  // dagrad applies a layer again only to compatible shapes; these two differ in a dimension
  // one of them leaves unknown.
  nn::Symbol a = nn::Input(Shape{-1, 4});
  nn::Symbol b = nn::Input(Shape{3, 4}, "", a.backend());
  nn::LayerPtr relu = nn::ActivationLayer("relu");
  nn::Symbol joined = nn::call(nn::Concatenate(1), {nn::call(relu, a), nn::call(relu, b)});
  nn::Model model({a, b}, {joined});
  const std::string expected =
      "Model: \"model\"\n"
      "____________________________________________________________________________________________"
      "______\n"
      "Layer (type)                    Output Shape         Param #     Connected to\n"
      "============================================================================================"
      "======\n"
      "input_1 (InputLayer)            [(None, None, 4)]    0\n"
      "____________________________________________________________________________________________"
      "______\n"
      "input_2 (InputLayer)            [(None, 3, 4)]       0\n"
      "____________________________________________________________________________________________"
      "______\n"
      "activation (Activation)         multiple             0           input_1[0][0]\n"
      "                                                                 input_2[0][0]\n"
      "____________________________________________________________________________________________"
      "______\n"
      "concatenate (Concatenate)       (None, None, 4)      0           activation[0][0]\n"
      "                                                                 activation[1][0]\n"
      "============================================================================================"
      "======\n"
      "Total params: 0\n"
      "Trainable params: 0\n"
      "Non-trainable params: 0\n"
      "____________________________________________________________________________________________"
      "______\n";
  BOOST_TEST(summary_of(model) == expected);
}

BOOST_AUTO_TEST_CASE(a_layer_repeated_in_a_sequential_model_has_one_row) {
  nn::LayerPtr shared = nn::Dense(4);
  nn::Sequential model({nn::Dense(4, {.input_shape = Shape{4}}), shared, shared});
  const std::string expected =
      "Model: \"sequential\"\n"
      "_________________________________________________________________\n"
      "Layer (type)                 Output Shape              Param #\n"
      "=================================================================\n"
      "dense (Dense)                (None, 4)                 20\n"
      "_________________________________________________________________\n"
      "dense_1 (Dense)              (None, 4)                 20\n"
      "=================================================================\n"
      "Total params: 40\n"
      "Trainable params: 40\n"
      "Non-trainable params: 0\n"
      "_________________________________________________________________\n";
  BOOST_TEST(summary_of(model) == expected);
}

BOOST_AUTO_TEST_SUITE_END()
