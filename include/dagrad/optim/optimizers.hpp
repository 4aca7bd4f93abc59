// Optimizers on graph primitives (keras-semantics.md section 6, the legacy OptimizerV2 formulas
// the book uses; AdamW from the new optimizer). minimize() adds to the loss's graph the gradient
// computation, the gradient transforms, the optimizer's state as variables (slots, iteration
// counter, learning rate; collection kOptimizerSlots, never trainable) and the updates as assign
// ops, grouped into one train op that a Session compiles once and runs every step. The learning
// rate is a variable, so schedules and callbacks change it without rebuilding anything.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../graph/flag.hpp"
#include "../graph/graph.hpp"
#include "schedules.hpp"
#include "transforms.hpp"

namespace dagrad::optim {

// What a training step computes besides the updates.
struct StepRequest {
  // Outputs to evaluate in the step (metrics); with the Nesterov lookahead they are evaluated at
  // the lookahead point, as the loss is.
  std::vector<Output> outputs;
  // State updates of the forward pass (BatchNormalization's moving statistics), run with the step
  // (copied into the lookahead pass when there is one).
  std::vector<Operation> updates;
  // Data-parallel training: the gradients are averaged over the job's ranks (allreduce_gradients)
  // before clipping and the updates.
  std::optional<GradientAllreduce> allreduce = std::nullopt;
};

struct TrainStep {
  Operation train_op;            // run it once per step
  Output loss;                   // the loss as this step evaluates it (lookahead point for NAG)
  std::vector<Output> outputs;   // StepRequest::outputs as this step evaluates them
  std::vector<Output> variables;  // the variables it updates (those with a gradient)
};

class Optimizer {
 public:
  virtual ~Optimizer();
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // Adds one training step minimizing `loss` (a float scalar) over `var_list` (default: the
  // graph's trainable variables; each a float variable of the loss's dtype). A variable without
  // a path to the loss gets no update (as Keras, which warns). The optimizer binds to the loss's
  // graph on first use; calling minimize again (say after unfreezing layers) reuses the state of
  // variables it already has slots for. The step's loss, outputs and state updates are evaluated
  // before any variable is written (from the weights the step starts from). Throws
  // OptimizerError (or the graph's errors), e.g. for a variable listed twice; on any throw the
  // graph is left as it was.
  TrainStep minimize(Output loss, std::vector<Output> var_list = {}, const StepRequest& request = {});

  const std::string& name() const { return name_; }
  // After the first minimize: the learning-rate variable (a scalar of the variables' dtype; with
  // a schedule it holds the schedule's initial value and is not used) and the iteration counter
  // (int64 scalar: completed updates).
  Output learning_rate() const;
  Output iterations() const;
  bool has_schedule() const { return schedule_ != nullptr; }
  const SchedulePtr& schedule() const { return schedule_; }
  double initial_learning_rate() const { return learning_rate_; }
  // Every variable of the optimizer's state (counter, rate, slots), for checkpoints.
  std::vector<Output> state_variables() const;
  // The factory and its options ("type": "SGD", "learning_rate", ...; a schedule under the
  // "schedule." prefix), from which optimizer_from_config makes a new optimizer like this one.
  const AttrMap& config() const { return config_; }
  void set_config(AttrMap config) { config_ = std::move(config); }

 protected:
  struct Common {
    double learning_rate;
    double decay;  // legacy: lr / (1 + decay * iterations)
    SchedulePtr schedule;
    Clipping clipping;
    std::string name;
  };
  explicit Optimizer(Common common);

  // Per step, before the variable updates: values every update shares (Adam's bias correction).
  struct StepContext {
    Graph* graph;
    Output lr;          // effective learning rate of this step
    Output t;           // iterations + 1, in the variables' dtype
    Output iterations;  // the counter (int64) before this step
    DType dtype;
  };
  // Creates the slots of `var` (with slot()), before anything of the step is built.
  virtual void create_slots(Output var) = 0;
  virtual void prepare(StepContext& ctx) { (void)ctx; }
  // The assign ops updating `var` with gradient `grad` (its slots exist).
  virtual std::vector<Operation> apply(StepContext& ctx, Output var, Output grad) = 0;
  // Assigns to run after every update of the step (Nadam's m_cache).
  virtual std::vector<Operation> finish(StepContext& ctx) { (void)ctx; return {}; }
  // The lookahead momentum slot of `var` when the optimizer takes its gradient at
  // var + beta * m (Nesterov), else an invalid Output; and beta.
  virtual Output lookahead_momentum(Output var) { (void)var; return {}; }
  virtual Output lookahead_beta() { return {}; }
  // The variables' dtype, once bound.
  DType state_dtype() const { return dtype_; }
  // A zero-initialized (or `initial`-initialized) slot of `var`'s shape and dtype, created once.
  Output slot(Output var, const std::string& slot_name, double initial = 0.0);
  // A scalar state variable of the optimizer, created once.
  Output scalar_state(const std::string& state_name, double initial, DType dtype);
  // A scalar constant of the step's dtype.
  Output constant_of(const StepContext& ctx, double value) const;

