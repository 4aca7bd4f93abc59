// Forward tests of the state and structure ops (ops/state.cpp): placeholder feeds and their
// checks, constant and scalar, variables and their initialization, the assign family (in place,
// persistent across runs), identity, stop_gradient, group, and control dependencies.
#include <algorithm>
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "dagrad/dagrad.hpp"
#include "ops/op_test_util.hpp"

namespace bdata = boost::unit_test::data;
using namespace dagrad;
using namespace dagrad::testing;

namespace {

// Exact comparison: every value in these tests is exactly representable in its dtype.
void check_values(const Tensor& got, const std::vector<double>& expected,
                  const std::string& context) {
  BOOST_TEST_REQUIRE(got.size() == static_cast<std::int64_t>(expected.size()), context << ": size");
  for (std::size_t i = 0; i < expected.size(); ++i)
    BOOST_TEST(got.value_as_double(static_cast<std::int64_t>(i)) == expected[i],
               context << " element " << i);
}

const std::vector<DType> kAllDTypes = {DType::float32, DType::float64, DType::int32, DType::int64,
                                       DType::boolean};
const std::vector<DType> kNumericDTypes = {DType::float32, DType::float64, DType::int32,
                                           DType::int64};

// The three assign ops, for data-driven checks of what they share.
struct AssignCase {
  std::string op;
  std::function<Output(Output, Output, OpName)> build;
  // The variable's value after one run, from its old value v and the assigned value x.
  std::function<double(double, double)> update;
};
std::ostream& operator<<(std::ostream& os, const AssignCase& c) {
  return os << c.op;
}

std::vector<AssignCase> assign_cases() {
  return {
      {"assign", [](Output v, Output x, OpName n) { return assign(v, x, n); },
       [](double, double x) { return x; }},
      {"assign_add", [](Output v, Output x, OpName n) { return assign_add(v, x, n); },
       [](double v, double x) { return v + x; }},
      {"assign_sub", [](Output v, Output x, OpName n) { return assign_sub(v, x, n); },
       [](double v, double x) { return v - x; }},
  };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(state)

// ---- placeholder -----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(placeholder_records_dtype_and_shape) {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{-1, 3}, "images");
  BOOST_TEST((x.dtype() == DType::float64));
  BOOST_TEST(x.shape().to_string() == "(?, 3)");
  BOOST_TEST(x.name() == "images");
  BOOST_TEST(x.producer().op->name == "placeholder");
  BOOST_TEST(x.producer().site.file.find("test_state.cpp") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(placeholder_feeds_every_dtype) {
  for (DType dtype : kAllDTypes) {
    Graph g;
    Output x = placeholder(g, dtype, Shape{2, 2}, "x");
    Output y = identity(x, "y");
    Session s(g);
    const std::vector<double> values = {1, 0, 3, 4};
    auto out = s.run({x, y}, {{x, make_tensor(dtype, Shape{2, 2}, values)}});
    std::vector<double> expected = values;
    if (dtype == DType::boolean) expected = {1, 0, 1, 1};
    for (const Tensor& t : out) {
      BOOST_TEST((t.dtype() == dtype));
      BOOST_TEST((t.shape() == Shape{2, 2}));
      check_values(t, expected, "feed " + std::string(dtype_name(dtype)));
    }
  }
}

BOOST_AUTO_TEST_CASE(placeholder_unknown_dimensions_take_any_size) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, -1}, "x");
  Output y = identity(x);
  BOOST_TEST(y.shape().to_string() == "(?, ?)");
  Session s(g);
  check_values(s.run(y, {{x, Tensor::from_vector<float>({1, 3}, {1, 2, 3})}}), {1, 2, 3}, "(1, 3)");
  Tensor t = s.run(y, {{x, Tensor::from_vector<float>({3, 1}, {4, 5, 6})}});
  BOOST_TEST((t.shape() == Shape{3, 1}));
  check_values(t, {4, 5, 6}, "(3, 1)");
  Tensor e = s.run(y, {{x, Tensor(DType::float32, Shape{0, 2})}});
  BOOST_TEST((e.shape() == Shape{0, 2}));
}

BOOST_AUTO_TEST_CASE(placeholder_fed_value_is_copied) {
  // Changing the caller's tensor after a run does not change what the run returned.
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{2}, "x");
  Session s(g);
  Tensor feed = Tensor::from_vector<float>({2}, {1, 2});
  Tensor out = s.run(identity(x), {{x, feed}});
  feed.data<float>()[0] = 100;
  check_values(out, {1, 2}, "fetched copy");
}

