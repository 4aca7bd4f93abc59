// batchnorm_folding: a per-feature affine map next to a matrix product, whose scale and shift
// are invariant (computed from constants and from variables this plan never writes), is folded
// into the product's weights. An inference-mode BatchNormalization is y = x * inv + shift with
// inv = rsqrt(moving_variance + eps) * gamma and shift = beta - moving_mean * inv: on the input
// of a Dense (the bn model) matmul(x S + T, W) = matmul(x, S[:,None] W) + T W, on its output
// (bn-before) (matmul(x, W) + b) S + T = matmul(x, W S[None,:]) + (b S + T); on the output of a
// conv2d (Conv2D without bias, then BatchNormalization: the cnn model) with S and T per output
// channel (x's last axis, the HWIO kernel's last axis)
// (conv2d(x, K) + b) S + T = conv2d(x, K S[None,None,None,:]) + (b S + T). A map on a
// convolution's input is not folded: with "same" padding the border windows read zeros that the
// map would have turned into T, so conv2d(x S + T, K) is not conv2d(x, K') + b'. The rule matches
// the arithmetic, not layer names: chains of mul, div, add, sub and neg whose other operand is
// invariant and broadcasts along the last axis only (so Normalization's (x - mean) / scale folds
// too). Training plans write the variables (and BatchNormalization uses batch statistics there),
// so nothing is invariant and nothing folds. The folded kernel and bias are computed from
// variables only: the executor computes such invariant values once and reuses them until one of
// their variables is written (session.hpp), so the fold costs nothing per run.
#include <algorithm>

#include "dagrad/graph/errors.hpp"
#include "passes/rules.hpp"

namespace dagrad {

namespace {

bool floating(DType d) {
  return d == DType::float32 || d == DType::float64;
}

class Folder {
 public:
  Folder(PlanGraph& g, PassReport& report) : g_(g), report_(report) {}

  // One sweep over the matrix products; true when something was folded.
  bool sweep() {
    analyze();
    for (int id : g_.topological_order()) {
      if (!g_.live(id)) continue;
      const std::string& op = g_.node(id).op->name;
      // A convolution folds only the map that follows it: one on its input does not commute
      // with "same" padding (the padded zeros are not scaled and shifted as the pixels are).
      if ((op == "matmul" && (fold_following(id) || fold_preceding(id))) ||
          (op == "conv2d" && fold_preceding(id)))
        return true;  // the analysis is stale: start over
    }
    return false;
  }

 private:
  enum class Kind { Mul, Div, Add, Sub, Neg };
  // One link of an affine chain: node `node` computes kind(x, operand).
  struct Link {
    int node;
    Kind kind;
    NodeInput x;
    NodeInput operand;  // invariant, per feature; unused for Neg
  };
  static constexpr NodeInput kNone{-1, 0};

  const Shape& shape_of(NodeInput in) const {
    return g_.node(in.node).output_shapes.at(static_cast<std::size_t>(in.index));
  }
  DType dtype_of(NodeInput in) const {
    return g_.node(in.node).output_dtypes.at(static_cast<std::size_t>(in.index));
  }
  bool invariant(NodeInput in) const { return invariant_[static_cast<std::size_t>(in.node)] != 0; }
  int uses(int id) const { return uses_[static_cast<std::size_t>(id)]; }

  void analyze() {
    const auto num = static_cast<std::size_t>(g_.num_nodes());
    alias_ = g_.variable_aliases();
    invariant_ = g_.invariant_nodes();
    // Uses: data edges, fetches, and (as many) control edges, which pin a node in place.
    uses_.assign(num, 0);
    for (int id = 0; id < g_.num_nodes(); ++id) {
      if (!g_.live(id)) continue;
      const Node& n = g_.node(id);
      for (const NodeInput& in : n.inputs) ++uses_[static_cast<std::size_t>(in.node)];
      for (int c : n.control_inputs) uses_[static_cast<std::size_t>(c)] += 1000;
    }
    for (const NodeInput& f : g_.fetches()) uses_[static_cast<std::size_t>(f.node)] += 1000;
    for (int t : g_.targets()) uses_[static_cast<std::size_t>(t)] += 1000;
    consumers_ = g_.consumers();
  }

