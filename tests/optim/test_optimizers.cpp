// Optimizers (optim/optimizers.cpp, optim/optimizer.cpp) against keras-semantics.md section 6:
// every trajectory is recomputed here in double from the formulas (legacy OptimizerV2 forms;
// AdamW from the new optimizer), never taken from the code's output; the Keras docstring test
// vectors; float32 variables; hyperparameter and minimize() errors; the learning rate as a
// variable; the iteration counter; the state variables; minimize called twice.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "dagrad/dagrad.hpp"
#include "optim/optim_test_util.hpp"

using namespace dagrad;
using namespace dagrad::optim_testing;
using optim::OptimizerError;
namespace tt = boost::test_tools;

namespace {

constexpr int kSteps = 8;
constexpr double kTol = 1e-12;

// The optimizer's state variable whose name ends with `suffix` ("w/momentum").
Output state_named(const optim::Optimizer& opt, const std::string& suffix) {
  for (const Output& v : opt.state_variables()) {
    const std::string n = v.name();
    if (n.size() >= suffix.size() &&
        n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0)
      return v;
  }
  BOOST_FAIL("no state variable named *" + suffix);
  return {};
}

// The Keras docstrings' problem var = x0, loss = var^2 / 2: var after each of `steps` steps.
Vec docstring_run(optim::Optimizer& opt, double x0, int steps) {
  Graph g;
  Output var = variable(g, Tensor::scalar<double>(x0), "var");
  Output loss = square(var) / 2.0;
  optim::TrainStep step = opt.minimize(loss);
  Session s(g);
  s.initialize_variables();
  Vec out;
  double before = x0;
  for (int i = 0; i < steps; ++i) {
    // Fetched with the train op, the loss is the loss before the update. (Its square node is
    // not needed by the gradient 2 var / 2, so only the step's ordering makes it come first.)
    double reported = s.run({step.loss}, {}, {step.train_op}).at(0).item<double>();
    BOOST_TEST(reported == before * before / 2, tt::tolerance(1e-15));
    before = s.variable_value(var).item<double>();
    out.push_back(before);
  }
  return out;
}

// Adam's reference (6.5) with or without amsgrad; counts the steps where amsgrad's running
// maximum differed from v, so a test can require that the maximum mattered.
std::vector<Vec> adam_reference(double lr, double b1, double b2, double eps, bool amsgrad,
                                double wd, int* max_mattered = nullptr) {
  Vec m(4, 0.0), v(4, 0.0), vhat(4, 0.0);
  return reference(kSteps, [&](int t, Vec& w, const Vec& g) {
    double alpha = lr * std::sqrt(1 - std::pow(b2, t)) / (1 - std::pow(b1, t));
    for (std::size_t i = 0; i < 4; ++i) {
      w[i] -= lr * wd * w[i];  // AdamW's decoupled decay first (wd = 0 for Adam)
      m[i] = m[i] + (g[i] - m[i]) * (1 - b1);
      v[i] = v[i] + (g[i] * g[i] - v[i]) * (1 - b2);
      double second = v[i];
      if (amsgrad) {
        vhat[i] = std::max(vhat[i], v[i]);
        if (max_mattered && vhat[i] != v[i]) ++*max_mattered;
        second = vhat[i];
      }
      w[i] -= alpha * m[i] / (std::sqrt(second) + eps);
    }
  });
}

std::vector<Vec> rmsprop_reference(double lr, double rho, double momentum, double eps,
                                   bool centered) {
  Vec ms(4, 0.0), mg(4, 0.0), mom(4, 0.0);
  return reference(kSteps, [&](int, Vec& w, const Vec& g) {
    for (std::size_t i = 0; i < 4; ++i) {
      if (momentum == 0) {
        // Legacy Python path: eps outside the root.
        ms[i] = rho * ms[i] + (1 - rho) * g[i] * g[i];
        double denom = ms[i];
        if (centered) {
          mg[i] = rho * mg[i] + (1 - rho) * g[i];
          denom = ms[i] - mg[i] * mg[i];
        }
        w[i] -= lr * g[i] / (std::sqrt(denom) + eps);
      } else {
        // Legacy kernels ApplyRMSProp / ApplyCenteredRMSProp: eps inside the root.
        ms[i] = ms[i] + (g[i] * g[i] - ms[i]) * (1 - rho);
        double denom = ms[i];
        if (centered) {
          mg[i] = mg[i] + (g[i] - mg[i]) * (1 - rho);
          denom = ms[i] - mg[i] * mg[i];
        }
        mom[i] = momentum * mom[i] + lr * g[i] / std::sqrt(denom + eps);
        w[i] -= mom[i];
      }
    }
  });
}

std::vector<Vec> nadam_reference(double lr, double b1, double b2, double eps, int steps,
                                 Vec w0 = kW0, bool quadratic = false) {
  Vec m(w0.size(), 0.0), v(w0.size(), 0.0);
  double m_cache = 1.0;
  std::vector<Vec> out;
  Vec w = w0;
  for (int t = 1; t <= steps; ++t) {
    Vec g = quadratic ? w : grad_of(w);  // var^2 / 2 has gradient var
    double mu_t = b1 * (1 - 0.5 * std::pow(0.96, 0.004 * t));
    double mu_t1 = b1 * (1 - 0.5 * std::pow(0.96, 0.004 * (t + 1)));
    double m_schedule_new = m_cache * mu_t;
    m_cache = m_schedule_new;
    double m_schedule_next = m_schedule_new * mu_t1;
    for (std::size_t i = 0; i < w.size(); ++i) {
      double g_prime = g[i] / (1 - m_schedule_new);
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      double m_prime = m[i] / (1 - m_schedule_next);
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      double v_prime = v[i] / (1 - std::pow(b2, t));
      double m_bar = (1 - mu_t) * g_prime + mu_t1 * m_prime;
      w[i] -= lr * m_bar / (std::sqrt(v_prime) + eps);
    }
    out.push_back(w);
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(trajectories)

BOOST_AUTO_TEST_CASE(sgd_plain) {
  auto opt = optim::SGD({.learning_rate = 0.1});
  Trajectory got = run_steps(*opt, kSteps);
  auto want = reference(kSteps, [](int, Vec& w, const Vec& g) {
    for (std::size_t i = 0; i < 4; ++i) w[i] -= 0.1 * g[i];
  });
  check_close(got.w, want, kTol);
  // The loss a step reports is the loss at the weights it started from.
  for (int s = 0; s < kSteps; ++s)
    BOOST_TEST(got.loss[s] == loss_of(s == 0 ? kW0 : want[s - 1]), tt::tolerance(kTol));
}

BOOST_AUTO_TEST_CASE(sgd_momentum) {
  auto opt = optim::SGD({.learning_rate = 0.1, .momentum = 0.9});
  Trajectory got = run_steps(*opt, kSteps);
  Vec v(4, 0.0);
  auto want = reference(kSteps, [&](int, Vec& w, const Vec& g) {
    for (std::size_t i = 0; i < 4; ++i) {
      v[i] = 0.9 * v[i] - 0.1 * g[i];
      w[i] += v[i];
    }
  });
  check_close(got.w, want, kTol);
}

BOOST_AUTO_TEST_CASE(sgd_legacy_decay) {
  // lr_t = lr / (1 + decay * iterations), iterations before the update: the first step uses lr.
  auto opt = optim::SGD({.learning_rate = 0.1, .decay = 0.5});
  Trajectory got = run_steps(*opt, kSteps);
  auto want = reference(kSteps, [](int t, Vec& w, const Vec& g) {
    double lr = 0.1 / (1 + 0.5 * (t - 1));
    for (std::size_t i = 0; i < 4; ++i) w[i] -= lr * g[i];
  });
  check_close(got.w, want, kTol);
  // With momentum too.
  auto opt2 = optim::SGD({.learning_rate = 0.1, .momentum = 0.6, .decay = 0.25});
  Trajectory got2 = run_steps(*opt2, kSteps);
  Vec v(4, 0.0);
  auto want2 = reference(kSteps, [&](int t, Vec& w, const Vec& g) {
    double lr = 0.1 / (1 + 0.25 * (t - 1));
    for (std::size_t i = 0; i < 4; ++i) {
      v[i] = 0.6 * v[i] - lr * g[i];
      w[i] += v[i];
    }
  });
  check_close(got2.w, want2, kTol);
}

BOOST_AUTO_TEST_CASE(sgd_nesterov_chapter_form) {
  // Géron eq. 11-5: m <- beta m - lr grad(theta + beta m); theta <- theta + m.
  auto opt = optim::SGD({.learning_rate = 0.1, .momentum = 0.9, .nesterov = true});
  Trajectory got = run_steps(*opt, kSteps);
  Vec m(4, 0.0);
  auto want = reference(kSteps, [&](int, Vec& theta, const Vec&) {
    Vec point(4);
    for (std::size_t i = 0; i < 4; ++i) point[i] = theta[i] + 0.9 * m[i];
    Vec g = grad_of(point);
    for (std::size_t i = 0; i < 4; ++i) {
      m[i] = 0.9 * m[i] - 0.1 * g[i];
      theta[i] += m[i];
    }
  });
  check_close(got.w, want, kTol);
}

BOOST_AUTO_TEST_CASE(adagrad) {
  // Initial accumulator 0.1; a large epsilon so that its place (outside the root) shows.
  auto opt =
      optim::Adagrad({.learning_rate = 0.3, .initial_accumulator_value = 0.1, .epsilon = 0.01});
  Trajectory got = run_steps(*opt, kSteps);
  Vec acc(4, 0.1);
  auto want = reference(kSteps, [&](int, Vec& w, const Vec& g) {
    for (std::size_t i = 0; i < 4; ++i) {
      acc[i] += g[i] * g[i];
      w[i] -= 0.3 * g[i] / (std::sqrt(acc[i]) + 0.01);
    }
  });
  check_close(got.w, want, kTol);
  // The defaults (lr 0.001, accumulator 0.1, eps 1e-7) by name.
  auto named = optim::make_optimizer("Adagrad");
  Trajectory got2 = run_steps(*named, 5);
  Vec acc2(4, 0.1);
  auto want2 = reference(5, [&](int, Vec& w, const Vec& g) {
    for (std::size_t i = 0; i < 4; ++i) {
      acc2[i] += g[i] * g[i];
      w[i] -= 0.001 * g[i] / (std::sqrt(acc2[i]) + 1e-7);
    }
  });
  check_close(got2.w, want2, kTol);
}

BOOST_AUTO_TEST_CASE(rmsprop_without_momentum) {
  auto opt = optim::RMSprop({.learning_rate = 0.05, .rho = 0.8, .epsilon = 1e-3});
  check_close(run_steps(*opt, kSteps).w, rmsprop_reference(0.05, 0.8, 0.0, 1e-3, false), kTol);
}

BOOST_AUTO_TEST_CASE(rmsprop_with_momentum) {
  auto opt = optim::RMSprop({.learning_rate = 0.05, .rho = 0.8, .momentum = 0.7, .epsilon = 1e-3});
  check_close(run_steps(*opt, kSteps).w, rmsprop_reference(0.05, 0.8, 0.7, 1e-3, false), kTol);
}

BOOST_AUTO_TEST_CASE(rmsprop_centered_without_momentum) {
  auto opt = optim::RMSprop({.learning_rate = 0.05, .rho = 0.8, .epsilon = 1e-3, .centered = true});
  auto want = rmsprop_reference(0.05, 0.8, 0.0, 1e-3, true);
  check_close(run_steps(*opt, kSteps).w, want, kTol);
  BOOST_TEST(max_difference(want, rmsprop_reference(0.05, 0.8, 0.0, 1e-3, false)) > 1e-3);
}

BOOST_AUTO_TEST_CASE(rmsprop_centered_with_momentum) {
  auto opt = optim::RMSprop(
      {.learning_rate = 0.05, .rho = 0.8, .momentum = 0.7, .epsilon = 1e-3, .centered = true});
  auto want = rmsprop_reference(0.05, 0.8, 0.7, 1e-3, true);
  check_close(run_steps(*opt, kSteps).w, want, kTol);
  BOOST_TEST(max_difference(want, rmsprop_reference(0.05, 0.8, 0.7, 1e-3, false)) > 1e-3);
}

BOOST_AUTO_TEST_CASE(adam) {
  auto opt = optim::Adam({.learning_rate = 0.2, .beta_1 = 0.8, .beta_2 = 0.9, .epsilon = 1e-3});
  check_close(run_steps(*opt, kSteps).w, adam_reference(0.2, 0.8, 0.9, 1e-3, false, 0.0), kTol);
  // The defaults by name: lr 0.001, betas 0.9 and 0.999, eps 1e-7.
  auto named = optim::make_optimizer("adam");
  check_close(run_steps(*named, kSteps).w, adam_reference(0.001, 0.9, 0.999, 1e-7, false, 0.0),
              kTol);
}

BOOST_AUTO_TEST_CASE(adam_amsgrad) {
  // beta_2 = 0.5 and a large rate make v fall on some elements, where the running maximum of
  // the raw v takes over.
  auto opt = optim::Adam(
      {.learning_rate = 0.3, .beta_1 = 0.5, .beta_2 = 0.5, .epsilon = 1e-7, .amsgrad = true});
  int mattered = 0;
  auto want = adam_reference(0.3, 0.5, 0.5, 1e-7, true, 0.0, &mattered);
  BOOST_REQUIRE(mattered > 0);
  BOOST_TEST(max_difference(want, adam_reference(0.3, 0.5, 0.5, 1e-7, false, 0.0)) > 1e-3);
  check_close(run_steps(*opt, kSteps).w, want, kTol);
}

BOOST_AUTO_TEST_CASE(adamax) {
  auto opt = optim::Adamax({.learning_rate = 0.2, .beta_1 = 0.8, .beta_2 = 0.7, .epsilon = 1e-3});
  Vec m(4, 0.0), u(4, 0.0);
  int decayed_max = 0;  // steps where b2 u beat |g|
  auto want = reference(kSteps, [&](int t, Vec& w, const Vec& g) {
    for (std::size_t i = 0; i < 4; ++i) {
      m[i] = m[i] + (g[i] - m[i]) * (1 - 0.8);
      if (0.7 * u[i] > std::abs(g[i])) ++decayed_max;
      u[i] = std::max(0.7 * u[i], std::abs(g[i]));
      w[i] -= 0.2 / (1 - std::pow(0.8, t)) * m[i] / (u[i] + 1e-3);
    }
  });
  BOOST_REQUIRE(decayed_max > 0);
  check_close(run_steps(*opt, kSteps).w, want, kTol);
}

BOOST_AUTO_TEST_CASE(nadam_legacy) {
  auto opt = optim::Nadam({.learning_rate = 0.1, .beta_1 = 0.9, .beta_2 = 0.9, .epsilon = 1e-3});
  check_close(run_steps(*opt, kSteps).w, nadam_reference(0.1, 0.9, 0.9, 1e-3, kSteps), kTol);
  // m_cache holds the product of mu_1 .. mu_t.
  Problem p;
  auto opt2 = optim::Nadam({.learning_rate = 0.1});
  optim::TrainStep step = opt2->minimize(p.loss);
  Session s(p.g);
  s.initialize_variables();
  for (int i = 0; i < 3; ++i) s.run_targets({step.train_op});
  double product = 1;
  for (int t = 1; t <= 3; ++t) product *= 0.9 * (1 - 0.5 * std::pow(0.96, 0.004 * t));
  BOOST_TEST(s.variable_value(state_named(*opt2, "m_cache")).item<double>() == product,
             tt::tolerance(kTol));
}

BOOST_AUTO_TEST_CASE(adamw) {
  auto opt = optim::AdamW(
      {.learning_rate = 0.2, .beta_1 = 0.8, .beta_2 = 0.9, .epsilon = 1e-3, .weight_decay = 0.1});
  auto want = adam_reference(0.2, 0.8, 0.9, 1e-3, false, 0.1);
  check_close(run_steps(*opt, kSteps).w, want, kTol);
  BOOST_TEST(max_difference(want, adam_reference(0.2, 0.8, 0.9, 1e-3, false, 0.0)) > 1e-3);
  // Keras's default weight_decay 0.004, and amsgrad with it.
  auto def = optim::AdamW({.learning_rate = 0.2, .beta_1 = 0.5, .beta_2 = 0.5, .amsgrad = true});
  check_close(run_steps(*def, kSteps).w, adam_reference(0.2, 0.5, 0.5, 1e-7, true, 0.004), kTol);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(keras_docstrings)

// keras-semantics.md 6.1: var = 1, loss = var^2 / 2, lr 0.1, momentum 0.9: 0.9, then 0.72.
BOOST_AUTO_TEST_CASE(sgd_momentum_0_72) {
  auto opt = optim::SGD({.learning_rate = 0.1, .momentum = 0.9});
  Vec w = docstring_run(*opt, 1.0, 2);
  BOOST_TEST(w[0] == 0.9, tt::tolerance(1e-14));
  BOOST_TEST(w[1] == 0.72, tt::tolerance(1e-14));
}

// Nesterov: Keras stores 0.81, then 0.5751 (the lookahead point theta + beta m of the chapter's
// form, which dagrad stores as theta and m).
BOOST_AUTO_TEST_CASE(sgd_nesterov_0_81_0_5751) {
  Graph g;
  Output var = variable(g, Tensor::scalar<double>(1.0), "var");
  auto opt = optim::SGD({.learning_rate = 0.1, .momentum = 0.9, .nesterov = true});
  optim::TrainStep step = opt->minimize(square(var) / 2.0);
  Session s(g);
  s.initialize_variables();
  Output m = state_named(*opt, "var/momentum");
  const double keras[2] = {0.81, 0.5751};
  for (double expected : keras) {
    s.run_targets({step.train_op});
    double theta = s.variable_value(var).item<double>(), mom = s.variable_value(m).item<double>();
    BOOST_TEST(theta + 0.9 * mom == expected, tt::tolerance(1e-14));
  }
}

BOOST_AUTO_TEST_CASE(rmsprop_9_683772) {
  auto opt = optim::RMSprop({.learning_rate = 0.1});
  BOOST_TEST(docstring_run(*opt, 10.0, 1)[0] == 9.683772, tt::tolerance(1e-7));
}

BOOST_AUTO_TEST_CASE(adam_9_9) {
  auto opt = optim::Adam({.learning_rate = 0.1});
  BOOST_TEST(docstring_run(*opt, 10.0, 1)[0] == 9.9, tt::tolerance(1e-7));
}

BOOST_AUTO_TEST_CASE(nadam_legacy_9_78871_and_9_48921) {
  auto opt = optim::Nadam({.learning_rate = 0.2});
  Vec w = docstring_run(*opt, 10.0, 3);
  BOOST_TEST(w[0] == 9.78871, tt::tolerance(1e-6));
  BOOST_TEST(w[2] == 9.48921, tt::tolerance(1e-6));
  // And every step against the formula.
  std::vector<Vec> want = nadam_reference(0.2, 0.9, 0.999, 1e-7, 3, Vec{10.0}, true);
  for (int s = 0; s < 3; ++s) BOOST_TEST(w[s] == want[s][0], tt::tolerance(kTol));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(float32)

BOOST_AUTO_TEST_CASE(float32_variables_follow_the_double_formulas) {
  auto adam = optim::Adam({.learning_rate = 0.2, .beta_1 = 0.8, .beta_2 = 0.9, .epsilon = 1e-3});
  check_close(run_steps(*adam, kSteps, DType::float32).w,
              adam_reference(0.2, 0.8, 0.9, 1e-3, false, 0.0), 2e-5);
  auto rms = optim::RMSprop({.learning_rate = 0.05, .rho = 0.8, .momentum = 0.7, .epsilon = 1e-3});
  check_close(run_steps(*rms, kSteps, DType::float32).w,
              rmsprop_reference(0.05, 0.8, 0.7, 1e-3, false), 2e-5);
  auto sgd = optim::SGD({.learning_rate = 0.1, .momentum = 0.9, .nesterov = true});
  Problem p(DType::float32);
  optim::TrainStep step = sgd->minimize(p.loss);
  BOOST_TEST(sgd->learning_rate().dtype() == DType::float32);
  BOOST_TEST(state_named(*sgd, "w/momentum").dtype() == DType::float32);
  BOOST_TEST(sgd->iterations().dtype() == DType::int64);
  Session s(p.g);
  s.initialize_variables();
  for (int i = 0; i < 3; ++i) s.run_targets({step.train_op});
  Vec m(4, 0.0);
  auto want = reference(3, [&](int, Vec& theta, const Vec&) {
    Vec point(4);
    for (std::size_t i = 0; i < 4; ++i) point[i] = theta[i] + 0.9 * m[i];
    Vec g = grad_of(point);
    for (std::size_t i = 0; i < 4; ++i) {
      m[i] = 0.9 * m[i] - 0.1 * g[i];
      theta[i] += m[i];
    }
  });
  check_close({values(s.variable_value(p.w))}, {want.back()}, 2e-5);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(errors)

BOOST_AUTO_TEST_CASE(hyperparameters) {
  BOOST_CHECK_THROW(optim::SGD({.learning_rate = -0.1}), OptimizerError);
  BOOST_CHECK_THROW(optim::Adam({.learning_rate = -1e-3}), OptimizerError);
  BOOST_CHECK_THROW(optim::SGD({.learning_rate = std::nan("")}), OptimizerError);
  BOOST_CHECK_THROW(optim::SGD({.momentum = -0.1}), OptimizerError);
  BOOST_CHECK_THROW(optim::SGD({.momentum = 1.5}), OptimizerError);
  BOOST_CHECK_NO_THROW(optim::SGD({.momentum = 0.0}));
  BOOST_CHECK_NO_THROW(optim::SGD({.momentum = 1.0}));
  BOOST_CHECK_THROW(optim::RMSprop({.momentum = 1.5}), OptimizerError);
  BOOST_CHECK_THROW(optim::SGD({.nesterov = true}), OptimizerError);
  BOOST_CHECK_THROW(optim::SGD({.decay = -1e-4}), OptimizerError);
  BOOST_CHECK_THROW(optim::SGD({.clipnorm = 1.0, .global_clipnorm = 1.0}), OptimizerError);
  BOOST_CHECK_THROW(optim::Adam({.clipnorm = 1.0, .global_clipnorm = 1.0}), OptimizerError);
  BOOST_CHECK_THROW(optim::Nadam({.decay = 1e-4}), OptimizerError);
  BOOST_CHECK_THROW(optim::Nadam({.schedule = optim::exponential_decay(0.01, 100, 0.5)}),
                    OptimizerError);
  BOOST_CHECK_THROW(optim::Adam({.weight_decay = 0.01}), OptimizerError);
  BOOST_CHECK_THROW(optim::Adamax({.weight_decay = 0.01}), OptimizerError);
  BOOST_CHECK_THROW(optim::AdamW({.weight_decay = -0.01}), OptimizerError);
  BOOST_CHECK_THROW(optim::Adam({.beta_1 = 1.5}), OptimizerError);
  for (auto make : {optim::Adam, optim::Adamax, optim::AdamW})
    BOOST_CHECK_THROW(make({.beta_1 = 1.0}), OptimizerError);  // would divide by 1 - 1^t
  BOOST_CHECK_NO_THROW(optim::Adam({.beta_1 = 0.0}));
  BOOST_CHECK_THROW(optim::Adam({.epsilon = 0.0}), OptimizerError);
  BOOST_CHECK_THROW(optim::Adagrad({.initial_accumulator_value = -0.1}), OptimizerError);
  try {
    optim::make_optimizer("adadelta");
    BOOST_FAIL("make_optimizer accepted an unknown name");
  } catch (const OptimizerError& e) {
    BOOST_TEST(contains(e.what(), "adadelta"));
    BOOST_TEST(contains(e.what(), "rmsprop"));  // lists the known names
  }
  for (const char* name : {"sgd", "SGD", "adagrad", "RMSprop", "adam", "Adamax", "nadam", "AdamW"})
    BOOST_TEST(optim::make_optimizer(name) != nullptr);
  BOOST_TEST(optim::make_optimizer("sgd")->initial_learning_rate() == 0.01);
  BOOST_TEST(optim::make_optimizer("rmsprop")->initial_learning_rate() == 0.001);
}

// Each refused minimize leaves the graph as it was (same node count) and the optimizer unbound.
BOOST_AUTO_TEST_CASE(minimize_refusals_leave_the_graph_unchanged) {
  Problem p;
  auto opt = optim::SGD({.learning_rate = 0.1, .momentum = 0.9});
  auto refused = [&](auto&& call, const std::string& expected_part) {
    int before = p.g.num_nodes();
    std::size_t variables_before = p.g.variables().size();
    try {
      call();
      BOOST_ERROR("minimize accepted it (" + expected_part + ")");
    } catch (const OptimizerError& e) {
      BOOST_TEST_CONTEXT(e.what()) {
        BOOST_TEST(contains(e.what(), expected_part));
      }
    }
    BOOST_TEST(p.g.num_nodes() == before);
    BOOST_TEST(p.g.variables().size() == variables_before);
  };
  // A non-scalar loss.
  Output vector_loss = square(p.w);
  refused([&] { opt->minimize(vector_loss); }, "scalar");
  // An integer variable.
  Output counter = variable(p.g, Tensor::scalar<std::int64_t>(3), "counter");
  refused([&] { opt->minimize(p.loss, {counter}); }, "counter");
  // The same variable twice (two unordered writes of it in one step).
  refused([&] { opt->minimize(p.loss, {p.w, p.w}); }, "twice");
  // A variable of another graph.
  Graph other;
  Output foreign = variable(other, Tensor::from_vector<double>({4}, {1, 2, 3, 4}), "foreign");
  refused([&] { opt->minimize(p.loss, {foreign}); }, "foreign");
  // A loss depending on none of the variables: found only after the gradients were built.
  Output free_loss = sum(constant(p.g, tensor_of(DType::float64, kA)) * 2.0);
  refused([&] { opt->minimize(free_loss, {p.w}); }, "depends on none");
  // An empty var_list in a graph without trainable variables.
  Graph frozen_graph;
  Output frozen =
      variable(frozen_graph, Tensor::scalar<double>(1.0), VariableOptions{false, {}}, "frozen");
  Output frozen_loss = square(frozen);
  int frozen_nodes = frozen_graph.num_nodes();
  BOOST_CHECK_THROW(opt->minimize(frozen_loss), OptimizerError);
  BOOST_TEST(frozen_graph.num_nodes() == frozen_nodes);
  // Not even the optimizer's own state was left behind: no state, no binding.
  BOOST_TEST(opt->state_variables().empty());
  BOOST_CHECK_THROW(opt->learning_rate(), OptimizerError);
  // It still works afterwards, on this graph or another.
  optim::TrainStep step = opt->minimize(p.loss, {p.w});
  BOOST_TEST(step.variables.size() == 1u);
  BOOST_CHECK_THROW(opt->minimize(sum(foreign)), OptimizerError);  // now bound to p.g
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(state)

// Changing the rate variable between steps changes the next update as the formula says, on the
// same compiled plan.
BOOST_AUTO_TEST_CASE(learning_rate_is_a_variable) {
  Problem p;
  auto opt = optim::SGD({.learning_rate = 0.1, .momentum = 0.5});
  optim::TrainStep step = opt->minimize(p.loss);
  Session s(p.g);
  s.initialize_variables();
  BOOST_TEST(s.variable_value(opt->learning_rate()).item<double>() == 0.1);
  const double rates[5] = {0.1, 0.1, 0.02, 0.02, 0.3};
  std::vector<Vec> got;
  int plans = -1;
  for (int i = 0; i < 5; ++i) {
    if (i > 0 && rates[i] != rates[i - 1])
      s.set_variable_value(opt->learning_rate(), Tensor::scalar<double>(rates[i]));
    s.run({step.loss}, {}, {step.train_op});
    got.push_back(values(s.variable_value(p.w)));
    if (i == 0) plans = s.num_cached_plans();
    BOOST_TEST(s.num_cached_plans() == plans);
  }
  Vec v(4, 0.0);
  auto want = reference(5, [&](int t, Vec& w, const Vec& g) {
    for (std::size_t i = 0; i < 4; ++i) {
      v[i] = 0.5 * v[i] - rates[t - 1] * g[i];
      w[i] += v[i];
    }
  });
  check_close(got, want, kTol);
}

BOOST_AUTO_TEST_CASE(iteration_counter_counts_steps) {
  Problem p;
  auto opt = optim::Adam({.learning_rate = 0.01});
  optim::TrainStep step = opt->minimize(p.loss);
  Session s(p.g);
  s.initialize_variables();
  BOOST_TEST(s.variable_value(opt->iterations()).item<std::int64_t>() == 0);
  for (int i = 1; i <= 4; ++i) {
    s.run_targets({step.train_op});
    BOOST_TEST(s.variable_value(opt->iterations()).item<std::int64_t>() == i);
  }
  // Evaluating the loss alone is not a step.
  s.run(step.loss);
  BOOST_TEST(s.variable_value(opt->iterations()).item<std::int64_t>() == 4);
}

BOOST_AUTO_TEST_CASE(state_variables_are_optimizer_slots_and_not_trainable) {
  Problem p;
  auto opt = optim::Adam({.learning_rate = 0.01, .amsgrad = true});
  opt->minimize(p.loss);
  std::vector<Output> state = opt->state_variables();
  // counter, rate, m, v, vhat
  BOOST_TEST(state.size() == 5u);
  std::vector<Output> slots = p.g.variables_in(collections::kOptimizerSlots);
  for (const Output& v : state) {
    BOOST_TEST_CONTEXT(v.name()) {
      BOOST_TEST(!p.g.variable_info(v).trainable);
      BOOST_TEST((std::find(slots.begin(), slots.end(), v) != slots.end()));
    }
  }
  BOOST_TEST(slots.size() == state.size());
  BOOST_TEST((p.g.trainable_variables() == std::vector<Output>{p.w}));
  // Slots have the variable's shape and dtype, and start at zero (Adagrad's at its value).
  Session s(p.g);
  s.initialize_variables();
  Output m = state_named(*opt, "w/m");
  BOOST_TEST(m.shape() == p.w.shape());
  BOOST_TEST(values(s.variable_value(m)) == Vec(4, 0.0), tt::per_element());
  Problem q;
  auto ada = optim::Adagrad({.initial_accumulator_value = 0.25});
  ada->minimize(q.loss);
  Session sq(q.g);
  sq.initialize_variables();
  BOOST_TEST(values(sq.variable_value(state_named(*ada, "w/accumulator"))) == Vec(4, 0.25),
             tt::per_element());
}

// A second minimize (say after unfreezing a variable) reuses the slots it has: the momentum of
// the first variable carries on, only the new variable gets new slots.
BOOST_AUTO_TEST_CASE(second_minimize_reuses_slots) {
  Problem p;
  Output u = variable(p.g, Tensor::scalar<double>(2.0), "u");
  Output loss = p.loss + square(u - 1.0);  // du = 2 (u - 1)
  auto opt = optim::SGD({.learning_rate = 0.1, .momentum = 0.9});
  optim::TrainStep first = opt->minimize(loss, {p.w});
  std::size_t state_after_first = opt->state_variables().size();
  Output m_w = state_named(*opt, "w/momentum");
  Session s(p.g);
  s.initialize_variables();
  for (int i = 0; i < 3; ++i) s.run_targets({first.train_op});
  optim::TrainStep second = opt->minimize(loss, {p.w, u});
  BOOST_TEST(opt->state_variables().size() == state_after_first + 1);  // u's momentum
  BOOST_TEST((state_named(*opt, "w/momentum") == m_w));
  BOOST_TEST(second.variables.size() == 2u);
  s.initialize_uninitialized_variables();
  for (int i = 0; i < 3; ++i) s.run_targets({second.train_op});
  BOOST_TEST(s.variable_value(opt->iterations()).item<std::int64_t>() == 6);
  // Reference: w takes 6 momentum steps in a row; u 3 steps from zero momentum.
  Vec v(4, 0.0);
  auto want = reference(6, [&](int, Vec& w, const Vec& g) {
    for (std::size_t i = 0; i < 4; ++i) {
      v[i] = 0.9 * v[i] - 0.1 * g[i];
      w[i] += v[i];
    }
  });
  check_close({values(s.variable_value(p.w))}, {want.back()}, kTol);
  double uu = 2.0, vu = 0.0;
  for (int i = 0; i < 3; ++i) {
    vu = 0.9 * vu - 0.1 * 2 * (uu - 1);
    uu += vu;
  }
  BOOST_TEST(s.variable_value(u).item<double>() == uu, tt::tolerance(kTol));
}

BOOST_AUTO_TEST_SUITE_END()

// Nesterov's accelerated gradient in the chapter's form (eq. 11-5: the gradient at the lookahead
// point theta + beta m, a clone of the loss) against the reformulated update Keras runs
// (keras-semantics.md 6.1: v <- mu v - lr g(w); w <- w + mu v - lr g(w)).
BOOST_AUTO_TEST_SUITE(nesterov)

// Keras's velocity equals the chapter's m at every step, and the variable Keras stores equals
// the chapter's theta + beta m (the lookahead point), not theta.
BOOST_AUTO_TEST_CASE(matches_keras_reformulation_over_many_steps) {
  const double lr = 0.05, mu = 0.9;
  const int steps = 50;
  Problem p;
  auto opt = optim::SGD({.learning_rate = lr, .momentum = mu, .nesterov = true});
  optim::TrainStep step = opt->minimize(p.loss);
  Output m = state_named(*opt, "w/momentum");
  Session s(p.g);
  s.initialize_variables();
  Vec keras_w = kW0, keras_v(4, 0.0);
  double largest_offset = 0;  // |theta - keras_w|: the two stored variables really differ
  for (int t = 1; t <= steps; ++t) {
    // The loss the step reports is the loss at the lookahead point, which is Keras's w.
    double reported = s.run({step.loss}, {}, {step.train_op}).at(0).item<double>();
    BOOST_TEST_CONTEXT("step " << t) {
      BOOST_TEST(reported == loss_of(keras_w), tt::tolerance(1e-11));
    }
    Vec g = grad_of(keras_w);
    for (std::size_t i = 0; i < 4; ++i) {
      keras_v[i] = mu * keras_v[i] - lr * g[i];
      keras_w[i] = keras_w[i] + mu * keras_v[i] - lr * g[i];
    }
    Vec theta = values(s.variable_value(p.w)), mom = values(s.variable_value(m));
    for (std::size_t i = 0; i < 4; ++i) {
      BOOST_TEST_CONTEXT("step " << t << ", element " << i) {
        BOOST_TEST(std::abs(mom[i] - keras_v[i]) <= 1e-12 * std::max(1.0, std::abs(keras_v[i])));
        BOOST_TEST(std::abs(theta[i] + mu * mom[i] - keras_w[i]) <=
                   1e-12 * std::max(1.0, std::abs(keras_w[i])));
      }
      largest_offset = std::max(largest_offset, std::abs(theta[i] - keras_w[i]));
    }
  }
  BOOST_TEST(largest_offset > 1e-2);
}

BOOST_AUTO_TEST_CASE(lookahead_nodes_are_in_a_lookahead_scope) {
  Problem p;
  auto opt = optim::SGD({.learning_rate = 0.1, .momentum = 0.9, .nesterov = true});
  optim::TrainStep step = opt->minimize(p.loss);
  BOOST_TEST(!(step.loss == p.loss));
  BOOST_TEST(contains(p.g.node(step.loss.node).name, "lookahead"));
  // Without Nesterov the step evaluates the loss as built.
  Problem q;
  optim::TrainStep plain = optim::SGD({.learning_rate = 0.1, .momentum = 0.9})->minimize(q.loss);
  BOOST_TEST((plain.loss == q.loss));
  for (const Node& n : q.g.nodes()) BOOST_TEST(!contains(n.name, "lookahead"));
}

// A BatchNormalization-like state update (a moving mean assigned from a batch statistic, as nn's
// BatchNormalization does) passed in StepRequest::updates runs once per step, from the lookahead
// pass; the step's outputs are evaluated at the lookahead point too.
BOOST_AUTO_TEST_CASE(state_updates_run_from_the_lookahead_pass) {
  const Vec X = {0.5, -1.0, 2.0, 1.5, -0.3}, T = {1.0, -0.5, 0.3, 2.0, 0.0};
  const double n = 5, lr = 0.1, beta = 0.9, bn_momentum = 0.9;
  Graph g;
  Output w = variable(g, Tensor::from_vector<double>({2}, {0.8, -0.2}), "w");
  Output moving = variable(g, Tensor::scalar<double>(0.0),
                           VariableOptions{false, {std::string(collections::kNonTrainableState)}},
                           "moving_mean");
  Output x = constant(g, Tensor::from_vector<double>({5}, X), "x");
  Output target = constant(g, Tensor::from_vector<double>({5}, T), "target");
  Output z = x * slice(w, {0}, {1}) + slice(w, {1}, {1});
  Output mu = mean(z, {}, false, "batch_mean");
  // m <- m - (m - batch) (1 - momentum), Keras's _assign_moving_average.
  Output update =
      assign_sub(moving, (moving - stop_gradient(mu)) * (1 - bn_momentum), "update_moving_mean");
  Output loss = mean(square(z - 0.5 * mu - target), {}, false, "loss");
  auto opt = optim::SGD({.learning_rate = lr, .momentum = beta, .nesterov = true});
  optim::StepRequest request;
  request.outputs = {mu};
  request.updates = {update};
  optim::TrainStep step = opt->minimize(loss, {}, request);
  BOOST_TEST(step.outputs.size() == 1u);
  BOOST_TEST(contains(g.node(step.outputs[0].node).name, "lookahead"));
  Session s(g);
  s.initialize_variables();
  double xbar = 0;
  for (double xi : X) xbar += xi / n;
  double theta[2] = {0.8, -0.2}, m[2] = {0, 0}, moving_ref = 0.0;
  for (int t = 1; t <= 6; ++t) {
    double p0 = theta[0] + beta * m[0], p1 = theta[1] + beta * m[1];  // lookahead point
    double batch_mean = xbar * p0 + p1, loss_ref = 0, g0 = 0, g1 = 0;
    for (std::size_t i = 0; i < X.size(); ++i) {
      double r = (X[i] - 0.5 * xbar) * p0 + 0.5 * p1 - T[i];
      loss_ref += r * r / n;
      g0 += 2 / n * r * (X[i] - 0.5 * xbar);
      g1 += 2 / n * r * 0.5;
    }
    moving_ref -= (moving_ref - batch_mean) * (1 - bn_momentum);
    m[0] = beta * m[0] - lr * g0;
    m[1] = beta * m[1] - lr * g1;
    theta[0] += m[0];
    theta[1] += m[1];
    std::vector<Tensor> r = s.run({step.loss, step.outputs[0]}, {}, {step.train_op});
    BOOST_TEST_CONTEXT("step " << t) {
      BOOST_TEST(r[0].item<double>() == loss_ref, tt::tolerance(kTol));
      BOOST_TEST(r[1].item<double>() == batch_mean, tt::tolerance(kTol));
      BOOST_TEST(s.variable_value(moving).item<double>() == moving_ref, tt::tolerance(kTol));
      Vec wv = values(s.variable_value(w));
      BOOST_TEST(wv[0] == theta[0], tt::tolerance(kTol));
      BOOST_TEST(wv[1] == theta[1], tt::tolerance(kTol));
    }
  }
}

// A variable that is not trainable, or trainable but left out of var_list, is read as it is (not
// shifted to a lookahead point) and not updated.
BOOST_AUTO_TEST_CASE(variables_not_optimized_are_not_shifted) {
  Problem p;
  Output frozen = variable(p.g, Tensor::scalar<double>(1.5), VariableOptions{false, {}}, "frozen");
  Output excluded = variable(p.g, Tensor::scalar<double>(0.7), "excluded");
  Output loss = frozen * p.loss + excluded * sum(p.w);  // d/dw = 1.5 grad + 0.7
  auto opt = optim::SGD({.learning_rate = 0.05, .momentum = 0.8, .nesterov = true});
  optim::TrainStep step = opt->minimize(loss, {p.w});
  BOOST_TEST(step.variables.size() == 1u);
  Session s(p.g);
  s.initialize_variables();
  for (int i = 0; i < 5; ++i) s.run_targets({step.train_op});
  Vec m(4, 0.0);
  auto want = reference(5, [&](int, Vec& theta, const Vec&) {
    Vec point(4);
    for (std::size_t i = 0; i < 4; ++i) point[i] = theta[i] + 0.8 * m[i];
    Vec g = grad_of(point);
    for (std::size_t i = 0; i < 4; ++i) {
      m[i] = 0.8 * m[i] - 0.05 * (1.5 * g[i] + 0.7);
      theta[i] += m[i];
    }
  });
  check_close({values(s.variable_value(p.w))}, {want.back()}, kTol);
  BOOST_TEST(s.variable_value(frozen).item<double>() == 1.5);
  BOOST_TEST(s.variable_value(excluded).item<double>() == 0.7);
  // Only w has a momentum slot.
  for (const Output& v : opt->state_variables()) BOOST_TEST(!contains(v.name(), "excluded"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(step_outputs)

// StepRequest::outputs are evaluated in the step before its updates, also when they read a
// variable through nodes the loss does not use (a weight-norm metric).
BOOST_AUTO_TEST_CASE(outputs_see_the_weights_before_the_update) {
  for (bool nesterov : {false, true}) {
    BOOST_TEST_CONTEXT("nesterov " << nesterov) {
      Problem p;
      Output weight_norm = sum(square(p.w), {}, false, "weight_norm");
      auto opt = optim::SGD({.learning_rate = 0.1, .momentum = 0.5, .nesterov = nesterov});
      optim::StepRequest request;
      request.outputs = {weight_norm};
      optim::TrainStep step = opt->minimize(p.loss, {}, request);
      Session s(p.g);
      s.initialize_variables();
      Vec theta = kW0, m(4, 0.0);
      for (int t = 1; t <= 3; ++t) {
        std::vector<Tensor> r = s.run({step.loss, step.outputs.at(0)}, {}, {step.train_op});
        Vec point(4);
        for (std::size_t i = 0; i < 4; ++i) point[i] = theta[i] + (nesterov ? 0.5 * m[i] : 0.0);
        double norm = 0;
        for (double x : point) norm += x * x;
        BOOST_TEST(r[0].item<double>() == loss_of(point), tt::tolerance(kTol));
        BOOST_TEST(r[1].item<double>() == norm, tt::tolerance(kTol));
        Vec g = grad_of(point);
        for (std::size_t i = 0; i < 4; ++i) {
          m[i] = 0.5 * m[i] - 0.1 * g[i];
          theta[i] += m[i];
        }
        check_close({values(s.variable_value(p.w))}, {theta}, kTol);
      }
    }
  }
}

// A state update that reads a variable directly (not through nodes the gradients use) runs
// before the update, from the weights the step started from (the lookahead point with
// Nesterov), and once per step; a group of updates is accepted too.
BOOST_AUTO_TEST_CASE(state_updates_see_the_weights_before_the_update) {
  for (bool nesterov : {false, true}) {
    BOOST_TEST_CONTEXT("nesterov " << nesterov) {
      Problem p;
      Output total =
          variable(p.g, Tensor::scalar<double>(0.0), VariableOptions{false, {}}, "total");
      Output count =
          variable(p.g, Tensor::scalar<double>(0.0), VariableOptions{false, {}}, "count");
      Output record = assign_add(total, sum(p.w) * 2.0, "record");
      Operation tick = group(p.g, {assign_add(count, scalar(p.g, 1.0, DType::float64))}, "tick");
      auto opt = optim::SGD({.learning_rate = 0.1, .momentum = 0.5, .nesterov = nesterov});
      optim::StepRequest request;
      request.updates = {record, tick};
      optim::TrainStep step = opt->minimize(p.loss, {}, request);
      Session s(p.g);
      s.initialize_variables();
      Vec theta = kW0, m(4, 0.0);
      double total_ref = 0;
      for (int t = 1; t <= 3; ++t) {
        s.run_targets({step.train_op});
        Vec point(4);
        for (std::size_t i = 0; i < 4; ++i) point[i] = theta[i] + (nesterov ? 0.5 * m[i] : 0.0);
        for (double x : point) total_ref += 2 * x;
        Vec g = grad_of(point);
        for (std::size_t i = 0; i < 4; ++i) {
          m[i] = 0.5 * m[i] - 0.1 * g[i];
          theta[i] += m[i];
        }
        BOOST_TEST(s.variable_value(total).item<double>() == total_ref, tt::tolerance(kTol));
        BOOST_TEST(s.variable_value(count).item<double>() == t);
        check_close({values(s.variable_value(p.w))}, {theta}, kTol);
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(numerics_guard)

// Momentum's step writes the velocity, then adds it to the weights, which overflows: with the
// numerics guard the step stops there and the weights, the velocity and the iteration counter
// keep the bits they had before it (Session::set_check_numerics).
BOOST_AUTO_TEST_CASE(an_overflowing_update_is_undone) {
  Graph g;
  Output w = variable(g, Tensor::from_vector<float>({2}, {3e38f, 1.0f}), "w");
  Output c = placeholder(g, DType::float32, Shape{2}, "c");
  Output loss = sum(w * c);
  auto opt = optim::SGD({.learning_rate = 3e38, .momentum = 0.9});
  optim::TrainStep step = opt->minimize(loss);
  Session s(g);
  s.initialize_variables();
  s.set_check_numerics(true);
  // Step 1, gradient (0, 1): velocity (0, -3e38), w (3e38, 1 - 3e38), all finite.
  s.run_targets({step.train_op}, {{c, Tensor::from_vector<float>({2}, {0.0f, 1.0f})}});
  std::vector<Output> state = opt->state_variables();
  state.push_back(w);
  std::vector<Tensor> before;
  for (const Output& v : state) before.push_back(s.variable_value(v));
  BOOST_TEST(s.variable_value(w).to_vector<float>() ==
             (std::vector<float>{3e38f, 1.0f - 3e38f}));
  BOOST_TEST(s.variable_value(opt->iterations()).item<std::int64_t>() == 1);
  // Step 2, gradient (-1, 0): velocity (3e38, -2.7e38) is finite, w + velocity is not.
  std::string message;
  try {
    s.run_targets({step.train_op}, {{c, Tensor::from_vector<float>({2}, {-1.0f, 0.0f})}});
  } catch (const NumericsError& e) {
    message = e.what();
  }
  BOOST_TEST_REQUIRE(!message.empty());
  BOOST_TEST(message.find("+inf") != std::string::npos, message);
  for (std::size_t i = 0; i < state.size(); ++i) {
    Tensor now = s.variable_value(state[i]);
    BOOST_TEST((now.nbytes() == before[i].nbytes() &&
                std::memcmp(now.raw(), before[i].raw(), now.nbytes()) == 0),
               state[i].name());
  }
  // Off, the same step runs and leaves w infinite, as the arithmetic says.
  s.set_check_numerics(false);
  s.run_targets({step.train_op}, {{c, Tensor::from_vector<float>({2}, {-1.0f, 0.0f})}});
  BOOST_TEST(std::isinf(s.variable_value(w).to_vector<float>()[0]));
}

BOOST_AUTO_TEST_SUITE_END()
