// The chapter's nonsaturating activations on one deep MLP: ReLU and its leaky, randomized and
// parametric variants, ELU and SELU, compared by accuracy, validation loss and dying ReLUs (units
// that output 0 for every training image, so that no gradient reaches their weights again).
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "list.hpp"
#include "probe.hpp"
#include "tools/optimizer_choice.hpp"

namespace dagrad::tools::experiments {

namespace {

constexpr int kDepth = 8;  // hidden layers of kUnits: deep enough for ReLUs to die
constexpr std::int64_t kUnits = 100;
constexpr double kLeakyAlpha = 0.2;  // the book's LeakyReLU(alpha=0.2), not Keras's default 0.3

struct Variant {
  std::string label;
  MlpSpec spec;
  double learning_rate = 0.01;
};

std::vector<Variant> variants() {
  auto spec = [](std::string activation, nn::Initializer init, bool standardize) {
    MlpSpec s;
    s.depth = kDepth;
    s.units = kUnits;
    s.activation = std::move(activation);
    s.kernel_initializer = std::move(init);
    s.standardize = standardize;
    s.leaky_alpha = kLeakyAlpha;
    return s;
  };
  return {
      {"relu", spec("relu", "he_normal", false)},
      {"leaky_relu", spec("leaky_relu", "he_normal", false)},
      {"rrelu", spec("rrelu", "he_normal", false)},
      {"prelu", spec("prelu", "he_normal", false)},
      {"elu", spec("elu", "he_normal", false)},
      {"selu", spec("selu", "lecun_normal", true)},
      // The chapter: ReLUs die "especially with a large learning rate". At 0.03 the ELU and SELU
      // networks diverge, so this one row shows it.
      {"relu, lr 0.03", spec("relu", "he_normal", false), 0.03},
  };
}

// "0.0/1.3/2.7" (percent per layer, one decimal).
std::string per_layer(const std::vector<double>& shares) {
  std::string out;
  for (double s : shares) {
    if (!std::isfinite(s)) return "nan";
    char buffer[16];
    std::snprintf(buffer, sizeof buffer, "%.1f", 100.0 * s);
    if (!out.empty()) out += '/';
    out += buffer;
  }
  return out;
}

double average(const std::vector<double>& v) {
  return v.empty() ? 0.0 : spread(v).mean;
}

// The per-layer mean over seeds of shares[seed][layer].
std::vector<double> mean_over_seeds(const std::vector<std::vector<double>>& shares) {
  std::vector<double> out(static_cast<std::size_t>(kDepth), 0.0);
  for (const auto& seed : shares)
    for (std::size_t l = 0; l < out.size(); ++l)
      out[l] += seed[l] / static_cast<double>(shares.size());
  return out;
}

Curve layer_curve(const std::string& label, const std::vector<std::vector<double>>& shares) {
  Curve c;
  c.label = label;
  for (std::size_t l = 0; l < static_cast<std::size_t>(kDepth); ++l) {
    std::vector<double> values;
    for (const auto& seed : shares) values.push_back(100.0 * seed[l]);
    Spread s = spread(values);
    c.x.push_back(static_cast<double>(l + 1));
    c.y.push_back(s.mean);
    c.spread.push_back(s.stddev);
  }
  if (shares.size() < 2) c.spread.clear();
  return c;
}

}  // namespace

Report activations(const Options& options, const nn::FashionMnist& data) {
  Report report;
  report.title = "Activation functions: " + std::to_string(kDepth) + " hidden layers of " +
                 std::to_string(kUnits) + " units, Nesterov momentum 0.9";
  report.table =
      Table({"activation", "init", "test accuracy", "final val_loss", "dead units per layer (%)",
             "dead (mean)", "dead at init per layer (%)", "never positive (mean)"});
  ChartPanel val_panel{"Validation loss", "epoch", "val_loss"};
  ChartPanel dead_panel{"Dead units (dashed: at init)", "hidden layer",
                        "% of units 0 on every training image"};
  val_panel.integer_x = dead_panel.integer_x = true;
  val_panel.key = "top right";
  dead_panel.y_low = 0;  // a share; its band would reach below 0
  for (const Variant& v : variants()) {
    std::vector<Run> runs;
    std::vector<std::vector<double>> dead, dead_init, negative;
    for (int k = 0; k < options.seeds; ++k) {
      ProbedMlp net = make_probed_mlp(v.spec, options.seed_of(k), data);
      LayerProbe probe(*net.probe_model, {});
      auto split = [](const UnitActivity& a, bool activations, bool zero) {
        std::vector<double> all = zero ? a.never_nonzero_share() : a.never_positive_share();
        auto begin = all.begin() + (activations ? 0 : kDepth);
        return std::vector<double>(begin, begin + kDepth);
      };
      dead_init.push_back(split(probe.activity(data.x_train), true, true));
      OptimizerChoice choice;  // the book's Nesterov momentum 0.9
      choice.learning_rate = v.learning_rate;
      runs.push_back(train(*net.model, make_optimizer(choice), data, options, options.seed_of(k),
                           {.label = v.label}));
      UnitActivity after = probe.activity(data.x_train);
      dead.push_back(split(after, true, true));
      // Pre-activations <= 0 on every image: the units a ReLU would have lost.
      negative.push_back(split(after, false, false));
      // A diverged network's units are not dead: NaN weights give NaN pre-activations, which the
      // activation ops map to 0.
      if (!std::isfinite(runs.back().history["loss"].back())) {
        std::fill(dead.back().begin(), dead.back().end(), NAN);
        std::fill(negative.back().begin(), negative.back().end(), NAN);
      }
    }
    std::vector<double> dead_mean, negative_mean;
    for (std::size_t k = 0; k < dead.size(); ++k) {
      dead_mean.push_back(100.0 * average(dead[k]));
      negative_mean.push_back(100.0 * average(negative[k]));
    }
    report.table.add(
        {v.label, v.spec.kernel_initializer.name() + (v.spec.standardize ? ", std. inputs" : ""),
         mean_spread(test_accuracies(runs)), mean_spread(last(runs, "val_loss")),
         per_layer(mean_over_seeds(dead)), mean_spread(dead_mean, 1) + "%",
         per_layer(mean_over_seeds(dead_init)), mean_spread(negative_mean, 1) + "%"});
    val_panel.curves.push_back(mean_curve(v.label, runs, "val_loss"));
    // The legend is the first panel's; colours pair the curves.
    Curve after = layer_curve("", dead), before = layer_curve("", dead_init);
    after.color = before.color = static_cast<int>(val_panel.curves.size() - 1);
    before.dashed = true;
    dead_panel.curves.push_back(after);
    dead_panel.curves.push_back(before);
  }
  report.panels = {val_panel, dead_panel};
  const std::string images = std::to_string(data.x_train.shape()[0]);
  report.notes = {
      "Each network: Flatten, then " + std::to_string(kDepth) + " x (Dense " +
          std::to_string(kUnits) +
          " + activation), Dense 10 softmax, trained with Nesterov momentum 0.9 at lr 0.01 "
          "(0.03 where the row says so), batch 32. leaky_relu has alpha " +
          fixed(kLeakyAlpha, 1) +
          " (the book's example; Keras's LeakyReLU defaults to 0.3); rrelu draws slopes in "
          "[1/8, 1/3) (their mean at inference); prelu learns one slope per unit, starting at 0 "
          "(Keras's default), so at init it is a ReLU.",
      "A dead unit outputs exactly 0 for every one of the " + images +
          " training images (inference mode), so no gradient reaches its weights. 'dead units per "
          "layer' is the share per hidden layer after training (mean over seeds), 'dead at init' "
          "the same before training.",
      "Only relu (and prelu while its slope is 0) can have dead units: leaky_relu, rrelu, prelu "
      "with a non-zero slope, elu and selu never output exactly 0 for a negative input, so their "
      "0% is measured, not assumed. 'never positive' counts units whose input (the Dense output) "
      "is <= 0 on every image: dead for relu, still learning through the negative slope for the "
      "others. 'nan': the run diverged.",
      over_seeds(options) + "; the bands in the plot are the same spread.",
  };
  return report;
}

}  // namespace dagrad::tools::experiments
