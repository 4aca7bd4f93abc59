// Buffer reuse in compiled plans (Plan::bound_bytes, Session::set_buffer_reuse): values are the
// same as with a buffer per step output, a value is never overwritten before its last reader,
// fetched values stay intact, copies become views, and the bytes drop to what liveness allows.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>

#include "dagrad/dagrad.hpp"

using namespace dagrad;

namespace {

OptimizerOptions no_passes() {
  OptimizerOptions o;
  o.optimize = false;
  return o;
}

Tensor input34() {
  return Tensor::from_vector<float>(
      {3, 4}, {0.5f, -1.0f, 2.0f, 0.25f, 1.5f, -0.75f, 0.0f, 3.0f, -2.0f, 1.0f, 0.125f, -0.5f});
}

// Runs fetches with buffer reuse on and off; returns (reuse on results, off results) and the
// plans' bound bytes.
struct Both {
  std::vector<Tensor> on, off;
  std::size_t on_bytes = 0, off_bytes = 0;
  int on_views = 0;
};
Both run_both(Graph& g, const std::vector<Output>& fetches, Output x, const Tensor& value,
              const OptimizerOptions& options = no_passes()) {
  Both r;
  Session on(g), off(g);
  on.set_optimizer_options(options);
  off.set_optimizer_options(options);
  off.set_buffer_reuse(false);
  BOOST_TEST(on.buffer_reuse());
  BOOST_TEST(!off.buffer_reuse());
  on.initialize_variables();
  off.initialize_variables();
  r.on = on.run(fetches, {{x, value}});
  r.off = off.run(fetches, {{x, value}});
  Plan& a = on.compile(fetches, {}, {x});
  Plan& b = off.compile(fetches, {}, {x});
  r.on_bytes = a.bound_bytes();
  r.off_bytes = b.bound_bytes();
  r.on_views = a.view_steps();
  BOOST_TEST(b.view_steps() == 0);
  return r;
}

bool identical(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(memory_plan)

// x -> a = neg -> b = exp -> c = square -> d = c * 3: each value is read only by the next step,
// so two buffers alternate: a, b fresh; c takes a's (free after b); d (fetched) takes b's.
BOOST_AUTO_TEST_CASE(a_chain_alternates_two_buffers) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{3, 4}, "x");
  Output d = mul(square(exp(neg(x))), constant(g, Tensor::scalar<float>(3.0f)), "d");
  Tensor in = input34();
  Both r = run_both(g, {d}, x, in);
  BOOST_TEST(identical(r.on[0], r.off[0]));
  for (int i = 0; i < 12; ++i) {
    double v = in.data<float>()[i];
    BOOST_TEST(r.on[0].data<float>()[i] == 3.0 * std::exp(-2.0 * v),
               boost::test_tools::tolerance(1e-5));
  }
  BOOST_TEST(r.off_bytes == 48u * 5);  // the feed and four step outputs of 12 floats
  BOOST_TEST(r.on_bytes == 48u * 3);   // the feed and two buffers
}

// a = neg(x) is read by b = exp(a) and, two steps later, by d = a + c: c = square(b) must not
// take a's buffer (nothing is free then: b is c's own input, which square may not write over).
BOOST_AUTO_TEST_CASE(a_value_read_twice_lives_until_its_last_reader) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{3, 4}, "x");
  Output a = neg(x, "a");
  Output c = square(exp(a, "b"), "c");
  Output d = add(a, c, "d");
  Tensor in = input34();
  Both r = run_both(g, {d}, x, in);
  BOOST_TEST(identical(r.on[0], r.off[0]));
  for (int i = 0; i < 12; ++i) {
    double v = in.data<float>()[i];
    BOOST_TEST(r.on[0].data<float>()[i] == -v + std::exp(-2.0 * v),
               boost::test_tools::tolerance(1e-5));
  }
  // a, b, c live at once (c reads b; a waits for d), d takes b's buffer: feed + 3 buffers.
  BOOST_TEST(r.off_bytes == 48u * 5);
  BOOST_TEST(r.on_bytes == 48u * 4);
}

