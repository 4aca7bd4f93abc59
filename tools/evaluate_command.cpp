// `dagrad evaluate MODEL` (test loss, accuracy and the confusion matrix with class names) and
// `dagrad predict MODEL --index N...` (class names and probabilities of test images).
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "dagrad/dagrad.hpp"

namespace dagrad::tools {

namespace {

// A model file's model, compiled for evaluation when it was saved without an optimizer.
std::unique_ptr<nn::Model> load_for_test(const std::string& path) {
  std::unique_ptr<nn::Model> model = nn::load_model(path);
  if (!model->compiled()) model->compile(optim::SGD(), "sparse_categorical_crossentropy", {"accuracy"});
  return model;
}

std::int64_t argmax_row(const Tensor& probs, std::int64_t row) {
  const std::int64_t classes = probs.shape()[1];
  const float* p = probs.data<float>() + row * classes;
  return std::max_element(p, p + classes) - p;  // ties: the lowest index, as argmax
}

}  // namespace

void add_evaluate_command(CLI::App& app) {
  struct Args {
    std::string model, data = nn::kFashionMnistDir;
    std::int64_t batch_size = 256;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("evaluate", "Test loss, accuracy and confusion matrix of a saved model on Fashion-MNIST");
  cmd->add_option("model", a->model, "Model file (dagrad train's --save, or save_model)")->required();
  cmd->add_option("--data", a->data, "Folder of the Fashion-MNIST IDX files")->capture_default_str();
  cmd->add_option("--batch-size", a->batch_size, "Batch size")->check(CLI::Range(1, 1000000));
  cmd->callback([a] {
    std::unique_ptr<nn::Model> model = load_for_test(a->model);
    nn::FashionMnist data = nn::load_fashion_mnist(a->data);
    nn::Logs logs = model->evaluate(data.x_test, data.y_test, a->batch_size);
    Tensor probs = model->predict(data.x_test, a->batch_size);
    if (probs.shape().rank() != 2 || probs.shape()[1] != 10)
      throw nn::ModelError("model '" + model->name() + "' does not output 10 class probabilities");
    const std::vector<std::string>& names = nn::fashion_mnist_class_names();
    std::vector<std::vector<std::int64_t>> confusion(10, std::vector<std::int64_t>(10, 0));
    for (std::int64_t i = 0; i < probs.shape()[0]; ++i)
      ++confusion[static_cast<std::size_t>(data.y_test.data<std::int32_t>()[i])][static_cast<std::size_t>(argmax_row(probs, i))];
    std::printf("test loss: %.4f\ntest accuracy: %.4f\n\n", logs.at("loss"), logs.at("accuracy"));
    std::printf("confusion matrix (rows: true class, columns: predicted)\n%-12s", "");
    for (int c = 0; c < 10; ++c) std::printf(" %5d", c);
    std::printf("   recall\n");
    for (int r = 0; r < 10; ++r) {
      std::int64_t total = 0;
      for (int c = 0; c < 10; ++c) total += confusion[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)];
      std::printf("%d %-10.10s", r, names[static_cast<std::size_t>(r)].c_str());
      for (int c = 0; c < 10; ++c) std::printf(" %5lld", static_cast<long long>(confusion[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)]));
      std::printf("   %.3f\n", total ? static_cast<double>(confusion[static_cast<std::size_t>(r)][static_cast<std::size_t>(r)]) / static_cast<double>(total) : 0.0);
    }
  });
}

void add_predict_command(CLI::App& app) {
  struct Args {
    std::string model, data = nn::kFashionMnistDir;
    std::vector<std::int64_t> indices;
    int top = 3;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("predict", "Class names and probabilities a saved model gives test images");
  cmd->add_option("model", a->model, "Model file")->required();
  cmd->add_option("--index", a->indices, "Test image indices (0..9999)")->required()->check(CLI::Range(0, 9999));
  cmd->add_option("--top", a->top, "Classes shown per image")->check(CLI::Range(1, 10))->capture_default_str();
  cmd->add_option("--data", a->data, "Folder of the Fashion-MNIST IDX files")->capture_default_str();
  cmd->callback([a] {
    std::unique_ptr<nn::Model> model = nn::load_model(a->model);
    nn::FashionMnist data = nn::load_fashion_mnist(a->data);
    const std::vector<std::string>& names = nn::fashion_mnist_class_names();
    const std::int64_t pixels = 28 * 28;
    Tensor x(DType::float32, Shape{static_cast<std::int64_t>(a->indices.size()), 28, 28});
    for (std::size_t i = 0; i < a->indices.size(); ++i)
      std::copy_n(data.x_test.data<float>() + a->indices[i] * pixels, pixels, x.data<float>() + static_cast<std::int64_t>(i) * pixels);
    Tensor probs = model->predict(x);
    if (probs.shape().rank() != 2 || probs.shape()[1] != 10)
      throw nn::ModelError("model '" + model->name() + "' does not output 10 class probabilities");
    for (std::size_t i = 0; i < a->indices.size(); ++i) {
      std::vector<int> order(10);
      for (int c = 0; c < 10; ++c) order[static_cast<std::size_t>(c)] = c;
      const float* p = probs.data<float>() + static_cast<std::int64_t>(i) * 10;
      std::stable_sort(order.begin(), order.end(), [p](int l, int r) { return p[l] > p[r]; });
      int truth = data.y_test.data<std::int32_t>()[a->indices[i]];
      std::printf("image %lld (a %s): %s", static_cast<long long>(a->indices[i]), names[static_cast<std::size_t>(truth)].c_str(),
                  order[0] == truth ? "right" : "wrong");
      for (int k = 0; k < a->top; ++k)
        std::printf("%s %s %.4f", k ? "," : ":", names[static_cast<std::size_t>(order[static_cast<std::size_t>(k)])].c_str(),
                    p[order[static_cast<std::size_t>(k)]]);
      std::printf("\n");
    }
  });
}

}  // namespace dagrad::tools
