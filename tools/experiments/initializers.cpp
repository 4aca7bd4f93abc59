// Initialization matched to the activation (Glorot for tanh/sigmoid/softmax, He for the ReLU
// family, LeCun for SELU) against Keras's plain default random_normal (stddev 0.05), on a net deep
// enough for the mismatch to matter. Inputs are standardized for every variant (SELU needs it;
// the others then see the same data).
#include "list.hpp"
#include "tools/optimizer_choice.hpp"

namespace dagrad::tools::experiments {

namespace {

constexpr int kDepth = 10;
constexpr std::int64_t kUnits = 100;

}  // namespace

Report initializers(const Options& options, const nn::FashionMnist& data) {
  Report report;
  report.title = "Initializers: " + std::to_string(kDepth) + " hidden layers of " +
                 std::to_string(kUnits) + ", standardized inputs, Nesterov 0.9, lr 0.01";
  report.table = Table(
      {"activation", "initializer", "val_loss after epoch 1", "final val_loss", "test accuracy"});
  const std::vector<std::string> activations = {"tanh", "relu", "selu"};
  const std::vector<std::string> inits = {"random_normal", "glorot_uniform", "he_normal",
                                          "lecun_normal"};
  for (const std::string& activation : activations) {
    ChartPanel panel{activation + ": validation loss", "epoch", "val_loss"};
    panel.integer_x = true;
    for (const std::string& init : inits) {
      std::vector<Run> runs;
      for (int k = 0; k < options.seeds; ++k) {
        nn::ModelSpec spec;
        spec.hidden.assign(kDepth, kUnits);
        spec.activation = activation;
        spec.initializer = init;
        spec.standardize = true;
        auto model = build(spec, options.seed_of(k), data);
        runs.push_back(train(*model, make_optimizer({.name = "nesterov"}), data, options,
                             options.seed_of(k), {.label = activation + " + " + init}));
      }
      std::vector<double> first;
      for (const Run& r : runs) first.push_back(r.history["val_loss"].front());
      report.table.add({activation, init, mean_spread(first), mean_spread(last(runs, "val_loss")),
                        mean_spread(test_accuracies(runs))});
      panel.curves.push_back(mean_curve(init, runs, "val_loss"));
    }
    report.panels.push_back(panel);
  }
  report.notes.push_back(
      over_seeds(options) +
      ". random_normal is Keras's RandomNormal default (stddev 0.05, whatever the fan-in).");
  return report;
}

}  // namespace dagrad::tools::experiments
