// passes/conv_epilogue.cpp: which convolutions merge with the fused node reading them
// (structure) and that the merged plans give the same bits as plans without the merge: a
// Conv2D's bias and activation, odd geometries, the cnn model's prediction (after
// batchnorm_folding) and its training step without BatchNormalization; and the cases that must
// stay apart (a second reader, a fetched convolution, a broadcast beyond it, a control path).
#include <boost/test/unit_test.hpp>
#include <random>

#include "pass_test_util.hpp"

using namespace dagrad;
using namespace dagrad::testing;

namespace {

Output weights(Graph& g, DType dtype, Shape shape, const std::string& name, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  return variable(g, random_tensor(dtype, std::move(shape), rng, -0.5, 0.5), name);
}

// check_same (pass_test_util.hpp): every pass on against none, equal bits; returns the optimized
// plan's number of conv2d_epilogue nodes.
int check_same_epilogues(Graph& g, const std::vector<Output>& fetches,
                         const std::vector<Feed>& feeds) {
  return check_same(g, fetches, feeds, {}, 1, "conv2d_epilogue");
}

// Every pass, verified, but conv_epilogue: the reference for plans that other passes
// reassociate (batchnorm_folding, softmax_cross_entropy), so that only the merge differs.
OptimizerOptions verified_without_conv_epilogue() {
  OptimizerOptions options = verified();
  options.disabled = {"conv_epilogue"};
  return options;
}

// Ops of the live nodes whose value depends on the feeds (not computed once from variables).
std::vector<std::string> per_batch_ops(const Plan& plan) {
  const PlanGraph& g = plan.plan_graph();
  const std::vector<char> invariant = g.invariant_nodes();
  std::vector<std::string> ops;
  for (int id = 0; id < g.num_nodes(); ++id)
    if (g.live(id) && !invariant[static_cast<std::size_t>(id)]) ops.push_back(g.node(id).op->name);
  return ops;
}

int count(const std::vector<std::string>& ops, const std::string& op) {
  return static_cast<int>(std::count(ops.begin(), ops.end(), op));
}

// Replaces each rank-1 weight (biases, gamma, beta, moving statistics) by values in [0.5, 1.5],
// so that a BatchNormalization's fold is not the identity.
void perturb_vectors(nn::Sequential& model, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Tensor> w = model.get_weights();
  for (Tensor& t : w)
    if (t.shape().rank() == 1) t = random_tensor(t.dtype(), t.shape(), rng, 0.5, 1.5);
  model.set_weights(w);
}

Tensor images(std::int64_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  return random_tensor(DType::float32, Shape{n, 28, 28}, rng, 0, 1);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(conv_epilogue)

BOOST_AUTO_TEST_CASE(bias_and_activation_merge_with_their_convolution) {
  struct Case {
    Shape x, kernel;
    Conv2DOptions options;
  };
  const std::vector<Case> cases = {
      {Shape{-1, 8, 8, 1}, Shape{3, 3, 1, 4}, {{1, 1}, "same", {1, 1}}},
      {Shape{-1, 9, 7, 3}, Shape{3, 2, 3, 5}, {{2, 2}, "valid", {1, 1}}},
      {Shape{-1, 6, 6, 2}, Shape{2, 2, 2, 3}, {{1, 1}, "same", {2, 2}}},
      {Shape{-1, 5, 5, 4}, Shape{1, 1, 4, 6}, {{1, 1}, "valid", {1, 1}}}};
  std::uint64_t seed = 1;
  for (DType dtype : {DType::float32, DType::float64})
    for (const Case& c : cases) {
      Graph g;
      Output x = placeholder(g, dtype, c.x, "x");
      Output k = weights(g, dtype, c.kernel, "k", ++seed);
      Output b = weights(g, dtype, Shape{c.kernel[3]}, "b", ++seed);
      Output y = elu(add(conv2d(x, k, c.options), b), 1.0, "y");
      Session s(g);
      s.set_optimizer_options(verified());
      Plan& plan = s.compile({y}, {}, {x});
      BOOST_TEST(count_op(plan, "conv2d_epilogue") == 1);
      BOOST_TEST(count_op(plan, "conv2d") == 0);
      BOOST_TEST(count_op(plan, "fused_elementwise") == 0);
      BOOST_TEST(report_of(plan, "conv_epilogue")->changes == 1);
      std::mt19937_64 rng(seed);
      for (std::int64_t batch : {1, 3}) {
        Shape shape = c.x;
        std::vector<std::int64_t> dims = {batch, c.x[1], c.x[2], c.x[3]};
        BOOST_TEST(check_same_epilogues(g, {y}, {{x, random_tensor(dtype, Shape(dims), rng)}}) ==
                   1);
      }
    }
}

BOOST_AUTO_TEST_CASE(a_convolution_read_twice_fetched_or_broadcast_stays_apart) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 6, 6, 2}, "x");
  Output k = weights(g, DType::float32, Shape{3, 3, 2, 4}, "k", 20);
  Output b = weights(g, DType::float32, Shape{4}, "b", 21);
  Output z = conv2d(x, k, {{1, 1}, "same", {1, 1}}, "z");
  Output y = relu(add(z, b), "y");
  Output total = sum(z, {}, false, "total");  // a second reader of the convolution
  // A batch-1 convolution under a batch-3 input: the fused node is larger than the convolution.
  Output one = placeholder(g, DType::float32, Shape{1, 6, 6, 2}, "one");
  Output rows = placeholder(g, DType::float32, Shape{3, 6, 6, 4}, "rows");
  Output wide = relu(add(conv2d(one, k, {{1, 1}, "same", {1, 1}}), rows), "wide");
  std::mt19937_64 rng(22);
  std::vector<Feed> feeds = {{x, random_tensor(DType::float32, Shape{2, 6, 6, 2}, rng)},
                             {one, random_tensor(DType::float32, Shape{1, 6, 6, 2}, rng)},
                             {rows, random_tensor(DType::float32, Shape{3, 6, 6, 4}, rng)}};
  BOOST_TEST(check_same_epilogues(g, {y, total}, {feeds[0]}) == 0);
  BOOST_TEST(check_same_epilogues(g, {y, z}, {feeds[0]}) == 0);  // the convolution is fetched
  BOOST_TEST(check_same_epilogues(g, {wide}, {feeds[1], feeds[2]}) == 0);
  // Without the second reader and the fetch, it merges.
  BOOST_TEST(check_same_epilogues(g, {y}, {feeds[0]}) == 1);
}

