// Graph files (format: docs/graph-file-format.md). Saving builds the whole JSON document and
// every tensor's bytes in memory first, so that a graph that cannot be stored fails before
// anything touches the disk; loading parses each node into a NodeSpec and replays it with
// replay_node (the routine clone uses) so that the registry's shape functions, not the file,
// are the authority on dtypes and shapes.
#include "dagrad/graph/graph_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "dagrad/graph/errors.hpp"
#include "dagrad/graph/npy.hpp"
#include "dagrad/graph/transforms.hpp"
#include "file_io.hpp"
#include "json_reader.hpp"

namespace dagrad {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;  // keeps "name" and "op" first, attributes in schema order

namespace {

constexpr const char* kFormatName = "dagrad-graph";
constexpr const char* kJsonName = "graph.json";

// ---------------------------------------------------------------------------------------------
// Saving

// File names stay readable ("3_dense_kernel.value.npy") but only the node id makes them unique.
std::string safe_file_part(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 80))
    out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
  return out;
}

Json float_to_json(double v) {
  // JSON has no NaN or infinity; nlohmann would silently write null.
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return v;
}

struct PendingTensor {
  std::string file;
  Tensor value;
};

Json attr_to_json(const Node& node, const std::string& name, const AttrValue& value,
                  std::vector<PendingTensor>& tensors, std::set<std::string>& used_files) {
  Json out;
  out["kind"] = std::string(attr_kind_name(attr_kind_of(value)));
  switch (attr_kind_of(value)) {
    case AttrKind::Bool:
      out["value"] = std::get<bool>(value);
      break;
    case AttrKind::Int:
      out["value"] = std::get<std::int64_t>(value);
      break;
    case AttrKind::Float:
      out["value"] = float_to_json(std::get<double>(value));
      break;
    case AttrKind::String:
      out["value"] = std::get<std::string>(value);
      break;
    case AttrKind::DType:
      out["value"] = std::string(dtype_name(std::get<DType>(value)));
      break;
    case AttrKind::Shape:
      out["value"] = std::get<Shape>(value).dims();
      break;
    case AttrKind::Ints:
      out["value"] = std::get<std::vector<std::int64_t>>(value);
      break;
    case AttrKind::Tensor: {
      const Tensor& t = std::get<Tensor>(value);
      if (!t.defined()) {
        out["value"] = nullptr;
        break;
      }
      std::string base =
          std::to_string(node.id) + "_" + safe_file_part(node.name) + "." + safe_file_part(name);
      std::string file = base + ".npy";
      for (int k = 2; used_files.count(file); ++k) file = base + "_" + std::to_string(k) + ".npy";
      used_files.insert(file);
      tensors.push_back({file, t});
      out["value"] = Json{{"file", file},
                          {"dtype", std::string(dtype_name(t.dtype()))},
                          {"shape", t.shape().dims()}};
      break;
    }
  }
  return out;
}

Json node_to_json(const Graph& graph, const Node& node, std::vector<PendingTensor>& tensors,
                  std::set<std::string>& used_files) {
  Json j;
  j["name"] = node.name;  // written first so that each line starts with the node's name
  j["op"] = node.op->name;
  Json inputs = Json::array();
  for (const NodeInput& in : node.inputs)
    inputs.push_back(graph.node(in.node).name + ":" + std::to_string(in.index));
  j["inputs"] = std::move(inputs);
  Json control = Json::array();
  for (int c : node.control_inputs) control.push_back(graph.node(c).name);
  j["control_inputs"] = std::move(control);
  Json attrs = Json::object();
  for (const auto& [name, value] : node.attrs.items())
    attrs[name] = attr_to_json(node, name, value, tensors, used_files);
  j["attrs"] = std::move(attrs);
  j["backward"] = node.backward;
  j["site"] =
      Json{{"file", node.site.file}, {"line", node.site.line}, {"function", node.site.function}};
  Json dtypes = Json::array();
  for (DType d : node.output_dtypes) dtypes.push_back(std::string(dtype_name(d)));
  j["dtypes"] = std::move(dtypes);
  Json shapes = Json::array();
  for (const Shape& s : node.output_shapes) shapes.push_back(s.dims());
  j["shapes"] = std::move(shapes);
  return j;
}