  // Whether reading `in` directly could move a read of a variable this plan writes.
  bool volatile_value(NodeInput in) const {
    if (in.index != 0) return false;
    int v = alias_[static_cast<std::size_t>(in.node)];
    return v >= 0 && !invariant_[static_cast<std::size_t>(v)] &&
           g_.node(v).op->role == OpRole::Variable;
  }

  // An operand that broadcasts into `out` along its last axis only: a scalar, or shape
  // (1, ..., 1, d) with d the features or 1.
  static bool per_feature(const Shape& p, const Shape& out) {
    if (out.rank() < 1 || p.rank() > out.rank()) return false;
    const std::int64_t features = out[out.rank() - 1];
    if (features <= 0) return false;
    for (int i = 0; i + 1 < p.rank(); ++i)
      if (p[i] != 1) return false;
    return p.rank() == 0 || p[p.rank() - 1] == features || p[p.rank() - 1] == 1;
  }

  // Node `id` as a link of an affine chain: a float op of x (not invariant, the output's shape)
  // and an invariant per-feature operand.
  bool as_link(int id, Link& link) const {
    const Node& n = g_.node(id);
    if (!g_.live(id) || n.output_dtypes.size() != 1 || !n.control_inputs.empty() ||
        !floating(n.output_dtypes[0]))
      return false;
    const std::string& op = n.op->name;
    const Shape& out = n.output_shapes[0];
    auto x_ok = [&](NodeInput x) {
      return !invariant(x) && dtype_of(x) == n.output_dtypes[0] && same_shape(shape_of(x), out);
    };
    auto operand_ok = [&](NodeInput p) {
      return invariant(p) && dtype_of(p) == n.output_dtypes[0] && per_feature(shape_of(p), out);
    };
    if (op == "neg") {
      if (!x_ok(n.inputs[0])) return false;
      link = {id, Kind::Neg, n.inputs[0], kNone};
      return true;
    }
    Kind kind;
    bool commutes = false;
    if (op == "mul") {
      kind = Kind::Mul;
      commutes = true;
    } else if (op == "add") {
      kind = Kind::Add;
      commutes = true;
    } else if (op == "sub") {
      kind = Kind::Sub;
    } else if (op == "div") {
      kind = Kind::Div;
    } else {
      return false;
    }
    for (int k = 0; k < (commutes ? 2 : 1); ++k) {
      NodeInput x = n.inputs[static_cast<std::size_t>(k)];
      NodeInput p = n.inputs[static_cast<std::size_t>(1 - k)];
      if (x_ok(x) && operand_ok(p)) {
        link = {id, kind, x, p};
        return true;
      }
    }
    return false;
  }

  // Builds nodes; remembers them so that an abandoned rewrite can remove them again.
  NodeInput make(const std::string& op, std::vector<NodeInput> inputs, AttrMap attrs,
                 const std::string& name, int like) {
    int id =
        g_.add_node(g_.registry().get(op), std::move(inputs), std::move(attrs), name, {}, like);
    made_.push_back(id);
    return {id, 0};
  }
  NodeInput binary(const std::string& op, NodeInput a, NodeInput b, const std::string& name,
                   int like) {
    return make(op, {a, b}, {}, name, like);
  }
  NodeInput reshaped(NodeInput v, std::vector<std::int64_t> shape, const std::string& name,
                     int like) {
    AttrMap attrs;
    attrs.set("shape", std::move(shape));
    return make("reshape", {v}, std::move(attrs), name, like);
  }
  NodeInput matmul(NodeInput a, NodeInput b, bool transpose_a, bool transpose_b,
                   const std::string& name, int like) {
    AttrMap attrs;
    attrs.set("transpose_a", transpose_a);
    attrs.set("transpose_b", transpose_b);
    return make("matmul", {a, b}, std::move(attrs), name, like);
  }
  void abandon() {
    for (int id : made_) g_.kill(id);
    made_.clear();
  }

