// The built-in callbacks (keras-semantics.md sections 8.2-8.4): EarlyStopping, ModelCheckpoint,
// LearningRateScheduler, ReduceLROnPlateau, CSVLogger.
#include <cmath>
#include <fstream>
#include <limits>

#include "dagrad/graph/errors.hpp"
#include "dagrad/graph/distributed.hpp"
#include "dagrad/nn/errors.hpp"
#include "dagrad/nn/model.hpp"
#include "dagrad/nn/training.hpp"
#include "graph/file_io.hpp"

namespace dagrad::nn {

namespace {

// The monitored figure of an epoch; a missing one is an error naming what the logs hold (Keras
// only warns, which leaves a run silently unmonitored).
double monitored(const Logs& logs, const std::string& monitor, const char* who) {
  if (auto v = logs.get(monitor)) return *v;
  std::string known;
  for (const auto& [k, v] : logs.items()) known += (known.empty() ? "" : ", ") + k;
  throw ModelError(std::string(who) + ": the monitored '" + monitor + "' is not in the epoch's logs (" + known +
                   "); validation figures need validation data");
}

bool ends_with(const std::string& s, const std::string& end) {
  return s.size() >= end.size() && s.compare(s.size() - end.size(), end.size(), end) == 0;
}

// true for "max" mode.
bool resolve_mode(const std::string& mode, bool max_when_auto, const char* who) {
  if (mode == "max") return true;
  if (mode == "min") return false;
  if (mode == "auto") return max_when_auto;
  throw ModelError(std::string(who) + ": mode must be auto, min or max, got '" + mode + "'");
}

class EarlyStoppingImpl : public Callback {
 public:
  explicit EarlyStoppingImpl(EarlyStoppingOptions o) : o_(std::move(o)) {
    const std::string& m = o_.monitor;
    max_ = resolve_mode(o_.mode, ends_with(m, "acc") || ends_with(m, "accuracy") || ends_with(m, "auc"),
                        "EarlyStopping");
    if (o_.patience < 0) throw ModelError("EarlyStopping: patience must be >= 0");
    delta_ = max_ ? std::abs(o_.min_delta) : -std::abs(o_.min_delta);
  }
  // op(current - delta, reference): greater for max mode, less for min mode.
  bool improved(double current, double reference) const {
    return max_ ? current - delta_ > reference : current - delta_ < reference;
  }
  void on_train_begin(Model&) override {
    wait_ = 0;
    best_ = max_ ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
    best_weights_.clear();
    stopped_epoch_ = 0;
  }
  void on_epoch_end(Model& model, int epoch, Logs& logs) override {
    if (epoch < o_.start_from_epoch) return;
    double current = monitored(logs, o_.monitor, "EarlyStopping");
    if (o_.restore_best_weights && best_weights_.empty()) best_weights_ = model.get_weights();
    ++wait_;
    if (improved(current, best_)) {
      best_ = current;
      if (o_.restore_best_weights) best_weights_ = model.get_weights();
      if (!o_.baseline || improved(current, *o_.baseline)) wait_ = 0;
    }
    if (wait_ >= o_.patience && epoch > 0) {
      stopped_epoch_ = epoch;
      model.stop_training = true;
      if (o_.restore_best_weights && !best_weights_.empty()) model.set_weights(best_weights_);
    }
  }

 private:
  EarlyStoppingOptions o_;
  bool max_ = false;
  double delta_ = 0;
  int wait_ = 0;
  double best_ = 0;
  std::vector<Tensor> best_weights_;
  int stopped_epoch_ = 0;
};

// In a data-parallel job only rank 0 writes files; the other ranks hold the same weights and logs.
bool writes_files(const Model& model) { return !model.distributed() || distributed::rank() == 0; }

class ModelCheckpointImpl : public Callback {
 public:
  ModelCheckpointImpl(std::string path, ModelCheckpointOptions o) : path_(std::move(path)), o_(std::move(o)) {
    if (path_.empty()) throw ModelError("ModelCheckpoint: empty path");
    max_ = resolve_mode(o_.mode, o_.monitor.find("acc") != std::string::npos, "ModelCheckpoint");
    best_ = max_ ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  }
  void on_epoch_end(Model& model, int, Logs& logs) override {
    if (o_.save_best_only) {
      double current = monitored(logs, o_.monitor, "ModelCheckpoint");
      if (!(max_ ? current > best_ : current < best_)) return;
      best_ = current;
    }
    if (writes_files(model)) save_model(model, path_);
  }

