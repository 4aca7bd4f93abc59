// libFuzzer target: the model file loader. At start it saves a small compiled model (Dense,
// BatchNormalization, Dropout, Nadam state) to a scratch directory; each input replaces that
// model file's model.json, so the weights and optimizer slots it names are real.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "dagrad/dagrad.hpp"
#include "scratch.hpp"

namespace {

std::filesystem::path model_dir() { return dagrad::fuzz::scratch_dir() / "model"; }

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  using namespace dagrad;
  nn::Sequential model({nn::Dense(4, {.activation = "elu", .input_shape = Shape{3}}),
                        nn::BatchNormalization(), nn::Dropout(0.25), nn::Dense(2)});
  model.compile(optim::Nadam(), "sparse_categorical_crossentropy", {"accuracy"});
  nn::save_model(model, model_dir().string());
  // The model.json this saves is the target's seed (fuzz/seeds/fuzz_model_file/model.json);
  // DAGRAD_FUZZ_WRITE_SEED=PATH writes it there after a change to the model above.
  if (const char* seed = std::getenv("DAGRAD_FUZZ_WRITE_SEED"))
    std::filesystem::copy_file(model_dir() / "model.json", seed,
                               std::filesystem::copy_options::overwrite_existing);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  dagrad::fuzz::write_bytes(model_dir() / "model.json", data, size);
  dagrad::fuzz::expect_clean([&] { dagrad::nn::load_model(model_dir().string()); });
  return 0;
}
