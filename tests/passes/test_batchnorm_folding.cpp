// batchnorm_folding: inference BatchNormalization (built as the layer builds it) and
// Normalization on the input or output of a matmul, and BatchNormalization on the output of a
// conv2d, fold into its kernel and bias. Values are checked against float64 computed by hand
// from the formulas (a convolution loop of its own here), and against the unfolded plan.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <random>

#include "pass_test_util.hpp"

using namespace dagrad;
using namespace dagrad::testing;

namespace {

constexpr double kEps = 1e-3;
constexpr std::int64_t kIn = 6, kOut = 4, kBatch = 5;

// Per-feature parameters of a BatchNormalization over `features`, and their float64 values.
struct BatchNorm {
  Tensor gamma, beta, mean, variance;
  BatchNorm(DType dtype, std::int64_t features, std::mt19937_64& rng)
      : gamma(random_tensor(dtype, Shape{features}, rng, 0.5, 2)),
        beta(random_tensor(dtype, Shape{features}, rng)),
        mean(random_tensor(dtype, Shape{features}, rng)),
        variance(random_tensor(dtype, Shape{features}, rng, 0.2, 3)) {}
  // (x - mean) / sqrt(variance + eps) * gamma + beta, in float64.
  double apply(double x, std::int64_t k) const {
    return (x - mean.value_as_double(k)) / std::sqrt(variance.value_as_double(k) + kEps) *
               gamma.value_as_double(k) +
           beta.value_as_double(k);
  }
};

// The graph nodes the BatchNormalization layer emits in inference mode (nn/layers.cpp):
// inv = rsqrt(variance + eps) * gamma, shift = beta + -(mean * inv), y = x * inv + shift.
struct BatchNormNodes {
  Output gamma, beta, mean, variance;
  Output apply(Output x) const {
    Output inv = rsqrt(variance + kEps) * gamma;
    Output shift = beta + -(mean * inv);
    return x * inv + shift;
  }
};

BatchNormNodes variables_of(Graph& g, const BatchNorm& bn, const std::string& name) {
  return {variable(g, bn.gamma, name + "/gamma"), variable(g, bn.beta, name + "/beta"),
          variable(g, bn.mean, name + "/moving_mean"),
          variable(g, bn.variance, name + "/moving_variance")};
}

// x (rows, in) times w (in, out) plus b, all float64.
std::vector<double> dense(const std::vector<double>& x, const Tensor& w, const Tensor* b,
                          std::int64_t rows, std::int64_t in, std::int64_t out) {
  std::vector<double> y(static_cast<std::size_t>(rows * out));
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < out; ++j) {
      double acc = b ? b->value_as_double(j) : 0.0;
      for (std::int64_t k = 0; k < in; ++k)
        acc += x[static_cast<std::size_t>(r * in + k)] * w.value_as_double(k * out + j);
      y[static_cast<std::size_t>(r * out + j)] = acc;
    }
  return y;
}

std::vector<double> values(const Tensor& t) {
  std::vector<double> v(static_cast<std::size_t>(t.size()));
  for (std::int64_t i = 0; i < t.size(); ++i) v[static_cast<std::size_t>(i)] = t.value_as_double(i);
  return v;
}

void check_close(const Tensor& got, const std::vector<double>& want, double relative) {
  BOOST_TEST_REQUIRE(got.size() == static_cast<std::int64_t>(want.size()));
  for (std::int64_t i = 0; i < got.size(); ++i) {
    double w = want[static_cast<std::size_t>(i)];
    BOOST_TEST(std::abs(got.value_as_double(i) - w) <= relative * std::max(std::abs(w), 1.0),
               "element " << i << ": " << got.value_as_double(i) << " vs " << w);
  }
}

// Initializes the variables and compiles y from x with every pass but fusion, verified.
Plan& compile_verified(Session& s, Output y, Output x) {
  s.set_optimizer_options(verified_without_fusion());
  s.initialize_variables();
  return s.compile({y}, {}, {x});
}

// The nodes that read placeholder `x` in the plan's graph.
std::vector<std::string> readers_of_feed(const Plan& plan) {
  const PlanGraph& g = plan.plan_graph();
  std::vector<std::string> ops;
  int feed = g.feeds().at(0);
  for (int id = 0; id < g.num_nodes(); ++id)
    if (g.live(id))
      for (const NodeInput& in : g.node(id).inputs)
        if (in.node == feed) ops.push_back(g.node(id).op->name);
  return ops;
}

