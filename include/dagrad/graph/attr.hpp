// Typed op attributes: the static parameters of a node (alpha of leaky_relu, axes of sum, ...).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "dtype.hpp"
#include "shape.hpp"
#include "tensor.hpp"

namespace dagrad {

using AttrValue = std::variant<bool, std::int64_t, double, std::string, DType, Shape,
                               std::vector<std::int64_t>, Tensor>;

enum class AttrKind { Bool, Int, Float, String, DType, Shape, Ints, Tensor };
std::string_view attr_kind_name(AttrKind kind);
AttrKind attr_kind_of(const AttrValue& value);
// A short printable form ("0.2", "[0, 1]", "float32", "tensor float32 (3)").
std::string attr_to_string(const AttrValue& value);

// Equality and hash for hash-consing nodes on (op, attributes, inputs). Floats compare by bit
// pattern, so 0.0 and -0.0 differ and a NaN equals itself (the same bits); tensors compare by
// dtype, shape and bytes (undefined tensors are equal to each other); kinds never coerce
// (int 1 differs from float 1.0).
bool attr_equal(const AttrValue& a, const AttrValue& b);
std::size_t attr_hash(const AttrValue& value);
struct AttrValueEqual {
  bool operator()(const AttrValue& a, const AttrValue& b) const { return attr_equal(a, b); }
};
struct AttrValueHash {
  std::size_t operator()(const AttrValue& value) const { return attr_hash(value); }
};

// One entry of an op's attribute schema. An attribute without default is required.
struct AttrSpec {
  std::string name;
  AttrKind kind;
  std::optional<AttrValue> default_value;
};

// The attributes of one node, in schema order once the node is built.
class AttrMap {
 public:
  AttrMap() = default;
  AttrMap(std::initializer_list<std::pair<std::string, AttrValue>> items);

  bool has(std::string_view name) const { return find(name) != nullptr; }
  const AttrValue* find(std::string_view name) const;
  const AttrValue& at(std::string_view name) const;  // throws GraphError naming the attribute
  void set(std::string name, AttrValue value);
  // set for a name known to be absent (checked by the caller): constant time, for loaders.
  void append(std::string name, AttrValue value);

  // Typed access; throws GraphError naming the attribute, the wanted and the actual kind when
  // the kinds differ (and when the attribute is missing).
  bool get_bool(std::string_view name) const { return std::get<bool>(at(name, AttrKind::Bool)); }
  std::int64_t get_int(std::string_view name) const {
    return std::get<std::int64_t>(at(name, AttrKind::Int));
  }
  double get_float(std::string_view name) const {
    return std::get<double>(at(name, AttrKind::Float));
  }
  const std::string& get_string(std::string_view name) const {
    return std::get<std::string>(at(name, AttrKind::String));
  }
  DType get_dtype(std::string_view name) const {
    return std::get<DType>(at(name, AttrKind::DType));
  }
  const Shape& get_shape(std::string_view name) const {
    return std::get<Shape>(at(name, AttrKind::Shape));
  }
  const std::vector<std::int64_t>& get_ints(std::string_view name) const {
    return std::get<std::vector<std::int64_t>>(at(name, AttrKind::Ints));
  }
  const Tensor& get_tensor(std::string_view name) const {
    return std::get<Tensor>(at(name, AttrKind::Tensor));
  }

  const std::vector<std::pair<std::string, AttrValue>>& items() const { return items_; }

  // Same names, in the same order, with attr_equal values.
  bool operator==(const AttrMap& other) const;
  std::size_t hash() const;

 private:
  const AttrValue& at(std::string_view name, AttrKind kind) const;
  std::vector<std::pair<std::string, AttrValue>> items_;
};

}  // namespace dagrad
