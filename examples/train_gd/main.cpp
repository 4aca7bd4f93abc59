// train_gd: a network that learns, before the nn and optim modules exist. A two-layer network
// classifies a seeded three-arm spiral (300 points, 3 classes). Its gradients come from
// gradients(), its plain gradient-descent updates are assign_sub ops in the same graph, and
// the training step is compiled once into a plan and run for some hundreds of steps.
//
//   train_gd [OUTPUT_DIR] [STEPS]     (defaults "out", 800)
//
// Writes OUTPUT_DIR/train_gd.dot and .svg (forward and gradient graph) and the graph file
// OUTPUT_DIR/train_gd.dagrad.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>

#include "dagrad/dagrad.hpp"

using namespace dagrad;

namespace {

constexpr std::int64_t kPerClass = 100, kClasses = 3, kHidden = 64;

// The spiral of cs231n: class k's points lie on an arm turning with the radius, plus noise.
void make_spiral(std::vector<float>& points, std::vector<std::int64_t>& labels) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> noise(0.0, 0.2);
  for (std::int64_t k = 0; k < kClasses; ++k)
    for (std::int64_t i = 0; i < kPerClass; ++i) {
      double r = static_cast<double>(i) / (kPerClass - 1);
      double t = 4.0 * (static_cast<double>(k) + r) + noise(rng);
      points.push_back(static_cast<float>(r * std::sin(t)));
      points.push_back(static_cast<float>(r * std::cos(t)));
      labels.push_back(k);
    }
}

Output dense(Output x, std::int64_t units, const char* scope_name, std::int64_t seed) {
  Graph& g = *x.graph;
  auto scope = g.name_scope(scope_name);
  std::int64_t inputs = x.shape()[x.shape().rank() - 1];
  // Glorot-uniform initial kernel: U[-limit, limit], limit = sqrt(6 / (fan_in + fan_out)).
  double limit = std::sqrt(6.0 / static_cast<double>(inputs + units));
  Output kernel =
      variable(random_uniform(g, Shape{inputs, units}, -limit, limit, DType::float32, seed, "init"),
               "kernel");
  Output bias = variable(g, Tensor(DType::float32, Shape{units}), "bias");
  return add(matmul(x, kernel, false, false, "MatMul"), bias, "BiasAdd");
}

}  // namespace

int main(int argc, char** argv) {
  std::filesystem::path out_dir = argc > 1 ? argv[1] : "out";
  int steps = argc > 2 ? std::stoi(argv[2]) : 800;
  try {
    std::vector<float> points;
    std::vector<std::int64_t> labels;
    make_spiral(points, labels);
    const auto n = static_cast<std::int64_t>(labels.size());

    Graph g;
    g.set_seed(2026);
    Output x = placeholder(g, DType::float32, Shape{-1, 2}, "x");
    Output y = placeholder(g, DType::int64, Shape{-1}, "y");
    Output hidden = relu(dense(x, kHidden, "dense_1", 1), "relu");
    Output logits = dense(hidden, kClasses, "dense_2", 2);
    Output loss, accuracy;
    {
      auto scope = g.name_scope("loss");
      // Cross-entropy: -mean over the batch of log softmax(logits)[label].
      Output picked = sum(one_hot(y, kClasses) * log_softmax(logits), {1});
      loss = neg(mean(picked), "cross_entropy");
      accuracy = mean(cast(equal(argmax(logits, 1), y), DType::float32), {}, false, "accuracy");
    }
    std::vector<Output> params;
    for (const auto& v : g.variables()) params.push_back(g.output_of(v.variable));
    std::vector<Output> grads = gradients(loss, params);
    Operation train;
    {
      auto scope = g.name_scope("sgd");
      // Every update waits for every gradient: backpropagation reads the weights (dense_2's
      // kernel for dense_1's gradient), and a read and a write of one variable must be ordered.
      auto after_gradients =
          g.control_dependencies(std::vector<Operation>(grads.begin(), grads.end()));
      Output learning_rate = scalar(g, 1.0, DType::float32, "learning_rate");
      std::vector<Operation> updates;
      for (std::size_t i = 0; i < params.size(); ++i)
        updates.push_back(assign_sub(params[i], learning_rate * grads[i], "update"));
      train = group(g, updates, "train");
    }
    std::cout << "graph: " << g.num_nodes() << " nodes (" << params.size() << " variables), " << n
              << " training points in " << kClasses << " classes\n";

    Session session(g);
    session.initialize_variables();
    Tensor xs = Tensor::from_vector<float>({n, 2}, points);
    Tensor ys = Tensor::from_vector<std::int64_t>({n}, labels);
    // The training step: compiled once, then only run.
    Plan& step = session.compile({loss}, {train}, {x, y});
    std::vector<Tensor> feeds{xs, ys};
    double first = 0, last = 0;
    for (int i = 0; i <= steps; ++i) {
      double value = step.run(feeds).at(0).item<float>();
      if (i == 0) first = value;
      last = value;
      if (i % 100 == 0) std::printf("step %4d  loss %.4f\n", i, value);
    }
    double acc = session.run(accuracy, {{x, xs}, {y, ys}}).item<float>();
    std::printf("loss %.4f -> %.4f, training accuracy %.1f%% (chance: 33.3%%)\n", first, last,
                100 * acc);

    std::filesystem::create_directories(out_dir);
    write_dot_file(g, (out_dir / "train_gd.dot").string());
    write_dot_file(g, (out_dir / "train_gd.svg").string());
    save_graph(g, (out_dir / "train_gd.dagrad").string());
    // The data, for `dagrad gradcheck --graph ... --feed x=... --feed y=...`.
    write_npy((out_dir / "train_gd_x.npy").string(), xs);
    write_npy((out_dir / "train_gd_y.npy").string(), ys);
    std::cout << "wrote " << (out_dir / "train_gd.dot").string()
              << ", train_gd.svg and train_gd.dagrad\n";
    return last < first ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "train_gd: error: " << e.what() << "\n";
    return 1;
  }
}
