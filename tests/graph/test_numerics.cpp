// The numerics guard (Session::set_check_numerics, graph/numerics.cpp): which node it names, what
// it says of the inputs, and that a failed run leaves every variable as it was.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "dagrad/dagrad.hpp"

using namespace dagrad;

namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// The message of the NumericsError that running `fetch` throws (empty when none is thrown).
std::string numerics_error(Session& session, Output fetch, const std::vector<Feed>& feeds) {
  try {
    session.run(fetch, feeds);
  } catch (const NumericsError& e) {
    return e.what();
  }
  return "";
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(numerics)

BOOST_AUTO_TEST_CASE(log_of_a_negative_feed_names_the_log_node_and_its_input) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{4}, "x");
  const int line = __LINE__ + 1;
  Output y = log(x, "the_log");
  Output z = exp(y) * 2.0;
  Session session(g);
  session.set_check_numerics(true);
  Tensor feed = Tensor::from_vector<float>({4}, {1.0f, -2.0f, 3.0f, 0.5f});
  std::string message = numerics_error(session, z, {{x, feed}});
  BOOST_TEST_REQUIRE(!message.empty());
  BOOST_TEST(contains(message, "node 'the_log' (op log, created at "), message);
  BOOST_TEST(contains(message, "test_numerics.cpp:" + std::to_string(line)), message);
  // log(-2) is NaN: one of the output's 4 values; the input's figures over its 4 finite values.
  BOOST_TEST(contains(message, "output 0 (float32 (4,) min "), message);
  BOOST_TEST(contains(message, "1 non-finite (1 nan, 0 +inf, 0 -inf)"), message);
  BOOST_TEST(contains(message, "0 'x': float32 (4,) min -2 max 3, 0 non-finite"), message);
  BOOST_TEST(std::count(message.begin(), message.end(), '\n') == 0);
}

BOOST_AUTO_TEST_CASE(off_by_default_nan_propagates) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{4}, "x");
  Output z = exp(log(x)) * 2.0;
  Session session(g);
  BOOST_TEST(!session.check_numerics());
  Tensor out = session.run(z, {{x, Tensor::from_vector<float>({4}, {1.0f, -2.0f, 3.0f, 0.5f})}});
  std::vector<float> v = out.to_vector<float>();
  BOOST_TEST(std::isnan(v[1]));
  BOOST_TEST(v[0] == 2.0f);  // exp(log 1) * 2
  // Off again after on: the same run passes.
  session.set_check_numerics(true);
  session.set_check_numerics(false);
  BOOST_TEST(std::isnan(session.run(z, {{x, Tensor::from_vector<float>({4}, {1, -2, 3, 4})}})
                            .to_vector<float>()[1]));
}

// The default pipeline fuses this chain into one fused_elementwise node; the guard's plans do
// not fuse, so the error names the op of the user's graph that made the Inf.
BOOST_AUTO_TEST_CASE(fused_chains_are_checked_op_by_op) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 3}, "x");
  Output d = placeholder(g, DType::float32, Shape{-1, 3}, "d");
  Output q = x / d;
  Output z = tanh(square(q) + 1.0, "squash");
  Session session(g);
  Plan& fused = session.compile({z}, {}, {x, d});
  bool has_fused = false;
  for (int id : fused.schedule())
    has_fused = has_fused || fused.plan_graph().node(id).op->name == "fused_elementwise";
  BOOST_TEST_REQUIRE(has_fused);  // otherwise this test would not test fusion
  session.set_check_numerics(true);
  Plan& guarded = session.compile({z}, {}, {x, d});
  for (int id : guarded.schedule())
    BOOST_TEST(guarded.plan_graph().node(id).op->name != "fused_elementwise");
  Tensor ones = Tensor::from_vector<float>({2, 3}, {1, 1, 1, 1, 1, 1});
  Tensor with_zero = Tensor::from_vector<float>({2, 3}, {1, 1, 0, 1, 1, 1});
  BOOST_TEST(numerics_error(session, z, {{x, ones}, {d, ones}}).empty());
  std::string message = numerics_error(session, z, {{x, ones}, {d, with_zero}});
  BOOST_TEST(contains(message, "(op div, created at "), message);
  BOOST_TEST(contains(message, "1 non-finite (0 nan, 1 +inf, 0 -inf)"), message);
  BOOST_TEST(contains(message, "1 'd': float32 (2, 3) min 0 max 1, 0 non-finite"), message);
}

