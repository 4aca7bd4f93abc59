// The graph core and the executor: names and scopes, build-time shape errors, plans, feeds,
// variables, pruning, and the promise that a cached plan runs without heap allocation.
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <new>

#include "dagrad/dagrad.hpp"

using namespace dagrad;

// Counts every heap allocation in this test program, to check the hot loop makes none.
static std::atomic<long> g_allocations{0};
void* operator new(std::size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace {
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
}  // namespace

BOOST_AUTO_TEST_SUITE(names_and_errors)

BOOST_AUTO_TEST_CASE(scopes_nest_and_names_are_unique) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 3}, "x");
  Output a, b, c;
  {
    auto s = g.name_scope("dense");
    a = relu(x);
    b = relu(x);
    {
      auto inner = g.name_scope("act");
      c = tanh(x, "t");
    }
  }
  Output d;
  {
    auto s = g.name_scope("dense");  // a second "dense" scope gets a fresh name
    d = relu(x);
  }
  BOOST_TEST(a.name() == "dense/relu");
  BOOST_TEST(b.name() == "dense/relu_1");
  BOOST_TEST(c.name() == "dense/act/t");
  BOOST_TEST(d.name() == "dense_1/relu");
  BOOST_TEST(a.producer().scope() == "dense");
  BOOST_TEST(g.output("dense/act/t").node == c.node);
  BOOST_CHECK_THROW(g.output("nope"), GraphError);
}

BOOST_AUTO_TEST_CASE(shape_error_names_node_op_shapes_and_site) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 3}, "x");
  Output y = placeholder(g, DType::float32, Shape{4, 5}, "y");
  int before = g.num_nodes();
  int line = __LINE__ + 1;
  auto bad = [&] { return add(x, y, "sum_xy"); };
  BOOST_CHECK_EXCEPTION(bad(), ShapeError, [&](const ShapeError& e) {
    std::string m = e.what();
    return contains(m, "sum_xy") && contains(m, "op add") && contains(m, "float32 (?, 3)") &&
           contains(m, "float32 (4, 5)") && contains(m, "test_session.cpp:" + std::to_string(line));
  });
  BOOST_TEST(g.num_nodes() == before);
  // The failed name is not used up either.
  BOOST_TEST(add(x, x, "sum_xy").name() == "sum_xy");
}

BOOST_AUTO_TEST_CASE(unknown_op_and_bad_attributes_are_graph_errors) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{2}, "x");
  int before = g.num_nodes();
  BOOST_CHECK_EXCEPTION(g.add("no_such_op", {x}), GraphError,
                        [](const GraphError& e) { return contains(e.what(), "no_such_op"); });
  BOOST_CHECK_EXCEPTION(g.add("elu", {x}, {{"alpha", std::string("big")}}), GraphError,
                        [](const GraphError& e) { return contains(e.what(), "attribute 'alpha' must be float"); });
  BOOST_CHECK_EXCEPTION(g.add("elu", {x}, {{"beta", 1.0}}), GraphError,
                        [](const GraphError& e) { return contains(e.what(), "unknown attribute 'beta'"); });
  BOOST_CHECK_EXCEPTION(g.add("relu", {x, x}), GraphError,
                        [](const GraphError& e) { return contains(e.what(), "needs 1 inputs, got 2"); });
  BOOST_TEST(g.num_nodes() == before);
}