// ---------------------------------------------------------------------------------------------
// Loading

// Builds error messages that name the file and, once known, the node.
struct LoadContext {
  std::string file;
  fs::path dir;
  std::string where;  // "node 3 'dense/MatMul'" or ""

  std::string prefix() const { return file + (where.empty() ? "" : ": " + where) + ": "; }
  [[noreturn]] void file_error(const std::string& what) const { throw FileError(prefix() + what); }
  [[noreturn]] void graph_error(const std::string& what) const {
    throw GraphError(prefix() + what);
  }
};

// A user's value in a message: a bounded excerpt, never the whole (possibly huge) value.
std::string excerpt(const Json& v) {
  return detail::json_excerpt(v);
}
std::string clipped(const std::string& text) {
  return detail::clip_text(text);
}

const Json& field(const Json& object, const char* key, const LoadContext& ctx) {
  auto it = object.find(key);
  if (it == object.end()) ctx.file_error(std::string("missing field '") + key + "'");
  return *it;
}

std::int64_t json_int(const Json& v, const std::string& what, const LoadContext& ctx) {
  if (v.is_number_unsigned()) {
    if (v.get<std::uint64_t>() >
        static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      ctx.file_error(what + " is " + excerpt(v) + ", out of range (at most 2^63-1)");
    return static_cast<std::int64_t>(v.get<std::uint64_t>());
  }
  if (!v.is_number_integer()) ctx.file_error(what + " must be an integer, got " + excerpt(v));
  return v.get<std::int64_t>();
}

std::vector<std::int64_t> json_ints(const Json& v, const std::string& what,
                                    const LoadContext& ctx) {
  if (!v.is_array()) ctx.file_error(what + " must be an array of integers, got " + excerpt(v));
  std::vector<std::int64_t> out;
  for (const Json& e : v) out.push_back(json_int(e, what, ctx));
  return out;
}

AttrValue json_to_attr(const std::string& name, const Json& j, const LoadContext& ctx) {
  std::string what = "attribute '" + name + "'";
  if (!j.is_object()) ctx.file_error(what + " must be an object {\"kind\": ..., \"value\": ...}");
  const Json& kind_json = field(j, "kind", ctx);
  const Json& v = field(j, "value", ctx);
  if (!kind_json.is_string()) ctx.file_error(what + ": kind must be a string");
  std::string kind_name = kind_json.get<std::string>();
  int kind = -1;
  for (int k = 0; k <= static_cast<int>(AttrKind::Tensor); ++k)
    if (attr_kind_name(static_cast<AttrKind>(k)) == kind_name) kind = k;
  if (kind < 0) ctx.file_error(what + ": unknown kind '" + clipped(kind_name) + "'");
  switch (static_cast<AttrKind>(kind)) {
    case AttrKind::Bool:
      if (!v.is_boolean()) ctx.file_error(what + " must be true or false, got " + excerpt(v));
      return v.get<bool>();
    case AttrKind::Int:
      return json_int(v, what, ctx);
    case AttrKind::Float:
      // The saver writes every float with a fraction or exponent ("2.0"); an integer here was
      // edited in or written by another tool, and would hide an int/float mix-up.
      if (v.is_number_integer())
        ctx.file_error(what + " is a float but the file holds the integer " + excerpt(v) +
                       " (write it as " + excerpt(v) + ".0)");
      if (v.is_number()) return v.get<double>();
      if (v == "nan") return std::numeric_limits<double>::quiet_NaN();
      if (v == "inf") return std::numeric_limits<double>::infinity();
      if (v == "-inf") return -std::numeric_limits<double>::infinity();
      ctx.file_error(what + " must be a number, \"nan\", \"inf\" or \"-inf\", got " + excerpt(v));
    case AttrKind::String:
      if (!v.is_string()) ctx.file_error(what + " must be a string, got " + excerpt(v));
      return v.get<std::string>();
    case AttrKind::DType:
      if (!v.is_string()) ctx.file_error(what + " must be a dtype name, got " + excerpt(v));
      try {
        return dtype_from_name(v.get<std::string>());
      } catch (const std::invalid_argument& e) {
        ctx.file_error(what + ": " + e.what());
      }
    case AttrKind::Shape: {
      auto dims = json_ints(v, what, ctx);
      for (auto d : dims)
        if (d < Shape::kUnknown)
          ctx.file_error(what + ": dimension " + std::to_string(d) + " is negative");
      return Shape(std::move(dims));
    }
    case AttrKind::Ints:
      return json_ints(v, what, ctx);
    case AttrKind::Tensor: {
      if (v.is_null()) return Tensor();
      if (!v.is_object()) ctx.file_error(what + " must be {\"file\": NAME.npy, ...} or null");
      const Json& file_json = field(v, "file", ctx);
      if (!file_json.is_string()) ctx.file_error(what + ": file must be a string");
      std::string file = file_json.get<std::string>();
      // Tensors live inside the graph directory; a path elsewhere means a tampered file.
      if (file.empty() || file.find('/') != std::string::npos ||
          file.find('\\') != std::string::npos || file == "." || file == "..")
        ctx.file_error(what + ": '" + clipped(file) +
                       "' is not a file name inside the graph directory");
      Tensor t;
      try {
        t = read_npy((ctx.dir / file).string());
      } catch (const FileError& e) {
        ctx.file_error(what + ": " + e.what());
      }
      // The dtype and shape next to the file name must agree with the .npy header.
      if (auto d = v.find("dtype");
          d != v.end() && (!d->is_string() || d->get<std::string>() != dtype_name(t.dtype())))
        ctx.file_error(what + ": graph.json says dtype " + excerpt(*d) + " but '" + file +
                       "' holds " + std::string(dtype_name(t.dtype())));
      if (auto s = v.find("shape");
          s != v.end() && Shape(json_ints(*s, what + " shape", ctx)) != t.shape())
        ctx.file_error(what + ": graph.json says shape " + excerpt(*s) + " but '" + file +
                       "' holds " + t.shape().to_string());
      return t;
    }
  }
  ctx.file_error(what + ": unknown kind");
}

// A node reference: "name", "name:index" or a node id; must be an earlier node. Data inputs
// need an existing output; control inputs may name nodes without outputs (group).
Output resolve(Graph& g, const Json& ref, int current, const std::string& what,
               const LoadContext& ctx, bool control = false) {
  int id = -1;
  int index = 0;
  std::string shown;
  if (ref.is_number_integer()) {
    // Compared as the file holds it, so that an id past 2^63 is reported as itself.
    bool earlier = ref.is_number_unsigned()
                       ? ref.get<std::uint64_t>() < static_cast<std::uint64_t>(current)
                       : ref.get<std::int64_t>() >= 0 && ref.get<std::int64_t>() < current;
    if (!earlier)
      ctx.graph_error(what + " refers to node " + excerpt(ref) +
                      ", which is not an earlier node (" +
                      (current == 0 ? std::string("no node comes before it")
                                    : "node ids here are 0 to " + std::to_string(current - 1)) +
                      ")");
    id = ref.get<int>();
    shown = "node " + std::to_string(id);
  } else {
    if (!ref.is_string())
      ctx.file_error(what + " must be \"NODE:INDEX\" or a node id, got " + excerpt(ref));
    std::string s = ref.get<std::string>();
    std::string base = s;
    auto colon = s.rfind(':');
    // "a:1" is output 1 of "a", unless a node is literally named "a:1".
    if (colon != std::string::npos && colon + 1 < s.size() && s.size() - colon <= 9 &&
        s.find_first_not_of("0123456789", colon + 1) == std::string::npos &&
        g.find_node(s) == nullptr) {
      base = s.substr(0, colon);
      index = std::stoi(s.substr(colon + 1));
    }
    const Node* n = g.find_node(base);
    if (!n) ctx.graph_error(what + " refers to '" + s + "', which is not an earlier node");
    id = n->id;
    shown = "'" + s + "'";
  }
  int outputs = static_cast<int>(g.node(id).output_dtypes.size());
  if (!control && index >= outputs)
    ctx.graph_error(what + " refers to " + shown + ", but node '" + g.node(id).name + "' has " +
                    std::to_string(outputs) + " outputs");
  return g.output_of(id, index);
}

void load_node(Graph& g, const Json& j, int i, LoadContext& ctx) {
  ctx.where = "node " + std::to_string(i);
  if (!j.is_object()) ctx.file_error("must be an object");
  const Json& name_json = field(j, "name", ctx);
  if (!name_json.is_string() || name_json.get<std::string>().empty())
    ctx.file_error("field 'name' must be a non-empty string");
  std::string name = name_json.get<std::string>();
  ctx.where += " '" + clipped(name) + "'";
  const Json& op_json = field(j, "op", ctx);
  if (!op_json.is_string()) ctx.file_error("field 'op' must be a string");
  std::string op = op_json.get<std::string>();
  if (!g.registry().find(op))
    ctx.graph_error("unknown op '" + clipped(op) + "' (not in the registry; is a plugin missing?)");
  if (g.find_node(name)) ctx.graph_error("duplicate node name");

  const Json& inputs_json = field(j, "inputs", ctx);
  if (!inputs_json.is_array()) ctx.file_error("field 'inputs' must be an array");
  NodeSpec spec;
  spec.op = op;
  spec.name = name;
  for (std::size_t k = 0; k < inputs_json.size(); ++k)
    spec.inputs.push_back(resolve(g, inputs_json[k], i, "input " + std::to_string(k), ctx));
  if (auto c = j.find("control_inputs"); c != j.end()) {
    if (!c->is_array()) ctx.file_error("field 'control_inputs' must be an array");
    for (std::size_t k = 0; k < c->size(); ++k)
      spec.control_inputs.push_back(
          resolve(g, (*c)[k], i, "control input " + std::to_string(k), ctx, true).node);
  }
  const Json& attrs_json = field(j, "attrs", ctx);
  if (!attrs_json.is_object()) ctx.file_error("field 'attrs' must be an object");
  const OpRecord& record = *g.registry().find(op);
  for (const auto& [key, value] : attrs_json.items()) {
    // Checked against the op's schema first: an unknown name is refused at once, so that a
    // file with thousands of them costs no more than one.
    auto a = std::find_if(record.attrs.begin(), record.attrs.end(),
                          [&](const AttrSpec& spec) { return spec.name == key; });
    if (a == record.attrs.end())
      ctx.graph_error("op " + op + " has no attribute '" + clipped(key) + "'");
    AttrValue attr = json_to_attr(key, value, ctx);
    if (a->kind != attr_kind_of(attr))
      ctx.graph_error("attribute '" + key + "' of op " + op + " is " +
                      std::string(attr_kind_name(a->kind)) + ", but the file stores " +
                      std::string(attr_kind_name(attr_kind_of(attr))));
    spec.attrs.set(key, std::move(attr));
  }
  // Files store every attribute: a missing one would silently take today's default, which may
  // not be the value the graph was saved with.
  for (const AttrSpec& a : record.attrs)
    if (!spec.attrs.has(a.name))
      ctx.graph_error("attribute '" + a.name + "' of op " + op +
                      " is missing (graph files store every attribute)");

  if (auto s = j.find("site"); s != j.end() && s->is_object()) {
    if (auto f = s->find("file"); f != s->end() && f->is_string())
      spec.site.file = f->get<std::string>();
    if (auto l = s->find("line"); l != s->end() && l->is_number_integer())
      spec.site.line = l->get<int>();
    if (auto f = s->find("function"); f != s->end() && f->is_string())
      spec.site.function = f->get<std::string>();
  }
  if (auto b = j.find("backward"); b != j.end()) {
    if (!b->is_boolean()) ctx.file_error("field 'backward' must be true or false");
    spec.backward = b->get<bool>();
  }

  int id = -1;
  try {
    id = replay_node(g, spec);
  } catch (const ShapeError& e) {
    throw ShapeError(ctx.prefix() + e.what());
  } catch (const GraphError& e) {
    throw GraphError(ctx.prefix() + e.what());
  }
  if (g.node(id).name != name)
    ctx.graph_error("the graph renamed the node to '" + g.node(id).name + "'");
}

// The document, once parsed: every field checked before it is read.
std::unique_ptr<Graph> load_document(const Json& doc, const OpRegistry& registry,
                                     LoadContext& ctx) {
  if (!doc.is_object()) ctx.file_error("the document must be a JSON object");
  const Json& format = field(doc, "format", ctx);
  if (format != kFormatName)
    ctx.file_error("field 'format' is " + excerpt(format) + ", not \"" + kFormatName + "\"");
  std::int64_t version = json_int(field(doc, "version", ctx), "field 'version'", ctx);
  if (version < 1 || version > kGraphFileVersion)
    ctx.file_error("unsupported version " + std::to_string(version) +
                   " (this dagrad reads versions 1 to " + std::to_string(kGraphFileVersion) + ")");
  // Version 1 files predate trainable flags, collections and signatures.
  const bool has_state_fields = version >= 2;

  auto graph = std::make_unique<Graph>(registry);
  if (auto s = doc.find("seed"); s != doc.end()) {
    if (!s->is_number_unsigned()) ctx.file_error("field 'seed' must be a non-negative integer");
    graph->set_seed(s->get<std::uint64_t>());
  }
  const Json& nodes = field(doc, "nodes", ctx);
  if (!nodes.is_array()) ctx.file_error("field 'nodes' must be an array");
  for (std::size_t i = 0; i < nodes.size(); ++i)
    load_node(*graph, nodes[i], static_cast<int>(i), ctx);

  ctx.where.clear();
  const Json& variables = field(doc, "variables", ctx);
  if (!variables.is_array()) ctx.file_error("field 'variables' must be an array");
  int n = graph->num_nodes();
  for (std::size_t k = 0; k < variables.size(); ++k) {
    ctx.where = "variable " + std::to_string(k);
    const Json& v = variables[k];
    if (!v.is_object())
      ctx.file_error("must be an object {\"variable\": ..., \"initializer\": ...}");
    int var = resolve(*graph, field(v, "variable", ctx), n, "variable", ctx, true).node;
    int init = resolve(*graph, field(v, "initializer", ctx), n, "initializer", ctx, true).node;
    ctx.where += " '" + graph->node(var).name + "'";
    VariableOptions options;
    if (has_state_fields) {
      const Json& trainable = field(v, "trainable", ctx);
      if (!trainable.is_boolean())
        ctx.file_error("field 'trainable' must be true or false, got " + excerpt(trainable));
      options.trainable = trainable.get<bool>();
      const Json& tags = field(v, "collections", ctx);
      if (!tags.is_array()) ctx.file_error("field 'collections' must be an array of strings");
      for (const Json& t : tags) {
        if (!t.is_string())
          ctx.file_error("field 'collections' holds " + excerpt(t) + ", not a string");
        options.collections.push_back(t.get<std::string>());
      }
    }
    // register_variable rejects a second registration, an initializer that is not an assign
    // to this variable and bad collection names; the context adds the file and the entry.
    try {
      graph->register_variable(var, init, std::move(options));
    } catch (const GraphError& e) {
      ctx.graph_error(e.what());
    }
  }
  if (has_state_fields) {
    const Json& signatures = field(doc, "signatures", ctx);
    if (!signatures.is_object()) ctx.file_error("field 'signatures' must be an object");
    for (const auto& [name, sig] : signatures.items()) {
      ctx.where = "signature '" + name + "'";
      if (!sig.is_object())
        ctx.file_error("must be an object {\"inputs\": {...}, \"outputs\": {...}}");
      Graph::Signature signature;
      for (auto [key, list] :
           {std::pair{"inputs", &signature.inputs}, std::pair{"outputs", &signature.outputs}}) {
        const Json& entries = field(sig, key, ctx);
        if (!entries.is_object())
          ctx.file_error("field '" + std::string(key) + "' must be an object");
        for (const auto& [k, ref] : entries.items())
          list->emplace_back(k, resolve(*graph, ref, n, std::string(key) + " '" + k + "'", ctx));
      }
      try {
        graph->set_signature(name, std::move(signature));
      } catch (const GraphError& e) {
        ctx.graph_error(e.what());
      }
    }
  }
  ctx.where.clear();
  try {
    graph->verify();
  } catch (const GraphError& e) {
    ctx.graph_error(e.what());
  }
  return graph;
}

}  // namespace

