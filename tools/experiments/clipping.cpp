// Gradient clipping against exploding gradients: a network made to explode (a deep ELU MLP
// trained with Nesterov momentum at three times the book's learning rate), without clipping and
// with each of Keras's clipping options, and the same network at the book's rate for reference.
#include <algorithm>
#include <cmath>
#include <optional>

#include "list.hpp"
#include "probe.hpp"
#include "tools/optimizer_choice.hpp"

namespace dagrad::tools::experiments {

namespace {

constexpr int kDepth = 8;  // hidden ELU layers of 100 units, He initialization
constexpr double kExplodingRate = 0.03;
constexpr double kSafeRate = 0.01;  // the book's rate, for the reference row
constexpr std::int64_t kBatchSize = 32;

struct Variant {
  std::string label;
  double learning_rate = kExplodingRate;
  std::optional<double> clipvalue = std::nullopt, clipnorm = std::nullopt,
                        global_clipnorm = std::nullopt;
};

// Records the first epoch's running loss after every step and the first epoch whose
// running loss is not finite, and then ends the fit after that epoch: a network of NaN weights
// stays NaN, and its epochs would only cost time.
class DivergenceWatch : public nn::Callback {
 public:
  void on_epoch_begin(nn::Model&, int epoch) override { epoch_ = epoch; }
  void on_batch_end(nn::Model& model, int, const nn::Logs& logs) override {
    double loss = logs.at("loss");
    if (epoch_ == 0) first_epoch_loss.push_back(loss);
    if (!first_nonfinite && !std::isfinite(loss)) {
      first_nonfinite = epoch_ + 1;
      model.stop_training = true;
    }
  }
  std::optional<int> first_nonfinite;  // 1-based epoch
  std::vector<double> first_epoch_loss;

 private:
  int epoch_ = 0;
};

// The mean over seeds per point, NaN where any seed is NaN or has stopped (a mean over the
// survivors would hide the divergence), with the spread as a band.
Curve strict_mean(const std::string& label, const std::vector<std::vector<double>>& per_seed,
                  double x_step) {
  Curve c;
  c.label = label;
  std::size_t points = 0;
  for (const auto& s : per_seed) points = std::max(points, s.size());
  for (std::size_t i = 0; i < points; ++i) {
    std::vector<double> values;
    bool complete = true;
    for (const auto& s : per_seed) {
      if (i >= s.size() || !std::isfinite(s[i])) complete = false;
      if (i < s.size()) values.push_back(s[i]);
    }
    Spread sp = spread(values);
    c.x.push_back(x_step * static_cast<double>(i + 1));
    c.y.push_back(complete ? sp.mean : NAN);
    c.spread.push_back(complete ? sp.stddev : 0.0);
  }
  if (per_seed.size() < 2) c.spread.clear();
  return c;
}

}  // namespace

Report clipping(const Options& options, const nn::FashionMnist& data) {
  const std::vector<Variant> variants = {
      {.label = "no clipping"},
      {.label = "clipvalue 1.0", .clipvalue = 1.0},
      {.label = "clipvalue 0.1", .clipvalue = 0.1},
      {.label = "clipnorm 1.0", .clipnorm = 1.0},
      {.label = "global_clipnorm 1.0", .global_clipnorm = 1.0},
      {.label = "no clipping, lr 0.01", .learning_rate = kSafeRate},
  };
  Report report;
  report.title = "Gradient clipping: " + std::to_string(kDepth) +
                 " hidden ELU layers of 100 (He init), Nesterov momentum 0.9";
  report.table = Table({"variant", "lr", "final loss", "non-finite loss in epoch (per seed)",
                        "final val_loss", "test accuracy"});
  ChartPanel loss_panel{"Training loss per epoch", "epoch", "loss"};
  // Log steps: without clipping the loss explodes within the first few dozen.
  ChartPanel steps_panel{"First epoch, per step", "step", "running mean of the loss"};
  steps_panel.log_x = true;
  loss_panel.integer_x = true;
  loss_panel.log_y = steps_panel.log_y = true;
  loss_panel.key = steps_panel.key = "top right";
  for (const Variant& v : variants) {
    std::vector<Run> runs;
    std::vector<std::vector<double>> epoch_losses, step_losses;
    std::string diverged;
    for (int k = 0; k < options.seeds; ++k) {
      MlpSpec spec;
      spec.depth = kDepth;
      spec.activation = "elu";
      spec.kernel_initializer = "he_normal";
      ProbedMlp net = make_probed_mlp(spec, options.seed_of(k), data);
      OptimizerChoice choice;  // Nesterov, momentum 0.9
      choice.learning_rate = v.learning_rate;
      choice.clipvalue = v.clipvalue;
      choice.clipnorm = v.clipnorm;
      choice.global_clipnorm = v.global_clipnorm;
      auto watch = std::make_shared<DivergenceWatch>();
      runs.push_back(train(*net.model, make_optimizer(choice), data, options, options.seed_of(k),
                           {.batch_size = kBatchSize, .callbacks = {watch}, .label = v.label}));
      if (k > 0) diverged += '/';
      diverged += watch->first_nonfinite ? std::to_string(*watch->first_nonfinite) : "never";
      epoch_losses.push_back(runs.back().history["loss"]);
      step_losses.push_back(watch->first_epoch_loss);
    }
    report.table.add({v.label, fixed(v.learning_rate, 2), mean_spread(last(runs, "loss")), diverged,
                      mean_spread(last(runs, "val_loss")), mean_spread(test_accuracies(runs))});
    loss_panel.curves.push_back(strict_mean(v.label, epoch_losses, 1.0));
    steps_panel.curves.push_back(strict_mean(v.label, step_losses, 1.0));
  }
  report.panels = {loss_panel, steps_panel};
  report.notes = {
      "The network: Flatten, " + std::to_string(kDepth) +
          " x Dense(100, elu, he_normal), Dense(10, softmax), trained with Nesterov momentum 0.9 "
          "at lr " +
          fixed(kExplodingRate, 2) +
          " (three times the book's 0.01), batch 32: a rate at which, on 10,000 training images, "
          "every seed tried without clipping went NaN in its first epoch. The last row trains it "
          "at 0.01 without clipping, for reference.",
      "clipvalue clips each gradient component to [-v, v]; clipnorm rescales each variable's "
      "gradient to norm <= c; global_clipnorm rescales all gradients together to global norm "
      "<= c (Keras's options, applied before the optimizer's update).",
      "'non-finite loss in epoch': the epoch in which each seed's running training loss became "
      "NaN or infinite (training stops after that epoch), 'never' if it stayed finite; a "
      "diverged run's losses are nan and its test accuracy is that of constant predictions.",
      over_seeds(options) +
          "; the bands in the plot are the same spread, and a point where any seed's loss is "
          "not finite is left out (so a curve of runs that diverged in epoch 1 shows in the "
          "per-step panel only).",
  };
  return report;
}

}  // namespace dagrad::tools::experiments
