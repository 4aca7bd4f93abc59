// Internal: slicing and checking the tensors that predict, fit and evaluate take.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dagrad/graph/tensor.hpp"

namespace dagrad::nn::detail {

// Rows [begin, end) of a tensor with a leading batch axis, copied.
Tensor rows(const Tensor& x, std::int64_t begin, std::int64_t end);
// The rows order[begin..end) of x, gathered into `out` (allocated when its shape differs).
void gather_rows(const Tensor& x, const std::vector<std::int64_t>& order, std::int64_t begin,
                 std::int64_t end, Tensor& out);
// "(None, 28, 28)": Keras's text of a shape whose first dimension is the batch.
std::string keras_shape(const Shape& shape);
// Throws ModelError unless x is a defined float32 tensor of the model input's shape (with batch).
void check_model_input(const std::string& model, const Shape& expected, const Tensor& x);

}  // namespace dagrad::nn::detail
