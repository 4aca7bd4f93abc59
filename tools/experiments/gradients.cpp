// The chapter's opening problem made visible: in a deep MLP, how the spread of each hidden
// layer's outputs and the norm of the loss gradient with respect to each layer's kernel change
// from layer to layer, for the activation and initialization pairs the chapter discusses, at
// initialization and after training.
#include <cmath>
#include <cstdio>

#include "list.hpp"
#include "probe.hpp"
#include "tools/optimizer_choice.hpp"

namespace dagrad::tools::experiments {

namespace {

constexpr int kDepth = 20;  // hidden Dense layers of kUnits
constexpr std::int64_t kUnits = 100;
constexpr std::int64_t kBatch = 1000;  // the fixed batch of training images measured
// Trained with plain SGD (Keras's default rate 0.01), whose step is the gradient itself: a layer
// whose gradient vanished does not learn. (Nesterov momentum 0.9 at 0.01 made every ELU run
// diverge at this depth.)
constexpr const char* kOptimizer = "sgd";

struct Setup {
  std::string label;
  MlpSpec spec;
};

std::vector<Setup> setups() {
  nn::Initializer unit_normal = nn::Initializer::random_normal(0.0, 1.0);
  auto spec = [](std::string activation, nn::Initializer init, bool standardize) {
    MlpSpec s;
    s.depth = kDepth;
    s.units = kUnits;
    s.activation = std::move(activation);
    s.kernel_initializer = std::move(init);
    s.standardize = standardize;
    return s;
  };
  return {
      {"sigmoid, N(0,1)", spec("sigmoid", unit_normal, false)},
      {"sigmoid, Glorot", spec("sigmoid", "glorot_uniform", false)},
      // Not among the chapter's pairs, but what Glorot's analysis assumes (an activation with
      // slope 1 at 0, centred on 0): the contrast with the sigmoid.
      {"tanh, Glorot", spec("tanh", "glorot_uniform", false)},
      {"ReLU, He", spec("relu", "he_normal", false)},
      {"ELU, He", spec("elu", "he_normal", false)},
      {"SELU, LeCun, std. inputs", spec("selu", "lecun_normal", true)},
  };
}

// "3.1e-05 ± 2.0e-06": gradient norms span many orders of magnitude.
std::string sci(double v) {
  if (!std::isfinite(v)) return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.2g", v);
  return buffer;
}
std::string sci_spread(const std::vector<double>& values) {
  for (double v : values)
    if (!std::isfinite(v)) return "nan";
  Spread s = spread(values);
  return values.size() < 2 ? sci(s.mean) : sci(s.mean) + " ± " + sci(s.stddev);
}

// One seed's measurements: per hidden layer, at init [0] and after training [1].
struct Measured {
  LayerFigures figures[2];
  double test_accuracy = 0;
};

// The per-layer mean over seeds of `value` (with the spread as a band), layers numbered from 1.
Curve layer_curve(const std::string& label, const std::vector<Measured>& runs, int when,
                  double (*value)(const LayerFigures&, std::size_t)) {
  Curve c;
  c.label = label;
  for (std::size_t l = 0; l < static_cast<std::size_t>(kDepth); ++l) {
    std::vector<double> values;
    for (const Measured& m : runs) values.push_back(value(m.figures[when], l));
    Spread s = spread(values);
    c.x.push_back(static_cast<double>(l + 1));
    c.y.push_back(s.mean);
    c.spread.push_back(std::isfinite(s.stddev) ? s.stddev : 0.0);
  }
  if (runs.size() < 2) c.spread.clear();
  c.dashed = when == 1;
  return c;
}

double tap_std(const LayerFigures& f, std::size_t l) {
  return f.taps[l].stddev;
}
double tap_mean(const LayerFigures& f, std::size_t l) {
  return f.taps[l].mean;
}
double grad_norm(const LayerFigures& f, std::size_t l) {
  return f.gradient_norms[l];
}
double grad_ratio(const LayerFigures& f, std::size_t) {
  return f.gradient_norms.back() / f.gradient_norms.front();
}

std::vector<double> per_seed(const std::vector<Measured>& runs, int when, std::size_t layer,
                             double (*value)(const LayerFigures&, std::size_t)) {
  std::vector<double> out;
  for (const Measured& m : runs) out.push_back(value(m.figures[when], layer));
  return out;
}

}  // namespace

Report gradients(const Options& options, const nn::FashionMnist& data) {
  const std::size_t first = 0, middle = kDepth / 2 - 1, last = kDepth - 1;
  const std::string mid = std::to_string(middle + 1), end = std::to_string(last + 1);
  const std::string trained =
      "after " + std::to_string(options.epochs) + " epoch" + (options.epochs == 1 ? "" : "s");
  Report report;
  report.title = "Vanishing and exploding gradients: " + std::to_string(kDepth) +
                 " hidden layers of " + std::to_string(kUnits) + " units";
  report.table = Table({"setup", "when", "act std L1", "act std L" + mid, "act std L" + end,
                        "act mean L" + end, "|grad| L1", "|grad| L" + end,
                        "|grad| L" + end + " / L1", "test accuracy"});
  ChartPanel std_panel{"Activation std (dashed: " + trained + ")", "hidden layer",
                       "std of the layer's outputs"};
  ChartPanel grad_panel{"Gradient norm (dashed: " + trained + ")", "hidden layer",
                        "||d loss / d kernel||"};
  std_panel.integer_x = grad_panel.integer_x = true;
  // The legend inside, below the curves (all stds are above 0.05 but a diverged run's).
  std_panel.key = "bottom right";
  std_panel.y_low = 1e-3;
  std_panel.y_high = 10;
  std_panel.log_y = grad_panel.log_y = true;
  const Tensor x = row_range(data.x_train, 0, kBatch), y = row_range(data.y_train, 0, kBatch);
  const std::vector<Setup> all_setups = setups();
  for (std::size_t s = 0; s < all_setups.size(); ++s) {
    const Setup& setup = all_setups[s];
    std::vector<Measured> runs;
    for (int k = 0; k < options.seeds; ++k) {
      ProbedMlp net = make_probed_mlp(setup.spec, options.seed_of(k), data);
      // Its taps: the kDepth hidden activations, then the pre-activations (unused here).
      LayerProbe probe(*net.probe_model, net.kernels);
      Measured m;
      m.figures[0] = probe.measure(x, y);
      OptimizerChoice choice;
      choice.name = kOptimizer;
      Run run = train(*net.model, make_optimizer(choice), data, options, options.seed_of(k),
                      {.label = setup.label});
      m.figures[1] = probe.measure(x, y);
      // A diverged network's activations are not figures of anything (and the activation ops
      // map NaN inputs to 0 there, which would read as a calm layer).
      if (!std::isfinite(m.figures[1].loss))
        for (Moments& t : m.figures[1].taps) t.mean = t.stddev = NAN;
      m.test_accuracy = run.test_accuracy;
      runs.push_back(m);
    }
    std::vector<double> accuracies;
    for (const Measured& m : runs) accuracies.push_back(m.test_accuracy);
    for (int when = 0; when < 2; ++when) {
      report.table.add({setup.label, when == 0 ? "init" : trained,
                        mean_spread(per_seed(runs, when, first, tap_std), 3),
                        mean_spread(per_seed(runs, when, middle, tap_std), 3),
                        mean_spread(per_seed(runs, when, last, tap_std), 3),
                        mean_spread(per_seed(runs, when, last, tap_mean), 3),
                        sci_spread(per_seed(runs, when, first, grad_norm)),
                        sci_spread(per_seed(runs, when, last, grad_norm)),
                        sci_spread(per_seed(runs, when, 0, grad_ratio)),
                        when == 0 ? "" : mean_spread(accuracies)});
      // One legend entry per setup: the std panel's solid curve (colours pair the rest).
      Curve c = layer_curve(when == 0 ? setup.label : "", runs, when, tap_std);
      Curve g = layer_curve("", runs, when, grad_norm);
      c.color = g.color = static_cast<int>(s);
      std_panel.curves.push_back(c);
      grad_panel.curves.push_back(g);
    }
  }
  report.panels = {std_panel, grad_panel};
  report.notes = {
      "Measured on a fixed batch of the first " + std::to_string(x.shape()[0]) +
          " training images: 'act std/mean Lk' is the standard deviation / mean of all outputs "
          "of hidden layer k (after its activation), '|grad| Lk' the norm of the gradient of the "
          "batch's mean cross-entropy with respect to layer k's kernel.",
      "'|grad| L" + end +
          " / L1' above 1 means the gradients shrink on their way back to the first layers "
          "(vanishing), below 1 that they grow (exploding); about 1 is the flow Glorot and He "
          "initialization aim for.",
      "'" + trained + "': trained with plain SGD (lr " +
          fixed(default_learning_rate(kOptimizer), 2) +
          ", batch 32) on the training images, then measured again on the same batch; test "
          "accuracy after that training. 'nan': the run diverged (its loss is not finite).",
      "Only the SELU network standardizes its inputs (a Normalization layer adapted to the "
      "training images); the others see pixels in [0, 1], as in the book. 'tanh, Glorot' is "
      "not one of the chapter's pairs: it is the activation Glorot's analysis assumes (slope 1 "
      "at 0), beside the sigmoid (slope 1/4 at 0).",
      over_seeds(options) + "; the bands in the plot are the same spread.",
  };
  return report;
}

}  // namespace dagrad::tools::experiments
