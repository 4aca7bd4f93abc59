// Shape ops: transpose, reshape, broadcast_to, broadcast_like, reshape_like, expand_dims, cast,
// zeros_like, ones_like, fill, size. The indexing ops (concat, slice, pad, gather, scatter_add,
// one_hot) are in indexing.cpp; register_shape_ops registers both.
//
// These ops move elements without arithmetic, so their kernels are plain index loops over the
// row-major buffers (one strided-copy routine serves transpose and broadcasting) rather than
// xtensor views: a strided gather gains nothing from SIMD, and contiguous runs are copied with
// std::copy_n, which the compiler turns into memmove.
#include <cstring>
#include <string>

#include "shape_util.hpp"

namespace dagrad {

namespace {

using namespace shape_util;
using detail::input_of;

// Calls f(T{}) with the C++ type of `dtype`.
template <class F>
void visit_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::float32:
      f(float{});
      break;
    case DType::float64:
      f(double{});
      break;
    case DType::int32:
      f(std::int32_t{});
      break;
    case DType::int64:
      f(std::int64_t{});
      break;
    case DType::boolean:
      f(bool{});
      break;
  }
}

// ---- transpose ----

// The permutation with negative axes normalized; empty = reversed axes.
std::vector<int> resolve_perm(const std::vector<std::int64_t>& perm, int rank) {
  std::vector<int> out(static_cast<std::size_t>(rank));
  if (perm.empty()) {
    for (int i = 0; i < rank; ++i) out[static_cast<std::size_t>(i)] = rank - 1 - i;
    return out;
  }
  if (static_cast<int>(perm.size()) != rank)
    throw ShapeError("perm " + ints_to_string(perm) + " has " + std::to_string(perm.size()) +
                     " entries for an input of rank " + std::to_string(rank));
  std::vector<char> seen(static_cast<std::size_t>(rank), 0);
  for (int i = 0; i < rank; ++i) {
    auto p = perm[static_cast<std::size_t>(i)];
    if (p < -rank || p >= rank || seen[static_cast<std::size_t>(p < 0 ? p + rank : p)])
      throw ShapeError("perm " + ints_to_string(perm) + " is not a permutation of the " +
                       std::to_string(rank) + " axes");
    out[static_cast<std::size_t>(i)] = static_cast<int>(p < 0 ? p + rank : p);
    seen[static_cast<std::size_t>(out[static_cast<std::size_t>(i)])] = 1;
  }
  return out;
}

void transpose_shape(ShapeContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  expect_max_rank(in, "x");
  std::vector<int> perm = resolve_perm(ctx.attrs().get_ints("perm"), in.rank());
  std::vector<std::int64_t> out(perm.size());
  for (std::size_t i = 0; i < perm.size(); ++i) out[i] = in[perm[i]];
  ctx.set_output(0, ctx.input_dtype(0), Shape(std::move(out)));
}

struct TransposeKernel {
  template <class T>
  static void run(KernelContext& c) {
    const Tensor& x = c.input(0);
    Tensor& y = c.output(0);
    const int rank = x.shape().rank();
    const auto& perm = c.attrs().get_ints("perm");  // validated by the shape function
    Dims in_strides = strides_of(x.shape()), strides{};
    for (int i = 0; i < rank; ++i) {
      std::int64_t p = perm.empty() ? rank - 1 - i : perm[static_cast<std::size_t>(i)];
      strides[static_cast<std::size_t>(i)] =
          in_strides[static_cast<std::size_t>(p < 0 ? p + rank : p)];
    }
    strided_copy(y.data<T>(), strides_of(y.shape()), x.data<T>(), strides, rank,
                 dims_of(y.shape()));
  }
};

// ---- reshape ----

