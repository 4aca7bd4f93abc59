// passes/fusion.cpp: which nodes become fused_elementwise nodes (structure) and that fused plans
// give the same bits as unfused ones (the fused kernel evaluates every opcode as the op's own
// kernel does, and fusion never reassociates), including optimizer updates fused into stores and
// reductions over the batch axis fused with the values they sum.
#include <boost/test/unit_test.hpp>
#include <random>

#include "pass_test_util.hpp"

using namespace dagrad;
using namespace dagrad::testing;

namespace {


}  // namespace

BOOST_AUTO_TEST_SUITE(elementwise_fusion)

BOOST_AUTO_TEST_CASE(bias_add_and_elu_become_one_node) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 5}, "x");
  Output w =
      variable(g, Tensor::from_vector<float>(Shape{5, 3}, std::vector<float>(15, 0.25f)), "w");
  Output b = variable(g, Tensor::from_vector<float>(Shape{3}, {0.5f, -1.0f, 0.0f}), "b");
  Output y = elu(add(matmul(x, w), b), 1.0, "y");
  Session s(g);
  OptimizerOptions options = verified();
  options.disabled = {"gemm_epilogue"};  // which would merge the fused node into the matmul
  s.set_optimizer_options(options);
  Plan& plan = s.compile({y}, {}, {x});
  BOOST_TEST(count_op(plan, "fused_elementwise") == 1);
  BOOST_TEST(count_op(plan, "elu") == 0);
  BOOST_TEST(count_op(plan, "add") == 0);
  BOOST_TEST(count_op(plan, "matmul") == 1);
  std::mt19937_64 rng(1);
  check_same(g, {y}, {{x, random_tensor(DType::float32, Shape{7, 5}, rng)}});
}

BOOST_AUTO_TEST_CASE(elu_gradient_is_one_node) {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{-1, 4}, "x");
  Output y = elu(x, 0.7, "y");
  Output loss = sum(mul(y, y), {}, false, "loss");
  Output dx = gradients(loss, {x})[0];
  Session s(g);
  s.set_optimizer_options(verified());
  Plan& plan = s.compile({dx}, {}, {x});
  for (const char* op : {"where", "greater", "zeros_like", "mul", "add"})
    BOOST_TEST(count_op(plan, op) == 0, op);
  std::mt19937_64 rng(2);
  check_same(g, {dx, y}, {{x, random_tensor(DType::float64, Shape{6, 4}, rng)}});
}

BOOST_AUTO_TEST_CASE(a_value_used_outside_becomes_an_output) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{8}, "x");
  Output a = exp(neg(x), "a");
  Output b = tanh(a, "b");
  Output s = sum(a, {}, false, "s");  // a is also needed outside
  Session sess(g);
  sess.set_optimizer_options(verified());
  Plan& plan = sess.compile({b, s}, {}, {x});
  BOOST_TEST(count_op(plan, "fused_elementwise") == 1);
  BOOST_TEST(count_op(plan, "sum") == 1);
  std::mt19937_64 rng(3);
  check_same(g, {b, s}, {{x, random_tensor(DType::float32, Shape{8}, rng)}});
}

BOOST_AUTO_TEST_CASE(no_group_leaves_and_reenters_through_an_unfused_node) {
  // e = exp(x); m = max(e) (a reduction, not fusable); y = e / m: fusing e with y would need m
  // inside the group, so e and y stay apart and the plan has no cycle.
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 6}, "x");
  Output e = exp(x, "e");
  Output m = max(e, {1}, true, "m");
  Output y = div(e, m, "y");
  Output z = sigmoid(y, "z");
  Session s(g);
  s.set_optimizer_options(verified());
  Plan& plan = s.compile({z}, {}, {x});
  BOOST_TEST(count_op(plan, "max") == 1);
  BOOST_TEST(count_op(plan, "exp") == 1);                // alone: a group needs two nodes
  BOOST_TEST(count_op(plan, "fused_elementwise") == 1);  // div and sigmoid
  std::mt19937_64 rng(4);
  check_same(g, {z}, {{x, random_tensor(DType::float32, Shape{3, 6}, rng)}});
}

