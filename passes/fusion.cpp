// elementwise_fusion: groups of elementwise nodes of one shape become one fused_elementwise node
// (include/dagrad/ops/fused.hpp), evaluated block by block in registers instead of one full pass
// over memory per op; an optimizer's assign, assign_add or assign_sub at the end of such a group
// becomes an in-place store of the fused node, so a parameter's whole update is one pass over
// the parameter, its slots and its gradient.
//
// Groups grow from consumers to producers (reverse topological order): a producer joins its
// consumer's group when it has the group's shape, dtype and an opcode, and joining makes no
// cycle (no path leaves the group and comes back, other groups counted as the single nodes they
// will become). A member whose value is used outside the group becomes an output of the fused
// node; comparisons (bool) must be used inside only.
//
// Reductions over leading axes (sum_to, sum and mean of a (B, N) value down to (N) or (1, N), as
// bias gradients and BatchNormalization's moments and backward sums are) join the group that
// computes their input or reads it as an input, as reduction outputs of the fused node, so the
// value and its column sums come from one pass over the data. They join after the elementwise
// groups have grown; one whose input no group touches seeds a group of its own and grows from
// there. Only those the fused kernel sums in the unfused kernel's order join: every kept
// dimension known with more than one element in all (one element is a total, which the unfused
// kernel sums in 16 partial sums), and for sum_to a `like` of lower rank than x (for equal
// shapes it copies, keeping a -0 that 0 + -0 would not).
#include <algorithm>
#include <map>
#include <optional>
#include <unordered_map>

#include "dagrad/graph/errors.hpp"
#include "dagrad/ops/fused.hpp"
#include "passes/rules.hpp"

