// fused_elementwise: its record, shape function (which validates the program) and builder. The
// kernel is compiled apart, in fused_kernels.cpp. The encoding is documented in
// include/dagrad/ops/fused.hpp.
#include "dagrad/ops/fused.hpp"

#include <array>
#include <bit>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "fused_kernels.hpp"
#include "op_util.hpp"

namespace dagrad {

namespace {

// What an operand field of an instruction holds.
enum class Operand { None, Register, Constant };

struct OpcodeInfo {
  const char* name;
  Operand a, b, c;
};

constexpr Operand N = Operand::None, R = Operand::Register, C = Operand::Constant;

// Indexed by opcode number.
constexpr std::array<OpcodeInfo, kNumFusedOpcodes> kOpcodes = {{
    {"const", C, N, N},         {"identity", R, N, N},   {"zeros_like", R, N, N},
    {"ones_like", R, N, N},     {"neg", R, N, N},        {"abs", R, N, N},
    {"sign", R, N, N},          {"exp", R, N, N},        {"log", R, N, N},
    {"log1p", R, N, N},         {"sqrt", R, N, N},       {"rsqrt", R, N, N},
    {"square", R, N, N},        {"reciprocal", R, N, N}, {"sigmoid", R, N, N},
    {"tanh", R, N, N},          {"relu", R, N, N},       {"softplus", R, N, N},
    {"elu", R, C, N},           {"selu", R, N, N},       {"leaky_relu", R, C, N},
    {"clip_by_value", R, C, C}, {"add", R, R, N},        {"sub", R, R, N},
    {"mul", R, R, N},           {"div", R, R, N},        {"pow", R, R, N},
    {"maximum", R, R, N},       {"minimum", R, R, N},    {"greater", R, R, N},
    {"greater_equal", R, R, N}, {"less", R, R, N},       {"less_equal", R, R, N},
    {"equal", R, R, N},         {"where", R, R, R},
}};

const OpcodeInfo& info(FusedOpcode op) {
  return kOpcodes[static_cast<std::size_t>(op)];
}

std::string str(std::int64_t v) {
  return std::to_string(v);
}

// Throws ShapeError unless instruction i = [op, a, b, c] is well formed: a known opcode, each
// register operand defined before it, each constant index in range, each unused operand -1.
void check_instruction(const std::vector<std::int64_t>& program, std::size_t i, int num_inputs,
                       const Tensor& constants) {
  std::int64_t op = program[4 * i];
  std::string where = "instruction " + str(static_cast<std::int64_t>(i));
  if (op < 0 || op >= kNumFusedOpcodes)
    throw ShapeError(where + ": unknown opcode " + str(op) + " (opcodes are 0 to " +
                     str(kNumFusedOpcodes - 1) + ")");
  const OpcodeInfo& opcode = kOpcodes[static_cast<std::size_t>(op)];
  where += " (" + std::string(opcode.name) + ")";
  std::int64_t defined = num_inputs + static_cast<std::int64_t>(i);  // registers 0..defined-1
  const std::array<Operand, 3> kinds = {opcode.a, opcode.b, opcode.c};
  for (std::size_t k = 0; k < 3; ++k) {
    std::int64_t v = program[4 * i + 1 + k];
    std::string operand = "operand " + std::string(1, "abc"[k]) + " = " + str(v);
    switch (kinds[k]) {
      case Operand::None:
        if (v != -1) throw ShapeError(where + ": " + operand + " must be -1 (unused)");
        break;
      case Operand::Register:
        if (v < 0 || v >= defined)
          throw ShapeError(where + ": " + operand +
                           " is not a register defined before it (registers 0 to " +
                           str(defined - 1) + ": " + str(num_inputs) + " inputs, then one per " +
                           "earlier instruction)");
        break;
      case Operand::Constant:
        if (v < 0 || v >= constants.size())
          throw ShapeError(where + ": " + operand + " is not an index into constants (" +
                           str(constants.size()) + " constants)");
        break;
    }
  }
  if (static_cast<FusedOpcode>(op) == FusedOpcode::Clip) {
    double lo = constants.data<double>()[program[4 * i + 2]];
    double hi = constants.data<double>()[program[4 * i + 3]];
    if (!(lo <= hi))  // also rejects NaN bounds, as clip_by_value does
      throw ShapeError(where + ": lower bound " + detail::number_to_string(lo) +
                       " exceeds upper bound " + detail::number_to_string(hi));
  }
}

// The shape function: checks dtypes, the program, outputs, stores and reductions; every output
// but the reductions has the broadcast of all input shapes.
void fused_shape(ShapeContext& ctx) {
  const AttrMap& attrs = ctx.attrs();
  DType dtype = attrs.get_dtype("dtype");
  if (!is_floating(dtype))
    throw ShapeError("dtype must be float32 or float64, got " + std::string(dtype_name(dtype)));
  const int num_inputs = ctx.num_inputs();
  Shape full = ctx.input_shape(0);
  for (int i = 0; i < num_inputs; ++i) {
    DType d = ctx.input_dtype(i);
    if (d != dtype && d != DType::boolean)
      throw ShapeError("input " + str(i) + " is " + std::string(dtype_name(d)) +
                       "; every input must be " + std::string(dtype_name(dtype)) +
                       " (the dtype attribute) or bool");
    if (i == 0) continue;
    try {
      full = broadcast_shapes(full, ctx.input_shape(i));
    } catch (const std::invalid_argument&) {
      throw ShapeError("input " + str(i) + " of shape " + ctx.input_shape(i).to_string() +
                       " does not broadcast with the inputs before it (together " +
                       full.to_string() + ")");
    }
  }

  const std::vector<std::int64_t>& program = attrs.get_ints("program");
  if (program.size() % 4 != 0)
    throw ShapeError("program has " + str(static_cast<std::int64_t>(program.size())) +
                     " ints, not a multiple of 4 (each instruction is [opcode, a, b, c])");
  const Tensor& constants = attrs.get_tensor("constants");
  if (!constants.defined() || constants.dtype() != DType::float64 || constants.shape().rank() != 1)
    throw ShapeError("constants must be a 1-D float64 tensor, got " +
                     attr_to_string(attrs.at("constants")));
  const std::size_t num_instructions = program.size() / 4;
  for (std::size_t i = 0; i < num_instructions; ++i)
    check_instruction(program, i, num_inputs, constants);
  const std::int64_t num_registers = num_inputs + static_cast<std::int64_t>(num_instructions);
  auto check_register = [&](std::int64_t reg, const std::string& what) {
    if (reg < 0 || reg >= num_registers)
      throw ShapeError(what + " takes register " + str(reg) + ", but there are " +
                       str(num_registers) + " registers (" + str(num_inputs) + " inputs and " +
                       str(static_cast<std::int64_t>(num_instructions)) + " instructions)");
  };

  const std::vector<std::int64_t>& outputs = attrs.get_ints("outputs");
  for (std::size_t o = 0; o < outputs.size(); ++o)
    check_register(outputs[o], "output " + str(static_cast<std::int64_t>(o)));

  const std::vector<std::int64_t>& stores = attrs.get_ints("stores");
  if (stores.size() % 2 != 0)
    throw ShapeError("stores has " + str(static_cast<std::int64_t>(stores.size())) +
                     " ints, not pairs (register, input)");
  std::vector<char> stored(static_cast<std::size_t>(num_inputs), 0);
  for (std::size_t s = 0; s < stores.size() / 2; ++s) {
    std::string what = "store " + str(static_cast<std::int64_t>(s));
    check_register(stores[2 * s], what);
    std::int64_t target = stores[2 * s + 1];
    if (target < 0 || target >= num_inputs)
      throw ShapeError(what + " writes input " + str(target) + ", but the node has " +
                       str(num_inputs) + " inputs");
    what += " (into input " + str(target) + ")";
    auto t = static_cast<int>(target);
    if (stored[static_cast<std::size_t>(t)])
      throw ShapeError(what + ": input " + str(target) + " is already a store target");
    stored[static_cast<std::size_t>(t)] = 1;
    if (ctx.input_dtype(t) != dtype)
      throw ShapeError(what + ": the target is " + std::string(dtype_name(ctx.input_dtype(t))) +
                       ", not the compute dtype " + std::string(dtype_name(dtype)));
    const Shape& shape = ctx.input_shape(t);
    if (shape.rank() != full.rank() || !shape.compatible_with(full))
      throw ShapeError(what + ": the target has shape " + shape.to_string() +
                       ", not the full shape " + full.to_string());
  }
  const std::vector<std::int64_t>& reductions = attrs.get_ints("reductions");
  if (reductions.size() % 4 != 0)
    throw ShapeError("reductions has " + str(static_cast<std::int64_t>(reductions.size())) +
                     " ints, not a multiple of 4 (each reduction is [register, kind, leading, "
                     "rank])");
  if (outputs.empty() && stores.empty() && reductions.empty())
    throw ShapeError("a fused_elementwise node needs at least one output, reduction or store");
  for (std::size_t o = 0; o < outputs.size(); ++o) ctx.set_output(static_cast<int>(o), dtype, full);
  const std::int64_t rank = full.rank();
  for (std::size_t k = 0; k < reductions.size() / 4; ++k) {
    std::string what = "reduction " + str(static_cast<std::int64_t>(k));
    check_register(reductions[4 * k], what);
    std::int64_t kind = reductions[4 * k + 1], leading = reductions[4 * k + 2],
                 out_rank = reductions[4 * k + 3];
    if (kind != static_cast<std::int64_t>(FusedReduction::Sum) &&
        kind != static_cast<std::int64_t>(FusedReduction::Mean))
      throw ShapeError(what + ": unknown kind " + str(kind) + " (0: sum, 1: mean)");
    if (leading < 1 || leading > rank)
      throw ShapeError(what + ": leading = " + str(leading) +
                       " is not a number of leading axes of the full shape " + full.to_string() +
                       " (1 to " + str(rank) + ")");
    if (out_rank < rank - leading || out_rank > rank)
      throw ShapeError(what + ": rank = " + str(out_rank) + " is not between " +
                       str(rank - leading) + " (reduced axes dropped) and " + str(rank) +
                       " (kept as 1) for " + str(leading) + " leading axes of the full shape " +
                       full.to_string());
    std::vector<std::int64_t> dims(static_cast<std::size_t>(out_rank - (rank - leading)), 1);
    for (std::int64_t d = leading; d < rank; ++d) dims.push_back(full[static_cast<int>(d)]);
    ctx.set_output(static_cast<int>(outputs.size() + k), dtype, Shape(std::move(dims)));
  }
}

}  // namespace

std::string_view fused_opcode_name(FusedOpcode op) {
  auto i = static_cast<std::int64_t>(op);
  return i >= 0 && i < kNumFusedOpcodes ? kOpcodes[static_cast<std::size_t>(i)].name : "";
}

bool fused_operand_is_register(FusedOpcode op, int k) {
  auto i = static_cast<std::int64_t>(op);
  if (i < 0 || i >= kNumFusedOpcodes || k < 1 || k > 3) return false;
  const OpcodeInfo& opcode = kOpcodes[static_cast<std::size_t>(i)];
  return (k == 1 ? opcode.a : k == 2 ? opcode.b : opcode.c) == R;
}

FusedProgram::FusedProgram(int num_inputs) : num_inputs_(num_inputs) {
  if (num_inputs < 1)
    throw GraphError("a fused program needs at least one input, got " + str(num_inputs));
}

int FusedProgram::add(FusedOpcode op, std::int64_t a, std::int64_t b, std::int64_t c) {
  program_.insert(program_.end(), {static_cast<std::int64_t>(op), a, b, c});
  return num_registers() - 1;
}

std::int64_t FusedProgram::constant_index(double value) {
  for (std::size_t i = 0; i < constants_.size(); ++i)
    if (std::bit_cast<std::uint64_t>(constants_[i]) == std::bit_cast<std::uint64_t>(value))
      return static_cast<std::int64_t>(i);
  constants_.push_back(value);
  return static_cast<std::int64_t>(constants_.size()) - 1;
}

int FusedProgram::constant(double value) {
  return add(FusedOpcode::Const, constant_index(value), -1, -1);
}

int FusedProgram::unary(FusedOpcode op, int x) {
  auto i = static_cast<std::int64_t>(op);
  if (i < 0 || i >= kNumFusedOpcodes || info(op).a != R || info(op).b != N)
    throw GraphError("FusedProgram::unary: opcode " + str(i) + " (" +
                     std::string(fused_opcode_name(op)) + ") is not a one-register opcode");
  return add(op, x, -1, -1);
}

int FusedProgram::elu(int x, double alpha) {
  return add(FusedOpcode::Elu, x, constant_index(alpha), -1);
}

int FusedProgram::leaky_relu(int x, double alpha) {
  return add(FusedOpcode::LeakyRelu, x, constant_index(alpha), -1);
}

int FusedProgram::clip(int x, double lo, double hi) {
  std::int64_t l = constant_index(lo);
  return add(FusedOpcode::Clip, x, l, constant_index(hi));
}

int FusedProgram::binary(FusedOpcode op, int a, int b) {
  auto i = static_cast<std::int64_t>(op);
  if (i < 0 || i >= kNumFusedOpcodes || info(op).b != R || info(op).c != N)
    throw GraphError("FusedProgram::binary: opcode " + str(i) + " (" +
                     std::string(fused_opcode_name(op)) + ") is not a two-register opcode");
  return add(op, a, b, -1);
}

int FusedProgram::where(int cond, int a, int b) {
  return add(FusedOpcode::Where, cond, a, b);
}

void FusedProgram::output(int reg) {
  outputs_.push_back(reg);
}

void FusedProgram::store(int reg, int input) {
  stores_.insert(stores_.end(), {reg, input});
}

void FusedProgram::reduction(int reg, FusedReduction kind, int leading, int rank) {
  reductions_.insert(reductions_.end(), {reg, static_cast<std::int64_t>(kind), leading, rank});
}

AttrMap FusedProgram::attrs(DType dtype) const {
  return AttrMap{
      {"dtype", dtype},
      {"program", program_},
      {"constants", Tensor::from_vector<double>(Shape{static_cast<std::int64_t>(constants_.size())},
                                                constants_)},
      {"outputs", outputs_},
      {"stores", stores_},
      {"reductions", reductions_}};
}

FusedNode fused_elementwise(const std::vector<Output>& inputs, DType dtype,
                            const FusedProgram& program, OpName name) {
  if (inputs.empty()) throw GraphError("fused_elementwise: needs at least one input");
  if (static_cast<int>(inputs.size()) != program.num_inputs())
    throw GraphError("fused_elementwise: the program reads " + str(program.num_inputs()) +
                     " inputs, got " + str(static_cast<std::int64_t>(inputs.size())));
  Graph& g = detail::graph_of(inputs[0], "fused_elementwise");
  NodeOptions options;
  options.name = name.name;
  std::vector<Output> outputs =
      g.add_node("fused_elementwise", inputs, program.attrs(dtype), std::move(options), name.loc);
  return FusedNode{Operation(&g, g.num_nodes() - 1), std::move(outputs)};
}

void register_fused_ops(OpRegistry& registry) {
  OpRecord r;
  r.name = "fused_elementwise";
  r.input_names = {"inputs"};
  r.variadic_inputs = true;
  r.min_inputs = 1;
  r.output_names = {"y"};
  r.output_count = [](const AttrMap& attrs) {
    return static_cast<int>(attrs.get_ints("outputs").size() +
                            attrs.get_ints("reductions").size() / 4);
  };
  r.attrs = {{"dtype", AttrKind::DType, {}},
             {"program", AttrKind::Ints, {}},
             {"constants", AttrKind::Tensor, AttrValue(Tensor(DType::float64, Shape{0}))},
             {"outputs", AttrKind::Ints, {}},
             {"stores", AttrKind::Ints, AttrValue(std::vector<std::int64_t>{})},
             {"reductions", AttrKind::Ints, AttrValue(std::vector<std::int64_t>{})}};
  r.written_inputs = [](const AttrMap& attrs) {
    std::vector<int> written;
    const auto& stores = attrs.get_ints("stores");
    for (std::size_t k = 1; k < stores.size(); k += 2)
      written.push_back(static_cast<int>(stores[k]));
    return written;
  };
  r.shape_fn = fused_shape;
  r.dispatch_input = 0;  // input 0 may be bool; the kernel reads the dtype attribute
  kernels::set_fused_elementwise_kernels(r);
  r.not_differentiable_reason =
      "a fused kernel made by the optimizer; differentiate the original graph";
  // A node with stores writes variables: passes must neither merge nor fold it.
  r.stateful = true;
  r.summary =
      "a chain of elementwise ops run as one register program over broadcast inputs, with "
      "in-place stores and sums or means over leading axes (made by the fusion pass; encoding "
      "in dagrad/ops/fused.hpp)";
  registry.add(std::move(r));
}

}  // namespace dagrad