// A fused node that sums the convolution itself over its leading axes (a reduction of the
// result register) next to relu(z + b): merged, the node would sum values output 0 has already
// overwritten with the relu (the reviewer's case: every channel's sum was wrong). Not merged, so
// the values are the unmerged plan's. The same for gemm_epilogue, which shares the rule.
BOOST_AUTO_TEST_CASE(a_reduction_of_the_convolution_itself_stays_apart) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 6, 6, 2}, "x");
  Output k = weights(g, DType::float32, Shape{3, 3, 2, 4}, "k", 30);
  Output b = weights(g, DType::float32, Shape{4}, "b", 31);
  Output z = conv2d(x, k, {{1, 1}, "same", {1, 1}}, "z");
  Output y = relu(add(z, b), "y");
  Output per_channel = sum(z, {0, 1, 2}, false, "per_channel");
  std::mt19937_64 rng(32);
  Feed feed{x, random_tensor(DType::float32, Shape{2, 6, 6, 2}, rng)};
  OptimizerOptions on = verified();
  on.enabled = {"conv_epilogue"};
  Session s(g);
  s.set_optimizer_options(on);
  Plan& plan = s.compile({y, per_channel}, {}, {x});
  // elementwise_fusion makes one node of the add, the relu and the sum (a reduction of z).
  BOOST_TEST(count_op(plan, "fused_elementwise") == 1);
  BOOST_TEST(count_op(plan, "conv2d_epilogue") == 0);
  BOOST_TEST(check_same_epilogues(g, {y, per_channel}, {feed}) == 0);

  Graph h;
  Output a = placeholder(h, DType::float32, Shape{-1, 5}, "a");
  Output w = weights(h, DType::float32, Shape{5, 3}, "w", 33);
  Output c = weights(h, DType::float32, Shape{3}, "c", 34);
  Output product = matmul(a, w);
  Output out = relu(add(product, c), "out");
  Output column_sums = sum(product, {0}, false, "column_sums");
  OptimizerOptions gemm = verified();
  gemm.enabled = {"gemm_epilogue"};
  Session t(h);
  t.set_optimizer_options(gemm);
  t.initialize_variables();
  Session ref(h);
  ref.set_optimizer_options(unoptimized());
  ref.initialize_variables();
  Feed rows{a, random_tensor(DType::float32, Shape{4, 5}, rng)};
  Plan& gemm_plan = t.compile({out, column_sums}, {}, {a});
  BOOST_TEST(count_op(gemm_plan, "matmul_epilogue") == 0);
  std::vector<Tensor> got = t.run({out, column_sums}, {rows});
  std::vector<Tensor> want = ref.run({out, column_sums}, {rows});
  BOOST_TEST(identical(got[0], want[0]));
  BOOST_TEST(identical(got[1], want[1]));
}

