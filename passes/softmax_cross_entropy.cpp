// softmax_cross_entropy: the cross-entropy the losses build on a softmax's logits,
//   loss = -sum(t * log_softmax(z), -1)
// and, in a training step, the gradient chain autodiff builds for it,
//   dlog_p = t * broadcast(h)             (h per row: minus the loss's upstream gradient)
//   dz = dlog_p - exp(log_p) * sum(dlog_p, -1, keepdims)
// become one softmax_cross_entropy node (dagrad/ops/softmax_cross_entropy.hpp) whose backprop
// output b = softmax(z) sum(t) - t gives dz = h (t - softmax sum(t)) = b * (-h): a row is read
// once for the loss and the gradient, where the unfused graph runs log_softmax, the product, two
// sums, exp and the elementwise tail over it. Exact for any targets (soft labels whose rows do
// not sum to 1 included). Reassociates: the loss and gradient differ from the unfused graph by
// rounding. The replaced nodes are left for the next prune.
#include <string>

#include "passes/rules.hpp"

namespace dagrad {

namespace {

class Fuser {
 public:
  Fuser(PlanGraph& g, PassReport& report) : g_(g), report_(report) {}

  void run() {
    consumers_ = g_.consumers();
    for (int id : g_.topological_order())
      if (g_.live(id) && g_.node(id).op->name == "neg") fuse_forward(id);
  }

 private:
  const Shape& shape_of(NodeInput in) const {
    return g_.node(in.node).output_shapes.at(static_cast<std::size_t>(in.index));
  }
  DType dtype_of(NodeInput in) const {
    return g_.node(in.node).output_dtypes.at(static_cast<std::size_t>(in.index));
  }
  bool is(NodeInput in, const char* op) const {
    const Node& n = g_.node(in.node);
    return in.index == 0 && n.op->name == op && n.control_inputs.empty() &&
           n.output_dtypes.size() == 1;
  }
  // A reduction or softmax attribute that names the last axis of a rank-`rank` tensor.
  static bool last_axis(std::int64_t axis, int rank) { return axis == -1 || axis == rank - 1; }
  bool sums_last_axis(const Node& n, bool keepdims) const {
    const auto& axes = n.attrs.get_ints("axes");
    int rank = shape_of(n.inputs[0]).rank();
    return axes.size() == 1 && last_axis(axes[0], rank) && n.attrs.get_bool("keepdims") == keepdims;
  }
  // mul(a, b) with one operand `known`: the other one, or {-1, 0}.
  NodeInput other_factor(const Node& mul, NodeInput known) const {
    auto same = [](NodeInput a, NodeInput b) { return a.node == b.node && a.index == b.index; };
    if (same(mul.inputs[0], known)) return mul.inputs[1];
    if (same(mul.inputs[1], known)) return mul.inputs[0];
    return {-1, 0};
  }

  // neg(sum(t * log_softmax(z), -1)).
  void fuse_forward(int neg_id) {
    const Node& neg = g_.node(neg_id);
    if (!neg.control_inputs.empty() || !is(neg.inputs[0], "sum")) return;
    const Node& sum = g_.node(neg.inputs[0].node);
    if (!is(sum.inputs[0], "mul") || !sums_last_axis(sum, false)) return;
    const Node& mul = g_.node(sum.inputs[0].node);
    for (int k = 0; k < 2; ++k) {
      const NodeInput log_p = mul.inputs[static_cast<std::size_t>(k)];
      const NodeInput targets = mul.inputs[static_cast<std::size_t>(1 - k)];
      if (!is(log_p, "log_softmax")) continue;
      const Node& ls = g_.node(log_p.node);
      const int rank = shape_of(log_p).rank();
      if (!last_axis(ls.attrs.get_int("axis"), rank)) continue;
      const DType dtype = dtype_of(log_p);
      if ((dtype != DType::float32 && dtype != DType::float64) || dtype_of(targets) != dtype ||
          !same_shape(shape_of(targets), shape_of(log_p)))
        continue;
      const NodeInput logits = ls.inputs[0];
      int fused = g_.add_node(g_.registry().get("softmax_cross_entropy"), {logits, targets}, {},
                              sum.name + "/softmax_cross_entropy", {}, neg_id);
      if (!same_shape(g_.node(fused).output_shapes[0], neg.output_shapes[0])) {
        g_.kill(fused);
        return;
      }
      g_.replace_uses({neg_id, 0}, {fused, 0});
      g_.redirect_control(neg_id, fused);
      int gradients = fuse_backward(log_p, targets, fused);
      report_.note("'" + neg.name + "': the cross-entropy of log_softmax '" + ls.name +
                   "' is one softmax_cross_entropy node" +
                   (gradients ? ", its gradient chain too" : ""));
      return;
    }
  }

