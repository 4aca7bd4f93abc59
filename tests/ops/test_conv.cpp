// conv2d, conv2d_backprop_input and conv2d_backprop_filter: values against a naive float64 loop
// written here (its own padding arithmetic) and a case by hand, shapes with an unknown batch,
// shape errors, and the second derivative (the gradient graph is itself gradient-checked).
// float32 runs through oneDNN when the build has it; CTest runs this suite a second time with
// DAGRAD_ONEDNN=0 (test "ops_conv_without_onednn"), so im2col's float32 path stays checked too.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "dagrad/dagrad.hpp"
#include "ops/op_test_util.hpp"

using namespace dagrad;
using namespace dagrad::testing;
namespace tt = boost::test_tools;

namespace {

struct Config {
  std::int64_t n, h, w, cin, kh, kw, cout;
  std::int64_t sh, sw;
  std::string padding;
  std::int64_t dh, dw;
};

// One axis of TensorFlow's rule, worked out independently of the op: the output size and the
// padding before the input.
std::pair<std::int64_t, std::int64_t> axis(std::int64_t in, std::int64_t k, std::int64_t s,
                                           std::int64_t d, bool same) {
  std::int64_t span = (k - 1) * d + 1;
  if (!same) return {(in - span) / s + 1, 0};
  std::int64_t out = (in + s - 1) / s;
  std::int64_t total = std::max<std::int64_t>((out - 1) * s + span - in, 0);
  return {out, total / 2};
}

struct Reference {
  std::int64_t oh, ow, top, left;
  Reference(const Config& c) {
    auto [oh_, top_] = axis(c.h, c.kh, c.sh, c.dh, c.padding == "same");
    auto [ow_, left_] = axis(c.w, c.kw, c.sw, c.dw, c.padding == "same");
    oh = oh_, ow = ow_, top = top_, left = left_;
  }
};

// Calls f(x index, kernel index, y index) once for every product term of the convolution.
template <class F>
void for_each_term(const Config& c, const Reference& r, F&& f) {
  for (std::int64_t n = 0; n < c.n; ++n)
    for (std::int64_t oy = 0; oy < r.oh; ++oy)
      for (std::int64_t ox = 0; ox < r.ow; ++ox)
        for (std::int64_t co = 0; co < c.cout; ++co)
          for (std::int64_t ky = 0; ky < c.kh; ++ky)
            for (std::int64_t kx = 0; kx < c.kw; ++kx)
              for (std::int64_t ci = 0; ci < c.cin; ++ci) {
                std::int64_t iy = oy * c.sh + ky * c.dh - r.top;
                std::int64_t ix = ox * c.sw + kx * c.dw - r.left;
                if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w) continue;
                f(((n * c.h + iy) * c.w + ix) * c.cin + ci,
                  ((ky * c.kw + kx) * c.cin + ci) * c.cout + co,
                  ((n * r.oh + oy) * r.ow + ox) * c.cout + co);
              }
}

std::vector<double> random_values(std::size_t n, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<double> v(n);
  for (double& x : v) x = u(rng);
  return v;
}

Conv2DOptions options(const Config& c) {
  return {{c.sh, c.sw}, c.padding, {c.dh, c.dw}};
}

// Checks got[i] against want[i] within rel * scale[i] (scale = the sum of |terms|).
void check_close(const Tensor& got, const std::vector<double>& want,
                 const std::vector<double>& scale, double rel, const std::string& what) {
  BOOST_TEST_REQUIRE(got.size() == static_cast<std::int64_t>(want.size()), what << ": size");
  for (std::size_t i = 0; i < want.size(); ++i) {
    double g = got.value_as_double(static_cast<std::int64_t>(i));
    BOOST_TEST(std::abs(g - want[i]) <= rel * scale[i] + 1e-300,
               what << " element " << i << ": got " << g << ", want " << want[i]);
  }
}

