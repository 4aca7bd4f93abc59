// dagrad's matrix products against oneDNN's matmul primitive on the chapter MLP's shapes
// (784-300-100-10 at batch 1, 32 and 256): the forward's products with their bias and ELU
// (dagrad: one matmul_epilogue node, OpenBLAS sgemm then the fused program; oneDNN: matmul with
// a bias and an eltwise_elu post-op), the logits' product with its bias, and the backward's
// plain products dW = X^T dZ and dX = dZ W^T. Each side is prepared once (a compiled dagrad plan
// running the node as a target, so no copy of the result; a oneDNN primitive created once) and
// executed many times; the figure is the median over samples of the mean time of a burst of
// executions. Prints one row per shape and thread count, with dagrad/oneDNN (> 1: oneDNN is
// faster). Built by bench/CMakeLists.txt only when oneDNN (libdnnl-dev) is found:
//   build/bench/onednn_matmul [SAMPLES]        (env -u OPENBLAS_CORETYPE for realistic OpenBLAS)
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <dagrad/dagrad.hpp>
#include <dagrad/ops/matmul_epilogue.hpp>
#include <functional>
#include <oneapi/dnnl/dnnl.hpp>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// One product: y (m x n) = op(A) op(B) [+ bias [, ELU]], A stored (m x k) or (k x m) when
// transposed, B (k x n) or (n x k).
struct Case {
  std::string name;
  std::int64_t m, k, n;
  bool ta, tb;
  bool bias, elu;
};

std::vector<float> random_values(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

// Median over `samples` of the mean microseconds of one call within a burst of calls lasting
// about 2 ms (at least 3 calls).
double median_us(const std::function<void()>& call, int samples) {
  auto start = Clock::now();
  call();
  double once = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
  int burst = std::max(3, static_cast<int>(2000.0 / std::max(once, 0.05)));
  for (int i = 0; i < burst; ++i) call();  // warm up
  std::vector<double> means;
  for (int s = 0; s < samples; ++s) {
    start = Clock::now();
    for (int i = 0; i < burst; ++i) call();
    means.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count() /
                    burst);
  }
  std::nth_element(means.begin(), means.begin() + static_cast<long>(means.size() / 2), means.end());
  return means[means.size() / 2];
}

// dagrad: a compiled plan whose target is the product node (matmul_epilogue for a case with an
// epilogue, else matmul); inputs are fed, weights and bias are constants.
struct DagradSide {
  dagrad::Graph g;
  dagrad::Session session{g};
  dagrad::Plan* plan = nullptr;
  dagrad::Output result;
  std::vector<dagrad::Tensor> feeds;

  DagradSide(const Case& c, const std::vector<float>& a, const std::vector<float>& b,
             const std::vector<float>& bias) {
    using namespace dagrad;
    Shape a_shape = c.ta ? Shape{c.k, c.m} : Shape{c.m, c.k};
    Shape b_shape = c.tb ? Shape{c.n, c.k} : Shape{c.k, c.n};
    Output x = placeholder(g, DType::float32, a_shape, "a");
    Output w = constant(g, Tensor::from_vector<float>(b_shape, b), "b");
    Operation target;
    if (c.bias) {
      Output beta = constant(g, Tensor::from_vector<float>(Shape{c.n}, bias), "bias");
      FusedProgram p(2);
      int z = p.binary(FusedOpcode::Add, 0, 1);
      p.output(c.elu ? p.elu(z, 1.0) : z);
      FusedNode node = matmul_epilogue(x, w, c.ta, c.tb, {beta}, DType::float32, p, "y");
      result = node.outputs[0];
      target = node.operation;
    } else {
      result = matmul(x, w, c.ta, c.tb, "y");
      target = result;
    }
    OptimizerOptions options;
    options.optimize = false;  // run the node as built
    session.set_optimizer_options(options);
    plan = &session.compile({}, {target}, {x});
    feeds.push_back(Tensor::from_vector<float>(a_shape, a));
  }
  void run() { plan->run(feeds); }
  std::vector<float> value() {
    return session.run(result, {{g.output("a"), feeds[0]}}).to_vector<float>();
  }
};

// oneDNN: a matmul primitive (bias and eltwise_elu post-op as the case says), created once.
struct OnednnSide {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  dnnl::matmul primitive;
  dnnl::memory a_mem, b_mem, bias_mem, y_mem;
  std::unordered_map<int, dnnl::memory> args;