  // dz = a - exp(log_p) * sum(a, -1, keepdims), a = [sum_to](t * q), q constant along the
  // class axis: dz = backprop * (-h) with h the per-row value q broadcasts. Returns how many
  // such chains were replaced.
  int fuse_backward(NodeInput log_p, NodeInput targets, int fused) {
    int replaced = 0;
    const int rank = shape_of(log_p).rank();
    for (int e : consumers_[static_cast<std::size_t>(log_p.node)]) {
      if (!g_.live(e) || !is({e, 0}, "exp")) continue;
      for (int x : consumers_[static_cast<std::size_t>(e)]) {
        if (!g_.live(x) || !is({x, 0}, "mul")) continue;
        const NodeInput r = other_factor(g_.node(x), {e, 0});
        if (r.node < 0 || !is(r, "sum") || !sums_last_axis(g_.node(r.node), true)) continue;
        const NodeInput a = g_.node(r.node).inputs[0];
        for (int d : consumers_[static_cast<std::size_t>(x)]) {
          const Node& sub = g_.node(d);
          if (!g_.live(d) || !is({d, 0}, "sub") || sub.inputs[1].node != x ||
              sub.inputs[0].node != a.node || sub.inputs[0].index != a.index)
            continue;
          NodeInput h = per_row_factor(a, targets, rank);
          if (h.node < 0) continue;
          // -h: the upstream gradient itself when h = expand_dims(neg(g)).
          NodeInput minus_h;
          const Node& hn = g_.node(h.node);
          if (is(h, "expand_dims") && is(hn.inputs[0], "neg")) {
            minus_h = {g_.add_node(*hn.op, {g_.node(hn.inputs[0].node).inputs[0]}, hn.attrs,
                                   hn.name + "/upstream", {}, d),
                       0};
          } else {
            minus_h = {g_.add_node(g_.registry().get("neg"), {h}, {}, hn.name + "/neg", {}, d), 0};
          }
          int dz = g_.add_node(g_.registry().get("mul"), {{fused, 1}, minus_h}, {},
                               sub.name + "/softmax_cross_entropy_grad", {}, d);
          if (!same_shape(g_.node(dz).output_shapes[0], sub.output_shapes[0])) {
            g_.kill(dz);
            g_.kill(minus_h.node);
            continue;
          }
          g_.replace_uses({d, 0}, {dz, 0});
          g_.redirect_control(d, dz);
          ++replaced;
        }
      }
    }
    return replaced;
  }

  // a = [sum_to(p, like) that sums nothing] with p = t * q (either order), q = broadcast_like(c)
  // of a c whose class axis is 1, or such a c itself: c; else {-1, 0}.
  NodeInput per_row_factor(NodeInput a, NodeInput targets, int rank) const {
    NodeInput p = a;
    if (is(p, "sum_to") && same_shape(shape_of(g_.node(p.node).inputs[0]), shape_of(p)))
      p = g_.node(p.node).inputs[0];
    if (!is(p, "mul") || !same_shape(shape_of(p), shape_of(targets))) return {-1, 0};
    NodeInput q = other_factor(g_.node(p.node), targets);
    if (q.node < 0) return {-1, 0};
    if (is(q, "broadcast_like")) q = g_.node(q.node).inputs[0];
    const Shape& s = shape_of(q);
    if (s.rank() != rank || s[rank - 1] != 1) return {-1, 0};
    return q;
  }

  PlanGraph& g_;
  PassReport& report_;
  std::vector<std::vector<int>> consumers_;
};

}  // namespace

Pass softmax_cross_entropy_pass() {
  return {"softmax_cross_entropy",
          "-sum(t * log_softmax(z), -1) and its gradient chain become one softmax_cross_entropy "
          "node",
          [](PlanGraph& g, PassReport& report) {
            for (const char* op : {"softmax_cross_entropy", "mul", "neg", "expand_dims"})
              if (!g.registry().find(op)) return;
            Fuser(g, report).run();
          }};
}

}  // namespace dagrad
