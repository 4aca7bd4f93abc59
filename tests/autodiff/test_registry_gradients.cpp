// Data-driven over the op registry: every op is either differentiable with a gradient that
// passes the float64 finite-difference check in each of its declared samples, or documented as
// not differentiable, or a leaf. A new op is checked here without new test code.
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "dagrad/dagrad.hpp"

using namespace dagrad;
namespace bdata = boost::unit_test::data;

namespace {
std::vector<std::string> all_ops() {
  return default_registry().names();
}
}  // namespace

BOOST_AUTO_TEST_SUITE(registry_gradients)

BOOST_DATA_TEST_CASE(every_op_has_a_gradient_or_a_reason, bdata::make(all_ops()), op_name) {
  const OpRecord& op = default_registry().get(op_name);
  bool leaf = op.input_names.empty() && !op.variadic_inputs;
  bool documented = !op.not_differentiable_reason.empty();
  BOOST_TEST_INFO("op " << op_name);
  BOOST_TEST((leaf || documented || static_cast<bool>(op.gradient)));
  if (op.gradient) BOOST_TEST(!op.gradcheck.samples.empty());
}

BOOST_DATA_TEST_CASE(float64_gradient_check, bdata::make(all_ops()), op_name) {
  const OpRecord& op = default_registry().get(op_name);
  if (!op.gradient) return;  // leaves and documented non-differentiable ops: nothing to check
  std::vector<GradCheckResult> results = check_op_gradients(default_registry(), op_name);
  for (const GradCheckResult& r : results) {
    BOOST_TEST_INFO(op_name << " " << r.shapes << ": " << r.message);
    BOOST_TEST(r.passed);
    BOOST_TEST(!r.skipped);
  }
}

BOOST_DATA_TEST_CASE(fast_mode_agrees, bdata::make(all_ops()), op_name) {
  const OpRecord& op = default_registry().get(op_name);
  if (!op.gradient) return;
  GradCheckOptions options;
  options.fast = true;
  for (const GradCheckResult& r : check_op_gradients(default_registry(), op_name, options)) {
    BOOST_TEST_INFO(op_name << " " << r.shapes << ": " << r.message);
    BOOST_TEST(r.passed);
  }
}

BOOST_AUTO_TEST_SUITE_END()
