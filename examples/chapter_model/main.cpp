// The chapter's batch-normalized model (Géron, ch. 11) with dagrad's nn module: its summary,
// predictions, MC-dropout uncertainty on the dropout variant, and a model file that reloads to
// bit-identical predictions.
//   chapter_model [OUT_DIR]
#include <dagrad/dagrad.hpp>

#include <cstring>
#include <iostream>
#include <random>

int main(int argc, char** argv) {
  using namespace dagrad;
  std::string out_dir = argc > 1 ? argv[1] : "out";
  nn::Sequential model({nn::Flatten({28, 28}), nn::BatchNormalization(),
                        nn::Dense(300, {.activation = "elu", .kernel_initializer = "he_normal"}),
                        nn::BatchNormalization(),
                        nn::Dense(100, {.activation = "elu", .kernel_initializer = "he_normal"}),
                        nn::BatchNormalization(), nn::Dense(10, {.activation = "softmax"})});
  model.summary(std::cout);

  // Three random "images" in [0, 1).
  Tensor images(DType::float32, Shape{3, 28, 28});
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> pixel(0.0f, 1.0f);
  for (std::int64_t i = 0; i < images.size(); ++i) images.data<float>()[i] = pixel(rng);
  Tensor probs = model.predict(images);
  std::cout << "predict: " << probs.to_string(10) << "\n";

  // MC dropout: 100 stochastic passes with dropout on; the spread is the uncertainty.
  std::unique_ptr<nn::Sequential> dropout = nn::make_preset("dropout");
  nn::McPrediction mc = dropout->predict_mc_dropout(images, 100);
  std::cout << "MC dropout mean: " << mc.mean.to_string(10) << "\n"
            << "MC dropout stddev: " << mc.stddev.to_string(10) << "\n";

  // A model file: architecture, inference graph and weights; reloading predicts the same.
  nn::save_model(model, out_dir + "/chapter_model");
  std::unique_ptr<nn::Model> loaded = nn::load_model(out_dir + "/chapter_model");
  Tensor again = loaded->predict(images);
  bool same = std::memcmp(again.raw(), probs.raw(), probs.nbytes()) == 0;
  std::cout << "reloaded from " << out_dir << "/chapter_model: "
            << (same ? "bit-identical predictions" : "DIFFERENT predictions") << "\n";
  return same ? 0 : 1;
}
