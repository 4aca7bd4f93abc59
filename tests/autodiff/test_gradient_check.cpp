// The gradient checker itself: it must catch a wrong rule and refuse the classic false pass
// where both gradients are zero everywhere.
#include <boost/test/unit_test.hpp>

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
  registry.add(square_like("good_square", [](Graph& g, const Node& n, std::span<const Output> dy) {
    return std::vector<Output>{dy[0] * (2.0 * g.output_of(n.inputs[0].node))};
  }));
  registry.add(square_like("bad_square", [](Graph& g, const Node& n, std::span<const Output> dy) {
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
  OpRecord r = square_like("flat", [](Graph&, const Node&, std::span<const Output> dy) {
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

BOOST_AUTO_TEST_SUITE_END()
