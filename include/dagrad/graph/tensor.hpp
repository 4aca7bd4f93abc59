// A dense, contiguous, row-major n-dimensional array. Copies share the buffer (like a
// shared_ptr); clone() makes a deep copy. Constness is shallow: data() on a const Tensor
// still gives a writable pointer, because kernels write variables in place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "dtype.hpp"
#include "shape.hpp"

namespace dagrad {

// The most bytes a tensor's elements may take: an int64 count, less the 64 bytes of padding
// every buffer gets.
inline constexpr std::int64_t kMaxTensorBytes = INT64_MAX - 64;
// Bytes of the elements of a `dtype` tensor of `shape`, unknown dimensions counted as 1. Throws
// ShapeError naming dtype and shape when the element count or the byte size exceeds int64
// (kMaxTensorBytes): shape functions and Tensor both check with it, so no size ever wraps.
std::int64_t checked_nbytes(DType dtype, const Shape& shape);

class Tensor {
 public:
  Tensor() = default;  // undefined: no dtype, no buffer
  // Allocates a zero-filled tensor; shape must be fully defined (else std::invalid_argument).
  // Throws ShapeError when its size overflows (checked_nbytes), AllocationError naming bytes,
  // dtype and shape when the memory cannot be had.
  Tensor(DType dtype, Shape shape);

  template <class T>
  static Tensor from_vector(Shape shape, const std::vector<T>& values) {
    Tensor t(dtype_of_v<T>, std::move(shape));
    if (static_cast<std::int64_t>(values.size()) != t.size())
      throw std::invalid_argument("Tensor::from_vector: " + std::to_string(values.size()) +
                                  " values for shape " + t.shape().to_string());
    T* out = t.data<T>();
    for (std::size_t i = 0; i < values.size(); ++i) out[i] = values[i];
    return t;
  }
  template <class T>
  static Tensor scalar(T value) {
    return from_vector<T>(Shape{}, std::vector<T>{value});
  }

  bool defined() const { return static_cast<bool>(buffer_); }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  std::int64_t size() const { return size_; }
  std::size_t nbytes() const { return static_cast<std::size_t>(size_) * dtype_size(dtype_); }
  // Bytes of element storage in the buffer: nbytes() for an allocated tensor, the viewed
  // buffer's for a view (at least nbytes()).
  std::size_t capacity() const { return capacity_; }
  // A tensor of `dtype` and `shape` over this tensor's buffer (shared, not copied: writes through
  // either show in both), its elements the buffer's first bytes reinterpreted. For executors
  // that reuse one buffer for values of different shapes. Throws std::invalid_argument when this
  // tensor is undefined, the shape is not fully defined, or it needs more than capacity() bytes.
  Tensor view(DType dtype, Shape shape) const;

  void* raw() const { return buffer_.get(); }
  template <class T>
  T* data() const {
    if (dtype_ != dtype_of_v<T>) throw_dtype_mismatch(dtype_of_v<T>);
    return static_cast<T*>(raw());
  }
  template <class T>
  std::vector<T> to_vector() const {
    const T* p = data<T>();
    return std::vector<T>(p, p + size_);
  }
  // The single element of a tensor with one element.
  template <class T>
  T item() const {
    if (size_ != 1)
      throw std::invalid_argument("Tensor::item: tensor of shape " + shape_.to_string());
    return *data<T>();
  }
  // Element i (row-major) converted to double; for printing and tests.
  double value_as_double(std::int64_t i) const;

  Tensor clone() const;
  // Copies the elements of src, which must have the same dtype and shape.
  void copy_from(const Tensor& src);
  bool shares_buffer_with(const Tensor& other) const { return buffer_ == other.buffer_; }
  // "float32 (2, 3) [[1, 2, 3], [4, 5, 6]]", eliding long tensors.
  std::string to_string(std::int64_t max_elements = 64) const;

 private:
  [[noreturn]] void throw_dtype_mismatch(DType requested) const;
  DType dtype_ = DType::float32;
  Shape shape_;
  std::int64_t size_ = 0;
  std::size_t capacity_ = 0;
  std::shared_ptr<std::byte[]> buffer_;
};

}  // namespace dagrad
