// The general passes (graph/passes.cpp: prune, constant folding, CSE), the verifier and the
// pass table's options; each pass checked on structure (the op kinds left) and on values
// (the same results with the passes off).
#include <boost/test/unit_test.hpp>

#include "pass_test_util.hpp"

using namespace dagrad;
using namespace dagrad::testing;

namespace {
bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(general_passes)

BOOST_AUTO_TEST_CASE(constant_folding_evaluates_constant_subgraphs_once) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 2}, "x");
  Output c = constant(g, Tensor::from_vector<float>(Shape{2}, {2.0f, 3.0f}), "c");
  Output k = mul(exp(c), scalar(g, 0.5));  // constant: (e^2/2, e^3/2)
  Output y = add(x, k, "y");
  Session s(g);
  s.set_optimizer_options(verified_without_fusion());
  Tensor xv = Tensor::from_vector<float>(Shape{1, 2}, {1.0f, -1.0f});
  Tensor out = s.run(y, {{x, xv}});
  Plan& plan = s.compile({y}, {}, {x});
  BOOST_TEST(count_op(plan, "exp") == 0);
  BOOST_TEST(count_op(plan, "mul") == 0);
  BOOST_TEST(count_op(plan, "add") == 1);
  BOOST_TEST(report_of(plan, "constant_folding")->changes >= 2);
  // Independently: 1 + e^2/2 and -1 + e^3/2 in float32 arithmetic.
  BOOST_TEST(out.data<float>()[0] == 1.0 + std::exp(2.0) * 0.5, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(out.data<float>()[1] == -1.0 + std::exp(3.0) * 0.5,
             boost::test_tools::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(constant_folding_leaves_random_and_ordered_nodes_alone) {
  Graph g;
  Output r = random_uniform(g, Shape{3}, 0.0, 1.0, DType::float32, 7);
  Output y = add(r, scalar(g, 1.0), "y");
  Output v = variable(g, Tensor::from_vector<float>(Shape{}, {5.0f}), "v");
  Operation w = assign_add(v, scalar(g, 1.0));
  Output after;
  {
    auto guard = g.control_dependencies({w});
    after = add(scalar(g, 2.0), scalar(g, 3.0), "after");  // ordered after the write
  }
  Output read = add(v, after, "read");
  Session s(g);
  s.set_optimizer_options(verified_without_fusion());
  s.initialize_variables();
  Tensor a = s.run(y);
  Plan& plan = s.compile({y});
  BOOST_TEST(count_op(plan, "random_uniform") == 1);
  for (int i = 0; i < 3; ++i) BOOST_TEST((a.data<float>()[i] >= 1.0f && a.data<float>()[i] < 2.0f));
  // 'after' has a control input: folding it would drop the order between the write and 'read'.
  Tensor got = s.run(read);
  BOOST_TEST(got.item<float>() == 6.0f + 5.0f);
  BOOST_TEST(count_op(s.compile({read}), "assign_add") == 1);
}

BOOST_AUTO_TEST_CASE(cse_merges_equal_nodes_and_keeps_values) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 3}, "x");
  Output a = tanh(x, "a");
  Output b = tanh(x, "b");                    // the same computation
  Output y = add(mul(a, a), mul(b, b), "y");  // a*a and b*b merge too once a and b do
  Session s(g);
  s.set_optimizer_options(verified_without_fusion());
  Tensor xv = Tensor::from_vector<float>(Shape{2, 3}, {0.1f, -0.2f, 0.3f, 1.0f, 2.0f, -3.0f});
  Tensor out = s.run(y, {{x, xv}});
  Plan& plan = s.compile({y}, {}, {x});
  BOOST_TEST(count_op(plan, "tanh") == 1);
  BOOST_TEST(count_op(plan, "mul") == 1);
  BOOST_TEST(report_of(plan, "cse")->changes == 2);
  for (int i = 0; i < 6; ++i) {
    double t = std::tanh(static_cast<double>(xv.data<float>()[i]));
    BOOST_TEST(out.data<float>()[i] == 2 * t * t, boost::test_tools::tolerance(1e-6));
  }
}

