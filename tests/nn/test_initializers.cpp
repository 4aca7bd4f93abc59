// Initializers (nn/initializers.cpp) against keras-semantics.md section 1: the fans, the
// distribution parameters (the worked values), and large samples whose mean and variance are
// compared with the formula's within 5 standard errors of the sample statistics, plus their
// support, seeding, name scopes, errors and the config round trip.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "dagrad/dagrad.hpp"
#include "dagrad/nn/errors.hpp"
#include "dagrad/nn/initializers.hpp"
#include "ops/op_test_util.hpp"

using namespace dagrad;
using namespace dagrad::testing;
using nn::Initializer;
using nn::ModelError;

namespace {

constexpr double kPi = 3.14159265358979323846;

// A standard normal truncated to [-a, a], with Z = P(|x| <= a) = erf(a / sqrt(2)) and
// phi(a) = e^(-a^2/2) / sqrt(2 pi). Integrating x^n phi(x) over [-a, a] by parts (n even):
//   I_n = -2 a^(n-1) phi(a) + (n - 1) I_(n-2),   I_0 = Z,
// so m2 = I_2 / Z = 1 - 2 a phi(a) / Z and m4 = I_4 / Z = 3 m2 - 2 a^3 phi(a) / Z. At a = 2:
// m2 = 0.77374 (sqrt: 0.8796256610342398, Keras's correction constant) and the kurtosis
// m4 / m2^2 = 2.3655, below the normal's 3 since the tails are cut.
struct TruncatedMoments {
  double m2, m4;
};
TruncatedMoments truncated_standard_normal(double a) {
  double z = std::erf(a / std::sqrt(2.0));
  double phi = std::exp(-a * a / 2.0) / std::sqrt(2.0 * kPi);
  double m2 = 1.0 - 2.0 * a * phi / z;
  double m4 = 3.0 * m2 - 2.0 * a * a * a * phi / z;
  return {m2, m4};
}

// Fourth central moment over the squared variance of each distribution drawn.
constexpr double kUniformKurtosis = 9.0 / 5.0;
constexpr double kNormalKurtosis = 3.0;
double truncated_kurtosis() {
  TruncatedMoments t = truncated_standard_normal(2.0);
  return t.m4 / (t.m2 * t.m2);
}

struct Sample {
  std::vector<double> values;
  double mean = 0, variance = 0, min = 0, max = 0;
};

Sample summarize(const Tensor& t) {
  Sample s;
  s.values = values(t);
  double n = static_cast<double>(s.values.size());
  for (double v : s.values) s.mean += v;
  s.mean /= n;
  for (double v : s.values) s.variance += (v - s.mean) * (v - s.mean);
  s.variance /= n;
  s.min = *std::min_element(s.values.begin(), s.values.end());
  s.max = *std::max_element(s.values.begin(), s.values.end());
  return s;
}

// Runs the initializer's node in a fresh graph of the given seed.
Tensor draw(const Initializer& init, const Shape& shape, DType dtype = DType::float32,
            std::uint64_t graph_seed = 0) {
  Graph g;
  g.set_seed(graph_seed);
  Output x = init(g, shape, dtype);
  BOOST_TEST(x.dtype() == dtype);
  BOOST_TEST((x.shape() == shape));
  Session s(g);
  return s.run(x);
}

// The sample mean within 5 standard errors sigma / sqrt(N) of `mean`, the sample variance within
// 5 standard errors sqrt((mu4 - sigma^4) / N) = sigma^2 sqrt((kurtosis - 1) / N) of `variance`.
void check_moments(const Sample& s, double mean, double variance, double kurtosis,
                   const std::string& context) {
  double n = static_cast<double>(s.values.size());
  double se_mean = std::sqrt(variance / n);
  double se_variance = variance * std::sqrt((kurtosis - 1.0) / n);
  BOOST_TEST_MESSAGE(context << ": mean " << s.mean << " (expected " << mean << ", se " << se_mean
                             << "), variance " << s.variance << " (expected " << variance << ", se "
                             << se_variance << ")");
  BOOST_TEST(std::abs(s.mean - mean) <= 5.0 * se_mean,
             context << ": mean " << s.mean << ", expected " << mean << " +- " << 5 * se_mean);
  BOOST_TEST(std::abs(s.variance - variance) <= 5.0 * se_variance,
             context << ": variance " << s.variance << ", expected " << variance << " +- "
                     << 5 * se_variance);
}

// Uniform in [-limit, limit) (compared in float32, which rounds monotonically), reaching close
// to both ends.
void check_uniform(const Sample& s, double lo, double hi, const std::string& context) {
  BOOST_TEST(s.min >= static_cast<double>(static_cast<float>(lo)), context << ": min " << s.min);
  BOOST_TEST(s.max <= static_cast<double>(static_cast<float>(hi)), context << ": max " << s.max);
  double width = hi - lo;
  BOOST_TEST(s.min < lo + 1e-3 * width, context << ": min " << s.min << " far from " << lo);
  BOOST_TEST(s.max > hi - 1e-3 * width, context << ": max " << s.max << " far from " << hi);
  check_moments(s, (lo + hi) / 2, width * width / 12.0, kUniformKurtosis, context);
}

// Normal with parameter `stddev` truncated at mean +- 2 stddev: values inside, some within 0.5%
// of the bounds (about 1100 of a million are), variance (0.8796 stddev)^2.
void check_truncated(const Sample& s, double mean, double stddev, const std::string& context) {
  BOOST_TEST(s.min >= static_cast<double>(static_cast<float>(mean - 2 * stddev)),
             context << ": min " << s.min);
  BOOST_TEST(s.max <= static_cast<double>(static_cast<float>(mean + 2 * stddev)),
             context << ": max " << s.max);
  BOOST_TEST(s.min < mean - 1.99 * stddev, context << ": min " << s.min);
  BOOST_TEST(s.max > mean + 1.99 * stddev, context << ": max " << s.max);
  double m2 = truncated_standard_normal(2.0).m2;
  check_moments(s, mean, m2 * stddev * stddev, truncated_kurtosis(), context);
}

// Untruncated: among a million draws some lie beyond 4 stddev (none would with probability
// e^-63).
void check_normal(const Sample& s, double mean, double stddev, const std::string& context) {
  BOOST_TEST(std::max(mean - s.min, s.max - mean) > 4 * stddev, context << ": no tail");
  check_moments(s, mean, stddev * stddev, kNormalKurtosis, context);
}

// A million elements: fan_in 400, fan_out 2500.
const Shape kKernel{400, 2500};
constexpr double kFanIn = 400, kFanOut = 2500;

}  // namespace

