#include "dagrad/autodiff/gradient_check.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <numeric>
#include <random>
#include <sstream>

#include "dagrad/autodiff/gradients.hpp"
#include "dagrad/graph/errors.hpp"
#include "dagrad/ops/ops.hpp"

namespace dagrad {

namespace {

double get(const Tensor& t, std::int64_t i) {
  return t.value_as_double(i);
}

void set(Tensor& t, std::int64_t i, double v) {
  if (t.dtype() == DType::float64)
    t.data<double>()[i] = v;
  else
    t.data<float>()[i] = static_cast<float>(v);
}

// A value perturbed during the check: a variable (through the session) or a fed placeholder.
struct Perturbed {
  Output x;
  bool is_variable;
  int feed_index;  // into the working feeds, for placeholders
  Tensor value;    // the working copy
};

// Puts every perturbed variable back to the value it had before the check, also when a run
// throws halfway through a perturbation. (Placeholders need no restoring: the check perturbs
// clones held in its own copy of the feeds, never the caller's tensors.)
class RestoreVariables {
 public:
  RestoreVariables(Session& session, const std::vector<Perturbed>& xs) : session_(session) {
    for (const Perturbed& p : xs)
      if (p.is_variable) originals_.push_back({p.x, p.value.clone()});
  }
  RestoreVariables(const RestoreVariables&) = delete;
  RestoreVariables& operator=(const RestoreVariables&) = delete;
  ~RestoreVariables() {
    for (const auto& [variable, value] : originals_) {
      try {
        session_.set_variable_value(variable, value);
      } catch (...) {
        // Same dtype and shape as read from this session: cannot fail; never throw from here.
      }
    }
  }

