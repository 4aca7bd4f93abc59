// The update rules (keras-semantics.md section 6, legacy OptimizerV2 formulas; AdamW from the
// new optimizer). Each apply() reads the slots, writes them with assign ops and updates the
// variable from the written values, so every read of a slot comes before its write.
#include "dagrad/optim/optimizers.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "dagrad/ops/ops.hpp"
#include "dagrad/optim/errors.hpp"

namespace dagrad::optim {

namespace {

template <class Options>
Clipping clipping_of(const Options& o) {
  return Clipping{o.clipvalue, o.clipnorm, o.global_clipnorm};
}

void check_in(double v, double lo, double hi, const std::string& what) {
  if (!(v >= lo && v <= hi))
    throw OptimizerError(what + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " +
                         std::to_string(v));
}

void check_epsilon(double eps, const std::string& who) {
  if (!(std::isfinite(eps) && eps > 0))
    throw OptimizerError(who + ": epsilon must be a finite number > 0, got " + std::to_string(eps));
}

// ---- SGD ---------------------------------------------------------------------------------------

class SGDImpl : public Optimizer {
 public:
  explicit SGDImpl(SGDOptions o)
      : Optimizer({o.learning_rate, o.decay, o.schedule, clipping_of(o), o.name}),
        momentum_(o.momentum),
        nesterov_(o.nesterov),
        momentum_schedule_(o.momentum_schedule) {
    check_in(momentum_, 0.0, 1.0, name() + ": momentum");
    if (nesterov_ && !uses_momentum())
      throw OptimizerError(name() + ": nesterov needs a momentum > 0 (or a momentum schedule)");
  }

 protected:
  bool uses_momentum() const { return momentum_ > 0 || momentum_schedule_ != nullptr; }
  // The momentum of the current step: constant, or the schedule at the step.
  Output beta() {
    Graph& g = *iterations().graph;
    if (momentum_schedule_) return (*momentum_schedule_)(cast(iterations(), state_dtype(), "momentum_step"));
    return fill(g, Shape{}, momentum_, state_dtype(), "momentum");
  }
  void create_slots(Output var) override {
    if (uses_momentum()) slot(var, "momentum");
  }
  Output lookahead_momentum(Output var) override { return nesterov_ ? slot(var, "momentum") : Output{}; }
  Output lookahead_beta() override { return beta(); }
  void prepare(StepContext&) override {
    if (uses_momentum()) beta_ = beta();
  }
  std::vector<Operation> apply(StepContext& ctx, Output var, Output grad) override {
    // w <- w - lr g
    if (!uses_momentum()) return {assign_sub(var, ctx.lr * grad)};
    // m <- beta m - lr g; w <- w + m (with Nesterov, g was taken at w + beta m)
    Output m = slot(var, "momentum");
    Output new_m = assign(m, beta_ * m - ctx.lr * grad, "update_momentum");
    return {new_m, assign_add(var, new_m)};
  }

 private:
  double momentum_;
  bool nesterov_;
  SchedulePtr momentum_schedule_;
  Output beta_;
};

// ---- Adagrad -----------------------------------------------------------------------------------

class AdagradImpl : public Optimizer {
 public:
  explicit AdagradImpl(AdagradOptions o)
      : Optimizer({o.learning_rate, o.decay, o.schedule, clipping_of(o), o.name}),
        initial_(o.initial_accumulator_value),
        epsilon_(o.epsilon) {
    if (!(std::isfinite(initial_) && initial_ >= 0))
      throw OptimizerError(name() + ": initial_accumulator_value must be >= 0");
    check_epsilon(epsilon_, name());
  }

 protected:
  void create_slots(Output var) override { slot(var, "accumulator", initial_); }
  // acc <- acc + g^2; w <- w - lr g / (sqrt(acc) + eps)
  std::vector<Operation> apply(StepContext& ctx, Output var, Output grad) override {
    Output acc = assign_add(slot(var, "accumulator"), square(grad), "update_accumulator");
    return {acc, assign_sub(var, ctx.lr * grad / (sqrt(acc) + epsilon_))};
  }

