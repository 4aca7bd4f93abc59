// Internal: nested option records (initializers, regularizers) stored flat in a layer's AttrMap
// under a prefix ("kernel_initializer.kind"), since attribute values do not nest.
#pragma once

#include <string>

#include "dagrad/graph/attr.hpp"
#include "dagrad/nn/initializers.hpp"
#include "dagrad/nn/losses.hpp"

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

inline Regularizer regularizer_from(const AttrMap& c, const std::string& prefix) {
  Regularizer r;
  if (c.has(prefix + ".l1")) r.l1 = c.get_float(prefix + ".l1");
  if (c.has(prefix + ".l2")) r.l2 = c.get_float(prefix + ".l2");
  return r;
}

// Written also when inactive (zeros), so that every option a config may hold is in it: a model
// file's option the rebuilt layer's config lacks is then a mistake (load_model refuses it).
inline void put_regularizer(AttrMap& c, const std::string& prefix, const Regularizer& r) {
  c.set(prefix + ".l1", r.l1);
  c.set(prefix + ".l2", r.l2);
}

inline Initializer initializer_from(const AttrMap& c, const std::string& prefix,
                                    const char* fallback) {
  AttrMap sub = get_prefixed(c, prefix);
  return sub.items().empty() ? Initializer(fallback) : Initializer::from_config(sub);
}

}  // namespace dagrad::nn::detail
