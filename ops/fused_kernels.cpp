// The fused_elementwise kernel (see fused_kernels.hpp and include/dagrad/ops/fused.hpp): the
// program runs block by block over rows of the collapsed full shape, each opcode through the
// batch function its unfused op's kernel uses (vector_math.hpp), so the bits agree. Blocks run
// in the full shape's element order, so a reduction over leading axes adds each block into its
// columns (flat position modulo the kept size) and every column gets its rows in order.
#include "fused_kernels.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>
#include <xsimd/xsimd.hpp>

#include "dagrad/graph/threads.hpp"
#include "dagrad/ops/fused.hpp"
#include "kernel_util.hpp"
#include "vector_math.hpp"
#include "worker_pool.hpp"

namespace dagrad::kernels {

namespace {

using vmath::Batch;

// Elements per register block: 2 KB, so that a program's live registers stay in L1.
template <class T>
constexpr std::size_t kBlock = 2048 / sizeof(T);
// Nodes of this many elements or more (and no reductions) split over the threads: about 0.1 ms
// of work at a few instructions, against some microseconds to wake a thread.
constexpr std::int64_t kSplitElements = std::int64_t{1} << 17;

// A node's working layout (per thread for the plain kernel, per binding for the prepare step),
// grown to the largest node seen and then reused: no heap use per call in the steady state.
template <class T>
struct Scratch {
  std::vector<std::int64_t> full;                     // full shape (rank R)
  std::vector<std::int64_t> raw_stride;  // input k, dim d of the full shape at k * R + d
  std::vector<std::int64_t> dims;        // collapsed shape (rank r)
  std::vector<std::int64_t> stride;      // input k, collapsed dim j at k * width + j
  std::size_t width = 0;
  std::vector<std::int64_t> index;   // odometer over the collapsed outer dims
  // Packed: rows shorter than half a block (a channel axis, as batch normalization over NHWC
  // broadcasts against) run several to a block, so the per-block work is not paid per short row.
  bool packed = false;
  std::vector<std::int64_t> filled_at;  // per input slot: offset of the rows it holds, or -1
  std::vector<std::size_t> filled_len;  // and how many elements of them
  std::vector<std::int64_t> offset;  // per input: offset of the current row
  std::vector<int> last_use;         // per register: last instruction reading it
  std::vector<int> slot_of;          // per register: its slot, or -1 (read in place)
  std::vector<int> free_slots;
  std::vector<const T*> reg;             // per register: its values for the current block
  std::vector<T> sums;                   // per reduction: its kept size of running column sums
  std::vector<std::size_t> kept, first;  // per reduction: kept size, offset into sums

