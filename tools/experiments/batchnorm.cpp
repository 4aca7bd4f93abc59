// Batch Normalization: none, after each hidden layer (as the book's first example) and before each
// activation (its second), on the chapter's 300-100 ELU network and on a deep sigmoid network, the
// case BN's authors said it rescues (saturating activations, vanishing gradients).
#include <algorithm>

#include "list.hpp"
#include "tools/optimizer_choice.hpp"

namespace dagrad::tools::experiments {

namespace {

constexpr int kDeepDepth = 10;

}  // namespace

Report batchnorm(const Options& options, const nn::FashionMnist& data) {
  Report report;
  report.title = "Batch Normalization (Nesterov 0.9, lr 0.01, batch 32)";
  report.table = Table({"network", "batchnorm", "val accuracy after epoch 1", "final val accuracy",
                        "test accuracy", "s/epoch"});
  struct Net {
    std::string name, activation, initializer;
    std::vector<std::int64_t> hidden;
  };
  const std::vector<Net> nets = {{"300-100 elu", "elu", "he_normal", {300, 100}},
                                 {std::to_string(kDeepDepth) + "x100 sigmoid", "sigmoid",
                                  "glorot_uniform", std::vector<std::int64_t>(kDeepDepth, 100)}};
  for (const Net& net : nets) {
    ChartPanel panel{net.name + ": validation accuracy", "epoch", "val_accuracy"};
    panel.integer_x = true;
    for (const std::string mode : {"none", "after", "before"}) {
      std::vector<Run> runs;
      for (int k = 0; k < options.seeds; ++k) {
        nn::ModelSpec spec;
        spec.hidden = net.hidden;
        spec.activation = net.activation;
        spec.initializer = net.initializer;
        spec.batchnorm = mode;
        auto model = build(spec, options.seed_of(k), data);
        runs.push_back(train(*model, make_optimizer({.name = "nesterov"}), data, options,
                             options.seed_of(k), {.label = net.name + ", batchnorm " + mode}));
      }
      std::vector<double> first, per_epoch;
      for (const Run& r : runs) {
        first.push_back(r.history["val_accuracy"].front());
        per_epoch.push_back(r.seconds / static_cast<double>(r.history.epochs.size()));
      }
      report.table.add({net.name, mode, mean_spread(first), mean_spread(last(runs, "val_accuracy")),
                        mean_spread(test_accuracies(runs)), fixed(spread(per_epoch).mean, 2)});
      panel.curves.push_back(mean_curve(mode, runs, "val_accuracy"));
    }
    report.panels.push_back(panel);
  }
  report.notes.push_back(
      over_seeds(options) +
      ". s/epoch: a run's wall time (training, validation and the final test evaluation) "
      "over its epochs: BatchNormalization's cost per epoch.");
  return report;
}

}  // namespace dagrad::tools::experiments