const std::vector<Config> kConfigs = {
    {2, 5, 6, 3, 3, 2, 4, 1, 1, "valid", 1, 1},
    {2, 5, 6, 3, 3, 3, 2, 1, 1, "same", 1, 1},
    {3, 7, 7, 2, 3, 3, 3, 2, 2, "same", 1, 1},   // odd input, stride 2: pad 1 top, 1 bottom
    {1, 6, 8, 2, 2, 2, 3, 2, 2, "same", 1, 1},   // even input, stride 2: no padding
    {2, 8, 7, 2, 4, 3, 2, 2, 3, "same", 1, 1},   // asymmetric padding on both axes
    {2, 9, 9, 3, 3, 3, 2, 1, 1, "valid", 2, 2},  // dilation 2
    {1, 8, 9, 2, 3, 2, 2, 1, 1, "same", 2, 3},
    {2, 9, 10, 2, 2, 3, 3, 3, 2, "valid", 1, 1},  // strides that skip the last rows/columns
    {3, 4, 5, 4, 1, 1, 5, 1, 1, "same", 1, 1},    // 1x1 kernel: no unrolling
    {2, 5, 5, 2, 1, 1, 3, 2, 2, "valid", 1, 1},   // 1x1 kernel at stride 2
    {1, 3, 3, 2, 5, 5, 2, 1, 1, "same", 1, 1},    // kernel larger than the input
    // Channel counts of the cnn preset, where float32 takes oneDNN's vectorized primitives (and
    // their kernel layouts) when the build has oneDNN: batch 1, odd sizes, strides, dilations.
    {1, 7, 9, 32, 3, 3, 64, 1, 1, "same", 1, 1},
    {2, 11, 13, 1, 3, 3, 32, 1, 1, "same", 1, 1},
    {3, 9, 7, 16, 3, 3, 8, 2, 2, "valid", 1, 1},
    {2, 10, 9, 8, 3, 3, 16, 1, 1, "same", 2, 2},
    {1, 12, 11, 16, 5, 3, 16, 2, 3, "same", 1, 1},
};

std::string label(const Config& c) {
  return "x (" + std::to_string(c.n) + ", " + std::to_string(c.h) + ", " + std::to_string(c.w) +
         ", " + std::to_string(c.cin) + ") kernel " + std::to_string(c.kh) + "x" +
         std::to_string(c.kw) + "x" + std::to_string(c.cout) + " strides " + std::to_string(c.sh) +
         "," + std::to_string(c.sw) + " " + c.padding + " dilations " + std::to_string(c.dh) + "," +
         std::to_string(c.dw);
}