void reshape_shape(ShapeContext& ctx) {
  const auto& target = ctx.attrs().get_ints("shape");
  const Shape& in = ctx.input_shape(0);
  int inferred = -1;
  std::int64_t known = 1;  // product of the target's given dimensions
  for (std::size_t i = 0; i < target.size(); ++i) {
    auto d = target[i];
    if (d < -1)
      throw ShapeError("shape " + ints_to_string(target) +
                       " has a negative dimension other than -1");
    if (d == -1) {
      if (inferred >= 0)
        throw ShapeError("shape " + ints_to_string(target) + " has more than one -1");
      inferred = static_cast<int>(i);
    } else {
      known = mul_dims(known, d, "shape " + ints_to_string(target) + ": the element count");
    }
  }
  std::vector<std::int64_t> out = target;  // a -1 left unresolved is an unknown dimension
  if (in.is_fully_defined()) {
    std::int64_t n = in.num_elements();
    if (inferred >= 0) {
      if (known == 0 || n % known != 0)
        throw ShapeError(
            "cannot reshape " + in.to_string() + " (" + std::to_string(n) +
            " elements) into shape " + ints_to_string(target) +
            ": the -1 dimension cannot be inferred (" +
            (known == 0 ? std::string("the other dimensions hold 0 elements")
                        : std::to_string(n) + " is not a multiple of " + std::to_string(known)) +
            ")");
      out[static_cast<std::size_t>(inferred)] = n / known;
    } else if (n != known) {
      throw ShapeError("cannot reshape " + in.to_string() + " (" + std::to_string(n) +
                       " elements) into shape " + ints_to_string(target) + " (" +
                       std::to_string(known) + " elements)");
    }
  } else if (inferred < 0) {
    // The input holds known_in * (unknown dims) elements, so `known` must be a multiple of it.
    std::int64_t known_in = 1;
    for (auto d : in.dims())
      if (d != Shape::kUnknown) known_in = mul_dims(known_in, d, "input " + in.to_string());
    if (known_in == 0 ? known != 0 : known % known_in != 0)
      throw ShapeError("cannot reshape " + in.to_string() + " into shape " +
                       ints_to_string(target) + " (" + std::to_string(known) +
                       " elements) for any value of the unknown dimensions");
  }
  ctx.set_output(0, ctx.input_dtype(0), Shape(std::move(out)));
}

struct CopyKernel {
  template <class T>
  static void run(KernelContext& c) {
    std::memcpy(c.output(0).raw(), c.input(0).raw(), c.input(0).nbytes());
  }
};

struct ReshapeLikeKernel {
  template <class T>
  static void run(KernelContext& c) {
    if (c.input(0).size() != c.output(0).size())
      throw std::invalid_argument("cannot reshape " + c.input(0).shape().to_string() + " to " +
                                  c.output(0).shape().to_string());
    std::memcpy(c.output(0).raw(), c.input(0).raw(), c.input(0).nbytes());
  }
};

void reshape_like_shape(ShapeContext& ctx) {
  const Shape& x = ctx.input_shape(0);
  const Shape& like = ctx.input_shape(1);
  if (x.is_fully_defined() && like.is_fully_defined() && x.num_elements() != like.num_elements())
    throw ShapeError("cannot reshape " + x.to_string() + " (" + std::to_string(x.num_elements()) +
                     " elements) to " + like.to_string() + " (" +
                     std::to_string(like.num_elements()) + ")");
  ctx.set_output(0, ctx.input_dtype(0), like);
}

void expand_dims_shape(ShapeContext& ctx) {
  const Shape& x = ctx.input_shape(0);
  const auto& axes = ctx.attrs().get_ints("axes");
  int rank = x.rank() + static_cast<int>(axes.size());
  std::vector<char> inserted(static_cast<std::size_t>(rank), 0);
  for (auto a : axes) {
    int axis = detail::normalize_axis(a, rank);
    if (inserted[static_cast<std::size_t>(axis)])
      throw ShapeError("axis " + std::to_string(a) + " is repeated");
    inserted[static_cast<std::size_t>(axis)] = 1;
  }
  std::vector<std::int64_t> dims;
  int next = 0;
  for (int i = 0; i < rank; ++i)
    dims.push_back(inserted[static_cast<std::size_t>(i)] ? 1 : x[next++]);
  ctx.set_output(0, ctx.input_dtype(0), Shape(std::move(dims)));
}

