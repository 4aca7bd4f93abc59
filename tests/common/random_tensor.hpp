// Random test tensors shared by the test modules (included as "common/random_tensor.hpp").
#pragma once

#include <cstdint>
#include <random>

#include "dagrad/dagrad.hpp"

namespace dagrad::testing {

// A float32 or float64 tensor of values drawn from U[lo, hi).
inline Tensor random_tensor(DType dtype, const Shape& shape, std::mt19937_64& rng, double lo = -2,
                            double hi = 2) {
  std::uniform_real_distribution<double> u(lo, hi);
  Tensor t(dtype, shape);
  for (std::int64_t i = 0; i < t.size(); ++i) {
    if (dtype == DType::float32)
      t.data<float>()[i] = static_cast<float>(u(rng));
    else
      t.data<double>()[i] = u(rng);
  }
  return t;
}

}  // namespace dagrad::testing