BOOST_AUTO_TEST_CASE(a_read_ordered_after_a_store_is_not_fused_with_it) {
  Graph g;
  Output v = variable(g, Tensor::from_vector<float>(Shape{3}, {1.0f, 2.0f, 3.0f}), "v");
  Output x = placeholder(g, DType::float32, Shape{3}, "x");
  Output w = assign(v, mul(add(v, x), scalar(g, 2.0)), "w");
  Output late;
  {
    auto guard = g.control_dependencies({w});
    late = mul(v, scalar(g, 10.0), "late");  // must see the new value
  }
  Output z = exp(late, "z");
  Tensor xv = Tensor::from_vector<float>(Shape{3}, {1.0f, 1.0f, 1.0f});
  Session s(g);
  s.set_optimizer_options(verified());
  s.initialize_variables();
  Tensor got = s.run(z, {{x, xv}});
  // v = (v + 1) * 2 = (4, 6, 8); z = exp(10 v)
  BOOST_TEST(got.data<float>()[0] == std::exp(40.0), boost::test_tools::tolerance(1e-6));
  BOOST_TEST(got.data<float>()[1] == std::exp(60.0), boost::test_tools::tolerance(1e-6));
  BOOST_TEST(got.data<float>()[2] == std::exp(80.0), boost::test_tools::tolerance(1e-6));
  check_same(g, {z}, {{x, xv}}, {}, 2);
}

BOOST_AUTO_TEST_CASE(nesterov_updates_become_in_place_stores) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 4}, "x");
  Output t = placeholder(g, DType::float32, Shape{-1, 2}, "t");
  std::mt19937_64 rng(5);
  Output w = variable(g, random_tensor(DType::float32, Shape{4, 2}, rng), "w");
  Output b = variable(g, random_tensor(DType::float32, Shape{2}, rng), "b");
  Output y = elu(add(matmul(x, w), b), 1.0, "y");
  Output loss = mean(square(sub(y, t)), {}, false, "loss");
  auto opt = optim::SGD({.learning_rate = 0.05, .momentum = 0.9, .nesterov = true});
  optim::TrainStep step = opt->minimize(loss);
  Session s(g);
  s.set_optimizer_options(verified());
  Plan& plan = s.compile({step.loss}, {step.train_op}, {x, t});
  for (const char* op : {"assign", "assign_add", "assign_sub"})
    BOOST_TEST(count_op(plan, op) <= 1);  // the counter
  BOOST_TEST(count_op(plan, "fused_elementwise") >= 3);
  const PassReport* fusion = report_of(plan, "elementwise_fusion");
  BOOST_TEST_REQUIRE(fusion);
  BOOST_TEST(fusion->changes >= 3);
  std::vector<Feed> feeds{{x, random_tensor(DType::float32, Shape{5, 4}, rng)},
                          {t, random_tensor(DType::float32, Shape{5, 2}, rng)}};
  check_same(g, {step.loss}, feeds, {step.train_op}, 5);
}

// ---- reductions over leading axes ------------------------------------------------------------

namespace {

// How many reduction outputs the plan's fused nodes have.
int fused_reductions(const Plan& plan) {
  const PlanGraph& g = plan.plan_graph();
  int n = 0;
  for (int id = 0; id < g.num_nodes(); ++id)
    if (g.live(id) && (g.node(id).op->name == "fused_elementwise" ||
                       g.node(id).op->name == "matmul_epilogue"))
      n += static_cast<int>(g.node(id).attrs.get_ints("reductions").size() / 4);
  return n;
}

}  // namespace

