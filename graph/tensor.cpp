#include "dagrad/graph/tensor.hpp"

#include <cstring>
#include <new>
#include <sstream>

#include "dagrad/graph/checked_int.hpp"
#include "dagrad/graph/errors.hpp"

namespace dagrad {

std::int64_t checked_nbytes(DType dtype, const Shape& shape) {
  std::int64_t n = shape.known_elements();
  auto bytes = checked_mul(n, static_cast<std::int64_t>(dtype_size(dtype)));
  if (!bytes || *bytes > kMaxTensorBytes)
    throw ShapeError(std::string(dtype_name(dtype)) + " " + shape.to_string() + " holds " +
                     std::to_string(n) + " elements of " + std::to_string(dtype_size(dtype)) +
                     " bytes: more bytes than an int64 can count");
  return *bytes;
}

Tensor::Tensor(DType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) {
  if (!shape_.is_fully_defined())
    throw std::invalid_argument("Tensor: shape " + shape_.to_string() + " is not fully defined");
  size_ = shape_.num_elements();
  capacity_ = static_cast<std::size_t>(checked_nbytes(dtype_, shape_));
  // Round up so that even empty tensors own a buffer (defined() stays true) and SIMD loads of
  // the last partial vector stay inside it.
  std::size_t bytes = capacity_ + 64;
  // nothrow: a failed allocation becomes an error naming the tensor. (Under AddressSanitizer,
  // set allocator_may_return_null=1, else ASan aborts on an allocation it cannot serve.)
  void* memory = ::operator new[](bytes, std::align_val_t{64}, std::nothrow);
  if (!memory)
    throw AllocationError("cannot allocate " + std::to_string(capacity_) + " bytes for a " +
                          std::string(dtype_name(dtype_)) + " tensor of shape " +
                          shape_.to_string() + ": out of memory");
  std::memset(memory, 0, bytes);
  buffer_ = std::shared_ptr<std::byte[]>(static_cast<std::byte*>(memory), [](std::byte* p) {
    ::operator delete[](p, std::align_val_t{64});
  });
}

Tensor Tensor::view(DType dtype, Shape shape) const {
  if (!defined()) throw std::invalid_argument("Tensor::view of an undefined tensor");
  if (!shape.is_fully_defined())
    throw std::invalid_argument("Tensor::view: shape " + shape.to_string() +
                                " is not fully defined");
  std::int64_t n = shape.num_elements();
  auto need = static_cast<std::size_t>(checked_nbytes(dtype, shape));
  if (need > capacity_)
    throw std::invalid_argument("Tensor::view: " + std::string(dtype_name(dtype)) + " " +
                                shape.to_string() + " needs " + std::to_string(need) +
                                " bytes, the buffer holds " + std::to_string(capacity_));
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.size_ = n;
  t.capacity_ = capacity_;
  t.buffer_ = buffer_;
  return t;
}

double Tensor::value_as_double(std::int64_t i) const {
  switch (dtype_) {
    case DType::float32:
      return static_cast<const float*>(raw())[i];
    case DType::float64:
      return static_cast<const double*>(raw())[i];
    case DType::int32:
      return static_cast<const std::int32_t*>(raw())[i];
    case DType::int64:
      return static_cast<double>(static_cast<const std::int64_t*>(raw())[i]);
    case DType::boolean:
      return static_cast<const bool*>(raw())[i] ? 1.0 : 0.0;
  }
  return 0.0;
}

Tensor Tensor::clone() const {
  if (!defined()) return Tensor();
  Tensor t(dtype_, shape_);
  std::memcpy(t.raw(), raw(), nbytes());
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  if (src.dtype_ != dtype_ || src.shape_ != shape_)
    throw std::invalid_argument("Tensor::copy_from: source is " +
                                std::string(dtype_name(src.dtype_)) + " " + src.shape_.to_string() +
                                ", destination is " + std::string(dtype_name(dtype_)) + " " +
                                shape_.to_string());
  if (raw() != src.raw()) std::memcpy(raw(), src.raw(), nbytes());
}

void Tensor::throw_dtype_mismatch(DType requested) const {
  throw std::invalid_argument("Tensor holds " + std::string(dtype_name(dtype_)) + ", accessed as " +
                              std::string(dtype_name(requested)));
}

std::string Tensor::to_string(std::int64_t max_elements) const {
  if (!defined()) return "<undefined tensor>";
  std::ostringstream os;
  os << dtype_name(dtype_) << " " << shape_.to_string() << " ";
  // Nested brackets, row-major.
  const auto& dims = shape_.dims();
  std::int64_t shown = std::min(size_, max_elements);
  if (dims.empty()) {
    os << value_as_double(0);
    return os.str();
  }
  std::vector<std::int64_t> strides(dims.size(), 1);
  for (int i = static_cast<int>(dims.size()) - 2; i >= 0; --i)
    strides[static_cast<std::size_t>(i)] =
        strides[static_cast<std::size_t>(i) + 1] * dims[static_cast<std::size_t>(i) + 1];
  for (std::int64_t i = 0; i < shown; ++i) {
    for (std::size_t a = 0; a < dims.size(); ++a)
      if (i % (strides[a] * dims[a]) == 0) os << "[";
    os << value_as_double(i);
    int closes = 0;
    for (std::size_t a = 0; a < dims.size(); ++a)
      if ((i + 1) % (strides[a] * dims[a]) == 0) ++closes;
    for (int c = 0; c < closes; ++c) os << "]";
    if (i + 1 < shown) os << ", ";
  }
  if (shown < size_) os << "...";
  return os.str();
}

}  // namespace dagrad
