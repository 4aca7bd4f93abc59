// Data-parallel scaling on one machine (bench/README.md, "Data-parallel scaling"): Model::fit of
// the chapter's model on Fashion-MNIST's training images, timed per epoch, in the configuration
// its flags give; bench/run_scaling.sh runs 2 ranks of 1 thread (mpirun), 1 rank of 2 threads
// and 1 rank of 1 thread in turn, at the same global batch, and reports the ratios.
//
//   scaling_bench [--distributed] [--threads N] [--model plain|bn] [--global-batch B]
//                 [--epochs E] [--limit N]
// Prints (rank 0) one line: JSON with the configuration, the median epoch time and samples/s.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <dagrad/dagrad.hpp>
#include <string>
#include <vector>

using namespace dagrad;

int main(int argc, char** argv) {
  bool dist = false;
  int threads = 1, epochs = 3;
  std::int64_t global_batch = 64, limit = 0;
  std::string model_name = "plain";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--distributed") dist = true;
    else if (a == "--threads") threads = std::stoi(next());
    else if (a == "--epochs") epochs = std::stoi(next());
    else if (a == "--global-batch") global_batch = std::stoll(next());
    else if (a == "--limit") limit = std::stoll(next());
    else if (a == "--model") model_name = next();
    else {
      std::fprintf(stderr, "scaling_bench: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  try {
    if (dist) distributed::initialize();
    set_num_threads(threads);
    const int ranks = distributed::size();
    if (global_batch % ranks != 0) throw std::runtime_error("--global-batch must divide among the ranks");
    nn::FashionMnist data = nn::load_fashion_mnist(nn::kFashionMnistDir, limit);
    auto model = nn::make_model(nn::preset_spec(model_name), std::make_shared<nn::Backend>(42));
    model->compile(optim::SGD({.learning_rate = 0.01, .momentum = 0.9, .nesterov = true}),
                   "sparse_categorical_crossentropy", {"accuracy"});
    if (dist) model->distribute();
    nn::FitOptions fit{.epochs = 1, .batch_size = global_batch / ranks, .verbose = 0, .seed = 1};
    model->fit(data.x_train, data.y_train, fit);  // warm-up: plans compiled, buffers bound
    std::vector<double> times;
    double loss = 0;
    for (int e = 0; e < epochs; ++e) {
      fit.initial_epoch = e + 1;
      fit.epochs = e + 2;
      auto start = std::chrono::steady_clock::now();
      nn::History h = model->fit(data.x_train, data.y_train, fit);
      times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      loss = h["loss"].back();
    }
    std::sort(times.begin(), times.end());
    const double median = times[times.size() / 2];
    const double n = static_cast<double>(data.x_train.shape()[0]);
    if (distributed::rank() == 0)
      std::printf("{\"model\": \"%s\", \"ranks\": %d, \"threads\": %d, \"global_batch\": %lld, \"samples\": %.0f, "
                  "\"epoch_seconds\": %.4f, \"samples_per_second\": %.1f, \"loss\": %.4f}\n",
                  model_name.c_str(), ranks, threads, static_cast<long long>(global_batch), n, median, n / median,
                  loss);
    distributed::finalize();
    return 0;
  } catch (const std::exception& e) {
    if (distributed::initialized()) distributed::abort_job(std::string("scaling_bench: ") + e.what(), 1);
    std::fprintf(stderr, "scaling_bench: %s\n", e.what());
    return 1;
  }
}
