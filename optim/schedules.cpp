// Learning-rate schedules: each a graph function of the step and the same formula in double.
#include "dagrad/optim/schedules.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "dagrad/ops/ops.hpp"
#include "dagrad/optim/errors.hpp"

namespace dagrad::optim {

namespace {

std::string number(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

void require(bool ok, const std::string& what) {
  if (!ok) throw OptimizerError(what);
}

Output constant_like(Output step, double value) { return fill(*step.graph, Shape{}, value, step.dtype()); }

// floor(x) for x >= 0 as a graph op: x - (x mod 1) is not available, so cast through int64.
Output floor_nonnegative(Output x) { return cast(cast(x, DType::int64), x.dtype()); }

class ExponentialDecay : public Schedule {
 public:
  ExponentialDecay(double lr0, double steps, double rate, bool staircase)
      : lr0_(lr0), steps_(steps), rate_(rate), staircase_(staircase) {}
  // lr0 * rate^(step / decay_steps)
  Output operator()(Output step) const override {
    Output p = step / steps_;
    if (staircase_) p = floor_nonnegative(p);
    return lr0_ * pow(constant_like(step, rate_), p);
  }
  double value(double step) const override {
    double p = step / steps_;
    if (staircase_) p = std::floor(p);
    return lr0_ * std::pow(rate_, p);
  }
  std::string describe() const override {
    return "exponential_decay(" + number(lr0_) + ", " + number(steps_) + ", " + number(rate_) +
           (staircase_ ? ", staircase)" : ")");
  }

 private:
  double lr0_, steps_, rate_;
  bool staircase_;
};

class InverseTimeDecay : public Schedule {
 public:
  InverseTimeDecay(double lr0, double steps, double rate, bool staircase)
      : lr0_(lr0), steps_(steps), rate_(rate), staircase_(staircase) {}
  // lr0 / (1 + rate * step / decay_steps)
  Output operator()(Output step) const override {
    Output p = step / steps_;
    if (staircase_) p = floor_nonnegative(p);
    return lr0_ / (1.0 + rate_ * p);
  }
  double value(double step) const override {
    double p = step / steps_;
    if (staircase_) p = std::floor(p);
    return lr0_ / (1.0 + rate_ * p);
  }
  std::string describe() const override {
    return "inverse_time_decay(" + number(lr0_) + ", " + number(steps_) + ", " + number(rate_) +
           (staircase_ ? ", staircase)" : ")");
  }

 private:
  double lr0_, steps_, rate_;
  bool staircase_;
};

class PowerDecay : public Schedule {
 public:
  PowerDecay(double lr0, double s, double c) : lr0_(lr0), s_(s), c_(c) {}
  // lr0 / (1 + step / s)^c
  Output operator()(Output step) const override {
    return lr0_ / pow(1.0 + step / s_, constant_like(step, c_));
  }
  double value(double step) const override { return lr0_ / std::pow(1.0 + step / s_, c_); }
  std::string describe() const override {
    return "power_decay(" + number(lr0_) + ", " + number(s_) + ", " + number(c_) + ")";
  }

 private:
  double lr0_, s_, c_;
};

class PolynomialDecay : public Schedule {
 public:
  PolynomialDecay(double lr0, double steps, double end, double power)
      : lr0_(lr0), steps_(steps), end_(end), power_(power) {}
  // (lr0 - end) * (1 - min(step, steps) / steps)^power + end
  Output operator()(Output step) const override {
    Output s = minimum(step, constant_like(step, steps_));
    Output base = 1.0 - s / steps_;
    return (lr0_ - end_) * pow(base, constant_like(step, power_)) + end_;
  }
  double value(double step) const override {
    double s = std::min(step, steps_);
    return (lr0_ - end_) * std::pow(1.0 - s / steps_, power_) + end_;
  }
  std::string describe() const override {
    return "polynomial_decay(" + number(lr0_) + ", " + number(steps_) + ", " + number(end_) + ", " +
           number(power_) + ")";
  }

 private:
  double lr0_, steps_, end_, power_;
};

class PiecewiseConstant : public Schedule {
 public:
  PiecewiseConstant(std::vector<double> boundaries, std::vector<double> values)
      : boundaries_(std::move(boundaries)), values_(std::move(values)) {}
  // values[i] for boundaries[i-1] < step <= boundaries[i]: built from the last piece backwards.
  Output operator()(Output step) const override {
    Output rate = constant_like(step, values_.back());
    for (std::size_t i = boundaries_.size(); i-- > 0;)
      rate = where(less_equal(step, constant_like(step, boundaries_[i])), constant_like(step, values_[i]),
                   rate);
    return rate;
  }
  double value(double step) const override {
    for (std::size_t i = 0; i < boundaries_.size(); ++i)
      if (step <= boundaries_[i]) return values_[i];
    return values_.back();
  }
  std::string describe() const override {
    std::string s = "piecewise_constant([";
    for (std::size_t i = 0; i < boundaries_.size(); ++i) s += (i ? ", " : "") + number(boundaries_[i]);
    s += "], [";
    for (std::size_t i = 0; i < values_.size(); ++i) s += (i ? ", " : "") + number(values_[i]);
    return s + "])";
  }

 private:
  std::vector<double> boundaries_, values_;
};

// Linear pieces through (x[i], y[i]), constant after the last point.
class PiecewiseLinear : public Schedule {
 public:
  PiecewiseLinear(std::string name, std::vector<double> xs, std::vector<double> ys)
      : name_(std::move(name)), xs_(std::move(xs)), ys_(std::move(ys)) {}
  Output operator()(Output step) const override {
    Output rate = constant_like(step, ys_.back());
    for (std::size_t i = xs_.size() - 1; i-- > 0;) {
      // y[i] + (y[i+1] - y[i]) (step - x[i]) / (x[i+1] - x[i]) on [x[i], x[i+1])
      double slope = (ys_[i + 1] - ys_[i]) / (xs_[i + 1] - xs_[i]);
      Output piece = ys_[i] + slope * (step - xs_[i]);
      rate = where(less(step, constant_like(step, xs_[i + 1])), piece, rate);
    }
    return rate;
  }
  double value(double step) const override {
    for (std::size_t i = 0; i + 1 < xs_.size(); ++i)
      if (step < xs_[i + 1]) return ys_[i] + (ys_[i + 1] - ys_[i]) * (step - xs_[i]) / (xs_[i + 1] - xs_[i]);
    return ys_.back();
  }
  std::string describe() const override { return name_; }

 private:
  std::string name_;
  std::vector<double> xs_, ys_;
};

void check_rate(double v, const char* what) {
  require(std::isfinite(v) && v >= 0.0, std::string(what) + " must be a finite number >= 0, got " + number(v));
}

// The three phase boundaries of 1cycle: half, 2 * half, total (the book's OneCycleScheduler).
struct Phases {
  double half, down_end, total;
};
Phases one_cycle_phases(std::int64_t total_steps, std::int64_t last_steps) {
  require(total_steps >= 3, "one_cycle: total_steps must be >= 3, got " + std::to_string(total_steps));
  if (last_steps < 0) last_steps = total_steps / 10 + 1;
  require(last_steps < total_steps - 1,
          "one_cycle: last_steps (" + std::to_string(last_steps) + ") must leave at least 2 of the " +
              std::to_string(total_steps) + " steps for the cycle");
  std::int64_t half = (total_steps - last_steps) / 2;
  return {static_cast<double>(half), static_cast<double>(2 * half), static_cast<double>(total_steps)};
}

template <class S>
SchedulePtr configured(std::shared_ptr<S> schedule, AttrMap config) {
  schedule->set_config(std::move(config));
  return schedule;
}

}  // namespace

SchedulePtr exponential_decay(double initial_rate, double decay_steps, double decay_rate, Flag staircase) {
  check_rate(initial_rate, "exponential_decay: initial_rate");
  require(decay_steps > 0 && std::isfinite(decay_steps), "exponential_decay: decay_steps must be > 0");
  require(decay_rate > 0 && std::isfinite(decay_rate), "exponential_decay: decay_rate must be > 0");
  return configured(std::make_shared<ExponentialDecay>(initial_rate, decay_steps, decay_rate, staircase),
                    {{"type", std::string("exponential_decay")}, {"initial_rate", initial_rate},
                     {"decay_steps", decay_steps}, {"decay_rate", decay_rate}, {"staircase", bool(staircase)}});
}

SchedulePtr inverse_time_decay(double initial_rate, double decay_steps, double decay_rate, Flag staircase) {
  check_rate(initial_rate, "inverse_time_decay: initial_rate");
  require(decay_steps > 0 && std::isfinite(decay_steps), "inverse_time_decay: decay_steps must be > 0");
  check_rate(decay_rate, "inverse_time_decay: decay_rate");
  return configured(std::make_shared<InverseTimeDecay>(initial_rate, decay_steps, decay_rate, staircase),
                    {{"type", std::string("inverse_time_decay")}, {"initial_rate", initial_rate},
                     {"decay_steps", decay_steps}, {"decay_rate", decay_rate}, {"staircase", bool(staircase)}});
}

SchedulePtr power_decay(double initial_rate, double s, double c) {
  check_rate(initial_rate, "power_decay: initial_rate");
  require(s > 0 && std::isfinite(s), "power_decay: s must be > 0");
  require(c >= 0 && std::isfinite(c), "power_decay: c must be >= 0");
  return configured(std::make_shared<PowerDecay>(initial_rate, s, c),
                    {{"type", std::string("power_decay")}, {"initial_rate", initial_rate}, {"s", s}, {"c", c}});
}

SchedulePtr polynomial_decay(double initial_rate, double decay_steps, double end_rate, double power) {
  check_rate(initial_rate, "polynomial_decay: initial_rate");
  check_rate(end_rate, "polynomial_decay: end_rate");
  require(decay_steps > 0 && std::isfinite(decay_steps), "polynomial_decay: decay_steps must be > 0");
  require(power > 0 && std::isfinite(power), "polynomial_decay: power must be > 0");
  return configured(std::make_shared<PolynomialDecay>(initial_rate, decay_steps, end_rate, power),
                    {{"type", std::string("polynomial_decay")}, {"initial_rate", initial_rate},
                     {"decay_steps", decay_steps}, {"end_rate", end_rate}, {"power", power}});
}

SchedulePtr piecewise_constant(std::vector<double> boundaries, std::vector<double> values) {
  require(values.size() == boundaries.size() + 1,
          "piecewise_constant: needs one more value than boundaries, given " +
              std::to_string(boundaries.size()) + " boundaries and " + std::to_string(values.size()) +
              " values");
  for (std::size_t i = 0; i < boundaries.size(); ++i)
    require(std::isfinite(boundaries[i]) && (i == 0 || boundaries[i] > boundaries[i - 1]),
            "piecewise_constant: boundaries must be finite and increasing");
  for (double v : values) check_rate(v, "piecewise_constant: a value");
  AttrMap config{{"type", std::string("piecewise_constant")},
                 {"boundaries", Tensor::from_vector<double>(Shape{static_cast<std::int64_t>(boundaries.size())}, boundaries)},
                 {"values", Tensor::from_vector<double>(Shape{static_cast<std::int64_t>(values.size())}, values)}};
  return configured(std::make_shared<PiecewiseConstant>(std::move(boundaries), std::move(values)), std::move(config));
}

SchedulePtr one_cycle(std::int64_t total_steps, double max_rate, double start_rate, std::int64_t last_steps,
                      double last_rate) {
  check_rate(max_rate, "one_cycle: max_rate");
  if (start_rate < 0) start_rate = max_rate / 10;
  if (last_rate < 0) last_rate = start_rate / 1000;
  check_rate(start_rate, "one_cycle: start_rate");
  check_rate(last_rate, "one_cycle: last_rate");
  Phases p = one_cycle_phases(total_steps, last_steps);
  std::string name = "one_cycle(" + std::to_string(total_steps) + ", " + number(max_rate) + ")";
  return configured(std::make_shared<PiecewiseLinear>(name, std::vector<double>{0, p.half, p.down_end, p.total},
                                                     std::vector<double>{start_rate, max_rate, start_rate, last_rate}),
                    {{"type", std::string("one_cycle")}, {"total_steps", total_steps}, {"max_rate", max_rate},
                     {"start_rate", start_rate}, {"last_steps", last_steps < 0 ? total_steps / 10 + 1 : last_steps},
                     {"last_rate", last_rate}});
}

SchedulePtr one_cycle_momentum(std::int64_t total_steps, double max_momentum, double min_momentum,
                               std::int64_t last_steps) {
  require(min_momentum >= 0 && min_momentum <= max_momentum && max_momentum <= 1,
          "one_cycle_momentum: needs 0 <= min_momentum <= max_momentum <= 1");
  Phases p = one_cycle_phases(total_steps, last_steps);
  std::string name = "one_cycle_momentum(" + std::to_string(total_steps) + ")";
  return configured(std::make_shared<PiecewiseLinear>(name, std::vector<double>{0, p.half, p.down_end, p.total},
                                                     std::vector<double>{max_momentum, min_momentum, max_momentum,
                                                                         max_momentum}),
                    {{"type", std::string("one_cycle_momentum")}, {"total_steps", total_steps},
                     {"max_momentum", max_momentum}, {"min_momentum", min_momentum},
                     {"last_steps", last_steps < 0 ? total_steps / 10 + 1 : last_steps}});
}

}  // namespace dagrad::optim
