// Pretraining on an auxiliary task (the chapter's "Pretraining on an Auxiliary Task"): when labels
// are scarce, train a network on a task whose labels come for free, then reuse its lower layers
// for the small labelled task.
//
// The task: self-supervised rotation prediction (Gidaris et al., 2018). Each image is turned by
// 0, 90, 180 or 270 degrees and the network predicts which (4-way softmax). The issue suggested
// "whether two images show the same class", but building such pairs needs the class labels, the
// very thing the small task lacks; a rotation's label comes from any unlabelled image, and to
// tell a shoe's or a shirt's top from its side the network must learn what shoes and shirts look
// like. Fashion-MNIST's items are all upright, so the task is well posed (a bag or a symmetric
// top can be ambiguous between 0 and 180 degrees, which caps its accuracy below 100%).
//
// The rotation network is the classifier's lower layers (Flatten, Dense 300-100 elu, he_normal)
// with Dense(4, softmax), trained with Adam on every training image within --limit, each epoch
// with new random rotations (so each epoch sees each image once, in a turn drawn anew); its
// validation set is the validation images, each turned once. No class label is read.
//
// Epochs: --epochs E is the length of every fit: the rotation network's and each classifier's.
// Each seed trains its own rotation network; the labelled images are the same for every seed.
#include <chrono>
#include <iostream>

#include "list.hpp"
#include "rotations.hpp"
#include "small_task.hpp"

namespace dagrad::tools::experiments {

namespace {

// A seed for epoch `epoch`'s rotations, apart from the validation set's (splitmix64's mixing).
std::uint64_t epoch_seed(std::uint64_t seed, int epoch) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * static_cast<std::uint64_t>(epoch + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace

Report auxiliary(const Options& options, const nn::FashionMnist& data) {
  const std::int64_t unlabelled = data.x_train.shape()[0];
  const Subset labelled = select(
      data.x_train, data.y_train, [](std::int32_t) { return true; }, kLabelledImages);

  std::vector<Run> rotation_runs;
  SmallTaskRuns runs;
  for (int k = 0; k < options.seeds; ++k) {
    const std::uint64_t seed = options.seed_of(k);
    auto start = std::chrono::steady_clock::now();
    std::vector<nn::LayerPtr> layers = lower_layers();
    layers.push_back(nn::Dense(4, {.activation = "softmax"}));
    nn::Sequential rotation(layers, "", std::make_shared<nn::Backend>(seed));
    rotation.compile(adam(), "sparse_categorical_crossentropy", {"accuracy"});
    const Subset valid = rotation_task(data.x_valid, seed);
    Run run;
    for (int epoch = 0; epoch < options.epochs; ++epoch) {
      // One compiled step and one optimizer state across epochs; only the rotations change.
      const Subset train = rotation_task(data.x_train, epoch_seed(seed, epoch));
      nn::FitOptions fit;
      fit.initial_epoch = epoch;
      fit.epochs = epoch + 1;
      fit.verbose = options.verbose >= 2 ? 2 : 0;
      fit.out = options.log ? options.log : &std::cerr;
      fit.validation_x = valid.x;
      fit.validation_y = valid.y;
      fit.seed = seed;
      append(run.history, rotation.fit(train.x, train.y, fit));
    }
    run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    log_run(options, "rotation task", seed,
            "val accuracy " + fixed(run.history["val_accuracy"].back()), run.seconds);
    rotation_runs.push_back(std::move(run));
    run_small_task(rotation, labelled, data, options, seed, runs);
  }

  Report report;
  report.title = "Auxiliary task: rotation prediction's layers for " +
                 std::to_string(labelled.size()) + " labelled images";
  report.table = small_task_table(runs, "rotations", labelled.size());

  ChartPanel rotation_panel{"Auxiliary task: which of 4 rotations", "epoch", "accuracy"};
  rotation_panel.integer_x = true;
  rotation_panel.key = "bottom right";
  rotation_panel.curves.push_back(mean_curve("training", rotation_runs, "accuracy"));
  rotation_panel.curves.push_back(mean_curve("validation", rotation_runs, "val_accuracy"));
  report.panels = {rotation_panel, small_task_panel(runs)};

  report.notes = {
      over_seeds(options) + " from " + std::to_string(options.seed_of(0)) +
          "; each seed trains its own rotation network and classifiers (the from-scratch one "
          "starts from the rotation network's initial lower layers). Test accuracy over the "
          "10,000 test images; val accuracy over the 5,000 validation images, per epoch.",
      "Auxiliary task: self-supervised rotation prediction: each image turned by 0, 90, 180 or "
      "270 degrees, the network (Dense 300-100 elu + Dense(4, softmax), Adam) predicts which. "
      "Its labels are free (no class label is read), unlike 'do two images show the same "
      "class', whose pairs need the class labels the small task lacks. It learned from the " +
          grouped(unlabelled) +
          " training images within --limit, new rotations each "
          "epoch, for " +
          std::to_string(options.epochs) + " epoch(s): final val accuracy " +
          mean_spread(last(rotation_runs, "val_accuracy")) + " (chance: 0.25).",
      classifiers_note(options, labelled.size(), "rotation network"),
      "The chapter: with few labels, first train on an auxiliary task whose labels are cheap, "
      "then reuse its lower layers. Read the per-seed count and the spread before believing a "
      "difference.",
  };
  add_few_labels_note(labelled.size(), report);
  return report;
}

}  // namespace dagrad::tools::experiments
