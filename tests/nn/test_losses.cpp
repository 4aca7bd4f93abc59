// Losses, accuracy and regularizers (nn/losses.cpp) against keras-semantics.md sections 5 and 9:
// every expected value is computed here from the formulas in double (or, where float32 rounding
// of the clip bounds matters, in float), never taken from the code's output.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "dagrad/dagrad.hpp"
#include "dagrad/nn/errors.hpp"
#include "dagrad/nn/losses.hpp"
#include "ops/op_test_util.hpp"

using namespace dagrad;
using namespace dagrad::testing;
using nn::Loss;
using nn::ModelError;
using nn::Regularizer;

namespace {

// from_logits is a Flag: a name, a number or a pointer in its place does not compile.
template <class O>
concept bce_name_as_flag = requires(O a) {
  nn::binary_crossentropy(a, a, "x");
};
template <class O>
concept cce_name_as_flag = requires(O a) {
  nn::categorical_crossentropy(a, a, "x");
};
template <class O>
concept sparse_name_as_flag = requires(O a) {
  nn::sparse_categorical_crossentropy(a, a, "x");
};
template <class O>
concept bce_string_as_flag = requires(O a) {
  nn::binary_crossentropy(a, a, std::string("x"));
};
template <class O>
concept bce_int_as_flag = requires(O a) {
  nn::binary_crossentropy(a, a, 1);
};
template <class O>
concept sparse_nullptr_as_flag = requires(O a) {
  nn::sparse_categorical_crossentropy(a, a, nullptr);
};
template <class O>
concept bce_bool_flag = requires(O a) {
  nn::binary_crossentropy(a, a, true);
};
template <class O>
concept cce_default_flag = requires(O a) {
  nn::categorical_crossentropy(a, a);
};
static_assert(!bce_name_as_flag<Output>);
static_assert(!cce_name_as_flag<Output>);
static_assert(!sparse_name_as_flag<Output>);
static_assert(!bce_string_as_flag<Output>);
static_assert(!bce_int_as_flag<Output>);
static_assert(!sparse_nullptr_as_flag<Output>);
static_assert(bce_bool_flag<Output>);
static_assert(cce_default_flag<Output>);
static_assert(!std::is_invocable_v<decltype(nn::sparse_categorical_crossentropy), Output, Output,
                                   const char*>);

constexpr double kEps = 1e-7;  // Keras's backend epsilon

using Rows = std::vector<std::vector<double>>;

std::vector<double> flat(const Rows& rows) {
  std::vector<double> v;
  for (const auto& r : rows) v.insert(v.end(), r.begin(), r.end());
  return v;
}
Shape shape_of(const Rows& rows) {
  return Shape{static_cast<std::int64_t>(rows.size()), static_cast<std::int64_t>(rows[0].size())};
}
Output constant_rows(Graph& g, const Rows& rows, DType dtype = DType::float64,
                     const char* name = "") {
  return constant(g, make_tensor(dtype, shape_of(rows), flat(rows)), name);
}
Output constant_vector(Graph& g, const std::vector<double>& v, DType dtype, Shape shape) {
  return constant(g, make_tensor(dtype, std::move(shape), v), "labels");
}

double clip(double p) {
  return std::min(std::max(p, kEps), 1.0 - kEps);
}
double log_sum_exp(const std::vector<double>& z) {
  double m = *std::max_element(z.begin(), z.end());
  double s = 0;
  for (double x : z) s += std::exp(x - m);
  return m + std::log(s);
}
double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

// Per-row means of an elementwise loss f(y, p).
template <class F>
std::vector<double> row_means(const Rows& y, const Rows& p, F f) {
  std::vector<double> out;
  for (std::size_t i = 0; i < y.size(); ++i) {
    double s = 0;
    for (std::size_t j = 0; j < y[i].size(); ++j) s += f(y[i][j], p[i][j]);
    out.push_back(s / static_cast<double>(y[i].size()));
  }
  return out;
}

// keras.backend.binary_crossentropy on probabilities: clipped, and epsilon inside the logs.
double bce_probability(double y, double p) {
  p = clip(p);
  return -(y * std::log(p + kEps) + (1 - y) * std::log(1 - p + kEps));
}
// tf.nn.sigmoid_cross_entropy_with_logits.
double bce_logit(double y, double z) {
  return std::max(z, 0.0) - z * y + std::log1p(std::exp(-std::abs(z)));
}
// -sum(y * log_softmax(z)) = sum(y * (logsumexp(z) - z)).
std::vector<double> cce_logits(const Rows& y, const Rows& z) {
  std::vector<double> out;
  for (std::size_t i = 0; i < y.size(); ++i) {
    double lse = log_sum_exp(z[i]), s = 0;
    for (std::size_t j = 0; j < y[i].size(); ++j) s += y[i][j] * (lse - z[i][j]);
    out.push_back(s);
  }
  return out;
}
// Keras's probability path: p / sum(p), clipped, -sum(y log p).
std::vector<double> cce_probabilities(const Rows& y, const Rows& p) {
  std::vector<double> out;
  for (std::size_t i = 0; i < y.size(); ++i) {
    double total = 0, s = 0;
    for (double x : p[i]) total += x;
    for (std::size_t j = 0; j < y[i].size(); ++j) s -= y[i][j] * std::log(clip(p[i][j] / total));
    out.push_back(s);
  }
  return out;
}

void check_per_sample(Output loss, const std::vector<double>& expected, double rel, double abs_tol,
                      const std::string& context, const std::vector<Feed>& feeds = {}) {
  BOOST_TEST(loss.shape().rank() == 1, context << ": shape " << loss.shape().to_string());
  Session s(*loss.graph);
  Tensor t = s.run(loss, feeds);
  BOOST_TEST((t.shape() == Shape{static_cast<std::int64_t>(expected.size())}), context);
  check_values(t, expected, rel, abs_tol, context);
}

void check_scalar(Output loss, double expected, double rel, const std::string& context) {
  BOOST_TEST((loss.shape() == Shape{}), context << ": shape " << loss.shape().to_string());
  Session s(*loss.graph);
  check_values(s.run(loss), {expected}, rel, 0.0, context);
}

// A float64 gradient check of the scalar `loss` with respect to variable `x`.
void check_gradient(Output loss, Output x, const std::string& context) {
  Session s(*loss.graph);
  s.initialize_variables();
  GradCheckResult r = check_graph_gradients(s, loss, {x}, {});
  BOOST_TEST(r.passed,
             context << ": " << r.message << " (max abs error " << r.max_abs_error << ")");
  BOOST_TEST_MESSAGE(context << ": max abs error " << r.max_abs_error << ", max rel error "
                             << r.max_rel_error);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(losses)

BOOST_AUTO_TEST_CASE(mean_squared_and_absolute_error) {
  const Rows y = {{0, 1}, {2, -1}, {0.5, 0.5}};
  const Rows p = {{0.5, 1}, {1, 1}, {-0.5, 2}};
  auto se = [](double t, double q) { return (q - t) * (q - t); };
  auto ae = [](double t, double q) { return std::abs(q - t); };
  {
    Graph g;
    Output yt = constant_rows(g, y), yp = constant_rows(g, p);
    check_per_sample(nn::mean_squared_error(yt, yp), row_means(y, p, se), 1e-15, 0, "mse");
    check_per_sample(nn::mean_absolute_error(yt, yp), row_means(y, p, ae), 1e-15, 0, "mae");
    for (const char* name : {"mse", "mean_squared_error"})
      check_scalar(Loss(name)(yt, yp), mean_of(row_means(y, p, se)), 1e-15, name);
    for (const char* name : {"mae", "mean_absolute_error"})
      check_scalar(Loss(name)(yt, yp), mean_of(row_means(y, p, ae)), 1e-15, name);
    // Integer targets take the prediction's dtype.
    Output yi = constant_rows(g, {{0, 1}, {2, -1}, {1, 0}}, DType::int32);
    check_per_sample(nn::mean_squared_error(yi, yp), row_means({{0, 1}, {2, -1}, {1, 0}}, p, se),
                     1e-15, 0, "mse int32 targets");
  }
  {
    // (batch,) targets beside a (batch, 1) prediction gain the axis; (batch,) beside (batch,)
    // is one value per sample.
    Graph g;
    Output yt = constant_vector(g, {1, 2, 3}, DType::float64, Shape{3});
    Output yp = constant_vector(g, {1.5, 2, 0}, DType::float64, Shape{3, 1});
    check_per_sample(nn::mean_squared_error(yt, yp), {0.25, 0, 9}, 1e-15, 0, "mse (3,) vs (3, 1)");
    Output yp1 = constant_vector(g, {1.5, 2, 0}, DType::float64, Shape{3});
    check_per_sample(nn::mean_absolute_error(yt, yp1), {0.5, 0, 3}, 1e-15, 0, "mae (3,) vs (3,)");
    // Rank 3: the mean over every non-batch axis.
    Output a = constant_vector(g, {1, 2, 3, 4, 5, 6, 7, 8}, DType::float64, Shape{2, 2, 2});
    Output b = constant_vector(g, {1, 2, 3, 0, 5, 6, 7, 16}, DType::float64, Shape{2, 2, 2});
    check_per_sample(nn::mean_squared_error(a, b), {4.0, 16.0}, 1e-15, 0, "mse rank 3");
  }
  Graph g;
  Output p3 = constant_rows(g, {{1, 2, 3}, {4, 5, 6}}, DType::float64, "p3");
  Output t2 = constant_rows(g, {{1, 2}, {4, 5}}, DType::float64, "t2");
  Output t1 = constant_rows(g, {{1}, {4}}, DType::float64, "t1");
  int before = g.num_nodes();
  BOOST_CHECK_EXCEPTION(nn::mean_squared_error(t2, p3), ModelError,
                        mentions_all<ModelError>({"mean_squared_error", "t2", "(2, 2)", "(2, 3)"}));
  BOOST_CHECK_EXCEPTION(nn::mean_absolute_error(t1, p3), ModelError,
                        mentions_all<ModelError>({"mean_absolute_error", "(2, 1)", "(2, 3)"}));
  Output pi = constant_rows(g, {{1, 2}, {4, 5}}, DType::int32, "pi");
  BOOST_CHECK_EXCEPTION(nn::mean_squared_error(t2, pi), ModelError,
                        mentions_all<ModelError>({"pi", "int32"}));
  Output s = scalar(g, 1.0, DType::float64);
  BOOST_CHECK_EXCEPTION(nn::mean_squared_error(s, s), ModelError,
                        mentions_all<ModelError>({"rank >= 1"}));
}

BOOST_AUTO_TEST_CASE(binary_crossentropy_on_probabilities_clips) {
  // 0 and 1 hit the clip; 0.3 is a soft target.
  const Rows y = {{1, 0, 1}, {0, 1, 0.3}};
  const Rows p = {{0.0, 1.0, 0.9}, {0.2, 1.0, 0.6}};
  Graph g;
  Output yt = constant_rows(g, y), yp = constant_rows(g, p);
  std::vector<double> expected = row_means(y, p, bce_probability);
  check_per_sample(nn::binary_crossentropy(yt, yp), expected, 1e-13, 0, "bce probabilities");
  check_scalar(Loss("binary_crossentropy")(yt, yp), mean_of(expected), 1e-13, "bce by name");

  // float32: the clip bounds and the sums round to float, as in Keras's float32 graph.
  auto bce_float = [](double yd, double pd) {
    float eps = static_cast<float>(kEps), y = static_cast<float>(yd);
    float pc = std::min(std::max(static_cast<float>(pd), eps), static_cast<float>(1.0 - kEps));
    float a = pc + eps, b = (1.0f - pc) + eps;
    return -(y * std::log(static_cast<double>(a)) + (1 - y) * std::log(static_cast<double>(b)));
  };
  Output yt32 = constant_rows(g, y, DType::float32), yp32 = constant_rows(g, p, DType::float32);
  check_per_sample(nn::binary_crossentropy(yt32, yp32), row_means(y, p, bce_float), 2e-6, 0,
                   "bce float32 probabilities");
}

// A sigmoid output is computed from its logits: no clipping, even at z = -200 where the
// probability underflows (the clipped path would give -log(2e-7) = 15.4).
BOOST_AUTO_TEST_CASE(binary_crossentropy_on_a_sigmoid_uses_the_logits) {
  const Rows y = {{1, 1, 0}, {1, 0, 0.25}};
  const Rows z = {{-200, -20, 0}, {3, 40, -1.5}};
  std::vector<double> expected = row_means(y, z, bce_logit);
  BOOST_TEST(expected[0] > 70.0);  // 200 / 3 + 20 / 3 + log(2) / 3
  for (DType dtype : {DType::float64, DType::float32}) {
    double rel = dtype == DType::float64 ? 1e-14 : 1e-6;
    Graph g;
    Output yt = constant_rows(g, y, dtype), logits = constant_rows(g, z, dtype);
    Output probabilities = sigmoid(logits);
    std::string d(dtype_name(dtype));
    check_per_sample(nn::binary_crossentropy(yt, probabilities), expected, rel, 0,
                     "sigmoid output " + d);
    check_per_sample(nn::binary_crossentropy(yt, probabilities, true), expected, rel, 0,
                     "sigmoid output, from_logits " + d);
    check_per_sample(nn::binary_crossentropy(yt, logits, true), expected, rel, 0,
                     "logits, from_logits " + d);
  }
  // At z = 0 the gradient is sigmoid(0) - y (halved by the batch mean over two samples).
  Graph g;
  Output z0 = variable(g, Tensor::from_vector<double>({2, 1}, {0, 0}), "z");
  Output yt = constant_vector(g, {1, 0.25}, DType::float64, Shape{2, 1});
  Output loss = Loss("binary_crossentropy")(yt, sigmoid(z0));
  Output grad = gradients(loss, {z0})[0];
  Session s(g);
  s.initialize_variables();
  check_values(s.run(grad), {(0.5 - 1) / 2, (0.5 - 0.25) / 2}, 1e-15, "gradient at z = 0");
}

BOOST_AUTO_TEST_CASE(categorical_crossentropy_probabilities_and_logits) {
  {
    // Rows not summing to 1 are renormalized; a 0 for a target class is clipped to 1e-7.
    const Rows y = {{0, 0, 1}, {0.1, 0.8, 0.1}};
    const Rows p = {{1, 1, 2}, {0.5, 0, 0.5}};
    Graph g;
    Output yt = constant_rows(g, y), yp = constant_rows(g, p);
    std::vector<double> expected = cce_probabilities(y, p);
    BOOST_TEST(std::abs(expected[0] - std::log(2.0)) <= 1e-15);
    check_per_sample(nn::categorical_crossentropy(yt, yp), expected, 1e-14, 0, "cce probabilities");
    check_scalar(Loss("categorical_crossentropy")(yt, yp), mean_of(expected), 1e-14, "cce by name");
  }
  const Rows y = {{0, 0, 1}, {0.2, 0.3, 0.5}};
  const Rows z = {{100, 0, -100}, {1, 2, 3}};
  std::vector<double> expected = cce_logits(y, z);
  BOOST_TEST(std::abs(expected[0] - 200.0) <= 1e-12);
  for (DType dtype : {DType::float64, DType::float32}) {
    double rel = dtype == DType::float64 ? 1e-14 : 1e-6;
    Graph g;
    Output yt = constant_rows(g, y, dtype), logits = constant_rows(g, z, dtype);
    std::string d(dtype_name(dtype));
    check_per_sample(nn::categorical_crossentropy(yt, softmax(logits)), expected, rel, 0,
                     "softmax output " + d);
    check_per_sample(nn::categorical_crossentropy(yt, softmax(logits), true), expected, rel, 0,
                     "softmax output, from_logits " + d);
    check_per_sample(nn::categorical_crossentropy(yt, logits, true), expected, rel, 0,
                     "logits, from_logits " + d);
  }
  {
    // A softmax over the batch axis is no per-sample distribution: the probability path.
    const Rows x = {{0.5, 1, -1}, {1.5, 0, 1}};
    Rows column_softmax = x;
    for (std::size_t j = 0; j < 3; ++j) {
      double s = std::exp(x[0][j]) + std::exp(x[1][j]);
      for (std::size_t i = 0; i < 2; ++i) column_softmax[i][j] = std::exp(x[i][j]) / s;
    }
    Graph g;
    Output yt = constant_rows(g, y);
    check_per_sample(nn::categorical_crossentropy(yt, softmax(constant_rows(g, x), 0)),
                     cce_probabilities(y, column_softmax), 1e-14, 0, "softmax over axis 0");
  }
  Graph g;
  Output p = constant_rows(g, {{0.5, 0.5, 0}}, DType::float64, "p");
  Output y4 = constant_rows(g, {{0, 1, 0, 0}}, DType::float64, "y4");
  BOOST_CHECK_EXCEPTION(nn::categorical_crossentropy(y4, p), ModelError,
                        mentions_all<ModelError>({"categorical_crossentropy", "(1, 4)", "(1, 3)"}));
  Output flat3 = constant_vector(g, {0.5, 0.5, 0}, DType::float64, Shape{3});
  BOOST_CHECK_EXCEPTION(nn::categorical_crossentropy(flat3, flat3), ModelError,
                        mentions_all<ModelError>({"rank >= 2"}));
}

BOOST_AUTO_TEST_CASE(sparse_categorical_crossentropy_labels) {
  const Rows z = {{50, 0, -50, 1}, {1, 2, 3, 4}, {0, 0, 0, 0}};
  const std::vector<double> labels = {2, 0, 3};
  std::vector<double> expected;
  for (std::size_t i = 0; i < z.size(); ++i)
    expected.push_back(log_sum_exp(z[i]) - z[i][static_cast<std::size_t>(labels[i])]);
  BOOST_TEST(std::abs(expected[0] - 100.0) <= 1e-12);
  struct LabelForm {
    DType dtype;
    Shape shape;
  };
  const LabelForm forms[] = {{DType::int32, Shape{3}},     {DType::int64, Shape{3}},
                             {DType::float32, Shape{3}},   {DType::float64, Shape{3}},
                             {DType::int32, Shape{3, 1}},  {DType::int64, Shape{3, 1}},
                             {DType::float32, Shape{3, 1}}};
  for (const LabelForm& f : forms) {
    Graph g;
    Output yt = constant_vector(g, labels, f.dtype, f.shape);
    Output logits = constant_rows(g, z);
    std::string context = std::string(dtype_name(f.dtype)) + " labels " + f.shape.to_string();
    check_per_sample(nn::sparse_categorical_crossentropy(yt, softmax(logits)), expected, 1e-14, 0,
                     context + ", softmax output");
    check_per_sample(nn::sparse_categorical_crossentropy(yt, logits, true), expected, 1e-14, 0,
                     context + ", from_logits");
  }
  {
    // Probabilities: -log(clip(p[y])); p[y] = 0 gives -log(1e-7). A label outside [0, classes)
    // selects nothing and adds 0.
    const Rows p = {{0.1, 0.2, 0.3, 0.4}, {0, 0.5, 0.5, 0}, {0.25, 0.25, 0.25, 0.25}, {1, 0, 0, 0}};
    Graph g;
    Output yt = constant_vector(g, {3, 0, 1, 7}, DType::int64, Shape{4});
    Output yp = constant_rows(g, p);
    check_per_sample(nn::sparse_categorical_crossentropy(yt, yp),
                     {-std::log(0.4), -std::log(kEps), -std::log(0.25), 0.0}, 1e-14, 0,
                     "probabilities");
    check_scalar(Loss("sparse_categorical_crossentropy")(yt, yp),
                 (-std::log(0.4) - std::log(kEps) - std::log(0.25)) / 4, 1e-14, "by name");
  }
  {
    // An unknown batch: labels (?, 1) fed at run time.
    Graph g;
    Output yt = placeholder(g, DType::int64, Shape{-1, 1}, "y");
    Output logits = placeholder(g, DType::float64, Shape{-1, 4}, "z");
    Output loss = nn::sparse_categorical_crossentropy(yt, softmax(logits));
    BOOST_TEST((loss.shape() == Shape{-1}));
    check_per_sample(loss, expected, 1e-14, 0, "unknown batch",
                     {{yt, make_tensor(DType::int64, Shape{3, 1}, labels)},
                      {logits, make_tensor(DType::float64, Shape{3, 4}, flat(z))}});
  }
  Graph g;
  Output logits = constant_rows(g, z, DType::float64, "z");
  Output two = constant_rows(g, {{1, 2}, {0, 1}, {2, 3}}, DType::int64, "two_columns");
  BOOST_CHECK_EXCEPTION(nn::sparse_categorical_crossentropy(two, logits), ModelError,
                        mentions_all<ModelError>({"two_columns", "(3, 2)", "(3,)", "(3, 1)"}));
  Output flags = constant_vector(g, {1, 0, 1}, DType::boolean, Shape{3});
  BOOST_CHECK_EXCEPTION(nn::sparse_categorical_crossentropy(flags, logits), ModelError,
                        mentions_all<ModelError>({"integer or float", "bool"}));
  Output open = placeholder(g, DType::float64, Shape{3, -1}, "open");
  BOOST_CHECK_EXCEPTION(
      nn::sparse_categorical_crossentropy(constant_vector(g, labels, DType::int64, Shape{3}), open),
      ModelError, mentions_all<ModelError>({"number of classes", "(3, ?)"}));
}

BOOST_AUTO_TEST_CASE(losses_by_name) {
  for (const char* name :
       {"mse", "mean_squared_error", "mae", "mean_absolute_error", "binary_crossentropy",
        "categorical_crossentropy", "sparse_categorical_crossentropy"})
    BOOST_TEST(Loss(name).name() == name);
  BOOST_CHECK_EXCEPTION(Loss("crossentropy"), ModelError,
                        mentions_all<ModelError>({"'crossentropy'", "mse", "binary_crossentropy",
                                                  "sparse_categorical_crossentropy"}));
  // Keras's Dense(10, activation="softmax") + "sparse_categorical_crossentropy": computed from
  // the logits, 100 for the first sample rather than -log(1e-7) = 16.1.
  Graph g;
  Output logits = constant_rows(g, {{50, 0, -50}, {0, 0, 0}});
  Output yt = constant_vector(g, {2, 1}, DType::int32, Shape{2});
  Loss loss("sparse_categorical_crossentropy");
  double lse0 = log_sum_exp({50, 0, -50});
  check_per_sample(loss.per_sample(yt, softmax(logits)), {lse0 + 50, std::log(3.0)}, 1e-14, 0,
                   "per_sample");
  check_scalar(loss(yt, softmax(logits)), (lse0 + 50 + std::log(3.0)) / 2, 1e-14, "batch mean");
}

BOOST_AUTO_TEST_CASE(accuracy_resolves_from_shapes) {
  auto run = [](Output acc, const std::vector<double>& expected, const std::string& context,
                const std::vector<Feed>& feeds = {}) {
    BOOST_TEST(acc.dtype() == DType::float32, context);
    BOOST_TEST(acc.shape().rank() == 1, context);
    Session s(*acc.graph);
    Tensor t = s.run(acc, feeds);
    BOOST_TEST((t.shape() == Shape{static_cast<std::int64_t>(expected.size())}), context);
    check_values(t, expected, 0.0, context);
  };
  Graph g;
  // Binary: y_pred > 0.5 strictly. As sparse (argmax of one column: 0) the result would be
  // (1, 0, 0, 1); as categorical all 1.
  Output p1 = constant_vector(g, {0.2, 0.5, 0.51, 0.9}, DType::float32, Shape{4, 1});
  Output t1 = constant_vector(g, {0, 1, 1, 0}, DType::float32, Shape{4, 1});
  run(nn::accuracy(t1, p1), {1, 0, 1, 0}, "binary (4, 1)");
  run(nn::accuracy(constant_vector(g, {0, 1, 1, 0}, DType::int64, Shape{4}), p1), {1, 0, 1, 0},
      "binary (4,) int64 targets");
  run(nn::binary_accuracy(t1, p1, 0.15), {0, 1, 1, 0}, "binary threshold 0.15");
  run(nn::accuracy(constant_vector(g, {0, 1, 1, 0}, DType::float32, Shape{4}),
                   constant_vector(g, {0.2, 0.5, 0.51, 0.9}, DType::float32, Shape{4})),
      {1, 0, 1, 0}, "binary rank 1");

  // Sparse: rows tie between 0 and 2 (label 0: a hit, the lowest index wins), between 1 and 2
  // (label 2: a miss), and a clear 3. As categorical (argmax of a (3, 1) target: 0) the result
  // would be (1, 0, 0).
  Output p4 = constant_rows(g, {{0.4, 0.1, 0.4, 0.1}, {0.1, 0.5, 0.5, 0.1}, {0.1, 0.2, 0.3, 0.4}},
                            DType::float32);
  run(nn::accuracy(constant_vector(g, {0, 2, 3}, DType::int64, Shape{3}), p4), {1, 0, 1},
      "sparse (3,) int64");
  run(nn::accuracy(constant_vector(g, {0, 2, 3}, DType::float32, Shape{3, 1}), p4), {1, 0, 1},
      "sparse (3, 1) float32");
  run(nn::accuracy(constant_vector(g, {0, 2, 3}, DType::int32, Shape{3, 1}), p4), {1, 0, 1},
      "sparse (3, 1) int32");
  // Categorical: one-hot targets of y_pred's shape.
  Output onehot = constant_rows(g, {{1, 0, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}, DType::float32);
  run(nn::accuracy(onehot, p4), {1, 0, 1}, "categorical");
  // Ties in the target go to the lowest index too: (0.5, 0.5, 0, 0) means class 0.
  run(nn::categorical_accuracy(constant_rows(g, {{0.5, 0.5, 0, 0}}, DType::float32),
                               constant_rows(g, {{0.3, 0.6, 0.1, 0}}, DType::float32)),
      {0}, "categorical tie");

  // Unknown batch dimensions resolve the same way.
  Output yp = placeholder(g, DType::float32, Shape{-1, 4}, "yp");
  Output yl = placeholder(g, DType::int64, Shape{-1}, "yl");
  run(nn::accuracy(yl, yp), {1, 0, 1}, "sparse, unknown batch",
      {{yp, make_tensor(DType::float32, Shape{3, 4},
                        {0.4, 0.1, 0.4, 0.1, 0.1, 0.5, 0.5, 0.1, 0.1, 0.2, 0.3, 0.4})},
       {yl, make_tensor(DType::int64, Shape{3}, {0, 2, 3})}});
  Output bp = placeholder(g, DType::float32, Shape{-1, 1}, "bp");
  Output bt = placeholder(g, DType::float32, Shape{-1, 1}, "bt");
  run(nn::accuracy(bt, bp), {1, 0}, "binary, unknown batch",
      {{bp, make_tensor(DType::float32, Shape{2, 1}, {0.7, 0.7})},
       {bt, make_tensor(DType::float32, Shape{2, 1}, {1, 0})}});

  Output wrong = constant_rows(g, {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}, DType::float32, "wrong");
  BOOST_CHECK_EXCEPTION(nn::accuracy(wrong, p4), ModelError,
                        mentions_all<ModelError>({"categorical_accuracy", "(3, 3)", "(3, 4)"}));
}

BOOST_AUTO_TEST_CASE(regularizers) {
  const std::vector<double> w = {1, -2, 3, -0.5};
  double abs_sum = 6.5, square_sum = 14.25;
  struct Case {
    const char* name;
    Regularizer r;
    double penalty;
    std::vector<double> gradient;  // d penalty / d w = l1 sign(w) + 2 l2 w
  };
  const Case cases[] = {
      {"L1(0.01)", Regularizer::L1(), 0.01 * abs_sum, {0.01, -0.01, 0.01, -0.01}},
      {"L2(0.01)", Regularizer::L2(), 0.01 * square_sum, {0.02, -0.04, 0.06, -0.01}},
      {"L1L2(0.01, 0.01)",
       Regularizer::L1L2(),
       0.01 * abs_sum + 0.01 * square_sum,
       {0.03, -0.05, 0.07, -0.02}},
      {"L1L2(0.03, 0.5)",
       Regularizer::L1L2(0.03, 0.5),
       0.03 * abs_sum + 0.5 * square_sum,
       {1.03, -2.03, 3.03, -0.53}},
  };
  for (const Case& c : cases) {
    BOOST_TEST(c.r.active(), c.name);
    Graph g;
    Output x = variable(g, Tensor::from_vector<double>({2, 2}, w), "w");
    Output penalty = c.r(x);
    BOOST_TEST((penalty.shape() == Shape{}), c.name);
    BOOST_TEST(penalty.dtype() == DType::float64, c.name);
    Output grad = gradients(penalty, {x})[0];
    Session s(g);
    s.initialize_variables();
    check_values(s.run(penalty), {c.penalty}, 1e-15, c.name);
    check_values(s.run(grad), c.gradient, 1e-15, std::string(c.name) + " gradient");
    check_gradient(penalty, x, std::string(c.name) + " gradient check");
  }
  BOOST_TEST(Regularizer::L1().l1 == 0.01);
  BOOST_TEST(Regularizer::L1().l2 == 0.0);
  BOOST_TEST(Regularizer::L2().l2 == 0.01);
  Graph g;
  Output w32 = variable(g, Tensor::from_vector<float>({2}, {3, -4}), "w32");
  Output p32 = Regularizer::L2(0.5)(w32);
  BOOST_TEST(p32.dtype() == DType::float32);
  {
    Session s(g);
    s.initialize_variables();
    check_values(s.run(p32), {12.5}, 0.0, "float32 L2");
  }
  BOOST_TEST(!Regularizer{}.active());
  BOOST_CHECK_EXCEPTION(Regularizer{}(w32), ModelError,
                        mentions_all<ModelError>({"active", "w32"}));
  Output wi = constant_vector(g, {1, 2}, DType::int32, Shape{2});
  BOOST_CHECK_EXCEPTION(Regularizer::L1()(wi), ModelError, mentions_all<ModelError>({"int32"}));
  BOOST_CHECK_EXCEPTION(Regularizer::L2(NAN)(w32), ModelError,
                        mentions_all<ModelError>({"finite"}));
}

// Every loss through a float64 gradient check, on the path it takes: probabilities kept away
// from the clip bounds, logits including 0 and large values.
BOOST_AUTO_TEST_CASE(loss_gradients_match_finite_differences) {
  const Rows targets = {{0, 1, 0.3}, {1, 0, 0.6}};
  const Rows probabilities = {{0.2, 0.7, 0.4}, {0.9, 0.15, 0.55}};
  const Rows logits = {{0.0, 1.5, -2.0}, {3.0, -0.7, 8.0}};
  auto with_variable = [&](const char* context, const Rows& init, auto build) {
    Graph g;
    Output x = variable(g, make_tensor(DType::float64, shape_of(init), flat(init)), "x");
    Output loss = build(g, x);
    check_gradient(loss, x, context);
  };
  auto soft = [&](Graph& g) { return constant_rows(g, targets); };
  auto onehot = [&](Graph& g) { return constant_rows(g, {{0, 1, 0}, {0, 0, 1}}); };
  with_variable("mse", probabilities, [&](Graph& g, Output x) { return Loss("mse")(soft(g), x); });
  with_variable("mae", probabilities, [&](Graph& g, Output x) { return Loss("mae")(soft(g), x); });
  with_variable("bce probabilities", probabilities,
                [&](Graph& g, Output x) { return Loss("binary_crossentropy")(soft(g), x); });
  with_variable("bce sigmoid output", logits, [&](Graph& g, Output x) {
    return Loss("binary_crossentropy")(soft(g), sigmoid(x));
  });
  with_variable("bce from_logits", logits, [&](Graph& g, Output x) {
    return mean(nn::binary_crossentropy(soft(g), x, true));
  });
  with_variable("cce probabilities", probabilities,
                [&](Graph& g, Output x) { return Loss("categorical_crossentropy")(soft(g), x); });
  with_variable("cce softmax output", logits, [&](Graph& g, Output x) {
    return Loss("categorical_crossentropy")(soft(g), softmax(x));
  });
  with_variable("cce from_logits", logits, [&](Graph& g, Output x) {
    return mean(nn::categorical_crossentropy(onehot(g), x, true));
  });
  auto labels = [](Graph& g) { return constant_vector(g, {1, 2}, DType::int64, Shape{2}); };
  with_variable("sparse probabilities", probabilities, [&](Graph& g, Output x) {
    return Loss("sparse_categorical_crossentropy")(labels(g), x);
  });
  with_variable("sparse softmax output", logits, [&](Graph& g, Output x) {
    return Loss("sparse_categorical_crossentropy")(labels(g), softmax(x));
  });
  with_variable("sparse from_logits", logits, [&](Graph& g, Output x) {
    return mean(nn::sparse_categorical_crossentropy(labels(g), x, true));
  });
}

BOOST_AUTO_TEST_SUITE_END()
