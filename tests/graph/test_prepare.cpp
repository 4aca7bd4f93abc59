// The kernels' prepare step (OpRecord::prepare): made once per bound feed shapes, run instead of
// the kernel on every step of that binding, made again for new shapes, kept for shapes seen
// before; an error while preparing names the node; matmul's prepared path against a hand product.
#include <boost/test/unit_test.hpp>
#include <memory>
#include <string>
#include <vector>

#include "dagrad/dagrad.hpp"

using namespace dagrad;

namespace {

int prepares = 0;  // prepare steps made
int prepared_runs = 0;

// y = x * (number of elements x had when the step was prepared): a prepared kernel that uses
// what it read at prepare time, so a stale preparation gives a wrong value.
class ScaleByPreparedSize final : public PreparedKernel {
 public:
  explicit ScaleByPreparedSize(float scale) : scale_(scale) {}
  void run(KernelContext& c) override {
    ++prepared_runs;
    const float* x = c.input(0).data<float>();
    float* y = c.output(0).data<float>();
    for (std::int64_t i = 0; i < c.input(0).size(); ++i) y[i] = x[i] * scale_;
  }

 private:
  float scale_;
};

OpRecord scale_record() {
  OpRecord op;
  op.name = "scale_by_size";
  op.input_names = {"x"};
  op.shape_fn = [](ShapeContext& ctx) {
    if (ctx.input_shape(0).rank() == 1 && ctx.input_shape(0)[0] == 13)
      throw ShapeError("13 elements are refused");  // a run-time shape the op rejects
    ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(0));
  };
  op.dispatch_input = 0;
  // The plain kernel is never used once prepared: it gives a recognizably wrong value.
  op.kernels[static_cast<std::size_t>(DType::float32)] = [](KernelContext& c) {
    c.output(0).data<float>()[0] = -1.0f;
  };
  op.prepare = [](const KernelContext& c) -> std::unique_ptr<PreparedKernel> {
    ++prepares;
    if (c.input(0).size() == 7) throw std::runtime_error("7 elements cannot be prepared");
    return std::make_unique<ScaleByPreparedSize>(static_cast<float>(c.input(0).size()));
  };
  op.not_differentiable_reason = "test op";
  return op;
}

// y = scale_by_size(x) over a vector x of any length, in a session.
const OpRegistry& scale_registry() {
  static const OpRegistry registry = [] {
    OpRegistry r;
    register_state_ops(r);
    r.add(scale_record());
    return r;
  }();
  return registry;
}

struct ScaleGraph {
  Graph g{scale_registry()};
  Output x = placeholder(g, DType::float32, Shape{-1}, "x");
  Output y = g.add_node("scale_by_size", {x}, {}, {"y"})[0];
  Session s{g};
};

