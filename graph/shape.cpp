#include "dagrad/graph/shape.hpp"

#include <ostream>
#include <stdexcept>

#include "dagrad/graph/checked_int.hpp"
#include "dagrad/graph/errors.hpp"

namespace dagrad {

static void check_dims(const std::vector<std::int64_t>& dims) {
  for (auto d : dims)
    if (d < Shape::kUnknown)
      throw ShapeError("Shape: dimension " + std::to_string(d) +
                       " is negative (use -1 for unknown)");
}

Shape::Shape(std::initializer_list<std::int64_t> dims) : dims_(dims) {
  check_dims(dims_);
}
Shape::Shape(std::vector<std::int64_t> dims) : dims_(std::move(dims)) {
  check_dims(dims_);
}

bool Shape::is_fully_defined() const {
  for (auto d : dims_)
    if (d == kUnknown) return false;
  return true;
}

std::int64_t Shape::num_elements() const {
  if (!is_fully_defined())
    throw std::invalid_argument("Shape::num_elements of partially known shape " + to_string());
  return known_elements();
}

std::int64_t Shape::known_elements() const {
  std::int64_t n = 1;
  for (auto d : dims_) {
    if (d == kUnknown) continue;
    auto product = checked_mul(n, d);
    if (!product)
      throw ShapeError("shape " + to_string() + " has more elements than an int64 can count");
    n = *product;
  }
  return n;
}

bool Shape::compatible_with(const Shape& other) const {
  if (rank() != other.rank()) return false;
  for (int i = 0; i < rank(); ++i)
    if ((*this)[i] != kUnknown && other[i] != kUnknown && (*this)[i] != other[i]) return false;
  return true;
}

std::string Shape::to_string() const {
  std::string s = "(";
  for (std::size_t i = 0; i < dims_.size(); ++i) {
    if (i) s += ", ";
    s += dims_[i] == kUnknown ? std::string("?") : std::to_string(dims_[i]);
  }
  if (dims_.size() == 1) s += ",";
  return s + ")";
}

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  int rank = std::max(a.rank(), b.rank());
  std::vector<std::int64_t> out(static_cast<std::size_t>(rank));
  for (int i = 0; i < rank; ++i) {
    int ia = a.rank() - rank + i, ib = b.rank() - rank + i;
    std::int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    std::int64_t d;
    if (da == 1)
      d = db;
    else if (db == 1)
      d = da;
    else if (da == Shape::kUnknown)
      d = db;  // db is ? or a known size > 1 that da must match
    else if (db == Shape::kUnknown)
      d = da;
    else if (da == db)
      d = da;
    else
      throw std::invalid_argument("shapes " + a.to_string() + " and " + b.to_string() +
                                  " cannot be broadcast (dimension " + std::to_string(i) + ": " +
                                  std::to_string(da) + " vs " + std::to_string(db) + ")");
    out[static_cast<std::size_t>(i)] = d;
  }
  return Shape(std::move(out));
}

std::ostream& operator<<(std::ostream& os, const Shape& shape) {
  return os << shape.to_string();
}

}  // namespace dagrad
