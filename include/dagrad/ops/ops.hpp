// The built-in ops: registration, and the builder functions users call to add nodes.
// Every builder checks shapes and dtypes as it adds its node (ShapeError on mismatch) and takes
// an optional node name; the node also records the caller's source location.
#pragma once

#include <cstdint>
#include <source_location>
#include <string>
#include <vector>

#include "../graph/distributed.hpp"
#include "../graph/flag.hpp"
#include "../graph/graph.hpp"
#include "../graph/op_registry.hpp"
#include "../graph/tensor.hpp"

namespace dagrad {

// Adds every built-in op to `registry` (explicitly, not through static initializers).
void register_builtin_ops(OpRegistry& registry);
// The process-wide registry: built-in ops on first use, plus whatever plugins add to it.
// Graph's default constructor uses it.
OpRegistry& default_registry();

// Per-family registration, called by register_builtin_ops.
void register_state_ops(OpRegistry& registry);
void register_elementwise_ops(OpRegistry& registry);
void register_binary_ops(OpRegistry& registry);
void register_reduce_ops(OpRegistry& registry);
void register_linalg_ops(OpRegistry& registry);
void register_shape_ops(OpRegistry& registry);
// Called by register_shape_ops (ops/indexing.cpp: concat, slice, pad, gather, scatter_add,
// one_hot).
void register_indexing_ops(OpRegistry& registry);
void register_nn_ops(OpRegistry& registry);
void register_random_ops(OpRegistry& registry);
void register_collective_ops(OpRegistry& registry);
void register_pool_ops(OpRegistry& registry);
void register_conv_ops(OpRegistry& registry);

// The optional base name of the node a builder adds, and the caller's source location
// (captured implicitly where the builder is called).
struct OpName {
  std::string name;
  std::source_location loc;
  OpName(const char* n = "", std::source_location l = std::source_location::current())
      : name(n), loc(l) {}
  OpName(std::string n, std::source_location l = std::source_location::current())
      : name(std::move(n)), loc(l) {}
};

// ---- state (ops/state.cpp) ----
// A value fed at run time; unknown dimensions are -1 (Shape::kUnknown).
Output placeholder(Graph& g, DType dtype, Shape shape, OpName name = {});
Output constant(Graph& g, Tensor value, OpName name = {});
// A scalar constant of the given dtype.
// The scalar rule, for every number that becomes an element of a dtype (scalar, the number in
// `x * 0.5`, fill, one_hot's values): it must be representable, never silently truncated.
// Integer dtypes take whole finite numbers within their range (int * 2.0 is exact, int * 0.5
// and int32 + 1e10 are errors), bool takes 0 and 1, float32 any value that stays finite when
// it was finite, float64 any value. Otherwise a ShapeError names the op, the dtype, the value
// and the creation site.
Output scalar(Graph& g, double value, DType dtype = DType::float32, OpName name = {});
// A variable initialized by running `initial_value` (any output of a fully defined shape)
// when the session initializes variables. Returns the variable's output (its current value).
// Trainable and in no collection unless `options` say otherwise (Graph::variables_in).
Output variable(Output initial_value, OpName name = {});
Output variable(Graph& g, Tensor initial_value, OpName name = {});
Output variable(Output initial_value, VariableOptions options, OpName name = {});
Output variable(Graph& g, Tensor initial_value, VariableOptions options, OpName name = {});
// Writes `value` into `var` in place and returns the variable's new value.
Output assign(Output var, Output value, OpName name = {});
Output assign_add(Output var, Output value, OpName name = {});
Output assign_sub(Output var, Output value, OpName name = {});
Output identity(Output x, OpName name = {});
Output stop_gradient(Output x, OpName name = {});
// A node without outputs that runs after all of `deps`: run it as a target, or use it in
// control_dependencies. It has no value, so the result is an Operation, not an Output.
Operation group(Graph& g, const std::vector<Operation>& deps, OpName name = {});

// ---- elementwise (ops/elementwise.cpp) ----
Output neg(Output x, OpName name = {});
Output abs(Output x, OpName name = {});
Output sign(Output x, OpName name = {});
Output exp(Output x, OpName name = {});
Output log(Output x, OpName name = {});
Output log1p(Output x, OpName name = {});
Output sqrt(Output x, OpName name = {});
Output rsqrt(Output x, OpName name = {});
Output square(Output x, OpName name = {});
Output reciprocal(Output x, OpName name = {});
Output sigmoid(Output x, OpName name = {});
Output tanh(Output x, OpName name = {});
Output relu(Output x, OpName name = {});
Output softplus(Output x, OpName name = {});
Output elu(Output x, double alpha = 1.0, OpName name = {});
Output selu(Output x, OpName name = {});
Output leaky_relu(Output x, double alpha = 0.2, OpName name = {});

// ---- binary, NumPy broadcasting (ops/binary.cpp) ----
Output add(Output a, Output b, OpName name = {});
Output sub(Output a, Output b, OpName name = {});
Output mul(Output a, Output b, OpName name = {});
Output div(Output a, Output b, OpName name = {});
Output pow(Output a, Output b, OpName name = {});
Output maximum(Output a, Output b, OpName name = {});
Output minimum(Output a, Output b, OpName name = {});
Output greater(Output a, Output b, OpName name = {});
Output greater_equal(Output a, Output b, OpName name = {});
Output less(Output a, Output b, OpName name = {});
Output less_equal(Output a, Output b, OpName name = {});
Output equal(Output a, Output b, OpName name = {});
// x0 + x1 + ... for inputs of one dtype and shape (no broadcasting), in one pass.
Output add_n(const std::vector<Output>& xs, OpName name = {});
// Elementwise select: cond ? x : y, all three broadcast together; cond is bool.
Output where(Output cond, Output x, Output y, OpName name = {});

// ---- reductions (ops/reduce.cpp); empty axes = all axes; negative axes count from the end ----
Output sum(Output x, std::vector<std::int64_t> axes = {}, Flag keepdims = false, OpName name = {});
Output mean(Output x, std::vector<std::int64_t> axes = {}, Flag keepdims = false, OpName name = {});
Output max(Output x, std::vector<std::int64_t> axes = {}, Flag keepdims = false, OpName name = {});
Output min(Output x, std::vector<std::int64_t> axes = {}, Flag keepdims = false, OpName name = {});
// x summed over the axes along which `like` broadcasts to x: the result has like's (run-time)
// shape. The inverse of broadcast_like; autodiff uses it to undo broadcasting.
Output sum_to(Output x, Output like, OpName name = {});
// Index of the largest element along `axis` (first one on ties), as int64.
Output argmax(Output x, std::int64_t axis = -1, OpName name = {});

// ---- linear algebra (ops/linalg.cpp) ----
// (m,k)x(k,n) -> (m,n); rank > 2 inputs are batches of matrices with equal (or broadcast
// rank-2) leading dimensions. BLAS gemm writes into the preallocated output.
Output matmul(Output a, Output b, Flag transpose_a = false, Flag transpose_b = false,
              OpName name = {});

// ---- convolution (ops/conv.cpp): NHWC inputs, HWIO kernels, as Keras and TensorFlow ----
// Strides and dilations are [height, width]; padding "valid" (windows inside the input:
// OH = (H - ((KH-1)*dh+1)) / sh + 1) or "same" (OH = ceil(H / sh), zeros around the input, the
// odd one at the bottom and right). Strides and dilations may both exceed 1.
struct Conv2DOptions {
  std::vector<std::int64_t> strides{1, 1};
  std::string padding = "valid";
  std::vector<std::int64_t> dilations{1, 1};
};
// x (N, H, W, C_in), kernel (KH, KW, C_in, C_out) -> (N, OH, OW, C_out): cross-correlation,
// as Keras's Conv2D (no kernel flip).
Output conv2d(Output x, Output kernel, Conv2DOptions options = {}, OpName name = {});
// conv2d's gradient with respect to x: dy (N, OH, OW, C_out), kernel -> (N, H, W, C_in).
// input_shape gives x's H, W and C_in (a stride makes them ambiguous from dy); its batch may be
// -1: the output's batch is dy's, at build time and at each run.
Output conv2d_backprop_input(Output dy, Output kernel, Shape input_shape,
                             Conv2DOptions options = {}, OpName name = {});
// conv2d's gradient with respect to the kernel: x, dy -> kernel_shape (fully defined).
Output conv2d_backprop_filter(Output x, Output dy, Shape kernel_shape, Conv2DOptions options = {},
                              OpName name = {});

// ---- shape and indexing (ops/shape.cpp) ----
// perm empty = reverse the axes.
Output transpose(Output x, std::vector<std::int64_t> perm = {}, OpName name = {});
// One dimension may be -1 (inferred); unknown input dimensions propagate.
Output reshape(Output x, std::vector<std::int64_t> shape, OpName name = {});
Output broadcast_to(Output x, std::vector<std::int64_t> shape, OpName name = {});
// x with the run-time shape of `like` (same number of elements; like's values are not read).
Output reshape_like(Output x, Output like, OpName name = {});
// x with dimensions of size 1 inserted at `axes`, positions in the result (negative from the end).
Output expand_dims(Output x, std::vector<std::int64_t> axes, OpName name = {});
// x broadcast to the run-time shape of `like` (whose values are not read).
Output broadcast_like(Output x, Output like, OpName name = {});
Output concat(const std::vector<Output>& xs, std::int64_t axis, OpName name = {});
// size -1 means "to the end of the axis".
Output slice(Output x, std::vector<std::int64_t> begin, std::vector<std::int64_t> size,
             OpName name = {});
// x with before[i] zeros ahead of it and after[i] zeros behind it along each axis i.
Output pad(Output x, std::vector<std::int64_t> before, std::vector<std::int64_t> after,
           OpName name = {});
// Rows of `params` along `axis` picked by integer `indices`, of shape
// params[:axis]+indices+params[axis+1:].
Output gather(Output params, Output indices, std::int64_t axis = 0, OpName name = {});
// Zeros of like's run-time shape (like's values are not read) with the rows of `updates`
// added at the rows `indices` picks along `axis`; repeated indices add up. `updates` has the
// shape gather(like, indices, axis) would have. The gradient of gather.
Output scatter_add(Output updates, Output indices, Output like, std::int64_t axis = 0,
                   OpName name = {});
Output one_hot(Output indices, std::int64_t depth, DType dtype = DType::float32,
               double on_value = 1.0, double off_value = 0.0, OpName name = {});
Output cast(Output x, DType dtype, OpName name = {});
Output zeros_like(Output x, OpName name = {});
Output ones_like(Output x, OpName name = {});
// The number of elements of x, known at run time (so an unknown batch works), as an int64 scalar.
Output size(Output x, OpName name = {});
// A tensor of a fully defined shape filled with `value`.
Output fill(Graph& g, Shape shape, double value, DType dtype = DType::float32, OpName name = {});

// ---- neural-network ops (ops/nn_ops.cpp) ----
Output softmax(Output x, std::int64_t axis = -1, OpName name = {});
Output log_softmax(Output x, std::int64_t axis = -1, OpName name = {});
Output clip_by_value(Output x, double clip_min, double clip_max, OpName name = {});

// ---- 2-D pooling over NHWC tensors (ops/pool.cpp), with TensorFlow's geometry ----
// x is (N, H, W, C); pool_size [kh, kw]. Valid padding: OH = floor((H - kh) / sh) + 1 (the window
// must fit); same: OH = ceil(H / sh), padded by max((OH - 1) sh + kh - H, 0), the smaller half on
// top (and left). Sizes and strides must be positive; another padding is a ShapeError naming it.
struct Pool2DOptions {
  std::vector<std::int64_t> strides = {};  // [sh, sw]; empty = pool_size (Keras)
  std::string padding = "valid";           // "valid" or "same"
};
// The window's largest real cell: padded cells never win.
Output max_pool2d(Output x, std::vector<std::int64_t> pool_size, Pool2DOptions options = {},
                  OpName name = {});
// The mean of the window's real cells: with same padding, padded cells are not counted (TF).
// Global average pooling is mean(x, {1, 2}).
Output avg_pool2d(Output x, std::vector<std::int64_t> pool_size, Pool2DOptions options = {},
                  OpName name = {});
// max_pool2d's gradient (TF's MaxPoolGrad): zeros of x's shape with each dy added at its
// window's argmax in x, the first in row-major window order on ties (as TF's CPU kernel).
// y = max_pool2d(x) fixes the pooled shape; its values are not read (argmaxes come from x).
Output max_pool2d_grad(Output x, Output y, Output dy, std::vector<std::int64_t> pool_size,
                       Pool2DOptions options = {}, OpName name = {});
// The gradient of max_pool2d_grad in dy (TF's MaxPoolGradGrad): g, of x's shape, read at each
// window's argmax in x, giving y's shape.
Output max_pool2d_grad_grad(Output x, Output y, Output g, std::vector<std::int64_t> pool_size,
                            Pool2DOptions options = {}, OpName name = {});
// avg_pool2d's gradient: each dy spread equally over its window's real cells, into a tensor of
// like's run-time shape (like is avg_pool2d's input; its values are not read), so an unknown
// batch dimension works.
Output avg_pool2d_grad(Output dy, Output like, std::vector<std::int64_t> pool_size,
                       Pool2DOptions options = {}, OpName name = {});

// ---- random (ops/random.cpp): seed 0 = derived from the graph seed and the node ----
// Each takes either a fully defined `shape` or, with the *_like forms, the shape of `like`
// (known at run time, so an unknown batch dimension works).
Output random_uniform(Graph& g, Shape shape, double minval = 0.0, double maxval = 1.0,
                      DType dtype = DType::float32, std::int64_t seed = 0, OpName name = {});
Output random_normal(Graph& g, Shape shape, double mean = 0.0, double stddev = 1.0,
                     DType dtype = DType::float32, std::int64_t seed = 0, OpName name = {});
// Normal values redrawn until within two standard deviations of the mean.
Output truncated_normal(Graph& g, Shape shape, double mean = 0.0, double stddev = 1.0,
                        DType dtype = DType::float32, std::int64_t seed = 0, OpName name = {});
Output random_uniform_like(Output like, double minval = 0.0, double maxval = 1.0,
                           std::int64_t seed = 0, OpName name = {});
// 1 with probability p, else 0, in the dtype and shape of `like` (dropout masks).
Output bernoulli_like(Output like, double p, std::int64_t seed = 0, OpName name = {});

// ---- operators: the left operand records the caller's location ----
struct Operand {
  Output value;
  std::source_location loc;
  Operand(Output v, std::source_location l = std::source_location::current()) : value(v), loc(l) {}
};
Output operator+(Operand a, Output b);
Output operator-(Operand a, Output b);
Output operator*(Operand a, Output b);
Output operator/(Operand a, Output b);
Output operator-(Operand a);
// With a scalar, which becomes a constant of the other operand's dtype under the scalar rule
// (see scalar): int_tensor * 0.5 throws; cast to a float dtype first.
Output operator+(Operand a, double b);
Output operator-(Operand a, double b);
Output operator*(Operand a, double b);
Output operator/(Operand a, double b);
Output operator+(double a, Operand b);
Output operator-(double a, Operand b);
Output operator*(double a, Operand b);
Output operator/(double a, Operand b);

// ---- collectives over the ranks of a data-parallel job (ops/collective.cpp) ----
// Each is the identity in a process that did not call distributed::initialize(); every rank
// must run the same collectives in the same order (one graph, built the same way on each).
// The sum (or mean: floats only) of x over every rank, on every rank. Gradient: the same
// allreduce of dy.
Output allreduce(Output x, distributed::Reduction reduction, OpName name = {});
// Rank `root`'s x on every rank (x has the same shape everywhere). Gradient: reduce_to_root(dy).
Output broadcast(Output x, int root = 0, OpName name = {});
// On rank `root`, x summed over every rank; zeros on the others. Gradient: broadcast(dy).
Output reduce_to_root(Output x, int root = 0, OpName name = {});

}  // namespace dagrad
