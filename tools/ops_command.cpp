// `dagrad ops [NAME...]`: lists the registered ops with their inputs, attributes (with
// defaults), outputs and one-line summary.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "dagrad/graph/errors.hpp"
#include "dagrad/graph/op_registry.hpp"
#include "dagrad/ops/ops.hpp"

namespace dagrad::tools {

namespace {

// "elu(x; alpha: float = 1) -> y"; a repeated input or output is "x...".
std::string signature(const OpRecord& op) {
  std::string s = op.name + "(";
  for (std::size_t i = 0; i < op.input_names.size(); ++i)
    s += (i ? ", " : "") + op.input_names[i] + (op.variadic_inputs ? "..." : "");
  for (std::size_t i = 0; i < op.attrs.size(); ++i) {
    const AttrSpec& a = op.attrs[i];
    s += (i == 0 ? (op.input_names.empty() ? "" : "; ") : ", ");
    s += a.name + ": " + std::string(attr_kind_name(a.kind));
    if (a.default_value) s += " = " + attr_to_string(*a.default_value);
  }
  s += ") -> ";
  if (op.output_names.size() == 1) return s + op.output_names[0] + (op.output_count ? "..." : "");
  s += "(";
  for (std::size_t i = 0; i < op.output_names.size(); ++i)
    s += (i ? ", " : "") + op.output_names[i];
  return s + ")";
}

}  // namespace

void add_ops_command(CLI::App& app) {
  auto names = std::make_shared<std::vector<std::string>>();
  auto plugins = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd = app.add_subcommand(
      "ops", "List the registered ops: inputs, attributes with defaults, summary");
  cmd->add_option("names", *names, "Show only these ops");
  add_plugin_option(cmd, *plugins);
  cmd->callback([names, plugins] {
    load_plugins(*plugins);
    const OpRegistry& registry = default_registry();
    std::vector<std::string> shown = names->empty() ? registry.names() : *names;
    for (const std::string& name : shown) {
      const OpRecord& op = registry.get(name);  // GraphError naming an unknown op
      std::cout << signature(op) << "\n";
      std::string summary = op.summary.empty() ? "(no summary)" : op.summary;
      if (!op.not_differentiable_reason.empty())
        summary += " [not differentiable: " + op.not_differentiable_reason + "]";
      std::cout << "    " << summary << "\n";
    }
    if (names->empty()) std::cout << registry.names().size() << " ops\n";
  });
}

}  // namespace dagrad::tools
