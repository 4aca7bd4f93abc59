// Shape and indexing ops: transpose, reshape, broadcast_to, concat, slice, gather, one_hot,
// cast, zeros_like, ones_like, fill.
//
// These ops move elements without arithmetic, so their kernels are plain index loops over the
// row-major buffers (one strided-copy routine serves transpose, slice and broadcast_to) rather
// than xtensor views: a strided gather gains nothing from SIMD, and contiguous runs are copied
// with std::copy_n, which the compiler turns into memmove.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "kernel_util.hpp"
#include "op_util.hpp"

namespace dagrad {

namespace {

std::string ints_to_string(const std::vector<std::int64_t>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

// Row-major element strides of a fully defined shape.
std::vector<std::int64_t> strides_of(const Shape& s) {
  std::vector<std::int64_t> strides(static_cast<std::size_t>(s.rank()), 1);
  for (int i = s.rank() - 2; i >= 0; --i)
    strides[static_cast<std::size_t>(i)] = strides[static_cast<std::size_t>(i) + 1] * s[i + 1];
  return strides;
}

// Writes the row-major tensor of shape `dims` to dst, reading output element (i0, i1, ...) at
// src + sum(i_k * src_strides[k]). A stride of 0 repeats (broadcasts) along that axis.
template <class T>
void strided_copy(T* dst, const T* src, const std::vector<std::int64_t>& dims,
                  const std::vector<std::int64_t>& src_strides) {
  const std::size_t rank = dims.size();
  if (rank == 0) {
    *dst = *src;
    return;
  }
  for (auto d : dims)
    if (d == 0) return;
  const std::int64_t inner = dims[rank - 1];
  const std::int64_t inner_stride = src_strides[rank - 1];
  std::vector<std::int64_t> index(rank, 0);  // odometer over the axes before the last
  std::int64_t offset = 0;                   // into src; an integer, so stepping past the end is harmless
  for (;;) {
    if (inner_stride == 1) {
      std::copy_n(src + offset, inner, dst);
    } else {
      for (std::int64_t i = 0; i < inner; ++i) dst[i] = src[offset + i * inner_stride];
    }
    dst += inner;
    std::size_t axis = rank - 1;
    for (;;) {
      if (axis == 0) return;
      --axis;
      offset += src_strides[axis];
      if (++index[axis] < dims[axis]) break;
      offset -= src_strides[axis] * dims[axis];
      index[axis] = 0;
    }
  }
}

// Value conversion without undefined behaviour: float to integer truncates toward zero,
// saturates out-of-range values and maps NaN to 0; anything to bool is "!= 0".
template <class To, class From>
To convert_value(From v) {
  if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
    if (std::isnan(v)) return To(0);
    // min() is -2^k and max() + 1 is 2^k: both exact in any floating type.
    if (v <= static_cast<From>(std::numeric_limits<To>::min())) return std::numeric_limits<To>::min();
    if (v >= -static_cast<From>(std::numeric_limits<To>::min())) return std::numeric_limits<To>::max();
    return static_cast<To>(v);
  } else if constexpr (std::is_same_v<To, float> && std::is_same_v<From, double>) {
    // Finite doubles beyond float's range become infinities explicitly (else undefined).
    constexpr double kMax = std::numeric_limits<float>::max();
    if (v > kMax) return std::numeric_limits<float>::infinity();
    if (v < -kMax) return -std::numeric_limits<float>::infinity();
    return static_cast<float>(v);
  } else {
    return static_cast<To>(v);
  }
}

// An attribute value that becomes an element of `dtype` must be representable in it, so the
// kernel never converts an out-of-range double (fill, one_hot).
void check_fits(double v, DType dtype, const char* attr) {
  double lo = dtype == DType::int32 ? -2147483648.0 : -9223372036854775808.0;
  if (is_integer(dtype) && !(v >= lo && v < -lo))
    throw ShapeError("attribute '" + std::string(attr) + "' = " + std::to_string(v) +
                     " is not representable in " + std::string(dtype_name(dtype)));
}

// Calls f(T{}) with the C++ type of `dtype`.
template <class F>
void visit_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::float32: f(float{}); break;
    case DType::float64: f(double{}); break;
    case DType::int32: f(std::int32_t{}); break;
    case DType::int64: f(std::int64_t{}); break;
    case DType::boolean: f(bool{}); break;
  }
}