BOOST_AUTO_TEST_SUITE(initializers)

BOOST_AUTO_TEST_CASE(fans_by_rank) {
  auto fans = [](Shape s) {
    nn::Fans f = nn::compute_fans(s);
    return std::vector<std::int64_t>{f.fan_in, f.fan_out};
  };
  BOOST_TEST(fans(Shape{}) == (std::vector<std::int64_t>{1, 1}), boost::test_tools::per_element());
  BOOST_TEST(fans(Shape{7}) == (std::vector<std::int64_t>{7, 7}), boost::test_tools::per_element());
  BOOST_TEST(fans(Shape{784, 300}) == (std::vector<std::int64_t>{784, 300}),
             boost::test_tools::per_element());
  // Conv1D kernel (width, in, out): receptive field 5.
  BOOST_TEST(fans(Shape{5, 3, 8}) == (std::vector<std::int64_t>{15, 40}),
             boost::test_tools::per_element());
  // Conv2D kernel (kh, kw, in, filters): receptive field 9.
  BOOST_TEST(fans(Shape{3, 3, 16, 32}) == (std::vector<std::int64_t>{144, 288}),
             boost::test_tools::per_element());
  BOOST_CHECK_EXCEPTION(nn::compute_fans(Shape{-1, 10}), ModelError,
                        mentions_all<ModelError>({"(?, 10)", "fully defined"}));
}

