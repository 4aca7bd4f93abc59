#include <algorithm>
#include <numeric>

#include "dagrad/graph/errors.hpp"
#include "passes/rules.hpp"

namespace dagrad {

namespace {

Tensor scalar_of(DType dtype, double value) {
  switch (dtype) {
    case DType::float32:
      return Tensor::scalar<float>(static_cast<float>(value));
    case DType::float64:
      return Tensor::scalar<double>(value);
    case DType::int32:
      return Tensor::scalar<std::int32_t>(static_cast<std::int32_t>(value));
    case DType::int64:
      return Tensor::scalar<std::int64_t>(static_cast<std::int64_t>(value));
    case DType::boolean:
      return Tensor::scalar<bool>(value != 0);
  }
  throw GraphError("scalar_of: unknown dtype");
}

std::vector<int> resolved_perm(const std::vector<std::int64_t>& perm, int rank) {
  std::vector<int> out(static_cast<std::size_t>(rank));
  if (perm.empty()) {
    for (int i = 0; i < rank; ++i) out[static_cast<std::size_t>(i)] = rank - 1 - i;
    return out;
  }
  for (int i = 0; i < rank; ++i) {
    auto p = static_cast<int>(perm[static_cast<std::size_t>(i)]);
    out[static_cast<std::size_t>(i)] = p < 0 ? p + rank : p;
  }
  return out;
}

class Simplifier {
 public:
  Simplifier(PlanGraph& g, PassReport& report) : g_(g), report_(report) {}

  bool sweep() {
    alias_ = g_.variable_aliases();
    written_ = g_.written_variables();
    bool changed = false;
    for (int id : g_.topological_order())
      if (g_.live(id) && simplify(id)) changed = true;
    return changed;
  }

 private:
  const Shape& shape_of(NodeInput in) const {
    return g_.node(in.node).output_shapes.at(static_cast<std::size_t>(in.index));
  }
  DType dtype_of(NodeInput in) const {
    return g_.node(in.node).output_dtypes.at(static_cast<std::size_t>(in.index));
  }
  // Whether `in` is a variable's buffer that this plan writes: never forwarded past the node
  // that reads it.
  bool volatile_value(NodeInput in) const {
    if (in.index != 0 || in.node >= static_cast<int>(alias_.size())) return false;
    int v = alias_[static_cast<std::size_t>(in.node)];
    return v >= 0 && written_[static_cast<std::size_t>(v)];
  }
  // Node `id` (one output) computes exactly `x`: its uses read x.
  bool forward(int id, NodeInput x, const char* why) {
    const Node& n = g_.node(id);
    if (volatile_value(x) || !n.control_inputs.empty()) return false;
    if (dtype_of(x) != n.output_dtypes[0] || !same_shape(shape_of(x), n.output_shapes[0]))
      return false;
    g_.replace_uses({id, 0}, x);
    g_.redirect_control(id, x.node);  // what ran after this node runs after its input
    report_.note("'" + n.name + "' (" + n.op->name + "): " + why);
    g_.kill(id);
    return true;
  }
  bool is_const(NodeInput in, double value) const {
    return constant_all_equal(g_, in, value) && g_.node(in.node).control_inputs.empty();
  }
  int add_scalar(DType dtype, double value, int like) {
    AttrMap attrs;
    attrs.set("value", scalar_of(dtype, value));
    return g_.add_node(g_.registry().get("constant"), {}, std::move(attrs),
                       g_.node(like).name + "/scalar", {}, like);
  }

