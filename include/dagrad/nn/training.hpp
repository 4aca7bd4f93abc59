// The training loop's vocabulary (keras-semantics.md sections 8 and 10): logs, the History that
// fit returns, callbacks, and fit's options. Model::compile / fit / evaluate are in model.hpp.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "../graph/flag.hpp"
#include "../graph/tensor.hpp"

namespace dagrad::nn {

class Model;

// Named figures of a batch or an epoch ("loss", "accuracy", "val_loss", "lr"), in the order
// they were first set.
class Logs {
 public:
  void set(const std::string& name, double value);
  bool has(const std::string& name) const;
  // Throws ModelError naming the missing entry and the ones present.
  double at(const std::string& name) const;
  std::optional<double> get(const std::string& name) const;
  const std::vector<std::pair<std::string, double>>& items() const { return items_; }

 private:
  std::vector<std::pair<std::string, double>> items_;
};

// What fit returns: every epoch's logs, by name, and the epochs they belong to.
struct History {
  std::vector<int> epochs;                             // 0-based, absolute (initial_epoch ...)
  std::vector<std::string> keys;                       // in first-seen order
  std::map<std::string, std::vector<double>> history;  // one value per epoch
  // The values of `key` (ModelError naming the known keys when absent).
  const std::vector<double>& operator[](const std::string& key) const;
};

// A callback sees the model (to read or change its learning rate, stop training, save it) at
// the points of the loop; override what you need. The batch logs hold the epoch's running means
// so far, as in Keras (TF >= 2.2).
class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_train_begin(Model& model) { (void)model; }
  virtual void on_epoch_begin(Model& model, int epoch) { (void)model, (void)epoch; }
  virtual void on_batch_end(Model& model, int batch, const Logs& logs) { (void)model, (void)batch, (void)logs; }
  // May add entries to `logs` ("lr"); they reach History and the progress bar, which run after
  // the user's callbacks.
  virtual void on_epoch_end(Model& model, int epoch, Logs& logs) { (void)model, (void)epoch, (void)logs; }
  virtual void on_train_end(Model& model) { (void)model; }
};
using CallbackPtr = std::shared_ptr<Callback>;

// "auto": "max" when the monitored name contains "acc" (EarlyStopping: ends with "acc",
// "accuracy" or "auc"), else "min".
struct EarlyStoppingOptions {
  std::string monitor = "val_loss";
  double min_delta = 0.0;
  int patience = 0;
  std::string mode = "auto";
  std::optional<double> baseline = std::nullopt;
  Flag restore_best_weights = false;  // only when it stops early, as Keras
  int start_from_epoch = 0;
};
CallbackPtr EarlyStopping(EarlyStoppingOptions options = {});

struct ModelCheckpointOptions {
  std::string monitor = "val_loss";
  Flag save_best_only = false;
  std::string mode = "auto";
};
// Saves the model (save_model, optimizer state included) at `path` after each epoch, or only
// when the monitored figure improved.
CallbackPtr ModelCheckpoint(std::string path, ModelCheckpointOptions options = {});

// Sets the learning rate at each epoch's start to schedule(epoch, current rate) and logs "lr".
CallbackPtr LearningRateScheduler(std::function<double(int epoch, double lr)> schedule);

struct ReduceLROnPlateauOptions {
  std::string monitor = "val_loss";
  double factor = 0.1;
  int patience = 10;
  std::string mode = "auto";
  double min_delta = 1e-4;
  int cooldown = 0;
  double min_lr = 0.0;
};
// Performance scheduling: multiplies the rate by `factor` after `patience` epochs without
// improvement (keras-semantics.md 8.3); logs "lr".
CallbackPtr ReduceLROnPlateau(ReduceLROnPlateauOptions options = {});

// One CSV row per epoch: epoch, then the logs in order (a header first).
CallbackPtr CSVLogger(std::string path, Flag append = false);

struct FitOptions {
  int epochs = 1;  // the index of the last epoch + 1: with initial_epoch 2, epochs 4 runs 2
  std::int64_t batch_size = 32;
  // 0: silent; 1: Keras's progress bar, updated in place on a terminal, one line per epoch
  // otherwise; 2: one line per epoch.
  int verbose = 1;
  // Validation data: validation_x/_y, else the last `validation_split` of x and y (taken before
  // shuffling, as Keras does).
  Tensor validation_x = {};
  Tensor validation_y = {};
  double validation_split = 0.0;
  Flag shuffle = true;  // a new permutation each epoch, from seed and epoch
  std::uint64_t seed = 0;  // 0: the backend's graph seed
  std::vector<CallbackPtr> callbacks = {};
  int initial_epoch = 0;
  std::ostream* out = nullptr;  // progress output; default std::cout
  // The numerics guard (Session::set_check_numerics) on for this fit, if the session does not
  // have it on already: the first op making NaN or Inf throws NumericsError with the weights
  // and optimizer state as they were before that step (callbacks' on_train_end does not run).
  Flag check_numerics = false;
};

// Data-parallel training over the ranks of an MPI job (Model::distribute).
struct DistributedOptions {
  // Gradients smaller than this many bytes share one allreduce per bucket of this size
  // (optim::GradientAllreduce).
  std::int64_t bucket_bytes = std::int64_t{4} << 20;
};

}  // namespace dagrad::nn