 private:
  std::string path_;
  ModelCheckpointOptions o_;
  bool max_ = false;
  double best_ = 0;
};

class LearningRateSchedulerImpl : public Callback {
 public:
  explicit LearningRateSchedulerImpl(std::function<double(int, double)> f) : f_(std::move(f)) {
    if (!f_) throw ModelError("LearningRateScheduler: no schedule function");
  }
  void on_epoch_begin(Model& model, int epoch) override {
    double lr = f_(epoch, model.learning_rate());
    if (!std::isfinite(lr) || lr < 0)
      throw ModelError("LearningRateScheduler: the schedule returned " + std::to_string(lr) + " for epoch " +
                       std::to_string(epoch));
    model.set_learning_rate(lr);
  }
  void on_epoch_end(Model& model, int, Logs& logs) override { logs.set("lr", model.learning_rate()); }

 private:
  std::function<double(int, double)> f_;
};

class ReduceLROnPlateauImpl : public Callback {
 public:
  explicit ReduceLROnPlateauImpl(ReduceLROnPlateauOptions o) : o_(std::move(o)) {
    if (!(o_.factor < 1.0 && o_.factor >= 0.0))
      throw ModelError("ReduceLROnPlateau: factor must be in [0, 1), got " + std::to_string(o_.factor));
    if (o_.patience < 0 || o_.cooldown < 0) throw ModelError("ReduceLROnPlateau: patience and cooldown must be >= 0");
    max_ = resolve_mode(o_.mode, o_.monitor.find("acc") != std::string::npos, "ReduceLROnPlateau");
  }
  void on_train_begin(Model&) override {
    best_ = max_ ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
    wait_ = 0;
    cooldown_counter_ = 0;
  }
  void on_epoch_end(Model& model, int, Logs& logs) override {
    double lr = model.learning_rate();
    logs.set("lr", lr);
    double current = monitored(logs, o_.monitor, "ReduceLROnPlateau");
    if (cooldown_counter_ > 0) {
      --cooldown_counter_;
      wait_ = 0;
    }
    bool better = max_ ? current > best_ + o_.min_delta : current < best_ - o_.min_delta;
    if (better) {
      best_ = current;
      wait_ = 0;
    } else if (cooldown_counter_ == 0) {
      ++wait_;
      if (wait_ >= o_.patience && lr > static_cast<double>(static_cast<float>(o_.min_lr))) {
        model.set_learning_rate(std::max(lr * o_.factor, o_.min_lr));
        cooldown_counter_ = o_.cooldown;
        wait_ = 0;
      }
    }
  }

 private:
  ReduceLROnPlateauOptions o_;
  bool max_ = false;
  double best_ = 0;
  int wait_ = 0;
  int cooldown_counter_ = 0;
};

class CSVLoggerImpl : public Callback {
 public:
  CSVLoggerImpl(std::string path, bool append) : path_(std::move(path)), append_(append) {}
  void on_train_begin(Model& model) override {
    writes_ = writes_files(model);
    if (!writes_) return;
    bool has_content = false;
    if (append_) {
      std::ifstream in(path_);
      has_content = in.good() && in.peek() != std::ifstream::traits_type::eof();
    }
    out_.open(path_, append_ ? std::ios::app : std::ios::trunc);
    if (!out_) throw FileError("CSVLogger: cannot write '" + path_ + "'");
    header_written_ = has_content;
  }
  void on_epoch_end(Model&, int epoch, Logs& logs) override {
    if (!writes_) return;
    if (!header_written_) {
      out_ << "epoch";
      for (const auto& [k, v] : logs.items()) out_ << "," << k;
      out_ << "\n";
      header_written_ = true;
    }
    out_ << epoch;
    out_.precision(17);
    for (const auto& [k, v] : logs.items()) out_ << "," << v;
    out_ << "\n" << std::flush;
    if (!out_) throw FileError("CSVLogger: writing '" + path_ + "' failed");
    // On disk before anything the epoch's other callbacks save (a checkpoint), so that a crash
    // never leaves a checkpoint of an epoch whose row is lost.
    dagrad::detail::sync_to_disk(path_);
  }
  void on_train_end(Model&) override { out_.close(); }

 private:
  std::string path_;
  bool append_;
  std::ofstream out_;
  bool header_written_ = false;
  bool writes_ = true;
};

}  // namespace

CallbackPtr EarlyStopping(EarlyStoppingOptions options) { return std::make_shared<EarlyStoppingImpl>(std::move(options)); }
CallbackPtr ModelCheckpoint(std::string path, ModelCheckpointOptions options) {
  return std::make_shared<ModelCheckpointImpl>(std::move(path), std::move(options));
}
CallbackPtr LearningRateScheduler(std::function<double(int, double)> schedule) {
  return std::make_shared<LearningRateSchedulerImpl>(std::move(schedule));
}
CallbackPtr ReduceLROnPlateau(ReduceLROnPlateauOptions options) {
  return std::make_shared<ReduceLROnPlateauImpl>(std::move(options));
}
CallbackPtr CSVLogger(std::string path, Flag append) { return std::make_shared<CSVLoggerImpl>(std::move(path), append); }

}  // namespace dagrad::nn
