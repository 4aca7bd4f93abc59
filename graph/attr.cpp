#include "dagrad/graph/attr.hpp"

#include <bit>
#include <cstring>
#include <functional>
#include <sstream>

#include "dagrad/graph/errors.hpp"

namespace dagrad {

std::string_view attr_kind_name(AttrKind kind) {
  switch (kind) {
    case AttrKind::Bool:
      return "bool";
    case AttrKind::Int:
      return "int";
    case AttrKind::Float:
      return "float";
    case AttrKind::String:
      return "string";
    case AttrKind::DType:
      return "dtype";
    case AttrKind::Shape:
      return "shape";
    case AttrKind::Ints:
      return "ints";
    case AttrKind::Tensor:
      return "tensor";
  }
  return "invalid";
}

AttrKind attr_kind_of(const AttrValue& value) {
  return static_cast<AttrKind>(value.index());
}

std::string attr_to_string(const AttrValue& value) {
  std::ostringstream os;
  switch (attr_kind_of(value)) {
    case AttrKind::Bool:
      os << (std::get<bool>(value) ? "true" : "false");
      break;
    case AttrKind::Int:
      os << std::get<std::int64_t>(value);
      break;
    case AttrKind::Float:
      os << std::get<double>(value);
      break;
    case AttrKind::String:
      os << '"' << std::get<std::string>(value) << '"';
      break;
    case AttrKind::DType:
      os << dtype_name(std::get<DType>(value));
      break;
    case AttrKind::Shape:
      os << std::get<Shape>(value).to_string();
      break;
    case AttrKind::Ints: {
      os << "[";
      const auto& v = std::get<std::vector<std::int64_t>>(value);
      for (std::size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
      os << "]";
      break;
    }
    case AttrKind::Tensor: {
      const auto& t = std::get<Tensor>(value);
      os << (t.size() <= 4
                 ? t.to_string()
                 : "tensor " + std::string(dtype_name(t.dtype())) + " " + t.shape().to_string());
      break;
    }
  }
  return os.str();
}

namespace {

std::size_t mix(std::size_t seed, std::size_t v) {
  return seed ^ (v + 0x9E3779B97F4A7C15ull + (seed << 6) + (seed >> 2));
}

std::size_t hash_bytes(const void* data, std::size_t n) {
  // FNV-1a: tensors are small attributes (constants), and this keeps the hash independent of
  // the standard library's string hash.
  std::uint64_t h = 0xcbf29ce484222325ull;
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return static_cast<std::size_t>(h);
}

bool tensor_equal(const Tensor& a, const Tensor& b) {
  if (a.defined() != b.defined()) return false;
  if (!a.defined()) return true;
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         (a.nbytes() == 0 || std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0);
}

std::size_t shape_hash(const Shape& s) {
  std::size_t h = s.dims().size();
  for (auto d : s.dims()) h = mix(h, std::hash<std::int64_t>{}(d));
  return h;
}

}  // namespace

bool attr_equal(const AttrValue& a, const AttrValue& b) {
  if (a.index() != b.index()) return false;
  switch (attr_kind_of(a)) {
    case AttrKind::Float:
      return std::bit_cast<std::uint64_t>(std::get<double>(a)) ==
             std::bit_cast<std::uint64_t>(std::get<double>(b));
    case AttrKind::Tensor:
      return tensor_equal(std::get<Tensor>(a), std::get<Tensor>(b));
    case AttrKind::Bool:
      return std::get<bool>(a) == std::get<bool>(b);
    case AttrKind::Int:
      return std::get<std::int64_t>(a) == std::get<std::int64_t>(b);
    case AttrKind::String:
      return std::get<std::string>(a) == std::get<std::string>(b);
    case AttrKind::DType:
      return std::get<DType>(a) == std::get<DType>(b);
    case AttrKind::Shape:
      return std::get<Shape>(a) == std::get<Shape>(b);
    case AttrKind::Ints:
      return std::get<std::vector<std::int64_t>>(a) == std::get<std::vector<std::int64_t>>(b);
  }
  return false;
}

std::size_t attr_hash(const AttrValue& value) {
  std::size_t h = value.index();
  switch (attr_kind_of(value)) {
    case AttrKind::Bool:
      return mix(h, std::get<bool>(value) ? 1 : 0);
    case AttrKind::Int:
      return mix(h, std::hash<std::int64_t>{}(std::get<std::int64_t>(value)));
    case AttrKind::Float:
      return mix(h,
                 std::hash<std::uint64_t>{}(std::bit_cast<std::uint64_t>(std::get<double>(value))));
    case AttrKind::String:
      return mix(h, std::hash<std::string>{}(std::get<std::string>(value)));
    case AttrKind::DType:
      return mix(h, static_cast<std::size_t>(std::get<DType>(value)));
    case AttrKind::Shape:
      return mix(h, shape_hash(std::get<Shape>(value)));
    case AttrKind::Ints: {
      for (auto v : std::get<std::vector<std::int64_t>>(value))
        h = mix(h, std::hash<std::int64_t>{}(v));
      return h;
    }
    case AttrKind::Tensor: {
      const Tensor& t = std::get<Tensor>(value);
      if (!t.defined()) return mix(h, 0x5bd1e995);
      h = mix(h, static_cast<std::size_t>(t.dtype()) + 1);
      h = mix(h, shape_hash(t.shape()));
      return mix(h, hash_bytes(t.raw(), t.nbytes()));
    }
  }
  return h;
}

bool AttrMap::operator==(const AttrMap& other) const {
  if (items_.size() != other.items_.size()) return false;
  for (std::size_t i = 0; i < items_.size(); ++i)
    if (items_[i].first != other.items_[i].first ||
        !attr_equal(items_[i].second, other.items_[i].second))
      return false;
  return true;
}

std::size_t AttrMap::hash() const {
  std::size_t h = items_.size();
  for (const auto& [k, v] : items_) h = mix(mix(h, std::hash<std::string>{}(k)), attr_hash(v));
  return h;
}

const AttrValue& AttrMap::at(std::string_view name, AttrKind kind) const {
  const AttrValue& v = at(name);
  if (attr_kind_of(v) != kind)
    throw GraphError("attribute '" + std::string(name) + "' is read as " +
                     std::string(attr_kind_name(kind)) + " but holds " +
                     std::string(attr_kind_name(attr_kind_of(v))) + " (" + attr_to_string(v) + ")");
  return v;
}

AttrMap::AttrMap(std::initializer_list<std::pair<std::string, AttrValue>> items) {
  for (const auto& [k, v] : items) set(k, v);
}

const AttrValue* AttrMap::find(std::string_view name) const {
  for (const auto& [k, v] : items_)
    if (k == name) return &v;
  return nullptr;
}

const AttrValue& AttrMap::at(std::string_view name) const {
  if (const AttrValue* v = find(name)) return *v;
  throw GraphError("missing attribute '" + std::string(name) + "'");
}

void AttrMap::set(std::string name, AttrValue value) {
  for (auto& [k, v] : items_)
    if (k == name) {
      v = std::move(value);
      return;
    }
  items_.emplace_back(std::move(name), std::move(value));
}

void AttrMap::append(std::string name, AttrValue value) {
  items_.emplace_back(std::move(name), std::move(value));
}

}  // namespace dagrad