 private:
  void bind(Graph& g, DType dtype);
  std::string name_;
  double learning_rate_;
  double decay_;
  SchedulePtr schedule_;
  Clipping clipping_;
  Graph* graph_ = nullptr;
  DType dtype_ = DType::float32;
  Output learning_rate_var_, iterations_var_;
  std::map<std::pair<int, std::string>, Output> slots_;  // (variable node, slot) -> slot
  std::map<std::string, Output> scalars_;
  AttrMap config_;
};
using OptimizerPtr = std::shared_ptr<Optimizer>;

// Options common to every optimizer: clipping (legacy order clipvalue, clipnorm,
// global_clipnorm), a learning-rate schedule instead of the constant rate, the legacy `decay`.
struct SGDOptions {
  double learning_rate = 0.01;
  double momentum = 0.0;
  // Nesterov's accelerated gradient as the chapter writes it: the gradient is taken at
  // theta + momentum * m (a lookahead clone of the loss), m <- momentum m - lr g; theta += m.
  Flag nesterov = false;
  double decay = 0.0;
  SchedulePtr schedule = nullptr;
  SchedulePtr momentum_schedule = nullptr;  // 1cycle's momentum (then momentum is ignored)
  std::optional<double> clipvalue, clipnorm, global_clipnorm;
  std::string name = "SGD";
};
// w <- w - lr g; with momentum: v <- momentum v - lr g, w <- w + v.
OptimizerPtr SGD(SGDOptions options = {});

struct AdagradOptions {
  double learning_rate = 0.001;
  double initial_accumulator_value = 0.1;
  double epsilon = 1e-7;
  double decay = 0.0;
  SchedulePtr schedule = nullptr;
  std::optional<double> clipvalue, clipnorm, global_clipnorm;
  std::string name = "Adagrad";
};
// acc <- acc + g^2; w <- w - lr g / (sqrt(acc) + eps).
OptimizerPtr Adagrad(AdagradOptions options = {});

struct RMSpropOptions {
  double learning_rate = 0.001;
  double rho = 0.9;
  double momentum = 0.0;
  double epsilon = 1e-7;
  Flag centered = false;
  double decay = 0.0;
  SchedulePtr schedule = nullptr;
  std::optional<double> clipvalue, clipnorm, global_clipnorm;
  std::string name = "RMSprop";
};
// Legacy: momentum 0: ms <- rho ms + (1 - rho) g^2, w <- w - lr g / (sqrt(ms) + eps);
// momentum > 0: mom <- momentum mom + lr g / sqrt(ms + eps), w <- w - mom; centered subtracts
// mg^2 (mg <- rho mg + (1 - rho) g) from ms.
OptimizerPtr RMSprop(RMSpropOptions options = {});

struct AdamOptions {
  double learning_rate = 0.001;
  double beta_1 = 0.9;
  double beta_2 = 0.999;
  double epsilon = 1e-7;
  Flag amsgrad = false;
  double weight_decay = 0.0;  // AdamW only
  double decay = 0.0;
  SchedulePtr schedule = nullptr;
  std::optional<double> clipvalue, clipnorm, global_clipnorm;
  std::string name = "";  // "Adam", "Adamax", "Nadam", "AdamW" by default
};
// alpha = lr sqrt(1 - b2^t) / (1 - b1^t); m <- m + (g - m)(1 - b1); v <- v + (g^2 - v)(1 - b2);
// (amsgrad: vhat <- max(vhat, v)); w <- w - alpha m / (sqrt(v) + eps).
OptimizerPtr Adam(AdamOptions options = {});
// m as Adam; u <- max(b2 u, |g|); w <- w - lr / (1 - b1^t) m / (u + eps).
OptimizerPtr Adamax(AdamOptions options = {});
// Legacy Nadam (Dozat's momentum schedule mu_t = b1 (1 - 0.5 * 0.96^(0.004 t))); ignores `decay`
// and refuses a schedule, as Keras's legacy Nadam does (set the rate variable from a callback).
OptimizerPtr Nadam(AdamOptions options = {});
// Decoupled weight decay (Keras 2.11+): w <- w - lr weight_decay w, then the Adam step.
// weight_decay defaults to Keras's 0.004 when left at 0.
OptimizerPtr AdamW(AdamOptions options = {});

// By Keras name with its defaults: "sgd", "adagrad", "rmsprop", "adam", "adamax", "nadam",
// "adamw" (case-insensitive). Unknown names throw OptimizerError listing them.
OptimizerPtr make_optimizer(const std::string& name);
// A new optimizer from Optimizer::config() (no state: a model file restores that); throws
// OptimizerError for an unknown type or a missing option.
OptimizerPtr optimizer_from_config(const AttrMap& config);

}  // namespace dagrad::optim
