// Learning-rate schedules (optim/schedules.cpp) against keras-semantics.md section 8.1 and the
// book's OneCycleScheduler: each schedule's graph function (the step fed, or held in a variable)
// and its value(double), step by step against the formula written out here; optimizers using a
// schedule at step = iterations; argument errors.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <vector>

#include "dagrad/dagrad.hpp"
#include "optim/optim_test_util.hpp"

using namespace dagrad;
using namespace dagrad::optim_testing;
using optim::OptimizerError;
using optim::SchedulePtr;
namespace tt = boost::test_tools;

namespace {

// A schedule's graph function evaluated two ways: at a fed step, and at a step held in a
// variable (as the optimizer's counter is).
class Evaluator {
 public:
  Evaluator(const SchedulePtr& schedule, DType dtype) : dtype_(dtype) {
    fed_ = placeholder(g_, dtype, Shape{}, "step");
    held_ =
        variable(g_, dtype == DType::float32 ? Tensor::scalar<float>(0) : Tensor::scalar<double>(0),
                 VariableOptions{false, {}}, "held_step");
    fed_rate_ = (*schedule)(fed_);
    held_rate_ = (*schedule)(held_);
    BOOST_TEST(fed_rate_.dtype() == dtype);
    BOOST_TEST(fed_rate_.shape() == Shape{});
    session_ = std::make_unique<Session>(g_);
    session_->initialize_variables();
  }
  double fed(double step) {
    return session_->run(fed_rate_, {{fed_, scalar_tensor(step)}}).value_as_double(0);
  }
  double held(double step) {
    session_->set_variable_value(held_, scalar_tensor(step));
    return session_->run(held_rate_).value_as_double(0);
  }

