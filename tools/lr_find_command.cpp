// `dagrad lr-find`: the chapter's learning-rate finder on one of the Fashion-MNIST models: the
// loss of a few hundred steps at exponentially growing rates, plotted on a log axis, and the
// suggested rate (about 10 times below where the loss turns up). The model is left untouched.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "chart.hpp"
#include "commands.hpp"
#include "dagrad/dagrad.hpp"
#include "experiments/experiment.hpp"
#include "files.hpp"
#include "model_flags.hpp"
#include "number_flags.hpp"
#include "optimizer_choice.hpp"
#include "threads.hpp"

namespace dagrad::tools {

namespace {

namespace fs = std::filesystem;

struct LrFindArgs {
  ModelFlags model;
  std::string optimizer = "nesterov";
  double momentum = 0.9;
  nn::LrFinderOptions finder;
  int threads = 0;
  std::int64_t limit = 0;
  std::uint64_t seed = 42;
  std::string data = nn::kFashionMnistDir, out = "out/lr_find";
};

}  // namespace

void add_lr_find_command(CLI::App& app) {
  auto a = std::make_shared<LrFindArgs>();
  CLI::App* cmd = app.add_subcommand("lr-find",
                                     "Find a good learning rate: train a few hundred steps at "
                                     "exponentially growing rates, plot the loss "
                                     "against the rate and suggest a rate 10 times below where the "
                                     "loss starts to climb (a few seconds by default)");
  add_model_flags(cmd, a->model);
  cmd->add_option("--optimizer", a->optimizer, "Optimizer whose rate is sought")
      ->check(CLI::IsMember(optimizer_names()))
      ->capture_default_str();
  cmd->add_option("--momentum", a->momentum, "Momentum of momentum and nesterov")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--min-rate", a->finder.min_rate, "First rate")->capture_default_str();
  cmd->add_option("--max-rate", a->finder.max_rate, "Last rate")->capture_default_str();
  cmd->add_option("--steps", a->finder.steps, "Training steps of the sweep")
      ->check(CLI::Range(2, 1000000))
      ->capture_default_str();
  cmd->add_option("--batch-size", a->finder.batch_size, "Batch size")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  cmd->add_option("--seed", a->seed, "Seed of the model and the batch order")
      ->check(seed_validator())
      ->capture_default_str();
  cmd->add_option("--limit", a->limit, "Use only the first N training images")
      ->check(CLI::Range(1, 55000));
  add_threads_option(cmd, a->threads);
  cmd->add_option("--data", a->data, "Folder of the Fashion-MNIST IDX files")
      ->capture_default_str();
  cmd->add_option("--out", a->out, "Folder of lr_find.csv and lr_find.png")->capture_default_str();
  cmd->callback([a] {
    nn::LrFinderOptions& f = a->finder;
    if (!(std::isfinite(f.min_rate) && std::isfinite(f.max_rate) && f.min_rate > 0 &&
          f.min_rate < f.max_rate))
      throw nn::ModelError("--min-rate and --max-rate must be finite with 0 < min-rate < max-rate");
    if (!fs::is_directory(a->data))
      throw FileError("--data '" + a->data +
                      "': no such directory (Fashion-MNIST comes from the Debian package "
                      "dataset-fashion-mnist, which scripts/install-deps.sh installs)");
    apply_threads_option(a->threads);
    nn::FashionMnist data = nn::load_fashion_mnist(a->data, a->limit);
    nn::ModelSpec spec = model_spec(a->model);
    std::unique_ptr<nn::Sequential> model = experiments::build(spec, a->seed, data);
    OptimizerChoice choice;
    choice.name = a->optimizer;
    choice.momentum = a->momentum;
    model->compile(make_optimizer(choice), "sparse_categorical_crossentropy", {"accuracy"});
    f.seed = a->seed;
    std::cout << "Sweeping " << a->optimizer << "'s rate from " << f.min_rate << " to "
              << f.max_rate << " over " << f.steps << " steps of " << f.batch_size
              << " images (model " << a->model.preset << ")\n"
              << std::flush;
    nn::LrFinderResult r = nn::find_learning_rate(*model, data.x_train, data.y_train, f);

    fs::path out(a->out);
    fs::create_directories(out);
    experiments::Table all({"step", "rate", "loss", "smoothed loss"}),
        shown({"rate", "loss", "smoothed loss"});
    std::size_t n = r.rates.size(), stride = std::max<std::size_t>(1, n / 12);
    for (std::size_t i = 0; i < n; ++i) {
      std::vector<std::string> row = {experiments::fixed(r.rates[i], 6),
                                      experiments::fixed(r.losses[i]),
                                      experiments::fixed(r.smoothed[i])};
      if (i % stride == 0 || i + 1 == n) shown.add(row);
      row.insert(row.begin(), std::to_string(i));
      all.add(row);
    }
    std::cout << "\n" << shown.text();
    write_files_atomically({{(out / "lr_find.csv").string(), all.csv()}}, "write the sweep");
    std::cout << (r.diverged
                      ? "The loss shot up at rate " + experiments::fixed(r.rates.back(), 4) +
                            " after " + std::to_string(n) + " steps; the sweep stopped there.\n"
                      : "The sweep ran all " + std::to_string(n) + " steps.\n")
              << "lowest smoothed loss at rate " << r.lowest_rate
              << "; it starts to climb (10% above its lowest) "
              << "after rate " << r.turning_rate << "\n"
              << "suggested learning rate: " << r.suggested_rate << "\n";

    ChartPanel panel{
        "Loss against the learning rate (" + a->model.preset + ", " + a->optimizer + ")",
        "learning rate", "loss"};
    panel.log_x = true;
    // From the lowest batch loss to a little above where the sweep started: the shoot-up beyond
    // that is clear from its slope alone.
    double lowest = INFINITY, start = r.smoothed.front();
    for (double v : r.losses)
      if (std::isfinite(v)) lowest = std::min(lowest, v);
    panel.y_low = 0.9 * lowest;
    panel.y_high = std::max(1.5 * start, 1.1 * lowest);
    Curve raw{"batch loss", r.rates, r.losses};
    raw.dashed = true;
    panel.curves = {raw, Curve{"smoothed", r.rates, r.smoothed}};
    panel.marks = {{r.turning_rate, "climbs"}, {r.suggested_rate, "suggested"}};
    try {
      ChartFiles files =
          draw_chart({panel}, (out / "lr_find.png").string(), "Learning-rate finder");
      std::cout << "wrote " << (out / "lr_find.csv").string() << ", " << files.png << " and "
                << files.svg << "\n";
    } catch (const std::exception& e) {
      std::cerr << "dagrad lr-find: no chart: " << e.what() << "\n";
    }
  });
}

}  // namespace dagrad::tools