 private:
  double initial_, epsilon_;
};

// ---- RMSprop -----------------------------------------------------------------------------------

class RMSpropImpl : public Optimizer {
 public:
  explicit RMSpropImpl(RMSpropOptions o)
      : Optimizer({o.learning_rate, o.decay, o.schedule, clipping_of(o), o.name}),
        rho_(o.rho),
        momentum_(o.momentum),
        epsilon_(o.epsilon),
        centered_(o.centered) {
    check_in(rho_, 0.0, 1.0, name() + ": rho");
    check_in(momentum_, 0.0, 1.0, name() + ": momentum");
    check_epsilon(epsilon_, name());
  }

 protected:
  void create_slots(Output var) override {
    slot(var, "rms");
    if (centered_) slot(var, "mg");
    if (momentum_ > 0) slot(var, "momentum");
  }
  std::vector<Operation> apply(StepContext& ctx, Output var, Output grad) override {
    Output ms = slot(var, "rms");
    // ms <- rho ms + (1 - rho) g^2 (the same as ms + (g^2 - ms)(1 - rho))
    Output new_ms = assign(ms, rho_ * ms + (1.0 - rho_) * square(grad), "update_rms");
    Output denom = new_ms;
    std::vector<Operation> ops{new_ms};
    if (centered_) {
      // mg <- rho mg + (1 - rho) g; the variance estimate is ms - mg^2
      Output mg = slot(var, "mg");
      Output new_mg = assign(mg, rho_ * mg + (1.0 - rho_) * grad, "update_mg");
      ops.push_back(new_mg);
      denom = new_ms - square(new_mg);
    }
    if (momentum_ == 0) {
      // legacy, momentum 0: w <- w - lr g / (sqrt(denom) + eps), eps outside the root
      ops.push_back(assign_sub(var, ctx.lr * grad / (sqrt(denom) + epsilon_)));
      return ops;
    }
    // legacy kernels, momentum > 0: mom <- momentum mom + lr g / sqrt(denom + eps); w <- w - mom
    Output mom = slot(var, "momentum");
    Output new_mom = assign(mom, momentum_ * mom + ctx.lr * grad / sqrt(denom + epsilon_), "update_momentum");
    ops.push_back(new_mom);
    ops.push_back(assign_sub(var, new_mom));
    return ops;
  }

 private:
  double rho_, momentum_, epsilon_;
  bool centered_;
};

// ---- Adam family -------------------------------------------------------------------------------

enum class AdamKind { Adam, Adamax, Nadam, AdamW };

const char* kind_name(AdamKind k) {
  switch (k) {
    case AdamKind::Adam: return "Adam";
    case AdamKind::Adamax: return "Adamax";
    case AdamKind::Nadam: return "Nadam";
    case AdamKind::AdamW: return "AdamW";
  }
  return "Adam";
}

AdamOptions with_name(AdamOptions o, AdamKind k) {
  if (o.name.empty()) o.name = kind_name(k);
  if (k == AdamKind::AdamW && o.weight_decay == 0.0) o.weight_decay = 0.004;
  return o;
}

class AdamImpl : public Optimizer {
 public:
  AdamImpl(AdamOptions o, AdamKind kind)
      : Optimizer({o.learning_rate, o.decay, o.schedule, clipping_of(o), o.name}),
        kind_(kind),
        b1_(o.beta_1),
        b2_(o.beta_2),
        epsilon_(o.epsilon),
        amsgrad_(o.amsgrad),
        weight_decay_(o.weight_decay) {
    check_in(b1_, 0.0, 1.0, name() + ": beta_1");
    // beta_1 = 1 keeps m at 0 and divides by 1 - beta_1^t = 0: every weight would become NaN
    // (the legacy Nadam has no such division).
    if (b1_ == 1.0 && kind != AdamKind::Nadam)
      throw OptimizerError(name() + ": beta_1 must be < 1 (the bias correction divides by 1 - beta_1^t)");
    check_in(b2_, 0.0, 1.0, name() + ": beta_2");
    check_epsilon(epsilon_, name());
    if (kind != AdamKind::AdamW && weight_decay_ != 0.0)
      throw OptimizerError(name() + ": weight_decay is AdamW's (decoupled decay); use AdamW, or an L2 "
                           "regularizer for a penalty through the gradient");
    if (kind == AdamKind::AdamW && !(std::isfinite(weight_decay_) && weight_decay_ >= 0))
      throw OptimizerError(name() + ": weight_decay must be >= 0");
    if (amsgrad_ && kind != AdamKind::Adam && kind != AdamKind::AdamW)
      throw OptimizerError(name() + ": amsgrad is an option of Adam and AdamW");
    if (kind == AdamKind::Nadam && o.decay != 0.0)
      throw OptimizerError(name() + ": the legacy Nadam ignores `decay` (Keras overwrites it with its "
                           "momentum schedule); change the learning rate with a callback instead");
    if (kind == AdamKind::Nadam && o.schedule)
      throw OptimizerError(name() + ": the legacy Nadam does not take a learning-rate schedule (as in "
                           "Keras); set the learning rate from a callback instead");
  }

