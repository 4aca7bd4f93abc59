// passes/gemm_epilogue.cpp: which matmuls merge with the fused node reading them (structure) and
// that the merged plans give the same bits as unoptimized ones (the node runs the same GEMM and
// the same program kernel): the forward bias + activation, the backward dA * act'(Z), an
// optimizer update, the chapter's plain model, and random graphs of products and elementwise ops.
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <random>

#include "pass_test_util.hpp"

using namespace dagrad;
using namespace dagrad::testing;
namespace bdata = boost::unit_test::data;

namespace {

// check_same (pass_test_util.hpp), returning the optimized plan's number of matmul_epilogue nodes.
int check_same_epilogues(Graph& g, const std::vector<Output>& fetches,
                         const std::vector<Feed>& feeds,
                         const std::vector<Operation>& targets = {}, int steps = 1) {
  return check_same(g, fetches, feeds, targets, steps, "matmul_epilogue");
}

Output weights(Graph& g, DType dtype, Shape shape, const std::string& name, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  return variable(g, random_tensor(dtype, std::move(shape), rng, -0.5, 0.5), name);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(gemm_epilogue)

BOOST_AUTO_TEST_CASE(bias_and_activation_merge_with_their_product) {
  for (DType dtype : {DType::float32, DType::float64}) {
    Graph g;
    Output x = placeholder(g, dtype, Shape{-1, 5}, "x");
    Output w = weights(g, dtype, Shape{5, 3}, "w", 1);
    Output b = weights(g, dtype, Shape{3}, "b", 2);
    Output y = elu(add(matmul(x, w), b), 1.0, "y");
    Session s(g);
    s.set_optimizer_options(verified());
    Plan& plan = s.compile({y}, {}, {x});
    BOOST_TEST(count_op(plan, "matmul_epilogue") == 1);
    BOOST_TEST(count_op(plan, "matmul") == 0);
    BOOST_TEST(count_op(plan, "fused_elementwise") == 0);
    BOOST_TEST(report_of(plan, "gemm_epilogue")->changes == 1);
    std::mt19937_64 rng(3);
    for (std::int64_t batch : {1, 7, 32})
      check_same_epilogues(g, {y}, {{x, random_tensor(dtype, Shape{batch, 5}, rng)}});
  }
}

BOOST_AUTO_TEST_CASE(the_backward_product_merges_with_the_activation_derivative) {
  // h = elu(x w1 + b1), y = h w2, loss = sum(y^2): dh = dy w2^T, and dz = dh * elu'(z) is a fused
  // node reading dh alone; dw1 = x^T dz and dw2 = h^T dy are fetched.
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 6}, "x");
  Output w1 = weights(g, DType::float32, Shape{6, 4}, "w1", 4);
  Output b1 = weights(g, DType::float32, Shape{4}, "b1", 5);
  Output w2 = weights(g, DType::float32, Shape{4, 3}, "w2", 6);
  Output h = elu(add(matmul(x, w1), b1), 1.0, "h");
  Output loss = sum(square(matmul(h, w2)), {}, false, "loss");
  std::vector<Output> grads = gradients(loss, {w1, b1, w2});
  Session s(g);
  s.set_optimizer_options(verified());
  Plan& plan = s.compile({loss, grads[0], grads[1], grads[2]}, {}, {x});
  const PlanGraph& pg = plan.plan_graph();
  bool backward_merged = false;
  for (int id = 0; id < pg.num_nodes(); ++id)
    if (pg.live(id) && pg.node(id).op->name == "matmul_epilogue" &&
        pg.node(id).attrs.get_bool("transpose_b"))  // dy w2^T
      backward_merged = true;
  BOOST_TEST(backward_merged);
  std::mt19937_64 rng(7);
  int merged = check_same_epilogues(g, {loss, grads[0], grads[1], grads[2]},
                          {{x, random_tensor(DType::float32, Shape{9, 6}, rng)}});
  BOOST_TEST(merged >= 2);  // the forward's first layer and dh
}

BOOST_AUTO_TEST_CASE(an_update_from_a_product_merges_into_its_store) {
  // SGD on w from dw = x^T dz: the fused update reads dw only, so the GEMM joins the store.
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{-1, 4}, "x");
  Output dz = placeholder(g, DType::float64, Shape{-1, 3}, "dz");
  Output w = weights(g, DType::float64, Shape{4, 3}, "w", 8);
  Operation update =
      assign_sub(w, mul(matmul(x, dz, true, false), scalar(g, 0.1, DType::float64)), "update");
  Session s(g);
  s.set_optimizer_options(verified());
  Plan& plan = s.compile({}, {update}, {x, dz});
  BOOST_TEST(count_op(plan, "matmul_epilogue") == 1);
  BOOST_TEST(count_op(plan, "assign_sub") == 0);
  std::mt19937_64 rng(9);
  check_same_epilogues(g, {},
             {{x, random_tensor(DType::float64, Shape{5, 4}, rng)},
              {dz, random_tensor(DType::float64, Shape{5, 3}, rng)}},
             {update}, 3);
}