  bool simplify(int id) {
    const Node& n = g_.node(id);
    const std::string& op = n.op->name;
    if (n.output_dtypes.size() != 1 || n.op->stateful) return false;
    const auto& in = n.inputs;
    if (op == "identity" || op == "stop_gradient") return forward(id, in[0], "forwards its input");
    if ((op == "zeros_like" || op == "ones_like") && n.control_inputs.empty() &&
        n.output_shapes[0].rank() == 0) {
      // Of a scalar: a constant (its input's value never matters, only its shape).
      int c = add_scalar(n.output_dtypes[0], op == "ones_like" ? 1.0 : 0.0, id);
      g_.replace_uses({id, 0}, {c, 0});
      g_.redirect_control(id, c);
      report_.note("'" + n.name + "' (" + op + "): a scalar constant");
      g_.kill(id);
      return true;
    }
    if (op == "mul") {
      if (is_const(in[1], 1)) return forward(id, in[0], "x * 1 = x");
      if (is_const(in[0], 1)) return forward(id, in[1], "1 * x = x");
    }
    if (op == "add") {
      if (is_const(in[1], 0)) return forward(id, in[0], "x + 0 = x");
      if (is_const(in[0], 0)) return forward(id, in[1], "0 + x = x");
    }
    if (op == "sub" && is_const(in[1], 0)) return forward(id, in[0], "x - 0 = x");
    if (op == "div" && is_const(in[1], 1)) return forward(id, in[0], "x / 1 = x");
    if (op == "pow" && is_const(in[1], 1)) return forward(id, in[0], "x ^ 1 = x");
    if (op == "neg" && g_.node(in[0].node).op->name == "neg" &&
        g_.node(in[0].node).control_inputs.empty())
      return forward(id, g_.node(in[0].node).inputs[0], "-(-x) = x");
    if (op == "transpose") {
      const Node& inner = g_.node(in[0].node);
      if (inner.op->name == "transpose" && inner.control_inputs.empty()) {
        int rank = n.output_shapes[0].rank();
        auto outer_perm = resolved_perm(n.attrs.get_ints("perm"), rank);
        auto inner_perm = resolved_perm(inner.attrs.get_ints("perm"), rank);
        bool identity = true;
        for (int i = 0; i < rank; ++i)
          identity =
              identity &&
              inner_perm[static_cast<std::size_t>(outer_perm[static_cast<std::size_t>(i)])] == i;
        if (identity) return forward(id, inner.inputs[0], "transpose of its inverse transpose");
      }
    }
    if (op == "reshape") {
      if (shape_of(in[0]).is_fully_defined() && same_shape(shape_of(in[0]), n.output_shapes[0]))
        return forward(id, in[0], "a reshape to the same shape");
      const Node& inner = g_.node(in[0].node);
      if (inner.op->name == "reshape" && inner.control_inputs.empty() &&
          !volatile_value(inner.inputs[0])) {
        NodeInput source = inner.inputs[0];
        g_.set_input(id, 0, source);  // reshape(reshape(x)) = reshape(x)
        report_.note("'" + n.name + "' (reshape): reshapes '" + g_.node(source.node).name +
                     "' directly, not through '" + inner.name + "'");
        return true;
      }
    }
    if (op == "sum_to") {
      const Shape& x = shape_of(in[0]);
      if (x.is_fully_defined() && same_shape(x, shape_of(in[1])))
        return forward(id, in[0], "a sum_to that sums nothing");
    }
    if (op == "where") {
      if (is_const(in[0], 1)) return forward(id, in[1], "where with a condition that is all true");
      if (is_const(in[0], 0)) return forward(id, in[2], "where with a condition that is all false");
    }
    // zeros_like(y) / ones_like(y) as an operand the other operand's shape already fixes: a
    // scalar constant stands for it (then x*1, x+0 and comparisons with 0 need no tensor).
    static const char* const kBinary[] = {"add",     "sub",        "mul",     "div",
                                          "maximum", "minimum",    "greater", "greater_equal",
                                          "less",    "less_equal", "equal"};
    if (std::find_if(std::begin(kBinary), std::end(kBinary),
                     [&](const char* b) { return op == b; }) != std::end(kBinary)) {
      for (int k = 0; k < 2; ++k) {
        const Node& operand = g_.node(in[static_cast<std::size_t>(k)].node);
        bool zeros = operand.op->name == "zeros_like", ones = operand.op->name == "ones_like";
        if ((!zeros && !ones) || !operand.control_inputs.empty()) continue;
        const NodeInput other = in[static_cast<std::size_t>(1 - k)];
        // The result's shape must not depend on the replaced operand's.
        Shape out = n.output_shapes[0];
        if (!same_shape(shape_of(other), out)) continue;
        int scalar = add_scalar(operand.output_dtypes[0], ones ? 1.0 : 0.0, id);
        g_.set_input(id, k, {scalar, 0});
        report_.note("'" + n.name + "' (" + op + "): a scalar " + (ones ? "1" : "0") +
                     " instead of '" + operand.name + "' (" + operand.op->name + ")");
        return true;
      }
    }
    return false;
  }

  PlanGraph& g_;
  PassReport& report_;
  std::vector<int> alias_;
  std::vector<char> written_;
};

}  // namespace

Pass algebraic_simplification_pass() {
  return {"algebraic_simplification",
          "x*1, x+0, identity, double negation and transposes, reshape chains, no-op sum_to, "
          "constant where conditions, zeros_like/ones_like operands as scalars",
          [](PlanGraph& g, PassReport& report) {
            if (!g.registry().find("constant")) return;  // its rules make scalar constants
            Simplifier simplifier(g, report);
            for (int round = 0; round < 8 && simplifier.sweep(); ++round) {
            }
          }};
}

}  // namespace dagrad