BOOST_AUTO_TEST_CASE(cse_never_merges_reads_across_a_write) {
  Graph g;
  Output v = variable(g, Tensor::from_vector<float>(Shape{2}, {1.0f, 2.0f}), "v");
  Output before = identity(v, "before");
  Output w = assign(v, add(before, scalar(g, 10.0)), "w");
  Output after;
  {
    auto guard = g.control_dependencies({w});
    after = identity(v, "after");
  }
  Session s(g);
  s.set_optimizer_options(verified_without_fusion());
  s.initialize_variables();
  auto out = s.run({before, after});
  BOOST_TEST(out[0].to_vector<float>() == std::vector<float>({1.0f, 2.0f}));
  BOOST_TEST(out[1].to_vector<float>() == std::vector<float>({11.0f, 12.0f}));
  BOOST_TEST(count_op(s.compile({before, after}), "identity") == 2);
}

BOOST_AUTO_TEST_CASE(random_nodes_are_never_merged) {
  Graph g;
  Output a = random_normal(g, Shape{4}, 0.0, 1.0, DType::float32, 3, "a");
  Output b = random_normal(g, Shape{4}, 0.0, 1.0, DType::float32, 4, "b");
  Output c = random_normal(g, Shape{4}, 0.0, 1.0, DType::float32, 3, "c");  // same seed as a
  Session on(g), off(g);
  on.set_optimizer_options(verified());
  off.set_optimizer_options(unoptimized());
  auto x = on.run({a, b, c});
  auto y = off.run({a, b, c});
  for (int i = 0; i < 3; ++i)
    BOOST_TEST(identical(x[static_cast<std::size_t>(i)], y[static_cast<std::size_t>(i)]));
  BOOST_TEST(count_op(on.compile({a, b, c}), "random_normal") == 3);
}

// The pipeline's last prune drops what fusion left unread: a constant the fused program took in
// as a number (BatchNormalization's epsilon in the bn model's prediction).
BOOST_AUTO_TEST_CASE(the_pipeline_leaves_no_unread_node_in_a_prediction) {
  for (const char* preset : {"plain", "bn", "bn-before"}) {
    auto model = nn::make_preset(preset);
    model->compile(optim::SGD({.learning_rate = 0.01}), "sparse_categorical_crossentropy");
    const PlanGraph& g = model->prediction_plan().plan_graph();
    std::vector<std::vector<int>> readers = g.consumers();
    for (int id = 0; id < g.num_nodes(); ++id) {
      if (!g.live(id) || !readers[static_cast<std::size_t>(id)].empty()) continue;
      bool fetched = false;
      for (const NodeInput& f : g.fetches()) fetched = fetched || f.node == id;
      BOOST_TEST((fetched || g.node(id).op->role == OpRole::Placeholder),
                 preset << ": '" << g.node(id).name << "' (" << g.node(id).op->name
                        << ") is live but nothing reads it");
    }
  }
}

BOOST_AUTO_TEST_CASE(prune_removes_what_rewrites_left_unused) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{3}, "x");
  Output one = ones_like(x, "one");
  Output y = mul(x, one, "y");  // x * ones_like(x): ones_like becomes a scalar 1, then y = x
  Output z = exp(y, "z");
  Session s(g);
  s.set_optimizer_options(verified_without_fusion());
  Tensor xv = Tensor::from_vector<float>(Shape{3}, {0.0f, 1.0f, -2.0f});
  Tensor out = s.run(z, {{x, xv}});
  Plan& plan = s.compile({z}, {}, {x});
  BOOST_TEST(count_op(plan, "ones_like") == 0);
  BOOST_TEST(count_op(plan, "mul") == 0);
  BOOST_TEST(plan.plan_graph().num_live() == 2);  // x and exp
  BOOST_TEST(out.data<float>()[0] == 1.0f);
  BOOST_TEST(out.data<float>()[1] == std::exp(1.0), boost::test_tools::tolerance(1e-6));
  BOOST_TEST(out.data<float>()[2] == std::exp(-2.0), boost::test_tools::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(passes_can_be_switched_off_by_name) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{3}, "x");
  Output y = add(tanh(x), tanh(x), "y");
  Session s(g);
  OptimizerOptions options;
  options.disabled = {"cse", "elementwise_fusion"};
  s.set_optimizer_options(options);
  BOOST_TEST(count_op(s.compile({y}, {}, {x}), "tanh") == 2);
  s.set_optimizer_options(unoptimized());
  BOOST_TEST(s.compile({y}, {}, {x}).pass_reports().empty());
  OptimizerOptions bad;
  bad.disabled = {"fusion_typo"};
  try {
    s.set_optimizer_options(bad);
    BOOST_FAIL("an unknown pass name was accepted");
  } catch (const GraphError& e) {
    BOOST_TEST(contains(e.what(), "fusion_typo"));
    BOOST_TEST(contains(e.what(), "cse"));  // the message lists the passes
  }
  BOOST_TEST(s.optimizer_options().optimize == false);  // unchanged
}

