// Internal: nested option records (initializers, regularizers) stored flat in a layer's AttrMap
// under a prefix ("kernel_initializer.kind"), since attribute values do not nest.
#pragma once

#include <string>

#include "dagrad/graph/attr.hpp"

namespace dagrad::nn::detail {

inline void put_prefixed(AttrMap& into, const std::string& prefix, const AttrMap& values) {
  for (const auto& [name, value] : values.items()) into.set(prefix + "." + name, value);
}

inline AttrMap get_prefixed(const AttrMap& from, const std::string& prefix) {
  AttrMap out;
  std::string p = prefix + ".";
  for (const auto& [name, value] : from.items())
    if (name.compare(0, p.size(), p) == 0) out.set(name.substr(p.size()), value);
  return out;
}

}  // namespace dagrad::nn::detail