BOOST_AUTO_TEST_CASE(placeholder_missing_feed_names_it) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 3}, "images");
  Output y = relu(x, "activations");
  Session s(g);
  BOOST_CHECK_EXCEPTION(
      s.run(y), RunError,
      mentions_all<RunError>({"'images'", "must be fed", "float32 (?, 3)", "activations"}));
  // Also as the input of a target.
  Output v = variable(g, Tensor::from_vector<float>({3}, {0, 0, 0}), "v");
  Output update =
      assign(v, dagrad::sqrt(placeholder(g, DType::float32, Shape{3}, "source")), "update");
  BOOST_CHECK_EXCEPTION(s.run_targets({update}), RunError,
                        mentions_all<RunError>({"'source'", "must be fed"}));
}

BOOST_AUTO_TEST_CASE(placeholder_wrong_dtype_names_it_and_both_types) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 3}, "x");
  Output y = identity(x);
  Session s(g);
  BOOST_CHECK_EXCEPTION(s.run(y, {{x, Tensor::from_vector<double>({2, 3}, {1, 2, 3, 4, 5, 6})}}),
                        RunError,
                        mentions_all<RunError>({"'x'", "float64 (2, 3)", "float32 (?, 3)"}));
  BOOST_CHECK_EXCEPTION(
      s.run(y, {{x, Tensor::from_vector<std::int32_t>({2, 3}, {1, 2, 3, 4, 5, 6})}}), RunError,
      mentions_all<RunError>({"'x'", "int32 (2, 3)", "float32 (?, 3)"}));
}

BOOST_AUTO_TEST_CASE(placeholder_wrong_rank_names_it_and_both_shapes) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 3}, "x");
  Output y = identity(x);
  Session s(g);
  BOOST_CHECK_EXCEPTION(s.run(y, {{x, Tensor::from_vector<float>({6}, {1, 2, 3, 4, 5, 6})}}),
                        RunError, mentions_all<RunError>({"'x'", "(6,)", "(?, 3)"}));
  BOOST_CHECK_EXCEPTION(s.run(y, {{x, Tensor::from_vector<float>({1, 2, 3}, {1, 2, 3, 4, 5, 6})}}),
                        RunError, mentions_all<RunError>({"'x'", "(1, 2, 3)", "(?, 3)"}));
  BOOST_CHECK_EXCEPTION(s.run(y, {{x, Tensor::scalar<float>(1)}}), RunError,
                        mentions_all<RunError>({"'x'", "()", "(?, 3)"}));
}

BOOST_AUTO_TEST_CASE(placeholder_wrong_known_dimension_names_it_and_both_shapes) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 3}, "x");
  Output y = identity(x);
  Session s(g);
  BOOST_CHECK_EXCEPTION(
      s.run(y, {{x, Tensor::from_vector<float>({2, 4}, {1, 2, 3, 4, 5, 6, 7, 8})}}), RunError,
      mentions_all<RunError>({"'x'", "(2, 4)", "(?, 3)"}));
  // A right feed still works after the rejected ones.
  check_values(s.run(y, {{x, Tensor::from_vector<float>({1, 3}, {7, 8, 9})}}), {7, 8, 9},
               "after errors");
}

BOOST_AUTO_TEST_CASE(feeding_a_non_placeholder_is_rejected) {
  Graph g;
  Output c = constant(g, Tensor::from_vector<float>({2}, {1, 2}), "c");
  Output y = identity(c);
  Session s(g);
  BOOST_CHECK_EXCEPTION(s.run(y, {{c, Tensor::from_vector<float>({2}, {3, 4})}}), RunError,
                        mentions_all<RunError>({"'c'", "only placeholders can be fed"}));
  Output x = placeholder(g, DType::float32, Shape{2}, "x");
  BOOST_CHECK_EXCEPTION(s.run(identity(x), {{x, Tensor::from_vector<float>({2}, {1, 2})},
                                            {x, Tensor::from_vector<float>({2}, {1, 2})}}),
                        RunError, mentions_all<RunError>({"'x'", "fed twice"}));
}

// ---- constant and scalar ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(constant_every_dtype) {
  for (DType dtype : kAllDTypes) {
    Graph g;
    const std::vector<double> values = {0, 1, 2, 0, 5, 6};
    Output c = constant(g, make_tensor(dtype, Shape{2, 3}, values), "c");
    BOOST_TEST((c.dtype() == dtype));
    BOOST_TEST((c.shape() == Shape{2, 3}));
    BOOST_TEST(c.producer().op->name == "constant");
    Session s(g);
    Tensor out = s.run(c);
    Tensor out2 = s.run(identity(c));
    std::vector<double> expected = values;
    if (dtype == DType::boolean) expected = {0, 1, 1, 0, 1, 1};
    check_values(out, expected, "constant " + std::string(dtype_name(dtype)));
    check_values(out2, expected, "identity(constant) " + std::string(dtype_name(dtype)));
  }
}