// A bias gradient: dZ and sum_to(dZ, b) from one fused node, bit for bit, at batch sizes 1, an
// odd one and one of many blocks.
BOOST_AUTO_TEST_CASE(a_bias_gradient_joins_the_group_that_computes_its_input) {
  for (DType dtype : {DType::float32, DType::float64}) {
    Graph g;
    Output x = placeholder(g, dtype, Shape{-1, 6}, "x");
    Output b = variable(g, Tensor(dtype, Shape{6}), "b");
    Output y = tanh(x + b, "y");
    Output loss = sum(y * y, {}, false, "loss");
    std::vector<Output> grads = gradients(loss, {x, b});
    Session s(g);
    s.set_optimizer_options(verified());
    Plan& plan = s.compile({grads[0], grads[1]}, {}, {x});
    BOOST_TEST(count_op(plan, "sum_to") == 0);
    BOOST_TEST(fused_reductions(plan) == 1);
    std::mt19937_64 rng(5);
    for (std::int64_t batch : {1, 7, 700})
      check_same(g, {grads[1], grads[0], y}, {{x, random_tensor(dtype, Shape{batch, 6}, rng)}});
  }
}

// Moments as BatchNormalization takes them: mean(x) over the batch joins the group that reads x
// only when no member uses it; mean((x - m)^2) joins the group computing the square.
BOOST_AUTO_TEST_CASE(moments_join_where_the_mean_is_not_used_inside) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 5}, "x");
  Output h = elu(x * 2.0, 1.0, "h");  // a group that computes h
  Output m = mean(h, {0}, false, "m");
  Output centered = h - m;
  Output variance = mean(square(centered), {0}, true, "variance");
  Output y = centered * rsqrt(variance + 1e-3);
  Session s(g);
  s.set_optimizer_options(verified());
  Plan& plan = s.compile({y, m, variance}, {}, {x});
  // m joins h's group (its input is computed there, and h - m is another group); the variance
  // joins the group of the square.
  BOOST_TEST(count_op(plan, "mean") == 0);
  BOOST_TEST(fused_reductions(plan) == 2);
  std::mt19937_64 rng(6);
  for (std::int64_t batch : {1, 9, 600})
    check_same(g, {y, m, variance}, {{x, random_tensor(DType::float32, Shape{batch, 5}, rng)}});
}

// What must stay a node of its own: a reduction whose value a member reads (u - mean(u) with u
// read by that group alone), one over the last axis, one whose kept size is 1 (a total, which the
// unfused kernel sums in partial sums), a sum over all axes, and sum_to a like of x's rank (a
// copy at batch 1, which keeps -0).
BOOST_AUTO_TEST_CASE(reductions_that_cannot_join_stay_unfused) {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{-1, 4}, "x");
  Output column = placeholder(g, DType::float64, Shape{-1, 1}, "column");
  Output u = placeholder(g, DType::float64, Shape{-1, 4}, "u");
  Output like = placeholder(g, DType::float64, Shape{1, 4}, "like");
  Output e = exp(x, "e");
  Output used_inside = (u - mean(u, {0}, true, "used_inside")) * 3.0;
  Output last_axis = sum(tanh(e), {1}, false, "last_axis");
  Output total_of_column = sum(neg(exp(column)), {0}, false, "column_total");
  Output total = sum(sigmoid(e), {}, false, "total");
  Output z = placeholder(g, DType::float64, Shape{-1, 4}, "z");
  Output same_rank = sum_to(z * like, like, "same_rank");
  std::vector<Output> fetches{used_inside, last_axis, total_of_column, total, same_rank};
  Session s(g);
  s.set_optimizer_options(verified());
  Plan& plan = s.compile(fetches, {}, {x, u, column, like, z});
  BOOST_TEST(fused_reductions(plan) == 0);
  BOOST_TEST(count_op(plan, "mean") == 1);
  BOOST_TEST(count_op(plan, "sum") == 3);
  BOOST_TEST(count_op(plan, "sum_to") == 1);
  std::mt19937_64 rng(7);
  for (std::int64_t batch : {1, 5}) {
    std::vector<double> minus_zeros(static_cast<std::size_t>(batch * 4), -0.0);
    minus_zeros[1] = 1.5;
    check_same(g, fetches,
               {{x, random_tensor(DType::float64, Shape{batch, 4}, rng)},
                {u, random_tensor(DType::float64, Shape{batch, 4}, rng)},
                {column, random_tensor(DType::float64, Shape{batch, 1}, rng)},
                {like, random_tensor(DType::float64, Shape{1, 4}, rng, 0.5, 2)},
                {z, Tensor::from_vector<double>(Shape{batch, 4}, minus_zeros)}});
  }
}

