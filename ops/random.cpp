// Random ops: random_uniform, random_normal, truncated_normal, bernoulli.
//
// Each draws from ctx.rng, the node's std::mt19937_64 that the session seeds from the graph
// seed and the op's seed. The engine's output sequence is fixed by the C++ standard, but the
// std:: distributions are not (libstdc++ and libc++ give different numbers), so the transforms
// below are our own: the same seeds give the same values with any standard library.
//
// An op takes its shape from the "shape" attribute, or from its optional input "like" (whose
// dimensions may be unknown until run time, as a batch dimension is).
#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>

#include "kernel_util.hpp"
#include "op_util.hpp"

namespace dagrad {

namespace {

constexpr double kTwoPi = 6.283185307179586476925286766559;
constexpr double kTruncation = 2.0;  // truncated_normal keeps |z| <= 2 standard deviations

// A double in [0, 1) from the top 53 bits of one engine output: every value is k * 2^-53.
double uniform01(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

// Standard normal values by the Box-Muller transform, two per pair of uniforms. The spare value
// lives only for one kernel call, so a run's values depend on the engine state alone.
class StandardNormal {
 public:
  explicit StandardNormal(std::mt19937_64& rng) : rng_(rng) {}
  double operator()() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = 1.0 - uniform01(rng_);  // (0, 1]: the logarithm stays finite
    double u2 = uniform01(rng_);
    double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(kTwoPi * u2);
    has_spare_ = true;
    return r * std::cos(kTwoPi * u2);
  }

 private:
  std::mt19937_64& rng_;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

std::mt19937_64& rng_of(const KernelContext& c) {
  if (!c.rng)
    throw std::logic_error("random op run without a generator (the op must be marked uses_rng)");
  return *c.rng;
}

struct UniformKernel {
  template <class T>
  static void run(KernelContext& c) {
    std::mt19937_64& rng = rng_of(c);
    double lo = c.attrs().get_float("minval"), hi = c.attrs().get_float("maxval");
    // Rounding to float32 can land on maxval; the largest T below it keeps the range half-open.
    const T top = std::nextafter(static_cast<T>(hi), static_cast<T>(lo));
    T* y = c.output(0).data<T>();
    for (std::int64_t i = 0; i < c.output(0).size(); ++i) {
      T v = static_cast<T>(lo + (hi - lo) * uniform01(rng));
      y[i] = v < static_cast<T>(hi) ? v : std::max(top, static_cast<T>(lo));
    }
  }
};

template <bool Truncated>
struct NormalKernel {
  template <class T>
  static void run(KernelContext& c) {
    StandardNormal normal(rng_of(c));
    double mean = c.attrs().get_float("mean"), stddev = c.attrs().get_float("stddev");
    T* y = c.output(0).data<T>();
    for (std::int64_t i = 0; i < c.output(0).size(); ++i) {
      double z = normal();
      if constexpr (Truncated) {
        // Rejection keeps the exact shape of the normal density inside the bounds; about 4.6%
        // of draws are redrawn.
        while (std::fabs(z) > kTruncation) z = normal();
      }
      y[i] = static_cast<T>(mean + stddev * z);
    }
  }
};

struct BernoulliKernel {
  template <class T>
  static void run(KernelContext& c) {
    std::mt19937_64& rng = rng_of(c);
    double p = c.attrs().get_float("p");
    T* y = c.output(0).data<T>();
    // uniform01 < p holds with probability exactly p (for p a multiple of 2^-53): never for
    // p = 0, always for p = 1.
    for (std::int64_t i = 0; i < c.output(0).size(); ++i) y[i] = uniform01(rng) < p ? T(1) : T(0);
  }
};

void expect_finite(const AttrMap& attrs, const char* name) {
  double v = attrs.get_float(name);
  if (!std::isfinite(v))
    throw ShapeError("attribute '" + std::string(name) + "' must be finite, got " +
                     std::to_string(v));
}

// The shape function common to the random ops; check_params rejects bad distribution parameters.
void random_shape(ShapeContext& ctx, void (*check_params)(const AttrMap&)) {
  if (ctx.num_inputs() > 1)
    throw ShapeError("takes at most one input ('like', whose shape the output takes), got " +
                     std::to_string(ctx.num_inputs()));
  DType dtype = ctx.attrs().get_dtype("dtype");
  if (!is_floating(dtype))
    throw ShapeError("dtype must be float32 or float64, got " + std::string(dtype_name(dtype)));
  check_params(ctx.attrs());
  if (ctx.num_inputs() == 1) {
    ctx.set_output(0, dtype, ctx.input_shape(0));
    return;
  }
  const Shape& shape = ctx.attrs().get_shape("shape");
  if (!shape.is_fully_defined())
    throw ShapeError(
        "shape " + shape.to_string() +
        " must be fully defined; for an unknown dimension take the shape of an input ('like')");
  ctx.set_output(0, dtype, shape);
}

void check_uniform(const AttrMap& a) {
  expect_finite(a, "minval");
  expect_finite(a, "maxval");
  double lo = a.get_float("minval"), hi = a.get_float("maxval");
  if (!(lo < hi))
    throw ShapeError("minval " + std::to_string(lo) + " must be less than maxval " +
                     std::to_string(hi));
  // The kernel computes minval + (maxval - minval) * u, so the width must be finite too.
  if (!std::isfinite(hi - lo))
    throw ShapeError("maxval - minval overflows (minval " + std::to_string(lo) + ")");
}

void check_normal(const AttrMap& a) {
  expect_finite(a, "mean");
  expect_finite(a, "stddev");
  if (a.get_float("stddev") < 0)
    throw ShapeError("stddev must be >= 0, got " + std::to_string(a.get_float("stddev")));
}

void check_bernoulli(const AttrMap& a) {
  double p = a.get_float("p");
  if (!(p >= 0.0 && p <= 1.0)) throw ShapeError("p must be in [0, 1], got " + std::to_string(p));
}

template <class K>
void add_random(OpRegistry& registry, const char* name, std::vector<AttrSpec> params,
                void (*check_params)(const AttrMap&), const char* summary) {
  OpRecord r;
  r.name = name;
  r.input_names = {"like"};
  r.variadic_inputs = true;  // 0 or 1 inputs; the shape function rejects more
  r.min_inputs = 0;
  r.attrs = {{"shape", AttrKind::Shape, AttrValue(Shape{})}};
  for (auto& p : params) r.attrs.push_back(std::move(p));
  r.attrs.push_back({"dtype", AttrKind::DType, AttrValue(DType::float32)});
  r.attrs.push_back({"seed", AttrKind::Int, AttrValue(std::int64_t{0})});
  r.shape_fn = [check_params](ShapeContext& ctx) { random_shape(ctx, check_params); };
  kernels::set_kernels<K, float, double>(r);
  r.uses_rng = true;
  r.stateful = true;  // two nodes with equal attributes still draw different values
  r.not_differentiable_reason =
      "a random sample: its value does not depend differentiably on its inputs";
  r.summary = summary;
  registry.add(std::move(r));
}

}  // namespace

void register_random_ops(OpRegistry& registry) {
  add_random<UniformKernel>(
      registry, "random_uniform",
      {{"minval", AttrKind::Float, AttrValue(0.0)}, {"maxval", AttrKind::Float, AttrValue(1.0)}},
      check_uniform, "uniform values in [minval, maxval)");
  add_random<NormalKernel<false>>(
      registry, "random_normal",
      {{"mean", AttrKind::Float, AttrValue(0.0)}, {"stddev", AttrKind::Float, AttrValue(1.0)}},
      check_normal, "normal values (Box-Muller)");
  add_random<NormalKernel<true>>(
      registry, "truncated_normal",
      {{"mean", AttrKind::Float, AttrValue(0.0)}, {"stddev", AttrKind::Float, AttrValue(1.0)}},
      check_normal, "normal values redrawn until within 2 stddev of the mean");
  add_random<BernoulliKernel>(registry, "bernoulli", {{"p", AttrKind::Float, {}}}, check_bernoulli,
                              "1 with probability p, else 0");
}

Output random_uniform(Graph& g, Shape shape, double minval, double maxval, DType dtype,
                      std::int64_t seed, OpName name) {
  return detail::build(g, "random_uniform", {},
                       {{"shape", std::move(shape)},
                        {"minval", minval},
                        {"maxval", maxval},
                        {"dtype", dtype},
                        {"seed", seed}},
                       name);
}

Output random_normal(Graph& g, Shape shape, double mean, double stddev, DType dtype,
                     std::int64_t seed, OpName name) {
  return detail::build(g, "random_normal", {},
                       {{"shape", std::move(shape)},
                        {"mean", mean},
                        {"stddev", stddev},
                        {"dtype", dtype},
                        {"seed", seed}},
                       name);
}

Output truncated_normal(Graph& g, Shape shape, double mean, double stddev, DType dtype,
                        std::int64_t seed, OpName name) {
  return detail::build(g, "truncated_normal", {},
                       {{"shape", std::move(shape)},
                        {"mean", mean},
                        {"stddev", stddev},
                        {"dtype", dtype},
                        {"seed", seed}},
                       name);
}

Output random_uniform_like(Output like, double minval, double maxval, std::int64_t seed,
                           OpName name) {
  Graph& g = detail::graph_of(like, "random_uniform");
  return detail::build(
      g, "random_uniform", {like},
      {{"minval", minval}, {"maxval", maxval}, {"dtype", like.dtype()}, {"seed", seed}}, name);
}

Output bernoulli_like(Output like, double p, std::int64_t seed, OpName name) {
  Graph& g = detail::graph_of(like, "bernoulli");
  return detail::build(g, "bernoulli", {like}, {{"p", p}, {"dtype", like.dtype()}, {"seed", seed}},
                       name);
}

}  // namespace dagrad
