#include "dagrad/graph/op_registry.hpp"

#include <cctype>

#include "dagrad/graph/errors.hpp"
#include "dagrad/graph/graph.hpp"

namespace dagrad {

ShapeContext::ShapeContext(std::span<const InputInfo> inputs, const AttrMap& attrs, int num_outputs)
    : inputs_(inputs), attrs_(attrs), outputs_(static_cast<std::size_t>(num_outputs)) {}

const ShapeContext::InputInfo& ShapeContext::input(int i) const {
  if (i < 0 || i >= num_inputs())
    throw GraphError("shape function read input " + std::to_string(i) + " of a node with " +
                     std::to_string(num_inputs()) + " inputs");
  return inputs_[static_cast<std::size_t>(i)];
}

void ShapeContext::set_output(int i, DType dtype, Shape shape) {
  if (i < 0 || i >= static_cast<int>(outputs_.size()))
    throw GraphError("shape function set output " + std::to_string(i) + " of an op with " +
                     std::to_string(outputs_.size()) + " outputs");
  // Every op's output passes here: a size that overflows is refused before any kernel sees it.
  try {
    checked_nbytes(dtype, shape);
  } catch (const ShapeError& e) {
    throw ShapeError("output " + std::to_string(i) + ": " + e.what());
  }
  outputs_[static_cast<std::size_t>(i)] = OutputInfo{dtype, std::move(shape), true};
}

void ShapeContext::expect_dtype(int i, DType dtype) const {
  if (input_dtype(i) != dtype)
    throw ShapeError("input " + std::to_string(i) + " must be " + std::string(dtype_name(dtype)) +
                     ", got " + std::string(dtype_name(input_dtype(i))));
}

void ShapeContext::expect_floating(int i) const {
  if (!is_floating(input_dtype(i)))
    throw ShapeError("input " + std::to_string(i) + " must be float32 or float64, got " +
                     std::string(dtype_name(input_dtype(i))));
}

void ShapeContext::expect_same_dtype(int i, int j) const {
  if (input_dtype(i) != input_dtype(j))
    throw ShapeError("inputs " + std::to_string(i) + " and " + std::to_string(j) +
                     " must have the same dtype, got " + std::string(dtype_name(input_dtype(i))) +
                     " and " + std::string(dtype_name(input_dtype(j))));
}

void ShapeContext::expect_rank(int i, int rank) const {
  if (input_shape(i).rank() != rank)
    throw ShapeError("input " + std::to_string(i) + " must have rank " + std::to_string(rank) +
                     ", got shape " + input_shape(i).to_string());
}

const AttrMap& KernelContext::attrs() const {
  return node.attrs;
}

void OpRegistry::add(OpRecord r) {
  auto fail = [&](const std::string& why) {
    throw GraphError("cannot register op '" + r.name + "': " + why);
  };
  if (r.name.empty()) fail("empty name");
  for (char c : r.name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.'))
      fail("name may hold only letters, digits, '_' and '.'");
  if (records_.count(r.name)) fail("an op with this name is already registered");
  if (!r.shape_fn) fail("no shape function");
  if (r.variadic_inputs && r.input_names.size() != 1)
    fail("a variadic op names exactly one (repeated) input");
  if (r.dispatch_input >= 0 && !r.variadic_inputs &&
      r.dispatch_input >= static_cast<int>(r.input_names.size()))
    fail("dispatch_input " + std::to_string(r.dispatch_input) + " is not an input");
  if (r.output_count && r.output_names.size() != 1)
    fail("an op with a variable output count names exactly one (repeated) output");
  if (r.output_count && r.dispatch_input < 0 && r.role == OpRole::Compute)
    fail("an op with a variable output count (possibly 0) must dispatch its kernels on an input");
  if (r.dispatch_input < 0 && r.output_names.empty() && r.role == OpRole::Compute && r.has_kernel())
    fail("kernels dispatch on output 0 but the op has no outputs");
  if (r.role == OpRole::Compute && !r.output_names.empty() && !r.has_kernel())
    fail("a compute op needs at least one kernel");
  if ((r.writes_input0 || r.output_aliases_input0 || r.overwrites_input0) && r.input_names.empty())
    fail("writes or aliases input 0 but has no inputs");
  for (std::size_t i = 0; i < r.attrs.size(); ++i) {
    const auto& a = r.attrs[i];
    if (a.default_value && attr_kind_of(*a.default_value) != a.kind)
      fail("default of attribute '" + a.name + "' is " +
           std::string(attr_kind_name(attr_kind_of(*a.default_value))) + ", schema says " +
           std::string(attr_kind_name(a.kind)));
    for (std::size_t j = 0; j < i; ++j)
      if (r.attrs[j].name == a.name) fail("attribute '" + a.name + "' declared twice");
  }
  if (r.uses_rng) {
    bool has_seed = false;
    for (const auto& a : r.attrs)
      has_seed = has_seed || (a.name == "seed" && a.kind == AttrKind::Int);
    if (!has_seed) fail("uses_rng requires an int attribute 'seed'");
  }
  if (r.gradient && !r.not_differentiable_reason.empty())
    fail("has both a gradient and a not-differentiable reason");
  for (int i : r.broadcasting_inputs)
    if (i < 0 || (!r.variadic_inputs && i >= static_cast<int>(r.input_names.size())))
      fail("broadcasting input " + std::to_string(i) + " is not an input");
  for (std::size_t i = 0; i < r.gradcheck.samples.size(); ++i) {
    const GradCheckSample& sample = r.gradcheck.samples[i];
    auto n = sample.shapes.size();
    bool arity_ok =
        r.variadic_inputs ? static_cast<int>(n) >= r.min_inputs : n == r.input_names.size();
    if (!arity_ok)
      fail("gradient-check sample " + std::to_string(i) + " gives " + std::to_string(n) +
           " input shapes for " + std::to_string(r.input_names.size()) + " inputs");
    if (sample.fixed.size() > n)
      fail("gradient-check sample " + std::to_string(i) + " has " +
           std::to_string(sample.fixed.size()) + " fixed tensors for " + std::to_string(n) +
           " inputs");
  }
  std::string name = r.name;
  records_.emplace(std::move(name), std::make_unique<OpRecord>(std::move(r)));
}

const OpRecord* OpRegistry::find(std::string_view name) const {
  auto it = records_.find(name);
  return it == records_.end() ? nullptr : it->second.get();
}

const OpRecord& OpRegistry::get(std::string_view name) const {
  if (const OpRecord* r = find(name)) return *r;
  throw GraphError("unknown op '" + std::string(name) + "' (not in the op registry; " +
                   std::to_string(records_.size()) + " ops registered)");
}

std::vector<std::string> OpRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : records_) out.push_back(k);
  return out;
}

}  // namespace dagrad
