// gemm_epilogue: a 2-D matmul whose only reader is one fused_elementwise node working at the
// product's shape becomes one matmul_epilogue node (include/dagrad/ops/matmul_epilogue.hpp):
// the forward's x w + bias -> activation, the backward's dy w^T * activation'(z), an optimizer
// update of w from x^T dz. The product then needs no buffer of its own (the GEMM writes into
// the node's output and the program runs there in place) and the elementwise work follows the
// GEMM in one step. Runs after elementwise_fusion, whose groups it takes as they are.
//
// The product takes register 0 of the program and the fused node's other inputs follow in their
// order; every register is renumbered accordingly. The node computes what the two did, bit for
// bit. Not fused: batched products, a product anyone else reads or a request fetches, and a
// fused node whose full shape is larger than the product (a broadcast of it).
#include <algorithm>
#include <string>
#include <vector>

#include "dagrad/graph/errors.hpp"
#include "dagrad/ops/fused.hpp"
#include "passes/rules.hpp"

namespace dagrad {

namespace {

// The build-time broadcast of node `f`'s input shapes, or false when they do not broadcast.
bool broadcast_of_inputs(const PlanGraph& g, const Node& f, Shape& full) {
  auto shape = [&](const NodeInput& in) {
    return g.node(in.node).output_shapes.at(static_cast<std::size_t>(in.index));
  };
  full = shape(f.inputs.at(0));
  try {
    for (std::size_t i = 1; i < f.inputs.size(); ++i)
      full = broadcast_shapes(full, shape(f.inputs[i]));
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

// Whether `n` is a matmul of two matrices (no batch) in float32 or float64.
bool is_plain_matmul(const PlanGraph& g, const Node& n) {
  if (n.op->name != "matmul" || n.inputs.size() != 2 || n.output_dtypes.size() != 1) return false;
  for (const NodeInput& in : n.inputs)
    if (g.node(in.node).output_shapes.at(static_cast<std::size_t>(in.index)).rank() != 2)
      return false;
  return is_floating(n.output_dtypes[0]);
}

// Whether some path of data or control edges leads from `from` to `to` other than a direct data
// edge: merging the two would then make a cycle (an optimizer's gradients_ready group between a
// weight gradient and its update is one).
bool indirect_path(const PlanGraph& g, const std::vector<std::vector<int>>& consumers,
                   const std::vector<std::vector<int>>& control_consumers,
                   const std::vector<int>& position, int from, int to) {
  std::vector<int> stack;
  for (int c : consumers[static_cast<std::size_t>(from)])
    if (c != to) stack.push_back(c);
  for (int c : control_consumers[static_cast<std::size_t>(from)]) stack.push_back(c);
  std::vector<char> seen(static_cast<std::size_t>(g.num_nodes()), 0);
  while (!stack.empty()) {
    int u = stack.back();
    stack.pop_back();
    if (u == to) return true;
    if (seen[static_cast<std::size_t>(u)] ||
        position[static_cast<std::size_t>(u)] > position[static_cast<std::size_t>(to)])
      continue;  // seen, or after `to` in topological order: cannot lead back to it
    seen[static_cast<std::size_t>(u)] = 1;
    for (int c : consumers[static_cast<std::size_t>(u)]) stack.push_back(c);
    for (int c : control_consumers[static_cast<std::size_t>(u)]) stack.push_back(c);
  }
  return false;
}

void fuse_epilogues(PlanGraph& g, PassReport& report) {
  const OpRecord& epilogue = g.registry().get("matmul_epilogue");
  // Edges and positions, taken again after each merge (which moves edges to the new node).
  std::vector<std::vector<int>> consumers, control_consumers;
  std::vector<int> position;
  auto analyse = [&] {
    consumers = g.consumers();
    const std::vector<int> now = g.topological_order();
    position.assign(static_cast<std::size_t>(g.num_nodes()), -1);
    control_consumers.assign(static_cast<std::size_t>(g.num_nodes()), {});
    for (std::size_t k = 0; k < now.size(); ++k) {
      position[static_cast<std::size_t>(now[k])] = static_cast<int>(k);
      for (int c : g.node(now[k]).control_inputs)
        control_consumers[static_cast<std::size_t>(c)].push_back(now[k]);
    }
  };
  analyse();
  const std::vector<int> order = g.topological_order();
  std::vector<char> fetched(static_cast<std::size_t>(g.num_nodes()), 0);
  for (const NodeInput& f : g.fetches()) fetched[static_cast<std::size_t>(f.node)] = 1;

  for (int id : order) {
    const Node& mm = g.node(id);
    if (!g.live(id) || fetched[static_cast<std::size_t>(id)] || !is_plain_matmul(g, mm)) continue;
    const std::vector<int>& users = consumers[static_cast<std::size_t>(id)];
    if (users.size() != 1) continue;
    const int fid = users[0];
    const Node& f = g.node(fid);
    if (!g.live(fid)) continue;
    const DType dtype = mm.output_dtypes[0];
    // A lone add (the logits' bias, alone in its group) is left to its own kernel: as a
    // one-instruction program over rows of 10 it measured slower than the add kernel.
    if (f.op->name != "fused_elementwise") continue;
    Shape full;
    if (f.attrs.get_dtype("dtype") != dtype || !broadcast_of_inputs(g, f, full) ||
        !same_shape(full, mm.output_shapes[0]) ||
        indirect_path(g, consumers, control_consumers, position, id, fid))
      continue;

    // Register numbering: the product is register 0, the other inputs 1, 2, ... in order; the
    // instructions' registers shift by the change in the input count.
    const NodeInput product{id, 0};
    const auto num_old_inputs = static_cast<std::int64_t>(f.inputs.size());
    std::vector<std::int64_t> input_register(f.inputs.size());
    std::vector<NodeInput> inputs = {mm.inputs[0], mm.inputs[1]};
    std::int64_t next = 1;
    for (std::size_t k = 0; k < f.inputs.size(); ++k) {
      if (f.inputs[k].node == product.node && f.inputs[k].index == product.index) {
        input_register[k] = 0;
      } else {
        input_register[k] = next++;
        inputs.push_back(f.inputs[k]);
      }
    }
    const std::int64_t shift = next - num_old_inputs;
    auto renumber = [&](std::int64_t reg) {
      return reg < num_old_inputs ? input_register[static_cast<std::size_t>(reg)] : reg + shift;
    };
    std::vector<std::int64_t> program = f.attrs.get_ints("program");
    for (std::size_t i = 0; i < program.size(); i += 4)
      for (int k = 1; k <= 3; ++k)
        if (fused_operand_is_register(static_cast<FusedOpcode>(program[i]), k) &&
            program[i + static_cast<std::size_t>(k)] >= 0)
          program[i + static_cast<std::size_t>(k)] =
              renumber(program[i + static_cast<std::size_t>(k)]);
    std::vector<std::int64_t> outputs = f.attrs.get_ints("outputs");
    for (std::int64_t& reg : outputs) reg = renumber(reg);
    std::vector<std::int64_t> stores = f.attrs.get_ints("stores");
    bool stores_product = false;
    for (std::size_t j = 0; j < stores.size(); j += 2) {
      stores[j] = renumber(stores[j]);
      stores[j + 1] = input_register.at(static_cast<std::size_t>(stores[j + 1]));
      stores_product = stores_product || stores[j + 1] == 0;
    }
    if (stores_product) continue;  // a store into the product: fusion never makes one
    std::vector<std::int64_t> reductions = f.attrs.get_ints("reductions");
    for (std::size_t j = 0; j < reductions.size(); j += 4) reductions[j] = renumber(reductions[j]);

    AttrMap attrs = f.attrs;
    attrs.set("reductions", reductions);
    attrs.set("program", program);
    attrs.set("outputs", outputs);
    attrs.set("stores", stores);
    attrs.set("transpose_a", mm.attrs.get_bool("transpose_a"));
    attrs.set("transpose_b", mm.attrs.get_bool("transpose_b"));
    std::vector<int> control;
    for (const Node* n : {&mm, &f})
      for (int c : n->control_inputs)
        if (c != id && std::find(control.begin(), control.end(), c) == control.end())
          control.push_back(c);
    const auto num_outputs = static_cast<int>(f.output_dtypes.size());
    const std::string name = mm.name + "/epilogue";
    const std::string fused_name = f.name;
    // Scheduled where the product was: its operands are fresh in cache there.
    const int node = g.add_node(epilogue, std::move(inputs), std::move(attrs), name, control, id);
    for (int o = 0; o < num_outputs; ++o) g.replace_uses({fid, o}, {node, o});
    g.redirect_control(fid, node);
    g.redirect_control(id, node);
    report.note("merged '" + g.node(id).name + "' and '" + fused_name + "' into '" + name + "' (" +
                std::to_string(g.node(node).inputs.size()) + " inputs, " +
                std::to_string(num_outputs) + " outputs)");
    g.kill(fid);
    g.kill(id);
    analyse();
  }
}

}  // namespace

Pass gemm_epilogue_pass() {
  return {"gemm_epilogue",
          "a 2-D matmul read only by one fused_elementwise node of its shape becomes one "
          "matmul_epilogue node: the GEMM, then the program over its result in place",
          [](PlanGraph& g, PassReport& report) {
            // A graph of a registry without the ops (a test's own, a plugin's) stays as is.
            if (g.registry().find("matmul_epilogue") && g.registry().find("fused_elementwise"))
              fuse_epilogues(g, report);
          },
          // Opt-in: on the chapter's MLP it measured neutral to 3% slower (the fused node
          // already ran in place on the product while it was in cache; merging saves only a
          // dispatch). It is the hook for a GEMM library that runs epilogues in its kernel.
          /*on_by_default=*/false};
}

}  // namespace dagrad
