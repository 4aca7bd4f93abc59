// Regularization on the 300-100 ELU network: l1 and l2 penalties, dropout, alpha dropout in a SELU
// network, max-norm; and MC dropout's prediction (the mean of 100 stochastic passes) beside the
// plain prediction of the same dropout models. Penalty strengths are the book's l2(0.01) and one
// light setting, 1e-4, for l1 and l2; no value was tuned on these results.
#include <algorithm>

#include "list.hpp"
#include "tools/optimizer_choice.hpp"

namespace dagrad::tools::experiments {

namespace {

constexpr int kMcSamples = 100;

}  // namespace

Report regularization(const Options& options, const nn::FashionMnist& data) {
  Report report;
  report.title = "Regularization: the 300-100 network, Nesterov 0.9, lr 0.01";
  // MC dropout costs kMcSamples inference passes: it is measured on the first limit / 5 test
  // images (2,000 by default), beside the plain prediction of the same images.
  const std::int64_t mc_images =
      std::clamp<std::int64_t>(data.x_train.shape()[0] / 5, 1, data.x_test.shape()[0]);
  Tensor mc_x = take_rows(data.x_test, 0, mc_images), mc_y = take_rows(data.y_test, 0, mc_images);
  report.table =
      Table({"variant", "train accuracy", "val accuracy", "gap", "best val_loss", "test accuracy",
             "plain / MC dropout accuracy (" + std::to_string(mc_images) + " test images)"});
  struct Variant {
    std::string name;
    nn::ModelSpec spec;
  };
  auto spec = [](auto change) {
    nn::ModelSpec s;
    change(s);
    return s;
  };
  const std::vector<Variant> variants = {
      {"none", spec([](nn::ModelSpec&) {})},
      {"l1 1e-4", spec([](nn::ModelSpec& s) { s.l1 = 1e-4; })},
      {"l2 1e-4", spec([](nn::ModelSpec& s) { s.l2 = 1e-4; })},
      {"l2 0.01 (the book's)", spec([](nn::ModelSpec& s) { s.l2 = 0.01; })},
      {"dropout 0.2", spec([](nn::ModelSpec& s) { s.dropout = 0.2; })},
      {"alpha dropout 0.2, selu", spec([](nn::ModelSpec& s) {
         s.activation = "selu";
         s.initializer = "lecun_normal";
         s.standardize = true;
         s.dropout = 0.2;
         s.alpha_dropout = true;
       })},
      {"max-norm 1", spec([](nn::ModelSpec& s) { s.max_norm = 1.0; })},
  };
  ChartPanel loss_panel{"Validation loss", "epoch", "val_loss"},
      gap_panel{"Training minus validation accuracy", "epoch", "accuracy gap"};
  loss_panel.integer_x = gap_panel.integer_x = true;
  for (const Variant& v : variants) {
    std::vector<Run> runs;
    std::vector<double> plain, mc, best, gaps;
    for (int k = 0; k < options.seeds; ++k) {
      auto model = build(v.spec, options.seed_of(k), data);
      runs.push_back(train(*model, make_optimizer({.name = "nesterov"}), data, options,
                           options.seed_of(k), {.label = v.name}));
      if (v.spec.dropout > 0) {
        plain.push_back(accuracy(model->predict(mc_x, 1000), mc_y));
        mc.push_back(accuracy(model->predict_mc_dropout(mc_x, kMcSamples, 1000).mean, mc_y));
      }
      const auto& val = runs.back().history["val_loss"];
      best.push_back(*std::min_element(val.begin(), val.end()));
    }
    Curve gap{v.name};
    for (const Run& r : runs)
      gaps.push_back(r.history["accuracy"].back() - r.history["val_accuracy"].back());
    Curve train_acc = mean_curve(v.name, runs, "accuracy"),
          val_acc = mean_curve(v.name, runs, "val_accuracy");
    gap.x = train_acc.x;
    for (std::size_t e = 0; e < train_acc.y.size(); ++e)
      gap.y.push_back(train_acc.y[e] - val_acc.y[e]);
    report.table.add({v.name, mean_spread(last(runs, "accuracy")),
                      mean_spread(last(runs, "val_accuracy")), mean_spread(gaps), mean_spread(best),
                      mean_spread(test_accuracies(runs)),
                      mc.empty() ? "-" : mean_spread(plain) + " / " + mean_spread(mc)});
    loss_panel.curves.push_back(mean_curve(v.name, runs, "val_loss"));
    gap_panel.curves.push_back(gap);
  }
  report.panels = {loss_panel, gap_panel};
  report.notes.push_back(
      over_seeds(options) +
      ". gap: training accuracy (with dropout active, as Keras reports it) minus validation "
      "accuracy at the last epoch. MC dropout: the mean of " +
      std::to_string(kMcSamples) + " passes with dropout on.");
  report.notes.push_back(
      "val_loss includes the l1/l2 penalties (as Keras reports it): compare the penalized "
      "variants by accuracy, not by loss.");
  return report;
}

}  // namespace dagrad::tools::experiments
