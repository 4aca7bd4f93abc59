// The op record shared by the epilogue ops (matmul_epilogue, conv2d_epilogue): a producer of two
// inputs, then a fused_elementwise program over its result (internal to ops/).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "dagrad/graph/op_registry.hpp"
#include "dagrad/ops/fused.hpp"
#include "op_util.hpp"

namespace dagrad::detail {

// `name`'s record: inputs (producer's two, then the program's others), outputs, attributes
// (`producer_attrs` then fused_elementwise's), written inputs (the program's stores, shifted by
// the producer's extra input), the float32 and float64 kernel `run`, not differentiable,
// stateful as fused_elementwise. The caller sets shape_fn and summary.
inline OpRecord epilogue_record(const OpRecord& fused, std::string name,
                                std::vector<AttrSpec> producer_attrs, KernelFn run) {
  OpRecord r;
  r.name = std::move(name);
  r.input_names = {"inputs"};  // the producer's two inputs, then the program's other inputs
  r.variadic_inputs = true;
  r.min_inputs = 2;
  r.output_names = fused.output_names;
  r.output_count = fused.output_count;
  r.attrs = std::move(producer_attrs);
  r.attrs.insert(r.attrs.end(), fused.attrs.begin(), fused.attrs.end());
  r.written_inputs = [](const AttrMap& attrs) {
    std::vector<int> written;
    const auto& stores = attrs.get_ints("stores");
    for (std::size_t k = 1; k < stores.size(); k += 2)
      written.push_back(static_cast<int>(stores[k]) + 1);  // program input k is node input k + 1
    return written;
  };
  r.dispatch_input = 0;
  r.kernels[static_cast<std::size_t>(DType::float32)] = run;
  r.kernels[static_cast<std::size_t>(DType::float64)] = run;
  r.not_differentiable_reason =
      "a fused kernel made by the optimizer; differentiate the original graph";
  r.stateful = true;  // as fused_elementwise: a node with stores writes variables
  return r;
}

// Adds an `op` node: inputs a, b, then `others`; attributes the program's (for `dtype`) and
// `producer_attrs`. GraphError when the program does not read 1 + others.size() inputs (`result`
// names register 0 in the message: "the product", "the convolution").
inline FusedNode add_epilogue_node(const std::string& op, const std::string& result, Output a,
                                   Output b, const std::vector<Output>& others, DType dtype,
                                   const FusedProgram& program, const AttrMap& producer_attrs,
                                   OpName name) {
  if (program.num_inputs() != 1 + static_cast<int>(others.size()))
    throw GraphError(op + ": the program reads " + std::to_string(program.num_inputs()) +
                     " inputs (" + result + " and " + std::to_string(program.num_inputs() - 1) +
                     " others), got " + std::to_string(others.size()) + " other inputs");
  Graph& g = graph_of(a, op.c_str());
  std::vector<Output> inputs = {a, b};
  inputs.insert(inputs.end(), others.begin(), others.end());
  AttrMap attrs = program.attrs(dtype);
  for (const auto& [key, value] : producer_attrs.items()) attrs.set(key, value);
  NodeOptions options;
  options.name = name.name;
  std::vector<Output> outputs = g.add_node(op, inputs, std::move(attrs), std::move(options), name.loc);
  return FusedNode{Operation(&g, g.num_nodes() - 1), std::move(outputs)};
}

}  // namespace dagrad::detail