BOOST_AUTO_TEST_CASE(constant_fetch_is_a_copy) {
  Graph g;
  Output c = constant(g, Tensor::from_vector<float>({2}, {1, 2}), "c");
  Session s(g);
  Tensor first = s.run(c);
  first.data<float>()[0] = 100;  // writing the fetched tensor must not change the graph's constant
  check_values(s.run(c), {1, 2}, "constant after the caller wrote a fetched copy");
}

BOOST_AUTO_TEST_CASE(scalar_of_every_dtype) {
  Graph g;
  Output f = scalar(g, 2.5, DType::float32, "f");
  Output d = scalar(g, -0.125, DType::float64, "d");
  Output i = scalar(g, 7, DType::int32, "i");
  Output l = scalar(g, -3000000000.0, DType::int64, "l");
  Output b = scalar(g, 1, DType::boolean, "b");
  Output default_dtype = scalar(g, 1.5);
  BOOST_TEST((default_dtype.dtype() == DType::float32));
  for (const Output& o : {f, d, i, l, b}) BOOST_TEST((o.shape() == Shape{}));
  Session s(g);
  auto out = s.run({f, d, i, l, b, default_dtype});
  BOOST_TEST(out[0].item<float>() == 2.5f);
  BOOST_TEST(out[1].item<double>() == -0.125);
  BOOST_TEST(out[2].item<std::int32_t>() == 7);
  BOOST_TEST(out[3].item<std::int64_t>() == -3000000000LL);
  BOOST_TEST(out[4].item<bool>() == true);
  BOOST_TEST(out[5].item<float>() == 1.5f);
}

// scalar() follows the scalar rule (ops.hpp): no silent truncation or wrap-around.
BOOST_AUTO_TEST_CASE(scalar_rejects_values_its_dtype_cannot_hold) {
  Graph g;
  int before = g.num_nodes();
  const double inf = std::numeric_limits<double>::infinity();
  check_build_error(g, [&] { scalar(g, 0.5, DType::int32, "half"); },
                    {"scalar 'half'", "0.5 is not representable in int32", "not a whole number",
                     "test_state.cpp"});
  check_build_error(g, [&] { scalar(g, 2147483648.0, DType::int32); },
                    {"2147483648", "int32", "range"});
  check_build_error(g, [&] { scalar(g, 1e10, DType::int32); }, {"1e+10", "int32", "range"});
  check_build_error(g, [&] { scalar(g, 9223372036854775808.0, DType::int64); }, {"int64", "range"});
  check_build_error(g, [&] { scalar(g, std::nan(""), DType::int64); }, {"nan", "int64"});
  check_build_error(g, [&] { scalar(g, -inf, DType::int32); }, {"-inf", "int32"});
  check_build_error(g, [&] { scalar(g, 2.0, DType::boolean); },
                    {"2 is not representable in bool", "0 or 1"});
  check_build_error(g, [&] { scalar(g, 0.5, DType::boolean); }, {"0.5", "bool"});
  check_build_error(g, [&] { scalar(g, -1e39, DType::float32); }, {"-1e+39", "float32"});
  BOOST_TEST(g.num_nodes() == before);
  // The edges of each range are exact.
  Output lo = scalar(g, -2147483648.0, DType::int32);
  Output hi = scalar(g, 2147483647.0, DType::int32);
  Output lo64 = scalar(g, -9223372036854775808.0, DType::int64);
  Output f = scalar(g, 0.0, DType::boolean);
  Output t = scalar(g, 1.0, DType::boolean);
  Output n = scalar(g, std::nan(""), DType::float32);
  Session s(g);
  auto out = s.run({lo, hi, lo64, f, t, n});
  BOOST_TEST(out[0].item<std::int32_t>() == std::numeric_limits<std::int32_t>::min());
  BOOST_TEST(out[1].item<std::int32_t>() == std::numeric_limits<std::int32_t>::max());
  BOOST_TEST(out[2].item<std::int64_t>() == std::numeric_limits<std::int64_t>::min());
  BOOST_TEST(out[3].item<bool>() == false);
  BOOST_TEST(out[4].item<bool>() == true);
  BOOST_TEST(std::isnan(out[5].item<float>()));
}

BOOST_AUTO_TEST_CASE(constant_of_undefined_tensor_is_rejected) {
  Graph g;
  int before = g.num_nodes();
  BOOST_CHECK_EXCEPTION(
      constant(g, Tensor(), "empty"), ShapeError,
      mentions_all<ShapeError>({"'empty'", "op constant", "undefined", "test_state.cpp"}));
  BOOST_TEST(g.num_nodes() == before);
}

