// The merge of a producer and its fused_elementwise reader, shared by gemm_epilogue and
// conv_epilogue (passes/epilogue_fusion.hpp). The epilogue ops run the producer's own kernel and
// then fused_elementwise's, so the merged node computes what the two did, bit for bit.
#include "passes/epilogue_fusion.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "dagrad/graph/errors.hpp"
#include "dagrad/ops/fused.hpp"

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

// Whether some path of data or control edges leads from `from` to `to` other than a direct data
// edge: merging the two would then make a cycle.
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

}  // namespace

void fuse_epilogues(PlanGraph& g, PassReport& report, const EpilogueRule& rule) {
  const OpRecord& epilogue = g.registry().get(rule.epilogue_op);
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
    const Node& producer = g.node(id);
    if (!g.live(id) || fetched[static_cast<std::size_t>(id)] ||
        producer.output_dtypes.size() != 1 || !rule.accepts(g, id))
      continue;
    const std::vector<int>& users = consumers[static_cast<std::size_t>(id)];
    if (users.size() != 1) continue;
    const int fid = users[0];
    const Node& f = g.node(fid);
    if (!g.live(fid)) continue;
    const DType dtype = producer.output_dtypes[0];
    // A lone add (the logits' bias, alone in its group) is left to its own kernel: as a
    // one-instruction program over rows of 10 it measured slower than the add kernel.
    if (f.op->name != "fused_elementwise") continue;
    Shape full;
    if (f.attrs.get_dtype("dtype") != dtype || !broadcast_of_inputs(g, f, full) ||
        !same_shape(full, producer.output_shapes[0]) ||
        indirect_path(g, consumers, control_consumers, position, id, fid))
      continue;

    // Register numbering: the result is register 0, the other inputs 1, 2, ... in order; the
    // instructions' registers shift by the change in the input count.
    const NodeInput result{id, 0};
    const auto num_old_inputs = static_cast<std::int64_t>(f.inputs.size());
    std::vector<std::int64_t> input_register(f.inputs.size());
    std::vector<NodeInput> inputs = producer.inputs;
    std::int64_t next = 1;
    for (std::size_t k = 0; k < f.inputs.size(); ++k) {
      if (f.inputs[k].node == result.node && f.inputs[k].index == result.index) {
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
    bool stores_result = false;
    for (std::size_t j = 0; j < stores.size(); j += 2) {
      stores[j] = renumber(stores[j]);
      stores[j + 1] = input_register.at(static_cast<std::size_t>(stores[j + 1]));
      stores_result = stores_result || stores[j + 1] == 0;
    }
    if (stores_result) continue;  // a store into the result: fusion never makes one
    std::vector<std::int64_t> reductions = f.attrs.get_ints("reductions");
    for (std::size_t j = 0; j < reductions.size(); j += 4) reductions[j] = renumber(reductions[j]);
    // The merged node computes the result into output 0's memory and writes each block's outputs
    // before its stores and reductions: an output, store or reduction that reads the result
    // itself (register 0) would read values output 0 has already overwritten. Not merged.
    auto reads_result = [](const std::vector<std::int64_t>& regs, std::size_t step) {
      for (std::size_t j = 0; j < regs.size(); j += step)
        if (regs[j] == 0) return true;
      return false;
    };
    if (reads_result(outputs, 1) || reads_result(stores, 2) || reads_result(reductions, 4))
      continue;

    AttrMap attrs = f.attrs;
    attrs.set("reductions", reductions);
    attrs.set("program", program);
    attrs.set("outputs", outputs);
    attrs.set("stores", stores);
    for (const std::string& a : rule.attrs) attrs.set(a, producer.attrs.at(a));
    std::vector<int> control;
    for (const Node* n : {&producer, &f})
      for (int c : n->control_inputs)
        if (c != id && std::find(control.begin(), control.end(), c) == control.end())
          control.push_back(c);
    const auto num_outputs = static_cast<int>(f.output_dtypes.size());
    const std::string name = producer.name + "/epilogue";
    const std::string fused_name = f.name;
    // Scheduled where the producer was: its operands are fresh in cache there.
    const int node = g.add_node(epilogue, std::move(inputs), std::move(attrs), name, control, id);
    for (int o = 0; o < num_outputs; ++o) g.replace_uses({fid, o}, {node, o});
    g.redirect_control(fid, node);
    g.redirect_control(id, node);
    report.note("merged '" + g.node(id).name + "' and '" + fused_name + "' into '" + name + "' (" +
                rule.epilogue_op + ", " + std::to_string(g.node(node).inputs.size()) + " inputs, " +
                std::to_string(num_outputs) + " outputs)");
    g.kill(fid);
    g.kill(id);
    analyse();
  }
}

}  // namespace dagrad
