#include "dagrad/graph/attr.hpp"

#include <sstream>

#include "dagrad/graph/errors.hpp"

namespace dagrad {

std::string_view attr_kind_name(AttrKind kind) {
  switch (kind) {
    case AttrKind::Bool: return "bool";
    case AttrKind::Int: return "int";
    case AttrKind::Float: return "float";
    case AttrKind::String: return "string";
    case AttrKind::DType: return "dtype";
    case AttrKind::Shape: return "shape";
    case AttrKind::Ints: return "ints";
    case AttrKind::Tensor: return "tensor";
  }
  return "invalid";
}

AttrKind attr_kind_of(const AttrValue& value) { return static_cast<AttrKind>(value.index()); }

std::string attr_to_string(const AttrValue& value) {
  std::ostringstream os;
  switch (attr_kind_of(value)) {
    case AttrKind::Bool: os << (std::get<bool>(value) ? "true" : "false"); break;
    case AttrKind::Int: os << std::get<std::int64_t>(value); break;
    case AttrKind::Float: os << std::get<double>(value); break;
    case AttrKind::String: os << '"' << std::get<std::string>(value) << '"'; break;
    case AttrKind::DType: os << dtype_name(std::get<DType>(value)); break;
    case AttrKind::Shape: os << std::get<Shape>(value).to_string(); break;
    case AttrKind::Ints: {
      os << "[";
      const auto& v = std::get<std::vector<std::int64_t>>(value);
      for (std::size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
      os << "]";
      break;
    }
    case AttrKind::Tensor: {
      const auto& t = std::get<Tensor>(value);
      os << (t.size() <= 4 ? t.to_string() : "tensor " + std::string(dtype_name(t.dtype())) + " " +
                                                  t.shape().to_string());
      break;
    }
  }
  return os.str();
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

}  // namespace dagrad
