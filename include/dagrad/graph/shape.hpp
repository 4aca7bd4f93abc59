// Shapes whose dimensions may be unknown (-1), such as the batch dimension of a placeholder.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <string>
#include <vector>

namespace dagrad {

class Shape {
 public:
  static constexpr std::int64_t kUnknown = -1;

  Shape() = default;  // a scalar: rank 0
  // Throw ShapeError for a dimension below -1.
  Shape(std::initializer_list<std::int64_t> dims);
  explicit Shape(std::vector<std::int64_t> dims);

  int rank() const { return static_cast<int>(dims_.size()); }
  std::int64_t operator[](int axis) const { return dims_[static_cast<std::size_t>(axis)]; }
  std::int64_t& operator[](int axis) { return dims_[static_cast<std::size_t>(axis)]; }
  const std::vector<std::int64_t>& dims() const { return dims_; }

  bool is_fully_defined() const;
  // Product of the dimensions; requires is_fully_defined() (else std::invalid_argument). Throws
  // ShapeError when the product overflows an int64.
  std::int64_t num_elements() const;
  // Product of the known dimensions (unknown ones count as 1); ShapeError when it overflows.
  std::int64_t known_elements() const;
  // True when every pair of dimensions is equal or at least one of them is unknown.
  bool compatible_with(const Shape& other) const;
  // "(?, 784)"; a scalar prints as "()".
  std::string to_string() const;

  bool operator==(const Shape& other) const = default;

 private:
  std::vector<std::int64_t> dims_;
};

// NumPy broadcasting of two shapes with unknown dimensions; throws std::invalid_argument when a
// pair of known dimensions differs and neither is 1.
Shape broadcast_shapes(const Shape& a, const Shape& b);

std::ostream& operator<<(std::ostream& os, const Shape& shape);

}  // namespace dagrad