BOOST_AUTO_TEST_CASE(registry_validates_records) {
  OpRegistry r;
  OpRecord no_shape;
  no_shape.name = "mine";
  BOOST_CHECK_EXCEPTION(r.add(no_shape), GraphError,
                        [](const GraphError& e) { return contains(e.what(), "no shape function"); });
  OpRecord bad_default;
  bad_default.name = "mine";
  bad_default.shape_fn = [](ShapeContext&) {};
  bad_default.role = OpRole::Constant;
  bad_default.attrs = {{"k", AttrKind::Int, AttrValue(1.5)}};
  BOOST_CHECK_EXCEPTION(r.add(bad_default), GraphError,
                        [](const GraphError& e) { return contains(e.what(), "default of attribute 'k'"); });
  OpRecord no_kernel;
  no_kernel.name = "mine";
  no_kernel.input_names = {"x"};
  no_kernel.shape_fn = [](ShapeContext&) {};
  BOOST_CHECK_EXCEPTION(r.add(no_kernel), GraphError,
                        [](const GraphError& e) { return contains(e.what(), "at least one kernel"); });
  BOOST_TEST(r.names().empty());
  register_builtin_ops(r);
  BOOST_CHECK_EXCEPTION(register_state_ops(r), GraphError,
                        [](const GraphError& e) { return contains(e.what(), "already registered"); });
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(executor)

BOOST_AUTO_TEST_CASE(plans_are_cached_and_buffers_reused) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 2}, "x");
  Output y = relu(x) * 3.0;
  Session s(g);
  Tensor batch3 = Tensor::from_vector<float>({3, 2}, {1, -2, 3, -4, 5, -6});
  for (int i = 0; i < 5; ++i) s.run(y, {{x, batch3}});
  BOOST_TEST(s.num_cached_plans() == 1);
  Plan& plan = s.compile({y}, {}, {x});
  BOOST_TEST(plan.allocations() == 1);
  // A new batch size re-infers shapes once; returning to it again re-binds once more.
  Tensor r = s.run(y, {{x, Tensor::from_vector<float>({1, 2}, {-1, 7})}});
  BOOST_TEST(r.shape() == (Shape{1, 2}));
  BOOST_TEST(r.to_vector<float>() == (std::vector<float>{0, 21}), boost::test_tools::per_element());
  BOOST_TEST(plan.allocations() == 2);
  BOOST_TEST(s.num_cached_plans() == 1);
}

BOOST_AUTO_TEST_CASE(cached_plan_runs_without_heap_allocation) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{4}, "x");
  Output w = variable(g, Tensor::from_vector<float>({4}, {1, 2, 3, 4}), "w");
  Output step = assign_add(w, x * w + 1.0, "step");  // w += x*w + 1
  Session s(g);
  s.initialize_variables();
  Plan& plan = s.compile({}, {step}, {x});
  std::vector<Tensor> feeds{Tensor::from_vector<float>({4}, {1, 0, -1, 0.5f})};
  plan.run(feeds);  // first run binds shapes and allocates
  long before = g_allocations.load();
  for (int i = 0; i < 3; ++i) plan.run(feeds);
  long during = g_allocations.load() - before;
  BOOST_TEST(during == 0);
  // Four steps of w <- w + x*w + 1 from w0 = (1, 2, 3, 4), computed by hand:
  // x=1: w -> 2w+1: 1,3,7,15,31; x=0: w -> w+1: 2..6; x=-1: w -> 1 always; x=.5: w -> 1.5w+1.
  double w3 = 4;
  for (int i = 0; i < 4; ++i) w3 = 1.5 * w3 + 1;
  std::vector<float> expected{31, 6, 1, static_cast<float>(w3)};
  BOOST_TEST(s.variable_value(w).to_vector<float>() == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(pruning_runs_only_what_the_request_needs) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{2}, "x");
  Output counter = variable(g, Tensor::from_vector<float>({1}, {0}), "counter");
  Output bump = assign_add(counter, constant(g, Tensor::from_vector<float>({1}, {1})), "bump");
  Output y = x * 2.0;
  Session s(g);
  s.initialize_variables();
  // y does not need `bump`, nor the placeholder of any other branch.
  for (int i = 0; i < 3; ++i) s.run(y, {{x, Tensor::from_vector<float>({2}, {1, 2})}});
  BOOST_TEST(s.variable_value(counter).to_vector<float>()[0] == 0.0f);
  s.run_targets({bump});
  s.run_targets({bump});
  BOOST_TEST(s.variable_value(counter).to_vector<float>()[0] == 2.0f);
  BOOST_TEST(s.compile({y}, {}, {x}).schedule().size() == 3u);  // x, the constant 2, mul
}