// keras-semantics.md 1.2: he_normal on 784x300 draws from a normal of stddev 0.0574195 (before
// truncation), glorot_uniform from [-0.0743980, 0.0743980].
BOOST_AUTO_TEST_CASE(worked_values) {
  Graph g;
  Output he = Initializer("he_normal")(g, Shape{784, 300});
  BOOST_TEST(he.producer().op->name == "truncated_normal");
  BOOST_TEST(std::abs(he.producer().attrs.get_float("stddev") - 0.0574195) <= 5e-8);
  BOOST_TEST(he.producer().attrs.get_float("mean") == 0.0);
  Output glorot = Initializer("glorot_uniform")(g, Shape{784, 300});
  BOOST_TEST(glorot.producer().op->name == "random_uniform");
  BOOST_TEST(std::abs(glorot.producer().attrs.get_float("maxval") - 0.0743980) <= 5e-8);
  BOOST_TEST(std::abs(glorot.producer().attrs.get_float("minval") + 0.0743980) <= 5e-8);
  // The standard deviation of what they draw: sqrt(2 / 784) and 0.0743980 / sqrt(3).
  BOOST_TEST(std::abs(Initializer("he_normal").target_stddev(Shape{784, 300}) -
                      std::sqrt(2.0 / 784)) <= 1e-15);
  BOOST_TEST(std::abs(Initializer("glorot_uniform").target_stddev(Shape{784, 300}) -
                      std::sqrt(2.0 / 1084)) <= 1e-15);
}

BOOST_AUTO_TEST_CASE(named_variance_scaling_initializers) {
  struct Case {
    const char* name;
    double variance;  // scale / n
    bool uniform;
  };
  const double avg = (kFanIn + kFanOut) / 2;
  const Case cases[] = {
      {"glorot_uniform", 1 / avg, true},   {"glorot_normal", 1 / avg, false},
      {"he_uniform", 2 / kFanIn, true},    {"he_normal", 2 / kFanIn, false},
      {"lecun_uniform", 1 / kFanIn, true}, {"lecun_normal", 1 / kFanIn, false},
  };
  for (const Case& c : cases) {
    Initializer init(c.name);
    BOOST_TEST(init.name() == c.name);
    BOOST_TEST((init.kind == Initializer::Kind::VarianceScaling));
    BOOST_TEST(std::abs(init.target_stddev(kKernel) - std::sqrt(c.variance)) <= 1e-15);
    Sample s = summarize(draw(init, kKernel));
    if (c.uniform) {
      double limit = std::sqrt(3 * c.variance);
      check_uniform(s, -limit, limit, c.name);
    } else {
      check_truncated(s, 0.0, std::sqrt(c.variance) / 0.87962566103423978, c.name);
      // The correction makes the drawn variance the formula's.
      check_moments(s, 0.0, c.variance, truncated_kurtosis(), std::string(c.name) + " corrected");
    }
  }
}

BOOST_AUTO_TEST_CASE(variance_scaling_modes_and_distributions) {
  const double scale = 1.5;
  struct Mode {
    const char* mode;
    double n;
  };
  const Mode modes[] = {
      {"fan_in", kFanIn}, {"fan_out", kFanOut}, {"fan_avg", (kFanIn + kFanOut) / 2}};
  for (const Mode& m : modes) {
    double variance = scale / m.n;
    std::string context = std::string(m.mode) + " ";
    for (const char* dist : {"truncated_normal", "normal", "Normal"}) {
      Initializer init = Initializer::variance_scaling(scale, m.mode, dist, 0);
      BOOST_TEST(init.distribution == "truncated_normal", dist);
      check_truncated(summarize(draw(init, kKernel)), 0.0,
                      std::sqrt(variance) / 0.87962566103423978, context + dist);
    }
    check_normal(summarize(draw(Initializer::variance_scaling(scale, m.mode, "untruncated_normal"),
                                kKernel)),
                 0.0, std::sqrt(variance), context + "untruncated_normal");
    double limit = std::sqrt(3 * variance);
    check_uniform(summarize(draw(Initializer::variance_scaling(scale, m.mode, "uniform"), kKernel)),
                  -limit, limit, context + "uniform");
  }
  // A conv kernel: fans count the receptive field (5 x 5): fan_in 25 * 40, fan_out 25 * 1000.
  Shape conv{5, 5, 40, 1000};
  check_uniform(summarize(draw(Initializer::variance_scaling(2.0, "fan_out", "uniform"), conv)),
                -std::sqrt(6.0 / 25000), std::sqrt(6.0 / 25000), "conv fan_out uniform");
  check_truncated(summarize(draw(Initializer("he_normal"), conv)), 0.0,
                  std::sqrt(2.0 / 1000) / 0.87962566103423978, "conv he_normal");
  // A scalar has fans (1, 1); a fan of 0 counts as 1 (scale / max(1, n)).
  BOOST_TEST(std::abs(Initializer("lecun_normal").target_stddev(Shape{}) - 1.0) <= 1e-15);
  BOOST_TEST(std::abs(Initializer::variance_scaling(3.0).target_stddev(Shape{0, 5}) -
                      std::sqrt(3.0)) <= 1e-15);
}