double tolerance(DType dtype) {
  return dtype == DType::float32 ? 1e-5 : 1e-12;
}

// A convolution's geometry: x (n, h, w, cin), kernel (kh, kw, cin, cout), stride s both ways,
// "same" (TensorFlow's padding: out = ceil(in / s), the smaller half of the padding first) or
// "valid", no dilation.
struct ConvCase {
  std::int64_t n, h, w, cin, kh, kw, cout, s;
  bool same;
  std::int64_t out(std::int64_t in, std::int64_t k) const {
    return same ? (in + s - 1) / s : (in - k) / s + 1;
  }
  std::int64_t pad(std::int64_t in, std::int64_t k) const {
    return same ? std::max<std::int64_t>((out(in, k) - 1) * s + k - in, 0) / 2 : 0;
  }
  std::int64_t oh() const { return out(h, kh); }
  std::int64_t ow() const { return out(w, kw); }
  Conv2DOptions options() const { return {{s, s}, same ? "same" : "valid", {1, 1}}; }
};

// conv2d(x, k) + b in float64, NHWC and HWIO, zeros outside the image.
std::vector<double> convolve(const ConvCase& c, const Tensor& x, const Tensor& k, const Tensor* b) {
  const std::int64_t oh = c.oh(), ow = c.ow(), top = c.pad(c.h, c.kh), left = c.pad(c.w, c.kw);
  std::vector<double> y(static_cast<std::size_t>(c.n * oh * ow * c.cout));
  for (std::int64_t n = 0; n < c.n; ++n)
    for (std::int64_t oy = 0; oy < oh; ++oy)
      for (std::int64_t ox = 0; ox < ow; ++ox)
        for (std::int64_t co = 0; co < c.cout; ++co) {
          double acc = b ? b->value_as_double(co) : 0.0;
          for (std::int64_t ky = 0; ky < c.kh; ++ky)
            for (std::int64_t kx = 0; kx < c.kw; ++kx) {
              const std::int64_t iy = oy * c.s + ky - top, ix = ox * c.s + kx - left;
              if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w) continue;
              for (std::int64_t ci = 0; ci < c.cin; ++ci)
                acc += x.value_as_double(((n * c.h + iy) * c.w + ix) * c.cin + ci) *
                       k.value_as_double(((ky * c.kw + kx) * c.cin + ci) * c.cout + co);
            }
          y[static_cast<std::size_t>(((n * oh + oy) * ow + ox) * c.cout + co)] = acc;
        }
  return y;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(batchnorm_folding)

// The bn model's pattern: BatchNormalization, then Dense (matmul(y, W) + b).
BOOST_AUTO_TEST_CASE(batch_normalization_before_a_dense_folds_into_its_kernel) {
  for (DType dtype : {DType::float32, DType::float64}) {
    std::mt19937_64 rng(3);
    BatchNorm bn(dtype, kIn, rng);
    Tensor w = random_tensor(dtype, Shape{kIn, kOut}, rng);
    Tensor b = random_tensor(dtype, Shape{kOut}, rng);
    Tensor x = random_tensor(dtype, Shape{kBatch, kIn}, rng);
    Graph g;
    Output xp = placeholder(g, dtype, Shape{-1, kIn}, "x");
    Output y =
        matmul(variables_of(g, bn, "bn").apply(xp), variable(g, w, "w")) + variable(g, b, "b");
    Session s(g);
    Plan& plan = compile_verified(s, y, xp);
    BOOST_TEST(report_of(plan, "batchnorm_folding")->changes > 0);
    // x goes straight into one product; one bias add follows it.
    BOOST_TEST(readers_of_feed(plan) == std::vector<std::string>{"matmul"},
               boost::test_tools::per_element());
    BOOST_TEST(plan.hoisted_steps() > 0);
    std::vector<double> normalized(static_cast<std::size_t>(kBatch * kIn));
    for (std::int64_t r = 0; r < kBatch; ++r)
      for (std::int64_t k = 0; k < kIn; ++k)
        normalized[static_cast<std::size_t>(r * kIn + k)] =
            bn.apply(x.value_as_double(r * kIn + k), k);
    std::vector<double> want = dense(normalized, w, &b, kBatch, kIn, kOut);
    check_close(plan.run({&x, 1}).at(0), want, tolerance(dtype));
    // The same request unoptimized.
    Session reference(g);
    reference.set_optimizer_options(unoptimized());
    reference.initialize_variables();
    BOOST_TEST(close(plan.run({&x, 1}).at(0), reference.run(y, {{xp, x}}), tolerance(dtype)));
  }
}