// ---- variables -------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(variable_from_tensor) {
  for (DType dtype : kAllDTypes) {
    Graph g;
    const std::vector<double> values = {1, 0, 3};
    Output v = variable(g, make_tensor(dtype, Shape{3}, values), "weights");
    BOOST_TEST((v.dtype() == dtype));
    BOOST_TEST((v.shape() == Shape{3}));
    BOOST_TEST(v.producer().op->name == "variable");
    BOOST_TEST(v.name() == "weights");
    BOOST_TEST_REQUIRE(g.variables().size() == 1u);
    BOOST_TEST(g.variables()[0].variable == v.node);
    BOOST_TEST(g.node(g.variables()[0].initializer).op->name == "assign");
    Session s(g);
    BOOST_TEST(!s.is_initialized(v));
    s.initialize_variables();
    BOOST_TEST(s.is_initialized(v));
    std::vector<double> expected = values;
    if (dtype == DType::boolean) expected = {1, 0, 1};
    check_values(s.run(v), expected, "variable " + std::string(dtype_name(dtype)));
    check_values(s.variable_value(v), expected, "variable_value " + std::string(dtype_name(dtype)));
  }
}

BOOST_AUTO_TEST_CASE(variable_options_set_the_trainable_flag_and_collections) {
  Graph g;
  Output plain = variable(g, Tensor::from_vector<float>({1}, {1}), "plain");
  Output count = variable(
      g, Tensor::from_vector<std::int64_t>({1}, {0}),
      {.trainable = false, .collections = {std::string(collections::kOptimizerSlots)}}, "count");
  Output twice = variable(plain * 2.0, VariableOptions{false, {"mine"}}, "twice");
  BOOST_TEST_REQUIRE(g.variables().size() == 3u);
  BOOST_TEST(g.variables()[0].trainable);
  BOOST_TEST(g.variables()[0].collections.empty());
  BOOST_TEST(!g.variables()[1].trainable);
  BOOST_TEST((g.variables()[1].collections == std::vector<std::string>{"optimizer_slots"}));
  BOOST_TEST(!g.variables()[2].trainable);
  BOOST_TEST((g.variables()[2].collections == std::vector<std::string>{"mine"}));
  BOOST_TEST(g.find_node("twice/Assign") !=
             nullptr);  // the initializer stays in the variable's scope
  BOOST_TEST(count.name() == "count");
  Session s(g);
  s.initialize_variables();
  check_values(s.variable_value(twice), {2}, "twice");
  check_values(s.variable_value(count), {0}, "count");
}

BOOST_AUTO_TEST_CASE(variable_from_another_output) {
  Graph g;
  Output base = constant(g, Tensor::from_vector<double>({2}, {0, 1}), "base");
  Output v = variable(dagrad::exp(base) * 2.0, "v");  // [2, 2e]
  Output w = variable(v + 1.0, "w");                  // from a variable created before it
  BOOST_TEST((v.shape() == Shape{2}));
  BOOST_TEST((w.dtype() == DType::float64));
  Session s(g);
  s.initialize_variables();
  Tensor tv = s.run(v), tw = s.run(w);
  BOOST_TEST(tv.to_vector<double>()[0] == 2.0);
  BOOST_TEST(tv.to_vector<double>()[1] == 2.0 * std::exp(1.0), boost::test_tools::tolerance(1e-15));
  BOOST_TEST(tw.to_vector<double>()[0] == 3.0);
  BOOST_TEST(tw.to_vector<double>()[1] == 2.0 * std::exp(1.0) + 1.0,
             boost::test_tools::tolerance(1e-15));
}

BOOST_AUTO_TEST_CASE(variable_initial_value_must_have_a_known_shape) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 3}, "x");
  int before = g.num_nodes();
  BOOST_CHECK_EXCEPTION(variable(x, "v"), ShapeError,
                        mentions_all<ShapeError>({"'v'", "(?, 3)", "x"}));
  BOOST_TEST(g.num_nodes() == before);
  BOOST_TEST(g.variables().empty());
  BOOST_CHECK_THROW(variable(g, Tensor(), "undefined"), GraphError);
  BOOST_TEST(g.num_nodes() == before);
}

BOOST_AUTO_TEST_CASE(variable_initializer_may_need_a_feed) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{2}, "seed_value");
  Output v = variable(x, "v");
  Session s(g);
  BOOST_CHECK_EXCEPTION(s.initialize_variables(), RunError,
                        mentions_all<RunError>({"'seed_value'", "must be fed"}));
  BOOST_TEST(!s.is_initialized(v));
}

BOOST_AUTO_TEST_CASE(reading_an_uninitialized_variable_names_it) {
  Graph g;
  Output v = variable(g, Tensor::from_vector<float>({2}, {1, 2}), "weights");
  Output y = v * 3.0;
  Session s(g);
  BOOST_CHECK_EXCEPTION(s.run(y), RunError, mentions_all<RunError>({"'weights'", "initialize"}));
  BOOST_CHECK_EXCEPTION(s.run(v), RunError, mentions_all<RunError>({"'weights'"}));
  BOOST_CHECK_EXCEPTION(s.variable_value(v), RunError, mentions_all<RunError>({"'weights'"}));
  // assign_add and assign_sub read the variable too.
  Output inc = assign_add(v, constant(g, Tensor::from_vector<float>({2}, {1, 1})), "inc");
  BOOST_CHECK_EXCEPTION(s.run(inc), RunError, mentions_all<RunError>({"'weights'"}));
  BOOST_TEST(!s.is_initialized(v));
  s.initialize_variables();
  check_values(s.run(y), {3, 6}, "after initialization");
}