BOOST_AUTO_TEST_CASE(random_and_constant_initializers) {
  check_normal(summarize(draw(Initializer("random_normal"), kKernel)), 0.0, 0.05,
               "random_normal default");
  check_normal(summarize(draw(Initializer::random_normal(1.0, 2.0), kKernel)), 1.0, 2.0,
               "random_normal(1, 2)");
  check_uniform(summarize(draw(Initializer("random_uniform"), kKernel)), -0.05, 0.05,
                "random_uniform default");
  check_uniform(summarize(draw(Initializer::random_uniform(2.0, 5.0), kKernel)), 2.0, 5.0,
                "random_uniform(2, 5)");
  check_truncated(summarize(draw(Initializer("truncated_normal"), kKernel)), 0.0, 0.05,
                  "truncated_normal default");
  check_truncated(summarize(draw(Initializer::truncated_normal(1.0, 0.5), kKernel)), 1.0, 0.5,
                  "truncated_normal(1, 0.5)");
  // float64 draws have the same distribution.
  check_normal(summarize(draw(Initializer::random_normal(0.0, 3.0), kKernel, DType::float64)), 0.0,
               3.0, "random_normal float64");

  for (DType dtype : {DType::float32, DType::float64}) {
    check_values(draw(Initializer("zeros"), Shape{3, 4}, dtype), {0.0}, 0.0, "zeros");
    check_values(draw(Initializer("ones"), Shape{3, 4}, dtype), {1.0}, 0.0, "ones");
    check_values(draw(Initializer::constant(-3.25), Shape{2, 2, 2}, dtype), {-3.25}, 0.0,
                 "constant");
  }
  BOOST_TEST(Initializer::constant(2.0).name() == "constant");
  BOOST_TEST(Initializer::constant(2.0).target_stddev(Shape{2}) == 0.0);
  BOOST_TEST(std::abs(Initializer("random_uniform").target_stddev(Shape{2}) -
                      0.1 / std::sqrt(12.0)) <= 1e-15);
  BOOST_TEST(std::abs(Initializer("truncated_normal").target_stddev(Shape{2}) -
                      0.05 * std::sqrt(truncated_standard_normal(2.0).m2)) <= 1e-12);
}

BOOST_AUTO_TEST_CASE(seeds_and_graph_seeds) {
  Shape shape{50, 40};
  auto values_of = [&](const Initializer& init, std::uint64_t graph_seed, int nodes_before) {
    Graph g;
    g.set_seed(graph_seed);
    for (int i = 0; i < nodes_before; ++i) scalar(g, 1.0);
    Output x = init(g, shape);
    Session s(g);
    return values(s.run(x));
  };
  auto differing = [](const std::vector<double>& a, const std::vector<double>& b) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < a.size(); ++i) n += a[i] != b[i];
    return n;
  };
  Initializer seeded = Initializer::variance_scaling(1.0, "fan_avg", "uniform", 7);
  // An explicit seed: the same values wherever the node is, in graphs of the same seed.
  BOOST_TEST(differing(values_of(seeded, 3, 0), values_of(seeded, 3, 5)) == 0u);
  BOOST_TEST(differing(values_of(seeded, 3, 0),
                       values_of(Initializer::variance_scaling(1.0, "fan_avg", "uniform", 8), 3,
                                 0)) == shape.num_elements());
  BOOST_TEST(differing(values_of(seeded, 3, 0), values_of(seeded, 4, 0)) == shape.num_elements());
  // Seed 0: graphs built the same way with the same seed agree; another graph seed changes
  // every value.
  Initializer he("he_normal");
  BOOST_TEST(differing(values_of(he, 11, 2), values_of(he, 11, 2)) == 0u);
  BOOST_TEST(differing(values_of(he, 11, 2), values_of(he, 12, 2)) == shape.num_elements());
  // Two seed-0 initializers in one graph draw different values.
  Graph g;
  Output a = he(g, shape);
  Output b = he(g, shape);
  Session s(g);
  std::vector<Tensor> ab = s.run({a, b});
  BOOST_TEST(differing(values(ab[0]), values(ab[1])) == shape.num_elements());
}

