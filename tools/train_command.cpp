// `dagrad train`: trains one of the chapter's models (or one built from the knobs) on
// Fashion-MNIST with the chapter's optimizers and schedules, then reports the test accuracy and
// saves the model, the history (CSV) and the learning curves (PNG, SVG).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>
#include <cstdlib>
#include <thread>

#include <sched.h>

#include "commands.hpp"
#include "dagrad/dagrad.hpp"
#include "files.hpp"
#include "model_flags.hpp"
#include "number_flags.hpp"
#include "optimizer_choice.hpp"
#include "plot.hpp"
#include "threads.hpp"

namespace dagrad::tools {

namespace {

namespace fs = std::filesystem;

struct TrainArgs {
  ModelFlags model;
  std::string optimizer = "nesterov";
  double lr = 0, momentum = 0.9, clip_value = 0, clip_norm = 0;
  std::string schedule = "none";
  int epochs = 10, batch_size = 32, threads = 0, early_stopping = 0, verbose = 1;
  bool check_numerics = false, distributed = false;
  std::int64_t limit = 0;
  std::uint64_t seed = 42;
  std::string save, resume, checkpoint, history, plot, data = nn::kFashionMnistDir, out = "out/train";
};

// The optimizer of the flags; steps_per_epoch sizes the step-based schedules. A schedule that
// works by epoch (plateau, and any for the legacy Nadam) comes back as a callback.
optim::OptimizerPtr optimizer_of_flags(const TrainArgs& a, std::int64_t steps_per_epoch, nn::CallbackPtr& epoch_schedule) {
  OptimizerChoice choice;
  choice.name = a.optimizer;
  choice.learning_rate = a.lr;
  choice.momentum = a.momentum;
  if (a.clip_value > 0) choice.clipvalue = a.clip_value;
  if (a.clip_norm > 0) choice.clipnorm = a.clip_norm;
  epoch_schedule = apply_schedule(choice, a.schedule, steps_per_epoch, a.epochs);
  return make_optimizer(choice);
}

void check_args(const TrainArgs& a) {
  if (!(a.momentum >= 0 && a.momentum <= 1)) throw nn::ModelError("--momentum must be in [0, 1]");
  if (a.clip_value < 0 || !std::isfinite(a.clip_value) || a.clip_norm < 0 || !std::isfinite(a.clip_norm))
    throw nn::ModelError("--clip-value and --clip-norm must be positive finite numbers");
  const std::vector<std::string>& schedules = schedule_names();
  if (std::find(schedules.begin(), schedules.end(), a.schedule) == schedules.end())
    throw nn::ModelError("unknown --schedule '" + a.schedule + "' (none, power, exponential, piecewise, plateau, 1cycle)");
  if (!a.resume.empty() && !a.checkpoint.empty())
    throw nn::ModelError("give --resume or --checkpoint, not both (--checkpoint resumes from its own folder)");
  if (!a.resume.empty() && !nn::has_model_file(a.resume))
    throw FileError("--resume '" + a.resume + "': not a model file (no model.json there)");
  if (!a.checkpoint.empty() && !nn::has_model_file(a.checkpoint)) {
    std::error_code ec;
    fs::path c(a.checkpoint);
    if (fs::exists(c, ec) && !(fs::is_directory(c, ec) && fs::is_empty(c, ec)))
      throw FileError("--checkpoint '" + a.checkpoint +
                      "': it exists and is not a model file (no model.json there); give a new or empty folder");
  }
  if (!fs::is_directory(a.data))
    throw FileError("--data '" + a.data + "': no such directory (Fashion-MNIST comes from the Debian package "
                    "dataset-fashion-mnist, which scripts/install-deps.sh installs)");
}

// Drops the rows of epochs from `first_dropped` on from the history CSV a resumed run appends
// to: a run killed after logging an epoch but before its checkpoint was saved trains that epoch
// again. The file is replaced atomically when anything changes.
void trim_history(const std::string& path, int first_dropped) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return;  // nothing logged yet
  std::string line, kept;
  bool changed = false, header = true;
  while (std::getline(in, line)) {
    if (!header) {
      int epoch = 0;
      auto [end, error] = std::from_chars(line.data(), line.data() + line.size(), epoch);
      if (error != std::errc() || *end != ',' || epoch >= first_dropped) {
        changed = true;
        continue;
      }
    }
    header = false;
    kept += line + "\n";
  }
  if (changed) write_files_atomically({{path, kept}}, "trim the history");
}

// With --distributed and no --threads: the host's cores shared among its ranks (Open MPI tells
// how many ranks run on this host), so that ranks do not oversubscribe the cores.
// mpirun binds each rank to cores by default (to one core when it starts 2 ranks or fewer): then
// the rank's cores are the ones it may run on; unbound, the host's cores are shared.
int default_threads_per_rank() {
  int local = 1;
  if (const char* text = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE")) local = std::max(1, std::atoi(text));
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  cpu_set_t set;
  CPU_ZERO(&set);
  const int usable = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : cores;
  if (usable < cores) return std::max(1, usable);  // bound: the cores it was given
  return std::max(1, cores / local);
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand(
      "train", "Train a chapter-11 model on Fashion-MNIST (default: bn model, Nesterov 0.9, lr 0.01, 10 epochs)");
  add_model_flags(cmd, a->model);
  cmd->add_option("--optimizer", a->optimizer, "sgd, momentum, nesterov, adagrad, rmsprop, adam, nadam, adamax, adamw")
      ->check(CLI::IsMember({"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "nadam", "adamax", "adamw"}))
      ->capture_default_str();
  cmd->add_option("--lr", a->lr, "Learning rate (default 0.01 for the SGD family, 0.001 otherwise)")
      ->check(positive_finite_validator());
  cmd->add_option("--momentum", a->momentum, "Momentum of momentum and nesterov")->capture_default_str();
  cmd->add_option("--clip-value", a->clip_value, "Clip each gradient element to [-v, v]");
  cmd->add_option("--clip-norm", a->clip_norm, "Clip each variable's gradient to this l2 norm");
  cmd->add_option("--schedule", a->schedule, "none, power, exponential, piecewise, plateau, 1cycle")->capture_default_str();
  cmd->add_option("--epochs", a->epochs, "Epochs")->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--batch-size", a->batch_size, "Batch size")->check(CLI::Range(1, 1000000))->capture_default_str();
  cmd->add_option("--seed", a->seed, "Seed of initialization, shuffling and dropout")
      ->check(seed_validator())
      ->capture_default_str();
  cmd->add_flag("--check-numerics", a->check_numerics,
                "Stop at the first op that makes a NaN or Inf (naming it), the weights as before that "
                "step, the files on disk untouched (slower: no elementwise fusion)");
  add_threads_option(cmd, a->threads);
  cmd->add_flag("--distributed", a->distributed,
                "Data-parallel training over the ranks of an MPI job: mpirun -np N dagrad train --distributed ... "
                "(--batch-size is per rank; rank 0 prints and writes the files; threads default to the "
                "cores divided by the ranks on this host)");
  cmd->add_option("--limit", a->limit, "Use only the first N of the 55,000 training images")->check(CLI::Range(1, 55000));
  cmd->add_option("--early-stopping", a->early_stopping, "Stop after this many epochs without a better val_loss "
                                                         "(and restore the best weights)")->check(CLI::Range(1, 100000));
  cmd->add_option("--save", a->save, "Model file to write (default OUT/model)");
  cmd->add_option("--resume", a->resume, "Continue training a saved model up to --epochs (its optimizer and state)");
  cmd->add_option("--checkpoint", a->checkpoint,
                  "Save the model with its optimizer state to this folder after every epoch (atomically); "
                  "if it holds one, continue from it (run the same command again after a crash)");
  cmd->add_option("--history", a->history, "CSV of the per-epoch figures (default OUT/history.csv)");
  cmd->add_option("--plot", a->plot, "Learning curves PNG, with an SVG beside it (default OUT/learning_curves.png)");
  cmd->add_option("--data", a->data, "Folder of the Fashion-MNIST IDX files (plain or .gz)")->capture_default_str();
  cmd->add_option("--out", a->out, "Output folder")->capture_default_str();
  cmd->add_option("--verbose", a->verbose, "0 silent, 1 progress bars, 2 one line per epoch")->check(CLI::Range(0, 2))
      ->capture_default_str();
  cmd->callback([a] {
    // Everything the flags decide is checked before any data is read.
    check_args(*a);
    if (a->distributed) {
      distributed::initialize();
      if (a->threads == 0) a->threads = default_threads_per_rank();
    }
    apply_threads_option(a->threads);
    if (!a->distributed)
      if (const char* ranks = std::getenv("OMPI_COMM_WORLD_SIZE"); ranks && std::atoi(ranks) > 1)
        std::cerr << "dagrad train: warning: started by mpirun with " << ranks
                  << " ranks but without --distributed: each rank trains alone and writes the same files\n";
    const bool root = distributed::rank() == 0;  // prints and writes; 0 outside a job
    std::ostringstream discard;
    std::ostream& say = root ? std::cout : discard;
    const std::int64_t n_train = a->limit > 0 ? a->limit : 55000;
    const std::int64_t global_batch = std::int64_t{a->batch_size} * distributed::size();
    // As fit counts them: a last global batch with fewer rows than ranks is dropped.
    std::int64_t steps_per_epoch = (n_train + global_batch - 1) / global_batch;
    const std::int64_t ranks = distributed::size();
    if (ranks > 1 && n_train % global_batch != 0 && n_train % global_batch < ranks) --steps_per_epoch;
    std::unique_ptr<nn::Model> model;
    nn::CallbackPtr epoch_schedule;
    nn::ModelSpec spec;
    const bool from_checkpoint = !a->checkpoint.empty() && nn::has_model_file(a->checkpoint);
    const std::string resume = from_checkpoint ? a->checkpoint : a->resume;
    if (resume.empty()) {
      spec = model_spec(a->model);
      optim::OptimizerPtr optimizer = optimizer_of_flags(*a, steps_per_epoch, epoch_schedule);
      model = nn::make_model(spec, std::make_shared<nn::Backend>(a->seed));
      model->compile(optimizer, "sparse_categorical_crossentropy", {"accuracy"});
    }
    fs::path out(a->out);
    std::string save = a->save.empty() ? (out / "model").string() : a->save;
    std::string history_csv = a->history.empty() ? (out / "history.csv").string() : a->history;
    std::string plot_png = a->plot.empty() ? (out / "learning_curves.png").string() : a->plot;
    for (const std::string& p : {save, history_csv, plot_png}) {
      fs::path parent = fs::path(p).parent_path();
      if (!parent.empty() && root) fs::create_directories(parent);
    }

    nn::FashionMnist data = nn::load_fashion_mnist(a->data, a->limit);
    if (!resume.empty()) {
      // The optimizer and any step schedule come from the file; a schedule that works by epoch
      // (plateau, and the legacy Nadam's) is a callback, made again from the flags.
      optimizer_of_flags(*a, steps_per_epoch, epoch_schedule);
      model = nn::load_model(resume);
      const std::string flag = from_checkpoint ? "--checkpoint" : "--resume";
      if (!model->compiled())
        throw nn::ModelError(flag + " '" + resume + "': the model was saved without an optimizer");
      // A checkpoint of a finished run only lacks the test figures and the saved model.
      if (model->epoch() >= a->epochs && !(from_checkpoint && model->epoch() == a->epochs))
        throw nn::ModelError(flag + ": the model has trained " + std::to_string(model->epoch()) +
                             " epochs already; --epochs is the total to reach (give more than that)");
    } else if (spec.standardize) {
      // The selu network's standardized inputs: the Normalization layer adapts to the training set.
      for (const nn::LayerPtr& l : model->layers())
        if (auto norm = std::dynamic_pointer_cast<nn::NormalizationLayer>(l)) norm->adapt(data.x_train);
    }
    if (a->distributed) model->distribute();
    model->summary(say);
    if (a->distributed)
      say << "Data-parallel over " << distributed::size() << " ranks: batches of " << a->batch_size
          << " per rank (" << global_batch << " per step), " << num_threads() << " thread(s) per rank\n";
    say << "Train on " << data.x_train.shape()[0] << " samples, validate on " << data.x_valid.shape()[0]
              << ", test on " << data.x_test.shape()[0] << "; optimizer " << model->optimizer().name()
              << (resume.empty() ? "" : " (resumed at epoch " + std::to_string(model->epoch()) + ")") << "\n";

    nn::FitOptions fit;
    fit.epochs = a->epochs;
    fit.batch_size = a->batch_size;
    fit.verbose = a->verbose;
    fit.validation_x = data.x_valid;
    fit.validation_y = data.y_valid;
    fit.seed = a->seed;
    fit.initial_epoch = model->epoch();
    if (!resume.empty() && root) trim_history(history_csv, model->epoch());
    fit.check_numerics = a->check_numerics;
    fit.callbacks.push_back(nn::CSVLogger(history_csv, !resume.empty()));
    if (epoch_schedule) fit.callbacks.push_back(epoch_schedule);
    if (a->early_stopping > 0)
      fit.callbacks.push_back(nn::EarlyStopping({.patience = a->early_stopping, .restore_best_weights = true}));
    // Last, after the CSV row is on disk: a checkpoint never runs ahead of its history.
    if (!a->checkpoint.empty()) fit.callbacks.push_back(nn::ModelCheckpoint(a->checkpoint));
    nn::History history = model->fit(data.x_train, data.y_train, fit);

    nn::Logs test = model->evaluate(data.x_test, data.y_test, 256);
    if (!root) return;  // the other ranks hold the same model and figures
    nn::save_model(*model, save);
    std::cout << "saved the model to " << save << ", the history to " << history_csv;
    if (history.epochs.empty()) {  // a finished checkpoint: nothing new to draw
      std::cout << "\n";
    } else {
      try {
        tools::LearningCurveFiles files = tools::plot_learning_curves(
            history, plot_png, "Fashion-MNIST, model " + (resume.empty() ? a->model.preset : resume));
        std::cout << ", the learning curves to " << files.png << " and " << files.svg << "\n";
      } catch (const std::exception& e) {
        std::cout << "\n";
        std::cerr << "dagrad train: no learning-curve picture: " << e.what() << "\n";
      }
    }
    std::printf("test loss: %.4f\ntest accuracy: %.4f\n", test.at("loss"), test.at("accuracy"));
  });
}

}  // namespace dagrad::tools