// Fetching an intermediate keeps its buffer out of the pool, so later steps cannot overwrite it.
BOOST_AUTO_TEST_CASE(a_fetched_intermediate_stays_intact) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{3, 4}, "x");
  Output a = neg(x, "a");
  Output d = exp(square(exp(a)), "d");  // without the fetch, the last exp could reuse a's buffer
  Tensor in = input34();
  Both r = run_both(g, {a, d}, x, in);
  BOOST_TEST(identical(r.on[0], r.off[0]));
  BOOST_TEST(identical(r.on[1], r.off[1]));
  for (int i = 0; i < 12; ++i) BOOST_TEST(r.on[0].data<float>()[i] == -in.data<float>()[i]);
  // a (pinned), exp(a), square takes a fresh one (exp's is its input), d takes exp's.
  BOOST_TEST(r.on_bytes == 48u * 4);
  BOOST_TEST(r.off_bytes == 48u * 5);
}

// A smaller value reuses a larger free buffer (best fit), viewed with its own shape.
BOOST_AUTO_TEST_CASE(a_smaller_value_takes_a_larger_free_buffer) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{3, 4}, "x");
  Output e = exp(neg(x));              // 12 floats; neg's buffer frees after exp
  Output s = sum(e, {1}, false, "s");  // 3 floats: takes neg's buffer
  Output t = neg(s, "t");              // 3 floats: takes exp's buffer (freed after s)
  Tensor in = input34();
  Both r = run_both(g, {t}, x, in);
  BOOST_TEST(identical(r.on[0], r.off[0]));
  for (int row = 0; row < 3; ++row) {
    double want = 0;
    for (int j = 0; j < 4; ++j) want += std::exp(-double(in.data<float>()[row * 4 + j]));
    BOOST_TEST(r.on[0].data<float>()[row] == -want, boost::test_tools::tolerance(1e-5));
  }
  BOOST_TEST(r.off_bytes == 48u * 3 + 12u * 2);
  BOOST_TEST(r.on_bytes == 48u * 3);
}

// reshape and identity of a step output are views (their kernels skipped); of a variable, copies.
BOOST_AUTO_TEST_CASE(copies_of_step_outputs_are_views) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{3, 4}, "x");
  Output w = variable(g, Tensor::from_vector<float>({4, 3}, std::vector<float>(12, 2.0f)), "w");
  Output e = exp(x, "e");
  Output r1 = identity(reshape(e, {4, 3}, "r"), "i");
  Output y = add(r1, reshape(w, {4, 3}), "y");  // reshape(w): a copy, w is a variable
  Tensor in = input34();
  Both r = run_both(g, {y}, x, in);
  BOOST_TEST(identical(r.on[0], r.off[0]));
  BOOST_TEST(r.on[0].shape() == (Shape{4, 3}));
  for (int i = 0; i < 12; ++i)
    BOOST_TEST(r.on[0].data<float>()[i] == std::exp(double(in.data<float>()[i])) + 2.0,
               boost::test_tools::tolerance(1e-5));
  BOOST_TEST(r.on_views == 2);  // reshape(e) and identity, not reshape(w)
  // Without reuse: feed, e, r, i, y. With: feed, e (viewed twice), y. reshape(w) depends on a
  // variable only: a hoisted step, whose buffer is the plan's own (not in bound_bytes).
  BOOST_TEST(r.off_bytes == 48u * 5);
  BOOST_TEST(r.on_bytes == 48u * 3);
}

// A view's source lives as long as the view: the step after the reshape cannot take its buffer.
BOOST_AUTO_TEST_CASE(a_view_keeps_its_source_alive) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{3, 4}, "x");
  Output e = exp(x, "e");
  Output v = reshape(e, {12}, "v");  // view of e; e itself is not read again
  Output n = neg(x, "n");            // must not take e's buffer: v still reads it
  Output y = add(v, reshape(n, {12}), "y");
  Tensor in = input34();
  Both r = run_both(g, {y}, x, in);
  BOOST_TEST(identical(r.on[0], r.off[0]));
  for (int i = 0; i < 12; ++i) {
    double val = in.data<float>()[i];
    BOOST_TEST(r.on[0].data<float>()[i] == std::exp(val) - val, boost::test_tools::tolerance(1e-5));
  }
}

