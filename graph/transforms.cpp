#include "dagrad/graph/transforms.hpp"

namespace dagrad {

namespace {

AttrValue promote(const AttrValue& value) {
  if (const DType* d = std::get_if<DType>(&value)) return *d == DType::float32 ? DType::float64 : *d;
  if (const Tensor* t = std::get_if<Tensor>(&value)) return widen_to_float64(*t);
  return value;
}

}  // namespace

Tensor widen_to_float64(const Tensor& tensor) {
  if (!tensor.defined() || tensor.dtype() != DType::float32) return tensor;
  Tensor wide(DType::float64, tensor.shape());
  const float* src = tensor.data<float>();
  double* dst = wide.data<double>();
  for (std::int64_t i = 0; i < tensor.size(); ++i) dst[i] = src[i];
  return wide;
}

std::unique_ptr<Graph> promote_to_float64(const Graph& graph) {
  auto out = std::make_unique<Graph>(graph.registry());
  out->set_seed(graph.seed());
  for (const Node& n : graph.nodes()) {
    std::vector<Output> inputs;
    for (const NodeInput& in : n.inputs) inputs.push_back(out->output_of(in.node, in.index));
    AttrMap attrs;
    for (const auto& [name, value] : n.attrs.items()) attrs.set(name, promote(value));
    // Ids are preserved (nodes are added in order), so names and edges carry over unchanged.
    out->add_node(n.op->name, inputs, std::move(attrs), NodeOptions{n.name, n.control_inputs});
    out->annotate(n.id, n.site, n.backward);
  }
  for (const auto& v : graph.variables()) out->register_variable(v.variable, v.initializer);
  return out;
}

}  // namespace dagrad