namespace dagrad {

namespace {

struct OpcodeInfo {
  FusedOpcode opcode;
  int arity;
};

std::optional<OpcodeInfo> opcode_of(const std::string& op) {
  using F = FusedOpcode;
  static const std::unordered_map<std::string, OpcodeInfo> table = {
      {"identity", {F::Identity, 1}},
      {"stop_gradient", {F::Identity, 1}},
      {"zeros_like", {F::ZerosLike, 1}},
      {"ones_like", {F::OnesLike, 1}},
      {"neg", {F::Neg, 1}},
      {"abs", {F::Abs, 1}},
      {"sign", {F::Sign, 1}},
      {"exp", {F::Exp, 1}},
      {"log", {F::Log, 1}},
      {"log1p", {F::Log1p, 1}},
      {"sqrt", {F::Sqrt, 1}},
      {"rsqrt", {F::Rsqrt, 1}},
      {"square", {F::Square, 1}},
      {"reciprocal", {F::Reciprocal, 1}},
      {"sigmoid", {F::Sigmoid, 1}},
      {"tanh", {F::Tanh, 1}},
      {"relu", {F::Relu, 1}},
      {"softplus", {F::Softplus, 1}},
      {"elu", {F::Elu, 1}},
      {"selu", {F::Selu, 1}},
      {"leaky_relu", {F::LeakyRelu, 1}},
      {"clip_by_value", {F::Clip, 1}},
      {"add", {F::Add, 2}},
      {"sub", {F::Sub, 2}},
      {"mul", {F::Mul, 2}},
      {"div", {F::Div, 2}},
      {"pow", {F::Pow, 2}},
      {"maximum", {F::Maximum, 2}},
      {"minimum", {F::Minimum, 2}},
      {"greater", {F::Greater, 2}},
      {"greater_equal", {F::GreaterEqual, 2}},
      {"less", {F::Less, 2}},
      {"less_equal", {F::LessEqual, 2}},
      {"equal", {F::Equal, 2}},
      {"where", {F::Where, 3}},
      {"add_n", {F::Add, -1}},               // a chain of Add, left to right, as its kernel sums
      {"broadcast_like", {F::Identity, 2}},  // the input, broadcast like the group's inputs
  };
  auto it = table.find(op);
  if (it == table.end()) return std::nullopt;
  return it->second;
}

// A reduction over the first `leading` axes of its input, with an output of rank `rank`.
struct ReductionInfo {
  FusedReduction kind;
  int leading;
  int rank;
};

// The reduction node `n` is, when the fused kernel computes it bit for bit (see the top).
std::optional<ReductionInfo> reduction_of(const Node& n, const Shape& x) {
  const std::string& op = n.op->name;
  if (op != "sum" && op != "mean" && op != "sum_to") return std::nullopt;
  if (n.inputs.empty() || n.output_shapes.size() != 1 || !n.control_inputs.empty())
    return std::nullopt;
  const int rank = x.rank();
  ReductionInfo info{op == "mean" ? FusedReduction::Mean : FusedReduction::Sum, 0, 0};
  if (op == "sum_to") {
    const Shape& like = n.output_shapes[0];
    const int lead = rank - like.rank();
    if (lead < 1) return std::nullopt;
    int leading = 0;
    while (leading < rank && (leading < lead || like[leading - lead] == 1)) ++leading;
    for (int i = leading; i < rank; ++i)
      if (like[i - lead] != x[i]) return std::nullopt;  // another reduced axis, or unknown
    info.leading = leading;
    info.rank = like.rank();
  } else {
    std::vector<std::int64_t> axes = n.attrs.get_ints("axes");
    if (axes.empty()) return std::nullopt;  // all axes: a total
    for (auto& a : axes) {
      if (a < -rank || a >= rank) return std::nullopt;
      if (a < 0) a += rank;
    }
    std::sort(axes.begin(), axes.end());
    for (std::size_t i = 0; i < axes.size(); ++i)
      if (axes[i] != static_cast<std::int64_t>(i)) return std::nullopt;  // not a prefix
    info.leading = static_cast<int>(axes.size());
    info.rank = n.attrs.get_bool("keepdims") ? rank : rank - info.leading;
  }
  if (info.leading < 1) return std::nullopt;
  std::int64_t kept = 1;
  for (int i = info.leading; i < rank; ++i) {
    if (x[i] < 0) return std::nullopt;
    kept *= x[i];
  }
  if (kept <= 1) return std::nullopt;
  return info;
}

bool is_comparison(FusedOpcode op) {
  return op == FusedOpcode::Greater || op == FusedOpcode::GreaterEqual || op == FusedOpcode::Less ||
         op == FusedOpcode::LessEqual || op == FusedOpcode::Equal;
}

enum class StoreKind { None, Assign, Add, Sub };

StoreKind store_kind(const std::string& op) {
  if (op == "assign") return StoreKind::Assign;
  if (op == "assign_add") return StoreKind::Add;
  if (op == "assign_sub") return StoreKind::Sub;
  return StoreKind::None;
}

class Fuser {
 public:
  Fuser(PlanGraph& g, PassReport& report) : g_(g), report_(report) {}

  void run() {
    order_ = g_.topological_order();
    const auto n = static_cast<std::size_t>(g_.num_nodes());
    position_.assign(n, -1);
    for (std::size_t k = 0; k < order_.size(); ++k)
      position_[static_cast<std::size_t>(order_[k])] = static_cast<int>(k);
    consumers_ = g_.consumers();
    control_consumers_.assign(n, {});
    for (int id : order_)
      for (int c : g_.node(id).control_inputs)
        control_consumers_[static_cast<std::size_t>(c)].push_back(id);
    fetched_.assign(n, 0);
    for (const NodeInput& f : g_.fetches()) fetched_[static_cast<std::size_t>(f.node)] = 1;
    region_of_.assign(n, -1);
    alias_ = g_.variable_aliases();
    for (auto it = order_.rbegin(); it != order_.rend(); ++it) grow(*it);
    for (int id : order_) absorb_reduction(id);
    for (auto it = order_.rbegin(); it != order_.rend(); ++it)
      if (reduction(*it)) grow(*it);
    for (int id : order_) absorb_reduction(id);  // into the groups those seeded
    for (std::size_t r = 0; r < regions_.size(); ++r) materialize(regions_[r]);
  }