 private:
  Tensor scalar_tensor(double v) const {
    return dtype_ == DType::float32 ? Tensor::scalar<float>(static_cast<float>(v))
                                    : Tensor::scalar<double>(v);
  }
  DType dtype_;
  Graph g_;
  Output fed_, held_, fed_rate_, held_rate_;
  std::unique_ptr<Session> session_;
};

// Checks the schedule at every step of `steps` against `formula`: value(), and the graph function
// in float64 (fed and held) to 1e-13, in float32 to 1e-6 relative.
void check_schedule(const SchedulePtr& schedule, const std::function<double(double)>& formula,
                    const std::vector<double>& steps) {
  Evaluator f64(schedule, DType::float64), f32(schedule, DType::float32);
  for (double step : steps) {
    double want = formula(step);
    BOOST_TEST_CONTEXT(schedule->describe() << " at step " << step << ": want " << want) {
      BOOST_TEST(schedule->value(step) == want, tt::tolerance(1e-13));
      BOOST_TEST(f64.fed(step) == want, tt::tolerance(1e-13));
      BOOST_TEST(f64.held(step) == want, tt::tolerance(1e-13));
      BOOST_TEST(f32.fed(step) == want, tt::tolerance(1e-6));
    }
  }
}

std::vector<double> range(int first, int last) {
  std::vector<double> out;
  for (int i = first; i <= last; ++i) out.push_back(i);
  return out;
}

// The book's OneCycleScheduler (handson-ml2 chapter 11), as its callback computes the rate of
// batch `iteration`.
struct BookOneCycle {
  int iterations;
  double max_rate, start_rate, last_rate;
  int last_iterations, half_iteration;
  BookOneCycle(int its, double max, double start = 0, int last_its = 0, double last = 0)
      : iterations(its), max_rate(max) {
    start_rate = start ? start : max / 10;
    last_iterations = last_its ? last_its : its / 10 + 1;
    half_iteration = (its - last_iterations) / 2;
    last_rate = last ? last : start_rate / 1000;
  }
  static double interpolate(double it, double i1, double i2, double r1, double r2) {
    return (r2 - r1) * (it - i1) / (i2 - i1) + r1;
  }
  double rate(int it) const {
    if (it < half_iteration) return interpolate(it, 0, half_iteration, start_rate, max_rate);
    if (it < 2 * half_iteration)
      return interpolate(it, half_iteration, 2 * half_iteration, max_rate, start_rate);
    return interpolate(it, 2 * half_iteration, iterations, start_rate, last_rate);
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(schedules)

BOOST_AUTO_TEST_CASE(exponential_decay) {
  check_schedule(
      optim::exponential_decay(0.01, 10, 0.1),
      [](double s) { return 0.01 * std::pow(0.1, s / 10); }, range(0, 35));
  check_schedule(
      optim::exponential_decay(0.01, 10, 0.1, true),
      [](double s) { return 0.01 * std::pow(0.1, std::floor(s / 10)); }, range(0, 35));
  // The book's schedule: divided by 10 every s = 20 * 55000 // 32 = 34375 steps.
  auto book = optim::exponential_decay(0.01, 34375, 0.1);
  BOOST_TEST(book->value(34375) == 0.001, tt::tolerance(1e-14));
  BOOST_TEST(book->value(0) == 0.01);
  BOOST_TEST(book->describe() == "exponential_decay(0.01, 34375, 0.1)");
  // Staircase keeps the rate over each block: 9 and 0 agree, 10 is the next stair.
  auto stairs = optim::exponential_decay(0.5, 10, 0.5, true);
  BOOST_TEST(stairs->value(9) == 0.5);
  BOOST_TEST(stairs->value(10) == 0.25);
}

// Upper bounds inclusive: the book's boundary step 5 * 1719 (the first batch of epoch 6) still
// gets the earlier value.
BOOST_AUTO_TEST_CASE(piecewise_constant) {
  const double n = 1719;
  auto book = optim::piecewise_constant({5 * n, 15 * n}, {0.01, 0.005, 0.001});
  auto formula = [n](double s) { return s <= 5 * n ? 0.01 : (s <= 15 * n ? 0.005 : 0.001); };
  check_schedule(book, formula, {0, 1, 8594, 8595, 8596, 20000, 25784, 25785, 25786, 100000});
  BOOST_TEST(book->value(8595) == 0.01);
  BOOST_TEST(book->value(8596) == 0.005);
  BOOST_TEST(book->value(25785) == 0.005);
  BOOST_TEST(book->value(25786) == 0.001);
  // One boundary.
  check_schedule(
      optim::piecewise_constant({3}, {1.0, 0.5}), [](double s) { return s <= 3 ? 1.0 : 0.5; },
      range(0, 6));
  // No boundary: a constant.
  check_schedule(
      optim::piecewise_constant({}, {0.2}), [](double) { return 0.2; }, range(0, 3));
}

BOOST_AUTO_TEST_CASE(inverse_time_decay) {
  check_schedule(
      optim::inverse_time_decay(0.1, 5, 0.5), [](double s) { return 0.1 / (1 + 0.5 * s / 5); },
      range(0, 20));
  check_schedule(
      optim::inverse_time_decay(0.1, 5, 0.5, true),
      [](double s) { return 0.1 / (1 + 0.5 * std::floor(s / 5)); }, range(0, 20));
}

BOOST_AUTO_TEST_CASE(power_decay) {
  check_schedule(
      optim::power_decay(0.01, 20), [](double s) { return 0.01 / (1 + s / 20); }, range(0, 50));
  check_schedule(
      optim::power_decay(0.01, 20, 2.5), [](double s) { return 0.01 / std::pow(1 + s / 20, 2.5); },
      range(0, 50));
}

BOOST_AUTO_TEST_CASE(polynomial_decay) {
  check_schedule(
      optim::polynomial_decay(0.1, 10, 0.001, 2.0),
      [](double s) { return (0.1 - 0.001) * std::pow(1 - std::min(s, 10.0) / 10, 2.0) + 0.001; },
      range(0, 15));
  // Defaults: end 1e-4, power 1 (linear).
  check_schedule(
      optim::polynomial_decay(0.05, 8),
      [](double s) { return (0.05 - 1e-4) * (1 - std::min(s, 8.0) / 8) + 1e-4; }, range(0, 12));
}

// The book's OneCycleScheduler: start at max / 10, up to max over the first half of the steps
// before the last ~10%, back down, then down to start / 1000 over the last steps; dagrad holds
// the last rate after total_steps (the book's callback would go on extrapolating).
BOOST_AUTO_TEST_CASE(one_cycle) {
  BookOneCycle book(100, 0.05);
  BOOST_TEST(book.half_iteration == 44);
  auto schedule = optim::one_cycle(100, 0.05);
  check_schedule(
      schedule, [&](double s) { return s < 100 ? book.rate(static_cast<int>(s)) : book.last_rate; },
      range(0, 110));
  BOOST_TEST(schedule->value(0) == 0.005, tt::tolerance(1e-15));
  BOOST_TEST(schedule->value(44) == 0.05, tt::tolerance(1e-15));
  BOOST_TEST(schedule->value(88) == 0.005, tt::tolerance(1e-15));
  BOOST_TEST(schedule->value(100) == 5e-6, tt::tolerance(1e-15));
  // Every argument given.
  BookOneCycle book2(50, 0.1, 0.02, 6, 1e-4);
  check_schedule(
      optim::one_cycle(50, 0.1, 0.02, 6, 1e-4),
      [&](double s) { return s < 50 ? book2.rate(static_cast<int>(s)) : 1e-4; }, range(0, 55));
}

// The momentum that goes with it: max down to min while the rate rises, back up while it falls,
// then max.
BOOST_AUTO_TEST_CASE(one_cycle_momentum) {
  auto formula = [](double s) {
    const double half = 44;  // (100 - 11) // 2, as the rate's
    if (s < half) return 0.95 + (0.85 - 0.95) * s / half;
    if (s < 2 * half) return 0.85 + (0.95 - 0.85) * (s - half) / half;
    return 0.95;
  };
  check_schedule(optim::one_cycle_momentum(100), formula, range(0, 105));
  auto custom = optim::one_cycle_momentum(50, 0.9, 0.8, 6);
  BOOST_TEST(custom->value(0) == 0.9, tt::tolerance(1e-15));
  BOOST_TEST(custom->value(22) == 0.8, tt::tolerance(1e-15));
  BOOST_TEST(custom->value(11) == 0.85, tt::tolerance(1e-15));
  BOOST_TEST(custom->value(44) == 0.9, tt::tolerance(1e-15));
  BOOST_TEST(custom->value(49) == 0.9, tt::tolerance(1e-15));
}

BOOST_AUTO_TEST_CASE(bad_arguments) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  BOOST_CHECK_THROW(optim::exponential_decay(-0.01, 10, 0.5), OptimizerError);
  BOOST_CHECK_THROW(optim::exponential_decay(0.01, 0, 0.5), OptimizerError);
  BOOST_CHECK_THROW(optim::exponential_decay(0.01, -10, 0.5), OptimizerError);
  BOOST_CHECK_THROW(optim::exponential_decay(0.01, nan, 0.5), OptimizerError);
  BOOST_CHECK_THROW(optim::exponential_decay(0.01, 10, 0.0), OptimizerError);
  BOOST_CHECK_THROW(optim::exponential_decay(0.01, 10, -0.5), OptimizerError);
  BOOST_CHECK_THROW(optim::piecewise_constant({10}, {0.1}), OptimizerError);
  BOOST_CHECK_THROW(optim::piecewise_constant({10}, {0.1, 0.2, 0.3}), OptimizerError);
  BOOST_CHECK_THROW(optim::piecewise_constant({10, 5}, {0.1, 0.2, 0.3}), OptimizerError);
  BOOST_CHECK_THROW(optim::piecewise_constant({10, 10}, {0.1, 0.2, 0.3}), OptimizerError);
  BOOST_CHECK_THROW(optim::piecewise_constant({nan}, {0.1, 0.2}), OptimizerError);
  BOOST_CHECK_THROW(optim::piecewise_constant({10}, {0.1, -0.2}), OptimizerError);
  BOOST_CHECK_THROW(optim::inverse_time_decay(0.1, 0, 0.5), OptimizerError);
  BOOST_CHECK_THROW(optim::inverse_time_decay(0.1, 5, -0.5), OptimizerError);
  BOOST_CHECK_THROW(optim::power_decay(0.1, 0), OptimizerError);
  BOOST_CHECK_THROW(optim::power_decay(0.1, 10, -1), OptimizerError);
  BOOST_CHECK_THROW(optim::power_decay(-0.1, 10), OptimizerError);
  BOOST_CHECK_THROW(optim::polynomial_decay(0.1, 0), OptimizerError);
  BOOST_CHECK_THROW(optim::polynomial_decay(0.1, 10, -1e-4), OptimizerError);
  BOOST_CHECK_THROW(optim::polynomial_decay(0.1, 10, 1e-4, 0.0), OptimizerError);
  BOOST_CHECK_THROW(optim::one_cycle(2, 0.1), OptimizerError);
  BOOST_CHECK_THROW(optim::one_cycle(100, -0.1), OptimizerError);
  BOOST_CHECK_THROW(optim::one_cycle(10, 0.1, -1, 9), OptimizerError);
  BOOST_CHECK_THROW(optim::one_cycle_momentum(100, 0.85, 0.95), OptimizerError);
  BOOST_CHECK_THROW(optim::one_cycle_momentum(100, 1.5, 0.85), OptimizerError);
  BOOST_CHECK_THROW(optim::one_cycle_momentum(100, 0.95, -0.1), OptimizerError);
  BOOST_CHECK_THROW(optim::one_cycle_momentum(2), OptimizerError);
  try {
    optim::piecewise_constant({10, 20}, {0.1, 0.2});
    BOOST_FAIL("accepted");
  } catch (const OptimizerError& e) {
    BOOST_TEST(contains(e.what(), "piecewise_constant"));
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(scheduled_optimizers)

// The rate of a step is the schedule at step = iterations: 0 on the first step.
BOOST_AUTO_TEST_CASE(sgd_uses_the_schedule_at_iterations) {
  auto opt =
      optim::SGD({.learning_rate = 123.0, .schedule = optim::exponential_decay(0.1, 2, 0.5)});
  BOOST_TEST(opt->has_schedule());
  BOOST_TEST(opt->initial_learning_rate() == 0.1);  // the schedule's rate at step 0
  Problem p;
  optim::TrainStep step = opt->minimize(p.loss);
  Session s(p.g);
  s.initialize_variables();
  BOOST_TEST(s.variable_value(opt->learning_rate()).item<double>() == 0.1);
  std::vector<Vec> got;
  for (int i = 0; i < 6; ++i) {
    s.run_targets({step.train_op});
    got.push_back(values(s.variable_value(p.w)));
    if (i == 2) s.set_variable_value(opt->learning_rate(), Tensor::scalar<double>(50.0));  // unused
  }
  auto want = reference(6, [](int t, Vec& w, const Vec& g) {
    double lr = 0.1 * std::pow(0.5, (t - 1) / 2.0);
    for (std::size_t i = 0; i < 4; ++i) w[i] -= lr * g[i];
  });
  check_close(got, want, 1e-12);
}

// Legacy decay on top of a schedule: lr(iterations) / (1 + decay * iterations); and Adam's bias
// correction with the scheduled rate.
BOOST_AUTO_TEST_CASE(adam_with_piecewise_schedule_and_decay) {
  auto opt = optim::Adam({.learning_rate = 0.1,
                          .beta_1 = 0.8,
                          .beta_2 = 0.9,
                          .epsilon = 1e-3,
                          .decay = 0.25,
                          .schedule = optim::piecewise_constant({2, 4}, {0.2, 0.1, 0.05})});
  Vec m(4, 0.0), v(4, 0.0);
  auto want = reference(7, [&](int t, Vec& w, const Vec& g) {
    double step = t - 1;
    double lr = (step <= 2 ? 0.2 : step <= 4 ? 0.1 : 0.05) / (1 + 0.25 * step);
    double alpha = lr * std::sqrt(1 - std::pow(0.9, t)) / (1 - std::pow(0.8, t));
    for (std::size_t i = 0; i < 4; ++i) {
      m[i] += (g[i] - m[i]) * 0.2;
      v[i] += (g[i] * g[i] - v[i]) * 0.1;
      w[i] -= alpha * m[i] / (std::sqrt(v[i]) + 1e-3);
    }
  });
  check_close(run_steps(*opt, 7).w, want, 1e-12);
}

// 1cycle on SGD with its momentum schedule: rate and momentum of the step at step = iterations.
BOOST_AUTO_TEST_CASE(sgd_one_cycle_rate_and_momentum) {
  auto opt = optim::SGD({.schedule = optim::one_cycle(12, 0.1),
                         .momentum_schedule = optim::one_cycle_momentum(12, 0.95, 0.85)});
  BookOneCycle book(12, 0.1);  // last 2 steps, half 5
  auto beta_of = [](int s) {
    if (s < 5) return 0.95 - 0.1 * s / 5;
    if (s < 10) return 0.85 + 0.1 * (s - 5) / 5;
    return 0.95;
  };
  Vec vel(4, 0.0);
  auto want = reference(12, [&](int t, Vec& w, const Vec& g) {
    for (std::size_t i = 0; i < 4; ++i) {
      vel[i] = beta_of(t - 1) * vel[i] - book.rate(t - 1) * g[i];
      w[i] += vel[i];
    }
  });
  check_close(run_steps(*opt, 12).w, want, 1e-12);
}

// Nesterov with a momentum schedule: the lookahead and the update use the step's momentum.
BOOST_AUTO_TEST_CASE(nesterov_with_momentum_schedule) {
  auto opt = optim::SGD({.learning_rate = 0.05,
                         .nesterov = true,
                         .momentum_schedule = optim::one_cycle_momentum(12, 0.95, 0.85)});
  auto beta_of = [](int s) {
    if (s < 5) return 0.95 - 0.1 * s / 5;
    if (s < 10) return 0.85 + 0.1 * (s - 5) / 5;
    return 0.95;
  };
  Vec m(4, 0.0);
  auto want = reference(8, [&](int t, Vec& theta, const Vec&) {
    double beta = beta_of(t - 1);
    Vec point(4);
    for (std::size_t i = 0; i < 4; ++i) point[i] = theta[i] + beta * m[i];
    Vec g = grad_of(point);
    for (std::size_t i = 0; i < 4; ++i) {
      m[i] = beta * m[i] - 0.05 * g[i];
      theta[i] += m[i];
    }
  });
  check_close(run_steps(*opt, 8).w, want, 1e-12);
}

BOOST_AUTO_TEST_SUITE_END()
