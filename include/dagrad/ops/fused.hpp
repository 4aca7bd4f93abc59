// fused_elementwise: one node that runs a chain of elementwise ops as a small register program
// over broadcast inputs, element block by element block. The optimizer's fusion pass makes these
// nodes from chains of unfused elementwise nodes; each opcode gives exactly the bits of its
// unfused op's float kernel. Not differentiable: passes run after autodiff.
//
// Attributes of a fused_elementwise node:
//   dtype      DType   float32 or float64: the compute dtype and the dtype of every output.
//                      Each input is of this dtype, or bool (read as 0 and 1).
//   program    Ints    instructions of 4 ints [opcode, a, b, c]. Registers 0..num_inputs-1 hold
//                      the inputs, broadcast to the full shape; instruction i writes register
//                      num_inputs + i. a, b, c name registers defined before the instruction, or
//                      are -1 where an opcode uses no such operand; the operands marked "index"
//                      below are indices into `constants` instead.
//   constants  Tensor  float64, 1-D (possibly empty): the numbers the program uses, rounded to the
//                      compute dtype where used (as a scalar attribute of an unfused op is).
//   outputs    Ints    the register each output takes: one output per entry (possibly none).
//   stores     Ints    pairs (register, input): after an element is computed, the register's
//                      value is written into that input's buffer in place (a variable being
//                      updated). A store target has the compute dtype and the full shape; each
//                      input is a store target at most once.
//   reductions Ints    quadruples [register, kind, leading, rank]: reduction output k (the node's
//                      output outputs.size() + k) is the sum (kind 0) or mean (kind 1) of the
//                      register over the first `leading` axes of the full shape
//                      (1 <= leading <= R, R the full shape's rank), computed in the same pass
//                      as the program. Its shape is full[leading:] preceded by
//                      rank - (R - leading) ones, R - leading <= rank <= R: rank R - leading drops
//                      the reduced axes, rank R keeps them as 1 (keepdims), as sum_to's `like`
//                      may do with some. Rows (one per index into the leading axes) are added in
//                      order, column by column, in the compute dtype, from 0 (out[j] += x[i][j]
//                      for i = 0, 1, ...): the order in which sum_to, sum and mean add rows
//                      reduced over leading axes when the kept axes hold more than one element,
//                      so they agree bit for bit; a mean is the sum times 1/count rounded to the
//                      compute dtype, count the number of rows, as mean's kernel scales. Over
//                      zero rows both are 0.
// The full shape is the NumPy broadcast of all input shapes; every output but the reductions has
// it. A node needs at least one output, reduction or store.
//
// Order of effects, per block of elements: every input is read, then every instruction runs,
// then the outputs are written, then the stores. So an input that is also a store target reads
// its old value, and an output or store buffer may alias an input read at the same positions
// (an input of the full shape); an input that aliases a store target at other positions (a
// broadcast view of it) is not supported. Reductions accumulate apart and are written after the
// last block, so their buffers may alias any input.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "../graph/attr.hpp"
#include "../graph/dtype.hpp"
#include "../graph/graph.hpp"
#include "ops.hpp"

