// Slicing and checking input tensors for predict, fit and evaluate.
#include "nn/data_util.hpp"

#include <cstring>

#include "dagrad/nn/errors.hpp"

namespace dagrad::nn::detail {

Tensor rows(const Tensor& x, std::int64_t begin, std::int64_t end) {
  std::vector<std::int64_t> dims = x.shape().dims();
  dims[0] = end - begin;
  Tensor out(x.dtype(), Shape(dims));
  std::size_t row_bytes = x.shape()[0] == 0 ? 0 : x.nbytes() / static_cast<std::size_t>(x.shape()[0]);
  std::memcpy(out.raw(), static_cast<const std::byte*>(x.raw()) + row_bytes * static_cast<std::size_t>(begin),
              row_bytes * static_cast<std::size_t>(end - begin));
  return out;
}

void gather_rows(const Tensor& x, const std::vector<std::int64_t>& order, std::int64_t begin,
                 std::int64_t end, Tensor& out) {
  std::vector<std::int64_t> dims = x.shape().dims();
  dims[0] = end - begin;
  if (!out.defined() || out.dtype() != x.dtype() || out.shape() != Shape(dims)) out = Tensor(x.dtype(), Shape(dims));
  std::size_t row_bytes = x.shape()[0] == 0 ? 0 : x.nbytes() / static_cast<std::size_t>(x.shape()[0]);
  auto* dst = static_cast<std::byte*>(out.raw());
  const auto* src = static_cast<const std::byte*>(x.raw());
  for (std::int64_t i = begin; i < end; ++i)
    std::memcpy(dst + row_bytes * static_cast<std::size_t>(i - begin),
                src + row_bytes * static_cast<std::size_t>(order[static_cast<std::size_t>(i)]), row_bytes);
}

std::string keras_shape(const Shape& shape) {
  std::string s = "(";
  for (int i = 0; i < shape.rank(); ++i) {
    if (i) s += ", ";
    s += shape[i] == Shape::kUnknown ? "None" : std::to_string(shape[i]);
  }
  if (shape.rank() == 1) s += ",";
  return s + ")";
}

void check_model_input(const std::string& model, const Shape& expected, const Tensor& x) {
  if (!x.defined()) throw ModelError("model '" + model + "' was given an undefined input tensor");
  if (x.dtype() != DType::float32)
    throw ModelError("model '" + model + "' takes float32 inputs, given " + std::string(dtype_name(x.dtype())) +
                     " " + x.shape().to_string() + " (convert the data to float32 first)");
  bool fits = x.shape().rank() == expected.rank() && x.shape().rank() >= 1;
  for (int i = 1; fits && i < expected.rank(); ++i) fits = expected[i] == Shape::kUnknown || expected[i] == x.shape()[i];
  if (!fits)
    throw ModelError("model '" + model + "' takes inputs of shape " + keras_shape(expected) + ", given " +
                     x.shape().to_string());
}

}  // namespace dagrad::nn::detail