BOOST_AUTO_TEST_CASE(assign_initializes_a_variable) {
  // A plain assign (which only writes) initializes the variable it targets.
  Graph g;
  Output v = variable(g, Tensor::from_vector<std::int32_t>({2}, {0, 0}), "v");
  Output set = assign(v, constant(g, Tensor::from_vector<std::int32_t>({2}, {4, 5})), "set");
  Session s(g);
  check_values(s.run(set), {4, 5}, "assign result");
  BOOST_TEST(s.is_initialized(v));
  check_values(s.run(v), {4, 5}, "variable after assign");
}

BOOST_AUTO_TEST_CASE(set_variable_value_overwrites) {
  Graph g;
  Output v = variable(g, Tensor::from_vector<float>({2}, {1, 2}), "v");
  Output y = v * 10.0;
  Session s(g);
  s.set_variable_value(v, Tensor::from_vector<float>({2}, {3, 4}));
  BOOST_TEST(s.is_initialized(v));
  check_values(s.run(y), {30, 40}, "after set_variable_value");
  BOOST_CHECK_THROW(s.set_variable_value(v, Tensor::from_vector<float>({3}, {1, 2, 3})), RunError);
  BOOST_CHECK_THROW(s.set_variable_value(y, Tensor::from_vector<float>({2}, {1, 2})), RunError);
  check_values(s.run(y), {30, 40}, "unchanged after rejected writes");
}

BOOST_AUTO_TEST_CASE(variables_are_per_session) {
  Graph g;
  Output v = variable(g, Tensor::from_vector<float>({1}, {1}), "v");
  Output inc = assign_add(v, constant(g, Tensor::from_vector<float>({1}, {1})));
  Session a(g), b(g);
  a.initialize_variables();
  b.initialize_variables();
  a.run(inc);
  a.run(inc);
  check_values(a.run(v), {3}, "session a");
  check_values(b.run(v), {1}, "session b");
}

// ---- the assign family -----------------------------------------------------------------------

BOOST_DATA_TEST_CASE(assign_updates_in_place_and_persists, bdata::make(assign_cases()), c) {
  for (DType dtype : kNumericDTypes) {
    std::string context = c.op + " " + std::string(dtype_name(dtype));
    Graph g;
    const std::vector<double> init = {10, 20, -30};
    const std::vector<double> delta = {1, -2, 3};
    Output v = variable(g, make_tensor(dtype, Shape{3}, init), "v");
    Output x = placeholder(g, dtype, Shape{3}, "x");
    Output update = c.build(v, x, "update");
    BOOST_TEST((update.dtype() == dtype));
    BOOST_TEST((update.shape() == Shape{3}));
    BOOST_TEST(update.producer().op->name == c.op);
    Output read = identity(v, "read");
    Session s(g);
    s.initialize_variables();
    std::vector<double> expected = init;
    for (int step = 1; step <= 3; ++step) {
      for (std::size_t i = 0; i < expected.size(); ++i)
        expected[i] = c.update(expected[i], delta[i] * step);
      std::vector<double> fed = delta;
      for (double& d : fed) d *= step;
      // The op returns the variable's new value...
      check_values(s.run(update, {{x, make_tensor(dtype, Shape{3}, fed)}}), expected,
                   context + " result, step " + std::to_string(step));
      // ... which the variable keeps for later runs (another plan) and for variable_value.
      check_values(s.run(read), expected, context + " variable, step " + std::to_string(step));
      check_values(s.variable_value(v), expected,
                   context + " variable_value, step " + std::to_string(step));
    }
  }
}

BOOST_AUTO_TEST_CASE(assign_result_feeds_later_ops) {
  Graph g;
  Output v = variable(g, Tensor::from_vector<float>({2}, {1, 2}), "v");
  Output inc = assign_add(v, constant(g, Tensor::from_vector<float>({2}, {10, 10})), "inc");
  Output doubled = inc * 2.0;
  Session s(g);
  s.initialize_variables();
  check_values(s.run(doubled), {22, 24}, "first run");
  check_values(s.run(doubled), {42, 44}, "second run");
  check_values(s.run(v), {21, 22}, "variable");
}

BOOST_AUTO_TEST_CASE(assign_with_the_variable_as_value) {
  Graph g;
  Output v = variable(g, Tensor::from_vector<double>({3}, {1, -2, 4}), "v");
  Output twice = assign_add(v, v, "twice");
  Output zero = assign_sub(v, v, "zero");
  Output same = assign(v, v, "same");
  Session s(g);
  s.initialize_variables();
  check_values(s.run(same), {1, -2, 4}, "v = v");
  check_values(s.run(twice), {2, -4, 8}, "v += v");
  check_values(s.run(twice), {4, -8, 16}, "v += v again");
  check_values(s.run(zero), {0, 0, 0}, "v -= v");
}