// A reduction of a variable that a group stores stays apart: in the group it would read the
// variable with no order to the store, and the group (the whole update) would not be fused.
BOOST_AUTO_TEST_CASE(a_reduction_of_a_stored_variable_stays_apart) {
  Graph g;
  Output v =
      variable(g, Tensor::from_vector<double>(Shape{2, 3}, {1.0, 2.0, 3.0, 4.0, 5.0, 6.0}), "v");
  Output x = placeholder(g, DType::float64, Shape{2, 3}, "x");
  Output total = sum(v, {0}, false, "total");
  Output update;
  {
    auto guard = g.control_dependencies({total});  // the sum reads the old value
    update = assign_sub(v, mul(v, x), "update");
  }
  Session s(g);
  s.set_optimizer_options(verified());
  s.initialize_variables();
  Plan& plan = s.compile({total}, {update}, {x});
  BOOST_TEST(count_op(plan, "sum") == 1);
  BOOST_TEST(count_op(plan, "assign_sub") == 0);  // the update is a fused store
  BOOST_TEST(fused_reductions(plan) == 0);
  Tensor xv = Tensor::from_vector<double>(Shape{2, 3}, std::vector<double>(6, 0.5));
  // The old columns sums (5, 7, 9), then v = v - v * 0.5 halves them.
  BOOST_TEST(
      s.run({total}, {{x, xv}}, {update})[0].to_vector<double>() == std::vector<double>({5, 7, 9}),
      boost::test_tools::per_element());
  BOOST_TEST(s.run({total}, {{x, xv}}, {update})[0].to_vector<double>() ==
                 std::vector<double>({2.5, 3.5, 4.5}),
             boost::test_tools::per_element());
}