 private:
  Session& session_;
  std::vector<std::pair<Output, Tensor>> originals_;
};

double evaluate(Session& session, Output y, std::vector<Perturbed>& xs, std::vector<Feed>& feeds) {
  for (Perturbed& p : xs) {
    if (p.is_variable)
      session.set_variable_value(p.x, p.value);
    else
      feeds[static_cast<std::size_t>(p.feed_index)].value = p.value;
  }
  Tensor out = session.run(y, feeds);
  return out.value_as_double(0);
}

bool close(double numeric, double symbolic, double rtol, double atol) {
  return std::abs(numeric - symbolic) <=
         atol + rtol * std::max(std::abs(numeric), std::abs(symbolic));
}

std::string shape_list(const std::vector<Shape>& shapes) {
  std::string s;
  for (std::size_t i = 0; i < shapes.size(); ++i) s += (i ? ", " : "") + shapes[i].to_string();
  return s;
}

// A tolerance as %g: "1e-06", "1e-09", "0.01" (std::to_string's fixed six decimals would
// print 1e-9 as "0.000000").
std::string format_g(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", v);
  return buffer;
}

// float32 keeps about 7 digits: with a step of 1e-6, f(x + eps) - f(x - eps) keeps almost none.
constexpr double kFloat32Eps = 1e-3, kFloat32Rtol = 1e-2, kFloat32Atol = 1e-4;

void warn_float32_once() {
  static std::once_flag warned;
  std::call_once(warned, [] {
    std::cerr << "warning: gradient check in float32 is not reliable; use float64\n";
  });
}

// Throws GraphError when y depends on a node whose op draws random numbers: each evaluation of
// y would draw again, so differences of y would measure the noise, not the gradient.
void reject_random_dependencies(const Output& y) {
  const Graph& g = *y.graph;
  std::vector<char> seen(static_cast<std::size_t>(g.num_nodes()), 0);
  std::vector<int> stack{y.node};
  seen[static_cast<std::size_t>(y.node)] = 1;
  while (!stack.empty()) {
    const Node& n = g.node(stack.back());
    stack.pop_back();
    if (n.op->uses_rng)
      throw GraphError(
          "gradient check: y '" + y.name() + "' depends on node '" + n.name + "' (" + n.op->name +
          "), a random op that draws new values on every evaluation, so finite differences "
          "would measure the noise; feed those values through a placeholder instead");
    for (const NodeInput& in : n.inputs) {
      auto k = static_cast<std::size_t>(in.node);
      if (!seen[k]) {
        seen[k] = 1;
        stack.push_back(in.node);
      }
    }
  }
}

}  // namespace

GradCheckResult check_graph_gradients(Session& session, Output y, const std::vector<Output>& xs,
                                      const std::vector<Feed>& feeds_in,
                                      const GradCheckOptions& options, double rtol, double atol,
                                      double eps, bool zero_gradient_expected) {
  GradCheckResult result;
  result.op = "graph";
  if (!y.valid()) throw GraphError("gradient check: y is not a valid output (empty handle)");
  if (!is_floating(y.dtype()))
    throw GraphError("gradient check: y '" + y.name() + "' is not a float tensor");
  bool float32 = options.dtype == DType::float32 || y.dtype() == DType::float32;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    if (!xs[i].valid())
      throw GraphError("gradient check: x " + std::to_string(i) + " is not a valid output");
    if (!is_floating(xs[i].dtype()))
      throw GraphError("gradient check: x '" + xs[i].name() + "' is " +
                       std::string(dtype_name(xs[i].dtype())));
    float32 = float32 || xs[i].dtype() == DType::float32;
    for (std::size_t j = 0; j < i; ++j)
      if (xs[j] == xs[i])
        throw GraphError("gradient check: x '" + xs[i].name() + "' appears twice in xs (at " +
                         std::to_string(j) + " and " + std::to_string(i) + ")");
  }
  reject_random_dependencies(y);
  if (float32) {
    warn_float32_once();
    rtol = std::max(rtol, kFloat32Rtol);
    atol = std::max(atol, kFloat32Atol);
    eps = std::max(eps, kFloat32Eps);
  }
  if (options.rtol) rtol = *options.rtol;
  if (options.atol) atol = *options.atol;
  if (options.eps) eps = *options.eps;
  std::vector<Feed> feeds = feeds_in;
  std::vector<Perturbed> perturbed;
  for (const Output& x : xs) {
    Perturbed p{x, x.producer().op->role == OpRole::Variable, -1, {}};
    if (p.is_variable) {
      p.value = session.variable_value(x);
    } else {
      for (std::size_t i = 0; i < feeds.size(); ++i)
        if (feeds[i].placeholder == x) p.feed_index = static_cast<int>(i);
      if (p.feed_index < 0)
        throw GraphError("gradient check: x '" + x.name() +
                         "' is neither a variable nor a fed placeholder");
      p.value = feeds[static_cast<std::size_t>(p.feed_index)].value.clone();
    }
    perturbed.push_back(std::move(p));
  }
  RestoreVariables restore(session, perturbed);
  std::vector<Output> grads = gradients(y, xs);
  std::vector<Output> fetch;
  for (std::size_t i = 0; i < grads.size(); ++i)
    if (grads[i].valid()) fetch.push_back(grads[i]);
  for (Perturbed& p : perturbed)
    if (!p.is_variable) feeds[static_cast<std::size_t>(p.feed_index)].value = p.value;
  std::vector<Tensor> fetched = fetch.empty() ? std::vector<Tensor>{} : session.run(fetch, feeds);
  // Symbolic gradients as tensors (zeros where no path).
  std::vector<Tensor> symbolic;
  for (std::size_t i = 0, k = 0; i < grads.size(); ++i) {
    if (grads[i].valid()) {
      symbolic.push_back(fetched[k++]);
    } else {
      symbolic.push_back(Tensor(perturbed[i].value.dtype(), perturbed[i].value.shape()));
    }
    if (symbolic.back().shape() != perturbed[i].value.shape()) {
      result.message = "gradient of '" + xs[i].name() + "' has shape " +
                       symbolic.back().shape().to_string() + ", the input has " +
                       perturbed[i].value.shape().to_string();
      return result;
    }
  }