  OnednnSide(const Case& c, std::vector<float>& a, std::vector<float>& b,
             std::vector<float>& bias) {
    using dnnl::memory;
    using dims = memory::dims;
    auto f32 = memory::data_type::f32;
    // Logical (m x k) and (k x n); a transposed operand is the row-major (k x m) buffer read
    // through strides.
    memory::desc a_md(dims{c.m, c.k}, f32, c.ta ? dims{1, c.m} : dims{c.k, 1});
    memory::desc b_md(dims{c.k, c.n}, f32, c.tb ? dims{1, c.k} : dims{c.n, 1});
    memory::desc y_md(dims{c.m, c.n}, f32, dims{c.n, 1});
    memory::desc bias_md(dims{1, c.n}, f32, dims{c.n, 1});
    dnnl::primitive_attr attr;
    if (c.elu) {
      dnnl::post_ops ops;
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_elu, 1.0f, 0.0f);
      attr.set_post_ops(ops);
    }
    auto desc = c.bias ? dnnl::matmul::desc(a_md, b_md, bias_md, y_md)
                       : dnnl::matmul::desc(a_md, b_md, y_md);
    primitive = dnnl::matmul(dnnl::matmul::primitive_desc(desc, attr, engine));
    a_mem = memory(a_md, engine, a.data());
    b_mem = memory(b_md, engine, b.data());
    y_mem = memory(y_md, engine);
    args = {{DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, b_mem}, {DNNL_ARG_DST, y_mem}};
    if (c.bias) {
      bias_mem = memory(bias_md, engine, bias.data());
      args[DNNL_ARG_BIAS] = bias_mem;
    }
  }
  void run() {
    primitive.execute(stream, args);
    stream.wait();
  }
  std::vector<float> value(std::size_t size) {
    run();
    const float* p = static_cast<const float*>(y_mem.get_data_handle());
    return std::vector<float>(p, p + size);
  }
};

std::vector<Case> chapter_cases() {
  std::vector<Case> cases;
  for (std::int64_t batch : {1, 32, 256}) {
    std::string b = std::to_string(batch);
    cases.push_back(
        {"fwd " + b + "x784 * 784x300 +b elu", batch, 784, 300, false, false, true, true});
    cases.push_back(
        {"fwd " + b + "x300 * 300x100 +b elu", batch, 300, 100, false, false, true, true});
    cases.push_back({"fwd " + b + "x100 * 100x10 +b", batch, 100, 10, false, false, true, false});
    cases.push_back(
        {"dW1 784x" + b + " * " + b + "x300 (X^T dZ)", 784, batch, 300, true, false, false, false});
    cases.push_back(
        {"dW2 300x" + b + " * " + b + "x100 (X^T dZ)", 300, batch, 100, true, false, false, false});
    cases.push_back(
        {"dX2 " + b + "x100 * (300x100)^T (dZ W^T)", batch, 100, 300, false, true, false, false});
    cases.push_back(
        {"dX3 " + b + "x10 * (100x10)^T (dZ W^T)", batch, 10, 100, false, true, false, false});
  }
  return cases;
}

}  // namespace

int main(int argc, char** argv) {
  int samples = argc > 1 ? std::atoi(argv[1]) : 31;
  if (samples < 1) {
    std::fprintf(stderr, "usage: onednn_matmul [SAMPLES >= 1]\n");
    return 2;
  }
  std::printf(
      "dagrad (OpenBLAS sgemm + fused epilogue, matmul_epilogue) vs oneDNN %d.%d matmul "
      "(bias + eltwise_elu post-op); median of %d samples, us per product\n",
      dnnl::version()->major, dnnl::version()->minor, samples);
  std::printf("%-40s %3s %10s %10s %8s %9s\n", "product", "thr", "dagrad_us", "onednn_us", "ratio",
              "max_diff");
  for (int threads : {1, 2}) {
    dagrad::set_num_threads(threads);
    omp_set_num_threads(threads);
    for (const Case& c : chapter_cases()) {
      std::vector<float> a = random_values(static_cast<std::size_t>(c.m * c.k), 1);
      std::vector<float> b = random_values(static_cast<std::size_t>(c.k * c.n), 2);
      for (float& v : b) v *= 0.05f;  // he-like scale: activations stay moderate
      std::vector<float> bias = random_values(static_cast<std::size_t>(c.n), 3);
      DagradSide d(c, a, b, bias);
      OnednnSide o(c, a, b, bias);
      std::vector<float> dv = d.value(), ov = o.value(dv.size());
      double diff = 0;
      for (std::size_t i = 0; i < dv.size(); ++i)
        diff = std::max(diff, static_cast<double>(std::fabs(dv[i] - ov[i])));
      // Alternate the two sides sample by sample, so that machine noise hits both alike.
      std::vector<double> dt, ot;
      for (int s = 0; s < samples; ++s) {
        dt.push_back(median_us([&] { d.run(); }, 1));
        ot.push_back(median_us([&] { o.run(); }, 1));
      }
      auto median = [](std::vector<double> v) {
        std::nth_element(v.begin(), v.begin() + static_cast<long>(v.size() / 2), v.end());
        return v[v.size() / 2];
      };
      double dm = median(dt), om = median(ot);
      std::printf("%-40s %3d %10.2f %10.2f %8.2f %9.2g\n", c.name.c_str(), threads, dm, om, dm / om,
                  diff);
      std::fflush(stdout);
    }
  }
  return 0;
}