// The bn-before pattern: Dense without bias (and with one), then BatchNormalization.
BOOST_AUTO_TEST_CASE(batch_normalization_after_a_dense_folds_into_its_kernel) {
  for (bool bias : {false, true})
    for (DType dtype : {DType::float32, DType::float64}) {
      std::mt19937_64 rng(bias ? 5 : 7);
      BatchNorm bn(dtype, kOut, rng);
      Tensor w = random_tensor(dtype, Shape{kIn, kOut}, rng);
      Tensor b = random_tensor(dtype, Shape{kOut}, rng);
      Tensor x = random_tensor(dtype, Shape{kBatch, kIn}, rng);
      Graph g;
      Output xp = placeholder(g, dtype, Shape{-1, kIn}, "x");
      Output z = matmul(xp, variable(g, w, "w"));
      if (bias) z = z + variable(g, b, "b");
      Output y = elu(variables_of(g, bn, "bn").apply(z));
      Session s(g);
      Plan& plan = compile_verified(s, y, xp);
      BOOST_TEST(report_of(plan, "batchnorm_folding")->changes == 1);
      BOOST_TEST(readers_of_feed(plan) == std::vector<std::string>{"matmul"},
                 boost::test_tools::per_element());
      // matmul, one add, elu: no mul left on the batch.
      const PlanGraph& pg = plan.plan_graph();
      int mm = -1;
      for (int id = 0; id < pg.num_nodes(); ++id)
        if (pg.live(id) && pg.node(id).op->name == "matmul" &&
            pg.node(id).inputs[0].node == pg.feeds()[0])
          mm = id;
      auto consumers = pg.consumers();
      BOOST_TEST_REQUIRE(consumers[static_cast<std::size_t>(mm)].size() == 1u);
      int add = consumers[static_cast<std::size_t>(mm)][0];
      BOOST_TEST(pg.node(add).op->name == "add");
      BOOST_TEST(pg.node(consumers[static_cast<std::size_t>(add)].at(0)).op->name == "elu");

      std::vector<double> want = dense(values(x), w, bias ? &b : nullptr, kBatch, kIn, kOut);
      for (std::int64_t r = 0; r < kBatch; ++r)
        for (std::int64_t j = 0; j < kOut; ++j) {
          double& v = want[static_cast<std::size_t>(r * kOut + j)];
          v = bn.apply(v, j);
          v = v > 0 ? v : std::expm1(v);
        }
      check_close(plan.run({&x, 1}).at(0), want, tolerance(dtype));
    }
}

// A transposed kernel (matmul(y, W^T)) and Normalization's (x - mean) / max(sqrt(var), 1e-7).
BOOST_AUTO_TEST_CASE(normalization_before_a_transposed_kernel_folds) {
  for (DType dtype : {DType::float32, DType::float64}) {
    std::mt19937_64 rng(9);
    Tensor mean = random_tensor(dtype, Shape{kIn}, rng);
    Tensor variance = random_tensor(dtype, Shape{kIn}, rng, 0.2, 3);
    Tensor wt = random_tensor(dtype, Shape{kOut, kIn}, rng);
    Tensor x = random_tensor(dtype, Shape{kBatch, kIn}, rng);
    Graph g;
    Output xp = placeholder(g, dtype, Shape{-1, kIn}, "x");
    Output m = variable(g, mean, "mean"), v = variable(g, variance, "variance");
    Output scale = maximum(sqrt(v), fill(g, Shape{}, 1e-7, dtype));
    Output y = matmul((xp - m) / scale, variable(g, wt, "wt"), false, true);
    Session s(g);
    Plan& plan = compile_verified(s, y, xp);
    BOOST_TEST(report_of(plan, "batchnorm_folding")->changes > 0);
    BOOST_TEST(readers_of_feed(plan) == std::vector<std::string>{"matmul"},
               boost::test_tools::per_element());
    std::vector<double> want(static_cast<std::size_t>(kBatch * kOut));
    for (std::int64_t r = 0; r < kBatch; ++r)
      for (std::int64_t j = 0; j < kOut; ++j) {
        double acc = 0;
        for (std::int64_t k = 0; k < kIn; ++k)
          acc += (x.value_as_double(r * kIn + k) - mean.value_as_double(k)) /
                 std::sqrt(variance.value_as_double(k)) * wt.value_as_double(j * kIn + k);
        want[static_cast<std::size_t>(r * kOut + j)] = acc;
      }
    check_close(plan.run({&x, 1}).at(0), want, tolerance(dtype));
  }
}

