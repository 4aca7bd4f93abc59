// The op registry: one record per op holds its signature, attribute schema, shape-and-dtype
// function, one kernel per dtype and its gradient rule. Built-in ops and user plugins register
// through exactly this API (see ops/ for examples and examples/custom_op for a plugin).
#pragma once

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "attr.hpp"
#include "dtype.hpp"
#include "shape.hpp"
#include "tensor.hpp"

namespace dagrad {

struct Node;
class Graph;
struct Output;

// What a shape function sees: input dtypes and shapes (possibly with unknown dimensions at
// build time, always fully defined at run time) and the node's attributes. It reports each
// output with set_output and rejects bad inputs by throwing ShapeError (or std::invalid_argument)
// with a message; the graph adds node, op, input shapes and creation site.
class ShapeContext {
 public:
  struct InputInfo {
    DType dtype;
    Shape shape;
    bool is_variable;  // produced directly by a variable node
  };
  ShapeContext(std::span<const InputInfo> inputs, const AttrMap& attrs, int num_outputs);

  int num_inputs() const { return static_cast<int>(inputs_.size()); }
  // Each throws GraphError naming the index and the input count when i is out of range.
  DType input_dtype(int i) const { return input(i).dtype; }
  const Shape& input_shape(int i) const { return input(i).shape; }
  bool input_is_variable(int i) const { return input(i).is_variable; }
  const AttrMap& attrs() const { return attrs_; }

  // Throws ShapeError when the output's size overflows (checked_nbytes, unknown dimensions
  // counted as 1).
  void set_output(int i, DType dtype, Shape shape);
  // Convenience checks that throw ShapeError with a message naming the input.
  void expect_dtype(int i, DType dtype) const;
  void expect_floating(int i) const;
  void expect_same_dtype(int i, int j) const;
  void expect_rank(int i, int rank) const;

  struct OutputInfo {
    DType dtype = DType::float32;
    Shape shape;
    bool set = false;
  };
  const std::vector<OutputInfo>& outputs() const { return outputs_; }

 private:
  const InputInfo& input(int i) const;

  std::span<const InputInfo> inputs_;
  const AttrMap& attrs_;
  std::vector<OutputInfo> outputs_;
};

// What a kernel sees: the node, its input values and preallocated outputs whose shapes the
// shape function computed. Kernels must not allocate tensors of their own in the hot path.
struct KernelContext {
  const Node& node;
  std::span<const Tensor* const> inputs;
  std::span<Tensor* const> outputs;
  std::mt19937_64* rng;  // per-node generator for ops marked uses_rng, else null

