// Indexing ops: concat, slice, pad, gather, scatter_add, one_hot (registered by
// register_shape_ops through register_indexing_ops).
//
// The gradient rules pair them up so that every derivative, to any order, is built from these
// same ops: slice <-> pad (concat's gradient is slices), gather <-> scatter_add.
#include <string>

#include "shape_util.hpp"
#include "wrapping_int.hpp"

namespace dagrad {

namespace {

using namespace shape_util;
using detail::input_of;

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
        o = (o == Shape::kUnknown || s[k] == Shape::kUnknown)
                ? Shape::kUnknown
                : add_dims(o, s[k], "the concatenated size along axis " + std::to_string(k));
      } else if (o == Shape::kUnknown) {
        o = s[k];
      } else if (s[k] != Shape::kUnknown && s[k] != o) {
        throw ShapeError("input " + std::to_string(i) + " has dimension " + std::to_string(s[k]) +
                         " at axis " + std::to_string(k) + " where earlier inputs have " +
                         std::to_string(o) + "; only the concatenation axis " +
                         std::to_string(axis) + " may differ");
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
                     " must each have one entry per axis of the rank-" + std::to_string(in.rank()) +
                     " input");
  expect_max_rank(in, "x");
  std::vector<std::int64_t> out(begin.size());
  for (std::size_t i = 0; i < begin.size(); ++i) {
    auto b = begin[i], n = size[i], d = in[static_cast<int>(i)];
    if (b < 0 || n < -1)
      throw ShapeError("axis " + std::to_string(i) + ": begin " + std::to_string(b) +
                       " must be >= 0 and size " + std::to_string(n) + " must be >= 0 or -1");
    // The end, checked: begin + size wrapping to a negative number passed the bounds check.
    const std::int64_t end =
        n == -1 ? b : add_dims(b, n, "axis " + std::to_string(i) + ": slice end begin + size");
    if (d != Shape::kUnknown && (b > d || end > d))
      throw ShapeError("axis " + std::to_string(i) + ": slice [" + std::to_string(b) + ", " +
                       (n == -1 ? std::string("end") : std::to_string(end)) +
                       ") is out of bounds for dimension " + std::to_string(d));
    out[i] = n != -1 ? n : (d == Shape::kUnknown ? Shape::kUnknown : d - b);
  }
  ctx.set_output(0, ctx.input_dtype(0), Shape(std::move(out)));
}

struct SliceKernel {
  template <class T>
  static void run(KernelContext& c) {
    const Tensor& x = c.input(0);
    Tensor& y = c.output(0);
    if (y.size() == 0) return;  // begin may then point past the end of x
    const auto& begin = c.attrs().get_ints("begin");
    Dims strides = strides_of(x.shape());
    std::int64_t offset = 0;
    for (std::size_t i = 0; i < begin.size(); ++i) offset += begin[i] * strides[i];
    strided_copy(y.data<T>(), strides_of(y.shape()), x.data<T>() + offset, strides,
                 y.shape().rank(), dims_of(y.shape()));
  }
};

// ---- pad ----

void pad_shape(ShapeContext& ctx) {
  const auto& before = ctx.attrs().get_ints("before");
  const auto& after = ctx.attrs().get_ints("after");
  const Shape& in = ctx.input_shape(0);
  if (static_cast<int>(before.size()) != in.rank() || static_cast<int>(after.size()) != in.rank())
    throw ShapeError("before " + ints_to_string(before) + " and after " + ints_to_string(after) +
                     " must each have one entry per axis of the rank-" + std::to_string(in.rank()) +
                     " input");
  expect_max_rank(in, "x");
  std::vector<std::int64_t> out(before.size());
  for (std::size_t i = 0; i < before.size(); ++i) {
    if (before[i] < 0 || after[i] < 0)
      throw ShapeError("axis " + std::to_string(i) + ": padding before " +
                       std::to_string(before[i]) + " and after " + std::to_string(after[i]) +
                       " must be >= 0");
    auto d = in[static_cast<int>(i)];
    // Checked: a padding near 2^63 wrapped the dimension to a small size the kernel overran.
    const std::string what = "axis " + std::to_string(i) + ": padded dimension";
    const std::int64_t padding = add_dims(before[i], after[i], what);
    out[i] = d == Shape::kUnknown ? Shape::kUnknown : add_dims(padding, d, what);
  }
  ctx.set_output(0, ctx.input_dtype(0), Shape(std::move(out)));
}