// Calls f(pointer) with the elements of an int32 or int64 index tensor.
template <class F>
void with_indices(const Tensor& t, F&& f) {
  if (t.dtype() == DType::int32) f(static_cast<const std::int32_t*>(t.data<std::int32_t>()));
  else f(static_cast<const std::int64_t*>(t.data<std::int64_t>()));
}

void expect_index_dtype(const ShapeContext& ctx, int i, const char* what) {
  if (!is_integer(ctx.input_dtype(i)))
    throw ShapeError(std::string(what) + " (input " + std::to_string(i) + ") must be int32 or int64, got " +
                     std::string(dtype_name(ctx.input_dtype(i))));
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

struct TransposeKernel {
  template <class T>
  static void run(KernelContext& c) {
    const Tensor& x = c.input(0);
    std::vector<int> perm = resolve_perm(c.attrs().get_ints("perm"), x.shape().rank());
    std::vector<std::int64_t> in_strides = strides_of(x.shape()), strides(perm.size());
    for (std::size_t i = 0; i < perm.size(); ++i) strides[i] = in_strides[static_cast<std::size_t>(perm[i])];
    strided_copy(c.output(0).data<T>(), x.data<T>(), c.output(0).shape().dims(), strides);
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
    if (d < -1) throw ShapeError("shape " + ints_to_string(target) + " has a negative dimension other than -1");
    if (d == -1) {
      if (inferred >= 0) throw ShapeError("shape " + ints_to_string(target) + " has more than one -1");
      inferred = static_cast<int>(i);
    } else {
      known *= d;
    }
  }
  std::vector<std::int64_t> out = target;  // a -1 left unresolved is an unknown dimension
  if (in.is_fully_defined()) {
    std::int64_t n = in.num_elements();
    if (inferred >= 0) {
      if (known == 0 || n % known != 0)
        throw ShapeError("cannot reshape " + in.to_string() + " (" + std::to_string(n) + " elements) into shape " +
                         ints_to_string(target) + ": the -1 dimension cannot be inferred (" +
                         (known == 0 ? std::string("the other dimensions hold 0 elements")
                                     : std::to_string(n) + " is not a multiple of " + std::to_string(known)) +
                         ")");
      out[static_cast<std::size_t>(inferred)] = n / known;
    } else if (n != known) {
      throw ShapeError("cannot reshape " + in.to_string() + " (" + std::to_string(n) + " elements) into shape " +
                       ints_to_string(target) + " (" + std::to_string(known) + " elements)");
    }
  } else if (inferred < 0) {
    // The input holds known_in * (unknown dims) elements, so `known` must be a multiple of it.
    std::int64_t known_in = 1;
    for (auto d : in.dims())
      if (d != Shape::kUnknown) known_in *= d;
    if (known_in == 0 ? known != 0 : known % known_in != 0)
      throw ShapeError("cannot reshape " + in.to_string() + " into shape " + ints_to_string(target) + " (" +
                       std::to_string(known) + " elements) for any value of the unknown dimensions");
  }
  ctx.set_output(0, ctx.input_dtype(0), Shape(std::move(out)));
}

struct CopyKernel {
  template <class T>
  static void run(KernelContext& c) {
    std::memcpy(c.output(0).raw(), c.input(0).raw(), c.input(0).nbytes());
  }
};

// ---- broadcast_to ----

void broadcast_to_shape(ShapeContext& ctx) {
  const auto& target = ctx.attrs().get_ints("shape");
  const Shape& in = ctx.input_shape(0);
  for (auto d : target)
    if (d < 0) throw ShapeError("target shape " + ints_to_string(target) + " must have dimensions >= 0");
  if (in.rank() > static_cast<int>(target.size()))
    throw ShapeError("cannot broadcast " + in.to_string() + " to the lower-rank shape " + ints_to_string(target));
  int lead = static_cast<int>(target.size()) - in.rank();
  for (int i = 0; i < in.rank(); ++i) {
    auto d = in[i], t = target[static_cast<std::size_t>(lead + i)];
    if (d != Shape::kUnknown && d != 1 && d != t)
      throw ShapeError("cannot broadcast " + in.to_string() + " to " + ints_to_string(target) + ": dimension " +
                       std::to_string(i) + " is " + std::to_string(d) + ", target has " + std::to_string(t));
  }
  ctx.set_output(0, ctx.input_dtype(0), Shape(target));
}

struct BroadcastToKernel {
  template <class T>
  static void run(KernelContext& c) {
    const Shape& in = c.input(0).shape();
    const Shape& out = c.output(0).shape();
    std::vector<std::int64_t> in_strides = strides_of(in), strides(static_cast<std::size_t>(out.rank()), 0);
    int lead = out.rank() - in.rank();
    for (int i = 0; i < in.rank(); ++i)
      if (in[i] != 1) strides[static_cast<std::size_t>(lead + i)] = in_strides[static_cast<std::size_t>(i)];
    strided_copy(c.output(0).data<T>(), c.input(0).data<T>(), out.dims(), strides);
  }
};

// ---- concat ----

void concat_shape(ShapeContext& ctx) {
  const Shape& first = ctx.input_shape(0);
  int rank = first.rank();
  if (rank == 0) throw ShapeError("cannot concatenate scalars (rank 0)");
  int axis = detail::normalize_axis(ctx.attrs().get_int("axis"), rank);
  std::vector<std::int64_t> out = first.dims();
  for (int i = 1; i < ctx.num_inputs(); ++i) {
    ctx.expect_same_dtype(0, i);
    const Shape& s = ctx.input_shape(i);
    if (s.rank() != rank)
      throw ShapeError("input " + std::to_string(i) + " has rank " + std::to_string(s.rank()) +
                       ", input 0 has rank " + std::to_string(rank));
    for (int k = 0; k < rank; ++k) {
      auto& o = out[static_cast<std::size_t>(k)];
      if (k == axis) {
        o = (o == Shape::kUnknown || s[k] == Shape::kUnknown) ? Shape::kUnknown : o + s[k];
      } else if (o == Shape::kUnknown) {
        o = s[k];
      } else if (s[k] != Shape::kUnknown && s[k] != o) {
        throw ShapeError("input " + std::to_string(i) + " has dimension " + std::to_string(s[k]) + " at axis " +
                         std::to_string(k) + " where earlier inputs have " + std::to_string(o) +
                         "; only the concatenation axis " + std::to_string(axis) + " may differ");
      }
    }
  }
  ctx.set_output(0, ctx.input_dtype(0), Shape(std::move(out)));
}

struct ConcatKernel {
  template <class T>
  static void run(KernelContext& c) {
    const Shape& out = c.output(0).shape();
    int axis = detail::normalize_axis(c.attrs().get_int("axis"), out.rank());
    std::int64_t outer = 1, inner = 1;
    for (int k = 0; k < axis; ++k) outer *= out[k];
    for (int k = axis + 1; k < out.rank(); ++k) inner *= out[k];
    T* dst = c.output(0).data<T>();
    for (std::int64_t o = 0; o < outer; ++o)
      for (const Tensor* in : c.inputs) {
        std::int64_t chunk = in->shape()[axis] * inner;
        std::copy_n(in->data<T>() + o * chunk, chunk, dst);
        dst += chunk;
      }
  }
};

// ---- slice ----

void slice_shape(ShapeContext& ctx) {
  const auto& begin = ctx.attrs().get_ints("begin");
  const auto& size = ctx.attrs().get_ints("size");
  const Shape& in = ctx.input_shape(0);
  if (static_cast<int>(begin.size()) != in.rank() || static_cast<int>(size.size()) != in.rank())
    throw ShapeError("begin " + ints_to_string(begin) + " and size " + ints_to_string(size) +
                     " must each have one entry per axis of the rank-" + std::to_string(in.rank()) + " input");
  std::vector<std::int64_t> out(begin.size());
  for (std::size_t i = 0; i < begin.size(); ++i) {
    auto b = begin[i], n = size[i], d = in[static_cast<int>(i)];
    if (b < 0 || n < -1)
      throw ShapeError("axis " + std::to_string(i) + ": begin " + std::to_string(b) + " must be >= 0 and size " +
                       std::to_string(n) + " must be >= 0 or -1");
    if (d != Shape::kUnknown && (b > d || (n != -1 && b + n > d)))
      throw ShapeError("axis " + std::to_string(i) + ": slice [" + std::to_string(b) + ", " +
                       (n == -1 ? std::string("end") : std::to_string(b + n)) +
                       ") is out of bounds for dimension " + std::to_string(d));
    out[i] = n != -1 ? n : (d == Shape::kUnknown ? Shape::kUnknown : d - b);
  }
  ctx.set_output(0, ctx.input_dtype(0), Shape(std::move(out)));
}

struct SliceKernel {
  template <class T>
  static void run(KernelContext& c) {
    const Tensor& x = c.input(0);
    if (c.output(0).size() == 0) return;  // begin may then point past the end of x
    const auto& begin = c.attrs().get_ints("begin");
    std::vector<std::int64_t> strides = strides_of(x.shape());
    std::int64_t offset = 0;
    for (std::size_t i = 0; i < begin.size(); ++i) offset += begin[i] * strides[i];
    strided_copy(c.output(0).data<T>(), x.data<T>() + offset, c.output(0).shape().dims(), strides);
  }
};

// ---- gather ----

void gather_shape(ShapeContext& ctx) {
  const Shape& params = ctx.input_shape(0);
  if (params.rank() == 0) throw ShapeError("params (input 0) must have rank >= 1, got a scalar");
  expect_index_dtype(ctx, 1, "indices");
  int axis = detail::normalize_axis(ctx.attrs().get_int("axis"), params.rank());
  std::vector<std::int64_t> out(params.dims().begin(), params.dims().begin() + axis);
  for (auto d : ctx.input_shape(1).dims()) out.push_back(d);
  out.insert(out.end(), params.dims().begin() + axis + 1, params.dims().end());
  ctx.set_output(0, ctx.input_dtype(0), Shape(std::move(out)));
}

struct GatherKernel {
  template <class T>
  static void run(KernelContext& c) {
    const Tensor& params = c.input(0);
    const Tensor& indices = c.input(1);
    int axis = detail::normalize_axis(c.attrs().get_int("axis"), params.shape().rank());
    std::int64_t outer = 1, inner = 1, n = params.shape()[axis], m = indices.size();
    for (int k = 0; k < axis; ++k) outer *= params.shape()[k];
    for (int k = axis + 1; k < params.shape().rank(); ++k) inner *= params.shape()[k];
    with_indices(indices, [&](const auto* index) {
      // Check every index before reading any row: a bad index is an error, never a stray read.
      for (std::int64_t j = 0; j < m; ++j)
        if (index[j] < 0 || index[j] >= n)
          throw std::out_of_range("gather: index " + std::to_string(index[j]) + " (element " + std::to_string(j) +
                                  " of indices) is out of range [0, " + std::to_string(n) + ") for axis " +
                                  std::to_string(axis) + " of params " + params.shape().to_string());
      const T* src = params.data<T>();
      T* dst = c.output(0).data<T>();
      for (std::int64_t o = 0; o < outer; ++o)
        for (std::int64_t j = 0; j < m; ++j, dst += inner)
          std::copy_n(src + (o * n + static_cast<std::int64_t>(index[j])) * inner, inner, dst);
    });
  }
};

// ---- one_hot ----

void one_hot_shape(ShapeContext& ctx) {
  expect_index_dtype(ctx, 0, "indices");
  std::int64_t depth = ctx.attrs().get_int("depth");
  if (depth < 0) throw ShapeError("depth must be >= 0, got " + std::to_string(depth));
  DType dtype = ctx.attrs().get_dtype("dtype");
  check_fits(ctx.attrs().get_float("on_value"), dtype, "on_value");
  check_fits(ctx.attrs().get_float("off_value"), dtype, "off_value");
  std::vector<std::int64_t> out = ctx.input_shape(0).dims();
  out.push_back(depth);
  ctx.set_output(0, dtype, Shape(std::move(out)));
}

struct OneHotKernel {
  template <class T>
  static void run(KernelContext& c) {
    const Tensor& indices = c.input(0);
    Tensor& y = c.output(0);
    std::int64_t depth = c.attrs().get_int("depth");
    T on = convert_value<T>(c.attrs().get_float("on_value"));
    T off = convert_value<T>(c.attrs().get_float("off_value"));
    T* out = y.data<T>();
    std::fill_n(out, y.size(), off);
    // An index outside [0, depth) leaves its row all off, as TensorFlow's one_hot does.
    with_indices(indices, [&](const auto* index) {
      for (std::int64_t j = 0; j < indices.size(); ++j) {
        auto idx = static_cast<std::int64_t>(index[j]);
        if (idx >= 0 && idx < depth) out[j * depth + idx] = on;
      }
    });
  }
};

// ---- cast, zeros_like, ones_like, fill ----

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
    std::fill_n(c.output(0).data<T>(), c.output(0).size(), convert_value<T>(c.attrs().get_float("value")));
  }
};

