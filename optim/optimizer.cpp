// Optimizer::minimize: state, gradients, transforms, updates and the iteration counter, as graph
// nodes grouped into one train op.
#include <algorithm>
#include <cmath>

#include "dagrad/autodiff/gradients.hpp"
#include "dagrad/ops/ops.hpp"
#include "dagrad/optim/errors.hpp"
#include "dagrad/optim/optimizers.hpp"

namespace dagrad::optim {

Optimizer::Optimizer(Common c)
    : name_(std::move(c.name)),
      learning_rate_(c.learning_rate),
      decay_(c.decay),
      schedule_(std::move(c.schedule)),
      clipping_(c.clipping) {
  if (!std::isfinite(learning_rate_) || learning_rate_ < 0)
    throw OptimizerError(name_ + ": learning_rate must be a finite number >= 0, got " +
                         std::to_string(learning_rate_));
  if (!std::isfinite(decay_) || decay_ < 0)
    throw OptimizerError(name_ + ": decay must be a finite number >= 0, got " +
                         std::to_string(decay_));
  if (!invalid_name_reason(name_).empty())
    throw OptimizerError("optimizer name '" + name_ + "': " + invalid_name_reason(name_));
  validate(clipping_);
  if (schedule_) learning_rate_ = schedule_->value(0.0);
}

Optimizer::~Optimizer() = default;

Output Optimizer::learning_rate() const {
  if (!graph_)
    throw OptimizerError(name_ + ": the learning rate exists once minimize() was called");
  return learning_rate_var_;
}

Output Optimizer::iterations() const {
  if (!graph_)
    throw OptimizerError(name_ + ": the iteration counter exists once minimize() was called");
  return iterations_var_;
}

std::vector<Output> Optimizer::state_variables() const {
  std::vector<Output> out;
  if (!graph_) return out;
  out.push_back(iterations_var_);
  out.push_back(learning_rate_var_);
  for (const auto& [name, v] : scalars_) out.push_back(v);
  for (const auto& [key, v] : slots_) out.push_back(v);
  return out;
}

namespace {
VariableOptions state_options() {
  VariableOptions o;
  o.trainable = false;
  o.collections.emplace_back(collections::kOptimizerSlots);
  return o;
}
}  // namespace

void Optimizer::bind(Graph& g, DType dtype) {
  if (graph_) return;
  auto top = g.absolute_scope("");
  auto scope = g.name_scope(name_);
  iterations_var_ = variable(g, Tensor::scalar<std::int64_t>(0), state_options(), "iterations");
  learning_rate_var_ = variable(fill(g, Shape{}, learning_rate_, dtype, "learning_rate_initial"),
                                state_options(), "learning_rate");
  graph_ = &g;
  dtype_ = dtype;
}

Output Optimizer::slot(Output var, const std::string& slot_name, double initial) {
  auto key = std::make_pair(var.node, slot_name);
  if (auto it = slots_.find(key); it != slots_.end()) return it->second;
  Graph& g = *graph_;
  // "<optimizer>/<variable>/<slot>", e.g. "Adam/dense/kernel/m".
  auto scope = g.absolute_scope(name_ + "/" + g.node(var.node).name);
  Output init = fill(g, var.shape(), initial, var.dtype(), slot_name + "_initial");
  Output s = variable(init, state_options(), slot_name);
  slots_[key] = s;
  return s;
}

Output Optimizer::scalar_state(const std::string& state_name, double initial, DType dtype) {
  if (auto it = scalars_.find(state_name); it != scalars_.end()) return it->second;
  Graph& g = *graph_;
  auto scope = g.absolute_scope(name_);
  Output s = variable(fill(g, Shape{}, initial, dtype, state_name + "_initial"), state_options(),
                      state_name);
  scalars_[state_name] = s;
  return s;
}

Output Optimizer::constant_of(const StepContext& ctx, double value) const {
  return fill(*ctx.graph, Shape{}, value, ctx.dtype);
}

TrainStep Optimizer::minimize(Output loss, std::vector<Output> var_list,
                              const StepRequest& request) {
  if (!loss.valid()) throw OptimizerError(name_ + ".minimize: the loss is not a valid output");
  Graph& g = *loss.graph;
  if (graph_ && graph_ != &g)
    throw OptimizerError(name_ +
                         " already optimizes another graph; make a new optimizer for this one");
  if (loss.shape().rank() != 0 || !is_floating(loss.dtype()))
    throw OptimizerError(name_ + ".minimize: the loss '" + loss.name() +
                         "' must be a float scalar, it is " +
                         std::string(dtype_name(loss.dtype())) + " " + loss.shape().to_string());
  if (var_list.empty()) var_list = g.trainable_variables();
  if (var_list.empty())
    throw OptimizerError(name_ + ".minimize: no variables to optimize (none is trainable)");
  for (std::size_t i = 0; i < var_list.size(); ++i) {
    const Output& v = var_list[i];
    if (v.graph != &g || v.producer().op->role != OpRole::Variable)
      throw OptimizerError(name_ + ".minimize: '" +
                           (v.valid() ? v.name() : std::string("(invalid)")) +
                           "' is not a variable of the loss's graph");
    if (v.dtype() != loss.dtype())
      throw OptimizerError(name_ + ".minimize: variable '" + v.name() + "' is " +
                           std::string(dtype_name(v.dtype())) + ", the loss " +
                           std::string(dtype_name(loss.dtype())) +
                           "; an optimizer updates one dtype");
    // Two updates of one variable in a step would be two unordered writes.
    auto earlier_end = var_list.begin() + static_cast<long>(i);
    if (std::find(var_list.begin(), earlier_end, v) != earlier_end)
      throw OptimizerError(name_ + ".minimize: variable '" + v.name() +
                           "' appears twice in var_list");
  }

  auto checkpoint = g.checkpoint();
  auto saved_slots = slots_;
  auto saved_scalars = scalars_;
  bool was_bound = graph_ != nullptr;
  try {
    bind(g, loss.dtype());
    auto top = g.absolute_scope("");
    auto scope = g.name_scope(name_, true);
    // State first, outside any control dependencies, so that initializing it needs no feeds.
    for (const Output& v : var_list) create_slots(v);

    // The forward pass of the step: the lookahead copy for Nesterov, else the graph as built.
    std::vector<Output> forward{loss};
    for (const Output& o : request.outputs) forward.push_back(o);
    for (const Operation& u : request.updates) forward.push_back(g.output_of(u.node));
    std::vector<std::pair<Output, Output>> momenta;
    for (const Output& v : var_list)
      if (Output m = lookahead_momentum(v); m.valid()) momenta.emplace_back(v, m);
    if (!momenta.empty()) forward = nesterov_lookahead(forward, momenta, lookahead_beta());
    TrainStep step;
    step.loss = forward[0];
    step.outputs.assign(forward.begin() + 1,
                        forward.begin() + 1 + static_cast<long>(request.outputs.size()));
    std::vector<Operation> state_updates;
    for (std::size_t i = 1 + request.outputs.size(); i < forward.size(); ++i)
      state_updates.emplace_back(forward[i]);

    std::vector<Output> grads = gradients(step.loss, var_list);
    if (request.allreduce) grads = allreduce_gradients(grads, *request.allreduce);
    grads = clip_gradients(grads, clipping_);
    // What the step evaluates before it writes: the gradients, the loss and outputs it reports
    // and the forward pass's state updates. An output or a state update may read a variable
    // through nodes the gradients do not use (a weight-norm metric, a statistic of a weight);
    // it must see the value before the update, as in Keras, where the forward pass (with its
    // BatchNormalization assigns) runs before apply_gradients.
    std::vector<Operation> computed{step.loss};
    for (const Output& o : step.outputs) computed.emplace_back(o);
    for (const Operation& u : state_updates) computed.push_back(u);
    for (const Output& gr : grads)
      if (gr.valid()) computed.emplace_back(gr);

    // The values every update of this step shares.
    StepContext ctx{&g, {}, {}, iterations_var_, dtype_};
    Output step_count = cast(iterations_var_, dtype_, "step");
    ctx.t = step_count + 1.0;
    // The rate of this step: the schedule at the step, or the variable; legacy decay on top.
    ctx.lr = schedule_ ? (*schedule_)(step_count) : identity(learning_rate_var_, "lr");
    if (decay_ > 0) ctx.lr = ctx.lr / (1.0 + decay_ * step_count);
    prepare(ctx);

    std::vector<Operation> updates;
    {
      // No update runs before everything above is computed (the read/write ordering rule).
      // Through one group node: a control edge from every gradient to every update node would
      // make the graph quadratic in the depth of the network.
      Operation gradients_ready = group(g, computed, "gradients_ready");
      auto after_gradients = g.control_dependencies({gradients_ready});
      for (std::size_t i = 0; i < var_list.size(); ++i) {
        if (!grads[i].valid()) continue;
        auto var_scope = g.name_scope("update_" + g.node(var_list[i].node).name);
        for (const Operation& op : apply(ctx, var_list[i], grads[i])) updates.push_back(op);
        step.variables.push_back(var_list[i]);
      }
    }
    if (updates.empty())
      throw OptimizerError(name_ + ".minimize: the loss '" + loss.name() +
                           "' depends on none of the variables");
    for (const Operation& u : state_updates) updates.push_back(u);
    // Writes of state the updates read (Nadam's m_cache), then the counter, after all updates.
    std::vector<Operation> all = updates;
    {
      Operation updates_done = group(g, updates, "updates_done");
      auto after_updates = g.control_dependencies({updates_done});
      for (const Operation& f : finish(ctx)) all.push_back(f);
    }
    Operation all_done = group(g, all, "all_done");
    auto after_all = g.control_dependencies({all_done});
    Output count =
        assign_add(iterations_var_, fill(g, Shape{}, 1, DType::int64), "increment_iterations");
    step.train_op = group(g, {count}, "train");
    return step;
  } catch (...) {
    g.rollback(checkpoint);
    slots_ = saved_slots;
    scalars_ = saved_scalars;
    if (!was_bound) graph_ = nullptr;
    throw;
  }
}

}  // namespace dagrad::optim
