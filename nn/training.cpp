// The training loop: compile builds the training step and the evaluation graph once; fit and
// evaluate run their compiled plans over batches (keras-semantics.md section 10).
#include <algorithm>
#include <cmath>
#include <iostream>
#include <numeric>
#include <random>

#include "dagrad/nn/errors.hpp"
#include "dagrad/nn/model.hpp"
#include "dagrad/ops/ops.hpp"
#include "dagrad/optim/optimizers.hpp"
#include "dagrad/graph/distributed.hpp"
#include "nn/data_util.hpp"
#include "nn/distributed_util.hpp"
#include "nn/progress.hpp"
#include "nn/training_state.hpp"

namespace dagrad::nn {

// ---- Logs and History ------------------------------------------------------------------------

void Logs::set(const std::string& name, double value) {
  for (auto& [k, v] : items_)
    if (k == name) {
      v = value;
      return;
    }
  items_.emplace_back(name, value);
}

bool Logs::has(const std::string& name) const { return get(name).has_value(); }

std::optional<double> Logs::get(const std::string& name) const {
  for (const auto& [k, v] : items_)
    if (k == name) return v;
  return std::nullopt;
}

double Logs::at(const std::string& name) const {
  if (auto v = get(name)) return *v;
  std::string known;
  for (const auto& [k, v] : items_) known += (known.empty() ? "" : ", ") + k;
  throw ModelError("no log entry '" + name + "' (logs: " + (known.empty() ? "none" : known) + ")");
}

const std::vector<double>& History::operator[](const std::string& key) const {
  auto it = history.find(key);
  if (it != history.end()) return it->second;
  std::string known;
  for (const std::string& k : keys) known += (known.empty() ? "" : ", ") + k;
  throw ModelError("History has no '" + key + "' (keys: " + (known.empty() ? "none" : known) + ")");
}

// ---- compile -----------------------------------------------------------------------------------

namespace {

bool is_sparse(const Loss& loss) { return loss.name() == "sparse_categorical_crossentropy"; }

// A metric's per-sample values, by name.
Output metric_values(const std::string& name, Output labels, Output predictions) {
  if (name == "accuracy" || name == "acc") return accuracy(labels, predictions);
  if (name == "binary_accuracy") return binary_accuracy(labels, predictions);
  if (name == "categorical_accuracy") return categorical_accuracy(labels, predictions);
  if (name == "sparse_categorical_accuracy") return sparse_categorical_accuracy(labels, predictions);
  return Loss(name).per_sample(labels, predictions);  // ModelError for an unknown name
}

std::vector<bool> trainable_flags(const Model& model) {
  std::vector<bool> flags;
  for (const LayerPtr& l : model.layers()) flags.push_back(l->trainable());
  return flags;
}

}  // namespace

detail::Training& Model::training() const {
  if (!training_)
    throw ModelError("model '" + name_ + "' is not compiled: call compile(optimizer, loss, metrics) first");
  return *training_;
}

bool Model::compiled() const { return training_ != nullptr; }

void Model::compile(optim::OptimizerPtr optimizer, Loss loss, std::vector<std::string> metrics) {
  // A distributed model stays distributed (compile again after changing a trainable flag).
  std::optional<DistributedOptions> distributed;
  if (training_ && training_->distributed) distributed = training_->distributed_options;
  build_training(std::move(optimizer), std::move(loss), std::move(metrics),
                 distributed ? &*distributed : nullptr);
}

void Model::build_training(optim::OptimizerPtr optimizer, Loss loss, std::vector<std::string> metrics,
                           const DistributedOptions* distributed) {
  if (!optimizer) throw ModelError("compile: no optimizer");
  if (!built())
    throw ModelError("model '" + name_ + "' is not built: give its first layer an input shape or call build()");
  if (input_symbols().size() != 1 || output_symbols().size() != 1)
    throw ModelError("compile: model '" + name_ + "' has " + std::to_string(input_symbols().size()) + " inputs and " +
                     std::to_string(output_symbols().size()) + " outputs; fit takes one of each");
  Graph& g = graph();
  auto checkpoint = g.checkpoint();
  try {
    auto t = std::make_shared<detail::Training>();
    t->optimizer = std::move(optimizer);
    t->loss = loss;
    t->metric_names = metrics;
    t->trainable_flags = trainable_flags(*this);
    t->epoch = training_ ? training_->epoch : 0;
    const ModelGraph& train = training_graph();
    const ModelGraph& infer = inference_graph();
    auto top = g.absolute_scope("");
    auto scope = g.name_scope(name_, true);
    auto compile_scope = g.name_scope("compile");
    Shape label_shape = is_sparse(loss) ? Shape{-1} : train.outputs[0].shape();
    t->labels = placeholder(g, DType::float32, label_shape, "labels");
    t->x = train.inputs[0];

    // The step's loss: the batch mean plus every penalty, unscaled (as Keras); reported with it.
    std::vector<Output> terms{loss(t->labels, train.outputs[0])};
    for (const Output& r : train.regularization_losses) terms.push_back(r);
    Output total = terms.size() == 1 ? terms[0] : add_n(terms, "total_loss");
    optim::StepRequest request;
    for (const std::string& m : metrics) request.outputs.push_back(mean(metric_values(m, t->labels, train.outputs[0])));
    request.updates = train.updates;
    if (distributed) {
      t->distributed = true;
      t->distributed_options = *distributed;
      VariableOptions weight_options;
      weight_options.trainable = false;
      t->replica_weight = variable(fill(g, Shape{}, 1.0, total.dtype(), "replica_weight_initial"), weight_options,
                                   "replica_weight");
      request.allreduce = optim::GradientAllreduce{distributed->bucket_bytes, t->replica_weight};
      for (const Operation& u : train.updates) {
        const NodeInput& target = g.node(u.node).inputs.at(0);
        Output v = g.output_of(target.node, target.index);
        if (std::find(t->synced_state.begin(), t->synced_state.end(), v) == t->synced_state.end())
          t->synced_state.push_back(v);
      }
    }
    optim::TrainStep step = t->optimizer->minimize(total, train.trainable_variables, request);
    std::vector<Operation> targets{step.train_op};
    for (const Operation& c : constraint_updates({step.train_op})) targets.push_back(c);
    t->train_target = group(g, targets, "step");
    t->train_fetches = {step.loss};
    for (const Output& o : step.outputs) t->train_fetches.push_back(o);

    // Evaluation: the same loss and metrics on the inference graph (penalties included).
    std::vector<Output> eval_terms{loss(t->labels, infer.outputs[0])};
    for (const Output& r : train.regularization_losses) eval_terms.push_back(r);
    t->eval_fetches = {eval_terms.size() == 1 ? eval_terms[0] : add_n(eval_terms, "eval_loss")};
    for (const std::string& m : metrics) t->eval_fetches.push_back(mean(metric_values(m, t->labels, infer.outputs[0])));
    t->sparse = is_sparse(loss);
    if (t->sparse) t->classes = train.outputs[0].shape()[train.outputs[0].shape().rank() - 1];
    session().initialize_uninitialized_variables();  // the optimizer's state
    training_ = t;
  } catch (...) {
    g.rollback(checkpoint);
    throw;
  }
}

optim::Optimizer& Model::optimizer() const { return *training().optimizer; }
const Loss& Model::loss() const { return training().loss; }
const std::vector<std::string>& Model::metrics() const { return training().metric_names; }
int Model::epoch() const { return training_ ? training_->epoch : 0; }
void Model::set_epoch(int epoch) {
  if (epoch < 0) throw ModelError("set_epoch: epoch must be >= 0");
  training().epoch = epoch;
}

double Model::learning_rate() const {
  optim::Optimizer& opt = optimizer();
  if (opt.has_schedule())
    return opt.schedule()->value(static_cast<double>(session().variable_value(opt.iterations()).item<std::int64_t>()));
  return session().variable_value(opt.learning_rate()).value_as_double(0);
}

void Model::set_learning_rate(double rate) {
  optim::Optimizer& opt = optimizer();
  if (opt.has_schedule())
    throw ModelError("model '" + name_ + "': the learning rate of " + opt.name() + " follows the schedule " +
                     opt.schedule()->describe() + " and cannot be set");
  if (!(std::isfinite(rate) && rate >= 0))
    throw ModelError("set_learning_rate: the rate must be a finite number >= 0, got " + std::to_string(rate));
  Output v = opt.learning_rate();
  Tensor value(v.dtype(), Shape{});
  if (v.dtype() == DType::float64) *value.data<double>() = rate;
  else *value.data<float>() = static_cast<float>(rate);
  session().set_variable_value(v, value);
}

// ---- fit and evaluate --------------------------------------------------------------------------

namespace {

// y as the float32 labels the compiled step takes: class indices (n,) for the sparse loss (from
// (n,) or (n, 1), integral, in [0, classes)), else the output's shape ((n,) becomes (n, 1)).
Tensor labels_for(const detail::Training& t, const std::string& model, const Tensor& y, std::int64_t n,
                  const char* what) {
  if (!y.defined()) throw ModelError(std::string(what) + ": the labels are undefined");
  if (y.shape().rank() < 1 || y.shape()[0] != n)
    throw ModelError(std::string(what) + ": " + std::to_string(n) + " samples but labels of shape " +
                     y.shape().to_string());
  if (y.dtype() == DType::boolean)
    throw ModelError(std::string(what) + ": bool labels; convert them to 0/1 numbers");
  std::vector<std::int64_t> dims = y.shape().dims();
  const Shape& expected = t.labels.shape();
  if (t.sparse) {
    if (!(y.shape().rank() == 1 || (y.shape().rank() == 2 && y.shape()[1] == 1)))
      throw ModelError(std::string(what) + ": sparse_categorical_crossentropy takes class indices of shape (" +
                       std::to_string(n) + ",) or (" + std::to_string(n) + ", 1), given " + y.shape().to_string());
    dims = {n};
  } else {
    if (y.shape().rank() == 1 && expected.rank() == 2 && expected[1] == 1) dims = {n, 1};
    bool fits = static_cast<int>(dims.size()) == expected.rank();
    for (int i = 1; fits && i < expected.rank(); ++i) fits = expected[i] == Shape::kUnknown || expected[i] == dims[static_cast<std::size_t>(i)];
    if (!fits)
      throw ModelError(std::string(what) + ": model '" + model + "' with loss " + t.loss.name() +
                       " takes labels of shape " + detail::keras_shape(expected) + ", given " + y.shape().to_string());
  }
  Tensor out(DType::float32, Shape(dims));
  float* p = out.data<float>();
  for (std::int64_t i = 0; i < y.size(); ++i) {
    double v = y.value_as_double(i);
    if (!std::isfinite(v)) throw ModelError(std::string(what) + ": label " + std::to_string(i) + " is not finite");
    if (t.sparse && (v != std::floor(v) || v < 0 || v >= static_cast<double>(t.classes)))
      throw ModelError(std::string(what) + ": label " + std::to_string(v) + " at row " + std::to_string(i) +
                       " is not a class index in [0, " + std::to_string(t.classes) + ")");
    p[i] = static_cast<float>(v);
  }
  return out;
}

// A running mean over batches, weighted by batch size (Keras's reported loss and metrics).
struct RunningMeans {
  std::vector<double> sums;
  double count = 0;
  void add(const std::vector<Tensor>& values, std::int64_t batch) {
    if (sums.size() != values.size()) sums.assign(values.size(), 0.0);
    for (std::size_t i = 0; i < values.size(); ++i) sums[i] += values[i].value_as_double(0) * static_cast<double>(batch);
    count += static_cast<double>(batch);
  }
  Logs logs(const std::vector<std::string>& names, const std::string& prefix = "") const {
    Logs l;
    for (std::size_t i = 0; i < names.size() && i < sums.size(); ++i) l.set(prefix + names[i], sums[i] / count);
    return l;
  }
};

std::vector<std::string> log_names(const detail::Training& t) {
  std::vector<std::string> names{"loss"};
  for (const std::string& m : t.metric_names) names.push_back(m);
  return names;
}

std::uint64_t mix(std::uint64_t a, std::uint64_t b) {
  std::uint64_t z = a * 0x9E3779B97F4A7C15ull + b + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

Logs Model::evaluate(const Tensor& x, const Tensor& y, std::int64_t batch_size, int verbose, std::ostream* out) {
  detail::Training& t = training();
  if (batch_size <= 0) throw ModelError("evaluate: batch_size must be > 0, got " + std::to_string(batch_size));
  detail::check_model_input(name_, t.x.shape(), x);
  std::int64_t n = x.shape()[0];
  if (n == 0) throw ModelError("evaluate: no samples");
  Tensor labels = labels_for(t, name_, y, n, "evaluate");
  std::ostream& os = out ? *out : std::cout;
  // Data-parallel: each rank evaluates its slice of the samples; the sums are added up.
  detail::Slice mine{0, n};
  if (t.distributed) {
    detail::check_same_on_every_rank({{"the number of samples", static_cast<double>(n)},
                                      {"batch_size", static_cast<double>(batch_size)}},
                                     "evaluate");
    mine = detail::slice_of(0, n, distributed::rank(), distributed::size());
    if (distributed::rank() != 0) verbose = 0;
  }
  std::int64_t steps = (mine.end - mine.begin + batch_size - 1) / batch_size;
  detail::ProgressBar bar(os, steps, verbose, detail::is_terminal(os));
  Plan& plan = session().compile(t.eval_fetches, {}, {t.x, t.labels});
  RunningMeans means;
  std::vector<std::string> names = log_names(t);
  means.sums.assign(names.size(), 0.0);
  for (std::int64_t s = 0; s < steps; ++s) {
    std::int64_t begin = mine.begin + s * batch_size, end = std::min(mine.end, begin + batch_size);
    Tensor feeds[2] = {detail::rows(x, begin, end), detail::rows(labels, begin, end)};
    means.add(plan.run(feeds), end - begin);
    bar.update(s + 1, means.logs(names));
  }
  if (t.distributed) detail::sum_over_ranks(means.sums, means.count);
  Logs logs = means.logs(names);
  bar.finish(logs);
  return logs;
}

namespace {

void check_trainable_flags(const Model& model, const detail::Training& t) {
  if (trainable_flags(model) != t.trainable_flags)
    throw ModelError("model '" + model.name() + "': a layer's trainable flag changed since compile(); call "
                     "compile() again so that the training step sees it (as Keras requires)");
}

}  // namespace

void Model::prepare_training() {
  training_plan();
}

Plan& Model::training_plan() {
  detail::Training& t = training();
  check_trainable_flags(*this, t);
  return session().compile(t.train_fetches, {t.train_target}, {t.x, t.labels});
}

Logs Model::train_on_batch(const Tensor& x, const Tensor& y) {
  detail::Training& t = training();
  check_trainable_flags(*this, t);
  detail::check_model_input(name_, t.x.shape(), x);
  std::int64_t n = x.shape()[0];
  if (n == 0) throw ModelError("train_on_batch: no samples");
  Tensor feeds[2] = {x, labels_for(t, name_, y, n, "train_on_batch")};
  if (t.distributed) detail::set_replica_weight(*this, t, 1.0);  // every rank's batch counts alike
  Plan& plan = session().compile(t.train_fetches, {t.train_target}, {t.x, t.labels});
  RunningMeans means;
  means.add(plan.run(feeds), n);
  return means.logs(log_names(t));
}

History Model::fit(const Tensor& x, const Tensor& y, FitOptions o) {
  detail::Training& t = training();
  check_trainable_flags(*this, t);
  if (o.batch_size <= 0) throw ModelError("fit: batch_size must be > 0, got " + std::to_string(o.batch_size));
  if (o.epochs < 0 || o.initial_epoch < 0)
    throw ModelError("fit: epochs and initial_epoch must be >= 0");
  if (o.verbose < 0 || o.verbose > 2) throw ModelError("fit: verbose must be 0, 1 or 2");
  if (!(o.validation_split >= 0.0 && o.validation_split < 1.0))
    throw ModelError("fit: validation_split must be in [0, 1), got " + std::to_string(o.validation_split));
  detail::check_model_input(name_, t.x.shape(), x);
  std::int64_t n_all = x.shape()[0];
  Tensor labels_all = labels_for(t, name_, y, n_all, "fit");

  // Validation: given, or the last fraction before shuffling (split_at = floor(n (1 - f))).
  Tensor train_x = x, train_y = labels_all, val_x, val_y;
  if (o.validation_x.defined() || o.validation_y.defined()) {
    if (!o.validation_x.defined() || !o.validation_y.defined())
      throw ModelError("fit: give both validation_x and validation_y");
    detail::check_model_input(name_, t.x.shape(), o.validation_x);
    val_x = o.validation_x;
    val_y = o.validation_y;
  } else if (o.validation_split > 0) {
    auto split_at = static_cast<std::int64_t>(std::floor(static_cast<double>(n_all) * (1.0 - o.validation_split)));
    if (split_at == 0 || split_at == n_all)
      throw ModelError("fit: validation_split " + std::to_string(o.validation_split) + " of " + std::to_string(n_all) +
                       " samples leaves an empty training or validation set");
    train_x = detail::rows(x, 0, split_at);
    train_y = detail::rows(labels_all, 0, split_at);
    val_x = detail::rows(x, split_at, n_all);
    val_y = detail::rows(labels_all, split_at, n_all);
  }
  std::int64_t n = train_x.shape()[0];
  if (n == 0) throw ModelError("fit: no training samples");
  std::uint64_t seed = o.seed != 0 ? o.seed : graph().seed();
  // Data-parallel: a global batch of batch_size * ranks rows, one slice per rank; a last global
  // batch with fewer rows than ranks is dropped (a rank with no row would have no gradient).
  const int rank = t.distributed ? distributed::rank() : 0;
  const int ranks = t.distributed ? distributed::size() : 1;
  const std::int64_t global_batch = o.batch_size * ranks;
  std::int64_t steps = (n + global_batch - 1) / global_batch;
  if (ranks > 1 && n % global_batch != 0 && n % global_batch < ranks) --steps;
  if (steps == 0)
    throw ModelError("fit: " + std::to_string(n) + " training samples are fewer than the " + std::to_string(ranks) +
                     " ranks of the job");
  if (t.distributed) {
    detail::check_same_on_every_rank(
        {{"the number of training samples", static_cast<double>(n)},
         {"batch_size", static_cast<double>(o.batch_size)},
         {"epochs", static_cast<double>(o.epochs)},
         {"initial_epoch", static_cast<double>(o.initial_epoch)},
         {"shuffle", o.shuffle ? 1.0 : 0.0},
         {"the shuffling seed (low 32 bits)", static_cast<double>(seed & 0xFFFFFFFFu)},
         {"the shuffling seed (high 32 bits)", static_cast<double>(seed >> 32)},
         {"the number of validation samples", val_x.defined() ? static_cast<double>(val_x.shape()[0]) : -1.0}},
        "fit");
    if (rank != 0) o.verbose = 0;
    broadcast_variables();  // every rank starts from rank 0's weights and optimizer state
  }
  std::ostream& os = o.out ? *o.out : std::cout;
  bool dynamic = detail::is_terminal(os);

  // Switched on for this fit only; the guard's plans are compiled apart (no fusion), so switching
  // back drops them.
  struct NumericsScope {
    Session& session;
    bool was;
    ~NumericsScope() { session.set_check_numerics(was); }
  } numerics{session(), session().check_numerics()};
  if (o.check_numerics) session().set_check_numerics(true);
  Plan& plan = session().compile(t.train_fetches, {t.train_target}, {t.x, t.labels});
  std::vector<std::string> names = log_names(t);
  History history;
  stop_training = false;
  for (const CallbackPtr& c : o.callbacks) c->on_train_begin(*this);
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  Tensor batch_x, batch_y;
  for (int epoch = o.initial_epoch; epoch < o.epochs && !stop_training; ++epoch) {
    if (o.verbose > 0 && o.epochs > 1) os << "Epoch " << epoch + 1 << "/" << o.epochs << "\n" << std::flush;
    for (const CallbackPtr& c : o.callbacks) c->on_epoch_begin(*this, epoch);
    std::iota(order.begin(), order.end(), 0);
    if (o.shuffle) {
      // A permutation from the seed and the epoch alone, so a resumed run shuffles the same way.
      std::mt19937_64 rng(mix(seed, static_cast<std::uint64_t>(epoch)));
      std::shuffle(order.begin(), order.end(), rng);
    }
    detail::ProgressBar bar(os, steps, o.verbose, dynamic);
    RunningMeans means;
    for (std::int64_t s = 0; s < steps; ++s) {
      std::int64_t begin = s * global_batch, end = std::min(n, begin + global_batch);
      if (t.distributed) {
        const detail::Slice mine = detail::slice_of(begin, end, rank, ranks);
        // mean over ranks of weight * gradient = the gradient of the whole global batch.
        detail::set_replica_weight(*this, t,
                                   static_cast<double>(ranks * (mine.end - mine.begin)) / static_cast<double>(end - begin));
        begin = mine.begin;
        end = mine.end;
      }
      detail::gather_rows(train_x, order, begin, end, batch_x);
      detail::gather_rows(train_y, order, begin, end, batch_y);
      Tensor feeds[2] = {batch_x, batch_y};
      means.add(plan.run(feeds), end - begin);
      Logs running = means.logs(names);
      bar.update(s + 1, running);
      for (const CallbackPtr& c : o.callbacks) c->on_batch_end(*this, static_cast<int>(s), running);
    }
    if (t.distributed) {
      detail::sum_over_ranks(means.sums, means.count);
      detail::average_synced_state(*this, t);
    }
    Logs logs = means.logs(names);
    if (val_x.defined()) {
      Logs val = evaluate(val_x, val_y, o.batch_size, 0);
      for (const auto& [k, v] : val.items()) logs.set("val_" + k, v);
    }
    t.epoch = epoch + 1;
    for (const CallbackPtr& c : o.callbacks) c->on_epoch_end(*this, epoch, logs);
    history.epochs.push_back(epoch);
    for (const auto& [k, v] : logs.items()) {
      if (!history.history.count(k)) history.keys.push_back(k);
      history.history[k].push_back(v);
    }
    bar.finish(logs);
  }
  for (const CallbackPtr& c : o.callbacks) c->on_train_end(*this);
  return history;
}

}  // namespace dagrad::nn
