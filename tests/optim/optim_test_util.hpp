// The small problem the optim tests minimize, and helpers to run steps and compare trajectories.
// loss(w) = sum(a w^2 + b w^4 / 4 + c w) over a 4-element vector: bounded below, not quadratic,
// its gradient 2 a w + b w^3 + c differs per element and changes with the weights, so per-element
// scalings (Adagrad, RMSprop, Adam) and amsgrad's running maximum matter.
#pragma once

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "dagrad/dagrad.hpp"

namespace dagrad::optim_testing {

using Vec = std::vector<double>;

inline const Vec kA = {0.5, 1.0, 0.25, 0.1};
inline const Vec kB = {0.2, 0.05, 0.5, 1.0};
inline const Vec kC = {0.3, -0.4, 0.1, -0.2};
inline const Vec kW0 = {1.0, -0.5, 2.0, -1.5};

// The gradient and the loss, in double, from the formula (not from the graph).
inline Vec grad_of(const Vec& w) {
  Vec g(w.size());
  for (std::size_t i = 0; i < w.size(); ++i)
    g[i] = 2 * kA[i] * w[i] + kB[i] * w[i] * w[i] * w[i] + kC[i];
  return g;
}
inline double loss_of(const Vec& w) {
  double s = 0;
  for (std::size_t i = 0; i < w.size(); ++i)
    s += kA[i] * w[i] * w[i] + kB[i] * std::pow(w[i], 4) / 4 + kC[i] * w[i];
  return s;
}

inline Tensor tensor_of(DType dtype, const Vec& v) {
  Shape shape{static_cast<std::int64_t>(v.size())};
  if (dtype == DType::float32)
    return Tensor::from_vector<float>(shape, std::vector<float>(v.begin(), v.end()));
  return Tensor::from_vector<double>(shape, v);
}
inline Vec values(const Tensor& t) {
  Vec out(static_cast<std::size_t>(t.size()));
  for (std::int64_t i = 0; i < t.size(); ++i)
    out[static_cast<std::size_t>(i)] = t.value_as_double(i);
  return out;
}

// The problem's graph: variable w and the scalar loss.
struct Problem {
  Graph g;
  Output w, loss;
  explicit Problem(DType dtype = DType::float64, const Vec& w0 = kW0) {
    w = variable(g, tensor_of(dtype, w0), "w");
    Output a = constant(g, tensor_of(dtype, kA), "a");
    Output b = constant(g, tensor_of(dtype, kB), "b");
    Output c = constant(g, tensor_of(dtype, kC), "c");
    loss = sum(a * square(w) + b * square(square(w)) / 4.0 + c * w, {}, false, "loss");
  }
};

// The weights after each step and the loss each step reported.
struct Trajectory {
  std::vector<Vec> w;
  Vec loss;
};

// Runs `steps` training steps (fetching the step's loss with the train op, as a training loop
// does) and records the weights after each.
inline Trajectory run_steps(optim::Optimizer& opt, int steps, DType dtype = DType::float64) {
  Problem p(dtype);
  optim::TrainStep step = opt.minimize(p.loss);
  Session s(p.g);
  s.initialize_variables();
  Trajectory out;
  for (int i = 0; i < steps; ++i) {
    std::vector<Tensor> r = s.run({step.loss}, {}, {step.train_op});
    out.loss.push_back(r.at(0).value_as_double(0));
    out.w.push_back(values(s.variable_value(p.w)));
  }
  return out;
}

// A reference run in double: `update(t, w, g)` applies step t (1-based) with gradient g at w.
template <class Update>
std::vector<Vec> reference(int steps, Update update, Vec w = kW0) {
  std::vector<Vec> out;
  for (int t = 1; t <= steps; ++t) {
    Vec g = grad_of(w);
    update(t, w, g);
    out.push_back(w);
  }
  return out;
}

// |got - want| <= tol * max(1, |want|) elementwise: relative for the O(1) values the problem has.
inline void check_close(const std::vector<Vec>& got, const std::vector<Vec>& want, double tol) {
  BOOST_REQUIRE_EQUAL(got.size(), want.size());
  for (std::size_t s = 0; s < got.size(); ++s) {
    BOOST_REQUIRE_EQUAL(got[s].size(), want[s].size());
    for (std::size_t i = 0; i < got[s].size(); ++i)
      BOOST_TEST_CONTEXT("step " << s + 1 << ", element " << i << ": got " << got[s][i] << ", want "
                                 << want[s][i]) {
        BOOST_TEST(std::abs(got[s][i] - want[s][i]) <= tol * std::max(1.0, std::abs(want[s][i])));
      }
  }
}

// The largest elementwise difference between two trajectories (to show a variant matters).
inline double max_difference(const std::vector<Vec>& x, const std::vector<Vec>& y) {
  double d = 0;
  for (std::size_t s = 0; s < x.size() && s < y.size(); ++s)
    for (std::size_t i = 0; i < x[s].size(); ++i) d = std::max(d, std::abs(x[s][i] - y[s][i]));
  return d;
}

inline bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace dagrad::optim_testing