BOOST_AUTO_TEST_CASE(the_verifier_names_the_pass_that_broke_the_graph) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{3}, "x");
  Output y = tanh(exp(x), "y");
  std::vector<NodeInput> fetches{{y.node, 0}};
  PlanGraph pg(g, {0, 1, 2}, fetches, {}, {x.node});
  PassPipeline broken = {{"break_it", "kills a needed node", [](PlanGraph& p, PassReport& r) {
                            p.kill(1);  // exp, which tanh still reads
                            r.note("killed exp");
                          }}};
  try {
    run_passes(pg, broken, verify_only());
    BOOST_FAIL("the verifier let a dangling input through");
  } catch (const GraphError& e) {
    BOOST_TEST(contains(e.what(), "break_it"));
    BOOST_TEST(contains(e.what(), "'y'"));
  }
}

BOOST_AUTO_TEST_CASE(the_verifier_catches_a_read_left_unordered_with_a_write) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{3}, "x");
  Output v = variable(g, Tensor::from_vector<float>({3}, {1, 2, 3}), "v");
  Output read = mul(v, x, "read");
  Output write;
  {
    auto after_read = g.control_dependencies({read});
    write = assign(v, x, "write");
  }
  std::vector<NodeInput> fetches{{read.node, 0}};
  std::vector<int> needed{x.node, v.node, read.node, write.node};
  std::sort(needed.begin(), needed.end());
  PlanGraph pg(g, needed, fetches, {write.node}, {x.node});
  BOOST_CHECK_NO_THROW(run_passes(pg, {}, verify_only()));
  const int copy = pg.copy_of(write.node);
  PassPipeline unorder = {{"unorder", "drops the write's control edge",
                           [copy](PlanGraph& p, PassReport&) {
                             p.mutable_node(copy).control_inputs.clear();
                           }}};
  try {
    run_passes(pg, unorder, verify_only());
    BOOST_FAIL("the verifier let an unordered read and write of a variable through");
  } catch (const GraphError& e) {
    BOOST_TEST(contains(e.what(), "unorder"));
    BOOST_TEST(contains(e.what(), "variable 'v'"));
    BOOST_TEST(contains(e.what(), "'read'"));
  }
}

BOOST_AUTO_TEST_CASE(the_verifier_catches_a_wrong_shape_and_a_cycle) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{3}, "x");
  Output y = tanh(x, "y");
  Output z = exp(y, "z");
  {
    PlanGraph pg(g, {0, 1, 2}, {{z.node, 0}}, {}, {x.node});
    pg.mutable_node(2).output_shapes[0] = Shape{4};
    BOOST_CHECK_THROW(verify_plan_graph(pg), GraphError);
  }
  {
    PlanGraph pg(g, {0, 1, 2}, {{z.node, 0}}, {}, {x.node});
    pg.set_input(1, 0, {2, 0});  // y reads z, z reads y
    BOOST_CHECK_THROW(verify_plan_graph(pg), GraphError);
  }
}

BOOST_AUTO_TEST_SUITE_END()