// Every dtype: these ops only move or produce elements.
template <class K>
void set_all_kernels(OpRecord& r) {
  kernels::set_kernels<K, float, double, std::int32_t, std::int64_t, bool>(r);
}

template <class K>
void add_op(OpRegistry& registry, const char* name, std::vector<std::string> inputs, std::vector<AttrSpec> attrs,
            ShapeFn shape_fn, const char* summary, const char* not_differentiable_reason = "") {
  OpRecord r;
  r.name = name;
  r.input_names = std::move(inputs);
  r.attrs = std::move(attrs);
  r.shape_fn = std::move(shape_fn);
  set_all_kernels<K>(r);
  r.not_differentiable_reason = not_differentiable_reason;
  r.summary = summary;
  registry.add(std::move(r));
}

using Ints = std::vector<std::int64_t>;

}  // namespace

void register_shape_ops(OpRegistry& registry) {
  add_op<TransposeKernel>(
      registry, "transpose", {"x"}, {{"perm", AttrKind::Ints, AttrValue(Ints{})}},
      [](ShapeContext& ctx) {
        const Shape& in = ctx.input_shape(0);
        std::vector<int> perm = resolve_perm(ctx.attrs().get_ints("perm"), in.rank());
        std::vector<std::int64_t> out(perm.size());
        for (std::size_t i = 0; i < perm.size(); ++i) out[i] = in[perm[i]];
        ctx.set_output(0, ctx.input_dtype(0), Shape(std::move(out)));
      },
      "permutes the axes of x (empty perm reverses them)");
  add_op<CopyKernel>(registry, "reshape", {"x"}, {{"shape", AttrKind::Ints, {}}}, reshape_shape,
                     "x with a new shape of as many elements; one dimension may be -1");
  add_op<BroadcastToKernel>(registry, "broadcast_to", {"x"}, {{"shape", AttrKind::Ints, {}}}, broadcast_to_shape,
                            "x repeated to the given shape by NumPy broadcasting");
  {
    OpRecord r;
    r.name = "concat";
    r.input_names = {"values"};
    r.variadic_inputs = true;
    r.min_inputs = 1;
    r.attrs = {{"axis", AttrKind::Int, {}}};
    r.shape_fn = concat_shape;
    set_all_kernels<ConcatKernel>(r);
    r.summary = "the inputs joined along axis";
    registry.add(std::move(r));
  }
  add_op<SliceKernel>(registry, "slice", {"x"}, {{"begin", AttrKind::Ints, {}}, {"size", AttrKind::Ints, {}}},
                      slice_shape, "x[begin : begin + size] per axis; size -1 runs to the end");
  add_op<GatherKernel>(registry, "gather", {"params", "indices"},
                       {{"axis", AttrKind::Int, AttrValue(std::int64_t{0})}}, gather_shape,
                       "slices of params along axis picked by integer indices");
  add_op<OneHotKernel>(registry, "one_hot", {"indices"},
                       {{"depth", AttrKind::Int, {}},
                        {"dtype", AttrKind::DType, AttrValue(DType::float32)},
                        {"on_value", AttrKind::Float, AttrValue(1.0)},
                        {"off_value", AttrKind::Float, AttrValue(0.0)}},
                       one_hot_shape, "a new last axis of length depth: on_value at the index, else off_value",
                       "its output depends on integer indices only");
  {
    OpRecord r;
    r.name = "cast";
    r.input_names = {"x"};
    r.attrs = {{"dtype", AttrKind::DType, {}}};
    r.shape_fn = [](ShapeContext& ctx) {
      ctx.set_output(0, ctx.attrs().get_dtype("dtype"), ctx.input_shape(0));
    };
    set_all_kernels<CastKernel>(r);
    r.dispatch_input = 0;
    r.summary = "x converted to dtype (float to int truncates and saturates; to bool is != 0)";
    registry.add(std::move(r));
  }
  add_op<ConstantFillKernel<0>>(registry, "zeros_like", {"x"}, {}, detail::same_as_input0,
                                "zeros of x's dtype and shape", "its output does not depend on the input's values");
  add_op<ConstantFillKernel<1>>(registry, "ones_like", {"x"}, {}, detail::same_as_input0,
                                "ones of x's dtype and shape", "its output does not depend on the input's values");
  add_op<FillKernel>(
      registry, "fill", {},
      {{"shape", AttrKind::Shape, {}}, {"value", AttrKind::Float, {}}, {"dtype", AttrKind::DType, AttrValue(DType::float32)}},
      [](ShapeContext& ctx) {
        const Shape& s = ctx.attrs().get_shape("shape");
        if (!s.is_fully_defined()) throw ShapeError("shape must be fully defined, got " + s.to_string());
        DType dtype = ctx.attrs().get_dtype("dtype");
        check_fits(ctx.attrs().get_float("value"), dtype, "value");
        ctx.set_output(0, dtype, s);
      },
      "a tensor of the given shape filled with value", "it has no inputs");
}