  template <class V, class A>
  static void fit(std::vector<V, A>& v, std::size_t n) {
    if (v.size() < n) v.resize(n);
  }
};

template <class T>
void fill(T* y, std::size_t n, T value) {
  std::fill(y, y + n, value);
}

// sums[j] += x[j] for j < n, a lane per column: the same additions as one at a time.
template <class T>
void add_into(T* sums, const T* x, std::size_t n) {
  constexpr std::size_t lanes = Batch<T>::size;
  std::size_t j = 0;
  for (; j + lanes <= n; j += lanes)
    (Batch<T>::load_unaligned(sums + j) + Batch<T>::load_unaligned(x + j))
        .store_unaligned(sums + j);
  for (; j < n; ++j) sums[j] += x[j];
}

// add_into for the four rows of n at x, x + n, x + 2n, x + 3n, one pass over sums: each column
// still gets its rows in order, so the bits are those of four add_into calls.
template <class T>
void add_four_rows(T* sums, const T* x, std::size_t n) {
  constexpr std::size_t lanes = Batch<T>::size;
  std::size_t j = 0;
  for (; j + lanes <= n; j += lanes) {
    Batch<T> acc = Batch<T>::load_unaligned(sums + j) + Batch<T>::load_unaligned(x + j);
    acc = acc + Batch<T>::load_unaligned(x + n + j);
    acc = acc + Batch<T>::load_unaligned(x + 2 * n + j);
    acc = acc + Batch<T>::load_unaligned(x + 3 * n + j);
    acc.store_unaligned(sums + j);
  }
  for (; j < n; ++j) sums[j] = (((sums[j] + x[j]) + x[n + j]) + x[2 * n + j]) + x[3 * n + j];
}

// y[0, n) = op(a, b, c) for instruction `ins` = [opcode, a, b, c]; a, b, c point at the operand
// registers' values (null when the operand is not a register).
template <class T>
void execute(const std::int64_t* ins, const double* constants, T* y, std::size_t n, const T* a,
             const T* b, const T* c) {
#define DAGRAD_FUSED_UNARY(OP, FN)                                               \
  case FusedOpcode::OP:                                                          \
    vmath::apply<T>([](const Batch<T>& x) { return vmath::FN<T>(x); }, y, n, a); \
    return;
#define DAGRAD_FUSED_BINARY(OP, FN)                                                                \
  case FusedOpcode::OP:                                                                            \
    vmath::apply<T>([](const Batch<T>& u, const Batch<T>& v) { return vmath::FN<T>(u, v); }, y, n, \
                    a, b);                                                                         \
    return;
  switch (static_cast<FusedOpcode>(ins[0])) {
    case FusedOpcode::Const:
      fill(y, n, T(constants[ins[1]]));
      return;
    case FusedOpcode::Identity:
      if (y != a) std::copy(a, a + n, y);
      return;
    case FusedOpcode::ZerosLike:
      fill(y, n, T(0));
      return;
    case FusedOpcode::OnesLike:
      fill(y, n, T(1));
      return;
      DAGRAD_FUSED_UNARY(Neg, neg)
      DAGRAD_FUSED_UNARY(Abs, abs)
      DAGRAD_FUSED_UNARY(Sign, sign)
      DAGRAD_FUSED_UNARY(Exp, exp)
      DAGRAD_FUSED_UNARY(Log, log)
      DAGRAD_FUSED_UNARY(Log1p, log1p)
      DAGRAD_FUSED_UNARY(Sqrt, sqrt)
      DAGRAD_FUSED_UNARY(Rsqrt, rsqrt)
      DAGRAD_FUSED_UNARY(Square, square)
      DAGRAD_FUSED_UNARY(Reciprocal, reciprocal)
      DAGRAD_FUSED_UNARY(Sigmoid, sigmoid)
      DAGRAD_FUSED_UNARY(Tanh, tanh)
      DAGRAD_FUSED_UNARY(Relu, relu)
      DAGRAD_FUSED_UNARY(Softplus, softplus)
      DAGRAD_FUSED_UNARY(Selu, selu)
    case FusedOpcode::Elu:
      vmath::apply<T>(
          [alpha = T(constants[ins[2]])](const Batch<T>& x) { return vmath::elu<T>(x, alpha); }, y,
          n, a);
      return;
    case FusedOpcode::LeakyRelu:
      vmath::apply<T>([alpha = T(constants[ins[2]])](
                          const Batch<T>& x) { return vmath::leaky_relu<T>(x, alpha); },
                      y, n, a);
      return;
    case FusedOpcode::Clip:
      vmath::apply<T>([lo = T(constants[ins[2]]), hi = T(constants[ins[3]])](
                          const Batch<T>& x) { return vmath::clip<T>(x, lo, hi); },
                      y, n, a);
      return;
      DAGRAD_FUSED_BINARY(Add, add)
      DAGRAD_FUSED_BINARY(Sub, sub)
      DAGRAD_FUSED_BINARY(Mul, mul)
      DAGRAD_FUSED_BINARY(Div, div)
      DAGRAD_FUSED_BINARY(Pow, pow)
      DAGRAD_FUSED_BINARY(Maximum, maximum)
      DAGRAD_FUSED_BINARY(Minimum, minimum)
      DAGRAD_FUSED_BINARY(Greater, greater)
      DAGRAD_FUSED_BINARY(GreaterEqual, greater_equal)
      DAGRAD_FUSED_BINARY(Less, less)
      DAGRAD_FUSED_BINARY(LessEqual, less_equal)
      DAGRAD_FUSED_BINARY(Equal, equal)
    case FusedOpcode::Where:
      vmath::apply<T>([](const Batch<T>& u, const Batch<T>& v,
                         const Batch<T>& w) { return vmath::where<T>(u, v, w); },
                      y, n, a, b, c);
      return;
  }
#undef DAGRAD_FUSED_UNARY
#undef DAGRAD_FUSED_BINARY
}

// Whether field k (1, 2 or 3: a, b or c) of an instruction with opcode `op` names a register.
bool is_register_field(FusedOpcode op, std::size_t k) {
  switch (op) {
    case FusedOpcode::Const:
      return false;
    case FusedOpcode::Elu:
    case FusedOpcode::LeakyRelu:
    case FusedOpcode::Clip:
      return k == 1;
    default:
      return true;  // unused fields are -1
  }
}

// Sets s.dims (rank r = s.index.size()) and s.stride (input k, dim j at k * s.width + j) to the
// full shape of the inputs with size-1 dimensions dropped and neighbours merged where every input
// steps through both alike. Each input's stride along the last (row) dimension is then 1
// (contiguous) or 0 (broadcast). Returns the number of elements.
template <class T>
std::int64_t collapse(const KernelContext& c, Scratch<T>& s) {
  const std::size_t num_inputs = c.inputs.size();
  int max_rank = 0;
  for (const Tensor* t : c.inputs) max_rank = std::max(max_rank, t->shape().rank());
  const auto R = static_cast<std::size_t>(max_rank);
  Scratch<T>::fit(s.full, R);
  Scratch<T>::fit(s.raw_stride, num_inputs * R);
  std::fill(s.full.begin(), s.full.begin() + static_cast<std::ptrdiff_t>(R), 1);
  for (std::size_t k = 0; k < num_inputs; ++k) {
    const Shape& shape = c.inputs[k]->shape();
    std::size_t lead = R - static_cast<std::size_t>(shape.rank());
    std::int64_t step = 1;
    for (std::size_t d = R; d-- > 0;) {
      std::int64_t size = d < lead ? 1 : shape[static_cast<int>(d - lead)];
      if (size != 1) s.full[d] = size;
      s.raw_stride[k * R + d] = size == 1 ? 0 : step;
      step *= size;
    }
  }
  std::int64_t total = 1;
  for (std::size_t d = 0; d < R; ++d) total *= s.full[d];
  s.width = R + 1;
  Scratch<T>::fit(s.dims, s.width);
  Scratch<T>::fit(s.stride, num_inputs * s.width);
  std::size_t r = 0;
  for (std::size_t d = 0; d < R; ++d) {
    std::int64_t size = s.full[d];
    if (size == 1) continue;
    bool merge = r > 0;
    for (std::size_t k = 0; merge && k < num_inputs; ++k)
      merge = s.stride[k * s.width + r - 1] == s.raw_stride[k * R + d] * size;
    std::size_t j = merge ? r - 1 : r++;
    s.dims[j] = merge ? s.dims[j] * size : size;
    for (std::size_t k = 0; k < num_inputs; ++k)
      s.stride[k * s.width + j] = s.raw_stride[k * R + d];
  }
  if (r == 0) {  // a single element: every input is read in place
    s.dims[0] = 1;
    for (std::size_t k = 0; k < num_inputs; ++k) s.stride[k * s.width] = 1;
    r = 1;
  }
  s.index.assign(r, 0);
  return total;
}

// Assigns slots: an input read in place (compute dtype, contiguous along the row) needs none;
// another input that is used (broadcast along the row, or bool) keeps one for the whole call; an
// instruction's slot returns to the pool after its register's last use, and may be the slot of
// one of its own operands (the batch functions allow y == operand). Returns the slot count.
template <class T>
int assign_slots(const KernelContext& c, const std::vector<std::int64_t>& program,
                 const std::vector<std::int64_t>& outputs, const std::vector<std::int64_t>& stores,
                 const std::vector<std::int64_t>& reductions, Scratch<T>& s) {
  const std::size_t num_inputs = c.inputs.size();
  const std::size_t num_instructions = program.size() / 4;
  const std::size_t num_registers = num_inputs + num_instructions;
  const std::size_t rank = s.index.size();
  Scratch<T>::fit(s.last_use, num_registers);
  Scratch<T>::fit(s.slot_of, num_registers);
  Scratch<T>::fit(s.reg, num_registers);
  std::fill_n(s.last_use.begin(), num_registers, -1);
  for (std::size_t i = 0; i < num_instructions; ++i)
    for (std::size_t k = 1; k < 4; ++k)
      if (is_register_field(static_cast<FusedOpcode>(program[4 * i]), k) && program[4 * i + k] >= 0)
        s.last_use[static_cast<std::size_t>(program[4 * i + k])] = static_cast<int>(i);
  const int end = static_cast<int>(num_instructions);
  for (std::int64_t reg : outputs) s.last_use[static_cast<std::size_t>(reg)] = end;
  for (std::size_t j = 0; j < stores.size(); j += 2)
    s.last_use[static_cast<std::size_t>(stores[j])] = end;
  for (std::size_t j = 0; j < reductions.size(); j += 4)
    s.last_use[static_cast<std::size_t>(reductions[j])] = end;

  int num_slots = 0;
  for (std::size_t k = 0; k < num_inputs; ++k) {
    // Packed blocks span rows: in place only if the next row follows in memory.
    bool in_place = c.inputs[k]->dtype() == dtype_of_v<T> &&
                    s.stride[k * s.width + rank - 1] == 1 &&
                    (!s.packed || s.stride[k * s.width + rank - 2] == s.dims[rank - 1]);
    s.slot_of[k] = s.last_use[k] < 0 || in_place ? -1 : num_slots++;
  }
  s.free_slots.clear();
  for (std::size_t i = 0; i < num_instructions; ++i) {
    const std::int64_t* ins = &program[4 * i];
    for (std::size_t k = 1; k < 4; ++k) {
      std::int64_t v = ins[k];
      bool first_mention = (k < 2 || ins[1] != v) && (k < 3 || ins[2] != v);
      if (!is_register_field(static_cast<FusedOpcode>(ins[0]), k) ||
          v < static_cast<std::int64_t>(num_inputs) || !first_mention)
        continue;
      if (s.last_use[static_cast<std::size_t>(v)] == static_cast<int>(i))
        s.free_slots.push_back(s.slot_of[static_cast<std::size_t>(v)]);
    }
    const std::size_t self = num_inputs + i;
    if (s.free_slots.empty()) {
      s.slot_of[self] = num_slots++;
    } else {
      s.slot_of[self] = s.free_slots.back();
      s.free_slots.pop_back();
    }
    if (s.last_use[self] < 0) s.free_slots.push_back(s.slot_of[self]);  // never read
  }
  return num_slots;
}

// What a fused node's run works out from its attributes and its inputs' shapes: done on each
// call by the plain kernel (in per-thread scratch), once per binding by the prepare step.
template <class T>
struct Layout {
  const std::vector<std::int64_t>* program = nullptr;
  const std::vector<std::int64_t>* outputs = nullptr;
  const std::vector<std::int64_t>* stores = nullptr;
  const std::vector<std::int64_t>* reductions = nullptr;
  const double* constants = nullptr;
  std::int64_t total = 0;
  int num_slots = 0;
  Scratch<T> s;  // everything but the slots' memory
};

template <class T>
void lay_out(const KernelContext& c, Layout<T>& l) {
  const AttrMap& attrs = c.attrs();
  l.program = &attrs.get_ints("program");
  l.outputs = &attrs.get_ints("outputs");
  l.stores = &attrs.get_ints("stores");
  l.reductions = &attrs.get_ints("reductions");
  l.constants = attrs.get_tensor("constants").data<double>();
  Scratch<T>& s = l.s;
  const std::vector<std::int64_t>& reductions = *l.reductions;
  const std::size_t num_reductions = reductions.size() / 4;
  l.total = collapse(c, s);
  {
    const std::size_t rank = s.index.size();
    s.packed = rank >= 2 && 2 * static_cast<std::size_t>(s.dims[rank - 1]) <= kBlock<T>;
  }
  // Reductions: running sums of each one's kept size (the full shape after its leading axes).
  Scratch<T>::fit(s.kept, num_reductions);
  Scratch<T>::fit(s.first, num_reductions);
  std::size_t num_sums = 0, full_rank = 0;
  for (const Tensor* t : c.inputs)
    full_rank = std::max(full_rank, static_cast<std::size_t>(t->shape().rank()));
  for (std::size_t r = 0; r < num_reductions; ++r) {
    std::size_t kept = 1;
    for (auto d = static_cast<std::size_t>(reductions[4 * r + 2]); d < full_rank; ++d)
      kept *= static_cast<std::size_t>(s.full[d]);
    s.kept[r] = kept;
    s.first[r] = num_sums;
    num_sums += kept;
  }
  Scratch<T>::fit(s.sums, num_sums);
  l.num_slots = l.total == 0 ? 0 : assign_slots(c, *l.program, *l.outputs, *l.stores, reductions, s);
  Scratch<T>::fit(s.offset, c.inputs.size());
}

// Runs rows [row_begin, row_end) of a laid-out node (of its collapsed shape; with elements
// [start_begin, start_end) of each row), with the scratch state `s` and the slots' memory
// `slot_memory`, adding its reductions into s.sums.
template <class T>
void run_range(KernelContext& c, const Layout<T>& l, Scratch<T>& s,
               std::vector<T, xsimd::aligned_allocator<T>>& slot_memory, std::int64_t row_begin,
               std::int64_t row_end, std::int64_t start_begin, std::int64_t start_end) {
  const std::vector<std::int64_t>& program = *l.program;
  const std::vector<std::int64_t>& outputs = *l.outputs;
  const std::vector<std::int64_t>& stores = *l.stores;
  const std::vector<std::int64_t>& reductions = *l.reductions;
  const std::size_t num_reductions = reductions.size() / 4;
  const double* constants = l.constants;
  const std::size_t num_inputs = c.inputs.size();
  const std::size_t num_instructions = program.size() / 4;
  const std::size_t num_registers = num_inputs + num_instructions;
  const std::size_t rank = s.index.size();
  const std::int64_t n = s.dims[rank - 1];  // elements per row
  Scratch<T>::fit(slot_memory, static_cast<std::size_t>(l.num_slots) * kBlock<T>);
  auto slot = [&](std::size_t reg) {
    return slot_memory.data() + static_cast<std::size_t>(s.slot_of[reg]) * kBlock<T>;
  };
  for (std::size_t reg = num_inputs; reg < num_registers; ++reg) s.reg[reg] = slot(reg);
  // The odometer at row row_begin: its index over the outer dims and each input's offset.
  std::fill_n(s.offset.begin(), num_inputs, 0);
  {
    std::int64_t rest = row_begin;
    for (std::size_t d = rank - 1; d-- > 0;) {
      s.index[d] = rest % s.dims[d];
      rest /= s.dims[d];
      for (std::size_t k = 0; k < num_inputs; ++k)
        s.offset[k] += s.stride[k * s.width + d] * s.index[d];
    }
    s.index[rank - 1] = 0;
  }
  // Compute one block of len elements whose inputs' registers are set, then write its outputs
  // (flat position at), stores and reductions.
  auto compute_and_write = [&](std::int64_t at, std::size_t len) {
    for (std::size_t i = 0; i < num_instructions; ++i) {
      const std::int64_t* ins = &program[4 * i];
      auto operand = [&](std::size_t k) -> const T* {
        return is_register_field(static_cast<FusedOpcode>(ins[0]), k) && ins[k] >= 0
                   ? s.reg[static_cast<std::size_t>(ins[k])]
                   : nullptr;
      };
      execute<T>(ins, constants, slot(num_inputs + i), len, operand(1), operand(2), operand(3));
    }
    for (std::size_t o = 0; o < outputs.size(); ++o) {
      const T* v = s.reg[static_cast<std::size_t>(outputs[o])];
      std::copy(v, v + len, c.outputs[o]->data<T>() + at);
    }
    for (std::size_t j = 0; j < stores.size(); j += 2) {
      const T* v = s.reg[static_cast<std::size_t>(stores[j])];
      std::copy(v, v + len, c.inputs[static_cast<std::size_t>(stores[j + 1])]->data<T>() + at);
    }
    for (std::size_t r = 0; r < num_reductions; ++r) {
      const T* v = s.reg[static_cast<std::size_t>(reductions[4 * r])];
      T* sums = s.sums.data() + s.first[r];
      const std::size_t kept = s.kept[r];
      const std::size_t column = static_cast<std::size_t>(at) % kept;
      std::size_t j = 0;
      if (column != 0) {  // the rest of the row the block starts in
        j = std::min(len, kept - column);
        add_into(sums + column, v, j);
      }
      for (; len - j >= 4 * kept; j += 4 * kept) add_four_rows(sums, v + j, kept);
      for (; len - j >= kept; j += kept) add_into(sums, v + j, kept);
      if (j < len) add_into(sums, v + j, len - j);  // the start of the row it ends in
    }
  };
  // Advance the odometer over dims [0, from] by `by` steps of dim `from`.
  auto advance = [&](std::size_t from, std::int64_t by) {
    for (std::size_t k = 0; k < num_inputs; ++k) s.offset[k] += s.stride[k * s.width + from] * by;
    s.index[from] += by;
    if (s.index[from] < s.dims[from]) return;
    for (std::size_t k = 0; k < num_inputs; ++k)
      s.offset[k] -= s.stride[k * s.width + from] * s.dims[from];
    s.index[from] = 0;
    for (std::size_t d = from; d-- > 0;) {
      for (std::size_t k = 0; k < num_inputs; ++k) s.offset[k] += s.stride[k * s.width + d];
      if (++s.index[d] < s.dims[d]) return;
      for (std::size_t k = 0; k < num_inputs; ++k)
        s.offset[k] -= s.stride[k * s.width + d] * s.dims[d];
      s.index[d] = 0;
    }
  };
  if (s.packed) {
    // Blocks of up to kBlock / n whole rows along the second-last dim (never across it, so each
    // input steps by one stride per row). The outputs and reductions see the same elements in
    // the same order as row by row.
    const std::int64_t inner = s.dims[rank - 2];
    const std::int64_t group =
        std::min<std::int64_t>(static_cast<std::int64_t>(kBlock<T>) / n, inner);
    Scratch<T>::fit(s.filled_at, num_inputs);
    Scratch<T>::fit(s.filled_len, num_inputs);
    std::fill_n(s.filled_at.begin(), num_inputs, -1);
    for (std::int64_t at = row_begin * n, end = row_end * n; at < end;) {
      const std::int64_t rows_here =
          std::min({group, inner - s.index[rank - 2], (end - at) / n});
      const auto len = static_cast<std::size_t>(rows_here * n);
      for (std::size_t k = 0; k < num_inputs; ++k) {
        if (s.last_use[k] < 0) continue;
        const Tensor& t = *c.inputs[k];
        if (s.slot_of[k] < 0) {
          s.reg[k] = t.data<T>() + s.offset[k];
          continue;
        }
        T* y = slot(k);
        s.reg[k] = y;
        const std::int64_t row_step = s.stride[k * s.width + rank - 2];
        const bool broadcast = s.stride[k * s.width + rank - 1] == 0;
        // Rows that repeat (no step between them) stay valid while the offset does.
        if (row_step == 0 && s.filled_at[k] == s.offset[k] && s.filled_len[k] >= len) continue;
        for (std::int64_t i = 0; i < rows_here; ++i) {
          const std::int64_t from = s.offset[k] + i * row_step;
          T* dst = y + i * n;
          if (t.dtype() == DType::boolean) {
            const bool* p = t.data<bool>() + from;
            if (broadcast)
              fill(dst, static_cast<std::size_t>(n), *p ? T(1) : T(0));
            else
              for (std::int64_t j = 0; j < n; ++j) dst[j] = p[j] ? T(1) : T(0);
          } else if (broadcast) {
            fill(dst, static_cast<std::size_t>(n), t.data<T>()[from]);
          } else {
            std::copy_n(t.data<T>() + from, n, dst);
          }
        }
        s.filled_at[k] = row_step == 0 ? s.offset[k] : -1;
        s.filled_len[k] = len;
      }
      compute_and_write(at, len);
      at += static_cast<std::int64_t>(len);
      advance(rank - 2, rows_here);
    }
    return;
  }
  for (std::int64_t row = row_begin; row < row_end; ++row) {
    for (std::int64_t start = start_begin; start < start_end;
         start += static_cast<std::int64_t>(kBlock<T>)) {
      const auto len = static_cast<std::size_t>(
          std::min<std::int64_t>(static_cast<std::int64_t>(kBlock<T>), start_end - start));
      // Load: point at an input in place, or fill its slot (a broadcast value once per row).
      for (std::size_t k = 0; k < num_inputs; ++k) {
        if (s.last_use[k] < 0) continue;
        const Tensor& t = *c.inputs[k];
        const std::int64_t at = s.offset[k] + start;
        const bool broadcast = s.stride[k * s.width + rank - 1] == 0;
        if (s.slot_of[k] < 0) {
          s.reg[k] = t.data<T>() + at;
          continue;
        }
        T* y = slot(k);
        s.reg[k] = y;
        if (broadcast && start > start_begin) continue;  // filled at the row's first block
        std::size_t count =
            broadcast ? std::min<std::size_t>(kBlock<T>, static_cast<std::size_t>(n)) : len;
        // A broadcast value is at the row's offset, whichever block of the row this is.
        const std::int64_t from = broadcast ? s.offset[k] : at;
        if (t.dtype() == DType::boolean) {
          const bool* p = t.data<bool>() + from;
          if (broadcast)
            fill(y, count, *p ? T(1) : T(0));
          else
            for (std::size_t j = 0; j < count; ++j) y[j] = p[j] ? T(1) : T(0);
        } else {
          fill(y, count, t.data<T>()[from]);
        }
      }
      compute_and_write(row * n + start, len);
    }
    // Next row: advance the odometer over the outer dims.
    for (std::size_t d = rank - 1; d-- > 0;) {
      for (std::size_t k = 0; k < num_inputs; ++k) s.offset[k] += s.stride[k * s.width + d];
      if (++s.index[d] < s.dims[d]) break;
      for (std::size_t k = 0; k < num_inputs; ++k)
        s.offset[k] -= s.stride[k * s.width + d] * s.dims[d];
      s.index[d] = 0;
    }
  }
}

// Runs a laid-out node; `slots` is working memory (per thread), grown as needed.
template <class T>
void run_laid_out(KernelContext& c, Layout<T>& l,
                  std::vector<T, xsimd::aligned_allocator<T>>& slot_memory) {
  Scratch<T>& s = l.s;
  const std::vector<std::int64_t>& outputs = *l.outputs;
  const std::vector<std::int64_t>& reductions = *l.reductions;
  const std::size_t num_reductions = reductions.size() / 4;
  const std::int64_t total = l.total;
  std::size_t num_sums = 0;
  for (std::size_t r = 0; r < num_reductions; ++r) num_sums += s.kept[r];
  std::fill_n(s.sums.begin(), num_sums, T(0));
  auto write_reductions = [&] {
    for (std::size_t r = 0; r < num_reductions; ++r) {
      const T* sums = s.sums.data() + s.first[r];
      T* y = c.outputs[outputs.size() + r]->data<T>();
      const std::size_t kept = s.kept[r];
      if (reductions[4 * r + 1] == static_cast<std::int64_t>(FusedReduction::Mean) && total > 0) {
        // As mean's kernel: the sum times 1/count, both in the compute dtype.
        const T scale = T(1) / static_cast<T>(static_cast<std::size_t>(total) / kept);
        for (std::size_t j = 0; j < kept; ++j) y[j] = sums[j] * scale;
      } else {
        std::copy(sums, sums + kept, y);
      }
    }
  };
  if (total == 0) {
    write_reductions();  // sums over no rows: 0
    return;
  }
  const std::size_t rank = s.index.size();
  const std::int64_t n = s.dims[rank - 1];  // elements per row
  const std::int64_t rows = total / n;
  // Large nodes without reductions run as parts over disjoint ranges of rows (of blocks when
  // there is one row), each part on its own thread with its own copy of the scratch state: every
  // element is computed as on one thread, so the bits do not depend on the thread count. Nodes
  // with reductions stay on one thread, so that their sums keep one order.
  const std::int64_t units = rows > 1 ? rows : (n + static_cast<std::int64_t>(kBlock<T>) - 1) /
                                                   static_cast<std::int64_t>(kBlock<T>);
  int parts = 1;
  if (num_reductions == 0 && total >= kSplitElements)
    parts = static_cast<int>(std::min<std::int64_t>(num_threads(), units));
  if (parts <= 1) {
    run_range(c, l, s, slot_memory, 0, rows, 0, n);
    write_reductions();
    return;
  }
  run_parts(parts, [&](int p) {
    const std::int64_t base = units / parts, extra = units % parts;
    const std::int64_t first = p * base + std::min<std::int64_t>(p, extra);
    const std::int64_t last = first + base + (p < extra ? 1 : 0);
    thread_local std::vector<T, xsimd::aligned_allocator<T>> memory;
    Scratch<T> local = s;
    if (rows > 1) {
      run_range(c, l, local, memory, first, last, 0, n);
    } else {
      const auto block = static_cast<std::int64_t>(kBlock<T>);
      run_range(c, l, local, memory, 0, 1, first * block, std::min(n, last * block));
    }
  });
}

template <class T>
void run_typed(KernelContext& c) {
  thread_local Layout<T> layout;
  thread_local std::vector<T, xsimd::aligned_allocator<T>> slot_memory;
  lay_out(c, layout);
  run_laid_out(c, layout, slot_memory);
}

// The prepare step: the attributes, the collapsed shape and the register slots worked out once
// per binding; the slots' memory stays per thread, shared by every fused node.
template <class T>
class PreparedFused final : public PreparedKernel {
 public:
  explicit PreparedFused(const KernelContext& c) { lay_out(c, layout_); }
  void run(KernelContext& c) override {
    thread_local std::vector<T, xsimd::aligned_allocator<T>> slot_memory;
    run_laid_out(c, layout_, slot_memory);
  }

 private:
  Layout<T> layout_;
};

// One kernel for every dispatch dtype (input 0 may be bool): the dtype attribute decides.
void run(KernelContext& c) {
  if (c.attrs().get_dtype("dtype") == DType::float64)
    run_typed<double>(c);
  else
    run_typed<float>(c);
}

}  // namespace

void run_fused_elementwise(KernelContext& c) {
  run(c);
}

void set_fused_elementwise_kernels(OpRecord& record) {
  for (DType d : {DType::float32, DType::float64, DType::boolean})
    record.kernels[static_cast<std::size_t>(d)] = &run;
  record.prepare = [](const KernelContext& c) -> std::unique_ptr<PreparedKernel> {
    if (c.attrs().get_dtype("dtype") == DType::float64)
      return std::make_unique<PreparedFused<double>>(c);
    return std::make_unique<PreparedFused<float>>(c);
  };
}

}  // namespace dagrad::kernels
