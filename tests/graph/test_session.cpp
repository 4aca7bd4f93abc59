// The graph core and the executor: names and scopes, build-time shape errors, plans, feeds,
// variables, pruning, and the promise that a cached plan runs without heap allocation.
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <new>
#include <type_traits>

#include "dagrad/dagrad.hpp"

using namespace dagrad;

// Counts every heap allocation in this test program, to check the hot loop makes none.
static std::atomic<long> g_allocations{0};
void* operator new(std::size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  return operator new(n);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}

namespace {
bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}
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
  BOOST_CHECK_EXCEPTION(
      g.add("elu", {x}, {{"alpha", std::string("big")}}), GraphError,
      [](const GraphError& e) { return contains(e.what(), "attribute 'alpha' must be float"); });
  BOOST_CHECK_EXCEPTION(g.add("elu", {x}, {{"beta", 1.0}}), GraphError, [](const GraphError& e) {
    return contains(e.what(), "unknown attribute 'beta'");
  });
  BOOST_CHECK_EXCEPTION(g.add("relu", {x, x}), GraphError, [](const GraphError& e) {
    return contains(e.what(), "needs 1 inputs, got 2");
  });
  BOOST_TEST(g.num_nodes() == before);
}

BOOST_AUTO_TEST_CASE(registry_validates_records) {
  OpRegistry r;
  OpRecord no_shape;
  no_shape.name = "mine";
  BOOST_CHECK_EXCEPTION(r.add(no_shape), GraphError, [](const GraphError& e) {
    return contains(e.what(), "no shape function");
  });
  OpRecord bad_default;
  bad_default.name = "mine";
  bad_default.shape_fn = [](ShapeContext&) {};
  bad_default.role = OpRole::Constant;
  bad_default.attrs = {{"k", AttrKind::Int, AttrValue(1.5)}};
  BOOST_CHECK_EXCEPTION(r.add(bad_default), GraphError, [](const GraphError& e) {
    return contains(e.what(), "default of attribute 'k'");
  });
  OpRecord no_kernel;
  no_kernel.name = "mine";
  no_kernel.input_names = {"x"};
  no_kernel.shape_fn = [](ShapeContext&) {};
  BOOST_CHECK_EXCEPTION(r.add(no_kernel), GraphError, [](const GraphError& e) {
    return contains(e.what(), "at least one kernel");
  });
  BOOST_TEST(r.names().empty());
  register_builtin_ops(r);
  BOOST_CHECK_EXCEPTION(register_state_ops(r), GraphError, [](const GraphError& e) {
    return contains(e.what(), "already registered");
  });
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
                          return contains(e.what(), "'images'") &&
                                 contains(e.what(), "float64 (1, 3)") &&
                                 contains(e.what(), "expected float32 (?, 3)");
                        });
  BOOST_CHECK_EXCEPTION(s.run(y, {{x, Tensor::from_vector<float>({3}, {1, 2, 3})}}), RunError,
                        [](const RunError& e) { return contains(e.what(), "float32 (3,)"); });
  BOOST_CHECK_EXCEPTION(s.run(y, {{x, Tensor::from_vector<float>({1, 4}, {1, 2, 3, 4})}}), RunError,
                        [](const RunError& e) { return contains(e.what(), "float32 (1, 4)"); });
  BOOST_CHECK_EXCEPTION(
      s.run(y, {{y, Tensor::from_vector<float>({1, 3}, {1, 2, 3})}}), RunError,
      [](const RunError& e) { return contains(e.what(), "only placeholders can be fed"); });
}