  // The chain's scale S and shift T (y = x S + T; kNone for 1 and 0), links innermost first.
  void compose(const std::vector<Link>& links, NodeInput& scale, NodeInput& shift,
               const std::string& base, int like) {
    scale = kNone;
    shift = kNone;
    for (const Link& l : links) {
      const NodeInput p = l.operand;
      switch (l.kind) {
        case Kind::Mul:
          scale = scale.node < 0 ? p : binary("mul", scale, p, base + "/scale", like);
          if (shift.node >= 0) shift = binary("mul", shift, p, base + "/shift", like);
          break;
        case Kind::Div:
          scale = scale.node < 0 ? make("reciprocal", {p}, {}, base + "/scale", like)
                                 : binary("div", scale, p, base + "/scale", like);
          if (shift.node >= 0) shift = binary("div", shift, p, base + "/shift", like);
          break;
        case Kind::Add:
          shift = shift.node < 0 ? p : binary("add", shift, p, base + "/shift", like);
          break;
        case Kind::Sub:
          shift = shift.node < 0 ? make("neg", {p}, {}, base + "/shift", like)
                                 : binary("sub", shift, p, base + "/shift", like);
          break;
        case Kind::Neg:
          if (scale.node < 0) {
            AttrMap attrs;
            DType d = dtype_of(l.x);
            attrs.set("value", d == DType::float32 ? Tensor::scalar<float>(-1.0f)
                                                   : Tensor::scalar<double>(-1.0));
            scale = make("constant", {}, std::move(attrs), base + "/scale", like);
          } else {
            scale = make("neg", {scale}, {}, base + "/scale", like);
          }
          if (shift.node >= 0) shift = make("neg", {shift}, {}, base + "/shift", like);
          break;
      }
    }
  }

  static std::int64_t elements(const Shape& s) {
    std::int64_t n = 1;
    for (int i = 0; i < s.rank(); ++i) n *= s[i];
    return n;
  }

  // matmul(chain(x), W) with the chain ending at the product's first operand.
  bool fold_following(int id) {
    const Node& m = g_.node(id);
    if (!m.control_inputs.empty() || m.attrs.get_bool("transpose_a")) return false;
    const NodeInput a = m.inputs[0], w = m.inputs[1];
    if (!invariant(w) || invariant(a) || shape_of(a).rank() != 2 || shape_of(w).rank() != 2 ||
        m.output_shapes[0].rank() != 2 || !floating(m.output_dtypes[0]))
      return false;
    std::vector<Link> links;  // outermost first
    NodeInput cur = a;
    Link link;
    while (cur.index == 0 && uses(cur.node) == 1 && as_link(cur.node, link)) {
      links.push_back(link);
      cur = link.x;
    }
    if (links.empty() || volatile_value(cur)) return false;
    std::reverse(links.begin(), links.end());
    const bool transpose_b = m.attrs.get_bool("transpose_b");
    const std::int64_t k = shape_of(cur)[1];
    const std::string base = m.name + "/folded";
    NodeInput scale, shift;
    try {
      compose(links, scale, shift, base, id);
      if (shift.node >= 0 && elements(shape_of(shift)) != k) {
        abandon();  // a shift the same for every feature: not worth a rule of its own
        return false;
      }
      NodeInput kernel = w;
      if (scale.node >= 0) {
        // Row i of W (column i of W^T) times S_i.
        const std::int64_t s = elements(shape_of(scale));
        NodeInput col = reshaped(
            scale, transpose_b ? std::vector<std::int64_t>{1, s} : std::vector<std::int64_t>{s, 1},
            base + "/scale_" + (transpose_b ? "row" : "column"), id);
        kernel = binary("mul", w, col, base + "/kernel", id);
      }
      NodeInput out = matmul(cur, kernel, false, transpose_b, base + "/matmul", id);
      if (shift.node >= 0) {
        NodeInput row = reshaped(shift, {1, k}, base + "/shift_row", id);
        NodeInput bias = matmul(row, w, false, transpose_b, base + "/bias", id);
        out = binary("add", out, bias, base + "/add_bias", id);
      }
      if (!same_shape(shape_of(out), m.output_shapes[0]) || dtype_of(out) != m.output_dtypes[0]) {
        abandon();
        return false;
      }
      made_.clear();
      g_.replace_uses({id, 0}, out);
      g_.redirect_control(id, out.node);
    } catch (const Error&) {  // a shape function refused a node: leave the graph as it was
      abandon();
      return false;
    }
    report_.note("'" + m.name + "' (matmul): folded " + std::to_string(links.size()) +
                 " per-feature op(s) on its input ('" + g_.node(links.back().node).name +
                 "') into its kernel and a bias");
    g_.kill(id);
    for (const Link& l : links) g_.kill(l.node);
    return true;
  }