// ---- broadcast_to, broadcast_like ----

void broadcast_to_shape(ShapeContext& ctx) {
  const auto& target = ctx.attrs().get_ints("shape");
  const Shape& in = ctx.input_shape(0);
  for (auto d : target)
    if (d < 0)
      throw ShapeError("target shape " + ints_to_string(target) + " must have dimensions >= 0");
  if (in.rank() > static_cast<int>(target.size()))
    throw ShapeError("cannot broadcast " + in.to_string() + " to the lower-rank shape " +
                     ints_to_string(target));
  expect_max_rank(Shape(target), "the target shape");
  int lead = static_cast<int>(target.size()) - in.rank();
  for (int i = 0; i < in.rank(); ++i) {
    auto d = in[i], t = target[static_cast<std::size_t>(lead + i)];
    if (d != Shape::kUnknown && d != 1 && d != t)
      throw ShapeError("cannot broadcast " + in.to_string() + " to " + ints_to_string(target) +
                       ": dimension " + std::to_string(i) + " is " + std::to_string(d) +
                       ", target has " + std::to_string(t));
  }
  ctx.set_output(0, ctx.input_dtype(0), Shape(target));
}

void broadcast_like_shape(ShapeContext& ctx) {
  const Shape& x = ctx.input_shape(0);
  const Shape& like = ctx.input_shape(1);
  if (x.rank() > like.rank() || !broadcast_shapes(x, like).compatible_with(like))
    throw ShapeError("cannot broadcast shape " + x.to_string() + " to the shape " +
                     like.to_string() + " of `like`");
  expect_max_rank(like, "`like`");
  ctx.set_output(0, ctx.input_dtype(0), like);
}

struct BroadcastToKernel {
  template <class T>
  static void run(KernelContext& c) {
    const Shape& in = c.input(0).shape();
    const Shape& out = c.output(0).shape();
    Dims in_strides = strides_of(in), strides{};  // 0 along the broadcast (and leading) axes
    int lead = out.rank() - in.rank();
    for (int i = 0; i < in.rank(); ++i)
      if (in[i] != 1)
        strides[static_cast<std::size_t>(lead + i)] = in_strides[static_cast<std::size_t>(i)];
    strided_copy(c.output(0).data<T>(), strides_of(out), c.input(0).data<T>(), strides, out.rank(),
                 dims_of(out));
  }
};

// ---- cast, zeros_like, ones_like, fill, size ----

// Dispatched on the input dtype (dispatch_input = 0); the output dtype picks the inner loop.
struct CastKernel {
  template <class From>
  static void run(KernelContext& c) {
    const From* src = c.input(0).data<From>();
    Tensor& y = c.output(0);
    visit_dtype(y.dtype(), [&](auto to) {
      using To = decltype(to);
      To* dst = y.data<To>();
      for (std::int64_t i = 0; i < y.size(); ++i) dst[i] = convert_value<To>(src[i]);
    });
  }
};

template <int Value>
struct ConstantFillKernel {
  template <class T>
  static void run(KernelContext& c) {
    std::fill_n(c.output(0).data<T>(), c.output(0).size(), static_cast<T>(Value));
  }
};

struct FillKernel {
  template <class T>
  static void run(KernelContext& c) {
    std::fill_n(c.output(0).data<T>(), c.output(0).size(),
                convert_value<T>(c.attrs().get_float("value")));
  }
};

struct SizeKernel {
  template <class T>
  static void run(KernelContext& c) {
    *c.output(0).data<std::int64_t>() = c.input(0).size();
  }
};

GradCheckSample sample(std::vector<Shape> shapes, AttrMap attrs, const char* note) {
  return {std::move(shapes), std::move(attrs), {}, note};
}