BOOST_AUTO_TEST_CASE(assign_bool_variable) {
  Graph g;
  Output v = variable(g, Tensor::from_vector<bool>({3}, {true, false, true}), "mask");
  Output flip = assign(v, constant(g, Tensor::from_vector<bool>({3}, {false, true, true})), "flip");
  Session s(g);
  s.initialize_variables();
  s.run_targets({flip});
  BOOST_TEST(s.run(v).to_vector<bool>() == (std::vector<bool>{false, true, true}),
             boost::test_tools::per_element());
}

BOOST_DATA_TEST_CASE(assign_rejects_bad_targets_and_values, bdata::make(assign_cases()), c) {
  Graph g;
  Output v = variable(g, Tensor::from_vector<float>({3}, {1, 2, 3}), "v");
  Output not_var = constant(g, Tensor::from_vector<float>({3}, {1, 2, 3}), "not_var");
  Output read = identity(v, "read");
  Output value = constant(g, Tensor::from_vector<float>({3}, {4, 5, 6}), "value");
  Output short_value = constant(g, Tensor::from_vector<float>({2}, {4, 5}), "short_value");
  Output matrix = constant(g, Tensor::from_vector<float>({1, 3}, {4, 5, 6}), "matrix");
  Output doubles = constant(g, Tensor::from_vector<double>({3}, {4, 5, 6}), "doubles");
  Output batch = placeholder(g, DType::float32, Shape{-1}, "batch");
  int before = g.num_nodes();
  auto names = [&](std::vector<std::string> more) {
    more.push_back("'bad'");
    more.push_back("op " + c.op);
    more.push_back("test_state.cpp");
    return mentions_all<ShapeError>(more);
  };
  // Not a variable: a constant, or a variable seen through identity.
  BOOST_CHECK_EXCEPTION(c.build(not_var, value, "bad"), ShapeError,
                        names({"not_var: float32 (3,)", "value: float32 (3,)", "variable"}));
  BOOST_CHECK_EXCEPTION(c.build(read, value, "bad"), ShapeError,
                        names({"read: float32 (3,)", "value: float32 (3,)", "variable"}));
  // Wrong shape (also a broadcastable one: assign does not broadcast), wrong dtype.
  BOOST_CHECK_EXCEPTION(c.build(v, short_value, "bad"), ShapeError,
                        names({"v: float32 (3,)", "short_value: float32 (2,)"}));
  BOOST_CHECK_EXCEPTION(c.build(v, matrix, "bad"), ShapeError,
                        names({"v: float32 (3,)", "matrix: float32 (1, 3)"}));
  BOOST_CHECK_EXCEPTION(c.build(v, doubles, "bad"), ShapeError,
                        names({"v: float32 (3,)", "doubles: float64 (3,)"}));
  BOOST_TEST(g.num_nodes() == before);
  BOOST_TEST(g.find_node("bad") == nullptr);
  // A value of unknown size is accepted at build time and checked when it is known.
  Output update = c.build(v, batch, "update");
  Session s(g);
  s.initialize_variables();
  BOOST_CHECK_EXCEPTION(s.run(update, {{batch, Tensor::from_vector<float>({2}, {1, 1})}}),
                        std::exception, mentions_all({"'update'"}));
  check_values(s.run(v), {1, 2, 3}, c.op + ": variable unchanged after a rejected run");
}

BOOST_AUTO_TEST_CASE(assign_add_rejects_bool) {
  Graph g;
  Output v = variable(g, Tensor::from_vector<bool>({2}, {true, false}), "mask");
  Output m = constant(g, Tensor::from_vector<bool>({2}, {true, true}), "m");
  int before = g.num_nodes();
  // There is no bool kernel for assign_add/assign_sub, so they are rejected at build time.
  BOOST_CHECK_THROW(assign_add(v, m, "bad"), ShapeError);
  BOOST_CHECK_THROW(assign_sub(v, m, "bad"), ShapeError);
  BOOST_TEST(g.num_nodes() == before);
}

// ---- identity and stop_gradient --------------------------------------------------------------