std::vector<float> run_with(Session& s, Output x, Output y, std::vector<float> v) {
  auto n = static_cast<std::int64_t>(v.size());
  return s.run(y, {{x, Tensor::from_vector<float>({n}, v)}}).to_vector<float>();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(prepare_step)

BOOST_FIXTURE_TEST_CASE(is_made_once_per_binding_and_runs_every_step, ScaleGraph) {
  prepares = prepared_runs = 0;
  BOOST_TEST(run_with(s, x, y, {1, 2}) == (std::vector<float>{2, 4}),
             boost::test_tools::per_element());
  BOOST_TEST(run_with(s, x, y, {3, 4}) == (std::vector<float>{6, 8}),
             boost::test_tools::per_element());
  BOOST_TEST(prepares == 1);  // the same shapes: prepared once
  BOOST_TEST(prepared_runs == 2);
  BOOST_TEST(run_with(s, x, y, {1, 1, 1}) == (std::vector<float>{3, 3, 3}),
             boost::test_tools::per_element());
  BOOST_TEST(prepares == 2);  // new shapes: a new binding, prepared again
  BOOST_TEST(run_with(s, x, y, {5, 6}) == (std::vector<float>{10, 12}),
             boost::test_tools::per_element());
  BOOST_TEST(prepares == 2);  // back to the first binding: its preparation is kept
  BOOST_TEST(prepared_runs == 4);
}

BOOST_FIXTURE_TEST_CASE(an_error_while_preparing_names_the_node_and_the_plan_recovers, ScaleGraph) {
  BOOST_TEST(run_with(s, x, y, {1, 2}) == (std::vector<float>{2, 4}),
             boost::test_tools::per_element());
  try {
    run_with(s, x, y, std::vector<float>(7, 1.0f));
    BOOST_FAIL("a failing prepare step went unreported");
  } catch (const RunError& e) {
    std::string what = e.what();
    BOOST_TEST(what.find("'y'") != std::string::npos, what);
    BOOST_TEST(what.find("scale_by_size") != std::string::npos, what);
    BOOST_TEST(what.find("7 elements cannot be prepared") != std::string::npos, what);
  }
  BOOST_CHECK_THROW(run_with(s, x, y, std::vector<float>(13, 1.0f)), Error);  // shape refused
  // The earlier binding still runs with its own preparation.
  BOOST_TEST(run_with(s, x, y, {0.5f, 1}) == (std::vector<float>{1, 2}),
             boost::test_tools::per_element());
  BOOST_TEST(run_with(s, x, y, {1, 1, 1, 1}) == (std::vector<float>{4, 4, 4, 4}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(matmul_runs_prepared_at_each_batch_size) {
  // matmul has a prepare step; a plan alternating batch sizes keeps one per binding.
  BOOST_TEST(static_cast<bool>(default_registry().find("matmul")->prepare));
  Graph g;
  Output a = placeholder(g, DType::float32, Shape{-1, 2}, "a");
  Output w = constant(g, Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6}), "w");
  Output y = matmul(a, w, false, false, "y");
  Output yt = matmul(w, a, true, true, "yt");  // (a w)^T
  Session s(g);
  for (int round = 0; round < 2; ++round) {
    auto one = s.run({y, yt}, {{a, Tensor::from_vector<float>({1, 2}, {1, -1})}});
    // [1, -1] w = [1-4, 2-5, 3-6]
    BOOST_TEST(one[0].to_vector<float>() == (std::vector<float>{-3, -3, -3}),
               boost::test_tools::per_element());
    BOOST_TEST(one[1].shape().to_string() == "(3, 1)");
    auto two = s.run({y, yt}, {{a, Tensor::from_vector<float>({2, 2}, {1, 0, 0, 2})}});
    // rows [1, 0] w = [1, 2, 3] and [0, 2] w = [8, 10, 12]; transposed: column-major order
    BOOST_TEST(two[0].to_vector<float>() == (std::vector<float>{1, 2, 3, 8, 10, 12}),
               boost::test_tools::per_element());
    BOOST_TEST(two[1].to_vector<float>() == (std::vector<float>{1, 8, 2, 10, 3, 12}),
               boost::test_tools::per_element());
  }
}

BOOST_AUTO_TEST_CASE(fused_nodes_run_prepared_at_alternating_batch_sizes) {
  // The optimizer fuses the bias, the elu, the square and their column sums into one node with
  // a prepare step; its layouts per binding give the unfused plan's values at every batch size.
  BOOST_TEST(static_cast<bool>(default_registry().find("fused_elementwise")->prepare));
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 3}, "x");
  Output bias = constant(g, Tensor::from_vector<float>({3}, {0.5f, -1, 2}), "bias");
  Output h = elu(x + bias) * 2.0;
  Output y = square(h) - h, col = sum(y, {0});
  Session fused(g), plain(g);
  OptimizerOptions off;
  off.optimize = false;
  plain.set_optimizer_options(off);
  Plan& plan = fused.compile({y, col}, {}, {x});
  int fused_nodes = 0;
  for (int id = 0; id < plan.plan_graph().num_nodes(); ++id)
    if (plan.plan_graph().live(id) &&
        plan.plan_graph().node(id).op->name == "fused_elementwise")
      ++fused_nodes;
  BOOST_TEST(fused_nodes == 1);
  for (std::int64_t batch : {3, 5, 3, 1, 5}) {
    std::vector<float> v(static_cast<std::size_t>(batch * 3));
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = 0.37f * static_cast<float>(i) - 1.5f;
    Tensor feed = Tensor::from_vector<float>({batch, 3}, v);
    auto a = fused.run({y, col}, {{x, feed}});
    auto b = plain.run({y, col}, {{x, feed}});
    BOOST_TEST(a[0].to_vector<float>() == b[0].to_vector<float>(),
               boost::test_tools::per_element());
    BOOST_TEST(a[1].to_vector<float>() == b[1].to_vector<float>(),
               boost::test_tools::per_element());
  }
}

BOOST_AUTO_TEST_SUITE_END()