// Identity-like ops whose gradient is dy given x's (run-time) shape again.
std::vector<Output> reshaped_back(Graph& g, const Node& node, std::span<const Output> dys,
                                  const std::vector<bool>& needs) {
  std::vector<Output> dxs(node.inputs.size());
  if (needs[0]) dxs[0] = reshape_like(dys[0], input_of(g, node, 0));
  return dxs;
}

}  // namespace

void register_shape_ops(OpRegistry& registry) {
  {
    OpRecord r = make_record<TransposeKernel>(
        "transpose", {"x"}, {{"perm", AttrKind::Ints, AttrValue(Ints{})}}, transpose_shape,
        "permutes the axes of x (empty perm reverses them)");
    // d transpose(x, p)/dx = transpose(dy, p^-1)
    r.gradient = [](Graph& g, const Node& node, std::span<const Output> dys,
                    const std::vector<bool>&) {
      Output x = input_of(g, node, 0);
      std::vector<int> perm = resolve_perm(node.attrs.get_ints("perm"), x.shape().rank());
      Ints inverse(perm.size());
      for (std::size_t i = 0; i < perm.size(); ++i)
        inverse[static_cast<std::size_t>(perm[i])] = static_cast<std::int64_t>(i);
      return std::vector<Output>{transpose(dys[0], inverse)};
    };
    r.gradcheck.samples = {sample({Shape{2, 3}}, {}, "reverse"),
                           sample({Shape{2, 3, 4}}, {{"perm", Ints{2, 0, 1}}}, "rotate"),
                           sample({Shape{2, 3, 4}}, {{"perm", Ints{1, -1, 0}}}, "negative axis"),
                           sample({Shape{-1, 3, 2}}, {{"perm", Ints{0, 2, 1}}}, "unknown batch")};
    registry.add(std::move(r));
  }
  {
    OpRecord r =
        make_record<CopyKernel>("reshape", {"x"}, {{"shape", AttrKind::Ints, {}}}, reshape_shape,
                                "x with a new shape of as many elements; one dimension may be -1");
    // d reshape(x)/dx = dy reshaped back to x's shape
    r.gradient = reshaped_back;
    r.gradcheck.samples = {sample({Shape{2, 3}}, {{"shape", Ints{3, 2}}}, "matrix"),
                           sample({Shape{2, 3, 4}}, {{"shape", Ints{-1, 4}}}, "inferred -1"),
                           sample({Shape{1}}, {{"shape", Ints{}}}, "to scalar"),
                           sample({Shape{-1, 6}}, {{"shape", Ints{-1, 2, 3}}}, "unknown batch")};
    registry.add(std::move(r));
  }
  {
    OpRecord r = make_record<BroadcastToKernel>(
        "broadcast_to", {"x"}, {{"shape", AttrKind::Ints, {}}}, broadcast_to_shape,
        "x repeated to the given shape by NumPy broadcasting");
    // d broadcast_to(x)/dx = dy summed over the broadcast axes
    r.gradient = [](Graph& g, const Node& node, std::span<const Output> dys,
                    const std::vector<bool>&) {
      return std::vector<Output>{sum_to(dys[0], input_of(g, node, 0))};
    };
    r.gradcheck.samples = {sample({Shape{3}}, {{"shape", Ints{2, 3}}}, "new axis"),
                           sample({Shape{2, 1}}, {{"shape", Ints{2, 3}}}, "size-1 axis"),
                           sample({Shape{}}, {{"shape", Ints{2, 2}}}, "scalar"),
                           sample({Shape{1, 3, 1}}, {{"shape", Ints{2, 3, 4}}}, "two axes"),
                           sample({Shape{-1, 1}}, {{"shape", Ints{3, 4}}}, "unknown input dim")};
    registry.add(std::move(r));
  }
  {
    OpRecord r = make_record<BroadcastToKernel>(
        "broadcast_like", {"x", "like"}, {}, broadcast_like_shape,
        "x repeated to the run-time shape of `like` by NumPy broadcasting");
    // d broadcast_like(x, like)/dx = dy summed back to x's shape; like's values are unused.
    r.gradient = [](Graph& g, const Node& node, std::span<const Output> dys,
                    const std::vector<bool>& needs) {
      if (!needs[0]) return std::vector<Output>(2);
      return std::vector<Output>{sum_to(dys[0], input_of(g, node, 0)), Output{}};
    };
    r.gradcheck.samples = {sample({Shape{3}, Shape{2, 3}}, {}, "new axis"),
                           sample({Shape{2, 1}, Shape{2, 3}}, {}, "size-1 axis"),
                           sample({Shape{}, Shape{2, 2}}, {}, "scalar"),
                           sample({Shape{1, 3}, Shape{-1, 3}}, {}, "unknown batch")};
    registry.add(std::move(r));
  }
  {
    OpRecord r = make_record<ReshapeLikeKernel>(
        "reshape_like", {"x", "like"}, {}, reshape_like_shape,
        "x with the run-time shape of `like` (same number of elements)");
    // d reshape_like(x, like)/dx = dy reshaped back to x's shape; like's values are unused.
    r.gradient = reshaped_back;
    r.gradcheck.samples = {sample({Shape{2, 3}, Shape{3, 2}}, {}, "matrix"),
                           sample({Shape{6}, Shape{2, 3}}, {}, "vector to matrix"),
                           sample({Shape{-1, 4}, Shape{-1, 2, 2}}, {}, "unknown batch")};
    registry.add(std::move(r));
  }
  {
    OpRecord r = make_record<CopyKernel>(
        "expand_dims", {"x"}, {{"axes", AttrKind::Ints, {}}}, expand_dims_shape,
        "x with dimensions of size 1 inserted at `axes` (positions in the result)");
    // d expand_dims(x)/dx = dy reshaped back to x's shape
    r.gradient = reshaped_back;
    r.gradcheck.samples = {sample({Shape{2, 3}}, {{"axes", Ints{0}}}, "leading"),
                           sample({Shape{2, 3}}, {{"axes", Ints{-1, 1}}}, "negative axis"),
                           sample({Shape{}}, {{"axes", Ints{0}}}, "scalar"),
                           sample({Shape{-1, 3}}, {{"axes", Ints{1}}}, "unknown batch")};
    registry.add(std::move(r));
  }
  {
    OpRecord r = make_record<CastKernel>(
        "cast", {"x"}, {{"dtype", AttrKind::DType, {}}},
        [](ShapeContext& ctx) {
          ctx.set_output(0, ctx.attrs().get_dtype("dtype"), ctx.input_shape(0));
        },
        "x converted to dtype (float to int truncates and saturates; to bool is != 0)");
    r.dispatch_input = 0;
    // d cast(x)/dx = 1 between float dtypes: dy cast back to x's dtype. Integer and bool inputs
    // get no gradient (autodiff skips them), nor does a float input through an integer output.
    r.gradient = [](Graph& g, const Node& node, std::span<const Output> dys,
                    const std::vector<bool>&) {
      Output x = input_of(g, node, 0);
      if (!is_floating(x.dtype()) || !is_floating(dys[0].dtype()))
        return std::vector<Output>{Output{}};
      return std::vector<Output>{dys[0].dtype() == x.dtype() ? dys[0] : cast(dys[0], x.dtype())};
    };
    // The checker runs in float64, so the samples cast float64 to float64; float32 <-> float64
    // is covered by a test in tests/ops/test_shape.cpp (finite differences in float32 are noise).
    r.gradcheck.samples = {sample({Shape{2, 3}}, {{"dtype", DType::float64}}, "matrix"),
                           sample({Shape{-1, 3}}, {{"dtype", DType::float64}}, "unknown batch")};
    registry.add(std::move(r));
  }
  {
    OpRecord r = make_record<ConstantFillKernel<0>>("zeros_like", {"x"}, {}, detail::same_as_input0,
                                                    "zeros of x's dtype and shape");
    r.not_differentiable_reason = "its output does not depend on the input's values";
    registry.add(std::move(r));
  }
  {
    OpRecord r = make_record<ConstantFillKernel<1>>("ones_like", {"x"}, {}, detail::same_as_input0,
                                                    "ones of x's dtype and shape");
    r.not_differentiable_reason = "its output does not depend on the input's values";
    registry.add(std::move(r));
  }
  {
    OpRecord r = make_record<FillKernel>(
        "fill", {},
        {{"shape", AttrKind::Shape, {}},
         {"value", AttrKind::Float, {}},
         {"dtype", AttrKind::DType, AttrValue(DType::float32)}},
        [](ShapeContext& ctx) {
          const Shape& s = ctx.attrs().get_shape("shape");
          if (!s.is_fully_defined())
            throw ShapeError("shape must be fully defined, got " + s.to_string());
          DType dtype = ctx.attrs().get_dtype("dtype");
          check_fits(ctx.attrs().get_float("value"), dtype, "value");
          ctx.set_output(0, dtype, s);
        },
        "a tensor of the given shape filled with value");
    r.not_differentiable_reason = "it has no inputs";
    registry.add(std::move(r));
  }
  {
    OpRecord r;
    r.name = "size";
    r.input_names = {"x"};
    r.shape_fn = [](ShapeContext& ctx) { ctx.set_output(0, DType::int64, Shape{}); };
    kernels::set_kernels<SizeKernel, std::int64_t>(r);  // dispatched on the (int64) output
    r.not_differentiable_reason =
        "an element count: it depends on the input's shape, not its values";
    r.summary = "the number of elements of x at run time, as an int64 scalar";
    registry.add(std::move(r));
  }
  register_indexing_ops(registry);
}