BOOST_AUTO_TEST_CASE(a_product_with_another_reader_or_a_batch_stays_apart) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 5}, "x");
  Output w = weights(g, DType::float32, Shape{5, 3}, "w", 10);
  Output b = weights(g, DType::float32, Shape{3}, "b", 11);
  Output z = matmul(x, w, false, false, "z");
  Output y = elu(add(z, b), 1.0, "y");
  Output total = sum(z, {}, false, "total");  // a second reader of the product
  Output xb = placeholder(g, DType::float32, Shape{2, 4, 5}, "xb");
  Output yb = relu(add(matmul(xb, w), b), "yb");  // a batched product
  std::mt19937_64 rng(12);
  std::vector<Feed> feeds = {{x, random_tensor(DType::float32, Shape{6, 5}, rng)},
                             {xb, random_tensor(DType::float32, Shape{2, 4, 5}, rng)}};
  BOOST_TEST(check_same_epilogues(g, {y, total, yb}, feeds) == 0);
  // Fetching the product keeps it apart too; without the second reader it merges.
  BOOST_TEST(check_same_epilogues(g, {y, z}, {feeds[0]}) == 0);
  BOOST_TEST(check_same_epilogues(g, {y}, {feeds[0]}) == 1);
}

// The chapter's plain model (784-300-100-10, elu): the hidden layers' two forward products merge
// with their bias and activation, and the backward's two dX with dX * elu'(Z) (the first
// layer's dX is not needed). Apart stay the logits' product (its bias is a lone add, not a fused
// node) and the three dW: each is read only by its Nesterov update, but the optimizer's
// gradients_ready group runs between them (an update may start only when every gradient is
// computed), so a merge would make a cycle. Prediction merges the two hidden layers.
BOOST_AUTO_TEST_CASE(fires_on_the_chapter_plain_model) {
  auto model = nn::make_preset("plain", {});
  model->session().set_optimizer_options(verified());
  model->compile(optim::SGD({.learning_rate = 0.01, .momentum = 0.9, .nesterov = true}),
                 "sparse_categorical_crossentropy", {"accuracy"});
  Plan& train = model->training_plan();
  BOOST_TEST(count_op(train, "matmul_epilogue") == 4);
  BOOST_TEST(count_op(train, "matmul") == 4);
  BOOST_TEST(report_of(train, "gemm_epilogue")->changes == 4);
  Plan& predict = model->prediction_plan();
  BOOST_TEST(count_op(predict, "matmul_epilogue") == 2);
  BOOST_TEST(count_op(predict, "matmul") == 1);
}

// The pass is opt-in: default options leave the products and their fused readers apart, and
// enabling it by name is what merges them.
BOOST_AUTO_TEST_CASE(is_opt_in) {
  auto model = nn::make_preset("plain", {});
  model->compile(optim::SGD({.learning_rate = 0.01, .momentum = 0.9, .nesterov = true}),
                 "sparse_categorical_crossentropy", {"accuracy"});
  BOOST_TEST(count_op(model->training_plan(), "matmul_epilogue") == 0);
  BOOST_TEST(!report_of(model->training_plan(), "gemm_epilogue"));  // not run at all
  OptimizerOptions options;
  options.enabled = {"gemm_epilogue"};
  model->session().set_optimizer_options(options);
  BOOST_TEST(count_op(model->training_plan(), "matmul_epilogue") == 4);
  options.disabled = {"gemm_epilogue"};  // disabled wins
  model->session().set_optimizer_options(options);
  BOOST_TEST(count_op(model->training_plan(), "matmul_epilogue") == 0);
  options = {};
  options.enabled = {"gemm_epilog"};
  BOOST_CHECK_THROW(model->session().set_optimizer_options(options), GraphError);
}

// Random chains of products (plain and transposed, against square weights) and elementwise ops
// with a bias row and a column: the optimized plan, epilogues included, gives the same bits.
BOOST_DATA_TEST_CASE(random_products_and_epilogues_give_the_same_bits, bdata::xrange(24), seed) {
  constexpr std::int64_t kBatch = 6, kWidth = 9;
  std::mt19937_64 rng(static_cast<std::uint64_t>(seed) * 104729 + 5);
  DType dtype = seed % 2 ? DType::float64 : DType::float32;
  Graph g;
  Output x = placeholder(g, dtype, Shape{-1, kWidth}, "x");
  Output w = weights(g, dtype, Shape{kWidth, kWidth}, "w", 13);
  Output bias = placeholder(g, dtype, Shape{kWidth}, "bias");
  Output column = placeholder(g, dtype, Shape{-1, 1}, "column");
  std::vector<Output> values{x, matmul(x, w)};
  auto pick = [&] {
    return values[std::uniform_int_distribution<std::size_t>(0, values.size() - 1)(rng)];
  };
  int size = std::uniform_int_distribution<int>(4, 14)(rng);
  for (int i = 0; i < size; ++i) {
    Output a = pick();
    switch (std::uniform_int_distribution<int>(0, 7)(rng)) {
      case 0:
        values.push_back(matmul(a, w));
        break;
      case 1:
        values.push_back(matmul(a, w, false, true));
        break;
      case 2:
        values.push_back(add(a, bias));
        break;
      case 3:
        values.push_back(elu(a, 0.9));
        break;
      case 4:
        values.push_back(mul(a, column));
        break;
      case 5:
        values.push_back(tanh(add(a, pick())));
        break;
      case 6:
        values.push_back(sub(a, sum(a, {0}, true)));
        break;
      default:
        values.push_back(relu(add(matmul(a, w), bias)));
    }
  }
  // Every value depends on x, so its gradient exists (dY w^T products and their epilogues).
  std::vector<Output> fetches{values.back(),
                              gradients(sum(square(values.back()), {}, false), {x})[0]};
  std::vector<Feed> feeds{{x, random_tensor(dtype, Shape{kBatch, kWidth}, rng, -1, 1)},
                          {bias, random_tensor(dtype, Shape{kWidth}, rng, -1, 1)},
                          {column, random_tensor(dtype, Shape{kBatch, 1}, rng, -1, 1)}};
  check_same_epilogues(g, fetches, feeds);
}

BOOST_AUTO_TEST_SUITE_END()
