// Gradient clipping and the Nesterov lookahead (optim/transforms.cpp) against keras-semantics.md
// section 7 (legacy order clipvalue -> clipnorm -> global_clipnorm): values by hand or from the
// formulas in double; clipping inside an optimizer.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "dagrad/dagrad.hpp"
#include "optim/optim_test_util.hpp"

using namespace dagrad;
using namespace dagrad::optim_testing;
using optim::Clipping;
using optim::OptimizerError;
namespace tt = boost::test_tools;

namespace {

// Two "gradients" as constants: g1 = (3, -4, 0.5), ||g1||^2 = 25.25; g2 (2 x 2) with norm 1.
const Vec kG1 = {3.0, -4.0, 0.5};
const Vec kG2 = {0.5, -0.5, 0.5, 0.5};

struct Gradients {
  Graph g;
  std::vector<Output> grads;  // g1, an invalid entry (a variable without a gradient), g2
  Gradients() {
    grads.push_back(constant(g, Tensor::from_vector<double>({3}, kG1), "g1"));
    grads.push_back(Output{});
    grads.push_back(constant(g, Tensor::from_vector<double>({2, 2}, kG2), "g2"));
  }
  // The clipped values of g1 and g2.
  std::pair<Vec, Vec> clipped(const Clipping& c) {
    std::vector<Output> out = optim::clip_gradients(grads, c);
    BOOST_REQUIRE_EQUAL(out.size(), 3u);
    BOOST_TEST(!out[1].valid());
    BOOST_TEST(out[2].shape() == Shape({2, 2}));
    Session s(g);
    std::vector<Tensor> r = s.run({out[0], out[2]});
    return {values(r[0]), values(r[1])};
  }
};

Vec scaled(const Vec& v, double f) {
  Vec out = v;
  for (double& x : out) x *= f;
  return out;
}
double norm(const Vec& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}

void check_equal(const Vec& got, const Vec& want) {
  BOOST_REQUIRE_EQUAL(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) BOOST_TEST_CONTEXT("element " << i) {
      BOOST_TEST(got[i] == want[i], tt::tolerance(1e-14));
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(clipping)

BOOST_AUTO_TEST_CASE(no_option_changes_nothing) {
  Gradients gs;
  std::vector<Output> out = optim::clip_gradients(gs.grads, Clipping{});
  BOOST_TEST((out[0] == gs.grads[0]));
  BOOST_TEST((out[2] == gs.grads[2]));
  BOOST_TEST(!Clipping{}.active());
}

BOOST_AUTO_TEST_CASE(clipvalue_is_elementwise) {
  Gradients gs;
  auto [g1, g2] = gs.clipped({.clipvalue = 1.5});
  check_equal(g1, {1.5, -1.5, 0.5});
  check_equal(g2, kG2);
}

BOOST_AUTO_TEST_CASE(clipnorm_is_per_variable) {
  Gradients gs;
  auto [g1, g2] = gs.clipped({.clipnorm = 2.0});
  // ||g1|| = sqrt(25.25) > 2: scaled to norm 2; ||g2|| = 1 < 2: unchanged.
  check_equal(g1, scaled(kG1, 2.0 / std::sqrt(25.25)));
  check_equal(g2, kG2);
  BOOST_TEST(norm(g1) == 2.0, tt::tolerance(1e-14));
}

// Random gradients, some above and some below the threshold: the clipped gradient is a positive
// multiple of the original (the direction is kept), its norm is at most c, and it is the
// original when the norm was at most c.
BOOST_AUTO_TEST_CASE(clipnorm_keeps_the_direction) {
  std::mt19937 rng(11);
  std::normal_distribution<double> normal(0.0, 1.0);
  Graph g;
  std::vector<Output> grads;
  std::vector<Vec> originals;
  for (int k = 0; k < 8; ++k) {
    double scale = k % 2 ? 0.2 : 3.0;  // norms around 0.4 and around 6
    Vec v(4);
    for (double& x : v) x = scale * normal(rng);
    originals.push_back(v);
    grads.push_back(constant(g, Tensor::from_vector<double>({4}, v)));
  }
  const double c = 1.0;
  std::vector<Output> out = optim::clip_gradients(grads, {.clipnorm = c});
  Session s(g);
  int above = 0, below = 0;
  for (std::size_t k = 0; k < grads.size(); ++k) {
    Vec clipped = values(s.run(out[k]));
    const Vec& v = originals[k];
    double ratio = clipped[0] / v[0];
    BOOST_TEST_CONTEXT("gradient " << k << ", norm " << norm(v)) {
      BOOST_TEST(ratio > 0.0);
      for (std::size_t i = 0; i < v.size(); ++i)
        BOOST_TEST(clipped[i] == ratio * v[i], tt::tolerance(1e-13));
      BOOST_TEST(norm(clipped) <= c * (1 + 1e-14));
      if (norm(v) <= c) {
        ++below;
        BOOST_TEST(ratio == 1.0, tt::tolerance(1e-15));
      } else {
        ++above;
        BOOST_TEST(norm(clipped) == c, tt::tolerance(1e-14));
      }
    }
  }
  BOOST_TEST(above > 0);
  BOOST_TEST(below > 0);
}

BOOST_AUTO_TEST_CASE(global_clipnorm_scales_all_by_one_factor) {
  Gradients gs;
  // G = sqrt(25.25 + 1); every gradient times 2 / G.
  auto [g1, g2] = gs.clipped({.global_clipnorm = 2.0});
  double factor = 2.0 / std::sqrt(26.25);
  check_equal(g1, scaled(kG1, factor));
  check_equal(g2, scaled(kG2, factor));
  BOOST_TEST(std::sqrt(norm(g1) * norm(g1) + norm(g2) * norm(g2)) == 2.0, tt::tolerance(1e-14));
  // With the threshold above G = 5.12 nothing changes.
  Gradients big;
  auto [h1, h2] = big.clipped({.global_clipnorm = 6.0});
  check_equal(h1, kG1);
  check_equal(h2, kG2);
}

// Several options: the legacy order clipvalue -> clipnorm -> global_clipnorm, by hand.
BOOST_AUTO_TEST_CASE(legacy_order_value_then_norm) {
  Gradients gs;
  auto [g1, g2] = gs.clipped({.clipvalue = 1.5, .clipnorm = 2.0});
  // clipvalue first: (1.5, -1.5, 0.5), norm sqrt(4.75) > 2, then scaled to norm 2.
  Vec after_value = {1.5, -1.5, 0.5};
  check_equal(g1, scaled(after_value, 2.0 / std::sqrt(4.75)));
  check_equal(g2, kG2);
  // clipnorm first would give 2 / sqrt(25.25) g1 = (1.19, -1.59, 0.20), then (1.19, -1.5, 0.20).
  Vec other_order = scaled(kG1, 2.0 / std::sqrt(25.25));
  for (double& x : other_order) x = std::clamp(x, -1.5, 1.5);
  BOOST_TEST(std::abs(other_order[0] - g1[0]) > 0.1);
}

BOOST_AUTO_TEST_CASE(legacy_order_value_then_global) {
  Gradients gs;
  auto [g1, g2] = gs.clipped({.clipvalue = 1.5, .global_clipnorm = 1.0});
  // After clipvalue the squared norms are 4.75 and 1: G = sqrt(5.75).
  double factor = 1.0 / std::sqrt(5.75);
  check_equal(g1, scaled({1.5, -1.5, 0.5}, factor));
  check_equal(g2, scaled(kG2, factor));
}

BOOST_AUTO_TEST_CASE(invalid_thresholds_are_refused) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  Gradients gs;
  for (double bad : {0.0, -1.0, nan, inf}) {
    BOOST_TEST_CONTEXT("threshold " << bad) {
      BOOST_CHECK_THROW(optim::validate({.clipvalue = bad}), OptimizerError);
      BOOST_CHECK_THROW(optim::validate({.clipnorm = bad}), OptimizerError);
      BOOST_CHECK_THROW(optim::validate({.global_clipnorm = bad}), OptimizerError);
      BOOST_CHECK_THROW(optim::clip_gradients(gs.grads, {.clipnorm = bad}), OptimizerError);
      BOOST_CHECK_THROW(optim::SGD({.clipvalue = bad}), OptimizerError);
      BOOST_CHECK_THROW(optim::Adam({.global_clipnorm = bad}), OptimizerError);
    }
  }
  try {
    optim::validate({.clipnorm = 1.0, .global_clipnorm = 1.0});
    BOOST_FAIL("clipnorm with global_clipnorm accepted");
  } catch (const OptimizerError& e) {
    BOOST_TEST(contains(e.what(), "clipnorm"));
    BOOST_TEST(contains(e.what(), "global_clipnorm"));
  }
  int before = gs.g.num_nodes();
  BOOST_CHECK_THROW(optim::clip_gradients(gs.grads, {.clipnorm = 1.0, .global_clipnorm = 1.0}),
                    OptimizerError);
  BOOST_TEST(gs.g.num_nodes() == before);
  BOOST_CHECK_NO_THROW(optim::validate({.clipvalue = 1.0, .clipnorm = 2.0}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(clipping_in_optimizers)

// SGD with clipnorm: each update is -lr times the clipped gradient.
BOOST_AUTO_TEST_CASE(sgd_clipnorm_update_is_lr_times_clipped_gradient) {
  auto opt = optim::SGD({.learning_rate = 0.1, .clipnorm = 1.0});
  Trajectory got = run_steps(*opt, 6);
  int clipped_steps = 0;
  auto want = reference(6, [&](int, Vec& w, const Vec& g) {
    double n = norm(g);
    if (n > 1.0) ++clipped_steps;
    for (std::size_t i = 0; i < 4; ++i) w[i] -= 0.1 * g[i] * 1.0 / std::max(n, 1.0);
  });
  BOOST_REQUIRE(clipped_steps > 0);
  check_close(got.w, want, 1e-12);
}

BOOST_AUTO_TEST_CASE(sgd_clipvalue) {
  auto opt = optim::SGD({.learning_rate = 0.1, .clipvalue = 1.0});
  auto want = reference(6, [&](int, Vec& w, const Vec& g) {
    for (std::size_t i = 0; i < 4; ++i) w[i] -= 0.1 * std::clamp(g[i], -1.0, 1.0);
  });
  check_close(run_steps(*opt, 6).w, want, 1e-12);
}

// global_clipnorm over two variables, with momentum: the clipped gradient goes into the slots.
BOOST_AUTO_TEST_CASE(global_clipnorm_over_two_variables_with_momentum) {
  Problem p;
  Output u = variable(p.g, Tensor::scalar<double>(3.0), "u");
  Output loss = p.loss + square(u);  // du = 2 u
  auto opt = optim::SGD({.learning_rate = 0.1, .momentum = 0.5, .global_clipnorm = 2.0});
  optim::TrainStep step = opt->minimize(loss);
  Session s(p.g);
  s.initialize_variables();
  Vec w = kW0, vw(4, 0.0);
  double uu = 3.0, vu = 0.0;
  for (int t = 1; t <= 5; ++t) {
    s.run_targets({step.train_op});
    Vec g = grad_of(w);
    double gu = 2 * uu;
    double global = std::sqrt(norm(g) * norm(g) + gu * gu);
    double factor = 2.0 / std::max(global, 2.0);
    for (std::size_t i = 0; i < 4; ++i) {
      vw[i] = 0.5 * vw[i] - 0.1 * g[i] * factor;
      w[i] += vw[i];
    }
    vu = 0.5 * vu - 0.1 * gu * factor;
    uu += vu;
    BOOST_TEST_CONTEXT("step " << t) {
      check_close({values(s.variable_value(p.w))}, {w}, 1e-12);
      BOOST_TEST(s.variable_value(u).item<double>() == uu, tt::tolerance(1e-12));
    }
  }
}

// Adam with clipvalue: the moments see the clipped gradient.
BOOST_AUTO_TEST_CASE(adam_clipvalue) {
  auto opt = optim::Adam(
      {.learning_rate = 0.1, .beta_1 = 0.8, .beta_2 = 0.9, .epsilon = 1e-3, .clipvalue = 0.5});
  Vec m(4, 0.0), v(4, 0.0);
  auto want = reference(6, [&](int t, Vec& w, const Vec& graw) {
    double alpha = 0.1 * std::sqrt(1 - std::pow(0.9, t)) / (1 - std::pow(0.8, t));
    for (std::size_t i = 0; i < 4; ++i) {
      double g = std::clamp(graw[i], -0.5, 0.5);
      m[i] += (g - m[i]) * 0.2;
      v[i] += (g * g - v[i]) * 0.1;
      w[i] -= alpha * m[i] / (std::sqrt(v[i]) + 1e-3);
    }
  });
  check_close(run_steps(*opt, 6).w, want, 1e-12);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(lookahead)

// nesterov_lookahead clones the outputs with each variable read as variable + beta * momentum,
// under the given scope, and leaves the originals as they were.
BOOST_AUTO_TEST_CASE(clone_reads_the_shifted_point) {
  Problem p;
  Output m = variable(p.g, tensor_of(DType::float64, {0.1, -0.2, 0.3, 0.4}),
                      VariableOptions{false, {}}, "m");
  Output beta = scalar(p.g, 0.5, DType::float64, "beta");
  std::vector<Output> copies = optim::nesterov_lookahead({p.loss}, {{p.w, m}}, beta, "peek");
  BOOST_REQUIRE_EQUAL(copies.size(), 1u);
  BOOST_TEST(contains(p.g.node(copies[0].node).name, "peek"));
  Session s(p.g);
  s.initialize_variables();
  Vec point = kW0;
  const Vec mv = {0.1, -0.2, 0.3, 0.4};
  for (std::size_t i = 0; i < 4; ++i) point[i] += 0.5 * mv[i];
  BOOST_TEST(s.run(copies[0]).item<double>() == loss_of(point), tt::tolerance(1e-14));
  BOOST_TEST(s.run(p.loss).item<double>() == loss_of(kW0), tt::tolerance(1e-14));
  BOOST_TEST(optim::nesterov_lookahead({}, {{p.w, m}}, beta).empty());
}

// Random nodes in the lookahead copy draw the stream of the node they copy: a dropout-like mask
// is the same sequence with Nesterov as without (the step runs only the copy), so the first
// step (m = 0, lookahead point = theta) reports the same loss.
BOOST_AUTO_TEST_CASE(random_masks_do_not_depend_on_the_lookahead) {
  auto run = [](bool nesterov, std::vector<Vec>& masks, Vec& losses) {
    Graph g;
    g.set_seed(5);
    Output w = variable(g, tensor_of(DType::float64, {0.5, -1.0, 1.5, 2.0, -0.5, 1.0}), "w");
    Output x = constant(g, tensor_of(DType::float64, {1.0, 2.0, -1.0, 0.5, 3.0, -2.0}), "x");
    Output mask = bernoulli_like(x, 0.5, 7, "mask");
    Output loss = sum(square(w * x * mask - 1.0));
    auto opt = optim::SGD({.learning_rate = 0.05, .momentum = 0.9, .nesterov = nesterov});
    optim::StepRequest request;
    request.outputs = {mask};
    optim::TrainStep step = opt->minimize(loss, {}, request);
    Session s(g);
    s.initialize_variables();
    for (int i = 0; i < 6; ++i) {
      std::vector<Tensor> r = s.run({step.loss, step.outputs[0]}, {}, {step.train_op});
      losses.push_back(r[0].item<double>());
      masks.push_back(values(r[1]));
    }
  };
  std::vector<Vec> plain_masks, nesterov_masks;
  Vec plain_losses, nesterov_losses;
  run(false, plain_masks, plain_losses);
  run(true, nesterov_masks, nesterov_losses);
  for (std::size_t i = 0; i < plain_masks.size(); ++i)
    BOOST_TEST(plain_masks[i] == nesterov_masks[i], tt::per_element());
  BOOST_TEST(plain_losses[0] == nesterov_losses[0], tt::tolerance(1e-15));
  // The stream advances: not every step draws the same mask, and later losses differ (the
  // lookahead point moved away from theta).
  bool masks_vary = false;
  for (const Vec& m : plain_masks) masks_vary = masks_vary || m != plain_masks[0];
  BOOST_TEST(masks_vary);
  BOOST_TEST(std::abs(plain_losses[3] - nesterov_losses[3]) > 1e-6);
}

BOOST_AUTO_TEST_SUITE_END()

// allreduce_gradients in one process (a group of one, where allreduce is the identity): the
// buckets' structure, the values cut back into shapes, the weight, the refusals. The 2-rank
// values are in tests/distributed.
BOOST_AUTO_TEST_SUITE(gradient_allreduce)

namespace {
int count_op(const Graph& g, const std::string& op) {
  int n = 0;
  for (int id = 0; id < g.num_nodes(); ++id) n += g.node(id).op->name == op;
  return n;
}
}  // namespace

BOOST_AUTO_TEST_CASE(small_gradients_share_a_bucket_and_come_back_in_their_shapes) {
  Gradients t;  // g1: 3 doubles (24 bytes), g2: 2 x 2 doubles (32 bytes)
  std::vector<Output> out = optim::allreduce_gradients(t.grads, {.bucket_bytes = 64});
  BOOST_TEST(count_op(t.g, "allreduce") == 1);  // 24 + 32 <= 64: one call
  BOOST_TEST(count_op(t.g, "concat") == 1);
  BOOST_TEST(!out[1].valid());
  BOOST_TEST(out[2].shape() == Shape({2, 2}));
  BOOST_TEST(out[0].shape() == Shape({3}));
  Session s(t.g);
  std::vector<Tensor> r = s.run({out[0], out[2]});
  check_equal(values(r[0]), kG1);
  check_equal(values(r[1]), kG2);
}

BOOST_AUTO_TEST_CASE(a_gradient_of_the_bucket_size_goes_alone) {
  Gradients t;
  // g2 (32 bytes) reaches the bucket size: alone; g1 (24) alone in its bucket: no concat at all.
  std::vector<Output> out = optim::allreduce_gradients(t.grads, {.bucket_bytes = 32});
  BOOST_TEST(count_op(t.g, "allreduce") == 2);
  BOOST_TEST(count_op(t.g, "concat") == 0);
  Session s(t.g);
  check_equal(values(s.run(out[2])), kG2);
}

BOOST_AUTO_TEST_CASE(the_weight_multiplies_each_gradient_before_the_mean) {
  Gradients t;
  Output w = constant(t.g, Tensor::scalar<double>(0.75), "weight");
  std::vector<Output> out = optim::allreduce_gradients(t.grads, {.bucket_bytes = 1024, .weight = w});
  Session s(t.g);
  check_equal(values(s.run(out[0])), scaled(kG1, 0.75));
  check_equal(values(s.run(out[2])), scaled(kG2, 0.75));
}

BOOST_AUTO_TEST_CASE(bad_options_are_refused) {
  Gradients t;
  BOOST_CHECK_THROW(optim::allreduce_gradients(t.grads, {.bucket_bytes = 0}), OptimizerError);
  Output w32 = constant(t.g, Tensor::scalar<float>(1.0f), "w32");
  BOOST_CHECK_EXCEPTION(optim::allreduce_gradients(t.grads, {.weight = w32}), OptimizerError,
                        [](const OptimizerError& e) {
                          return std::string(e.what()).find("scalar of the gradients' dtype (float64)") !=
                                 std::string::npos;
                        });
}

// In an optimizer the allreduce sits between the gradients and the clipping: the clipped
// gradient reads the allreduce's output.
BOOST_AUTO_TEST_CASE(the_allreduce_comes_before_clipping_in_minimize) {
  Graph g;
  Output v = variable(g, Tensor::from_vector<double>({4}, kW0), "w");
  Output loss = sum(square(v));
  optim::StepRequest request;
  request.allreduce = optim::GradientAllreduce{};
  auto opt = optim::SGD({.learning_rate = 0.1, .clipnorm = 1.0});
  optim::TrainStep step = opt->minimize(loss, {v}, request);
  int allreduce = -1, norm = -1;
  for (int id = 0; id < g.num_nodes(); ++id) {
    if (g.node(id).op->name == "allreduce") allreduce = id;
    if (g.node(id).name.find("clip_gradients/norm") != std::string::npos) norm = id;
  }
  BOOST_REQUIRE(allreduce >= 0);
  BOOST_REQUIRE(norm >= 0);
  // The norm is computed from the reduced gradient: the allreduce is among its ancestors.
  std::vector<int> stack{norm};
  std::vector<char> seen(static_cast<std::size_t>(g.num_nodes()), 0);
  bool found = false;
  while (!stack.empty() && !found) {
    int id = stack.back();
    stack.pop_back();
    if (seen[static_cast<std::size_t>(id)]++) continue;
    found = id == allreduce;
    for (const NodeInput& in : g.node(id).inputs) stack.push_back(in.node);
  }
  BOOST_TEST(found);
  // One process: the step is the plain clipped step. g = 2w = (2, -1, 4, -3), ||g|| = sqrt(30).
  Session s(g);
  s.initialize_variables();
  s.run_targets({step.train_op});
  Vec want = kW0;
  for (double& w : want) w -= 0.1 * (2 * w) / std::sqrt(30.0);
  check_equal(values(s.variable_value(v)), want);
}

BOOST_AUTO_TEST_SUITE_END()