// A step writes v, then overflows w in place (assign_add of two finite numbers): both variables
// get back the bits they had before the run, and a later good run starts from them.
BOOST_AUTO_TEST_CASE(a_failed_step_leaves_every_variable_as_it_was) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{2}, "x");
  Output v = variable(g, Tensor::from_vector<float>({2}, {0.25f, -1.5f}), "v");
  Output w = variable(g, Tensor::from_vector<float>({2}, {3e38f, 1.0f}), "w");
  Output v_new = assign_add(v, x, "v_update");  // written first
  Output w_new = assign_add(w, v_new * 1e38, "w_update");
  Session session(g);
  session.initialize_variables();
  session.set_check_numerics(true);
  Tensor v0 = session.variable_value(v), w0 = session.variable_value(w);
  // v becomes (1.25, -0.5); w[0] = 3e38 + 1.25e38 overflows to +inf in w_update.
  std::string message = numerics_error(session, w_new, {{x, Tensor::from_vector<float>({2}, {1, 1})}});
  BOOST_TEST(contains(message, "node 'w_update' (op assign_add"), message);
  BOOST_TEST(contains(message, "output 0 (float32 (2,) min "), message);  // it aliases w
  BOOST_TEST(contains(message, "(0 nan, 1 +inf, 0 -inf)"), message);
  BOOST_TEST(contains(message, "0 'w' before the write: float32 (2,) min 1 max 3e+38, 0 non-finite"),
             message);
  BOOST_TEST(same_bits(session.variable_value(v), v0));
  BOOST_TEST(same_bits(session.variable_value(w), w0));
  // A good run from there: v = (0.25 - 0.25, -1.5 - 0.25), w += v * 1e38.
  Tensor w1 = session.run(w_new, {{x, Tensor::from_vector<float>({2}, {-0.25f, -0.25f})}});
  std::vector<float> expect_w = {3e38f + 0.0f * 1e38f, 1.0f + (-1.75f * 1e38f)};
  BOOST_TEST(w1.to_vector<float>() == expect_w);
  BOOST_TEST(session.variable_value(v).to_vector<float>() == (std::vector<float>{0.0f, -1.75f}));
}

// A value hoisted out of the run (computed from a variable the plan does not write) is computed
// again after another plan's run that writes the variable failed: its version stays bumped.
BOOST_AUTO_TEST_CASE(hoisted_values_are_recomputed_after_a_failed_writing_run) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{1}, "x");
  Output w = variable(g, Tensor::from_vector<float>({1}, {2.0f}), "w");
  Output scaled = x * exp(w);  // exp(w) is invariant in this plan: hoisted
  Output w_new = assign_add(w, log(x), "w_update");
  Session session(g);
  session.initialize_variables();
  session.set_check_numerics(true);
  Plan& read = session.compile({scaled}, {}, {x});
  Tensor one = Tensor::from_vector<float>({1}, {1.0f});
  BOOST_TEST(read.run(std::vector<Tensor>{one})[0].item<float>() == std::exp(2.0f));
  BOOST_TEST(read.hoisted_steps() > 0);
  BOOST_TEST(numerics_error(session, w_new, {{x, Tensor::from_vector<float>({1}, {-1.0f})}}) != "");
  const int before = read.hoisted_computations();
  BOOST_TEST(read.run(std::vector<Tensor>{one})[0].item<float>() == std::exp(2.0f));
  BOOST_TEST(read.hoisted_computations() == before + 1);  // the restore counts as a write
}

BOOST_AUTO_TEST_SUITE_END()