BOOST_AUTO_TEST_CASE(run_time_shape_conflict_is_a_shape_error) {
  Graph g;
  Output a = placeholder(g, DType::float32, Shape{-1}, "a");
  Output b = placeholder(g, DType::float32, Shape{-1}, "b");
  Output c = add(a, b, "a_plus_b");  // build time: (?) + (?) -> (?)
  Session s(g);
  BOOST_CHECK_EXCEPTION(s.run(c, {{a, Tensor::from_vector<float>({2}, {1, 2})},
                                  {b, Tensor::from_vector<float>({3}, {1, 2, 3})}}),
                        ShapeError, [](const ShapeError& e) {
                          return contains(e.what(), "a_plus_b") && contains(e.what(), "(2,)") &&
                                 contains(e.what(), "(3,)");
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
  BOOST_TEST(s.run(twice).to_vector<double>() == (std::vector<double>{3, -4}),
             boost::test_tools::per_element());
  s.set_variable_value(v, Tensor::from_vector<double>({2}, {10, 20}));
  BOOST_TEST(s.run(twice).to_vector<double>() == (std::vector<double>{20, 40}),
             boost::test_tools::per_element());
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
  BOOST_TEST(s.variable_value(b).to_vector<float>() == (std::vector<float>{3, 6}),
             boost::test_tools::per_element());
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
  BOOST_CHECK_EXCEPTION(s.run(a2), RunError, [](const RunError& e) {
    return contains(e.what(), "not an output of this session's graph");
  });
  BOOST_CHECK_EXCEPTION(s.run(Output{&g1, a1.node, 1}), RunError, [](const RunError& e) {
    return contains(e.what(), "node 'a'") && contains(e.what(), "has no output 1");
  });
  Operation grp = group(g1, {a1}, "grp");
  BOOST_CHECK_EXCEPTION(s.run(g1.output_of(grp.node)), RunError, [](const RunError& e) {
    return contains(e.what(), "'grp'") && contains(e.what(), "no outputs");
  });
}

BOOST_AUTO_TEST_CASE(huge_shapes_are_errors_not_crashes) {
  Graph g;
  const std::int64_t big = std::int64_t{1} << 32;
  BOOST_CHECK_THROW(Shape({big, big}).num_elements(), ShapeError);
  // 2^64 elements: refused when built (it failed only at run time before), naming node and op.
  BOOST_CHECK_EXCEPTION(fill(g, Shape{big, big}, 1.0, DType::float32, "huge"), ShapeError,
                        [](const ShapeError& e) {
                          return contains(e.what(), "node 'huge' (op fill)") &&
                                 contains(e.what(), "(4294967296, 4294967296)") &&
                                 contains(e.what(), "more elements than an int64 can count");
                        });
  BOOST_TEST(g.num_nodes() == 0);
}

// A size valid by arithmetic that no allocator can serve: 2^48 float32 elements, 2^50 bytes
// (1 PiB, beyond x86-64's 2^47-byte user address space even with overcommit always on).
// Regression: the tool ended with "dagrad: error: std::bad_alloc". Under AddressSanitizer this
// needs ASAN_OPTIONS=allocator_may_return_null=1.
BOOST_AUTO_TEST_CASE(a_variable_too_large_to_allocate_is_named) {
  Graph g;
  const std::int64_t n = std::int64_t{1} << 48;
  Output w = variable(fill(g, Shape{n}, 0.0, DType::float32, "w_init"), "big_w");
  Session s(g);
  BOOST_CHECK_EXCEPTION(s.initialize_variables(), AllocationError, [](const Error& e) {
    BOOST_TEST_MESSAGE(e.what());
    return contains(e.what(), "variable 'big_w'") &&
           contains(e.what(), "cannot allocate 1125899906842624 bytes") &&
           contains(e.what(), "float32 tensor of shape (281474976710656,)");
  });
  // The session is still usable, and the variable was not left half made.
  BOOST_CHECK_THROW(s.run(w), AllocationError);
  BOOST_CHECK_THROW(s.initialize_variables(), AllocationError);
  Output one = scalar(g, 1.0, DType::float32, "one");
  BOOST_TEST(s.run(one).item<float>() == 1.0f);
}

BOOST_AUTO_TEST_CASE(names_must_be_well_formed_paths) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{2}, "x");
  int before = g.num_nodes();
  BOOST_CHECK_EXCEPTION(neg(x, "q:1"), GraphError,
                        [](const GraphError& e) { return contains(e.what(), "':'"); });
  BOOST_CHECK_THROW(neg(x, "a//b"), GraphError);
  BOOST_CHECK_THROW(neg(x, "trailing/"), GraphError);
  BOOST_CHECK_THROW(neg(x, "two\nlines"), GraphError);
  BOOST_CHECK_THROW((void)g.name_scope(""), GraphError);
  BOOST_CHECK_THROW((void)g.name_scope("x:0"), GraphError);
  BOOST_CHECK_EXCEPTION(neg(Output{&g, 1000, 0}), GraphError, [](const GraphError& e) {
    return contains(e.what(), "node 1000, which does not exist");
  });
  BOOST_TEST(g.num_nodes() == before);
  BOOST_TEST(neg(x, "outer/inner").name() == "outer/inner");
}

BOOST_AUTO_TEST_SUITE_END()

// ---- variables: identity by name, collections, operations, ordering, initialization ----------