  double max_numeric = 0.0, max_symbolic = 0.0;
  bool ok = true;
  auto compare = [&](double numeric, double sym) {
    double abs_err = std::abs(numeric - sym);
    double scale = std::max(std::abs(numeric), std::abs(sym));
    result.max_abs_error = std::max(result.max_abs_error, abs_err);
    if (scale > 0) result.max_rel_error = std::max(result.max_rel_error, abs_err / scale);
    max_numeric = std::max(max_numeric, std::abs(numeric));
    max_symbolic = std::max(max_symbolic, std::abs(sym));
    if (!std::isfinite(numeric) || !std::isfinite(sym) || !close(numeric, sym, rtol, atol))
      ok = false;
  };

  if (!options.fast) {
    for (std::size_t i = 0; i < perturbed.size(); ++i) {
      Tensor& v = perturbed[i].value;
      for (std::int64_t e = 0; e < v.size(); ++e) {
        double original = get(v, e);
        set(v, e, original + eps);
        double plus = evaluate(session, y, perturbed, feeds);
        set(v, e, original - eps);
        double minus = evaluate(session, y, perturbed, feeds);
        set(v, e, original);
        compare((plus - minus) / (2 * eps), get(symbolic[i], e));
      }
    }
  } else {
    std::mt19937_64 rng(options.seed * 7919 + 17);
    std::normal_distribution<double> normal;
    for (int p = 0; p < options.projections; ++p) {
      std::vector<Tensor> directions;
      double sym = 0.0;
      for (std::size_t i = 0; i < perturbed.size(); ++i) {
        Tensor d(DType::float64, perturbed[i].value.shape());
        for (std::int64_t e = 0; e < d.size(); ++e) {
          d.data<double>()[e] = normal(rng);
          sym += d.data<double>()[e] * get(symbolic[i], e);
        }
        directions.push_back(d);
      }
      std::vector<Tensor> originals;
      for (Perturbed& q : perturbed) originals.push_back(q.value.clone());
      auto shift = [&](double sign) {
        for (std::size_t i = 0; i < perturbed.size(); ++i)
          for (std::int64_t e = 0; e < perturbed[i].value.size(); ++e)
            set(perturbed[i].value, e,
                get(originals[i], e) + sign * eps * directions[i].data<double>()[e]);
      };
      shift(+1);
      double plus = evaluate(session, y, perturbed, feeds);
      shift(-1);
      double minus = evaluate(session, y, perturbed, feeds);
      shift(0);
      compare((plus - minus) / (2 * eps), sym);
    }
  }
  if (!ok) {
    result.message = "symbolic and numeric gradients differ (rtol " + format_g(rtol) + ", atol " +
                     format_g(atol) + ", eps " + format_g(eps) + ")";
  } else if (max_numeric <= atol && max_symbolic <= atol && !zero_gradient_expected) {
    ok = false;
    result.message = "both gradients are zero everywhere: the check proves nothing";
  }
  result.passed = ok;
  return result;
}

