// `dagrad experiment NAME`: runs one of the chapter's experiments (tools/experiments/), prints its
// table and writes the table (Markdown, CSV) and its chart (PNG, SVG) under --out.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "dagrad/dagrad.hpp"
#include "experiments/experiment.hpp"
#include "files.hpp"
#include "number_flags.hpp"
#include "threads.hpp"

namespace dagrad::tools {

namespace {

namespace fs = std::filesystem;

struct ExperimentArgs {
  std::string name;
  int epochs = 0, seeds = 0, threads = 0, verbose = 1;
  std::int64_t limit = 0;
  std::uint64_t seed = 42;
  std::string model;  // empty: the experiment's first
  bool model_given = false;
  std::string data = nn::kFashionMnistDir, out = "out/experiments";
};

void run_experiment(const experiments::Experiment& e, const ExperimentArgs& a,
                    const nn::FashionMnist& data) {
  experiments::Options o;
  o.epochs = a.epochs > 0 ? a.epochs : e.epochs;
  o.seeds = a.seeds > 0 ? a.seeds : e.seeds;
  o.limit = a.limit > 0 ? a.limit : e.limit;
  o.seed = a.seed;
  o.model = a.model.empty() ? e.models.front() : a.model;
  o.verbose = a.verbose;
  std::cout << "== experiment " << e.name << ": " << o.epochs << " epochs, " << o.seeds << " seed"
            << (o.seeds == 1 ? "" : "s") << ", " << data.x_train.shape()[0] << " training images\n"
            << "The chapter: " << e.claim << "\n"
            << std::flush;
  auto start = std::chrono::steady_clock::now();
  experiments::Report report = e.run(o, data);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fs::path out(a.out);
  fs::create_directories(out);
  std::cout << "\n" << report.table.text();
  for (const std::string& note : report.notes) std::cout << note << "\n";
  // Each model's results have their own files, so a cnn run keeps the dense run's.
  const std::string stem = o.model == e.models.front() ? e.name : e.name + "_" + o.model;
  std::string command = "dagrad experiment " + e.name +
                        (o.model == e.models.front() ? "" : " --model " + o.model) + " --epochs " +
                        std::to_string(o.epochs) +
                        " --seeds " + std::to_string(o.seeds) + " --limit " +
                        std::to_string(o.limit);
  std::string markdown = "## " + e.name + "\n\nThe chapter: " + e.claim + "\n\n`" + command +
                         "` (" + experiments::fixed(seconds, 0) + " s)\n\n" +
                         report.table.markdown();
  for (const std::string& note : report.notes) markdown += "\n" + note + "\n";
  write_files_atomically({{(out / (stem + ".md")).string(), markdown},
                          {(out / (stem + ".csv")).string(), report.table.csv()}},
                         "write table");
  std::cout << "took " << experiments::fixed(seconds, 1) << " s; wrote "
            << (out / (stem + ".md")).string() << ", " << (out / (stem + ".csv")).string();
  try {
    ChartFiles files = draw_chart(report.panels, (out / (stem + ".png")).string(), report.title);
    std::cout << ", " << files.png << " and " << files.svg << "\n";
  } catch (const std::exception& ex) {
    std::cout << "\n";
    std::cerr << "dagrad experiment: no chart: " << ex.what() << "\n";
  }
}

}  // namespace

void add_experiment_command(CLI::App& app) {
  auto a = std::make_shared<ExperimentArgs>();
  std::string list;
  std::vector<std::string> names;
  for (const experiments::Experiment& e : experiments::all()) {
    list += "\n  " + e.name + " (" + std::to_string(e.epochs) + " epochs, " +
            std::to_string(e.seeds) + " seeds, " + std::to_string(e.limit) + " images; " +
            e.duration + "): " + e.claim;
    names.push_back(e.name);
  }
  names.push_back("all");
  CLI::App* cmd =
      app.add_subcommand("experiment",
                         "Check one of the chapter's claims on Fashion-MNIST: a table and a chart. "
                         "Experiments (defaults; time on an unloaded 2-core machine):" +
                             list + "\n  all: every experiment in turn");
  cmd->add_option("name", a->name, "The experiment")->required()->check(CLI::IsMember(names));
  cmd->add_option("--epochs", a->epochs, "Epochs per run (default: the experiment's)")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--seeds", a->seeds, "Seeds per variant (default: the experiment's)")
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--limit", a->limit, "Training images used (default: the experiment's)")
      ->check(CLI::Range(1, 55000));
  cmd->add_option_function<std::string>(
      "--model",
      [a](const std::string& v) {
        a->model = v;
        a->model_given = true;
      },
      "Network family, for experiments that have several: transfer takes dense (the book's, the "
      "default) or cnn (a small convolutional network beside the dense one); the others and all "
      "take dense only");
  cmd->add_option("--seed", a->seed, "First seed (variant runs use seed, seed+1, ...)")
      ->check(seed_validator())
      ->capture_default_str();
  add_threads_option(cmd, a->threads);
  cmd->add_option("--data", a->data, "Folder of the Fashion-MNIST IDX files")
      ->capture_default_str();
  cmd->add_option("--out", a->out, "Folder of the tables and charts")->capture_default_str();
  cmd->add_option("--verbose", a->verbose, "0 the table only, 1 a line per run, 2 a line per epoch")
      ->check(CLI::Range(0, 2))
      ->capture_default_str();
  cmd->callback([a] {
    if (!fs::is_directory(a->data))
      throw FileError("--data '" + a->data +
                      "': no such directory (Fashion-MNIST comes from the Debian package "
                      "dataset-fashion-mnist, which scripts/install-deps.sh installs)");
    if (a->model_given && a->model.empty())
      throw nn::ModelError("--model: give a network family (dense or cnn), got ''");
    if (!a->model.empty())
      for (const experiments::Experiment& e : experiments::all()) {
        if (a->name != "all" && a->name != e.name) continue;
        if (std::find(e.models.begin(), e.models.end(), a->model) != e.models.end()) continue;
        std::string known;
        for (const std::string& m : e.models) known += (known.empty() ? "" : ", ") + m;
        throw nn::ModelError("--model '" + a->model + "': experiment " + e.name + " takes " +
                             known);
      }
    apply_threads_option(a->threads);
    // Data are loaded once per distinct limit.
    std::int64_t loaded_limit = -1;
    std::string failed;
    nn::FashionMnist data;
    for (const experiments::Experiment& e : experiments::all()) {
      if (a->name != "all" && a->name != e.name) continue;
      std::int64_t limit = a->limit > 0 ? a->limit : e.limit;
      if (limit != loaded_limit)
        data = nn::load_fashion_mnist(a->data, limit), loaded_limit = limit;
      if (a->name != "all") {
        run_experiment(e, *a, data);
        continue;
      }
      // `all` goes on after an experiment that cannot run (say, too few images for its
      // tasks) and reports every failure at the end.
      try {
        run_experiment(e, *a, data);
      } catch (const std::exception& ex) {
        std::cerr << "dagrad experiment " << e.name << ": error: " << ex.what() << "\n";
        failed += (failed.empty() ? "" : ", ") + e.name;
      }
    }
    if (!failed.empty()) throw std::runtime_error("experiments that failed: " + failed);
  });
}

}  // namespace dagrad::tools
