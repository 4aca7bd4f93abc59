// The chapter's learning-rate schedules on the 300-100 ELU network with Nesterov momentum, each as
// `dagrad train --schedule NAME` defines it (tools/optimizer_choice.hpp) from the base rate 0.01.
// 1cycle's peak rate comes from the learning-rate finder (its suggested rate, per seed), as the
// book says to choose it.
#include <algorithm>

#include "list.hpp"
#include "tools/optimizer_choice.hpp"

namespace dagrad::tools::experiments {

Report schedules(const Options& options, const nn::FashionMnist& data) {
  Report report;
  report.title = "Learning-rate schedules: the 300-100 ELU network, Nesterov 0.9, base rate 0.01";
  report.table = Table({"schedule", "highest rate", "final rate", "best val_loss",
                        "final val accuracy", "test accuracy"});
  ChartPanel val_panel{"Validation loss", "epoch", "val_loss"},
      rate_panel{"Learning rate (seed 1)", "epoch", "rate"};
  val_panel.integer_x = rate_panel.integer_x = true;
  rate_panel.log_y = true;
  const std::int64_t n = data.x_train.shape()[0];
  const std::int64_t steps_per_epoch = (n + 31) / 32;
  for (const std::string& name : schedule_names()) {
    if (name == "1cycle" && steps_per_epoch * options.epochs < 3) {
      report.notes.push_back("1cycle left out: it needs at least 3 training steps, and " +
                             std::to_string(options.epochs) + " epoch(s) of " + std::to_string(n) +
                             " images give " + std::to_string(steps_per_epoch * options.epochs) +
                             ".");
      continue;
    }
    std::vector<Run> runs;
    std::vector<double> peaks, finals, rates;
    for (int k = 0; k < options.seeds; ++k) {
      auto model = build(nn::ModelSpec{}, options.seed_of(k), data);
      OptimizerChoice choice{.name = "nesterov", .learning_rate = 0.01};
      if (name == "1cycle") {
        model->compile(make_optimizer(choice), "sparse_categorical_crossentropy", {"accuracy"});
        nn::LrFinderOptions finder;
        finder.seed = options.seed_of(k);
        finder.steps = static_cast<int>(
            std::min<std::int64_t>(300, std::max<std::int64_t>(50, steps_per_epoch)));
        choice.learning_rate =
            nn::find_learning_rate(*model, data.x_train, data.y_train, finder).suggested_rate;
        model = build(nn::ModelSpec{}, options.seed_of(k), data);
      }
      nn::CallbackPtr callback = apply_schedule(choice, name, steps_per_epoch, options.epochs);
      // The rate of each epoch's last step: from the schedule, or the rate variable (plateau).
      std::vector<double> epoch_rates;
      optim::SchedulePtr schedule = choice.schedule;
      struct RateLog : nn::Callback {
        std::vector<double>* rates;
        optim::SchedulePtr schedule;
        std::int64_t steps_per_epoch;
        void on_epoch_end(nn::Model& m, int epoch, nn::Logs&) override {
          rates->push_back(
              schedule ? schedule->value(static_cast<double>((epoch + 1) * steps_per_epoch - 1))
                       : m.learning_rate());
        }
      };
      auto log = std::make_shared<RateLog>();
      log->rates = &epoch_rates;
      log->schedule = schedule;
      log->steps_per_epoch = steps_per_epoch;
      // The log runs first, so it sees the rate the epoch used before plateau changes it.
      TrainSettings settings{.label = "schedule " + name};
      settings.callbacks.push_back(log);
      if (callback) settings.callbacks.push_back(callback);
      runs.push_back(
          train(*model, make_optimizer(choice), data, options, options.seed_of(k), settings));
      peaks.push_back(*std::max_element(epoch_rates.begin(), epoch_rates.end()));
      if (name == "1cycle") peaks.back() = choice.learning_rate;
      finals.push_back(epoch_rates.back());
      if (k == 0) rates = epoch_rates;
    }
    std::vector<double> best;
    for (const Run& r : runs) {
      const auto& v = r.history["val_loss"];
      best.push_back(*std::min_element(v.begin(), v.end()));
    }
    report.table.add({name, mean_spread_general(peaks), mean_spread_general(finals),
                      mean_spread(best), mean_spread(last(runs, "val_accuracy")),
                      mean_spread(test_accuracies(runs))});
    val_panel.curves.push_back(mean_curve(name, runs, "val_loss"));
    Curve rate{name, {}, rates};
    for (std::size_t e = 0; e < rates.size(); ++e) rate.x.push_back(static_cast<double>(e + 1));
    rate_panel.curves.push_back(rate);
  }
  report.panels = {val_panel, rate_panel};
  report.notes.push_back(
      over_seeds(options) +
      ". Rates are those of each epoch's last step (one value when every seed had the same); "
      "1cycle's peak is the learning-rate "
      "finder's suggestion for that seed's model (10x below where the loss starts to climb).");
  return report;
}

}  // namespace dagrad::tools::experiments
