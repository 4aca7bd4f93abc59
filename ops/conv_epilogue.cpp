// conv2d_epilogue (include/dagrad/ops/conv_epilogue.hpp): conv2d followed by a
// fused_elementwise program. Both halves are the other ops' own code (the shape functions taken
// from their records at registration, conv2d's kernels from ops/conv_kernels.hpp,
// fused_elementwise's from fused_kernels.hpp), so the node gives the bits of conv2d then
// fused_elementwise, and neither the convolution nor the program encoding has a second copy.
#include "dagrad/ops/conv_epilogue.hpp"

#include <algorithm>
#include <array>
#include <string>
#include <utility>
#include <vector>

#include "conv_kernels.hpp"
#include "fused_kernels.hpp"
#include "epilogue_record.hpp"
#include "op_util.hpp"

namespace dagrad {

namespace {

std::string str(std::int64_t v) {
  return std::to_string(v);
}

// Runs conv2d's shape function on x and the kernel (with conv2d's checks and messages), then
// fused_elementwise's on the program's inputs (the convolution, then inputs 2, 3, ...), whose
// outputs are this node's.
void epilogue_shape(ShapeContext& ctx, const ShapeFn& conv_shape, const ShapeFn& fused_shape) {
  const AttrMap& attrs = ctx.attrs();
  DType dtype = attrs.get_dtype("dtype");
  if (!is_floating(dtype))
    throw ShapeError("dtype must be float32 or float64, got " + std::string(dtype_name(dtype)));
  if (ctx.num_inputs() < 2)
    throw ShapeError("needs inputs x and kernel, got " + str(ctx.num_inputs()) + " inputs");
  const char* names[] = {"x", "the kernel"};
  for (int i = 0; i < 2; ++i)
    if (ctx.input_dtype(i) != dtype)
      throw ShapeError(std::string("input ") + names[i] + " is " +
                       std::string(dtype_name(ctx.input_dtype(i))) + ", not the compute dtype " +
                       std::string(dtype_name(dtype)) + " (the dtype attribute)");
  const std::array<ShapeContext::InputInfo, 2> conv_inputs = {
      ShapeContext::InputInfo{ctx.input_dtype(0), ctx.input_shape(0), ctx.input_is_variable(0)},
      ShapeContext::InputInfo{ctx.input_dtype(1), ctx.input_shape(1), ctx.input_is_variable(1)}};
  ShapeContext conv(conv_inputs, attrs, 1);
  conv_shape(conv);
  const Shape convolution = conv.outputs()[0].shape;
  const std::vector<std::int64_t>& stores = attrs.get_ints("stores");
  for (std::size_t j = 1; j < stores.size(); j += 2)
    if (stores[j] == 0)
      throw ShapeError("store " + str(static_cast<std::int64_t>(j / 2)) +
                       " writes program input 0, the convolution (only inputs 2, 3, ... of the " +
                       "node, program inputs 1, 2, ..., can be store targets)");
  std::vector<ShapeContext::InputInfo> program_inputs;
  program_inputs.push_back({dtype, convolution, false});
  for (int i = 2; i < ctx.num_inputs(); ++i)
    program_inputs.push_back({ctx.input_dtype(i), ctx.input_shape(i), ctx.input_is_variable(i)});
  const int num_outputs = static_cast<int>(ctx.outputs().size());
  ShapeContext program(program_inputs, attrs, num_outputs);
  try {
    fused_shape(program);
  } catch (const std::exception& e) {
    throw ShapeError("the epilogue program (its input 0 is the convolution " +
                     convolution.to_string() +
                     ", its input k >= 1 the node's input k + 1): " + e.what());
  }
  for (int o = 0; o < num_outputs; ++o) {
    const auto& out = program.outputs()[static_cast<std::size_t>(o)];
    ctx.set_output(o, out.dtype, out.shape);
  }
}

// conv2d's kernels, per dtype, as ops/conv_kernels.cpp sets them on conv2d's record.
const std::array<KernelFn, kNumDTypes> conv_kernels = [] {
  OpRecord conv;
  kernels::set_conv2d_kernels(conv);
  return conv.kernels;
}();

// Per-thread memory for a convolution that output 0 cannot hold, and the program's input list:
// grown to the largest node seen and then reused.
struct Scratch {
  Tensor storage;
  Tensor convolution;  // a view of storage with the convolution's shape
  std::vector<const Tensor*> inputs;
};

void run(KernelContext& c) {
  thread_local Scratch s;
  const Tensor& x = c.input(0);
  const Tensor& kernel = c.input(1);
  const DType dtype = x.dtype();
  // The shape conv2d's record gives (x and the kernel are fully defined at run time).
  const Shape& xs = x.shape();
  const Shape& ks = kernel.shape();
  detail::ConvGeometry g = detail::conv_geometry(xs, ks, detail::read_conv_attrs(c.attrs()));
  const Shape shape{g.n, g.oh, g.ow, g.cout};
  Tensor* convolution = nullptr;
  // Output 0 is a fresh buffer (no input shares it), so the convolution may go there and the
  // program run over it in place when it has the convolution's shape (no broadcast beyond it).
  if (!c.outputs.empty() && c.output(0).shape() == shape) convolution = c.outputs[0];
  if (!convolution) {
    const std::size_t bytes =
        static_cast<std::size_t>(std::max<std::int64_t>(shape.num_elements(), 1)) *
        dtype_size(dtype);
    if (!s.storage.defined() || s.storage.capacity() < bytes)
      s.storage = Tensor(dtype, Shape{std::max<std::int64_t>(shape.num_elements(), 1)});
    if (!s.convolution.defined() || s.convolution.raw() != s.storage.raw() ||
        s.convolution.dtype() != dtype || s.convolution.shape() != shape)
      s.convolution = s.storage.view(dtype, shape);
    convolution = &s.convolution;
  }
  const std::array<const Tensor*, 2> conv_inputs = {&x, &kernel};
  const std::array<Tensor*, 1> conv_outputs = {convolution};
  KernelContext conv{c.node, conv_inputs, conv_outputs, nullptr};
  conv_kernels[static_cast<std::size_t>(dtype)](conv);
  s.inputs.resize(c.inputs.size() - 1);
  s.inputs[0] = convolution;
  std::copy(c.inputs.begin() + 2, c.inputs.end(), s.inputs.begin() + 1);
  KernelContext program{c.node, s.inputs, c.outputs, nullptr};
  kernels::run_fused_elementwise(program);
}

}  // namespace

FusedNode conv2d_epilogue(Output x, Output kernel, Conv2DOptions options,
                          const std::vector<Output>& others, DType dtype,
                          const FusedProgram& program, OpName name) {
  return detail::add_epilogue_node("conv2d_epilogue", "the convolution", x, kernel, others, dtype,
                                   program,
                                   {{"strides", options.strides},
                                    {"padding", options.padding},
                                    {"dilations", options.dilations}},
                                   std::move(name));
}

void register_conv_epilogue_ops(OpRegistry& registry) {
  const OpRecord& conv = registry.get("conv2d");
  const OpRecord& fused = registry.get("fused_elementwise");
  // strides, padding, dilations, then fused_elementwise's
  OpRecord r = detail::epilogue_record(fused, "conv2d_epilogue", conv.attrs, &run);
  r.shape_fn = [conv_shape = conv.shape_fn, fused_shape = fused.shape_fn](ShapeContext& ctx) {
    epilogue_shape(ctx, conv_shape, fused_shape);
  };
  r.summary =
      "conv2d followed by a fused_elementwise program over it (made by the conv_epilogue "
      "pass; encoding in dagrad/ops/conv_epilogue.hpp)";
  registry.add(std::move(r));
}

}  // namespace dagrad