BOOST_AUTO_TEST_CASE(feed_errors_name_the_placeholder) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 3}, "images");
  Output y = relu(x, "act");
  Session s(g);
  BOOST_CHECK_EXCEPTION(s.run(y), RunError, [](const RunError& e) {
    return contains(e.what(), "placeholder 'images'") && contains(e.what(), "must be fed") &&
           contains(e.what(), "act");
  });
  BOOST_CHECK_EXCEPTION(s.run(y, {{x, Tensor::from_vector<double>({1, 3}, {1, 2, 3})}}), RunError,
                        [](const RunError& e) {
                          return contains(e.what(), "'images'") && contains(e.what(), "float64 (1, 3)") &&
                                 contains(e.what(), "expected float32 (?, 3)");
                        });
  BOOST_CHECK_EXCEPTION(s.run(y, {{x, Tensor::from_vector<float>({3}, {1, 2, 3})}}), RunError,
                        [](const RunError& e) { return contains(e.what(), "float32 (3,)"); });
  BOOST_CHECK_EXCEPTION(s.run(y, {{x, Tensor::from_vector<float>({1, 4}, {1, 2, 3, 4})}}), RunError,
                        [](const RunError& e) { return contains(e.what(), "float32 (1, 4)"); });
  BOOST_CHECK_EXCEPTION(s.run(y, {{y, Tensor::from_vector<float>({1, 3}, {1, 2, 3})}}), RunError,
                        [](const RunError& e) { return contains(e.what(), "only placeholders can be fed"); });
}

BOOST_AUTO_TEST_CASE(run_time_shape_conflict_is_a_shape_error) {
  Graph g;
  Output a = placeholder(g, DType::float32, Shape{-1}, "a");
  Output b = placeholder(g, DType::float32, Shape{-1}, "b");
  Output c = add(a, b, "a_plus_b");  // build time: (?) + (?) -> (?)
  Session s(g);
  BOOST_CHECK_EXCEPTION(
      s.run(c, {{a, Tensor::from_vector<float>({2}, {1, 2})}, {b, Tensor::from_vector<float>({3}, {1, 2, 3})}}),
      ShapeError, [](const ShapeError& e) {
        return contains(e.what(), "a_plus_b") && contains(e.what(), "(2,)") && contains(e.what(), "(3,)");
      });
}

BOOST_AUTO_TEST_CASE(variables_persist_and_must_be_initialized) {
  Graph g;
  Output v = variable(g, Tensor::from_vector<double>({2}, {1.5, -2}), "v");
  Output twice = v * 2.0;
  Session s(g);
  BOOST_CHECK_EXCEPTION(s.run(twice), RunError, [](const RunError& e) {
    return contains(e.what(), "variable 'v'") && contains(e.what(), "initialize_variables");
  });
  s.initialize_variables();
  BOOST_TEST(s.run(twice).to_vector<double>() == (std::vector<double>{3, -4}), boost::test_tools::per_element());
  s.set_variable_value(v, Tensor::from_vector<double>({2}, {10, 20}));
  BOOST_TEST(s.run(twice).to_vector<double>() == (std::vector<double>{20, 40}), boost::test_tools::per_element());
  BOOST_CHECK_THROW(s.set_variable_value(v, Tensor::from_vector<double>({3}, {1, 2, 3})), RunError);
  // A second session over the same graph has its own variables.
  Session other(g);
  BOOST_CHECK_THROW(other.run(twice), RunError);
}

