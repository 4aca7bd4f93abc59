// The gradient checker itself: it must catch a wrong rule and refuse the classic false pass
// where both gradients are zero everywhere.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <iostream>
#include <sstream>

#include "dagrad/dagrad.hpp"

using namespace dagrad;

namespace {

struct CopySquare {  // y = x^2, float64 only
  static void run(KernelContext& c) {
    const double* x = c.input(0).data<double>();
    double* y = c.output(0).data<double>();
    for (std::int64_t i = 0; i < c.input(0).size(); ++i) y[i] = x[i] * x[i];
  }
};

OpRecord square_like(const char* name, GradientFn gradient, bool zero_expected = false) {
  OpRecord r;
  r.name = name;
  r.input_names = {"x"};
  r.shape_fn = [](ShapeContext& ctx) { ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(0)); };
  r.kernels[static_cast<std::size_t>(DType::float64)] = &CopySquare::run;
  r.gradient = std::move(gradient);
  r.gradcheck.samples = {{{Shape{2, 3}}, {}, {}, "matrix"}};
  r.gradcheck.zero_gradient_expected = zero_expected;
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(gradient_checker)

BOOST_AUTO_TEST_CASE(right_rule_passes_wrong_rule_fails) {
  OpRegistry registry;
  register_builtin_ops(registry);
  // d x^2/dx = 2x (right) and x (wrong by a factor of 2).
  registry.add(square_like("good_square", [](Graph& g, const Node& n, std::span<const Output> dy,
                                             const std::vector<bool>&) {
    return std::vector<Output>{dy[0] * (2.0 * g.output_of(n.inputs[0].node))};
  }));
  registry.add(square_like("bad_square", [](Graph& g, const Node& n, std::span<const Output> dy,
                                            const std::vector<bool>&) {
    return std::vector<Output>{dy[0] * g.output_of(n.inputs[0].node)};
  }));
  for (bool fast : {false, true}) {
    GradCheckOptions options;
    options.fast = fast;
    auto good = check_op_gradients(registry, "good_square", options);
    auto bad = check_op_gradients(registry, "bad_square", options);
    BOOST_REQUIRE_EQUAL(good.size(), 1u);
    BOOST_REQUIRE_EQUAL(bad.size(), 1u);
    BOOST_TEST(good[0].passed);
    BOOST_TEST(good[0].max_abs_error < 1e-8);
    BOOST_TEST(!bad[0].passed);
    BOOST_TEST(bad[0].max_abs_error > 0.1);
  }
  std::string table = format_gradcheck_table(check_op_gradients(registry, "bad_square"));
  BOOST_TEST(table.find("FAIL") != std::string::npos);
  BOOST_TEST(table.find("bad_square") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(zero_gradients_everywhere_fail_unless_expected) {
  OpRegistry registry;
  register_builtin_ops(registry);
  // A kernel that ignores its input (y = 0 * x^2 would do) with a zero gradient: a check where
  // numeric and symbolic both vanish proves nothing about the rule.
  OpRecord r = square_like(
      "flat", [](Graph&, const Node&, std::span<const Output> dy, const std::vector<bool>&) {
        return std::vector<Output>{zeros_like(dy[0])};
      });
  r.kernels[static_cast<std::size_t>(DType::float64)] = [](KernelContext& c) {
    std::fill(c.output(0).data<double>(), c.output(0).data<double>() + c.output(0).size(), 1.0);
  };
  OpRecord expected = r;
  expected.name = "flat_expected";
  expected.gradcheck.zero_gradient_expected = true;
  registry.add(std::move(r));
  registry.add(std::move(expected));
  auto unexpected = check_op_gradients(registry, "flat");
  BOOST_TEST(!unexpected[0].passed);
  BOOST_TEST(unexpected[0].message.find("zero everywhere") != std::string::npos);
  BOOST_TEST(check_op_gradients(registry, "flat_expected")[0].passed);
}

BOOST_AUTO_TEST_CASE(ops_without_rule_or_reason_fail_and_documented_ones_are_skipped) {
  OpRegistry registry;
  register_builtin_ops(registry);
  OpRecord r = square_like("undocumented", nullptr);
  registry.add(std::move(r));
  auto undocumented = check_op_gradients(registry, "undocumented");
  BOOST_TEST(!undocumented[0].passed);
  BOOST_TEST(undocumented[0].message.find("no gradient rule") != std::string::npos);
  auto comparison = check_op_gradients(registry, "greater");
  BOOST_TEST(comparison[0].skipped);
  BOOST_TEST(comparison[0].message.find("not differentiable") != std::string::npos);
}

// A run that throws halfway through a perturbation must not leave the variable perturbed.
// y = sum(v * gather(table, int(v))) with v = 0.5 and eps 0.75: v + eps = 1.25 gathers index 1
// of a one-element table and throws; v must read 0.5 again afterwards.
BOOST_AUTO_TEST_CASE(variables_are_restored_when_a_run_throws) {
  Graph g;
  Output v = variable(g, Tensor::from_vector<double>({1}, {0.5}), "v");
  Output p = placeholder(g, DType::float64, Shape{1}, "p");
  Output table = constant(g, Tensor::from_vector<double>({1}, {5.0}), "table");
  Output y =
      sum(v * gather(table, cast(v, DType::int64)) + p * gather(table, cast(p, DType::int64)));
  Session s(g);
  s.initialize_variables();
  Tensor fed = Tensor::from_vector<double>({1}, {0.25});
  GradCheckOptions options;
  options.eps = 0.75;
  BOOST_CHECK_THROW(check_graph_gradients(s, y, {v, p}, {{p, fed}}, options), std::exception);
  BOOST_TEST(s.variable_value(v).to_vector<double>() == std::vector<double>{0.5},
             boost::test_tools::per_element());
  BOOST_TEST(fed.to_vector<double>() == std::vector<double>{0.25},
             boost::test_tools::per_element());
  // Also in fast mode, which perturbs every input at once.
  options.fast = true;
  BOOST_CHECK_THROW(check_graph_gradients(s, y, {v, p}, {{p, fed}}, options), std::exception);
  BOOST_TEST(s.variable_value(v).to_vector<double>() == std::vector<double>{0.5},
             boost::test_tools::per_element());
  BOOST_TEST(fed.to_vector<double>() == std::vector<double>{0.25},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(duplicate_xs_are_rejected) {
  Graph g;
  Output v = variable(g, Tensor::from_vector<double>({2}, {1, 2}), "weights");
  Output y = sum(square(v));
  Session s(g);
  s.initialize_variables();
  try {
    check_graph_gradients(s, y, {v, v}, {});
    BOOST_FAIL("expected GraphError");
  } catch (const GraphError& e) {
    std::string message = e.what();
    BOOST_TEST(message.find("'weights'") != std::string::npos, message);
    BOOST_TEST(message.find("twice") != std::string::npos, message);
  }
}

// Each evaluation of y would draw new random numbers, on a path from x or elsewhere upstream.
BOOST_AUTO_TEST_CASE(a_y_that_depends_on_a_random_op_is_rejected) {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{3}, "x");
  Output mask = random_uniform(g, Shape{3}, 0.0, 1.0, DType::float64, 7, "mask");
  Output noise = random_normal(g, Shape{}, 0.0, 1.0, DType::float64, 8, "noise");
  Output on_path = sum(x * mask, {}, false, "on_path");
  Output upstream = add(sum(square(x)), noise, "upstream");
  Output clean = sum(square(x), {}, false, "clean");
  Session s(g);
  Tensor xv = Tensor::from_vector<double>({3}, {0.5, -1, 2});
  for (auto [y, culprit] : {std::pair{on_path, "'mask'"}, std::pair{upstream, "'noise'"}}) {
    try {
      check_graph_gradients(s, y, {x}, {{x, xv}});
      BOOST_FAIL("expected GraphError for " << y.name());
    } catch (const GraphError& e) {
      std::string message = e.what();
      BOOST_TEST(message.find(culprit) != std::string::npos, message);
      BOOST_TEST(message.find("'" + y.name() + "'") != std::string::npos, message);
      BOOST_TEST(message.find("draws new values on every evaluation") != std::string::npos,
                 message);
    }
  }
  BOOST_TEST(check_graph_gradients(s, clean, {x}, {{x, xv}}).passed);
}

// A failure names the tolerances as %g, not std::to_string's fixed six decimals.
BOOST_AUTO_TEST_CASE(failure_message_prints_tolerances_in_g_form) {
  OpRegistry registry;
  register_builtin_ops(registry);
  registry.add(square_like("bad_square", [](Graph& g, const Node& n, std::span<const Output> dy,
                                            const std::vector<bool>&) {
    return std::vector<Output>{dy[0] * g.output_of(n.inputs[0].node)};
  }));
  auto results = check_op_gradients(registry, "bad_square");
  BOOST_REQUIRE_EQUAL(results.size(), 1u);
  BOOST_TEST(results[0].message.find("rtol 1e-06, atol 1e-09") != std::string::npos,
             results[0].message);
}

// In float32 the step and tolerances widen (eps 1e-3, rtol 1e-2, atol 1e-4) unless overridden,
// and the warning is printed once per process, not once per op.
BOOST_AUTO_TEST_CASE(float32_mode_widens_step_and_tolerances_and_warns_once) {
  std::ostringstream captured;
  std::streambuf* old = std::cerr.rdbuf(captured.rdbuf());
  std::vector<GradCheckResult> results;
  GradCheckOptions options;
  options.dtype = DType::float32;
  for (const char* op : {"tanh", "mul", "softmax", "matmul"}) {
    auto r = check_op_gradients(default_registry(), op, options);
    results.insert(results.end(), r.begin(), r.end());
  }
  std::cerr.rdbuf(old);
  for (const GradCheckResult& r : results)
    BOOST_TEST(r.passed, r.op << " " << r.shapes << ": " << r.message);
  std::string warnings = captured.str();
  std::size_t count = 0;
  for (auto at = warnings.find("float32 is not reliable"); at != std::string::npos;
       at = warnings.find("float32 is not reliable", at + 1))
    ++count;
  BOOST_TEST(count <= 1u, warnings);  // 0 if an earlier test in this process printed it
  // The user's own tolerance still wins.
  options.rtol = 1e-9;
  options.atol = 1e-12;
  auto strict = check_op_gradients(default_registry(), "tanh", options);
  BOOST_TEST(!strict[0].passed);
  BOOST_TEST(strict[0].message.find("rtol 1e-09, atol 1e-12, eps 0.001") != std::string::npos,
             strict[0].message);
}

// A sample's feed_shapes are the run-time shapes, instead of 3 for every unknown dimension.
BOOST_AUTO_TEST_CASE(samples_choose_their_run_time_shapes) {
  static std::vector<Shape> seen;
  OpRegistry registry;
  register_builtin_ops(registry);
  OpRecord r = square_like(
      "recording_square",
      [](Graph& g, const Node& n, std::span<const Output> dy, const std::vector<bool>&) {
        return std::vector<Output>{dy[0] * (2.0 * g.output_of(n.inputs[0].node))};
      });
  r.kernels[static_cast<std::size_t>(DType::float64)] = [](KernelContext& c) {
    seen.push_back(c.input(0).shape());
    CopySquare::run(c);
  };
  r.gradcheck.samples = {{{Shape{-1, 2}}, {}, {}, "fed (5, 2)", {Shape{5, 2}}},
                         {{Shape{-1, 2}}, {}, {}, "default"},
                         {{Shape{-1, 2}}, {}, {}, "does not fit", {Shape{5, 3}}}};
  registry.add(std::move(r));
  auto results = check_op_gradients(registry, "recording_square");
  BOOST_REQUIRE_EQUAL(results.size(), 3u);
  BOOST_TEST(results[0].passed, results[0].message);
  BOOST_TEST(results[1].passed, results[1].message);
  BOOST_TEST(!results[2].passed);
  BOOST_TEST(results[2].message.find("(5, 3)") != std::string::npos, results[2].message);
  BOOST_TEST(results[0].shapes.find("fed (5, 2)") != std::string::npos, results[0].shapes);
  int fives = 0, threes = 0;
  for (const Shape& s : seen) {
    if (s == Shape{5, 2})
      ++fives;
    else if (s == Shape{3, 2})
      ++threes;
    else
      BOOST_ERROR("unexpected run-time shape " << s.to_string());
  }
  BOOST_TEST(fives > 0);
  BOOST_TEST(threes > 0);
}

// distinct_elements: each input is a permutation of evenly spaced values in [low, high], so no
// two elements tie (a window's max stays unique under finite differences).
BOOST_AUTO_TEST_CASE(distinct_elements_draws_evenly_spaced_distinct_values) {
  static std::vector<double> first;
  OpRegistry registry;
  register_builtin_ops(registry);
  OpRecord r = square_like(
      "distinct_square",
      [](Graph& g, const Node& n, std::span<const Output> dy, const std::vector<bool>&) {
        return std::vector<Output>{dy[0] * (2.0 * g.output_of(n.inputs[0].node))};
      });
  r.kernels[static_cast<std::size_t>(DType::float64)] = [](KernelContext& c) {
    if (first.empty()) first = c.input(0).to_vector<double>();  // the unperturbed draw
    CopySquare::run(c);
  };
  r.gradcheck.distinct_elements = true;
  r.gradcheck.low = -1.0;
  r.gradcheck.high = 3.0;
  r.gradcheck.samples = {{{Shape{4, 5}}, {}, {}, "matrix"}};
  registry.add(std::move(r));
  auto results = check_op_gradients(registry, "distinct_square");
  BOOST_REQUIRE_EQUAL(results.size(), 1u);
  BOOST_TEST(results[0].passed, results[0].message);
  BOOST_REQUIRE_EQUAL(first.size(), 20u);
  std::vector<double> sorted = first;
  std::sort(sorted.begin(), sorted.end());
  // 20 values 4/20 = 0.2 apart: -0.9, -0.7, ..., 2.9, in some order other than sorted.
  for (std::size_t i = 0; i < sorted.size(); ++i)
    BOOST_TEST(sorted[i] == -0.9 + 0.2 * static_cast<double>(i),
               boost::test_tools::tolerance(1e-12));
  BOOST_TEST((first != sorted));
}

BOOST_AUTO_TEST_SUITE_END()