namespace {

// Draws a float input: uniform in [low, high], away from kinks. With distinct_inputs the
// two inputs come from interleaved grids spaced 2*margin apart, so they never tie; with
// distinct_elements no two elements of one input tie.
Tensor draw_input(const GradCheckSpec& spec, DType dtype, const Shape& shape, int input,
                  std::mt19937_64& rng) {
  Tensor t(dtype, shape);
  if (spec.distinct_elements) {
    // A random permutation of evenly spaced values: neighbours are (high - low) / size apart,
    // far beyond eps, so finite differences never change which element is largest.
    std::vector<std::int64_t> order(static_cast<std::size_t>(t.size()));
    std::iota(order.begin(), order.end(), std::int64_t{0});
    std::shuffle(order.begin(), order.end(), rng);
    double step = (spec.high - spec.low) / static_cast<double>(std::max<std::int64_t>(t.size(), 1));
    for (std::int64_t e = 0; e < t.size(); ++e)
      set(t, e, spec.low + (static_cast<double>(order[static_cast<std::size_t>(e)]) + 0.5) * step);
    return t;
  }
  std::uniform_real_distribution<double> uniform(spec.low, spec.high);
  for (std::int64_t e = 0; e < t.size(); ++e) {
    double v;
    if (spec.distinct_inputs) {
      double step = 4 * spec.kink_margin;
      auto slots = static_cast<long>((spec.high - spec.low) / step);
      std::uniform_int_distribution<long> pick(0, std::max(0L, slots - 1));
      v = spec.low + static_cast<double>(pick(rng)) * step +
          (input == 0 ? 1 : 3) * spec.kink_margin;
    } else {
      int tries = 0;
      do {
        v = uniform(rng);
        bool near = false;
        for (double k : spec.kinks) near = near || std::abs(v - k) < spec.kink_margin;
        if (!near) break;
      } while (++tries < 1000);
      // With one kink, alternate sides (even elements above) so both branches are checked and a
      // one-element input lands where a relu-like op has a nonzero gradient.
      if (spec.kinks.size() == 1) {
        double k = spec.kinks[0];
        bool want_above = e % 2 == 0;
        double mirrored = 2 * k - v;
        if ((v > k) != want_above && mirrored >= spec.low && mirrored <= spec.high) v = mirrored;
      }
    }
    set(t, e, v);
  }
  return t;
}

// The run-time shape of input i: the sample's feed shape, else every unknown dimension as 3.
Shape fed_shape(const GradCheckSample& sample, std::size_t i) {
  const Shape& built = sample.shapes[i];
  if (i < sample.feed_shapes.size()) {
    const Shape& fed = sample.feed_shapes[i];
    if (!fed.is_fully_defined() || fed.rank() != built.rank() || !fed.compatible_with(built))
      throw GraphError("sample feed shape " + fed.to_string() + " of input " + std::to_string(i) +
                       " does not fit its build-time shape " + built.to_string());
    return fed;
  }
  std::vector<std::int64_t> dims = built.dims();
  for (auto& d : dims)
    if (d == Shape::kUnknown) d = 3;
  return Shape(dims);
}

}  // namespace

