#include "small_task.hpp"

#include <algorithm>
#include <chrono>

namespace dagrad::tools::experiments {

std::vector<nn::LayerPtr> lower_layers() {
  return {nn::Flatten({28, 28}),
          nn::Dense(300, {.activation = "elu", .kernel_initializer = "he_normal"}),
          nn::Dense(100, {.activation = "elu", .kernel_initializer = "he_normal"})};
}

optim::OptimizerPtr adam() {
  return optim::Adam(optim::AdamOptions{});
}

namespace {

Run fit_and_test(nn::Model& model, const Subset& labelled, const nn::FashionMnist& data,
                 const Options& options, std::uint64_t seed, const std::string& label) {
  auto start = std::chrono::steady_clock::now();
  Run run;
  fit_phase(model, {adam(), options.epochs}, "sparse_categorical_crossentropy", {"accuracy"},
            labelled, {data.x_valid, data.y_valid}, 0, seed, options, run.history);
  nn::Logs test = model.evaluate(data.x_test, data.y_test, 256);
  run.test_loss = test.at("loss");
  run.test_accuracy = test.at("accuracy");
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  log_run(options, label, seed, "test accuracy " + fixed(run.test_accuracy), run.seconds);
  return run;
}

std::vector<double> best(const std::vector<Run>& runs, const std::string& key) {
  std::vector<double> out;
  for (const Run& r : runs) {
    const std::vector<double>& v = r.history[key];
    out.push_back(*std::max_element(v.begin(), v.end()));
  }
  return out;
}

}  // namespace

void run_small_task(const nn::Model& pretrained, const Subset& labelled,
                    const nn::FashionMnist& data, const Options& options, std::uint64_t seed,
                    SmallTaskRuns& runs) {
  std::vector<nn::LayerPtr> layers = lower_layers();
  layers.push_back(nn::Dense(10, {.activation = "softmax"}));
  nn::Sequential scratch(layers, "", std::make_shared<nn::Backend>(seed));
  runs.scratch.push_back(fit_and_test(scratch, labelled, data, options, seed, "from scratch"));

  auto frozen = reuse_lower_layers(pretrained, nn::Dense(10, {.activation = "softmax"}));
  set_lower_layers_trainable(*frozen, false);
  runs.frozen.push_back(fit_and_test(*frozen, labelled, data, options, seed, "reused, frozen"));

  auto tuned = reuse_lower_layers(pretrained, nn::Dense(10, {.activation = "softmax"}));
  runs.fine_tuned.push_back(fit_and_test(*tuned, labelled, data, options, seed, "reused, tuned"));
}

Table small_task_table(const SmallTaskRuns& runs, const std::string& pretrained_on,
                       std::int64_t labelled) {
  Table table({"classifier", "labelled images", "test accuracy", "final val accuracy",
               "best val accuracy", "seeds better/same/worse than scratch"});
  const std::vector<double> scratch = test_accuracies(runs.scratch);
  auto row = [&](const std::string& name, const std::vector<Run>& r, bool compare) {
    table.add({name, std::to_string(labelled), mean_spread(test_accuracies(r)),
               mean_spread(last(r, "val_accuracy")), mean_spread(best(r, "val_accuracy")),
               compare ? compare_per_seed(test_accuracies(r), scratch) : ""});
  };
  row("from scratch", runs.scratch, false);
  row("layers pretrained on " + pretrained_on + ", frozen", runs.frozen, true);
  row("layers pretrained on " + pretrained_on + ", fine-tuned", runs.fine_tuned, true);
  return table;
}

ChartPanel small_task_panel(const SmallTaskRuns& runs) {
  ChartPanel panel{"Small task: validation accuracy (10 classes)", "epoch", "val_accuracy"};
  panel.integer_x = true;
  panel.key = "bottom right";
  panel.curves.push_back(mean_curve("from scratch", runs.scratch, "val_accuracy"));
  panel.curves.push_back(mean_curve("pretrained, frozen", runs.frozen, "val_accuracy"));
  panel.curves.push_back(mean_curve("pretrained, fine-tuned", runs.fine_tuned, "val_accuracy"));
  return panel;
}

std::string classifiers_note(const Options& options, std::int64_t labelled,
                             const std::string& features_of) {
  return "Classifiers: the lower layers + Dense(10, softmax), Adam 0.001, " +
         std::to_string(options.epochs) + " epoch(s) on the first " + std::to_string(labelled) +
         " training images with their labels. Frozen: only the new head learns (a probe of the " +
         features_of +
         "'s features as they are; its curve shows whether the head had converged); fine-tuned: "
         "every layer learns from the pretrained start.";
}

void add_few_labels_note(std::int64_t labelled, Report& report) {
  if (labelled < kLabelledImages)
    report.notes.push_back("Only " + std::to_string(labelled) +
                           " training images within --limit: the classifiers learn from all of "
                           "them instead of " +
                           std::to_string(kLabelledImages) + ".");
}

}  // namespace dagrad::tools::experiments