struct PadKernel {
  template <class T>
  static void run(KernelContext& c) {
    const Tensor& x = c.input(0);
    Tensor& y = c.output(0);
    std::fill_n(y.data<T>(), y.size(), T(0));
    if (x.size() == 0) return;
    const auto& before = c.attrs().get_ints("before");
    Dims strides = strides_of(y.shape());
    std::int64_t offset = 0;
    for (std::size_t i = 0; i < before.size(); ++i) offset += before[i] * strides[i];
    strided_copy(y.data<T>() + offset, strides, x.data<T>(), strides_of(x.shape()),
                 x.shape().rank(), dims_of(x.shape()));
  }
};

// ---- gather, scatter_add ----

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

// A table of shape like[:axis] + (n,) + like[axis+1:] seen as (outer, n, inner); m indices.
struct Rows {
  std::int64_t outer = 1, n = 1, inner = 1, m = 0;
  int axis = 0;
};
Rows rows_of(const Shape& table, const Tensor& indices, std::int64_t axis_attr) {
  Rows r;
  r.axis = detail::normalize_axis(axis_attr, table.rank());
  r.n = table[r.axis];
  r.m = indices.size();
  for (int k = 0; k < r.axis; ++k) r.outer *= table[k];
  for (int k = r.axis + 1; k < table.rank(); ++k) r.inner *= table[k];
  return r;
}

// Checks every index before any row is touched: a bad index is an error, never a stray access.
template <class I>
void check_indices(const char* op, const I* index, const Rows& r, const Shape& table) {
  for (std::int64_t j = 0; j < r.m; ++j)
    if (index[j] < 0 || index[j] >= r.n)
      throw std::out_of_range(std::string(op) + ": index " + std::to_string(index[j]) +
                              " (element " + std::to_string(j) +
                              " of indices) is out of range [0, " + std::to_string(r.n) +
                              ") for axis " + std::to_string(r.axis) + " of " + table.to_string());
}

struct GatherKernel {
  template <class T>
  static void run(KernelContext& c) {
    const Tensor& params = c.input(0);
    Rows r = rows_of(params.shape(), c.input(1), c.attrs().get_int("axis"));
    with_indices(c.input(1), [&](const auto* index) {
      check_indices("gather", index, r, params.shape());
      const T* src = params.data<T>();
      T* dst = c.output(0).data<T>();
      for (std::int64_t o = 0; o < r.outer; ++o)
        for (std::int64_t j = 0; j < r.m; ++j, dst += r.inner)
          std::copy_n(src + (o * r.n + static_cast<std::int64_t>(index[j])) * r.inner, r.inner,
                      dst);
    });
  }
};

// updates must have the shape gather(like, indices, axis) would have; the output has like's.
void scatter_add_shape(ShapeContext& ctx) {
  const Shape& updates = ctx.input_shape(0);
  const Shape& like = ctx.input_shape(2);
  if (ctx.input_dtype(0) == DType::boolean)
    throw ShapeError("updates (input 0) must be numeric, got bool");
  expect_index_dtype(ctx, 1, "indices");
  if (like.rank() == 0) throw ShapeError("like (input 2) must have rank >= 1, got a scalar");
  int axis = detail::normalize_axis(ctx.attrs().get_int("axis"), like.rank());
  std::vector<std::int64_t> expected(like.dims().begin(), like.dims().begin() + axis);
  for (auto d : ctx.input_shape(1).dims()) expected.push_back(d);
  expected.insert(expected.end(), like.dims().begin() + axis + 1, like.dims().end());
  if (!updates.compatible_with(Shape(expected)))
    throw ShapeError(
        "updates " + updates.to_string() + " must have shape like[:axis] + indices.shape + " +
        "like[axis+1:] = " + Shape(expected).to_string() + " (axis " + std::to_string(axis) + ")");
  // Dimensions of `like` unknown here but known in updates (outside the axis) are the same.
  std::vector<std::int64_t> out = like.dims();
  const int index_rank = ctx.input_shape(1).rank();
  for (int k = 0; k < like.rank(); ++k) {
    if (k == axis || out[static_cast<std::size_t>(k)] != Shape::kUnknown) continue;
    out[static_cast<std::size_t>(k)] = updates[k < axis ? k : k - 1 + index_rank];
  }
  ctx.set_output(0, ctx.input_dtype(0), Shape(std::move(out)));
}