std::vector<GradCheckResult> check_op_gradients(const OpRegistry& registry,
                                                const std::string& op_name,
                                                const GradCheckOptions& options) {
  const OpRecord& op = registry.get(op_name);
  std::vector<GradCheckResult> results;
  auto skipped = [&](const std::string& why) {
    GradCheckResult r;
    r.op = op_name;
    r.skipped = true;
    r.passed = true;
    r.message = why;
    results.push_back(r);
    return results;
  };
  if (!op.not_differentiable_reason.empty())
    return skipped("not differentiable: " + op.not_differentiable_reason);
  if (op.input_names.empty() && !op.variadic_inputs) return skipped("no inputs (a leaf)");
  if (!op.gradient || op.gradcheck.samples.empty()) {
    GradCheckResult r;
    r.op = op_name;
    r.message = op.gradient ? "no gradient-check samples declared"
                            : "no gradient rule and no not-differentiable reason";
    results.push_back(r);
    return results;
  }
  if (options.dtype == DType::float32) warn_float32_once();
  const GradCheckSpec& spec = op.gradcheck;
  int sample_index = 0;
  for (const GradCheckSample& sample : spec.samples) {
    GradCheckResult r;
    r.op = op_name;
    r.shapes = shape_list(sample.shapes);
    if (!sample.feed_shapes.empty()) r.shapes += " fed " + shape_list(sample.feed_shapes);
    if (!sample.note.empty()) r.shapes += " [" + sample.note + "]";
    try {
      Graph g(registry);
      std::mt19937_64 rng(options.seed * 1000003 + static_cast<std::uint64_t>(sample_index++));
      std::vector<Output> inputs, xs;
      std::vector<Feed> feeds;
      for (std::size_t i = 0; i < sample.shapes.size(); ++i) {
        const Tensor* fixed =
            i < sample.fixed.size() && sample.fixed[i].defined() ? &sample.fixed[i] : nullptr;
        if (fixed) {
          inputs.push_back(constant(g, *fixed, "fixed_" + std::to_string(i)));
          continue;
        }
        Output p = placeholder(g, options.dtype, sample.shapes[i], "x" + std::to_string(i));
        inputs.push_back(p);
        xs.push_back(p);
        feeds.push_back(
            {p, draw_input(spec, options.dtype, fed_shape(sample, i), static_cast<int>(i), rng)});
      }
      NodeOptions node_options;
      node_options.name = "op";
      std::vector<Output> outputs = g.add_node(op_name, inputs, sample.attrs, node_options);
      // L = sum_o sum(w_o * y_o) with fixed random float64 weights fed in the outputs' run-time
      // shapes.
      Session session(g);
      std::vector<Output> float_outputs;
      for (const Output& o : outputs)
        if (is_floating(o.dtype())) float_outputs.push_back(o);
      if (float_outputs.empty()) {
        r.skipped = true;
        r.passed = true;
        r.message = "no float outputs";
        results.push_back(r);
        continue;
      }
      std::vector<Tensor> forward = session.run(float_outputs, feeds);
      std::vector<Output> terms;
      std::normal_distribution<double> normal;
      for (std::size_t o = 0; o < float_outputs.size(); ++o) {
        // The weighting and sum run in float64: rounding L to float32 alone would cost
        // finite differences about ulp(L) / (2 eps), more than the float32 tolerances allow.
        Output y = float_outputs[o];
        if (y.dtype() != DType::float64) y = cast(y, DType::float64);
        Output w = placeholder(g, DType::float64, y.shape(), "w" + std::to_string(o));
        Tensor wv(DType::float64, forward[o].shape());
        for (std::int64_t e = 0; e < wv.size(); ++e) set(wv, e, normal(rng));
        feeds.push_back({w, wv});
        terms.push_back(sum(mul(y, w)));
      }
      Output loss = terms.size() == 1 ? terms[0] : add_n(terms);
      GradCheckResult checked =
          check_graph_gradients(session, loss, xs, feeds, options, spec.rtol, spec.atol, spec.eps,
                                spec.zero_gradient_expected);
      r.max_abs_error = checked.max_abs_error;
      r.max_rel_error = checked.max_rel_error;
      r.passed = checked.passed;
      r.message = checked.message;
    } catch (const std::exception& e) {
      r.passed = false;
      r.message = e.what();
    }
    results.push_back(r);
  }
  return results;
}

std::string format_gradcheck_table(const std::vector<GradCheckResult>& results) {
  std::ostringstream os;
  char line[512];
  std::snprintf(line, sizeof line, "%-18s %-44s %12s %12s  %s\n", "op", "shapes", "max abs err",
                "max rel err", "verdict");
  os << line;
  for (const GradCheckResult& r : results) {
    std::string verdict = r.skipped ? "skip" : (r.passed ? "ok" : "FAIL");
    std::string shapes = r.shapes.size() > 44 ? r.shapes.substr(0, 41) + "..." : r.shapes;
    if (r.skipped)
      std::snprintf(line, sizeof line, "%-18s %-44s %12s %12s  %s", r.op.c_str(), shapes.c_str(),
                    "-", "-", verdict.c_str());
    else
      std::snprintf(line, sizeof line, "%-18s %-44s %12.3e %12.3e  %s", r.op.c_str(),
                    shapes.c_str(), r.max_abs_error, r.max_rel_error, verdict.c_str());
    os << line;
    if (!r.message.empty() && (!r.passed || r.skipped)) os << "  (" << r.message << ")";
    os << "\n";
  }
  return os.str();
}

}  // namespace dagrad