// The chapter's bn model: every bias gradient, every BatchNormalization backward sum and every
// moment but the first layer's mean (of the flattened images, which the group reading them
// subtracts) join fused groups; the plain model's three bias gradients too.
BOOST_AUTO_TEST_CASE(the_bn_model_fuses_its_bias_gradients_and_normalization_sums) {
  for (const std::string preset : {"bn", "plain"}) {
    auto model = nn::make_preset(preset);
    model->session().set_optimizer_options(verified());
    model->compile(optim::SGD({.learning_rate = 0.01, .momentum = 0.9, .nesterov = true}),
                   "sparse_categorical_crossentropy");
    Tensor x(DType::float32, Shape{4, 28, 28}), y(DType::float32, Shape{4});
    std::mt19937_64 rng(8);
    x = random_tensor(DType::float32, Shape{4, 28, 28}, rng, 0, 1);
    for (std::int64_t i = 0; i < 4; ++i) y.data<float>()[i] = static_cast<float>(i);
    model->train_on_batch(x, y);
    const Plan& plan = model->training_plan();
    const PlanGraph& g = plan.plan_graph();
    std::vector<std::string> left;  // reductions over the batch axis still unfused
    for (int id = 0; id < g.num_nodes(); ++id) {
      if (!g.live(id)) continue;
      const Node& n = g.node(id);
      const Shape& in = n.inputs.empty()
                            ? Shape{}
                            : g.node(n.inputs[0].node)
                                  .output_shapes.at(static_cast<std::size_t>(n.inputs[0].index));
      bool batch_axis = (n.op->name == "sum_to" && n.output_shapes[0].rank() < in.rank()) ||
                        ((n.op->name == "sum" || n.op->name == "mean") &&
                         n.attrs.get_ints("axes") == std::vector<std::int64_t>{0});
      if (batch_axis) left.push_back(n.name);
    }
    if (preset == "bn") {
      // 3 bias gradients; the normalizations' backward sums: beta's and gamma's gradients in
      // each of the 3 layers, and in the 2 layers whose input has a gradient also the sums that
      // flow back through the batch mean (sum of dy) and the scale (sum of dy * (x - mean));
      // the moments: 2 means and 3 variances.
      BOOST_TEST(fused_reductions(plan) == 3 + (3 * 2 + 2 * 2) + 5);
      BOOST_TEST_REQUIRE(left.size() == 1u);
      BOOST_TEST(left[0] == "sequential/train/batch_normalization/batch_mean");
    } else {
      BOOST_TEST(fused_reductions(plan) == 3);
      BOOST_TEST(left.empty());
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(fused_stores)

BOOST_AUTO_TEST_CASE(a_fused_store_counts_as_a_write_of_its_variable) {
  // After fusion the assign is gone; passes that run later (and memory planning) must still see
  // the variable as written.
  Graph g;
  Output v = variable(g, Tensor::from_vector<float>(Shape{3}, {1.0f, 2.0f, 3.0f}), "v");
  Output w = assign_add(v, mul(exp(v), scalar(g, 0.5)), "w");
  Session s(g);
  s.set_optimizer_options(verified());
  Plan& plan = s.compile({}, {w});
  BOOST_TEST(count_op(plan, "assign_add") == 0);
  BOOST_TEST_REQUIRE(count_op(plan, "fused_elementwise") == 1);
  const PlanGraph& pg = plan.plan_graph();
  std::vector<char> written = pg.written_variables();
  int copy = pg.copy_of(v.node);
  BOOST_TEST_REQUIRE(copy >= 0);
  BOOST_TEST(written[static_cast<std::size_t>(copy)] == 1);
  s.initialize_variables();
  s.run_targets({w});
  std::vector<float> got = s.variable_value(v).to_vector<float>();
  for (int i = 0; i < 3; ++i) {
    double x = i + 1.0;
    BOOST_TEST(got[static_cast<std::size_t>(i)] == x + 0.5 * std::exp(x),
               boost::test_tools::tolerance(1e-6));
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(fused_nodes_in_user_graphs)

BOOST_AUTO_TEST_CASE(a_hand_built_store_must_target_a_variable_and_is_ordered) {
  Graph g;
  Output v = variable(g, Tensor::from_vector<float>(Shape{2}, {1.0f, 2.0f}), "v");
  Output c = constant(g, Tensor::from_vector<float>(Shape{2}, {5.0f, 6.0f}), "c");
  FusedProgram program(2);
  program.store(program.binary(FusedOpcode::Add, 0, 1), 0);  // input 0 += input 1
  FusedNode to_constant = fused_elementwise({c, v}, DType::float32, program, "to_constant");
  Session s(g);
  s.initialize_variables();
  try {
    s.run_targets({to_constant.operation});
    BOOST_FAIL("a store into a constant ran");
  } catch (const RunError& e) {
    BOOST_TEST(std::string(e.what()).find("must be a variable, but 'c' is a constant") !=
               std::string::npos);
  }
  // A store is a write: a read of v no edge orders against it is refused, as for assign.
  FusedNode update = fused_elementwise({v, c}, DType::float32, program, "update");
  Output reader = mul(v, scalar(g, 2.0), "reader");
  BOOST_CHECK_THROW(s.run({reader}, {}, {update.operation}), RunError);
  BOOST_TEST(s.variable_value(v).to_vector<float>() == std::vector<float>({1.0f, 2.0f}));
}

BOOST_AUTO_TEST_SUITE_END()
