// The program the distributed tests start under mpirun (tests/distributed/test_distributed.cpp).
// Usage: mpi_worker MODE [ARGS]; MODE is one of
//   train-single OUT          1 process, batches of 64 (the reference)
//   train-ranks OUT BUCKET    data-parallel, batches of 32 per rank, gradient buckets of BUCKET bytes;
//                             rank 1 starts from other weights, which the broadcast must replace
//   die | hang                rank 1 is killed (SIGKILL) / stops answering at its 4th batch
//   disagree                  rank 1 fits on fewer samples than rank 0
//   gradients                 the collective ops' gradient rules against central differences
//                             of the sum of every rank's loss, in float64
// Rank 0 writes OUT (weights and history, one value per line) and prints what it checked.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <thread>

#include "common/three_classes.hpp"
#include "dagrad/dagrad.hpp"

using namespace dagrad;

namespace {

using dagrad::testing::Data;
using dagrad::testing::three_classes;

// No BatchNormalization or dropout: the step of the union of the ranks' batches is the
// 1-process step exactly (up to rounding). Adam with global clipping that is active: both see
// the averaged gradient only if the allreduce comes before them.
optim::OptimizerPtr model_optimizer;

std::unique_ptr<nn::Sequential> model_for_test() {
  std::vector<nn::LayerPtr> layers{
      nn::Dense(16, {.activation = "elu", .kernel_initializer = "he_normal", .input_shape = Shape{4}}),
      nn::Dense(8, {.activation = "tanh"}), nn::Dense(3, {.activation = "softmax"})};
  auto model = std::make_unique<nn::Sequential>(layers, "", std::make_shared<nn::Backend>(11));
  model_optimizer = optim::Adam({.learning_rate = 0.01, .global_clipnorm = 0.3});
  model->compile(model_optimizer, "sparse_categorical_crossentropy", {"accuracy"});
  return model;
}

// Calls `action` on rank 1 at its batch `at`.
struct OnBatch : nn::Callback {
  int at;
  std::function<void()> action;
  OnBatch(int at_batch, std::function<void()> a) : at(at_batch), action(std::move(a)) {}
  void on_batch_end(nn::Model&, int batch, const nn::Logs&) override {
    if (distributed::rank() == 1 && batch == at) action();
  }
};

void write_result(const std::string& path, nn::Model& model, const nn::History& h,
                  const std::vector<Tensor>& initial) {
  std::ofstream out(path);
  out.precision(17);
  for (const Tensor& w : initial)
    for (std::int64_t i = 0; i < w.size(); ++i) out << "w0 " << w.value_as_double(i) << "\n";
  for (const Tensor& w : model.get_weights())
    for (std::int64_t i = 0; i < w.size(); ++i) out << "w " << w.value_as_double(i) << "\n";
  for (const std::string& key : {"loss", "accuracy", "val_loss", "val_accuracy"})
    for (double v : h[key]) out << key << " " << v << "\n";
  if (!out) throw FileError("cannot write " + path);
}

int train(const std::string& mode, int argc, char** argv) {
  Data train_data = three_classes(243, 1), val = three_classes(61, 2);
  auto model = model_for_test();
  nn::FitOptions fit{.epochs = 3, .batch_size = 64, .verbose = 0, .validation_x = val.x,
                     .validation_y = val.y, .seed = 7};
  if (mode == "train-ranks") {
    if (argc < 4) throw Error("train-ranks needs OUT and BUCKET");
    model->distribute({.bucket_bytes = std::stoll(argv[3])});
    // compile() again (as after changing a trainable flag) must keep the model distributed.
    model->compile(model_optimizer, "sparse_categorical_crossentropy", {"accuracy"});
    if (!model->distributed()) throw Error("compile() after distribute() made the model local");
    fit.batch_size = 32;
    if (distributed::rank() == 1) {  // other weights, which fit's broadcast must replace
      std::vector<Tensor> w = model->get_weights();
      for (Tensor& t : w)
        for (std::int64_t i = 0; i < t.size(); ++i) t.data<float>()[i] += 0.5f;
      model->set_weights(w);
    }
  } else if (mode == "die" || mode == "hang" || mode == "disagree") {
    model->distribute();
    fit.batch_size = 8;
    fit.epochs = 50;
    if (mode == "die") fit.callbacks.push_back(std::make_shared<OnBatch>(3, [] { std::raise(SIGKILL); }));
    if (mode == "hang")
      fit.callbacks.push_back(std::make_shared<OnBatch>(3, [] { std::this_thread::sleep_for(std::chrono::seconds(300)); }));
    if (mode == "disagree" && distributed::rank() == 1) train_data = three_classes(200, 1);
  }
  std::vector<Tensor> initial = model->get_weights();
  nn::History h = model->fit(train_data.x, train_data.y, fit);
  if (distributed::rank() == 0 && argc >= 3) write_result(argv[2], *model, h, initial);
  if (model->distributed()) {  // the learning-rate finder refuses it (its stop rule is per rank)
    bool refused = false;
    try {
      nn::find_learning_rate(*model, train_data.x, train_data.y);
    } catch (const nn::ModelError& e) {
      refused = std::string(e.what()).find("is distributed; run the finder in one process") != std::string::npos;
    }
    if (!refused) throw Error("find_learning_rate accepted a distributed model");
  }
  return 0;
}

// Every rank's loss L_r = sum(w_r * op(x_r)); the job's loss is sum_r L_r. The symbolic
// gradient of L_r with respect to x_r must equal the central difference of the job's loss when
// rank r's x moves.
int check_gradients() {
  const int rank = distributed::rank(), ranks = distributed::size();
  struct Case {
    std::string name;
    std::function<Output(Output)> op;
  };
  std::vector<Case> cases{
      {"allreduce sum", [](Output x) { return allreduce(x, distributed::Reduction::Sum); }},
      {"allreduce mean", [](Output x) { return allreduce(x, distributed::Reduction::Mean); }},
      {"broadcast root 0", [](Output x) { return broadcast(x, 0); }},
      {"broadcast root 1", [](Output x) { return broadcast(x, 1); }},
      {"reduce_to_root root 0", [](Output x) { return reduce_to_root(x, 0); }},
      {"reduce_to_root root 1", [](Output x) { return reduce_to_root(x, 1); }},
      // Nonlinear after the collective: dL_r/dx_r = allreduce(2 w y), y = allreduce(x).
      {"allreduce sum squared", [](Output x) { Output y = allreduce(x, distributed::Reduction::Sum); return y * y; }}};
  int failures = 0;
  for (const Case& c : cases) {
    Graph g;
    Session session(g);
    Output x = placeholder(g, DType::float64, Shape{3}, "x");
    Tensor wv(DType::float64, Shape{3});
    for (int i = 0; i < 3; ++i) wv.data<double>()[i] = 0.3 + 0.7 * rank - 0.2 * i;
    Output loss = sum(constant(g, wv) * c.op(x));
    Output grad = gradients(loss, {x})[0];
    Tensor x0(DType::float64, Shape{3});
    for (int i = 0; i < 3; ++i) x0.data<double>()[i] = 0.5 - 0.4 * rank + 0.25 * i;
    Tensor symbolic = session.run(grad, {{x, x0}});
    const double eps = 1e-6;
    double worst = 0;
    for (int owner = 0; owner < ranks; ++owner)
      for (int i = 0; i < 3; ++i) {
        double job_loss[2];
        for (int side = 0; side < 2; ++side) {
          Tensor xp = x0.clone();
          if (rank == owner) xp.data<double>()[i] += side == 0 ? eps : -eps;
          double l = session.run(loss, {{x, xp}}).value_as_double(0);
          distributed::allreduce(&l, 1, DType::float64, distributed::Reduction::Sum, "job loss");
          job_loss[side] = l;
        }
        const double numeric = (job_loss[0] - job_loss[1]) / (2 * eps);
        if (rank == owner) {
          const double s = symbolic.data<double>()[i];
          const double err = std::abs(s - numeric) / std::max(1.0, std::abs(numeric));
          worst = std::max(worst, err);
          if (err > 1e-7) {
            ++failures;
            std::fprintf(stderr, "%s: rank %d x[%d]: symbolic %.12g, numeric %.12g\n", c.name.c_str(), rank, i, s,
                         numeric);
          }
        }
      }
    distributed::allreduce(&worst, 1, DType::float64, distributed::Reduction::Sum, "worst");
    if (rank == 0) std::printf("gradient %s: summed worst relative error %.3g\n", c.name.c_str(), worst);
  }
  std::int64_t all = failures;
  distributed::allreduce(&all, 1, DType::int64, distributed::Reduction::Sum, "failures");
  if (rank == 0) std::printf("gradient failures: %lld\n", static_cast<long long>(all));
  return all == 0 ? 0 : 4;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: mpi_worker MODE [ARGS]\n");
    return 2;
  }
  const std::string mode = argv[1];
  try {
    if (mode != "train-single") distributed::initialize();
    int code = mode == "gradients" ? check_gradients() : train(mode, argc, argv);
    distributed::finalize();
    return code;
  } catch (const std::exception& e) {
    if (distributed::initialized())
      distributed::abort_job(std::string("mpi_worker error (") + distributed::describe() + "): " + e.what(), 3);
    std::fprintf(stderr, "mpi_worker error: %s\n", e.what());
    return 3;
  }
}