// The fused node waits (a control edge) for a group that waits for the convolution: merging the
// two would make the group both before and after the merged node.
BOOST_AUTO_TEST_CASE(a_control_path_from_the_convolution_to_its_reader_stays_apart) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 5, 5, 2}, "x");
  Output k = weights(g, DType::float32, Shape{3, 3, 2, 3}, "k", 23);
  Output b = weights(g, DType::float32, Shape{3}, "b", 24);
  Output z = conv2d(x, k, {}, "z");
  Operation ready = group(g, {z}, "ready");
  Output y;
  {
    auto guard = g.control_dependencies({ready});
    y = relu(add(z, b), "y");
  }
  std::mt19937_64 rng(25);
  BOOST_TEST(check_same_epilogues(
                 g, {y}, {{x, random_tensor(DType::float32, Shape{2, 5, 5, 2}, rng)}}) == 0);
}

// The cnn model's prediction: batchnorm_folding turns each Conv2D + BatchNormalization into a
// conv2d with a scaled kernel and one shift, which elementwise_fusion groups with the relu, and
// conv_epilogue merges with the convolution: per batch, two conv2d_epilogue nodes and no
// BatchNormalization arithmetic (mul, rsqrt, sub) left. The values are the plan's without the
// merge, bit for bit.
BOOST_AUTO_TEST_CASE(the_cnn_prediction_has_conv_epilogues_and_no_batchnorm_arithmetic) {
  auto model = nn::make_preset("cnn", {});
  perturb_vectors(*model, 26);
  model->session().set_optimizer_options(verified());
  Plan& predict = model->prediction_plan();
  const std::vector<std::string> ops = per_batch_ops(predict);
  BOOST_TEST(count(ops, "conv2d_epilogue") == 2);
  BOOST_TEST(count(ops, "conv2d") == 0);
  BOOST_TEST(count(ops, "mul") == 0);
  BOOST_TEST(count(ops, "rsqrt") == 0);
  BOOST_TEST(count(ops, "sub") == 0);
  BOOST_TEST(report_of(predict, "batchnorm_folding")->changes == 3);  // two Conv2D, one Dense
  BOOST_TEST(report_of(predict, "conv_epilogue")->changes == 2);
  // Each epilogue's program: the shift, then relu.
  const PlanGraph& pg = predict.plan_graph();
  for (int id = 0; id < pg.num_nodes(); ++id)
    if (pg.live(id) && pg.node(id).op->name == "conv2d_epilogue") {
      BOOST_TEST(pg.node(id).attrs.get_ints("program").size() == 8u);
      BOOST_TEST(pg.node(id).inputs.size() == 3u);  // x, the folded kernel, the shift
    }
  Tensor x = images(5, 27);
  Tensor merged = model->predict(x);
  model->session().set_optimizer_options(verified_without_conv_epilogue());
  BOOST_TEST(count_op(model->prediction_plan(), "conv2d_epilogue") == 0);
  BOOST_TEST(identical(model->predict(x), merged));
}

// With --batchnorm none each Conv2D adds its bias and applies relu itself, in training too: the
// training step merges both convolutions, and two steps give the bits (loss, every weight) of
// the same model trained without the merge.
BOOST_AUTO_TEST_CASE(the_cnn_training_step_without_batchnorm_merges_conv_bias_and_relu) {
  nn::ModelSpec spec = nn::preset_spec("cnn");
  spec.batchnorm = "none";
  auto train = [&](const OptimizerOptions& options, int& epilogues) {
    auto model = nn::make_model(spec, std::make_shared<nn::Backend>(31));
    model->session().set_optimizer_options(options);
    model->compile(optim::SGD({.learning_rate = 0.05, .momentum = 0.9}),
                   "sparse_categorical_crossentropy", {"accuracy"});
    epilogues = count_op(model->training_plan(), "conv2d_epilogue");
    Tensor x = images(6, 32);
    Tensor y(DType::int32, Shape{6});
    for (int i = 0; i < 6; ++i) y.data<std::int32_t>()[i] = (i * 7) % 10;
    std::vector<double> losses;
    for (int step = 0; step < 2; ++step) losses.push_back(model->train_on_batch(x, y).at("loss"));
    return std::make_pair(losses, model->get_weights());
  };
  int merged_count = 0, apart_count = 0;
  auto merged = train(verified(), merged_count);
  auto apart = train(verified_without_conv_epilogue(), apart_count);
  BOOST_TEST(merged_count == 2);
  BOOST_TEST(apart_count == 0);
  BOOST_TEST(merged.first == apart.first, boost::test_tools::per_element());
  BOOST_TEST_REQUIRE(merged.second.size() == apart.second.size());
  for (std::size_t i = 0; i < merged.second.size(); ++i)
    BOOST_TEST(identical(merged.second[i], apart.second[i]), "weight " << i);
}

BOOST_AUTO_TEST_SUITE_END()