void save_graph(const Graph& graph, const std::string& path) {
  fs::path target = fs::path(path).lexically_normal();
  if (!target.has_filename()) target = target.parent_path();  // "out/g.dagrad/"
  if (target.empty()) throw FileError("cannot save graph: empty path");
  auto fail = [&](const std::string& why) -> FileError {
    return FileError("cannot save graph to '" + target.string() + "': " + why);
  };
  std::error_code ec;
  if (fs::exists(target, ec)) {
    // Never replace something that is not ours: the rename below would delete it.
    if (!fs::is_directory(target, ec)) throw fail("it exists and is not a directory");
    if (!fs::exists(target / kJsonName, ec) && !fs::is_empty(target, ec))
      throw fail("it is a non-empty directory without graph.json, not a graph file");
  }

  // One node per line: short enough to read and grep, and a diff shows which nodes changed.
  std::string text = "{\"format\": \"" + std::string(kFormatName) +
                     "\", \"version\": " + std::to_string(kGraphFileVersion) +
                     ", \"seed\": " + std::to_string(graph.seed()) + ",\n \"nodes\": [\n";
  std::vector<PendingTensor> tensors;
  std::set<std::string> used_files;
  for (const Node& node : graph.nodes()) {
    try {
      // Fails here, naming the node, on strings that are not UTF-8.
      text += "  " + node_to_json(graph, node, tensors, used_files)
                         .dump(-1, ' ', false, Json::error_handler_t::strict);
    } catch (const Json::exception& e) {
      throw fail("node '" + node.name + "' cannot be stored as JSON: " + e.what());
    }
    text += node.id + 1 < graph.num_nodes() ? ",\n" : "\n";
  }
  text += " ],\n \"variables\": [\n";
  for (std::size_t k = 0; k < graph.variables().size(); ++k) {
    const auto& v = graph.variables()[k];
    Json j{{"variable", graph.node(v.variable).name},
           {"initializer", graph.node(v.initializer).name},
           {"trainable", v.trainable},
           {"collections", v.collections}};
    text += "  " + j.dump() + (k + 1 < graph.variables().size() ? ",\n" : "\n");
  }
  text += " ],\n \"signatures\": {";
  bool first = true;
  for (const auto& [name, signature] : graph.signatures()) {
    Json inputs = Json::object(), outputs = Json::object();
    for (const auto& [key, o] : signature.inputs) inputs[key] = o.name();
    for (const auto& [key, o] : signature.outputs) outputs[key] = o.name();
    Json j{{"inputs", inputs}, {"outputs", outputs}};
    try {
      text += std::string(first ? "\n" : ",\n") + "  " +
              Json(name).dump(-1, ' ', false, Json::error_handler_t::strict) + ": " +
              j.dump(-1, ' ', false, Json::error_handler_t::strict);
    } catch (const Json::exception& e) {
      throw fail("signature '" + name + "' cannot be stored as JSON: " + e.what());
    }
    first = false;
  }
  text += first ? "}\n}\n" : "\n }\n}\n";

  try {
    detail::replace_directory(target.string(), [&](const std::string& dir) {
      for (const PendingTensor& t : tensors)
        detail::write_file_synced((fs::path(dir) / t.file).string(), encode_npy(t.value));
      detail::write_file_synced((fs::path(dir) / kJsonName).string(), text);
    });
  } catch (const std::exception& e) {
    throw fail(e.what());
  }
}

std::unique_ptr<Graph> load_graph(const std::string& path, const OpRegistry& registry) {
  std::error_code ec;
  fs::path json_path = fs::path(path);
  // A save killed between the two renames of the fallback leaves the previous graph whole in a
  // backup beside the missing directory (detail::interrupted_backup).
  if (std::string backup = detail::interrupted_backup(path); !backup.empty()) json_path = backup;
  if (fs::is_directory(json_path, ec)) json_path /= kJsonName;
  LoadContext ctx{json_path.string(), json_path.parent_path(), ""};
  if (ctx.dir.empty()) ctx.dir = ".";

  std::string text;
  try {
    text = detail::read_regular_file(json_path.string(),
                                     "cannot read graph file '" + json_path.string() + "'");
  } catch (const FileError& e) {
    throw FileError(std::string(e.what()) +
                    " (expected a graph directory or the graph.json inside it)");
  }
  Json doc = detail::parse_json_document(text, ctx.file);
  try {
    return load_document(doc, registry, ctx);
  } catch (const Json::exception& e) {  // each access is checked first, so none should come
    ctx.file_error(std::string("unexpected JSON value: ") + e.what());
  }
}

}  // namespace dagrad