namespace dagrad {

// The opcodes, with stable numbers (graph files store them). Operands (r: a register, i: an index
// into constants, -: -1) and the unfused op each one matches bit for bit:
enum class FusedOpcode : std::int64_t {
  Const = 0,          // (i, -, -)  the constant, in the compute dtype
  Identity = 1,       // (r, -, -)  identity
  ZerosLike = 2,      // (r, -, -)  zeros_like
  OnesLike = 3,       // (r, -, -)  ones_like
  Neg = 4,            // (r, -, -)  neg
  Abs = 5,            // (r, -, -)  abs
  Sign = 6,           // (r, -, -)  sign
  Exp = 7,            // (r, -, -)  exp
  Log = 8,            // (r, -, -)  log
  Log1p = 9,          // (r, -, -)  log1p
  Sqrt = 10,          // (r, -, -)  sqrt
  Rsqrt = 11,         // (r, -, -)  rsqrt
  Square = 12,        // (r, -, -)  square
  Reciprocal = 13,    // (r, -, -)  reciprocal
  Sigmoid = 14,       // (r, -, -)  sigmoid
  Tanh = 15,          // (r, -, -)  tanh
  Relu = 16,          // (r, -, -)  relu
  Softplus = 17,      // (r, -, -)  softplus
  Elu = 18,           // (r, i, -)  elu with alpha = constants[b]
  Selu = 19,          // (r, -, -)  selu
  LeakyRelu = 20,     // (r, i, -)  leaky_relu with alpha = constants[b]
  Clip = 21,          // (r, i, i)  clip_by_value to [constants[b], constants[c]] (lo <= hi)
  Add = 22,           // (r, r, -)  add
  Sub = 23,           // (r, r, -)  sub
  Mul = 24,           // (r, r, -)  mul
  Div = 25,           // (r, r, -)  div
  Pow = 26,           // (r, r, -)  pow
  Maximum = 27,       // (r, r, -)  maximum (NaN if either is NaN)
  Minimum = 28,       // (r, r, -)  minimum (NaN if either is NaN)
  Greater = 29,       // (r, r, -)  greater, as 1 or 0 in the compute dtype
  GreaterEqual = 30,  // (r, r, -)  greater_equal, 1 or 0
  Less = 31,          // (r, r, -)  less, 1 or 0
  LessEqual = 32,     // (r, r, -)  less_equal, 1 or 0
  Equal = 33,         // (r, r, -)  equal, 1 or 0
  Where = 34,         // (r, r, r)  where(a != 0, b, c): any nonzero a, NaN included, is true
};
inline constexpr int kNumFusedOpcodes = 35;

// The kind field of a reduction (graph files store the numbers).
enum class FusedReduction : std::int64_t { Sum = 0, Mean = 1 };

// "elu", "greater_equal", ...: the unfused op's name ("const" for Const); "" when unknown.
std::string_view fused_opcode_name(FusedOpcode op);
// Whether operand field `k` (1, 2 or 3: a, b or c) of an instruction with opcode `op` names a
// register (not a constant index, nor unused), for passes that renumber a program's registers.
bool fused_operand_is_register(FusedOpcode op, int k);

// Builds the attributes of a fused_elementwise node. Each instruction method returns the register
// it writes; constants are added as needed (equal bit patterns share an entry). Methods throw
// GraphError for an opcode of the wrong kind; the node's shape function checks the rest.
class FusedProgram {
 public:
  explicit FusedProgram(int num_inputs);

  int num_inputs() const { return num_inputs_; }
  int num_registers() const { return num_inputs_ + static_cast<int>(program_.size() / 4); }

  int constant(double value);
  // Identity, ZerosLike, OnesLike and Neg ... Softplus, Selu.
  int unary(FusedOpcode op, int x);
  int elu(int x, double alpha);
  int leaky_relu(int x, double alpha);
  int clip(int x, double lo, double hi);
  // Add ... Equal.
  int binary(FusedOpcode op, int a, int b);
  int where(int cond, int a, int b);
  // The next output takes register `reg`.
  void output(int reg);
  // Writes register `reg` into input `input` in place.
  void store(int reg, int input);
  // The next reduction output (after every output) is the sum or mean of register `reg` over the
  // first `leading` axes of the full shape, of rank `rank` (see "reductions" above).
  void reduction(int reg, FusedReduction kind, int leading, int rank);

  // dtype, program, constants, outputs, stores and reductions.
  AttrMap attrs(DType dtype) const;

 private:
  int add(FusedOpcode op, std::int64_t a, std::int64_t b, std::int64_t c);
  std::int64_t constant_index(double value);

  int num_inputs_;
  std::vector<std::int64_t> program_, outputs_, stores_, reductions_;
  std::vector<double> constants_;
};

// A fused_elementwise node: run `operation` as a target for its stores; `outputs` has one
// entry per FusedProgram::output, then one per FusedProgram::reduction, in order (none for a
// node that only stores).
struct FusedNode {
  Operation operation;
  std::vector<Output> outputs;
};

// Adds a fused_elementwise node running `program` over `inputs` in `dtype`.
FusedNode fused_elementwise(const std::vector<Output>& inputs, DType dtype,
                            const FusedProgram& program, OpName name = {});

// Adds fused_elementwise to `registry` (called by register_builtin_ops).
void register_fused_ops(OpRegistry& registry);

}  // namespace dagrad