BOOST_AUTO_TEST_CASE(initializers_may_read_earlier_variables) {
  Graph g;
  Output a = variable(g, Tensor::from_vector<float>({2}, {1, 2}), "a");
  Output b = variable(a * 3.0, "b");
  BOOST_TEST(b.name() == "b");
  BOOST_TEST(g.find_node("b/Assign") != nullptr);
  Session s(g);
  s.initialize_variables();
  BOOST_TEST(s.variable_value(b).to_vector<float>() == (std::vector<float>{3, 6}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(executor_contracts)

BOOST_AUTO_TEST_CASE(alternating_batch_sizes_bind_once_each_and_allocate_nothing) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 3}, "x");
  Output w = variable(g, Tensor::from_vector<float>({3}, {0, 0, 0}), "w");
  Output step = assign_add(w, sum(x * 2.0, {0}), "step");  // w += 2 * column sums of x
  Session s(g);
  s.initialize_variables();
  Plan& plan = s.compile({}, {step}, {x});
  std::vector<Tensor> big{Tensor::from_vector<float>({4, 3}, std::vector<float>(12, 1.0f))};
  std::vector<Tensor> small{Tensor::from_vector<float>({1, 3}, {1, 2, 3})};
  plan.run(big);
  plan.run(small);
  BOOST_TEST(plan.allocations() == 2);
  long before = g_allocations.load();
  for (int i = 0; i < 5; ++i) {
    plan.run(big);
    plan.run(small);
  }
  BOOST_TEST(g_allocations.load() - before == 0);
  BOOST_TEST(plan.allocations() == 2);
  // 6 big runs add 2 * 4 = 8 per column; 6 small runs add 2 * (1, 2, 3).
  BOOST_TEST(s.variable_value(w).to_vector<float>() == (std::vector<float>{60, 72, 84}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(fetching_allocates_per_fetch_not_per_node) {
  auto measure = [](int depth) {
    Graph g;
    Output x = placeholder(g, DType::float32, Shape{-1, 8}, "x");
    Output y = x;
    for (int i = 0; i < depth; ++i) y = tanh(y * 0.5 + 0.1);
    Output loss = mean(y);
    Session s(g);
    Plan& plan = s.compile({loss}, {}, {x});
    std::vector<Tensor> feeds{Tensor(DType::float32, Shape{16, 8})};
    plan.run(feeds);
    long before = g_allocations.load();
    plan.run(feeds);
    return g_allocations.load() - before;
  };
  long shallow = measure(2), deep = measure(40);  // 6 vs 120 compute nodes
  BOOST_TEST(shallow == deep);
  BOOST_TEST(shallow <= 4);  // the result vector and the clone of one scalar
}

BOOST_AUTO_TEST_CASE(requests_are_checked_before_the_plan_cache) {
  Graph g1, g2;
  Output a1 = scalar(g1, 1.0, DType::float32, "a");
  Output a2 = scalar(g2, 2.0, DType::float32, "a");
  Session s(g1);
  BOOST_TEST(s.run(a1).item<float>() == 1.0f);
  // Same node id, other graph: must not hit g1's cached plan.
  BOOST_CHECK_EXCEPTION(s.run(a2), RunError,
                        [](const RunError& e) { return contains(e.what(), "not an output of this session's graph"); });
  BOOST_CHECK_EXCEPTION(s.run(Output{&g1, a1.node, 1}), RunError, [](const RunError& e) {
    return contains(e.what(), "node 'a'") && contains(e.what(), "has no output 1");
  });
  Operation grp = group(g1, {a1}, "grp");
  BOOST_CHECK_EXCEPTION(s.run(g1.output_of(grp.node)), RunError,
                        [](const RunError& e) { return contains(e.what(), "'grp'") && contains(e.what(), "no outputs"); });
}

BOOST_AUTO_TEST_CASE(huge_shapes_are_errors_not_crashes) {
  Graph g;
  const std::int64_t big = std::int64_t{1} << 32;
  BOOST_CHECK_THROW(Shape({big, big}).num_elements(), std::invalid_argument);
  Output f = fill(g, Shape{big, big}, 1.0, DType::float32, "huge");
  Output t = transpose(f, {}, "flip");
  Session s(g);
  BOOST_CHECK_EXCEPTION(s.run(t), RunError, [](const RunError& e) {
    return contains(e.what(), "'huge'") && contains(e.what(), "(4294967296, 4294967296)");
  });
}

BOOST_AUTO_TEST_CASE(names_must_be_well_formed_paths) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{2}, "x");
  int before = g.num_nodes();
  BOOST_CHECK_EXCEPTION(neg(x, "q:1"), GraphError, [](const GraphError& e) { return contains(e.what(), "':'"); });
  BOOST_CHECK_THROW(neg(x, "a//b"), GraphError);
  BOOST_CHECK_THROW(neg(x, "trailing/"), GraphError);
  BOOST_CHECK_THROW(neg(x, "two\nlines"), GraphError);
  BOOST_CHECK_THROW((void)g.name_scope(""), GraphError);
  BOOST_CHECK_THROW((void)g.name_scope("x:0"), GraphError);
  BOOST_CHECK_EXCEPTION(neg(Output{&g, 1000, 0}), GraphError,
                        [](const GraphError& e) { return contains(e.what(), "node 1000, which does not exist"); });
  BOOST_TEST(g.num_nodes() == before);
  BOOST_TEST(neg(x, "outer/inner").name() == "outer/inner");
}

BOOST_AUTO_TEST_SUITE_END()