BOOST_AUTO_TEST_CASE(nodes_go_under_the_current_scope) {
  Graph g;
  {
    auto scope = g.name_scope("dense");
    Output k = Initializer("glorot_uniform")(g, Shape{3, 2}, DType::float32, "kernel_init");
    BOOST_TEST(k.producer().name == "dense/kernel_init");
    Output b = Initializer("zeros")(g, Shape{2});
    BOOST_TEST(b.producer().name.rfind("dense/", 0) == 0u, b.producer().name);
  }
  Output top = Initializer("ones")(g, Shape{2});
  BOOST_TEST(top.producer().name.find('/') == std::string::npos, top.producer().name);
}

BOOST_AUTO_TEST_CASE(errors_name_what_was_wrong) {
  BOOST_CHECK_EXCEPTION(Initializer("glorot"), ModelError,
                        mentions_all<ModelError>({"'glorot'", "glorot_uniform", "he_normal",
                                                  "lecun_normal", "truncated_normal"}));
  BOOST_CHECK_EXCEPTION(Initializer(std::string("")), ModelError, mentions_all<ModelError>({"''"}));
  BOOST_CHECK_EXCEPTION(Initializer::variance_scaling(0.0), ModelError,
                        mentions_all<ModelError>({"scale", "0"}));
  BOOST_CHECK_EXCEPTION(Initializer::variance_scaling(-2.0), ModelError,
                        mentions_all<ModelError>({"scale", "-2"}));
  BOOST_CHECK_EXCEPTION(Initializer::variance_scaling(std::nan("")), ModelError,
                        mentions_all<ModelError>({"scale"}));
  BOOST_CHECK_EXCEPTION(Initializer::variance_scaling(1.0, "fan_sum"), ModelError,
                        mentions_all<ModelError>({"mode", "'fan_sum'", "fan_avg"}));
  // Keras lower-cases the distribution but not the mode.
  BOOST_CHECK_EXCEPTION(Initializer::variance_scaling(1.0, "FAN_IN"), ModelError,
                        mentions_all<ModelError>({"'FAN_IN'"}));
  BOOST_CHECK_EXCEPTION(Initializer::variance_scaling(1.0, "fan_in", "gaussian"), ModelError,
                        mentions_all<ModelError>({"distribution", "'gaussian'", "uniform"}));
  BOOST_CHECK_EXCEPTION(Initializer::random_uniform(0.5, 0.5), ModelError,
                        mentions_all<ModelError>({"minval", "maxval"}));
  BOOST_CHECK_EXCEPTION(Initializer::random_normal(0.0, -1.0), ModelError,
                        mentions_all<ModelError>({"stddev", "-1"}));
  BOOST_CHECK_EXCEPTION(Initializer::truncated_normal(INFINITY, 1.0), ModelError,
                        mentions_all<ModelError>({"mean", "finite"}));
  BOOST_CHECK_EXCEPTION(Initializer::constant(NAN), ModelError,
                        mentions_all<ModelError>({"value", "finite"}));

  Graph g;
  int before = g.num_nodes();
  BOOST_CHECK_EXCEPTION(Initializer("he_normal")(g, Shape{-1, 3}), ModelError,
                        mentions_all<ModelError>({"he_normal", "(?, 3)"}));
  BOOST_CHECK_EXCEPTION(Initializer("ones")(g, Shape{2}, DType::int32), ModelError,
                        mentions_all<ModelError>({"ones", "int32"}));
  // The fields are public: a value made invalid after construction is caught when used.
  Initializer broken("he_uniform");
  broken.scale = -1.0;
  BOOST_CHECK_EXCEPTION(broken(g, Shape{2, 2}), ModelError,
                        mentions_all<ModelError>({"he_uniform", "scale"}));
  BOOST_TEST(g.num_nodes() == before);
}