struct ScatterAddKernel {
  template <class T>
  static void run(KernelContext& c) {
    const Tensor& updates = c.input(0);
    Tensor& y = c.output(0);
    Rows r = rows_of(y.shape(), c.input(1), c.attrs().get_int("axis"));
    T* out = y.data<T>();
    std::fill_n(out, y.size(), T(0));
    with_indices(c.input(1), [&](const auto* index) {
      check_indices("scatter_add", index, r, y.shape());
      const T* src = updates.data<T>();
      for (std::int64_t o = 0; o < r.outer; ++o)
        for (std::int64_t j = 0; j < r.m; ++j, src += r.inner) {
          T* row = out + (o * r.n + static_cast<std::int64_t>(index[j])) * r.inner;
          for (std::int64_t k = 0; k < r.inner; ++k) {
            row[k] = kernels::wrapping::add(row[k], src[k]);  // integers wrap around
          }
        }
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

// ---- gradient helpers ----

// "node 'name' (op op, created at site)", for gradient-rule errors.
std::string describe(const Node& node) {
  return "node '" + node.name + "' (op " + node.op->name + ", created at " + node.site.to_string() +
         ")";
}

Tensor int64s(Shape shape, std::vector<std::int64_t> v) {
  return Tensor::from_vector<std::int64_t>(std::move(shape), v);
}

}  // namespace

void register_indexing_ops(OpRegistry& registry) {
  {
    OpRecord r;
    r.name = "concat";
    r.input_names = {"values"};
    r.variadic_inputs = true;
    r.min_inputs = 1;
    r.attrs = {{"axis", AttrKind::Int, {}}};
    r.shape_fn = concat_shape;
    set_all_kernels<ConcatKernel>(r);
    // d concat(x_0, x_1, ...)/dx_i = the slice of dy along axis where x_i was copied. Its begin
    // is the sum of the earlier inputs' sizes along axis, which must be known at build time.
    r.gradient = [](Graph& g, const Node& node, std::span<const Output> dys,
                    const std::vector<bool>& needs) {
      const int rank = node.output_shapes[0].rank();
      const int axis = detail::normalize_axis(node.attrs.get_int("axis"), rank);
      std::vector<Output> dxs;
      std::int64_t offset = 0;
      for (std::size_t i = 0; i < node.inputs.size(); ++i) {
        std::int64_t d = input_of(g, node, static_cast<int>(i)).shape()[axis];
        bool last = i + 1 == node.inputs.size();
        if (d == Shape::kUnknown && !last)
          throw GraphError(
              "cannot differentiate " + describe(node) + ": input " + std::to_string(i) +
              " has an unknown size along the concatenation axis " + std::to_string(axis) +
              "; the gradient slices dy at offsets that must be known at build time (only the "
              "last input may have an unknown size there)");
        Ints begin(static_cast<std::size_t>(rank), 0), size(static_cast<std::size_t>(rank), -1);
        begin[static_cast<std::size_t>(axis)] = offset;
        size[static_cast<std::size_t>(axis)] = d;  // -1 (to the end) for an unknown last input
        dxs.push_back(needs[i] ? slice(dys[0], begin, size) : Output{});
        offset += d;
      }
      return dxs;
    };
    r.gradcheck.samples = {
        {{Shape{2, 3}, Shape{1, 3}}, {{"axis", std::int64_t{0}}}, {}, "rows"},
        {{Shape{2, 1}, Shape{2, 3}, Shape{2, 2}},
         {{"axis", std::int64_t{1}}},
         {},
         "three, columns"},
        {{Shape{2, 3, 2}, Shape{2, 3, 1}}, {{"axis", std::int64_t{-1}}}, {}, "negative axis"},
        {{Shape{-1, 2}, Shape{-1, 3}}, {{"axis", std::int64_t{1}}}, {}, "unknown batch"},
        {{Shape{2, 3}, Shape{-1, 3}}, {{"axis", std::int64_t{0}}}, {}, "unknown last input"}};
    r.summary = "the inputs joined along axis";
    registry.add(std::move(r));
  }
  {
    OpRecord r = make_record<SliceKernel>(
        "slice", {"x"}, {{"begin", AttrKind::Ints, {}}, {"size", AttrKind::Ints, {}}}, slice_shape,
        "x[begin : begin + size] per axis; size -1 runs to the end");
    // d slice(x)/dx = dy padded with zeros back to x's shape. Along an axis of x whose size is
    // unknown at build time the zeros after the slice are joined on with concat: zeros of the
    // run-time shape of the rest of x there (so concat's gradient, which slices a gradient of
    // unknown size, can be differentiated again).
    r.gradient = [](Graph& g, const Node& node, std::span<const Output> dys,
                    const std::vector<bool>&) {
      Output x = input_of(g, node, 0);
      const auto& begin = node.attrs.get_ints("begin");
      const auto& size = node.attrs.get_ints("size");
      const std::size_t rank = begin.size();
      Ints after(rank, 0);
      std::vector<std::size_t> open;  // axes whose zeros after the slice have a run-time size
      for (std::size_t i = 0; i < rank; ++i) {
        if (size[i] == -1) continue;  // to the end: nothing after
        std::int64_t d = x.shape()[static_cast<int>(i)];
        if (d == Shape::kUnknown)
          open.push_back(i);
        else
          after[i] = d - begin[i] - size[i];
      }
      Output dx = pad(dys[0], begin, after);
      // dx now spans x on every axis but the open ones, where it ends at begin + size. Close
      // them one by one with the part of x beyond the slice, taken over what dx spans.
      for (std::size_t k = 0; k < open.size(); ++k) {
        Ints rest_begin(rank, 0), rest_size(rank, -1);
        const std::size_t axis = open[k];
        rest_begin[axis] = begin[axis] + size[axis];
        for (std::size_t later = k + 1; later < open.size(); ++later)
          rest_size[open[later]] = begin[open[later]] + size[open[later]];
        dx = concat({dx, zeros_like(slice(x, rest_begin, rest_size))},
                    static_cast<std::int64_t>(axis));
      }
      return std::vector<Output>{dx};
    };
    r.gradcheck.samples = {
        {{Shape{3, 4}}, {{"begin", Ints{1, 1}}, {"size", Ints{2, -1}}}, {}, "to the end"},
        {{Shape{2, 3, 4}}, {{"begin", Ints{0, 1, 2}}, {"size", Ints{2, 1, 2}}}, {}, "rank 3"},
        {{Shape{-1, 4}}, {{"begin", Ints{0, 1}}, {"size", Ints{-1, 2}}}, {}, "unknown batch"},
        {{Shape{-1, 4}},
         {{"begin", Ints{1, 0}}, {"size", Ints{-1, 3}}},
         {},
         "unknown batch, offset"},
        {{Shape{-1, 4}},
         {{"begin", Ints{1, 1}}, {"size", Ints{1, 2}}},
         {},
         "inside an unknown axis"},
        {{Shape{-1, 3, -1}},
         {{"begin", Ints{1, 0, 0}}, {"size", Ints{2, 2, 1}}},
         {},
         "inside two unknown axes",
         {Shape{4, 3, 2}}}};
    registry.add(std::move(r));
  }
  {
    OpRecord r = make_record<PadKernel>(
        "pad", {"x"}, {{"before", AttrKind::Ints, {}}, {"after", AttrKind::Ints, {}}}, pad_shape,
        "x with before[i] zeros ahead of and after[i] behind it on axis i");
    // d pad(x)/dx = the slice of dy where x was copied
    r.gradient = [](Graph& g, const Node& node, std::span<const Output> dys,
                    const std::vector<bool>&) {
      Output x = input_of(g, node, 0);
      const auto& before = node.attrs.get_ints("before");
      const auto& after = node.attrs.get_ints("after");
      Ints size(before.size());
      for (std::size_t i = 0; i < before.size(); ++i) {
        std::int64_t d = x.shape()[static_cast<int>(i)];
        if (d == Shape::kUnknown && after[i] != 0)
          throw GraphError(
              "cannot differentiate " + describe(node) + ": axis " + std::to_string(i) + " of x " +
              x.shape().to_string() + " is unknown at build time and padded after by " +
              std::to_string(after[i]) + ", so the slice of the gradient has an unknown size");
        size[i] = d;  // -1 (to the end) when unknown and nothing is padded after
      }
      return std::vector<Output>{slice(dys[0], before, size)};
    };
    r.gradcheck.samples = {
        {{Shape{2, 3}}, {{"before", Ints{1, 0}}, {"after", Ints{0, 2}}}, {}, "matrix"},
        {{Shape{2, 3, 2}}, {{"before", Ints{0, 1, 1}}, {"after", Ints{1, 0, 1}}}, {}, "rank 3"},
        {{Shape{}}, {{"before", Ints{}}, {"after", Ints{}}}, {}, "scalar"},
        {{Shape{-1, 3}}, {{"before", Ints{1, 1}}, {"after", Ints{0, 2}}}, {}, "unknown batch"}};
    registry.add(std::move(r));
  }
  {
    OpRecord r = make_record<GatherKernel>(
        "gather", {"params", "indices"}, {{"axis", AttrKind::Int, AttrValue(std::int64_t{0})}},
        gather_shape, "slices of params along axis picked by integer indices");
    // d gather(p, i)/dp = dy's rows added into zeros of p's shape at the indexed rows (a row
    // picked twice gets both); indices get none.
    r.gradient = [](Graph& g, const Node& node, std::span<const Output> dys,
                    const std::vector<bool>& needs) {
      if (!needs[0]) return std::vector<Output>(2);
      Output params = input_of(g, node, 0), indices = input_of(g, node, 1);
      return std::vector<Output>{scatter_add(dys[0], indices, params, node.attrs.get_int("axis")),
                                 Output{}};
    };
    auto with_axis = [](std::int64_t axis) { return AttrMap{{"axis", axis}}; };
    r.gradcheck.samples = {
        {{Shape{5, 3}, Shape{4}},
         with_axis(0),
         {Tensor(), int64s({4}, {0, 2, 2, 4})},
         "rows, repeated index"},
        {{Shape{2, 4, 3}, Shape{2, 2}},
         with_axis(1),
         {Tensor(), Tensor::from_vector<std::int32_t>({2, 2}, {3, 0, 1, 3})},
         "middle axis, int32 rank-2 indices"},
        {{Shape{2, 3}, Shape{2}}, with_axis(-1), {Tensor(), int64s({2}, {2, 0})}, "negative axis"},
        {{Shape{-1, 4}, Shape{3}},
         with_axis(1),
         {Tensor(), int64s({3}, {3, 0, 3})},
         "unknown batch"}};
    registry.add(std::move(r));
  }
  {
    OpRecord r;
    r.name = "scatter_add";
    r.input_names = {"updates", "indices", "like"};
    r.attrs = {{"axis", AttrKind::Int, AttrValue(std::int64_t{0})}};
    r.shape_fn = scatter_add_shape;
    kernels::set_kernels<ScatterAddKernel, float, double, std::int32_t, std::int64_t>(r);
    r.summary =
        "zeros of like's run-time shape plus the rows of updates added at the indexed rows "
        "(repeats add up)";
    // d scatter_add(u, i, like)/du = gather(dy, i): each update row reads the row it was added to
    r.gradient = [](Graph& g, const Node& node, std::span<const Output> dys,
                    const std::vector<bool>& needs) {
      if (!needs[0]) return std::vector<Output>(3);
      Output indices = input_of(g, node, 1);
      return std::vector<Output>{gather(dys[0], indices, node.attrs.get_int("axis")), Output{},
                                 Output{}};
    };
    auto with_axis = [](std::int64_t axis) { return AttrMap{{"axis", axis}}; };
    Tensor like53(DType::float64, Shape{5, 3}), like243(DType::float64, Shape{2, 4, 3}),
        like23(DType::float64, Shape{2, 3});
    r.gradcheck.samples = {
        {{Shape{4, 3}, Shape{4}, Shape{5, 3}},
         with_axis(0),
         {Tensor(), int64s({4}, {0, 2, 2, 4}), like53},
         "repeated index"},
        {{Shape{2, 2, 2, 3}, Shape{2, 2}, Shape{2, 4, 3}},
         with_axis(1),
         {Tensor(), Tensor::from_vector<std::int32_t>({2, 2}, {3, 0, 1, 3}), like243},
         "middle axis, int32 rank-2 indices"},
        {{Shape{2, 2}, Shape{2}, Shape{2, 3}},
         with_axis(-1),
         {Tensor(), int64s({2}, {2, 0}), like23},
         "negative axis"},
        {{Shape{-1, 3}, Shape{3}, Shape{-1, 4}},
         with_axis(1),
         {Tensor(), int64s({3}, {3, 0, 3})},
         "unknown batch"}};
    registry.add(std::move(r));
  }
  {
    OpRecord r = make_record<OneHotKernel>(
        "one_hot", {"indices"},
        {{"depth", AttrKind::Int, {}},
         {"dtype", AttrKind::DType, AttrValue(DType::float32)},
         {"on_value", AttrKind::Float, AttrValue(1.0)},
         {"off_value", AttrKind::Float, AttrValue(0.0)}},
        one_hot_shape, "a new last axis of length depth: on_value at the index, else off_value");
    r.not_differentiable_reason = "its output depends on integer indices only";
    registry.add(std::move(r));
  }
}

Output concat(const std::vector<Output>& xs, std::int64_t axis, OpName name) {
  if (xs.empty())
    throw GraphError("concat: needs at least one input (created at " +
                     SourceSite::from(name.loc).to_string() + ")");
  return detail::build(detail::graph_of(xs[0], "concat"), "concat", xs, {{"axis", axis}}, name);
}
Output slice(Output x, std::vector<std::int64_t> begin, std::vector<std::int64_t> size,
             OpName name) {
  return detail::build(detail::graph_of(x, "slice"), "slice", {x},
                       {{"begin", std::move(begin)}, {"size", std::move(size)}}, name);
}
Output pad(Output x, std::vector<std::int64_t> before, std::vector<std::int64_t> after,
           OpName name) {
  return detail::build(detail::graph_of(x, "pad"), "pad", {x},
                       {{"before", std::move(before)}, {"after", std::move(after)}}, name);
}
Output gather(Output params, Output indices, std::int64_t axis, OpName name) {
  return detail::build(detail::graph_of(params, "gather"), "gather", {params, indices},
                       {{"axis", axis}}, name);
}
Output scatter_add(Output updates, Output indices, Output like, std::int64_t axis, OpName name) {
  return detail::build(detail::graph_of(updates, "scatter_add"), "scatter_add",
                       {updates, indices, like}, {{"axis", axis}}, name);
}
Output one_hot(Output indices, std::int64_t depth, DType dtype, double on_value, double off_value,
               OpName name) {
  return detail::build(
      detail::graph_of(indices, "one_hot"), "one_hot", {indices},
      {{"depth", depth}, {"dtype", dtype}, {"on_value", on_value}, {"off_value", off_value}}, name);
}

}  // namespace dagrad
