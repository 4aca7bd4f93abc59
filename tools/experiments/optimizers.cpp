// Every optimizer of the chapter on the same model and data, each at its usual rate: the SGD
// family at the book's 0.01, the adaptive ones at Keras's 0.001.
#include <algorithm>

#include "list.hpp"
#include "tools/optimizer_choice.hpp"

namespace dagrad::tools::experiments {

Report optimizers(const Options& options, const nn::FashionMnist& data) {
  Report report;
  report.title = "Optimizers: the 300-100 ELU network (He init), batch 32";
  report.table = Table({"optimizer", "lr", "final val_loss", "best val_loss", "val accuracy",
                        "test accuracy", "s/run"});
  ChartPanel val_panel{"Validation loss", "epoch", "val_loss"},
      loss_panel{"Training loss", "epoch", "loss"};
  val_panel.integer_x = loss_panel.integer_x = true;
  for (const std::string& name : optimizer_names()) {
    std::vector<Run> runs;
    for (int k = 0; k < options.seeds; ++k) {
      auto model = build(nn::ModelSpec{}, options.seed_of(k), data);
      OptimizerChoice choice;
      choice.name = name;
      runs.push_back(train(*model, make_optimizer(choice), data, options, options.seed_of(k),
                           {.label = name}));
    }
    std::vector<double> best, seconds;
    for (const Run& r : runs) {
      const auto& v = r.history["val_loss"];
      best.push_back(*std::min_element(v.begin(), v.end()));
      seconds.push_back(r.seconds);
    }
    report.table.add({name, fixed(default_learning_rate(name), 3),
                      mean_spread(last(runs, "val_loss")), mean_spread(best),
                      mean_spread(last(runs, "val_accuracy")), mean_spread(test_accuracies(runs)),
                      fixed(spread(seconds).mean, 1)});
    val_panel.curves.push_back(mean_curve(name, runs, "val_loss"));
    loss_panel.curves.push_back(mean_curve(name, runs, "loss"));
  }
  report.panels = {val_panel, loss_panel};
  report.notes.push_back(over_seeds(options) + "; the bands in the plot are the same spread.");
  return report;
}

}  // namespace dagrad::tools::experiments