 private:
  struct Region {
    DType dtype;
    Shape shape;
    std::vector<int> members;
    int max_position = 0;
  };

  const Node& node(int id) const { return g_.node(id); }
  DType out_dtype(NodeInput in) const {
    return node(in.node).output_dtypes.at(static_cast<std::size_t>(in.index));
  }
  const Shape& out_shape(NodeInput in) const {
    return node(in.node).output_shapes.at(static_cast<std::size_t>(in.index));
  }

  // The compute dtype and shape a node works in, if it can be a member at all.
  bool member_kind(int id, DType& dtype, Shape& shape) const {
    const Node& n = node(id);
    if (!g_.live(id) || n.op->role != OpRole::Compute) return false;
    StoreKind store = store_kind(n.op->name);
    if (store != StoreKind::None) {
      const Node& var = node(n.inputs[0].node);
      if (var.op->role != OpRole::Variable || n.inputs[0].index != 0) return false;
      dtype = var.output_dtypes[0];
      shape = var.output_shapes[0];
      // Its data users read the new value from the register, so they must be members (grow
      // checks that).
      return is_floating(dtype) && out_dtype(n.inputs[1]) == dtype &&
             same_shape(out_shape(n.inputs[1]), shape);
    }
    auto info = opcode_of(n.op->name);
    if (!info || n.output_dtypes.size() != 1) return false;
    if (info->arity >= 0 && static_cast<int>(n.inputs.size()) != info->arity) return false;
    if (n.op->stateful || n.op->uses_rng) return false;
    shape = n.output_shapes[0];
    if (is_comparison(info->opcode)) {
      dtype = out_dtype(n.inputs[0]);
    } else {
      dtype = n.output_dtypes[0];
    }
    if (!is_floating(dtype)) return false;
    for (std::size_t i = 0; i < n.inputs.size(); ++i) {
      DType d = out_dtype(n.inputs[i]);
      bool condition = info->opcode == FusedOpcode::Where && i == 0;
      if (condition ? (d != DType::boolean && d != dtype) : d != dtype) return false;
    }
    return true;
  }

  // The reduction node `id` is, if the fused kernel can compute it (see the top).
  std::optional<ReductionInfo> reduction(int id) const {
    const Node& n = node(id);
    if (!g_.live(id) || n.op->role != OpRole::Compute || n.inputs.empty()) return std::nullopt;
    DType d = out_dtype(n.inputs[0]);
    if (!is_floating(d) || n.output_dtypes.size() != 1 || n.output_dtypes[0] != d)
      return std::nullopt;
    return reduction_of(n, out_shape(n.inputs[0]));
  }

  // Adds reduction `id` to the group that computes its input, or else reads it, when that group
  // works in the input's shape and dtype and gains no cycle.
  void absorb_reduction(int id) {
    if (region_of_[static_cast<std::size_t>(id)] >= 0 || !reduction(id)) return;
    const NodeInput x = node(id).inputs[0];
    std::vector<int> candidates;
    if (region_of_[static_cast<std::size_t>(x.node)] >= 0) {
      candidates.push_back(region_of_[static_cast<std::size_t>(x.node)]);
    } else {
      for (int c : consumers_[static_cast<std::size_t>(x.node)]) {
        int rc = region_of_[static_cast<std::size_t>(c)];
        if (rc < 0 || std::find(candidates.begin(), candidates.end(), rc) != candidates.end())
          continue;
        for (const NodeInput& in : node(c).inputs)
          if (in.node == x.node && in.index == x.index) {
            candidates.push_back(rc);
            break;
          }
      }
    }
    const int variable = x.index == 0 ? alias_[static_cast<std::size_t>(x.node)] : -1;
    for (int index : candidates) {
      Region& region = regions_[static_cast<std::size_t>(index)];
      if (region.dtype != out_dtype(x) || !same_shape(region.shape, out_shape(x))) continue;
      // A variable the group stores: the reduction would read it unordered with the store, and
      // reads_precede_stores would then refuse the whole group.
      bool stored = false;
      for (int m : region.members)
        stored = stored || (variable >= 0 && store_kind(node(m).op->name) != StoreKind::None &&
                            node(m).inputs[0].node == variable);
      if (stored) continue;
      // Its value exists only after the last block: no member may read it, directly or not.
      bool read_inside = false;
      for (int c : consumers_[static_cast<std::size_t>(id)])
        read_inside = read_inside || region_of_[static_cast<std::size_t>(c)] == index;
      if (read_inside) continue;
      region_of_[static_cast<std::size_t>(id)] = index;  // tentatively, for the check
      if (path_back(id, index, region)) {
        region_of_[static_cast<std::size_t>(id)] = -1;
        continue;
      }
      region.members.push_back(id);
      region.max_position = std::max(region.max_position, position_[static_cast<std::size_t>(id)]);
      return;
    }
  }