// The cnn model's pattern: Conv2D (with and without bias), then BatchNormalization over the
// output channels, then relu: conv2d(x, K S[None,None,None,:]) + (b S + T), and x goes straight
// into the one convolution, followed by one add and the relu.
BOOST_AUTO_TEST_CASE(batch_normalization_after_a_conv2d_folds_into_its_kernel) {
  const std::vector<ConvCase> cases = {{2, 6, 5, 3, 3, 3, 4, 1, true},
                                       {3, 7, 7, 2, 3, 2, 5, 2, false},
                                       {1, 5, 6, 3, 2, 2, 3, 2, true}};
  std::uint64_t seed = 40;
  for (const ConvCase& c : cases)
    for (bool bias : {false, true})
      for (DType dtype : {DType::float32, DType::float64}) {
        std::mt19937_64 rng(++seed);
        BatchNorm bn(dtype, c.cout, rng);
        Tensor k = random_tensor(dtype, Shape{c.kh, c.kw, c.cin, c.cout}, rng);
        Tensor b = random_tensor(dtype, Shape{c.cout}, rng);
        Tensor x = random_tensor(dtype, Shape{c.n, c.h, c.w, c.cin}, rng);
        Graph g;
        Output xp = placeholder(g, dtype, Shape{-1, c.h, c.w, c.cin}, "x");
        Output z = conv2d(xp, variable(g, k, "k"), c.options());
        if (bias) z = z + variable(g, b, "b");
        Output y = relu(variables_of(g, bn, "bn").apply(z));
        Session s(g);
        Plan& plan = compile_verified(s, y, xp);
        BOOST_TEST(report_of(plan, "batchnorm_folding")->changes == 1);
        BOOST_TEST(readers_of_feed(plan) == std::vector<std::string>{"conv2d"},
                   boost::test_tools::per_element());
        const PlanGraph& pg = plan.plan_graph();
        const int conv = pg.consumers()[static_cast<std::size_t>(pg.feeds()[0])].at(0);
        auto consumers = pg.consumers();
        BOOST_TEST_REQUIRE(consumers[static_cast<std::size_t>(conv)].size() == 1u);
        int add = consumers[static_cast<std::size_t>(conv)][0];
        BOOST_TEST(pg.node(add).op->name == "add");
        BOOST_TEST(pg.node(consumers[static_cast<std::size_t>(add)].at(0)).op->name == "relu");

        std::vector<double> want = convolve(c, x, k, bias ? &b : nullptr);
        for (std::size_t i = 0; i < want.size(); ++i) {
          double& v = want[i];
          v = std::max(bn.apply(v, static_cast<std::int64_t>(i) % c.cout), 0.0);
        }
        check_close(plan.run({&x, 1}).at(0), want, tolerance(dtype));
      }
}

// BatchNormalization (or any per-channel map) on a convolution's input stays: with "same"
// padding the border windows read zeros the map would have shifted, so no kernel and bias
// compute it. The plan still computes the formula.
BOOST_AUTO_TEST_CASE(batch_normalization_before_a_conv2d_does_not_fold) {
  const ConvCase c{2, 5, 5, 3, 3, 3, 2, 1, true};
  std::mt19937_64 rng(50);
  BatchNorm bn(DType::float64, c.cin, rng);
  Tensor k = random_tensor(DType::float64, Shape{c.kh, c.kw, c.cin, c.cout}, rng);
  Tensor x = random_tensor(DType::float64, Shape{c.n, c.h, c.w, c.cin}, rng);
  Graph g;
  Output xp = placeholder(g, DType::float64, Shape{-1, c.h, c.w, c.cin}, "x");
  Output y = conv2d(variables_of(g, bn, "bn").apply(xp), variable(g, k, "k"), c.options());
  Session s(g);
  Plan& plan = compile_verified(s, y, xp);
  BOOST_TEST(report_of(plan, "batchnorm_folding")->changes == 0);
  Tensor normalized(DType::float64, x.shape());
  for (std::int64_t i = 0; i < x.size(); ++i)
    normalized.data<double>()[i] = bn.apply(x.value_as_double(i), i % c.cin);
  check_close(plan.run({&x, 1}).at(0), convolve(c, normalized, k, nullptr), 1e-12);
}

