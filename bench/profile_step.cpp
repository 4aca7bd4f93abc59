// A training loop to profile: the chapter's MLP (preset "plain" or "bn": 784-300-100-10, elu,
// sparse categorical cross-entropy, SGD Nesterov 0.9, lr 0.01) fitted on random 28x28 images,
// one untimed epoch first, then STEPS timed steps (rounded up to whole epochs of 50 batches);
// prints samples/s and us/step. Graph passes named after STEPS are switched off (a before/after
// comparison of one pass: build/profile_step plain 32 2000 gemm_epilogue). A workload for perf and
// callgrind, not a benchmark against PyTorch. From the repository root, with the library built in
// build/ (valgrind needs a -DDAGRAD_NATIVE=OFF build, here build-portable/):
//   g++ -std=c++20 -O2 -g -Iinclude bench/profile_step.cpp -o build/profile_step -Lbuild
//     -ldagrad -Wl,-rpath,$PWD/build          (one command)
//   build/profile_step bn 256 600
//   perf record -e cpu-clock -g build/profile_step bn 256 600    # then perf report --tid <main>
//   OPENBLAS_NUM_THREADS=1 valgrind --tool=callgrind build-portable/profile_step bn 256 20
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <dagrad/dagrad.hpp>
#include <exception>
#include <iostream>
#include <memory>
#include <random>
#include <string>

int run(int argc, char** argv) {
  using namespace dagrad;
  if (argc < 4) {
    std::cerr << "usage: profile_step plain|bn BATCH STEPS [SKIPPED_PASS...]\n";
    return 2;
  }
  std::string name = argv[1];
  std::int64_t batch = std::atoll(argv[2]);
  std::int64_t steps = std::atoll(argv[3]);
  if (batch < 1 || steps < 1) {
    std::cerr << "profile_step: BATCH and STEPS must be at least 1\n";
    return 2;
  }
  std::unique_ptr<nn::Sequential> model = nn::make_preset(name);
  OptimizerOptions passes;
  passes.disabled.assign(argv + 4, argv + argc);
  check_pass_names(default_pipeline(), passes.disabled);
  model->session().set_optimizer_options(passes);
  model->compile(optim::SGD({.learning_rate = 0.01, .momentum = 0.9, .nesterov = true}),
                 "sparse_categorical_crossentropy");

  // A pool of up to 50 batches, trained on for as many epochs as the steps need, so that making
  // the data stays a small part of a profile.
  std::int64_t per_epoch = std::min<std::int64_t>(steps, 50);
  int epochs = static_cast<int>((steps + per_epoch - 1) / per_epoch);
  steps = per_epoch * epochs;
  std::int64_t n = batch * per_epoch;
  Tensor x(DType::float32, Shape{n, 28, 28});
  Tensor y(DType::float32, Shape{n});
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> pixel(0.0f, 1.0f);
  std::uniform_int_distribution<int> label(0, 9);
  for (std::int64_t i = 0; i < x.size(); ++i) x.data<float>()[i] = pixel(rng);
  for (std::int64_t i = 0; i < n; ++i) y.data<float>()[i] = static_cast<float>(label(rng));

  // One epoch first compiles the plan and warms the caches; the others are timed.
  model->fit(x, y, {.epochs = 1, .batch_size = batch, .verbose = 0});
  auto start = std::chrono::steady_clock::now();
  model->fit(x, y, {.epochs = 1 + epochs, .batch_size = batch, .verbose = 0, .initial_epoch = 1});
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << name << " batch " << batch << ": " << steps << " steps in " << seconds << " s, "
            << static_cast<double>(steps * batch) / seconds << " samples/s, "
            << 1e6 * seconds / steps << " us/step\n";
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "profile_step: " << e.what() << "\n";
    return 1;
  }
}
