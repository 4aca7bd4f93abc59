// Flag: the type of every yes/no parameter of the public API (matmul's transpose flags,
// keepdims, name_scope's reuse).
#pragma once

namespace dagrad {

// A yes/no argument that only a bool initializes. A plain bool parameter accepts a string
// literal, a number or a pointer and reads it as true, so `matmul(a, b, "mm")` would silently
// compute a^T b; with Flag such a call does not compile, and the name goes after the flags:
// `matmul(a, b, false, false, "mm")`, `sum(x, {1}, false, "total")`.
struct Flag {
  bool value;
  constexpr Flag(bool v) : value(v) {}
  // Anything but a bool ("mm", 1, nullptr, a std::string) picks this deleted constructor.
  template <class T>
  Flag(T) = delete;
  constexpr operator bool() const { return value; }
};

}  // namespace dagrad