 protected:
  void create_slots(Output var) override {
    slot(var, "m");
    slot(var, kind_ == AdamKind::Adamax ? "u" : "v");
    if (amsgrad_) slot(var, "vhat");
    if (kind_ == AdamKind::Nadam) m_cache_ = scalar_state("m_cache", 1.0, var.dtype());
  }

  void prepare(StepContext& ctx) override {
    Output b1 = constant_of(ctx, b1_), b2 = constant_of(ctx, b2_);
    b1_t_ = pow(b1, ctx.t, "beta_1_power");
    b2_t_ = pow(b2, ctx.t, "beta_2_power");
    if (kind_ == AdamKind::Nadam) {
      // mu_t = b1 (1 - 0.5 * 0.96^(0.004 t)), mu_t1 the same at t + 1; the m_cache product
      Output decay_base = constant_of(ctx, 0.96);
      mu_t_ = b1_ * (1.0 - 0.5 * pow(decay_base, 0.004 * ctx.t));
      mu_t1_ = b1_ * (1.0 - 0.5 * pow(decay_base, 0.004 * (ctx.t + 1.0)));
      schedule_new_ = m_cache_ * mu_t_;
      schedule_next_ = schedule_new_ * mu_t1_;
    } else if (kind_ != AdamKind::Adamax) {
      // alpha = lr sqrt(1 - b2^t) / (1 - b1^t)
      alpha_ = ctx.lr * sqrt(1.0 - b2_t_) / (1.0 - b1_t_);
    }
  }

  std::vector<Operation> apply(StepContext& ctx, Output var, Output grad) override {
    Output m = slot(var, "m");
    std::vector<Operation> ops;
    if (kind_ == AdamKind::Nadam) {
      // g' = g / (1 - m_schedule_new); m <- b1 m + (1 - b1) g; m' = m / (1 - m_schedule_next);
      // v <- b2 v + (1 - b2) g^2; v' = v / (1 - b2^t); mbar = (1 - mu_t) g' + mu_t1 m';
      // w <- w - lr mbar / (sqrt(v') + eps)
      Output v = slot(var, "v");
      Output g_prime = grad / (1.0 - schedule_new_);
      Output new_m = assign(m, b1_ * m + (1.0 - b1_) * grad, "update_m");
      Output m_prime = new_m / (1.0 - schedule_next_);
      Output new_v = assign(v, b2_ * v + (1.0 - b2_) * square(grad), "update_v");
      Output v_prime = new_v / (1.0 - b2_t_);
      Output m_bar = (1.0 - mu_t_) * g_prime + mu_t1_ * m_prime;
      return {new_m, new_v, assign_sub(var, ctx.lr * m_bar / (sqrt(v_prime) + epsilon_))};
    }
    // m <- m + (g - m)(1 - b1)
    Output new_m = assign(m, m + (grad - m) * (1.0 - b1_), "update_m");
    ops.push_back(new_m);
    if (kind_ == AdamKind::Adamax) {
      // u <- max(b2 u, |g|); w <- w - lr / (1 - b1^t) m / (u + eps)
      Output u = slot(var, "u");
      Output new_u = assign(u, maximum(b2_ * u, abs(grad)), "update_u");
      ops.push_back(new_u);
      ops.push_back(assign_sub(var, ctx.lr / (1.0 - b1_t_) * new_m / (new_u + epsilon_)));
      return ops;
    }
    // v <- v + (g^2 - v)(1 - b2); amsgrad: vhat <- max(vhat, v)
    Output v = slot(var, "v");
    Output new_v = assign(v, v + (square(grad) - v) * (1.0 - b2_), "update_v");
    ops.push_back(new_v);
    Output second = new_v;
    if (amsgrad_) {
      Output vhat = slot(var, "vhat");
      second = assign(vhat, maximum(vhat, new_v), "update_vhat");
      ops.push_back(second);
    }
    // w <- w - alpha m / (sqrt(v) + eps); AdamW first w <- w - lr wd w (the same step, one write)
    Output delta = alpha_ * new_m / (sqrt(second) + epsilon_);
    if (kind_ == AdamKind::AdamW) delta = delta + (ctx.lr * weight_decay_) * var;
    ops.push_back(assign_sub(var, delta));
    return ops;
  }

