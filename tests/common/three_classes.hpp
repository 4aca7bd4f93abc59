// A small learnable data set the training tests share: three classes by the value of a linear
// function of four standard normal features (tests/nn/test_training.cpp, tests/distributed).
#pragma once

#include <cstdint>
#include <random>

#include "dagrad/graph/tensor.hpp"

namespace dagrad::testing {

struct Data {
  Tensor x, y;  // x float32 (n, 4), y int32 (n,)
};

inline Data three_classes(int n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  Data d{Tensor(DType::float32, Shape{n, 4}), Tensor(DType::int32, Shape{n})};
  for (int i = 0; i < n; ++i) {
    float s = 0;
    for (int j = 0; j < 4; ++j) {
      float v = normal(rng);
      d.x.data<float>()[i * 4 + j] = v;
      s += v * static_cast<float>(j + 1);
    }
    d.y.data<std::int32_t>()[i] = s > 1.5f ? 2 : (s > -1.5f ? 1 : 0);
  }
  return d;
}

}  // namespace dagrad::testing