// fused_elementwise writes over a full-shape input it reads last: sum's output here.
BOOST_AUTO_TEST_CASE(fused_nodes_write_in_place_over_their_last_input) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{3, 4}, "x");
  Output s = sum(x, {1}, false, "s");
  Output t = neg(exp(s), "t");  // fused into one node reading s
  OptimizerOptions opts;        // the default pipeline
  Tensor in = input34();
  Both r = run_both(g, {t}, x, in, opts);
  Session check(g);
  Plan& plan = check.compile({t}, {}, {x});
  bool fused = false;
  for (int id : plan.schedule())
    fused = fused || plan.plan_graph().node(id).op->name == "fused_elementwise";
  BOOST_TEST_REQUIRE(fused);
  BOOST_TEST(identical(r.on[0], r.off[0]));
  for (int row = 0; row < 3; ++row) {
    double want = 0;
    for (int j = 0; j < 4; ++j) want += in.data<float>()[row * 4 + j];
    BOOST_TEST(r.on[0].data<float>()[row] == -std::exp(want), boost::test_tools::tolerance(1e-5));
  }
  BOOST_TEST(r.off_bytes == 48u + 12u * 2);
  BOOST_TEST(r.on_bytes == 48u + 12u);  // the fused output is s's buffer
}

// sum_to is a view only when it sums nothing at run time.
BOOST_AUTO_TEST_CASE(sum_to_is_a_view_only_when_shapes_match) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 4}, "x");
  Output like = placeholder(g, DType::float32, Shape{-1, 4}, "like");
  Output y = neg(sum_to(exp(x), like), "y");
  Session s(g);
  s.set_optimizer_options(no_passes());
  Tensor in = input34();
  Tensor same(DType::float32, Shape{3, 4}), row(DType::float32, Shape{1, 4});
  Plan& plan = s.compile({y}, {}, {x, like});
  std::vector<Tensor> a = plan.run(std::vector<Tensor>{in, same});
  BOOST_TEST(plan.view_steps() == 1);
  for (int i = 0; i < 12; ++i)
    BOOST_TEST(a[0].data<float>()[i] == -std::exp(double(in.data<float>()[i])),
               boost::test_tools::tolerance(1e-5));
  std::vector<Tensor> b = plan.run(std::vector<Tensor>{in, row});
  BOOST_TEST(plan.view_steps() == 0);
  for (int j = 0; j < 4; ++j) {
    double want = 0;
    for (int i = 0; i < 3; ++i) want += std::exp(double(in.data<float>()[i * 4 + j]));
    BOOST_TEST(b[0].data<float>()[j] == -want, boost::test_tools::tolerance(1e-5));
  }
  // Switching back finds the first binding, views and all.
  std::vector<Tensor> c = plan.run(std::vector<Tensor>{in, same});
  BOOST_TEST(plan.view_steps() == 1);
  BOOST_TEST(identical(a[0], c[0]));
  BOOST_TEST(plan.allocations() == 2);
}

// Bindings keep their own pools: a smaller last batch and back, with the right bytes each time.
BOOST_AUTO_TEST_CASE(bindings_switch_with_their_own_buffers) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 4}, "x");
  Output d = mul(square(exp(neg(x))), constant(g, Tensor::scalar<float>(3.0f)), "d");
  Session s(g);
  s.set_optimizer_options(no_passes());
  Plan& plan = s.compile({d}, {}, {x});
  Tensor big = input34();
  Tensor small = Tensor::from_vector<float>({1, 4}, {1.0f, 2.0f, 3.0f, 4.0f});
  Tensor first = plan.run(std::vector<Tensor>{big})[0];
  BOOST_TEST(plan.bound_bytes() == 48u * 3);
  Tensor second = plan.run(std::vector<Tensor>{small})[0];
  BOOST_TEST(plan.bound_bytes() == 16u * 3);
  for (int i = 0; i < 4; ++i)
    BOOST_TEST(second.data<float>()[i] == 3.0 * std::exp(-2.0 * (i + 1)),
               boost::test_tools::tolerance(1e-5));
  Tensor third = plan.run(std::vector<Tensor>{big})[0];
  BOOST_TEST(plan.bound_bytes() == 48u * 3);
  BOOST_TEST(identical(first, third));
  BOOST_TEST(plan.allocations() == 2);
}

BOOST_AUTO_TEST_SUITE_END()