  std::vector<Operation> finish(StepContext&) override {
    if (kind_ != AdamKind::Nadam) return {};
    return {assign(m_cache_, schedule_new_, "update_m_cache")};
  }

 private:
  AdamKind kind_;
  double b1_, b2_, epsilon_;
  bool amsgrad_;
  double weight_decay_;
  Output m_cache_, b1_t_, b2_t_, alpha_, mu_t_, mu_t1_, schedule_new_, schedule_next_;
};

}  // namespace

namespace {

// The options every optimizer shares, as config attributes.
template <class Options>
AttrMap common_config(const char* type, const Options& o) {
  AttrMap c{{"type", std::string(type)}, {"name", o.name}, {"learning_rate", o.learning_rate},
            {"decay", o.decay}};
  if (o.clipvalue) c.set("clipvalue", *o.clipvalue);
  if (o.clipnorm) c.set("clipnorm", *o.clipnorm);
  if (o.global_clipnorm) c.set("global_clipnorm", *o.global_clipnorm);
  if (o.schedule)
    for (const auto& [k, v] : o.schedule->config().items()) c.set("schedule." + k, v);
  return c;
}

OptimizerPtr configured(OptimizerPtr opt, AttrMap config) {
  opt->set_config(std::move(config));
  return opt;
}

OptimizerPtr make_adam(AdamOptions o, AdamKind kind) {
  o = with_name(std::move(o), kind);
  AttrMap c = common_config(kind_name(kind), o);
  c.set("beta_1", o.beta_1);
  c.set("beta_2", o.beta_2);
  c.set("epsilon", o.epsilon);
  c.set("amsgrad", bool(o.amsgrad));
  c.set("weight_decay", o.weight_decay);
  return configured(std::make_shared<AdamImpl>(std::move(o), kind), std::move(c));
}

}  // namespace

OptimizerPtr SGD(SGDOptions o) {
  AttrMap c = common_config("SGD", o);
  c.set("momentum", o.momentum);
  c.set("nesterov", bool(o.nesterov));
  if (o.momentum_schedule)
    for (const auto& [k, v] : o.momentum_schedule->config().items()) c.set("momentum_schedule." + k, v);
  return configured(std::make_shared<SGDImpl>(std::move(o)), std::move(c));
}
OptimizerPtr Adagrad(AdagradOptions o) {
  AttrMap c = common_config("Adagrad", o);
  c.set("initial_accumulator_value", o.initial_accumulator_value);
  c.set("epsilon", o.epsilon);
  return configured(std::make_shared<AdagradImpl>(std::move(o)), std::move(c));
}
OptimizerPtr RMSprop(RMSpropOptions o) {
  AttrMap c = common_config("RMSprop", o);
  c.set("rho", o.rho);
  c.set("momentum", o.momentum);
  c.set("epsilon", o.epsilon);
  c.set("centered", bool(o.centered));
  return configured(std::make_shared<RMSpropImpl>(std::move(o)), std::move(c));
}
OptimizerPtr Adam(AdamOptions o) { return make_adam(std::move(o), AdamKind::Adam); }
OptimizerPtr Adamax(AdamOptions o) { return make_adam(std::move(o), AdamKind::Adamax); }
OptimizerPtr Nadam(AdamOptions o) { return make_adam(std::move(o), AdamKind::Nadam); }
OptimizerPtr AdamW(AdamOptions o) { return make_adam(std::move(o), AdamKind::AdamW); }

OptimizerPtr make_optimizer(const std::string& name) {
  std::string n = name;
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
  if (n == "sgd") return SGD();
  if (n == "adagrad") return Adagrad();
  if (n == "rmsprop") return RMSprop();
  if (n == "adam") return Adam();
  if (n == "adamax") return Adamax();
  if (n == "nadam") return Nadam();
  if (n == "adamw") return AdamW();
  throw OptimizerError("unknown optimizer '" + name + "' (known: sgd, adagrad, rmsprop, adam, adamax, nadam, adamw)");
}

}  // namespace dagrad::optim
