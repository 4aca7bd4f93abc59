// softmax_cross_entropy: record, shape function and kernel (contract in
// dagrad/ops/softmax_cross_entropy.hpp).
#include "dagrad/ops/softmax_cross_entropy.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "dagrad/graph/errors.hpp"
#include "kernel_util.hpp"
#include "op_util.hpp"

namespace dagrad {

namespace {

struct SoftmaxCrossEntropy {
  template <class T>
  static void run(KernelContext& c) {
    const Tensor& logits = c.input(0);
    const Tensor& targets = c.input(1);
    Tensor& loss = c.output(0);
    Tensor& backprop = c.output(1);
    if (targets.shape() != logits.shape())
      throw ShapeError("targets " + targets.shape().to_string() + " do not match logits " +
                       logits.shape().to_string());
    const Shape& s = logits.shape();
    const auto classes = static_cast<std::size_t>(s[s.rank() - 1]);
    const auto rows = static_cast<std::size_t>(loss.size());
    const T* z = logits.data<T>();
    const T* t = targets.data<T>();
    T* out = loss.data<T>();
    T* g = backprop.data<T>();
    for (std::size_t r = 0; r < rows; ++r) {
      const T* zr = z + r * classes;
      const T* tr = t + r * classes;
      T* gr = g + r * classes;
      if (classes == 0) {
        out[r] = T(0);
        continue;
      }
      const T m = *std::max_element(zr, zr + classes);
      double total = 0;
      for (std::size_t i = 0; i < classes; ++i) {
        gr[i] = std::exp(zr[i] - m);
        total += static_cast<double>(gr[i]);
      }
      // log_softmax(z)_i = (z_i - m) - log(total), as the log_softmax kernel rounds it.
      const T log_total = static_cast<T>(std::log(total));
      double weighted = 0, weight = 0;
      for (std::size_t i = 0; i < classes; ++i) {
        weighted += static_cast<double>(tr[i]) * static_cast<double>((zr[i] - m) - log_total);
        weight += static_cast<double>(tr[i]);
      }
      out[r] = static_cast<T>(-weighted);
      const double scale = weight / total;  // softmax_i sum(t) = e_i (sum(t) / total)
      for (std::size_t i = 0; i < classes; ++i)
        gr[i] = static_cast<T>(static_cast<double>(gr[i]) * scale - static_cast<double>(tr[i]));
    }
  }
};

}  // namespace

std::pair<Output, Output> softmax_cross_entropy(Output logits, Output targets, OpName name) {
  Graph& g = detail::graph_of(logits, "softmax_cross_entropy");
  NodeOptions options;
  options.name = name.name;
  std::vector<Output> out =
      g.add_node("softmax_cross_entropy", {logits, targets}, {}, std::move(options), name.loc);
  return {out.at(0), out.at(1)};
}

void register_softmax_cross_entropy_ops(OpRegistry& registry) {
  OpRecord r;
  r.name = "softmax_cross_entropy";
  r.input_names = {"logits", "targets"};
  r.output_names = {"loss", "backprop"};
  r.shape_fn = [](ShapeContext& ctx) {
    ctx.expect_floating(0);
    ctx.expect_same_dtype(0, 1);
    const Shape& z = ctx.input_shape(0);
    if (z.rank() < 1) throw ShapeError("logits must have a class axis, got a scalar");
    if (!ctx.input_shape(1).compatible_with(z))
      throw ShapeError("targets " + ctx.input_shape(1).to_string() + " do not match logits " +
                       z.to_string());
    std::vector<std::int64_t> rows = z.dims();
    rows.pop_back();
    ctx.set_output(0, ctx.input_dtype(0), Shape(rows));
    ctx.set_output(1, ctx.input_dtype(0), z);
  };
  kernels::set_kernels<SoftmaxCrossEntropy, float, double>(r);
  r.not_differentiable_reason =
      "a fused loss and gradient made by the optimizer; differentiate the original graph";
  r.summary =
      "cross-entropy of softmax(logits) against targets per row, and its gradient softmax * "
      "sum(targets) - targets (made by the softmax_cross_entropy pass)";
  registry.add(std::move(r));
}

}  // namespace dagrad