Output transpose(Output x, std::vector<std::int64_t> perm, OpName name) {
  return detail::build(detail::graph_of(x, "transpose"), "transpose", {x},
                       {{"perm", std::move(perm)}}, name);
}
Output reshape(Output x, std::vector<std::int64_t> shape, OpName name) {
  return detail::build(detail::graph_of(x, "reshape"), "reshape", {x},
                       {{"shape", std::move(shape)}}, name);
}
Output reshape_like(Output x, Output like, OpName name) {
  return detail::build(detail::graph_of(x, "reshape_like"), "reshape_like", {x, like}, {}, name);
}
Output expand_dims(Output x, std::vector<std::int64_t> axes, OpName name) {
  return detail::build(detail::graph_of(x, "expand_dims"), "expand_dims", {x},
                       {{"axes", std::move(axes)}}, name);
}
Output broadcast_like(Output x, Output like, OpName name) {
  return detail::build(detail::graph_of(x, "broadcast_like"), "broadcast_like", {x, like}, {},
                       name);
}
Output broadcast_to(Output x, std::vector<std::int64_t> shape, OpName name) {
  return detail::build(detail::graph_of(x, "broadcast_to"), "broadcast_to", {x},
                       {{"shape", std::move(shape)}}, name);
}
Output cast(Output x, DType dtype, OpName name) {
  return detail::build(detail::graph_of(x, "cast"), "cast", {x}, {{"dtype", dtype}}, name);
}
Output zeros_like(Output x, OpName name) {
  return detail::build(detail::graph_of(x, "zeros_like"), "zeros_like", {x}, {}, name);
}
Output ones_like(Output x, OpName name) {
  return detail::build(detail::graph_of(x, "ones_like"), "ones_like", {x}, {}, name);
}
Output fill(Graph& g, Shape shape, double value, DType dtype, OpName name) {
  return detail::build(g, "fill", {},
                       {{"shape", std::move(shape)}, {"value", value}, {"dtype", dtype}}, name);
}
Output size(Output x, OpName name) {
  return detail::build(detail::graph_of(x, "size"), "size", {x}, {}, name);
}

}  // namespace dagrad