  const Tensor& input(int i) const { return *inputs[static_cast<std::size_t>(i)]; }
  Tensor& output(int i) const { return *outputs[static_cast<std::size_t>(i)]; }
  const AttrMap& attrs() const;
};

using ShapeFn = std::function<void(ShapeContext&)>;
using KernelFn = void (*)(KernelContext&);

// A kernel made ready for one node at one set of bound shapes: typed attributes read and loop
// plans worked out once, then run on every step of that binding.
class PreparedKernel {
 public:
  virtual ~PreparedKernel() = default;
  virtual void run(KernelContext& ctx) = 0;
};
// An op's optional prepare step, called when a plan binds shapes: the context's tensors have
// their shapes and dtypes (their values are not set yet). Returns null to run the kernel as is.
using PrepareFn = std::unique_ptr<PreparedKernel> (*)(const KernelContext& ctx);
// Builds the gradients of a node's inputs from the gradients of its outputs, with the public
// graph API; returns one Output per input (an invalid Output for "no gradient"). needs_gradient[i]
// says whether the walk uses input i's gradient: a rule builds nothing for the others (their
// nodes would be dead) and may return an invalid Output there. Each returned gradient has its
// input's dtype and its shape or a broadcast of it (the walk sums it back). Filled by the
// autodiff module's rules.
using GradientFn = std::function<std::vector<Output>(Graph& graph, const Node& node,
                                                     std::span<const Output> output_gradients,
                                                     const std::vector<bool>& needs_gradient)>;

// One configuration the gradient checker runs an op in.
struct GradCheckSample {
  std::vector<Shape> shapes;  // per input, at build time; a -1 dimension is unknown
  AttrMap attrs;
  std::vector<Tensor>
      fixed;  // per leading input (may be shorter): a defined tensor is used as given, not drawn
  std::string note;  // "broadcast", "unknown batch", ...
  // Per input, the run-time shape to feed (each compatible with shapes[i]); when empty, every
  // unknown dimension is fed as 3.
  std::vector<Shape> feed_shapes = {};
};

// How the gradient checker exercises an op, declared with the op so that a new op is checked
// without new test code.
struct GradCheckSpec {
  double low = -2.0, high = 2.0;  // float inputs are drawn from U[low, high] ...
  std::vector<double> kinks;      // ... at least kink_margin away from each kink
  double kink_margin = 0.05;
  bool distinct_inputs = false;  // redraw until |input0 - input1| > kink_margin (maximum, minimum)
  // Each float input's elements are a random permutation of size evenly spaced values in
  // [low, high], so no two tie (max_pool2d: a window's max must be unique to be differentiable).
  bool distinct_elements = false;
  double rtol = 1e-6, atol = 1e-9, eps = 1e-6;
  bool zero_gradient_expected = false;  // sign: zero everywhere is the right answer
  std::vector<GradCheckSample> samples;
};

// How the executor treats a node beyond calling its kernel.
enum class OpRole {
  Compute,      // runs its kernel into preallocated outputs
  Placeholder,  // value comes from a feed
  Constant,     // value is the attribute "value", bound once at compile time
  Variable,     // value is persistent session state
};

struct OpRecord {
  std::string name;
  std::vector<std::string> input_names;
  bool variadic_inputs = false;  // input_names holds one entry that may repeat (>= min_inputs)
  int min_inputs = 0;
  std::vector<std::string> output_names{"y"};
  // Set for ops whose number of outputs its attributes give (fused_elementwise): the count for
  // a node's checked attributes (>= 0; throw std::invalid_argument naming a bad attribute).
  // output_names then holds one entry that repeats, and kernels dispatch on an input.
  std::function<int(const AttrMap&)> output_count;
  // Set for ops that write some inputs in place as their attributes say (fused_elementwise's
  // stores): those inputs' indices, for a node's attributes. Executors and passes treat them as
  // writes of the variables fed there, as writes_input0 is for input 0.
  std::function<std::vector<int>(const AttrMap&)> written_inputs;
  std::vector<AttrSpec> attrs;
  ShapeFn shape_fn;
  std::array<KernelFn, kNumDTypes> kernels{};  // indexed by the dispatch dtype
  PrepareFn prepare = nullptr;  // optional: see PrepareFn; runs instead of the kernel
  // Which dtype selects the kernel: input number dispatch_input, or output 0 when -1.
  int dispatch_input = -1;
  GradientFn gradient;
  // Inputs that broadcast against each other by NumPy rules, possibly only at run time ((?, 3)
  // and (?, 3) fed (4, 3) and (1, 3)): autodiff sums their gradients back to the input's
  // run-time shape. Any other input's gradient is summed back only where its build-time shape
  // differs from the input's.
  std::vector<int> broadcasting_inputs;
  GradCheckSpec gradcheck;
  // Set instead of a gradient for ops that have none by nature (comparisons, argmax, random).
  std::string not_differentiable_reason;
  OpRole role = OpRole::Compute;
  bool stateful = false;               // never merged or folded by passes
  bool uses_rng = false;               // gets a seeded per-node generator (attrs "seed")
  bool writes_input0 = false;          // updates the variable fed as input 0 in place
  bool overwrites_input0 = false;      // writes input 0 without reading it (assign: initializes it)
  bool output_aliases_input0 = false;  // output 0 is input 0's buffer (no allocation)
  std::string summary;                 // one line for docs and `dagrad ops`

  KernelFn kernel_for(DType dtype) const { return kernels[static_cast<std::size_t>(dtype)]; }
  bool has_kernel() const {
    for (KernelFn k : kernels)
      if (k) return true;
    return false;
  }
};

class OpRegistry {
 public:
  // Validates the record (name, arity, attribute defaults match their kinds, a shape function,
  // at least one kernel for compute ops, not both a gradient and a not-differentiable reason)
  // and adds it. Throws
  // GraphError naming the op and the problem, including a duplicate name.
  void add(OpRecord record);
  // Null when absent.
  const OpRecord* find(std::string_view name) const;
  // Throws GraphError naming the unknown op.
  const OpRecord& get(std::string_view name) const;
  std::vector<std::string> names() const;

 private:
  std::map<std::string, std::unique_ptr<OpRecord>, std::less<>> records_;
};

}  // namespace dagrad