  bool uses_only_inside(int id, int region_index) const {
    if (fetched_[static_cast<std::size_t>(id)]) return false;
    for (int c : consumers_[static_cast<std::size_t>(id)])
      if (region_of_[static_cast<std::size_t>(c)] != region_index) return false;
    return true;
  }

  // Whether some path from a consumer of `id` outside region `index` leads back into it.
  bool path_back(int id, int index, const Region& r) {
    std::vector<int> stack;
    auto push_users = [&](int from) {
      for (int c : consumers_[static_cast<std::size_t>(from)]) stack.push_back(c);
      for (int c : control_consumers_[static_cast<std::size_t>(from)]) stack.push_back(c);
    };
    ++visit_epoch_;
    if (visited_.size() < static_cast<std::size_t>(g_.num_nodes()))
      visited_.resize(static_cast<std::size_t>(g_.num_nodes()), 0);
    for (int c : consumers_[static_cast<std::size_t>(id)])
      if (region_of_[static_cast<std::size_t>(c)] != index) stack.push_back(c);
    for (int c : control_consumers_[static_cast<std::size_t>(id)])
      if (region_of_[static_cast<std::size_t>(c)] != index) stack.push_back(c);
    while (!stack.empty()) {
      int u = stack.back();
      stack.pop_back();
      if (visited_[static_cast<std::size_t>(u)] == visit_epoch_) continue;
      visited_[static_cast<std::size_t>(u)] = visit_epoch_;
      int ru = region_of_[static_cast<std::size_t>(u)];
      if (ru == index) return true;
      if (ru >= 0) {  // another group: one node once fused, so all its members' users count
        for (int m : regions_[static_cast<std::size_t>(ru)].members) {
          visited_[static_cast<std::size_t>(m)] = visit_epoch_;
          push_users(m);
        }
        continue;
      }
      if (position_[static_cast<std::size_t>(u)] > r.max_position) continue;  // cannot reach back
      push_users(u);
    }
    return false;
  }