BOOST_AUTO_TEST_CASE(identity_and_stop_gradient_forward) {
  for (DType dtype : kAllDTypes) {
    Graph g;
    Output x = placeholder(g, dtype, Shape{-1, 2}, "x");
    Output i = identity(x, "i");
    Output sg = stop_gradient(x, "sg");
    BOOST_TEST((i.dtype() == dtype));
    BOOST_TEST(i.shape().to_string() == "(?, 2)");
    BOOST_TEST((sg.dtype() == dtype));
    BOOST_TEST(sg.shape().to_string() == "(?, 2)");
    BOOST_TEST(i.producer().op->name == "identity");
    BOOST_TEST(sg.producer().op->name == "stop_gradient");
    Session s(g);
    const std::vector<double> values = {0, 1, 2, 3, 4, 5};
    std::vector<double> expected = values;
    if (dtype == DType::boolean) expected = {0, 1, 1, 1, 1, 1};
    auto out = s.run({i, sg}, {{x, make_tensor(dtype, Shape{3, 2}, values)}});
    check_values(out[0], expected, "identity " + std::string(dtype_name(dtype)));
    check_values(out[1], expected, "stop_gradient " + std::string(dtype_name(dtype)));
  }
}

BOOST_AUTO_TEST_CASE(identity_of_variable_is_a_snapshot) {
  // identity(v) ordered before an assign (by a control dependency) reads the old value within
  // the same run; one of the assign's output reads the new value.
  Graph g;
  Output v = variable(g, Tensor::from_vector<double>({2}, {1, 2}), "v");
  Output before = identity(v, "before");
  Output inc;
  {
    auto guard = g.control_dependencies({before});
    inc = assign_add(v, constant(g, Tensor::from_vector<double>({2}, {5, 5})), "inc");
  }
  Output after = identity(inc, "after");
  Session s(g);
  s.initialize_variables();
  auto out = s.run({before, after});
  check_values(out[0], {1, 2}, "before");
  check_values(out[1], {6, 7}, "after");
  Tensor later = s.run(before);
  check_values(later, {6, 7}, "before, next run");
}

// ---- group and control dependencies ----------------------------------------------------------

BOOST_AUTO_TEST_CASE(group_runs_all_its_dependencies) {
  Graph g;
  Output a = variable(g, Tensor::from_vector<float>({2}, {0, 0}), "a");
  Output b = variable(g, Tensor::from_vector<std::int64_t>({1}, {100}), "b");
  Output inc_a = assign_add(a, constant(g, Tensor::from_vector<float>({2}, {1, 2})), "inc_a");
  Output dec_b = assign_sub(b, constant(g, Tensor::from_vector<std::int64_t>({1}, {7})), "dec_b");
  Output inc_a_again;
  {
    auto after = g.control_dependencies({inc_a});  // two writes of `a` in one plan must be ordered
    inc_a_again =
        assign_add(a, constant(g, Tensor::from_vector<float>({2}, {10, 20})), "inc_a_again");
  }
  Operation step = group(g, {inc_a, dec_b, inc_a_again}, "step");
  BOOST_TEST(step.producer().op->name == "group");
  BOOST_TEST(step.producer().output_dtypes.empty());
  const auto& deps = step.producer().control_inputs;
  for (const Output& d : {inc_a, dec_b, inc_a_again})
    BOOST_TEST((std::find(deps.begin(), deps.end(), d.node) != deps.end()));
  Session s(g);
  s.initialize_variables();
  s.run_targets({step});
  check_values(s.run(a), {11, 22}, "a after one step");
  check_values(s.run(b), {93}, "b after one step");
  s.run_targets({step});
  s.run({}, {}, {step});
  check_values(s.run(a), {33, 66}, "a after three steps");
  check_values(s.run(b), {79}, "b after three steps");
  // A group has no value to fetch (its Operation has no Output; one made by hand is refused).
  BOOST_CHECK_EXCEPTION(s.run(g.output_of(step.node)), RunError,
                        mentions_all<RunError>({"'step'", "no outputs"}));
}

BOOST_AUTO_TEST_CASE(group_of_groups_and_empty_group) {
  Graph g;
  Output v = variable(g, Tensor::from_vector<float>({1}, {0}), "v");
  Output one = constant(g, Tensor::from_vector<float>({1}, {1}));
  Operation inner = group(g, {assign_add(v, one)}, "inner");
  Output second;
  {
    auto after = g.control_dependencies({inner});
    second = assign_add(v, one);
  }
  Operation outer = group(g, {inner, second}, "outer");
  Operation nothing = group(g, {}, "nothing");
  Session s(g);
  s.initialize_variables();
  s.run_targets({outer});
  check_values(s.run(v), {2}, "after outer");
  s.run_targets({nothing});
  check_values(s.run(v), {2}, "after an empty group");
}

BOOST_AUTO_TEST_CASE(group_rejects_foreign_dependency) {
  Graph g, other;
  Output foreign = constant(other, Tensor::from_vector<float>({1}, {1}));
  int before = g.num_nodes();
  BOOST_CHECK_THROW(group(g, {foreign}), GraphError);
  BOOST_CHECK_THROW(group(g, {Output{}}), GraphError);
  BOOST_TEST(g.num_nodes() == before);
}