// A training plan of a Conv2D + BatchNormalization: batch statistics, and the kernel and the
// moving statistics written by the updates: nothing is invariant, nothing folds.
BOOST_AUTO_TEST_CASE(a_conv_batchnorm_training_plan_does_not_fold) {
  nn::ModelSpec spec = nn::preset_spec("cnn");
  auto model = nn::make_model(spec);
  model->session().set_optimizer_options(verified());
  model->compile(optim::SGD({.learning_rate = 0.01}), "sparse_categorical_crossentropy");
  BOOST_TEST(report_of(model->training_plan(), "batchnorm_folding")->changes == 0);
  BOOST_TEST(report_of(model->prediction_plan(), "batchnorm_folding")->changes == 3);
}

// Batch statistics (training mode) depend on the feed: not a fold.
BOOST_AUTO_TEST_CASE(batch_statistics_do_not_fold) {
  std::mt19937_64 rng(13);
  Graph g;
  Output xp = placeholder(g, DType::float32, Shape{-1, kIn}, "x");
  Output mu = mean(xp, {0});
  Output centered = xp - mu;
  Output y = matmul(centered * rsqrt(mean(square(centered), {0}) + kEps),
                    variable(g, random_tensor(DType::float32, Shape{kIn, kOut}, rng), "w"));
  Session s(g);
  s.set_optimizer_options(verified());
  s.initialize_variables();
  Plan& plan = s.compile({y}, {}, {xp});
  BOOST_TEST(report_of(plan, "batchnorm_folding")->changes == 0);
}

// The folded kernel is hoisted (computed once); a variable the user changes between
// predictions must show in the next one, exactly as the unfolded formula says.
BOOST_AUTO_TEST_CASE(folded_kernels_follow_variable_updates) {
  std::mt19937_64 rng(17);
  const DType dtype = DType::float64;
  BatchNorm bn(dtype, kIn, rng);
  Tensor w = random_tensor(dtype, Shape{kIn, kOut}, rng);
  Tensor x = random_tensor(dtype, Shape{kBatch, kIn}, rng);
  Graph g;
  Output xp = placeholder(g, dtype, Shape{-1, kIn}, "x");
  BatchNormNodes nodes = variables_of(g, bn, "bn");
  Output wv = variable(g, w, "w");
  Output y = matmul(nodes.apply(xp), wv);
  Session s(g);
  s.set_optimizer_options(verified());
  s.initialize_variables();
  Plan& plan = s.compile({y}, {}, {xp});
  BOOST_TEST_REQUIRE(report_of(plan, "batchnorm_folding")->changes > 0);
  auto expected = [&] {
    std::vector<double> normalized(static_cast<std::size_t>(kBatch * kIn));
    for (std::int64_t r = 0; r < kBatch; ++r)
      for (std::int64_t k = 0; k < kIn; ++k)
        normalized[static_cast<std::size_t>(r * kIn + k)] =
            bn.apply(x.value_as_double(r * kIn + k), k);
    return dense(normalized, w, nullptr, kBatch, kIn, kOut);
  };
  check_close(plan.run({&x, 1}).at(0), expected(), 1e-12);
  check_close(plan.run({&x, 1}).at(0), expected(), 1e-12);
  BOOST_TEST(plan.hoisted_computations() == 1);
  // New gamma, moving variance and kernel, set one at a time between predictions.
  bn.gamma = random_tensor(dtype, Shape{kIn}, rng, 0.5, 2);
  s.set_variable_value(nodes.gamma, bn.gamma);
  check_close(plan.run({&x, 1}).at(0), expected(), 1e-12);
  bn.variance = random_tensor(dtype, Shape{kIn}, rng, 0.2, 3);
  s.set_variable_value(nodes.variance, bn.variance);
  check_close(plan.run({&x, 1}).at(0), expected(), 1e-12);
  w = random_tensor(dtype, Shape{kIn, kOut}, rng);
  s.set_variable_value(wv, w);
  check_close(plan.run({&x, 1}).at(0), expected(), 1e-12);
  BOOST_TEST(plan.hoisted_computations() == 4);
}

BOOST_AUTO_TEST_SUITE_END()
