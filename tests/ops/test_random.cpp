// Random ops: reproducibility under seeds, sample statistics against the distributions'
// formulas, shapes taken from an input with an unknown batch dimension, build-time errors.
//
// Statistical tolerances are five standard errors of the estimate for n = 100000 draws (the
// standard error is written next to each check); the draws are seeded, so a pass is stable.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "dagrad/dagrad.hpp"
#include "ops/op_test_util.hpp"

using namespace dagrad;
using namespace dagrad::testing;
namespace tt = boost::test_tools;

namespace {

constexpr int kDraws = 100000;

struct Moments {
  double mean = 0, variance = 0;
};

Moments moments(const std::vector<double>& v) {
  Moments m;
  for (double x : v) m.mean += x;
  m.mean /= static_cast<double>(v.size());
  for (double x : v) m.variance += (x - m.mean) * (x - m.mean);
  m.variance /= static_cast<double>(v.size());
  return m;
}

// One fresh session's values of a graph built by make(g) with graph seed `graph_seed`.
template <class Make>
std::vector<double> sample(std::uint64_t graph_seed, Make&& make) {
  Graph g;
  g.set_seed(graph_seed);
  Output y = make(g);
  Session s(g);
  return values(s.run(y));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(random_ops)

BOOST_AUTO_TEST_CASE(same_seeds_give_same_values_in_fresh_sessions) {
  auto uniform = [](Graph& g) {
    return random_uniform(g, Shape{64}, -1.0, 1.0, DType::float32, 7);
  };
  auto normal = [](Graph& g) { return random_normal(g, Shape{3, 5}, 0.0, 1.0, DType::float64, 7); };
  auto truncated = [](Graph& g) {
    return truncated_normal(g, Shape{33}, 1.0, 2.0, DType::float32, 7);
  };
  auto coin = [](Graph& g) {
    return bernoulli_like(constant(g, Tensor(DType::float64, Shape{64})), 0.5, 7);
  };
  BOOST_TEST(sample(42, uniform) == sample(42, uniform), tt::per_element());
  BOOST_TEST(sample(42, normal) == sample(42, normal), tt::per_element());
  BOOST_TEST(sample(42, truncated) == sample(42, truncated), tt::per_element());
  BOOST_TEST(sample(42, coin) == sample(42, coin), tt::per_element());
  // Op seed 0 derives the node's seed from its position: still reproducible.
  auto unseeded = [](Graph& g) { return random_normal(g, Shape{16}); };
  BOOST_TEST(sample(3, unseeded) == sample(3, unseeded), tt::per_element());
}

BOOST_AUTO_TEST_CASE(different_seeds_give_different_values) {
  auto with_op_seed = [](std::int64_t seed) {
    return
        [seed](Graph& g) { return random_uniform(g, Shape{32}, 0.0, 1.0, DType::float64, seed); };
  };
  BOOST_TEST((sample(42, with_op_seed(7)) != sample(43, with_op_seed(7))));  // graph seed differs
  BOOST_TEST((sample(42, with_op_seed(7)) != sample(42, with_op_seed(8))));  // op seed differs
  // Two unseeded nodes in one graph draw different streams.
  Graph g;
  Output a = random_normal(g, Shape{8});
  Output b = random_normal(g, Shape{8});
  Session s(g);
  std::vector<Tensor> ab = s.run({a, b});
  BOOST_TEST((values(ab[0]) != values(ab[1])));
}

BOOST_AUTO_TEST_CASE(successive_runs_differ) {
  Graph g;
  g.set_seed(1);
  Output u = random_uniform(g, Shape{16}, 0.0, 1.0, DType::float32, 5);
  Output n = truncated_normal(g, Shape{16}, 0.0, 1.0, DType::float64, 5);
  Session s(g);
  BOOST_TEST((values(s.run(u)) != values(s.run(u))));
  BOOST_TEST((values(s.run(n)) != values(s.run(n))));
  // The sequence of runs is itself reproducible: a fresh session repeats it.
  Session s1(g), s2(g);
  std::vector<double> first = values(s1.run(u));
  std::vector<double> second = values(s1.run(u));
  BOOST_TEST(values(s2.run(u)) == first, tt::per_element());
  BOOST_TEST(values(s2.run(u)) == second, tt::per_element());
}

BOOST_AUTO_TEST_CASE(uniform_statistics) {
  // U[a, b): mean (a + b) / 2 = 0.5, variance (b - a)^2 / 12 = 25/12.
  const double a = -2.0, b = 3.0;
  for (DType dtype : {DType::float32, DType::float64}) {
    std::vector<double> v =
        sample(11, [&](Graph& g) { return random_uniform(g, Shape{kDraws}, a, b, dtype, 1); });
    bool in_range = true;
    for (double x : v) in_range = in_range && x >= a && x < b;
    BOOST_TEST(in_range);
    Moments m = moments(v);
    BOOST_TEST(m.mean == 0.5, tt::tolerance(0.0229 / 0.5));  // SE sqrt(25/12 / n) = 0.00456
    // Var[(x - mu)^2] = (b - a)^4 / 180 = 3.47: SE of the variance 0.0059.
    BOOST_TEST(m.variance == 25.0 / 12.0, tt::tolerance(0.0295 / (25.0 / 12.0)));
  }
}

BOOST_AUTO_TEST_CASE(normal_statistics) {
  // N(1.5, 2^2): mean 1.5, variance 4, and P(|x - mean| < stddev) = erf(1/sqrt 2) = 0.682689.
  for (DType dtype : {DType::float32, DType::float64}) {
    std::vector<double> v =
        sample(12, [&](Graph& g) { return random_normal(g, Shape{kDraws}, 1.5, 2.0, dtype, 1); });
    Moments m = moments(v);
    BOOST_TEST(m.mean == 1.5, tt::tolerance(0.0316 / 1.5));      // SE 2 / sqrt(n) = 0.00632
    BOOST_TEST(m.variance == 4.0, tt::tolerance(0.0894 / 4.0));  // SE sqrt(2 sigma^4 / n) = 0.0179
    double within = 0;
    for (double x : v) within += std::fabs(x - 1.5) < 2.0 ? 1 : 0;
    // SE sqrt(p (1 - p) / n) = 0.00147.
    BOOST_TEST(within / kDraws == 0.682689, tt::tolerance(0.0074 / 0.682689));
  }
}

BOOST_AUTO_TEST_CASE(truncated_normal_statistics) {
  // Standard normal truncated to [-2, 2]: variance 1 - 2 * 2 phi(2) / (2 Phi(2) - 1) = 0.773741,
  // std 0.87962566; mean 0.
  std::vector<double> v = sample(
      13, [](Graph& g) { return truncated_normal(g, Shape{kDraws}, 0.0, 1.0, DType::float32, 1); });
  double largest = 0;
  for (double x : v) largest = std::max(largest, std::fabs(x));
  BOOST_TEST(largest <= 2.0);
  BOOST_TEST(largest > 1.99);  // the whole range is reached
  Moments m = moments(v);
  BOOST_TEST(std::fabs(m.mean) < 0.0139);  // SE sqrt(0.7737 / n) = 0.00278
  // Var[z^2] = E z^4 - (E z^2)^2 = 1.41618 - 0.59867 = 0.8175: SE of the variance 0.00286,
  // of the std 0.00286 / (2 * 0.88) = 0.00163.
  BOOST_TEST(std::sqrt(m.variance) == 0.87962566, tt::tolerance(0.0081 / 0.87962566));
  // Shifted and scaled: N(3, 0.5^2) truncated to [2, 4].
  std::vector<double> w = sample(
      14, [](Graph& g) { return truncated_normal(g, Shape{kDraws}, 3.0, 0.5, DType::float64, 1); });
  bool in_range = true;
  for (double x : w) in_range = in_range && x >= 2.0 && x <= 4.0;
  BOOST_TEST(in_range);
  BOOST_TEST(std::sqrt(moments(w).variance) == 0.5 * 0.87962566,
             tt::tolerance(0.0041 / (0.5 * 0.87962566)));
}

BOOST_AUTO_TEST_CASE(bernoulli_statistics) {
  auto coin = [](double p, DType dtype) {
    return [p, dtype](Graph& g) {
      return bernoulli_like(constant(g, Tensor(dtype, Shape{kDraws})), p, 1);
    };
  };
  std::vector<double> v = sample(15, coin(0.3, DType::float32));
  bool binary = true;
  for (double x : v) binary = binary && (x == 0.0 || x == 1.0);
  BOOST_TEST(binary);
  BOOST_TEST(moments(v).mean == 0.3, tt::tolerance(0.0072 / 0.3));  // SE sqrt(0.21 / n) = 0.00145
  BOOST_TEST(moments(sample(16, coin(0.8, DType::float64))).mean == 0.8,
             tt::tolerance(0.0063 / 0.8));
  BOOST_TEST(moments(sample(17, coin(0.0, DType::float32))).mean == 0.0);
  BOOST_TEST(moments(sample(18, coin(1.0, DType::float64))).mean == 1.0);
}

BOOST_AUTO_TEST_CASE(like_forms_take_an_unknown_batch_dimension) {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{-1, 3}, "x");
  Output u = random_uniform_like(x, 2.0, 4.0, 9);
  Output mask = bernoulli_like(x, 0.5, 9);
  BOOST_TEST(u.shape().to_string() == "(?, 3)");
  BOOST_TEST(dtype_name(u.dtype()) == dtype_name(DType::float64));
  BOOST_TEST(mask.shape().to_string() == "(?, 3)");
  // The generic ops take a 'like' input too.
  Output n = g.add("random_normal", {x}, {{"stddev", 0.5}, {"dtype", DType::float32}});
  BOOST_TEST(n.shape().to_string() == "(?, 3)");
  BOOST_TEST(dtype_name(n.dtype()) == dtype_name(DType::float32));
  Session s(g);
  for (std::int64_t batch : {2, 5}) {
    std::vector<Tensor> out = s.run({u, mask, n}, {{x, Tensor(DType::float64, Shape{batch, 3})}});
    const std::string want = Shape{batch, 3}.to_string();
    BOOST_TEST(out[0].shape().to_string() == want);
    BOOST_TEST(out[1].shape().to_string() == want);
    BOOST_TEST(out[2].shape().to_string() == want);
    for (double v : values(out[0])) BOOST_TEST((v >= 2.0 && v < 4.0));
    for (double v : values(out[1])) BOOST_TEST((v == 0.0 || v == 1.0));
  }
}

BOOST_AUTO_TEST_CASE(random_ops_are_not_differentiable_and_use_rng) {
  Graph g;
  for (const char* op : {"random_uniform", "random_normal", "truncated_normal", "bernoulli"}) {
    const OpRecord& r = g.registry().get(op);
    BOOST_TEST(r.uses_rng, op);
    BOOST_TEST(r.stateful, op);
    BOOST_TEST(!r.not_differentiable_reason.empty(), op);
  }
}

BOOST_AUTO_TEST_CASE(random_ops_reject_bad_shapes_and_parameters) {
  Graph g;
  check_build_error(
      g,
      [&] {
        random_uniform(g, Shape{-1, 3}, 0.0, 1.0, DType::float32, 0, "bad_u");
      },
      {"node 'bad_u'", "(op random_uniform)", "inputs []", "(?, 3)", "fully defined"});
  check_build_error(g, [&] { random_uniform(g, Shape{2}, 1.0, 1.0, DType::float32, 0, "bad_u"); },
                    {"node 'bad_u'", "(op random_uniform)", "minval"});
  check_build_error(g, [&] { random_uniform(g, Shape{2}, 0.0, 1.0, DType::int32, 0, "bad_u"); },
                    {"node 'bad_u'", "(op random_uniform)", "float32 or float64"});
  check_build_error(g, [&] { random_normal(g, Shape{2}, 0.0, -1.0, DType::float32, 0, "bad_n"); },
                    {"node 'bad_n'", "(op random_normal)", "stddev"});
  check_build_error(g,
                    [&] {
                      truncated_normal(g, Shape{2, -1}, 0.0, 1.0, DType::float64, 0, "bad_t");
                    },
                    {"node 'bad_t'", "(op truncated_normal)", "(2, ?)"});
  Output x = placeholder(g, DType::float32, Shape{-1, 4}, "x");
  check_build_error(g, [&] { bernoulli_like(x, 1.5, 0, "bad_b"); },
                    {"node 'bad_b'", "(op bernoulli)", "x: float32 (?, 4)", "p must be in [0, 1]"});
  Output ints = placeholder(g, DType::int32, Shape{-1, 4}, "ints");
  check_build_error(
      g, [&] { random_uniform_like(ints, 0.0, 1.0, 0, "bad_u"); },
      {"node 'bad_u'", "(op random_uniform)", "ints: int32 (?, 4)", "float32 or float64"});
  check_build_error(g,
                    [&] {
                      g.add("random_normal", {x, x}, {}, {"bad_two"});
                    },
                    {"node 'bad_two'", "(op random_normal)", "x: float32 (?, 4), x: float32 (?, 4)",
                     "at most one input"});
}

BOOST_AUTO_TEST_SUITE_END()