BOOST_AUTO_TEST_CASE(config_round_trip) {
  std::vector<Initializer> inits = {
      Initializer("glorot_uniform"),
      Initializer("he_normal"),
      Initializer("zeros"),
      Initializer("ones"),
      Initializer("random_uniform"),
      Initializer("truncated_normal"),
      Initializer::variance_scaling(2.5, "fan_avg", "untruncated_normal", 42),
      Initializer::constant(-0.125),
      Initializer::random_normal(0.5, 0.25, 9),
      Initializer::random_uniform(-3.0, 1.5, 10),
      Initializer::truncated_normal(2.0, 0.75, 11)};
  for (const Initializer& init : inits) {
    AttrMap config = init.config();
    Initializer back = Initializer::from_config(config);
    BOOST_TEST(back.name() == init.name());
    BOOST_TEST((back.kind == init.kind), init.name());
    BOOST_TEST(back.scale == init.scale);
    BOOST_TEST(back.mode == init.mode);
    BOOST_TEST(back.distribution == init.distribution);
    BOOST_TEST(back.value == init.value);
    BOOST_TEST(back.mean == init.mean);
    BOOST_TEST(back.stddev == init.stddev);
    BOOST_TEST(back.minval == init.minval);
    BOOST_TEST(back.maxval == init.maxval);
    BOOST_TEST(back.seed == init.seed);
    BOOST_TEST((back.config() == config), init.name());
    // The same node: same op and attributes.
    Graph g;
    const Node& a = init(g, Shape{4, 5}).producer();
    const Node& b = back(g, Shape{4, 5}).producer();
    BOOST_TEST(a.op == b.op);
    BOOST_TEST((a.attrs == b.attrs), init.name());
  }
  // Every field is there, with the values given.
  AttrMap c = Initializer::variance_scaling(2.5, "fan_avg", "untruncated_normal", 42).config();
  BOOST_TEST(c.get_string("kind") == "variance_scaling");
  BOOST_TEST(c.get_float("scale") == 2.5);
  BOOST_TEST(c.get_string("mode") == "fan_avg");
  BOOST_TEST(c.get_string("distribution") == "untruncated_normal");
  BOOST_TEST(c.get_int("seed") == 42);
  BOOST_TEST(c.items().size() == 11u);

  auto with = [&](const std::string& key, AttrValue v) {
    AttrMap m = Initializer("he_normal").config();
    m.set(key, std::move(v));
    return m;
  };
  BOOST_CHECK_EXCEPTION(Initializer::from_config(with("kind", std::string("gaussian"))), ModelError,
                        mentions_all<ModelError>({"'gaussian'"}));
  BOOST_CHECK_EXCEPTION(Initializer::from_config(with("scale", std::int64_t{2})), ModelError,
                        mentions_all<ModelError>({"'scale'", "float", "int"}));
  BOOST_CHECK_EXCEPTION(Initializer::from_config(with("scale", -1.0)), ModelError,
                        mentions_all<ModelError>({"scale"}));
  BOOST_CHECK_EXCEPTION(Initializer::from_config(with("mod", std::string("fan_in"))), ModelError,
                        mentions_all<ModelError>({"unknown field 'mod'"}));
  AttrMap full = Initializer("he_normal").config(), missing;
  for (const auto& [key, v] : full.items())
    if (key != "seed") missing.set(key, v);
  BOOST_CHECK_EXCEPTION(Initializer::from_config(missing), ModelError,
                        mentions_all<ModelError>({"missing field 'seed'"}));
}

BOOST_AUTO_TEST_SUITE_END()