namespace {
// The same small model each call: w (float32 {2}), y = x * w, and an update w += [10, 20].
struct Model {
  Output x, w, y, bump;
};
Model build_model(Graph& g, Shape w_shape = Shape{2}) {
  Model m;
  m.x = placeholder(g, DType::float32, w_shape, "x");
  m.w = variable(
      g,
      Tensor::from_vector<float>(
          w_shape, std::vector<float>(static_cast<std::size_t>(w_shape.num_elements()), 1.0f)),
      "w");
  m.y = mul(m.x, m.w, "y");
  m.bump = assign_add(
      m.w,
      constant(g, Tensor::from_vector<float>(
                      w_shape,
                      std::vector<float>(static_cast<std::size_t>(w_shape.num_elements()), 10.0f))),
      "bump");
  return m;
}
std::vector<float> floats(const Tensor& t) {
  return t.to_vector<float>();
}
// Requires-expressions must depend on a template parameter to test (not fail on) a call.
template <class T>
concept can_set_trainable_with = requires(Graph& g, Output v, T t) {
  g.set_trainable(v, t);
};
template <class H>
concept has_value_type = requires(H h) {
  h.dtype();
}
|| requires(H h) {
  h.shape();
};
template <class... Args>
concept can_initialize_with = requires(Session& s, Args... args) {
  s.initialize_variables(args...);
};
}  // namespace

BOOST_AUTO_TEST_SUITE(variable_identity)

BOOST_AUTO_TEST_CASE(rebind_keeps_values_by_name) {
  Graph g1, g2;
  Model m1 = build_model(g1);
  Session s(g1);
  s.initialize_variables();
  s.run_targets({m1.bump});
  s.run_targets({m1.bump});  // w = 1 + 10 + 10
  BOOST_TEST(s.num_cached_plans() == 1);
  // The same graph built again: other node ids would do; the name is the identity.
  (void)placeholder(g2, DType::float32, Shape{}, "shifts_the_ids");
  Model m2 = build_model(g2);
  BOOST_TEST(m2.w.node != m1.w.node);
  s.rebind(g2);
  BOOST_TEST(&s.graph() == &g2);
  BOOST_TEST(s.num_cached_plans() == 0);
  BOOST_TEST(s.is_initialized(m2.w));
  BOOST_TEST(floats(s.variable_value(m2.w)) == (std::vector<float>{21, 21}),
             boost::test_tools::per_element());
  Tensor y = s.run(m2.y, {{m2.x, Tensor::from_vector<float>({2}, {1, -2})}});
  BOOST_TEST(floats(y) == (std::vector<float>{21, -42}), boost::test_tools::per_element());
  // Outputs of the old graph are refused now.
  BOOST_CHECK_THROW(s.variable_value(m1.w), RunError);
}