  void grow(int seed) {
    if (region_of_[static_cast<std::size_t>(seed)] >= 0) return;
    Region r;
    const bool seed_reduces = reduction(seed).has_value();
    if (seed_reduces) {  // a group in its input's shape
      r.dtype = out_dtype(node(seed).inputs[0]);
      r.shape = out_shape(node(seed).inputs[0]);
    } else if (!member_kind(seed, r.dtype, r.shape)) {
      return;
    }
    const Node& s = node(seed);
    StoreKind seed_store = store_kind(s.op->name);
    // A comparison's bool value cannot leave a group; an assign read elsewhere cannot be one.
    auto info = opcode_of(s.op->name);
    if (info && is_comparison(info->opcode)) return;
    if (seed_store != StoreKind::None && (fetched_[static_cast<std::size_t>(seed)] ||
                                          !consumers_[static_cast<std::size_t>(seed)].empty()))
      return;
    int index = static_cast<int>(regions_.size());
    r.members.push_back(seed);
    r.max_position = position_[static_cast<std::size_t>(seed)];
    region_of_[static_cast<std::size_t>(seed)] = index;
    regions_.push_back(r);
    Region& region = regions_.back();
    for (std::size_t k = 0; k < region.members.size(); ++k) {
      const Node& member = node(region.members[k]);
      bool member_stores = store_kind(member.op->name) != StoreKind::None;
      // A store's input 0 is the variable; a reduction reads input 0 only (sum_to's `like` gives
      // the shape alone).
      const std::size_t end = k == 0 && seed_reduces ? 1 : member.inputs.size();
      for (std::size_t i = member_stores ? 1 : 0; i < end; ++i) {
        int p = member.inputs[i].node;
        if (region_of_[static_cast<std::size_t>(p)] >= 0) continue;
        DType d;
        Shape shape;
        if (!member_kind(p, d, shape) || d != region.dtype || !same_shape(shape, region.shape))
          continue;
        const Node& pn = node(p);
        bool store = store_kind(pn.op->name) != StoreKind::None;
        auto pinfo = opcode_of(pn.op->name);
        bool comparison = pinfo && is_comparison(pinfo->opcode);
        // Stores and comparisons join only when every use is inside; an assign's value is the
        // variable's new value, which members read from the register.
        region_of_[static_cast<std::size_t>(p)] = index;  // tentatively, for the checks
        bool all_uses_inside = uses_only_inside(p, index);
        // A path back can also run through a control edge (a node built under
        // control_dependencies of p that a member reads), so it is checked even when every
        // data use is inside.
        bool ok = (!(store || comparison) || all_uses_inside) && !path_back(p, index, region);
        if (!ok) {
          region_of_[static_cast<std::size_t>(p)] = -1;
          continue;
        }
        region.members.push_back(p);
        region.max_position = std::max(region.max_position, position_[static_cast<std::size_t>(p)]);
      }
    }
    if (region.members.size() < 2) {
      region_of_[static_cast<std::size_t>(seed)] = -1;
      regions_.pop_back();
    }
  }

  // The fused kernel loads every input before it stores: a member that reads a variable the
  // group stores must be one whose value the store depends on (a read before the write), never
  // one ordered after it. Each variable is stored at most once per group.
  bool reads_precede_stores(const std::vector<int>& members) {
    for (int s : members) {
      if (store_kind(node(s).op->name) == StoreKind::None) continue;
      int var = node(s).inputs[0].node;
      for (int other : members)
        if (other != s && store_kind(node(other).op->name) != StoreKind::None &&
            node(other).inputs[0].node == var)
          return false;
      for (int m : members) {
        if (m == s) continue;
        bool reads = false;
        // A member reading the store's own output gets the stored value from its register; only
        // a load of the variable's buffer (an input from outside the group) reads the old value.
        for (const NodeInput& in : node(m).inputs)
          reads = reads || (!inside(in.node) && in.index == 0 &&
                            alias_[static_cast<std::size_t>(in.node)] == var);
        if (reads && !reaches_inside(m, s)) return false;
      }
    }
    return true;
  }

  // Whether `to` is reachable from `from` through data edges between members.
  bool reaches_inside(int from, int to) const {
    std::vector<int> stack{from}, seen;  // members only: a group is small
    while (!stack.empty()) {
      int u = stack.back();
      stack.pop_back();
      if (u == to) return true;
      if (std::find(seen.begin(), seen.end(), u) != seen.end()) continue;
      seen.push_back(u);
      for (int c : consumers_[static_cast<std::size_t>(u)])
        if (inside(c)) stack.push_back(c);
    }
    return false;
  }

  // Whether node `id` is a member of the group being materialized.
  bool inside(int id) const {
    return id < static_cast<int>(in_region_.size()) && in_region_[static_cast<std::size_t>(id)];
  }

