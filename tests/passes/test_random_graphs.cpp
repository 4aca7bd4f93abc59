// The property every pass keeps: a plan optimized by the default pipeline gives the same bits as
// the unoptimized plan. Random graphs of elementwise ops over broadcasting shapes, with
// reductions, matrix products and reshapes between them (which end fused groups, or join them as
// reductions over the batch axis), in float32 and float64, each verified after every pass.
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <random>

#include "pass_test_util.hpp"

using namespace dagrad;
using namespace dagrad::testing;
namespace bdata = boost::unit_test::data;

namespace {

constexpr std::int64_t kBatch = 5, kWidth = 7;

// Adds one random node over earlier values; returns it.
Output random_node(Graph& g, std::vector<Output>& values, DType dtype, std::mt19937_64& rng) {
  auto pick = [&]() {
    return values[std::uniform_int_distribution<std::size_t>(0, values.size() - 1)(rng)];
  };
  // Values of the full (batch, width) shape, to keep most results full-shaped.
  auto pick_full = [&]() {
    for (int tries = 0; tries < 20; ++tries) {
      Output v = pick();
      if (v.shape().rank() == 2 && v.shape()[1] == kWidth) return v;
    }
    return values[0];
  };
  int kind = std::uniform_int_distribution<int>(0, 31)(rng);
  Output a = pick_full(), b = pick();
  switch (kind) {
    case 0:
      return add(a, b);
    case 1:
      return sub(a, b);
    case 2:
      return mul(a, b);
    case 3:
      return div(a, add(square(b), scalar(g, 1.0, dtype)));
    case 4:
      return maximum(a, b);
    case 5:
      return minimum(a, b);
    case 6:
      return where(greater(a, b), a, neg(b));
    case 7:
      return where(less_equal(a, zeros_like(a)), mul(a, scalar(g, 0.5, dtype)), a);
    case 8:
      return tanh(a);
    case 9:
      return sigmoid(a);
    case 10:
      return elu(a, 0.8);
    case 11:
      return selu(a);
    case 12:
      return relu(a);
    case 13:
      return leaky_relu(a, 0.1);
    case 14:
      return softplus(a);
    case 15:
      return exp(clip_by_value(a, -3.0, 3.0));
    case 16:
      return log(add(abs(a), scalar(g, 0.5, dtype)));
    case 17:
      return sqrt(add(square(a), scalar(g, 1e-3, dtype)));
    case 18:
      return mul(a, ones_like(b));
    case 19:
      return add(a, scalar(g, 0.0, dtype));
    case 20:
      return identity(a);
    case 21:
      return sum(a, {0}, true);  // (1, width): a broadcast operand for later nodes
    case 22:
      return mean(a, {1}, true);  // (batch, 1)
    case 23:
      return reshape(reshape(a, {-1}), {-1, kWidth});
    case 24:
      return transpose(transpose(a, {}), {});
    case 25:
      return log1p(square(a));
    case 26:
      return pow(abs(a), scalar(g, 1.5, dtype));
    case 27:
      return reciprocal(add(square(a), scalar(g, 1.0, dtype)));
    case 28:
      return sign(a);
    case 29:
      return mean(a, {0}, false);  // (width): the fusion pass may absorb it
    case 30:
      return sum_to(a, values[1]);  // (width), as a bias gradient
    default:
      return rsqrt(add(square(a), scalar(g, 0.25, dtype)));
  }
}

struct RandomGraph {
  Graph g;
  std::vector<Output> fetches;
  std::vector<Feed> feeds;
};

void build(RandomGraph& r, int seed) {
  Graph& g = r.g;
  std::mt19937_64 rng(static_cast<std::uint64_t>(seed) * 7919 + 17);
  DType dtype = seed % 2 ? DType::float64 : DType::float32;
  Output x = placeholder(g, dtype, Shape{-1, kWidth}, "x");
  Output bias = placeholder(g, dtype, Shape{kWidth}, "bias");
  Output column = placeholder(g, dtype, Shape{-1, 1}, "column");
  std::vector<Output> values{x, bias, column};
  int size = std::uniform_int_distribution<int>(5, 40)(rng);
  for (int i = 0; i < size; ++i) values.push_back(random_node(g, values, dtype, rng));
  // Fetch a few values, the last always, and sometimes a gradient of their sum.
  std::vector<Output> fetches{values.back()};
  for (int k = 0; k < 3; ++k)
    fetches.push_back(
        values[std::uniform_int_distribution<std::size_t>(3, values.size() - 1)(rng)]);
  if (seed % 3 == 0) {
    Output total = sum(values.back(), {}, false);
    fetches.push_back(gradients(total, {x})[0]);
  }
  r.fetches = fetches;
  r.feeds = {{x, random_tensor(dtype, Shape{kBatch, kWidth}, rng, -1.5, 1.5)},
             {bias, random_tensor(dtype, Shape{kWidth}, rng, -1.5, 1.5)},
             {column, random_tensor(dtype, Shape{kBatch, 1}, rng, -1.5, 1.5)}};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(random_graphs)

BOOST_DATA_TEST_CASE(optimized_plans_give_the_same_bits, bdata::xrange(40), seed) {
  RandomGraph r;
  build(r, seed);
  Graph& g = r.g;
  const std::vector<Output>& fetches = r.fetches;
  const std::vector<Feed>& feeds = r.feeds;
  Session on(g), off(g);
  on.set_optimizer_options(verified());
  off.set_optimizer_options(unoptimized());
  auto a = on.run(fetches, feeds);
  auto b = off.run(fetches, feeds);
  for (std::size_t i = 0; i < a.size(); ++i)
    BOOST_TEST(identical(a[i], b[i]),
               "seed " << seed << ": fetch " << fetches[i].name() << " differs");
}

// The graphs above do exercise reductions fused into groups (so that their equality covers them).
BOOST_AUTO_TEST_CASE(some_graphs_fuse_reductions) {
  int fused = 0;
  for (int seed = 0; seed < 40; ++seed) {
    RandomGraph r;
    build(r, seed);
    Session on(r.g);
    on.set_optimizer_options(verified());
    std::vector<Output> placeholders;
    for (const Feed& f : r.feeds) placeholders.push_back(f.placeholder);
    const PassReport* report =
        report_of(on.compile(r.fetches, {}, placeholders), "elementwise_fusion");
    bool any = false;
    for (const std::string& line : report->details)
      any = any || line.find(" reductions)") != std::string::npos;
    fused += any ? 1 : 0;
  }
  BOOST_TEST(fused >= 10, fused << " of 40 graphs fuse a reduction");
}

BOOST_AUTO_TEST_SUITE_END()