  // chain(matmul(x, W)) or chain(conv2d(x, K)): the product's only use starts the chain. The
  // output's last axis is the kernel's last axis (W's columns, K's output channels), so a
  // per-feature scale multiplies the kernel along it.
  bool fold_preceding(int id) {
    const Node& m = g_.node(id);
    const bool conv = m.op->name == "conv2d";
    const int rank = conv ? 4 : 2;
    const NodeInput w = m.inputs[1];
    if (!m.control_inputs.empty() || !invariant(w) || invariant({id, 0}) ||
        shape_of(w).rank() != rank || m.output_shapes[0].rank() != rank ||
        !floating(m.output_dtypes[0]) || uses(id) != 1)
      return false;
    std::vector<Link> links;  // innermost first
    NodeInput cur{id, 0};
    Link link;
    for (;;) {
      const auto& next = consumers_[static_cast<std::size_t>(cur.node)];
      if (next.size() != 1 || !as_link(next[0], link) || !(link.x.node == cur.node) ||
          link.x.index != cur.index)
        break;
      links.push_back(link);
      cur = {link.node, 0};
      if (uses(link.node) != 1) break;  // the chain's last node may have several uses
    }
    bool has_scale = std::any_of(links.begin(), links.end(), [](const Link& l) {
      return l.kind == Kind::Mul || l.kind == Kind::Div || l.kind == Kind::Neg;
    });
    if (links.empty() || (!has_scale && links.size() < 2)) return false;
    const bool transpose_b = !conv && m.attrs.get_bool("transpose_b");
    const int last = links.back().node;
    const std::string base = m.name + "/folded";
    NodeInput scale, shift;
    try {
      compose(links, scale, shift, base, last);
      NodeInput kernel = w;
      if (scale.node >= 0) {
        // Column j of W (row j of W^T), output channel j of K (HWIO), times S_j.
        const std::int64_t s = elements(shape_of(scale));
        NodeInput row = conv ? reshaped(scale, {1, 1, 1, s}, base + "/scale_channels", last)
                             : reshaped(scale,
                                        transpose_b ? std::vector<std::int64_t>{s, 1}
                                                    : std::vector<std::int64_t>{1, s},
                                        base + "/scale_" + (transpose_b ? "column" : "row"), last);
        kernel = binary("mul", w, row, base + "/kernel", last);
      }
      NodeInput out{id, 0};
      if (scale.node >= 0 && conv) {
        AttrMap attrs;
        for (const char* a : {"strides", "padding", "dilations"}) attrs.set(a, m.attrs.at(a));
        out = make("conv2d", {m.inputs[0], kernel}, std::move(attrs), base + "/conv2d", last);
      } else if (scale.node >= 0) {
        out = matmul(m.inputs[0], kernel, m.attrs.get_bool("transpose_a"), transpose_b,
                     base + "/matmul", last);
      }
      if (shift.node >= 0) out = binary("add", out, shift, base + "/add_bias", last);
      const Node& end = g_.node(last);
      if (!same_shape(shape_of(out), end.output_shapes[0]) ||
          dtype_of(out) != end.output_dtypes[0]) {
        abandon();
        return false;
      }
      made_.clear();
      g_.replace_uses({last, 0}, out);
      g_.redirect_control(last, out.node);
      report_.note("'" + m.name + "' (" + m.op->name + "): folded " + std::to_string(links.size()) +
                   " per-feature op(s) on its output (to '" + end.name + "') into " +
                   (scale.node >= 0 ? "its kernel and a bias" : "one bias"));
    } catch (const Error&) {
      abandon();
      return false;
    }
    for (const Link& l : links) g_.kill(l.node);
    if (scale.node >= 0) g_.kill(id);
    return true;
  }

  PlanGraph& g_;
  PassReport& report_;
  std::vector<char> invariant_;
  std::vector<int> uses_;
  std::vector<int> alias_;
  std::vector<std::vector<int>> consumers_;
  std::vector<int> made_;
};

}  // namespace

Pass batchnorm_folding_pass() {
  return {"batchnorm_folding",
          "per-feature scale and shift from unwritten variables (inference BatchNormalization, "
          "Normalization) next to a matmul fold into its kernel and bias",
          [](PlanGraph& g, PassReport& report) {
            for (const char* op : {"matmul", "mul", "add", "reshape", "constant"})
              if (!g.registry().find(op)) return;
            Folder folder(g, report);
            for (int round = 0; round < 64 && folder.sweep(); ++round) {
            }
          }};
}

}  // namespace dagrad