Output transpose(Output x, std::vector<std::int64_t> perm, OpName name) {
  return detail::build(detail::graph_of(x, "transpose"), "transpose", {x}, {{"perm", std::move(perm)}}, name);
}
Output reshape(Output x, std::vector<std::int64_t> shape, OpName name) {
  return detail::build(detail::graph_of(x, "reshape"), "reshape", {x}, {{"shape", std::move(shape)}}, name);
}
Output broadcast_to(Output x, std::vector<std::int64_t> shape, OpName name) {
  return detail::build(detail::graph_of(x, "broadcast_to"), "broadcast_to", {x}, {{"shape", std::move(shape)}},
                       name);
}
Output concat(const std::vector<Output>& xs, std::int64_t axis, OpName name) {
  if (xs.empty())
    throw GraphError("concat: needs at least one input (created at " + SourceSite::from(name.loc).to_string() + ")");
  return detail::build(detail::graph_of(xs[0], "concat"), "concat", xs, {{"axis", axis}}, name);
}
Output slice(Output x, std::vector<std::int64_t> begin, std::vector<std::int64_t> size, OpName name) {
  return detail::build(detail::graph_of(x, "slice"), "slice", {x},
                       {{"begin", std::move(begin)}, {"size", std::move(size)}}, name);
}
Output gather(Output params, Output indices, std::int64_t axis, OpName name) {
  return detail::build(detail::graph_of(params, "gather"), "gather", {params, indices}, {{"axis", axis}}, name);
}
Output one_hot(Output indices, std::int64_t depth, DType dtype, double on_value, double off_value, OpName name) {
  return detail::build(detail::graph_of(indices, "one_hot"), "one_hot", {indices},
                       {{"depth", depth}, {"dtype", dtype}, {"on_value", on_value}, {"off_value", off_value}},
                       name);
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
  return detail::build(g, "fill", {}, {{"shape", std::move(shape)}, {"value", value}, {"dtype", dtype}}, name);
}

}  // namespace dagrad
