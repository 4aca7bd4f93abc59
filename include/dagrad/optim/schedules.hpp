// Learning-rate schedules as graph functions of the step (keras-semantics.md section 8.1): the
// number of completed updates, 0 for the first batch, per batch not per epoch. Each schedule
// also evaluates in double, for logs, callbacks and tests.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../graph/attr.hpp"
#include "../graph/flag.hpp"
#include "../graph/graph.hpp"

namespace dagrad::optim {

class Schedule {
 public:
  virtual ~Schedule() = default;
  // The rate at `step`, a float scalar output (its dtype is the rate's).
  virtual Output operator()(Output step) const = 0;
  virtual double value(double step) const = 0;
  virtual std::string describe() const = 0;  // "exponential_decay(0.01, 34375, 0.1)"
  // The factory and its arguments ("type": "exponential_decay", ...), from which
  // schedule_from_config rebuilds the schedule (model files keep the optimizer's schedule).
  const AttrMap& config() const { return config_; }
  void set_config(AttrMap config) { config_ = std::move(config); }

 private:
  AttrMap config_;
};
using SchedulePtr = std::shared_ptr<const Schedule>;

// lr0 * rate^(step / decay_steps), the exponent floored with staircase.
SchedulePtr exponential_decay(double initial_rate, double decay_steps, double decay_rate,
                              Flag staircase = false);
// values[0] while step <= boundaries[0], values[i] while boundaries[i-1] < step <= boundaries[i],
// values.back() after the last boundary (upper bounds inclusive, as Keras). Needs
// values.size() == boundaries.size() + 1 and increasing boundaries.
SchedulePtr piecewise_constant(std::vector<double> boundaries, std::vector<double> values);
// lr0 / (1 + rate * step / decay_steps), the quotient floored with staircase.
SchedulePtr inverse_time_decay(double initial_rate, double decay_steps, double decay_rate,
                               Flag staircase = false);
// The chapter's power scheduling: lr0 / (1 + step / s)^c (c = 1 is Keras's legacy `decay`
// argument with decay = 1 / s).
SchedulePtr power_decay(double initial_rate, double s, double c = 1.0);
// (lr0 - end) * (1 - min(step, decay_steps) / decay_steps)^power + end.
SchedulePtr polynomial_decay(double initial_rate, double decay_steps, double end_rate = 1e-4,
                             double power = 1.0);
// 1cycle (Smith 2018, as the chapter's OneCycleScheduler): over `total_steps` updates, linear from
// start_rate (default max_rate / 10) up to max_rate over the first half of the steps before the
// last ~10% (last_steps, default total_steps / 10 + 1), linear back down to start_rate over the
// second half, then linear down to last_rate (default start_rate / 1000) over the last steps;
// after total_steps it stays at last_rate.
SchedulePtr one_cycle(std::int64_t total_steps, double max_rate, double start_rate = -1.0,
                      std::int64_t last_steps = -1, double last_rate = -1.0);
// The momentum that goes with it, cycled the other way: max_momentum down to min_momentum while
// the rate rises, back up while it falls, then max_momentum.
SchedulePtr one_cycle_momentum(std::int64_t total_steps, double max_momentum = 0.95,
                               double min_momentum = 0.85, std::int64_t last_steps = -1);

// Rebuilds a schedule from Schedule::config(); throws OptimizerError for an unknown type or a
// missing argument.
SchedulePtr schedule_from_config(const AttrMap& config);

}  // namespace dagrad::optim
