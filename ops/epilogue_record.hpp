// The op record shared by the epilogue ops (matmul_epilogue, conv2d_epilogue): a producer of two
// inputs, then a fused_elementwise program over its result (internal to ops/).
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "dagrad/graph/op_registry.hpp"

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

}  // namespace dagrad::detail