BOOST_AUTO_TEST_CASE(control_dependencies_scope) {
  Graph g;
  Output v = variable(g, Tensor::from_vector<float>({2}, {1, 1}), "v");
  Output inc = assign_add(v, constant(g, Tensor::from_vector<float>({2}, {1, 2})), "inc");
  Output read_inside;
  {
    auto guard = g.control_dependencies({inc});
    read_inside = identity(v, "read_inside");
    BOOST_TEST(read_inside.producer().control_inputs == std::vector<int>{inc.node},
               boost::test_tools::per_element());
  }
  Output read_outside = identity(v, "read_outside");
  BOOST_TEST(read_outside.producer().control_inputs.empty());
  Session s(g);
  s.initialize_variables();
  // Reading inside the scope runs the increment first, every time.
  check_values(s.run(read_inside), {2, 3}, "first read inside");
  check_values(s.run(read_inside), {3, 5}, "second read inside");
  // Reading outside the scope does not.
  check_values(s.run(read_outside), {3, 5}, "read outside");
  check_values(s.run(read_outside), {3, 5}, "read outside again");
}

BOOST_AUTO_TEST_CASE(control_dependencies_nest_and_restore) {
  Graph g;
  Output a = variable(g, Tensor::from_vector<float>({1}, {0}), "a");
  Output b = variable(g, Tensor::from_vector<float>({1}, {0}), "b");
  Output one = constant(g, Tensor::from_vector<float>({1}, {1}), "one");
  Output inc_a = assign_add(a, one, "inc_a");
  Output inc_b = assign_add(b, one, "inc_b");
  Output both, only_a;
  {
    auto outer = g.control_dependencies({inc_a});
    {
      auto inner = g.control_dependencies({inc_b, inc_a});
      both = a + b;
      auto deps = both.producer().control_inputs;
      std::sort(deps.begin(), deps.end());
      std::vector<int> want = {inc_a.node, inc_b.node};
      std::sort(want.begin(), want.end());
      BOOST_TEST(deps == want, boost::test_tools::per_element());
    }
    only_a = identity(a, "only_a");
    BOOST_TEST(only_a.producer().control_inputs == std::vector<int>{inc_a.node},
               boost::test_tools::per_element());
  }
  BOOST_TEST(identity(b).producer().control_inputs.empty());
  Session s(g);
  s.initialize_variables();
  check_values(s.run(both), {2}, "a + b after both increments");
  check_values(s.run(only_a), {2}, "a after its increment");
  check_values(s.variable_value(b), {1}, "b untouched by only_a");
  // A group built inside a scope also waits for the scope's nodes.
  Operation g_step;
  {
    auto guard = g.control_dependencies({inc_b});
    g_step = group(g, {inc_a});
  }
  s.run_targets({g_step});
  check_values(s.variable_value(a), {3}, "a after the group");
  check_values(s.variable_value(b), {2}, "b after the group (a control dependency of the scope)");
}

BOOST_AUTO_TEST_CASE(control_dependencies_rejects_foreign_outputs) {
  Graph g, other;
  Output foreign = constant(other, Tensor::from_vector<float>({1}, {1}));
  Output mine = constant(g, Tensor::from_vector<float>({1}, {1}), "mine");
  BOOST_CHECK_THROW((void)g.control_dependencies({foreign}), GraphError);
  BOOST_TEST(constant(g, Tensor::from_vector<float>({1}, {1})).producer().control_inputs.empty());
  // A valid output before the foreign one: the failed call must not leave `mine` in the scope.
  BOOST_CHECK_THROW((void)g.control_dependencies({mine, foreign}), GraphError);
  // A rejected control_dependencies call must leave the scope as it was.
  BOOST_TEST(constant(g, Tensor::from_vector<float>({1}, {1})).producer().control_inputs.empty());
}

// A run rejected at run time (the fed value has a size the variable cannot take) must be
// rejected again when repeated with the same shapes, not run with stale buffers.
BOOST_AUTO_TEST_CASE(rejected_run_repeated_is_rejected_again) {
  Graph g;
  Output v = variable(g, Tensor::from_vector<float>({3}, {1, 2, 3}), "v");
  Output value = placeholder(g, DType::float32, Shape{-1}, "value");
  Output set = assign(v, value, "set");
  Session s(g);
  s.initialize_variables();
  check_values(s.run(set, {{value, Tensor::from_vector<float>({3}, {4, 5, 6})}}), {4, 5, 6},
               "a right feed");
  for (int attempt = 1; attempt <= 2; ++attempt) {
    BOOST_TEST_CONTEXT("attempt " << attempt) {
      // Regression: the rejected binding was cached, so the repeat wrote 2 values over 3.
      BOOST_CHECK_THROW(s.run(set, {{value, Tensor::from_vector<float>({2}, {7, 8})}}),
                        std::exception);
      check_values(s.variable_value(v), {4, 5, 6}, "variable unchanged");
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