BOOST_AUTO_TEST_CASE(rebind_onto_a_reloaded_graph_file) {
  Graph g;
  Model m = build_model(g);
  Session s(g);
  s.initialize_variables();
  s.run_targets({m.bump});  // w = 11
  auto dir =
      std::filesystem::temp_directory_path() / ("dagrad_rebind_" + std::to_string(::getpid()));
  save_graph(g, dir.string());
  std::unique_ptr<Graph> loaded = load_graph(dir.string(), g.registry());
  std::filesystem::remove_all(dir);
  s.rebind(*loaded);
  Output w = loaded->output("w");
  BOOST_TEST(floats(s.variable_value(w)) == (std::vector<float>{11, 11}),
             boost::test_tools::per_element());
  s.run_targets({loaded->output("bump")});
  BOOST_TEST(floats(s.variable_value(w)) == (std::vector<float>{21, 21}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(rebind_refuses_another_shape_and_keeps_absent_variables) {
  Graph g1, wrong, other;
  Model m1 = build_model(g1);
  Session s(g1);
  s.initialize_variables();
  s.run_targets({m1.bump});  // w = 11
  build_model(wrong, Shape{3});
  BOOST_CHECK_EXCEPTION(s.rebind(wrong), RunError, [](const RunError& e) {
    return contains(e.what(), "variable 'w'") && contains(e.what(), "(2,)") &&
           contains(e.what(), "(3,)");
  });
  BOOST_TEST(&s.graph() == &g1);  // nothing changed
  BOOST_TEST(floats(s.run(m1.w)) == (std::vector<float>{11, 11}), boost::test_tools::per_element());
  // A graph without w: w's value waits, unused, for a graph that has it.
  Output z = variable(other, Tensor::from_vector<float>({1}, {5}), "z");
  s.rebind(other);
  BOOST_TEST(!s.is_initialized(z));
  s.initialize_variables();
  BOOST_TEST(floats(s.variable_value(z)) == (std::vector<float>{5}),
             boost::test_tools::per_element());
  s.rebind(g1);
  BOOST_TEST(floats(s.variable_value(m1.w)) == (std::vector<float>{11, 11}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(variable_collections)

BOOST_AUTO_TEST_CASE(trainable_flag_and_collections_are_queryable) {
  Graph g;
  Tensor t = Tensor::from_vector<float>({1}, {0});
  Output a = variable(g, t, "a");
  Output mean = variable(
      g, t, VariableOptions{false, {std::string(collections::kNonTrainableState)}}, "moving_mean");
  Output slot = variable(
      g, t,
      {.trainable = false, .collections = {std::string(collections::kOptimizerSlots), "mine"}},
      "slot");
  Output b = variable(constant(g, t), VariableOptions{}, "b");
  BOOST_TEST((g.trainable_variables() == std::vector<Output>{a, b}));
  BOOST_TEST((g.variables_in(collections::kTrainable) == std::vector<Output>{a, b}));
  BOOST_TEST((g.variables_in(collections::kNonTrainableState) == std::vector<Output>{mean}));
  BOOST_TEST((g.variables_in(collections::kOptimizerSlots) == std::vector<Output>{slot}));
  BOOST_TEST((g.variables_in("mine") == std::vector<Output>{slot}));
  BOOST_TEST(g.variables_in("nothing_here").empty());
  BOOST_TEST(!g.variable_info(mean).trainable);
  // Freezing and unfreezing keep creation order.
  g.set_trainable(a, false);
  BOOST_TEST((g.trainable_variables() == std::vector<Output>{b}));
  g.set_trainable(mean, true);
  g.set_trainable(a, true);
  BOOST_TEST((g.trainable_variables() == std::vector<Output>{a, mean, b}));
  g.add_to_collection(b, "mine");
  g.add_to_collection(b, "mine");
  BOOST_TEST((g.variables_in("mine") == std::vector<Output>{slot, b}));
  // Only a bool binds to the flag (a string literal would convert to true).
  static_assert(can_set_trainable_with<bool>);
  static_assert(!can_set_trainable_with<const char*>);
  static_assert(!can_set_trainable_with<int>);
}

BOOST_AUTO_TEST_CASE(collection_errors_name_the_variable) {
  Graph g;
  Tensor t = Tensor::from_vector<float>({1}, {0});
  auto mentions = [](std::vector<std::string> parts) {
    return [parts](const GraphError& e) {
      for (const auto& p : parts)
        if (!contains(e.what(), p)) return false;
      return true;
    };
  };
  BOOST_CHECK_EXCEPTION(
      variable(g, t, {.collections = {std::string(collections::kTrainable)}}, "v1"), GraphError,
      mentions({"'v1'", "set_trainable"}));
  BOOST_CHECK_EXCEPTION(variable(g, t, {.collections = {"c", "c"}}, "v2"), GraphError,
                        mentions({"'v2'", "'c'", "twice"}));
  BOOST_CHECK_EXCEPTION(variable(g, t, {.collections = {""}}, "v3"), GraphError,
                        mentions({"'v3'", "empty"}));
  Output x = constant(g, t, "not_a_variable");
  BOOST_CHECK_EXCEPTION(g.set_trainable(x, false), GraphError,
                        mentions({"'not_a_variable'", "not a registered variable"}));
  Output v = variable(g, t, "v");
  BOOST_CHECK_EXCEPTION(g.add_to_collection(v, collections::kTrainable), GraphError,
                        mentions({"'v'"}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(operations)

BOOST_AUTO_TEST_CASE(group_is_an_operation_without_a_value) {
  static_assert(std::is_convertible_v<Output, Operation>);
  static_assert(!std::is_convertible_v<Operation, Output>);
  static_assert(has_value_type<Output>);
  static_assert(!has_value_type<Operation>);
  Graph g;
  Output v = variable(g, Tensor::from_vector<float>({1}, {1}), "v");
  Output inc = assign_add(v, constant(g, Tensor::from_vector<float>({1}, {2})), "inc");
  Operation step = group(g, {inc}, "step");
  BOOST_TEST(step.name() == "step");
  BOOST_TEST(step.producer().op->name == "group");
  Output after;
  {
    auto guard = g.control_dependencies({step});  // an Operation as a control dependency
    after = mul(v, constant(g, Tensor::from_vector<float>({1}, {10})), "after");
  }
  Session s(g);
  s.initialize_variables();
  s.run_targets({step});
  s.run_targets({step, inc});  // v = 1 + 2 + 2: one write per run, the target named twice
  BOOST_TEST(floats(s.variable_value(v)) == (std::vector<float>{5}),
             boost::test_tools::per_element());
  BOOST_TEST(floats(s.run(after)) == (std::vector<float>{70}),
             boost::test_tools::per_element());  // (5 + 2) * 10
  Plan& plan = s.compile({}, {step});
  plan.run({});
  BOOST_TEST(floats(s.variable_value(v)) == (std::vector<float>{9}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(read_write_order)

BOOST_AUTO_TEST_CASE(unordered_read_and_write_are_refused_at_compile_time) {
  Graph g;
  Output v = variable(g, Tensor::from_vector<float>({1}, {1}), "v");
  Output doubled = mul(v, constant(g, Tensor::from_vector<float>({1}, {2})), "doubled");
  Output bump = assign_add(v, constant(g, Tensor::from_vector<float>({1}, {3})), "bump");
  Session s(g);
  s.initialize_variables();
  auto names_all = [](const RunError& e) {
    return contains(e.what(), "variable 'v'") && contains(e.what(), "'doubled'") &&
           contains(e.what(), "'bump'") && contains(e.what(), "control_dependencies");
  };
  BOOST_CHECK_EXCEPTION(s.compile({doubled}, {bump}), RunError, names_all);
  BOOST_CHECK_EXCEPTION(s.run({doubled}, {}, {bump}), RunError, names_all);
  BOOST_TEST(s.num_cached_plans() == 0);
  // A read through the assign's aliasing output is ordered after that assign, but not after
  // another write.
  Output bump2 = assign_add(v, constant(g, Tensor::from_vector<float>({1}, {4})), "bump2");
  Output via_alias = mul(bump, constant(g, Tensor::from_vector<float>({1}, {5})), "via_alias");
  BOOST_CHECK_EXCEPTION(s.run({via_alias}, {}, {bump2}), RunError, [](const RunError& e) {
    return contains(e.what(), "'v'") && contains(e.what(), "'bump2'") &&
           contains(e.what(), "'bump'");
  });
  // Each alone is fine: v = 1 + 3, fetched via the alias times 5.
  BOOST_TEST(floats(s.run(via_alias)) == (std::vector<float>{20}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(ordered_reads_see_the_value_the_order_says) {
  Graph g;
  Output v = variable(g, Tensor::from_vector<float>({1}, {1}), "v");
  Output three = constant(g, Tensor::from_vector<float>({1}, {3}));
  Output two = constant(g, Tensor::from_vector<float>({1}, {2}));
  Output old_twice = mul(v, two, "old_twice");
  Output bump;
  {
    auto guard = g.control_dependencies({old_twice});
    bump = assign_add(v, three, "bump");
  }
  Output new_twice;
  {
    auto guard = g.control_dependencies({bump});
    new_twice = mul(v, two, "new_twice");
  }
  Session s(g);
  s.initialize_variables();
  // Run 1: old = 2 * 1, v = 4, new = 2 * 4; a fetched variable shows the end of the run.
  auto out = s.run({old_twice, new_twice, v, bump});
  BOOST_TEST(floats(out[0]) == (std::vector<float>{2}), boost::test_tools::per_element());
  BOOST_TEST(floats(out[1]) == (std::vector<float>{8}), boost::test_tools::per_element());
  BOOST_TEST(floats(out[2]) == (std::vector<float>{4}), boost::test_tools::per_element());
  BOOST_TEST(floats(out[3]) == (std::vector<float>{4}), boost::test_tools::per_element());
  // Run 2: old = 2 * 4, v = 7, new = 14.
  out = s.run({old_twice, new_twice});
  BOOST_TEST(floats(out[0]) == (std::vector<float>{8}), boost::test_tools::per_element());
  BOOST_TEST(floats(out[1]) == (std::vector<float>{14}), boost::test_tools::per_element());
  // Fetching a variable with a write is not a read: no ordering needed, the end value shows.
  BOOST_TEST(floats(s.run({v}, {}, {bump})[0]) == (std::vector<float>{10}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(two_writes_must_be_ordered) {
  Graph g;
  Output v = variable(g, Tensor::from_vector<float>({1}, {1}), "v");
  Output set5 = assign(v, constant(g, Tensor::from_vector<float>({1}, {5})), "set5");
  Output add1 = assign_add(v, constant(g, Tensor::from_vector<float>({1}, {1})), "add1");
  Operation both = group(g, {set5, add1}, "both");
  Session s(g);
  s.initialize_variables();
  BOOST_CHECK_EXCEPTION(s.run_targets({both}), RunError, [](const RunError& e) {
    return contains(e.what(), "variable 'v'") && contains(e.what(), "'set5'") &&
           contains(e.what(), "'add1'") && contains(e.what(), "written by");
  });
  Output add1_after;
  {
    auto guard = g.control_dependencies({set5});
    add1_after = assign_add(v, constant(g, Tensor::from_vector<float>({1}, {1})), "add1_after");
  }
  s.run_targets({group(g, {set5, add1_after})});
  BOOST_TEST(floats(s.variable_value(v)) == (std::vector<float>{6}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(the_readme_training_step_compiles_and_reads_before_writing) {
  // README "Gradients": one dense layer, fetch the loss and run the update in one plan.
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 2}, "x");
  Output labels = placeholder(g, DType::int64, Shape{-1}, "labels");
  Output kernel = variable(
      g, Tensor::from_vector<float>({2, 3}, {0.1f, -0.2f, 0.3f, 0.4f, 0.5f, -0.6f}), "kernel");
  Output bias = variable(g, Tensor::from_vector<float>({3}, {0, 0.1f, -0.1f}), "bias");
  Output logits = matmul(x, kernel) + bias;
  Output loss = neg(mean(sum(one_hot(labels, 3) * log_softmax(logits), {1})));
  std::vector<Output> grads = gradients(loss, {kernel, bias});
  Operation step = group(g, {assign_sub(kernel, 0.1 * grads[0]), assign_sub(bias, 0.1 * grads[1])});
  Session s(g);
  s.initialize_variables();
  std::vector<Feed> feeds{{x, Tensor::from_vector<float>({2, 2}, {1, 2, -1, 0.5f})},
                          {labels, Tensor::from_vector<std::int64_t>({2}, {2, 0})}};
  float before = s.run(loss, feeds).item<float>();
  // The loss fetched with the step is computed from the weights before the update.
  float with_step = s.run({loss}, feeds, {step})[0].item<float>();
  BOOST_TEST(with_step == before, boost::test_tools::tolerance(0.0f));
  BOOST_TEST(s.run(loss, feeds).item<float>() < before);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(initialization)

BOOST_AUTO_TEST_CASE(initializing_caches_no_plans) {
  Graph g;
  Output a = variable(g, Tensor::from_vector<float>({2}, {1, 2}), "a");
  Output b = variable(a * 3.0, "b");
  Output c = variable(b + a, "c");
  Session s(g);
  s.initialize_variables();
  BOOST_TEST(s.num_cached_plans() == 0);
  BOOST_TEST(floats(s.variable_value(c)) == (std::vector<float>{4, 8}),
             boost::test_tools::per_element());
  s.initialize_variables();
  BOOST_TEST(s.num_cached_plans() == 0);
  static_assert(can_initialize_with<>);
  static_assert(!can_initialize_with<const char*>);  // no bool parameter a string could bind to
  static_assert(!can_initialize_with<bool>);
}

BOOST_AUTO_TEST_CASE(only_uninitialized_variables_are_initialized) {
  Graph g;
  Output a = variable(g, Tensor::from_vector<float>({2}, {1, 2}), "a");
  Output b = variable(a * 3.0, "b");
  Session s(g);
  s.set_variable_value(a, Tensor::from_vector<float>({2}, {5, -1}));
  s.initialize_uninitialized_variables();
  BOOST_TEST(s.num_cached_plans() == 0);
  BOOST_TEST(floats(s.variable_value(a)) == (std::vector<float>{5, -1}),
             boost::test_tools::per_element());
  BOOST_TEST(floats(s.variable_value(b)) == (std::vector<float>{15, -3}),
             boost::test_tools::per_element());
  s.initialize_variables();
  BOOST_TEST(floats(s.variable_value(a)) == (std::vector<float>{1, 2}),
             boost::test_tools::per_element());
  BOOST_TEST(floats(s.variable_value(b)) == (std::vector<float>{3, 6}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(variables_added_later_or_after_a_rollback_are_initialized) {
  // The session remembers how many variables it has initialized; variables added after, and a
  // variable that takes a rolled-back one's place in the list, must still be initialized.
  Graph g;
  Output a = variable(g, Tensor::from_vector<float>({2}, {1, 2}), "a");
  Session s(g);
  s.initialize_uninitialized_variables();
  Output b = variable(g, Tensor::from_vector<float>({2}, {3, 4}), "b");
  s.initialize_uninitialized_variables();
  BOOST_TEST(floats(s.variable_value(b)) == (std::vector<float>{3, 4}),
             boost::test_tools::per_element());
  {
    Graph::Checkpoint before = g.checkpoint();
    Output c = variable(g, Tensor::from_vector<float>({2}, {5, 6}), "c");
    s.initialize_uninitialized_variables();
    BOOST_TEST(s.is_initialized(c));
    g.rollback(before);
  }
  Output d = variable(g, Tensor::from_vector<float>({2}, {7, 8}), "d");  // index 2, as c was
  BOOST_TEST(!s.is_initialized(d));
  s.initialize_uninitialized_variables();
  BOOST_TEST(floats(s.variable_value(d)) == (std::vector<float>{7, 8}),
             boost::test_tools::per_element());
  BOOST_TEST(floats(s.variable_value(a)) == (std::vector<float>{1, 2}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(zero_output_ops)

namespace {
double g_effect_total = 0;
void add_to_total(KernelContext& c) {
  g_effect_total += *c.input(0).data<float>();
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_zero_output_op_with_a_kernel_runs) {
  OpRegistry r;
  register_state_ops(r);
  OpRecord effect;
  effect.name = "add_to_total";
  effect.input_names = {"x"};
  effect.output_names = {};
  effect.dispatch_input = 0;
  effect.shape_fn = [](ShapeContext&) {};
  effect.kernels[static_cast<std::size_t>(DType::float32)] = add_to_total;
  effect.stateful = true;
  effect.not_differentiable_reason = "has no outputs";
  r.add(effect);
  Graph g(r);
  Output x = constant(g, Tensor::from_vector<float>({1}, {2.5f}));
  BOOST_TEST(g.add_node("add_to_total", {x}).empty());
  Operation op(&g, g.num_nodes() - 1);
  Operation both = group(g, {op});
  Session s(g);
  g_effect_total = 0;
  s.run_targets({op});
  s.run_targets({both});  // group itself has no kernel and only orders
  BOOST_TEST(g_effect_total == 5.0);
  // Without an input to dispatch on, the kernel could never be chosen: refused at registration.
  OpRecord no_dispatch = effect;
  no_dispatch.name = "no_dispatch";
  no_dispatch.dispatch_input = -1;
  BOOST_CHECK_EXCEPTION(r.add(no_dispatch), GraphError, [](const GraphError& e) {
    return contains(e.what(), "'no_dispatch'") && contains(e.what(), "no outputs");
  });
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(random_states)

// Saving the generators after one draw and restoring them into a fresh session over the same
// graph makes the fresh session draw what the first one draws next.
BOOST_AUTO_TEST_CASE(restored_generators_continue_the_stream) {
  Graph g;
  g.set_seed(7);
  Output u = random_uniform(g, Shape{4}, 0.0, 1.0, DType::float64, 0, "u");
  Output n = random_normal(g, Shape{3}, 0.0, 1.0, DType::float64, 5, "n");
  Session first(g);
  first.run({u, n});
  std::map<std::string, std::string> saved = first.random_states();
  BOOST_TEST(saved.size() == 2u);
  BOOST_TEST(saved.count("u") == 1u);
  std::vector<Tensor> expected = first.run({u, n});

  Session second(g);
  std::vector<Tensor> fresh = second.run({u, n});  // compiles the plan: pointers to the generators
  BOOST_TEST(fresh[0].to_vector<double>() != expected[0].to_vector<double>());
  second.set_random_states(saved);
  std::vector<Tensor> resumed = second.run({u, n});
  BOOST_TEST(resumed[0].to_vector<double>() == expected[0].to_vector<double>(), boost::test_tools::per_element());
  BOOST_TEST(resumed[1].to_vector<double>() == expected[1].to_vector<double>(), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(bad_states_are_refused_and_change_nothing) {
  Graph g;
  Output u = random_uniform(g, Shape{2}, 0.0, 1.0, DType::float64, 0, "u");
  Output c = constant(g, Tensor::scalar<double>(1.0), "c");
  Session s(g);
  s.run(u);
  std::map<std::string, std::string> saved = s.random_states();
  BOOST_CHECK_THROW(s.set_random_states({{"c", saved["u"]}}), RunError);
  BOOST_CHECK_THROW(s.set_random_states({{"missing", saved["u"]}}), RunError);
  BOOST_CHECK_THROW(s.set_random_states({{"u", "not a state"}}), RunError);
  (void)c;
  // After the refusals the stream is where it was: it matches a session that drew once too.
  Session other(g);
  other.run(u);
  BOOST_TEST(s.run(u).to_vector<double>() == other.run(u).to_vector<double>(), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

// Steps whose value depends only on constants and variables the plan never writes run once and
// are reused until one of those variables is written, by whatever means.
BOOST_AUTO_TEST_SUITE(hoisted_steps)

// y = x * exp(v) + 1 with v a variable: exp(v) is invariant, x * ... is not.
struct ExpScaled {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{-1, 2}, "x");
  Output v = variable(g, Tensor::from_vector<double>({2}, {0.5, -1}), "v");
  Output scale = exp(v, "scale");
  Output y = x * scale + 1.0;
  Output bump = assign_add(v, constant(g, Tensor::from_vector<double>({2}, {1, 1})), "bump");
  Tensor batch = Tensor::from_vector<double>({2, 2}, {1, 2, -3, 4});
  // y by hand for v = (a, b).
  std::vector<double> expected(double a, double b) const {
    return {1 * std::exp(a) + 1, 2 * std::exp(b) + 1, -3 * std::exp(a) + 1, 4 * std::exp(b) + 1};
  }
  static void check(const Tensor& t, const std::vector<double>& want) {
    std::vector<double> got = t.to_vector<double>();
    BOOST_TEST_REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i)
      BOOST_TEST(std::abs(got[i] - want[i]) <= 1e-14 * std::abs(want[i]), "element " << i);
  }
};

BOOST_FIXTURE_TEST_CASE(invariant_steps_run_once_until_a_variable_is_written, ExpScaled) {
  Session s(g);
  s.initialize_variables();
  Plan& plan = s.compile({y}, {}, {x});
  BOOST_TEST(plan.hoisted_steps() >= 1);
  for (int i = 0; i < 3; ++i) check(plan.run({&batch, 1}).at(0), expected(0.5, -1));
  BOOST_TEST(plan.hoisted_computations() == 1);
  // Another batch size (a second binding) keeps the hoisted value.
  Tensor one = Tensor::from_vector<double>({1, 2}, {2, 2});
  Tensor r = plan.run({&one, 1}).at(0);
  BOOST_TEST(std::abs(r.to_vector<double>()[0] - (2 * std::exp(0.5) + 1)) < 1e-14);
  BOOST_TEST(plan.hoisted_computations() == 1);
  // The user sets the variable: the next run recomputes, once.
  s.set_variable_value(v, Tensor::from_vector<double>({2}, {0, 2}));
  check(plan.run({&batch, 1}).at(0), expected(0, 2));
  check(plan.run({&batch, 1}).at(0), expected(0, 2));
  BOOST_TEST(plan.hoisted_computations() == 2);
  // Another plan writes it (v += 1).
  s.run_targets({bump});
  check(plan.run({&batch, 1}).at(0), expected(1, 3));
  BOOST_TEST(plan.hoisted_computations() == 3);
  // Initializers write it back.
  s.initialize_variables();
  check(plan.run({&batch, 1}).at(0), expected(0.5, -1));
  BOOST_TEST(plan.hoisted_computations() == 4);
}

BOOST_FIXTURE_TEST_CASE(a_checkpoint_restore_invalidates_hoisted_values, ExpScaled) {
  Session s(g);
  s.initialize_variables();
  auto dir =
      std::filesystem::temp_directory_path() / ("dagrad_hoisted_" + std::to_string(::getpid()));
  save_checkpoint(s, dir.string());
  s.run_targets({bump});
  check(s.run(y, {{x, batch}}), expected(1.5, 0));
  restore_checkpoint(s, dir.string());
  check(s.run(y, {{x, batch}}), expected(0.5, -1));
  std::filesystem::remove_all(dir);
}

BOOST_FIXTURE_TEST_CASE(a_plan_that_writes_a_variable_does_not_hoist_its_reads, ExpScaled) {
  Session s(g);
  s.initialize_variables();
  // x exp(v) + 1 after v += 1 in the same plan: exp(v) must see each run's write.
  Plan& plan = [&]() -> Plan& {
    auto guard = g.control_dependencies({bump});
    Output read = x * exp(v) + 1.0;
    return s.compile({read}, {}, {x});
  }();
  BOOST_TEST(plan.hoisted_steps() == 0);
  check(plan.run({&batch, 1}).at(0), expected(1.5, 0));
  check(plan.run({&batch, 1}).at(0), expected(2.5, 1));
}

BOOST_AUTO_TEST_SUITE_END()

// Session::set_stream_offset: the ranks of a data-parallel job draw streams of their own.
BOOST_AUTO_TEST_SUITE(stream_offset)

BOOST_AUTO_TEST_CASE(offset_zero_changes_nothing_and_others_draw_other_streams) {
  Graph g;
  g.set_seed(5);
  Output r = random_uniform(g, Shape{8});
  auto draw = [&](std::uint64_t offset, bool set_before_first_draw) {
    Session s(g);
    if (set_before_first_draw) s.set_stream_offset(offset);
    Tensor first = s.run(r);
    if (!set_before_first_draw) s.set_stream_offset(offset);
    Tensor second = s.run(r);
    return std::make_pair(first.to_vector<float>(), second.to_vector<float>());
  };
  auto plain = draw(0, true);
  BOOST_TEST((draw(0, false) == plain));
  auto rank1 = draw(1, true), rank2 = draw(2, true);
  BOOST_TEST((rank1.first != plain.first));
  BOOST_TEST((rank2.first != rank1.first));
  BOOST_TEST((draw(1, true) == rank1));  // repeatable
  // Set after a draw (a generator restored from a checkpoint): the next draw leaves the stream.
  auto late = draw(1, false);
  BOOST_TEST((late.first == plain.first));
  BOOST_TEST((late.second != plain.second));
}

BOOST_AUTO_TEST_SUITE_END()
