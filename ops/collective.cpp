// Collective ops over the process group (graph/distributed.hpp): allreduce, broadcast and
// reduce_to_root. In a process that did not start MPI they are copies (a group of one).
// Every rank must run the same collectives in the same order: the ops are stateful, so no pass
// merges, folds, fuses or hoists them, and each rank's plan of one graph runs them in one order.
#include <cstring>

#include "dagrad/graph/distributed.hpp"
#include "op_util.hpp"

namespace dagrad {

namespace {

using distributed::Reduction;

Reduction reduction_of(const AttrMap& attrs) {
  const std::string& r = attrs.get_string("reduction");
  if (r == "sum") return Reduction::Sum;
  if (r == "mean") return Reduction::Mean;
  throw std::invalid_argument("reduction must be \"sum\" or \"mean\", got \"" + r + "\"");
}

// Copies x into the output, where the collective then works in place.
void copy_input(KernelContext& c) {
  if (c.output(0).raw() != c.input(0).raw())
    std::memcpy(c.output(0).raw(), c.input(0).raw(), c.input(0).nbytes());
}

void allreduce_kernel(KernelContext& c) {
  copy_input(c);
  distributed::allreduce(c.output(0).raw(), c.output(0).size(), c.output(0).dtype(),
                         reduction_of(c.attrs()), "node '" + c.node.name + "'");
}

void broadcast_kernel(KernelContext& c) {
  copy_input(c);
  distributed::broadcast(c.output(0).raw(), c.output(0).size(), c.output(0).dtype(),
                         static_cast<int>(c.attrs().get_int("root")), "node '" + c.node.name + "'");
}

void reduce_to_root_kernel(KernelContext& c) {
  copy_input(c);
  distributed::reduce_to_root(c.output(0).raw(), c.output(0).size(), c.output(0).dtype(),
                              static_cast<int>(c.attrs().get_int("root")),
                              "node '" + c.node.name + "'");
}

void check_root(ShapeContext& ctx) {
  if (ctx.attrs().get_int("root") < 0)
    throw ShapeError("root must be a rank (>= 0), got " + std::to_string(ctx.attrs().get_int("root")));
}

template <class... Ds>
void set_all(OpRecord& r, KernelFn kernel, Ds... dtypes) {
  ((r.kernels[static_cast<std::size_t>(dtypes)] = kernel), ...);
}

// The checker runs in one process, where each collective is the identity; the 2-rank tests
// (tests/distributed) check the rules across ranks.
GradCheckSpec collective_gradcheck() {
  GradCheckSpec spec;
  spec.samples = detail::unary_samples();
  return spec;
}

}  // namespace

void register_collective_ops(OpRegistry& registry) {
  {
    OpRecord r;
    r.name = "allreduce";
    r.input_names = {"x"};
    r.attrs = {{"reduction", AttrKind::String, AttrValue(std::string("sum"))}};
    r.shape_fn = [](ShapeContext& ctx) {
      Reduction red = reduction_of(ctx.attrs());
      DType d = ctx.input_dtype(0);
      if (d == DType::boolean || (red == Reduction::Mean && !is_floating(d)))
        throw ShapeError("allreduce " + ctx.attrs().get_string("reduction") + " of " +
                         std::string(dtype_name(d)) + " is not supported");
      detail::same_as_input0(ctx);
    };
    set_all(r, &allreduce_kernel, DType::float32, DType::float64, DType::int32, DType::int64);
    r.stateful = true;
    // y_r = sum_s x_s: dL/dx_r = sum_s dy_s = allreduce_sum(dy); for the mean, mean_s dy_s.
    r.gradient = [](Graph& g, const Node& node, std::span<const Output> dys,
                    const std::vector<bool>&) {
      (void)g;
      return std::vector<Output>{allreduce(dys[0], reduction_of(node.attrs))};
    };
    r.gradcheck = collective_gradcheck();
    r.gradcheck.samples.push_back({{Shape{2, 3}}, {{"reduction", std::string("mean")}}, {}, "mean"});
    r.summary = "sum (or mean) of x over every rank of the job, on every rank";
    registry.add(std::move(r));
  }
  {
    OpRecord r;
    r.name = "broadcast";
    r.input_names = {"x"};
    r.attrs = {{"root", AttrKind::Int, AttrValue(std::int64_t{0})}};
    r.shape_fn = [](ShapeContext& ctx) {
      check_root(ctx);
      detail::same_as_input0(ctx);
    };
    set_all(r, &broadcast_kernel, DType::float32, DType::float64, DType::int32, DType::int64,
            DType::boolean);
    r.stateful = true;
    // y_r = x_root: dL/dx_root = sum_s dy_s, dL/dx_r = 0 elsewhere: reduce_to_root(dy).
    r.gradient = [](Graph&, const Node& node, std::span<const Output> dys,
                    const std::vector<bool>&) {
      return std::vector<Output>{
          reduce_to_root(dys[0], static_cast<int>(node.attrs.get_int("root")))};
    };
    r.gradcheck = collective_gradcheck();
    r.summary = "root's x, on every rank";
    registry.add(std::move(r));
  }
  {
    OpRecord r;
    r.name = "reduce_to_root";
    r.input_names = {"x"};
    r.attrs = {{"root", AttrKind::Int, AttrValue(std::int64_t{0})}};
    r.shape_fn = [](ShapeContext& ctx) {
      check_root(ctx);
      if (ctx.input_dtype(0) == DType::boolean)
        throw ShapeError("reduce_to_root sums; bool is not supported");
      detail::same_as_input0(ctx);
    };
    set_all(r, &reduce_to_root_kernel, DType::float32, DType::float64, DType::int32,
            DType::int64);
    r.stateful = true;
    // y_root = sum_s x_s, y_r = 0 elsewhere: dL/dx_r = dy_root on every rank: broadcast(dy).
    r.gradient = [](Graph&, const Node& node, std::span<const Output> dys,
                    const std::vector<bool>&) {
      return std::vector<Output>{broadcast(dys[0], static_cast<int>(node.attrs.get_int("root")))};
    };
    r.gradcheck = collective_gradcheck();
    r.summary = "on root, x summed over every rank; zeros on the other ranks";
    registry.add(std::move(r));
  }
}

Output allreduce(Output x, distributed::Reduction reduction, OpName name) {
  return detail::build(detail::graph_of(x, "allreduce"), "allreduce", {x},
                       {{"reduction", std::string(reduction == distributed::Reduction::Mean
                                                      ? "mean"
                                                      : "sum")}},
                       name);
}

Output broadcast(Output x, int root, OpName name) {
  return detail::build(detail::graph_of(x, "broadcast"), "broadcast", {x},
                       {{"root", std::int64_t{root}}}, name);
}

Output reduce_to_root(Output x, int root, OpName name) {
  return detail::build(detail::graph_of(x, "reduce_to_root"), "reduce_to_root", {x},
                       {{"root", std::int64_t{root}}}, name);
}

}  // namespace dagrad
