// matmul_epilogue (include/dagrad/ops/matmul_epilogue.hpp): matmul's 2-D product followed by a
// fused_elementwise program. Both halves are the other ops' own code (linalg_kernels.hpp,
// fused_kernels.hpp; the shape rule is fused_elementwise's record applied to the product), so
// the node gives the bits of matmul then fused_elementwise, and the program encoding has one
// validator and one interpreter.
#include "dagrad/ops/matmul_epilogue.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "fused_kernels.hpp"
#include "linalg_kernels.hpp"
#include "epilogue_record.hpp"
#include "op_util.hpp"

namespace dagrad {

namespace {

std::string str(std::int64_t v) {
  return std::to_string(v);
}

// Checks a and b, then runs fused_elementwise's shape function on the program's inputs (the
// product, then inputs 2, 3, ...), whose outputs are this node's.
void epilogue_shape(ShapeContext& ctx, const ShapeFn& fused_shape) {
  const AttrMap& attrs = ctx.attrs();
  DType dtype = attrs.get_dtype("dtype");
  if (!is_floating(dtype))
    throw ShapeError("dtype must be float32 or float64, got " + std::string(dtype_name(dtype)));
  if (ctx.num_inputs() < 2)
    throw ShapeError("needs inputs a and b, got " + str(ctx.num_inputs()) + " inputs");
  const char* names[] = {"a", "b"};
  for (int i = 0; i < 2; ++i) {
    if (ctx.input_dtype(i) != dtype)
      throw ShapeError(std::string("input ") + names[i] + " is " +
                       std::string(dtype_name(ctx.input_dtype(i))) + ", not the compute dtype " +
                       std::string(dtype_name(dtype)) + " (the dtype attribute)");
    if (ctx.input_shape(i).rank() != 2)
      throw ShapeError(std::string("input ") + names[i] + " has shape " +
                       ctx.input_shape(i).to_string() + "; matmul_epilogue multiplies matrices " +
                       "(rank 2)");
  }
  Shape product =
      detail::matmul_shape(ctx.input_shape(0), ctx.input_shape(1), attrs.get_bool("transpose_a"),
                           attrs.get_bool("transpose_b"));
  const std::vector<std::int64_t>& stores = attrs.get_ints("stores");
  for (std::size_t j = 1; j < stores.size(); j += 2)
    if (stores[j] == 0)
      throw ShapeError("store " + str(static_cast<std::int64_t>(j / 2)) +
                       " writes program input 0, the product (only inputs 2, 3, ... of the " +
                       "node, program inputs 1, 2, ..., can be store targets)");
  std::vector<ShapeContext::InputInfo> program_inputs;
  program_inputs.push_back({dtype, product, false});
  for (int i = 2; i < ctx.num_inputs(); ++i)
    program_inputs.push_back({ctx.input_dtype(i), ctx.input_shape(i), ctx.input_is_variable(i)});
  const int num_outputs = static_cast<int>(ctx.outputs().size());
  ShapeContext program(program_inputs, attrs, num_outputs);
  try {
    fused_shape(program);
  } catch (const std::exception& e) {
    throw ShapeError("the epilogue program (its input 0 is the product " + product.to_string() +
                     ", its input k >= 1 the node's input k + 1): " + e.what());
  }
  for (int o = 0; o < num_outputs; ++o) {
    const auto& out = program.outputs()[static_cast<std::size_t>(o)];
    ctx.set_output(o, out.dtype, out.shape);
  }
}

// Per-thread memory for a product that output 0 cannot hold, and the program's input list:
// grown to the largest node seen and then reused.
struct Scratch {
  Tensor storage;
  Tensor product;  // a view of storage with the product's shape
  std::vector<const Tensor*> inputs;
};

template <class T>
void run_typed(KernelContext& c) {
  thread_local Scratch s;
  const Tensor& a = c.input(0);
  const Tensor& b = c.input(1);
  const bool ta = c.attrs().get_bool("transpose_a");
  const bool tb = c.attrs().get_bool("transpose_b");
  const std::int64_t m = ta ? a.shape()[1] : a.shape()[0];
  const std::int64_t n = tb ? b.shape()[0] : b.shape()[1];
  const Tensor* product = nullptr;
  if (!c.outputs.empty()) {
    // Output 0 is a fresh buffer (no input shares it), so the product may go there and the
    // program run over it in place when it has the product's shape (no broadcast beyond it).
    const Shape& y = c.output(0).shape();
    if (y.rank() == 2 && y[0] == m && y[1] == n) product = c.outputs[0];
  }
  if (!product) {
    const std::size_t bytes =
        static_cast<std::size_t>(std::max<std::int64_t>(m * n, 1)) * sizeof(T);
    if (!s.storage.defined() || s.storage.capacity() < bytes)
      s.storage = Tensor(dtype_of_v<T>, Shape{std::max<std::int64_t>(m * n, 1)});
    const Shape& p = s.product.shape();
    if (!s.product.defined() || s.product.raw() != s.storage.raw() ||
        s.product.dtype() != dtype_of_v<T> || p[0] != m || p[1] != n)
      s.product = s.storage.view(dtype_of_v<T>, Shape{m, n});
    product = &s.product;
  }
  kernels::matmul_2d<T>(a, b, ta, tb, product->data<T>());
  s.inputs.resize(c.inputs.size() - 1);
  s.inputs[0] = product;
  std::copy(c.inputs.begin() + 2, c.inputs.end(), s.inputs.begin() + 1);
  KernelContext program{c.node, s.inputs, c.outputs, nullptr};
  kernels::run_fused_elementwise(program);
}

void run(KernelContext& c) {
  if (c.input(0).dtype() == DType::float64)
    run_typed<double>(c);
  else
    run_typed<float>(c);
}

}  // namespace

FusedNode matmul_epilogue(Output a, Output b, Flag transpose_a, Flag transpose_b,
                          const std::vector<Output>& others, DType dtype,
                          const FusedProgram& program, OpName name) {
  return detail::add_epilogue_node("matmul_epilogue", "the product", a, b, others, dtype, program,
                                   {{"transpose_a", transpose_a.value},
                                    {"transpose_b", transpose_b.value}},
                                   std::move(name));
}

void register_matmul_epilogue_ops(OpRegistry& registry) {
  const OpRecord& fused = registry.get("fused_elementwise");
  OpRecord r = detail::epilogue_record(fused, "matmul_epilogue",
                                       {{"transpose_a", AttrKind::Bool, AttrValue(false)},
                                        {"transpose_b", AttrKind::Bool, AttrValue(false)}},
                                       &run);
  r.shape_fn = [fused_shape = fused.shape_fn](ShapeContext& ctx) {
    epilogue_shape(ctx, fused_shape);
  };
  r.summary =
      "a 2-D matrix product followed by a fused_elementwise program over it (made by the "
      "gemm_epilogue pass; encoding in dagrad/ops/matmul_epilogue.hpp)";
  registry.add(std::move(r));
}

}  // namespace dagrad