// All three ops on configuration c, float32 and float64, against the naive loop.
void check_against_naive_loop(const Config& c, std::mt19937_64& rng) {
  Reference r(c);
  std::size_t nx = static_cast<std::size_t>(c.n * c.h * c.w * c.cin);
  std::size_t nk = static_cast<std::size_t>(c.kh * c.kw * c.cin * c.cout);
  std::size_t ny = static_cast<std::size_t>(c.n * r.oh * r.ow * c.cout);
  std::vector<double> xv = random_values(nx, rng), kv = random_values(nk, rng),
                      dyv = random_values(ny, rng);
  for (DType dtype : {DType::float32, DType::float64}) {
    // The reference sees the values the op sees (rounded to float32 for float32).
    auto rounded = [&](std::vector<double> v) {
      for (double& e : v) e = rounded_to(dtype, e);
      return v;
    };
    std::vector<double> x64 = rounded(xv), k64 = rounded(kv), dy64 = rounded(dyv);
    std::vector<double> y(ny), y_scale(ny), dx(nx), dx_scale(nx), dk(nk), dk_scale(nk);
    for_each_term(c, r, [&](std::int64_t xi, std::int64_t ki, std::int64_t yi) {
      auto x_ = static_cast<std::size_t>(xi), k_ = static_cast<std::size_t>(ki),
           y_ = static_cast<std::size_t>(yi);
      y[y_] += x64[x_] * k64[k_];
      y_scale[y_] += std::abs(x64[x_] * k64[k_]);
      dx[x_] += dy64[y_] * k64[k_];
      dx_scale[x_] += std::abs(dy64[y_] * k64[k_]);
      dk[k_] += x64[x_] * dy64[y_];
      dk_scale[k_] += std::abs(x64[x_] * dy64[y_]);
    });
    Graph g;
    Shape xs{c.n, c.h, c.w, c.cin}, ks{c.kh, c.kw, c.cin, c.cout}, ys{c.n, r.oh, r.ow, c.cout};
    Output x = constant(g, make_tensor(dtype, xs, x64));
    Output k = constant(g, make_tensor(dtype, ks, k64));
    Output dy = constant(g, make_tensor(dtype, ys, dy64));
    Output yo = conv2d(x, k, options(c));
    Output dxo = conv2d_backprop_input(dy, k, xs, options(c));
    Output dko = conv2d_backprop_filter(x, dy, ks, options(c));
    BOOST_TEST(yo.shape() == ys, label(c));
    Session s(g);
    auto out = s.run({yo, dxo, dko}, {});
    // A few ulps of the sum of |terms|.
    double rel = dtype == DType::float32 ? 1e-6 : 1e-15;
    std::string what = label(c) + " " + std::string(dtype_name(dtype));
    check_close(out[0], y, y_scale, rel, what + " conv2d");
    check_close(out[1], dx, dx_scale, rel, what + " conv2d_backprop_input");
    check_close(out[2], dk, dk_scale, rel, what + " conv2d_backprop_filter");
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(conv)

// x = 1..9 as a 3x3 image, kernel [[1, 2], [3, 4]].
// valid: y00 = 1*1 + 2*2 + 4*3 + 5*4 = 37, y01 = 2 + 6 + 15 + 24 = 47, y10 = 4 + 10 + 21 + 32 = 67,
// y11 = 5 + 12 + 24 + 36 = 77.
// same, stride 2: OH = 2, padding 1 row and column, all after: y01 = 3*1 + 6*3 = 21,
// y10 = 7*1 + 8*2 = 23, y11 = 9*1 = 9.
BOOST_AUTO_TEST_CASE(by_hand) {
  Graph g;
  Output x = constant(g, Tensor::from_vector<float>({1, 3, 3, 1}, {1, 2, 3, 4, 5, 6, 7, 8, 9}));
  Output k = constant(g, Tensor::from_vector<float>({2, 2, 1, 1}, {1, 2, 3, 4}));
  Output valid = conv2d(x, k);
  Output same = conv2d(x, k, {.strides = {2, 2}, .padding = "same"});
  BOOST_TEST(valid.shape() == (Shape{1, 2, 2, 1}));
  BOOST_TEST(same.shape() == (Shape{1, 2, 2, 1}));
  Session s(g);
  auto out = s.run({valid, same}, {});
  BOOST_TEST(out[0].to_vector<float>() == (std::vector<float>{37, 47, 67, 77}), tt::per_element());
  BOOST_TEST(out[1].to_vector<float>() == (std::vector<float>{37, 21, 23, 9}), tt::per_element());
}

BOOST_AUTO_TEST_CASE(against_a_naive_loop) {
  std::mt19937_64 rng(14);
  for (const Config& c : kConfigs) check_against_naive_loop(c, rng);
}

// Convolutions of 16e6 multiply-adds or more run on every thread (the batch split into parts on
// the oneDNN path, the weight gradient's parts summed): with two threads, odd batches included.
BOOST_AUTO_TEST_CASE(large_convolutions_on_two_threads) {
  const int before = num_threads();
  set_num_threads(2);
  std::mt19937_64 rng(15);
  for (const Config& c : {Config{5, 28, 28, 32, 3, 3, 32, 1, 1, "same", 1, 1},
                          Config{3, 30, 29, 24, 3, 3, 48, 1, 1, "valid", 1, 1}})
    check_against_naive_loop(c, rng);
  set_num_threads(before);
}

// A batch unknown when the graph is built: the shapes propagate it, and each run takes the
// batch it is fed; conv2d_backprop_input takes its batch from dy.
BOOST_AUTO_TEST_CASE(unknown_batch) {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{-1, 5, 5, 2}, "x");
  Output k = constant(g, Tensor::from_vector<double>({3, 3, 2, 1}, std::vector<double>(18, 1.0)));
  Conv2DOptions o{.strides = {2, 2}, .padding = "same"};
  Output y = conv2d(x, k, o);
  BOOST_TEST(y.shape() == (Shape{-1, 3, 3, 1}));
  Output dx = gradients(sum(y), {x})[0];
  BOOST_TEST(dx.shape() == (Shape{-1, 5, 5, 2}));
  Session s(g);
  for (std::int64_t batch : {1, 4}) {
    Tensor feed = Tensor::from_vector<double>(
        {batch, 5, 5, 2}, std::vector<double>(static_cast<std::size_t>(batch * 50), 1.0));
    auto out = s.run({y, dx}, {{x, feed}});
    BOOST_TEST(out[0].shape() == (Shape{batch, 3, 3, 1}));
    BOOST_TEST(out[1].shape() == (Shape{batch, 5, 5, 2}));
    // Padding 1 on each side (total 2 for OH = 3, span 3, H = 5): the corner window covers
    // 2x2 pixels of 2 channels, the centre one 3x3.
    BOOST_TEST(out[0].to_vector<double>()[0] == 8.0);
    BOOST_TEST(out[0].to_vector<double>()[4] == 18.0);
  }
}

BOOST_AUTO_TEST_CASE(shape_errors) {
  Graph g;
  Output x = placeholder(g, DType::float32, Shape{-1, 5, 5, 3}, "x");
  Output k2 = placeholder(g, DType::float32, Shape{3, 3, 2, 4}, "k2");
  Output k3 = placeholder(g, DType::float32, Shape{3, 3, 3, 4}, "k3");
  Output big = placeholder(g, DType::float32, Shape{6, 2, 3, 4}, "big");
  Output flat = placeholder(g, DType::float32, Shape{5, 5, 3}, "flat");
  check_build_error(g, [&] { conv2d(x, k2); }, {"channels differ", "(?, 5, 5, 3)", "(3, 3, 2, 4)"});
  check_build_error(g, [&] { conv2d(x, big); },
                    {"height", "larger", "valid", "(?, 5, 5, 3)", "(6, 2, 3, 4)"});
  check_build_error(g,
                    [&] {
                      conv2d(x, k3, {.padding = "valid", .dilations = {1, 3}});
                    },
                    {"width window of 7", "(?, 5, 5, 3)", "(3, 3, 3, 4)"});
  check_build_error(g, [&] { conv2d(flat, k3); }, {"rank 4", "(5, 5, 3)"});
  check_build_error(g, [&] { conv2d(x, flat); }, {"rank 4", "(5, 5, 3)"});
  check_build_error(g, [&] { conv2d(x, k3, {.strides = {0, 1}}); }, {"strides", "[0, 1]"});
  check_build_error(g, [&] { conv2d(x, k3, {.strides = {2}}); }, {"strides", "[2]"});
  check_build_error(g, [&] { conv2d(x, k3, {.dilations = {1, -2}}); }, {"dilations", "[1, -2]"});
  check_build_error(g, [&] { conv2d(x, k3, {.padding = "SAME"}); }, {"padding", "\"SAME\""});
  // "same" pads a kernel larger than the input.
  BOOST_TEST(conv2d(x, big, {.padding = "same"}).shape() == (Shape{-1, 5, 5, 4}));
  // The gradient ops check dy and the attribute shapes against each other.
  Output dy = placeholder(g, DType::float32, Shape{-1, 3, 3, 4}, "dy");
  check_build_error(g,
                    [&] {
                      conv2d_backprop_input(dy, k3, Shape{-1, 6, 5, 3});
                    },
                    {"dy (?, 3, 3, 4)", "(?, 4, 3, 4)"});
  check_build_error(g,
                    [&] {
                      conv2d_backprop_input(dy, k3, Shape{-1, -1, 5, 3});
                    },
                    {"input_shape (?, ?, 5, 3)"});
  check_build_error(g,
                    [&] {
                      conv2d_backprop_filter(x, dy, Shape{3, 3, 3, 5});
                    },
                    {"dy (?, 3, 3, 4)", "(?, 3, 3, 5)"});
  check_build_error(g,
                    [&] {
                      conv2d_backprop_filter(x, dy, Shape{3, -1, 3, 4});
                    },
                    {"kernel_shape", "fully defined"});
  BOOST_TEST(conv2d_backprop_input(dy, k3, Shape{-1, 5, 5, 3}).shape() == (Shape{-1, 5, 5, 3}));
  BOOST_TEST(conv2d_backprop_filter(x, dy, Shape{3, 3, 3, 4}).shape() == (Shape{3, 3, 3, 4}));
}

// Unknown height and width propagate through conv2d ("same" keeps them unknown); its gradient
// with respect to x needs them (input_shape), so asking for it is an error that says so, while
// the kernel's gradient, whose shape is known, works.
BOOST_AUTO_TEST_CASE(unknown_spatial_dimensions) {
  Graph g;
  Output x = placeholder(g, DType::float64, Shape{-1, -1, -1, 2}, "x");
  Output k = placeholder(g, DType::float64, Shape{3, 3, 2, 1}, "k");
  Output y = conv2d(x, k, {.padding = "same"});
  BOOST_TEST(y.shape() == (Shape{-1, -1, -1, 1}));
  BOOST_CHECK_EXCEPTION(gradients(sum(y), {x}), Error,
                        mentions_all<Error>({"node 'conv2d'", "x's shape known", "(?, ?, ?, 2)"}));
  Output dk = gradients(sum(y), {k})[0];
  Session s(g);
  // A 1x1 image: only the kernel's centre tap meets it, so d sum(y) / dk is x at the centre.
  Tensor out = s.run(dk, {{x, Tensor::from_vector<double>({1, 1, 1, 2}, {0.5, -2})},
                          {k, Tensor::from_vector<double>({3, 3, 2, 1}, std::vector<double>(18))}});
  std::vector<double> want(18, 0.0);
  want[8] = 0.5;
  want[9] = -2;
  BOOST_TEST(out.to_vector<double>() == want, tt::per_element());
}

// Empty sums are zeros: a kernel of height 0 ("same" keeps the output size), and no input
// channels. Shapes with a zero dimension never reach BLAS (which rejects zero leading dimensions).
BOOST_AUTO_TEST_CASE(empty_kernels_and_channels) {
  Graph g;
  Output x = constant(g, Tensor::from_vector<double>({1, 3, 3, 1}, std::vector<double>(9, 1.0)));
  Output flat_kernel = constant(g, Tensor::from_vector<double>({0, 2, 1, 2}, {}));
  Output no_channels = constant(g, Tensor::from_vector<double>({1, 3, 3, 0}, {}));
  Output kernel_0in = constant(g, Tensor::from_vector<double>({2, 2, 0, 2}, {}));
  Output dy = constant(g, Tensor::from_vector<double>({1, 3, 3, 2}, std::vector<double>(18, 1.0)));
  Conv2DOptions same{.padding = "same"};
  Output y = conv2d(x, flat_kernel, same);
  Output dx = conv2d_backprop_input(dy, flat_kernel, Shape{1, 3, 3, 1}, same);
  Output dk = conv2d_backprop_filter(x, dy, Shape{0, 2, 1, 2}, same);
  Output y0 = conv2d(no_channels, kernel_0in, same);
  Output dx0 = conv2d_backprop_input(dy, kernel_0in, Shape{1, 3, 3, 0}, same);
  Session s(g);
  auto out = s.run({y, dx, dk, y0, dx0}, {});
  BOOST_TEST(out[0].shape() == (Shape{1, 3, 3, 2}));
  BOOST_TEST(out[0].to_vector<double>() == std::vector<double>(18, 0.0), tt::per_element());
  BOOST_TEST(out[1].to_vector<double>() == std::vector<double>(9, 0.0), tt::per_element());
  BOOST_TEST(out[2].size() == 0);
  BOOST_TEST(out[3].shape() == (Shape{1, 3, 3, 2}));
  BOOST_TEST(out[3].to_vector<double>() == std::vector<double>(18, 0.0), tt::per_element());
  BOOST_TEST(out[4].size() == 0);
}

// The second derivative checked numerically: the gradient graph (conv2d_backprop_input and
// _filter nodes) is itself gradient-checked, which runs the backprop ops' own gradient rules.
BOOST_AUTO_TEST_CASE(gradient_graph_passes_the_gradient_check) {
  struct Case {
    Shape x, k;
    Conv2DOptions o;
  };
  const std::vector<Case> cases = {
      {Shape{2, 5, 5, 2}, Shape{3, 2, 2, 2}, {.strides = {2, 2}, .padding = "same"}},
      {Shape{1, 6, 5, 1}, Shape{2, 2, 1, 2}, {.padding = "valid", .dilations = {2, 1}}},
      {Shape{-1, 4, 4, 2}, Shape{2, 2, 2, 1}, {.strides = {1, 2}, .padding = "same"}}};
  std::mt19937_64 rng(7);
  for (const Case& c : cases) {
    Graph g;
    Output x = placeholder(g, DType::float64, c.x, "x");
    Output k = placeholder(g, DType::float64, c.k, "k");
    Output y = conv2d(x, k, c.o);
    // f is not quadratic, so the Hessian depends on x and k.
    Output f = sum(tanh(y) * y);
    auto grads = gradients(f, {x, k});
    Output scalar_of_grad = sum(grads[0] * grads[0]) + sum(square(grads[1]));
    Shape fed{c.x[0] < 0 ? 3 : c.x[0], c.x[1], c.x[2], c.x[3]};
    std::vector<Feed> feeds{
        {x, Tensor::from_vector<double>(
                fed, random_values(static_cast<std::size_t>(fed.num_elements()), rng))},
        {k, Tensor::from_vector<double>(
                c.k, random_values(static_cast<std::size_t>(c.k.num_elements()), rng))}};
    Session s(g);
    GradCheckResult r = check_graph_gradients(s, scalar_of_grad, {x, k}, feeds);
    BOOST_TEST_INFO(c.x.to_string() << " " << c.k.to_string() << ": " << r.message);
    BOOST_TEST(r.passed);
    BOOST_TEST(r.max_abs_error < 1e-6);
  }
}

BOOST_AUTO_TEST_SUITE_END()