  void materialize(const Region& r) {
    std::vector<int> members = r.members;
    std::sort(members.begin(), members.end(), [&](int a, int b) {
      return position_[static_cast<std::size_t>(a)] < position_[static_cast<std::size_t>(b)];
    });
    in_region_.resize(static_cast<std::size_t>(g_.num_nodes()), 0);
    for (int m : members) in_region_[static_cast<std::size_t>(m)] = 1;
    struct Clear {  // the flags are shared by every group: clear them on every way out
      std::vector<char>& flags;
      const std::vector<int>& members;
      ~Clear() {
        for (int m : members) flags[static_cast<std::size_t>(m)] = 0;
      }
    } clear{in_region_, members};
    if (!reads_precede_stores(members)) return;
    // Inputs: external values, a full-shape one of the compute dtype first (the kernel
    // dispatches on input 0). Scalar constants become program constants.
    std::vector<NodeInput> inputs;
    std::map<std::pair<int, int>, int> input_index;
    std::map<std::pair<int, int>, double> scalar_constants;
    auto note_input = [&](NodeInput in) {
      if (inside(in.node)) return;
      const Node& p = node(in.node);
      double value = 0;
      if (p.op->role == OpRole::Constant && p.control_inputs.empty() && out_shape(in).rank() == 0 &&
          constant_scalar(g_, in, value)) {
        scalar_constants[{in.node, in.index}] = value;
        return;
      }
      if (input_index.count({in.node, in.index})) return;
      input_index[{in.node, in.index}] = static_cast<int>(inputs.size());
      inputs.push_back(in);
    };
    auto is_reduction = [&](int m) { return reduction(m).has_value(); };
    for (int m : members) {
      const auto& ins = node(m).inputs;
      for (std::size_t i = 0; i < (is_reduction(m) ? 1 : ins.size()); ++i) note_input(ins[i]);
    }
    // Put a full-shape input of the compute dtype first.
    auto first = std::find_if(inputs.begin(), inputs.end(), [&](const NodeInput& in) {
      return out_dtype(in) == r.dtype && same_shape(out_shape(in), r.shape);
    });
    if (first == inputs.end())
      first = std::find_if(inputs.begin(), inputs.end(),
                           [&](const NodeInput& in) { return out_dtype(in) == r.dtype; });
    if (first == inputs.end()) return;  // nothing of the compute dtype to dispatch on
    std::iter_swap(inputs.begin(), first);
    input_index.clear();
    for (std::size_t i = 0; i < inputs.size(); ++i)
      input_index[{inputs[i].node, inputs[i].index}] = static_cast<int>(i);

    FusedProgram program(static_cast<int>(inputs.size()));
    std::map<int, int> reg_of;  // member -> register of its value
    auto reg = [&](NodeInput in) -> int {
      if (inside(in.node)) return reg_of.at(in.node);
      auto c = scalar_constants.find({in.node, in.index});
      if (c != scalar_constants.end()) return program.constant(c->second);
      return input_index.at({in.node, in.index});
    };
    std::vector<std::pair<int, int>> outputs;  // (member, register)
    std::vector<int> reductions;               // members, in the order of their outputs
    for (int m : members) {
      const Node& n = node(m);
      if (auto red = reduction(m)) {
        program.reduction(reg(n.inputs[0]), red->kind, red->leading, red->rank);
        reductions.push_back(m);
        continue;
      }
      StoreKind store = store_kind(n.op->name);
      int value = 0;
      if (store != StoreKind::None) {
        int var_input = input_index.at({n.inputs[0].node, n.inputs[0].index});
        int v = reg(n.inputs[1]);
        if (store == StoreKind::Add) v = program.binary(FusedOpcode::Add, var_input, v);
        if (store == StoreKind::Sub) v = program.binary(FusedOpcode::Sub, var_input, v);
        program.store(v, var_input);
        reg_of[m] = v;
        continue;
      }
      auto info = *opcode_of(n.op->name);
      switch (info.opcode) {
        case FusedOpcode::Elu:
          value = program.elu(reg(n.inputs[0]), n.attrs.get_float("alpha"));
          break;
        case FusedOpcode::LeakyRelu:
          value = program.leaky_relu(reg(n.inputs[0]), n.attrs.get_float("alpha"));
          break;
        case FusedOpcode::Clip:
          value = program.clip(reg(n.inputs[0]), n.attrs.get_float("clip_min"),
                               n.attrs.get_float("clip_max"));
          break;
        case FusedOpcode::Where:
          value = program.where(reg(n.inputs[0]), reg(n.inputs[1]), reg(n.inputs[2]));
          break;
        case FusedOpcode::Add:
          value = reg(n.inputs[0]);
          for (std::size_t i = 1; i < n.inputs.size(); ++i)  // add_n: ((x0 + x1) + x2) + ...
            value = program.binary(FusedOpcode::Add, value, reg(n.inputs[i]));
          if (n.inputs.size() == 1) value = program.unary(FusedOpcode::Identity, value);
          break;
        case FusedOpcode::Identity:
          // identity, stop_gradient, broadcast_like: input 0 (broadcast when it is smaller; the
          // like input of broadcast_like is an input of the node, so the shape comes out right).
          value = program.unary(FusedOpcode::Identity, reg(n.inputs[0]));
          break;
        default:
          value = info.arity == 1 ? program.unary(info.opcode, reg(n.inputs[0]))
                                  : program.binary(info.opcode, reg(n.inputs[0]), reg(n.inputs[1]));
      }
      reg_of[m] = value;
      bool outside = fetched_[static_cast<std::size_t>(m)] != 0;
      for (int c : consumers_[static_cast<std::size_t>(m)]) outside = outside || !inside(c);
      if (outside) outputs.emplace_back(m, value);
    }
    bool stores = std::any_of(members.begin(), members.end(), [&](int m) {
      return store_kind(node(m).op->name) != StoreKind::None;
    });
    if (outputs.empty() && !stores && reductions.empty())  // run only for ordering
      outputs.emplace_back(members.back(), reg_of.at(members.back()));
    for (const auto& [m, value] : outputs) program.output(value);
    std::vector<int> control;
    for (int m : members)
      for (int c : node(m).control_inputs)
        if (!inside(c) && std::find(control.begin(), control.end(), c) == control.end())
          control.push_back(c);
    int last = members.back();
    std::string name = node(last).name + "/fused";
    int fused = g_.add_node(g_.registry().get("fused_elementwise"), inputs, program.attrs(r.dtype),
                            name, control, last);
    for (std::size_t k = 0; k < outputs.size(); ++k)
      g_.replace_uses({outputs[k].first, 0}, {fused, static_cast<int>(k)});
    for (std::size_t k = 0; k < reductions.size(); ++k)
      g_.replace_uses({reductions[k], 0}, {fused, static_cast<int>(outputs.size() + k)});
    for (int m : members) g_.redirect_control(m, fused);
    std::string list;
    for (int m : members) list += (list.empty() ? "" : ", ") + node(m).op->name;
    report_.note(
        "fused " + std::to_string(members.size()) + " nodes into '" + name + "' (" + list + "; " +
        std::to_string(inputs.size()) + " inputs, " + std::to_string(outputs.size()) + " outputs" +
        (reductions.empty() ? "" : ", " + std::to_string(reductions.size()) + " reductions") + ")");
    for (int m : members) g_.kill(m);
  }

  PlanGraph& g_;
  PassReport& report_;
  std::vector<int> order_, position_;
  std::vector<std::vector<int>> consumers_, control_consumers_;
  std::vector<char> fetched_;
  std::vector<int> region_of_;
  std::vector<int> alias_;
  std::vector<Region> regions_;
  std::vector<int> visited_;
  std::vector<char> in_region_;
  int visit_epoch_ = 0;
};

}  // namespace

Pass elementwise_fusion_pass() {
  return {"elementwise_fusion",
          "groups of elementwise nodes of one shape (and the assigns that end an optimizer's "
          "update, and the sums and means over leading axes of their values) become one "
          "fused_elementwise node evaluated in registers, block by block",
          [](PlanGraph& g, PassReport& report) {
            // A graph of a registry without the fused op (a test's own, a plugin's) stays as is.
            if (g.registry().find("fused_elementwise")) Fuser(g, report).run();
          }};
}

}  // namespace dagrad
