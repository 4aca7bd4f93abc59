// Helpers shared by the ops tests (tests/ops/test_*.cpp): building and reading tensors, the
// per-dtype rounding and tolerances of the forward checks, and the checks of error messages.
#pragma once

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <iomanip>
#include <string>
#include <utility>
#include <vector>

#include "dagrad/graph/dtype.hpp"
#include "dagrad/graph/errors.hpp"
#include "dagrad/graph/graph.hpp"
#include "dagrad/graph/shape.hpp"
#include "dagrad/graph/tensor.hpp"

namespace dagrad::testing {

// A list of axes, sizes or indices.
using Ints = std::vector<std::int64_t>;

// A `dtype` tensor of `shape` holding `data` converted to the dtype (bool: x != 0).
inline Tensor make_tensor(DType dtype, Shape shape, const std::vector<double>& data) {
  auto convert = [&]<class T>() {
    std::vector<T> v;
    for (double x : data) v.push_back(static_cast<T>(x));
    return Tensor::from_vector<T>(shape, v);
  };
  switch (dtype) {
    case DType::float32:
      return convert.template operator()<float>();
    case DType::float64:
      return convert.template operator()<double>();
    case DType::int32:
      return convert.template operator()<std::int32_t>();
    case DType::int64:
      return convert.template operator()<std::int64_t>();
    case DType::boolean: {
      std::vector<bool> v;
      for (double x : data) v.push_back(x != 0.0);
      return Tensor::from_vector<bool>(shape, v);
    }
  }
  return Tensor();
}

// The elements of t as T (t must hold T).
template <class T>
std::vector<T> values(const Tensor& t) {
  return t.to_vector<T>();
}

// The elements of t, of any dtype, as doubles.
inline std::vector<double> values(const Tensor& t) {
  std::vector<double> v(static_cast<std::size_t>(t.size()));
  for (std::int64_t i = 0; i < t.size(); ++i) v[static_cast<std::size_t>(i)] = t.value_as_double(i);
  return v;
}

// 0, 1, ..., n - 1 as floats.
inline std::vector<float> iota_f(int n) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = static_cast<float>(i);
  return v;
}

// The value x has once stored in `dtype` (what the op really sees).
inline double rounded_to(DType dtype, double x) {
  switch (dtype) {
    case DType::float32:
      return static_cast<double>(static_cast<float>(x));
    case DType::int32:
      return static_cast<double>(static_cast<std::int32_t>(x));
    case DType::int64:
      return static_cast<double>(static_cast<std::int64_t>(x));
    default:
      return x;
  }
}

// Relative tolerance of a `dtype` result against an exact double (a few ulps; ints exact).
inline double rel_tolerance(DType dtype) {
  switch (dtype) {
    case DType::float32:
      return 1e-6;
    case DType::float64:
      return 1e-13;
    default:
      return 0.0;
  }
}

// `values` cycled to >= 48, >= 3 copies, length 15 mod 16: each value hits SIMD and scalar tail.
inline std::vector<double> tiled(const std::vector<double>& values) {
  std::vector<double> out;
  while (out.size() < 48 || out.size() < 3 * values.size() || out.size() % 16 != 15)
    out.push_back(values[out.size() % values.size()]);
  return out;
}

// got (maybe tiled) element i vs expected[i % n]: NaN/inf alike, else |g - e| <= rel*|e| + abs_tol.
inline void check_values(const Tensor& got, const std::vector<double>& expected, double rel,
                         double abs_tol, const std::string& context) {
  auto n = static_cast<std::int64_t>(expected.size());
  if (n == 0) {
    BOOST_TEST(got.size() == 0, context << ": size");
    return;
  }
  BOOST_TEST_REQUIRE(got.size() >= n, context << ": size " << got.size());
  for (std::int64_t i = 0; i < got.size(); ++i) {
    double g = got.value_as_double(i);
    double e = expected[static_cast<std::size_t>(i % n)];
    bool ok;
    if (std::isnan(e))
      ok = std::isnan(g);
    else if (std::isinf(e))
      ok = g == e;
    else
      ok = std::isfinite(g) && std::abs(g - e) <= rel * std::abs(e) + abs_tol;
    BOOST_TEST(ok, std::setprecision(17) << context << " element " << i << " (input " << i % n
                                         << "): got " << g << ", expected " << e);
  }
}

// check_values with a purely relative tolerance (abs_tol = 0).
inline void check_values(const Tensor& got, const std::vector<double>& expected, double rel,
                         const std::string& context) {
  check_values(got, expected, rel, 0.0, context);
}

// BOOST_CHECK_EXCEPTION predicate: the E's what() holds every one of `fragments`.
template <class E = std::exception>
auto mentions_all(std::vector<std::string> fragments) {
  return [fragments = std::move(fragments)](const E& e) {
    std::string what = e.what();
    bool ok = true;
    for (const std::string& f : fragments)
      if (what.find(f) == std::string::npos) {
        BOOST_TEST_MESSAGE("message lacks '" << f << "': " << what);
        ok = false;
      }
    return ok;
  };
}

// Expects build() to throw a ShapeError naming all `parts`, leaving g's node count unchanged.
template <class F>
void check_build_error(Graph& g, F&& build, const std::vector<std::string>& parts) {
  int before = g.num_nodes();
  BOOST_CHECK_EXCEPTION(build(), ShapeError, mentions_all<ShapeError>(parts));
  BOOST_TEST(g.num_nodes() == before);
}

}  // namespace dagrad::testing
