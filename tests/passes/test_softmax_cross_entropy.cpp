// softmax_cross_entropy: the loss -sum(t * log_softmax(z), -1) and its gradient chain become one
// node. Values against float64 computed by hand (soft labels whose rows do not sum to 1
// included) and against the unfused plan; kernels counted on the plain model's training step.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <random>

#include "pass_test_util.hpp"

using namespace dagrad;
using namespace dagrad::testing;

namespace {

constexpr std::int64_t kRows = 7, kClasses = 5;

// Per-row loss -sum_i t_i log_softmax(z)_i and gradient of mean(loss) over the rows,
// (softmax sum(t) - t) / rows, in float64 from the formulas.
void expected(const Tensor& z, const Tensor& t, std::vector<double>& loss,
              std::vector<double>& grad) {
  loss.assign(static_cast<std::size_t>(kRows), 0.0);
  grad.assign(static_cast<std::size_t>(kRows * kClasses), 0.0);
  for (std::int64_t r = 0; r < kRows; ++r) {
    double m = -1e300, total = 0, weight = 0;
    for (std::int64_t i = 0; i < kClasses; ++i)
      m = std::max(m, z.value_as_double(r * kClasses + i));
    for (std::int64_t i = 0; i < kClasses; ++i)
      total += std::exp(z.value_as_double(r * kClasses + i) - m);
    for (std::int64_t i = 0; i < kClasses; ++i) {
      double zi = z.value_as_double(r * kClasses + i), ti = t.value_as_double(r * kClasses + i);
      loss[static_cast<std::size_t>(r)] -= ti * (zi - m - std::log(total));
      weight += ti;
    }
    for (std::int64_t i = 0; i < kClasses; ++i) {
      double p = std::exp(z.value_as_double(r * kClasses + i) - m) / total;
      grad[static_cast<std::size_t>(r * kClasses + i)] =
          (p * weight - t.value_as_double(r * kClasses + i)) / static_cast<double>(kRows);
    }
  }
}

void check_close(const Tensor& got, const std::vector<double>& want, double relative) {
  BOOST_TEST_REQUIRE(got.size() == static_cast<std::int64_t>(want.size()));
  for (std::int64_t i = 0; i < got.size(); ++i) {
    double w = want[static_cast<std::size_t>(i)];
    BOOST_TEST(std::abs(got.value_as_double(i) - w) <= relative * std::max(std::abs(w), 1e-3),
               "element " << i << ": " << got.value_as_double(i) << " vs " << w);
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(softmax_cross_entropy_fusion)

// Categorical cross-entropy on soft labels (rows summing to 0.3 .. 2.5) and its gradient.
BOOST_AUTO_TEST_CASE(loss_and_gradient_match_float64_for_soft_labels) {
  for (DType dtype : {DType::float32, DType::float64}) {
    std::mt19937_64 rng(21);
    Tensor z = random_tensor(dtype, Shape{kRows, kClasses}, rng, -4, 4);
    Tensor t = random_tensor(dtype, Shape{kRows, kClasses}, rng, 0.0, 0.5);
    Graph g;
    Output zp = placeholder(g, dtype, Shape{-1, kClasses}, "z");
    Output tp = placeholder(g, dtype, Shape{-1, kClasses}, "t");
    Output per_row = -sum(tp * log_softmax(zp), {-1});
    Output loss = mean(per_row);
    Output dz = gradients({loss}, {zp}).at(0);
    Session s(g);
    s.set_optimizer_options(verified_without_fusion());
    Plan& plan = s.compile({per_row, dz}, {}, {zp, tp});
    BOOST_TEST(count_op(plan, "softmax_cross_entropy") == 1);
    BOOST_TEST(count_op(plan, "log_softmax") == 0);
    BOOST_TEST(count_op(plan, "exp") == 0);
    std::vector<Tensor> feeds{z, t};
    std::vector<Tensor> out = plan.run(feeds);
    std::vector<double> want_loss, want_grad;
    expected(z, t, want_loss, want_grad);
    const double tol = dtype == DType::float32 ? 1e-5 : 1e-12;
    check_close(out[0], want_loss, tol);
    check_close(out[1], want_grad, tol);
    // And the unfused plan.
    Session reference(g);
    reference.set_optimizer_options(unoptimized());
    std::vector<Tensor> ref = reference.compile({per_row, dz}, {}, {zp, tp}).run(feeds);
    BOOST_TEST(close(out[0], ref[0], tol, 1e-3));
    BOOST_TEST(close(out[1], ref[1], tol, 1e-3));
  }
}

// The loss alone (an evaluation plan): the forward part fuses.
BOOST_AUTO_TEST_CASE(the_loss_alone_fuses) {
  std::mt19937_64 rng(23);
  Tensor z = random_tensor(DType::float32, Shape{kRows, kClasses}, rng, -4, 4);
  Tensor t = random_tensor(DType::float32, Shape{kRows, kClasses}, rng, 0.0, 0.5);
  Graph g;
  Output zp = placeholder(g, DType::float32, Shape{-1, kClasses}, "z");
  Output tp = placeholder(g, DType::float32, Shape{-1, kClasses}, "t");
  Output per_row = -sum(log_softmax(zp) * tp, {1});
  Session s(g);
  s.set_optimizer_options(verified());
  Tensor got = s.run(per_row, {{zp, z}, {tp, t}});
  BOOST_TEST(count_op(s.compile({per_row}, {}, {zp, tp}), "softmax_cross_entropy") == 1);
  std::vector<double> want_loss, want_grad;
  expected(z, t, want_loss, want_grad);
  check_close(got, want_loss, 1e-5);
}

// A softmax over another axis, or targets that broadcast, are not this pattern.
BOOST_AUTO_TEST_CASE(other_axes_and_broadcast_targets_do_not_fuse) {
  Graph g;
  Output zp = placeholder(g, DType::float32, Shape{kRows, kClasses}, "z");
  Output tp = placeholder(g, DType::float32, Shape{kRows, kClasses}, "t");
  Output row = placeholder(g, DType::float32, Shape{kClasses}, "row");
  Output other_axis = -sum(tp * log_softmax(zp, 0), {-1});
  Output broadcast = -sum(row * log_softmax(zp), {-1});
  Session s(g);
  s.set_optimizer_options(verified());
  BOOST_TEST(count_op(s.compile({other_axis}, {}, {zp, tp}), "softmax_cross_entropy") == 0);
  BOOST_TEST(count_op(s.compile({broadcast}, {}, {zp, row}), "softmax_cross_entropy") == 0);
}

// The plain model's training step runs fewer kernels with the pass than without.
BOOST_AUTO_TEST_CASE(the_plain_training_step_runs_fewer_kernels) {
  auto kernels = [](const Plan& plan) {
    const PlanGraph& g = plan.plan_graph();
    int n = 0;
    for (int id : plan.schedule())
      if (g.node(id).op->role == OpRole::Compute && g.node(id).op->has_kernel()) ++n;
    return n;
  };
  auto model_with = [](const OptimizerOptions& options) {
    auto model = nn::make_preset("plain", {});
    model->session().set_optimizer_options(options);
    model->compile(optim::SGD({.learning_rate = 0.01, .momentum = 0.9, .nesterov = true}),
                   "sparse_categorical_crossentropy", {"accuracy"});
    return model;
  };
  OptimizerOptions without = verified();
  without.disabled = {"softmax_cross_entropy"};
  auto fused = model_with(verified());
  auto unfused = model_with(without);
  int after = kernels(fused->training_plan()), before = kernels(unfused->training_plan());
  BOOST_TEST_MESSAGE("plain training step: " << before << " kernels without the pass, " << after
                                             << " with it");
  BOOST_TEST(count_op(fused->training_plan(), "softmax_cross_entropy") == 1);
  BOOST_TEST(after < before);
}

BOOST_AUTO_TEST_SUITE_END()
