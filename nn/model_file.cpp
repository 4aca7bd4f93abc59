// Model files: model.json (architecture), inference.dagrad (graph file) and weights/ (a
// checkpoint), written into a temporary sibling directory that then replaces the target.
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "dagrad/graph/checkpoint.hpp"
#include "dagrad/graph/graph_file.hpp"
#include "dagrad/nn/errors.hpp"
#include "dagrad/nn/model.hpp"
#include "dagrad/optim/optimizers.hpp"
#include "graph/file_io.hpp"
#include "graph/json_reader.hpp"

namespace dagrad::nn {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace {

constexpr const char* kFormat = "dagrad-model";
constexpr const char* kIndex = "model.json";
constexpr const char* kGraphDir = "inference.dagrad";
constexpr const char* kWeightsDir = "weights";

// Layer configs hold bools, integers, floats, strings, shapes and integer lists; JSON keeps
// integers and floats apart (a float is always written with a fraction or exponent).
Json attrs_to_json(const AttrMap& attrs, const std::string& layer) {
  Json out = Json::object();
  for (const auto& [name, value] : attrs.items()) {
    switch (attr_kind_of(value)) {
      case AttrKind::Bool: out[name] = std::get<bool>(value); break;
      case AttrKind::Int: out[name] = std::get<std::int64_t>(value); break;
      case AttrKind::Float: {
        double v = std::get<double>(value);
        if (!std::isfinite(v))
          throw FileError("layer '" + layer + "': option '" + name + "' is not finite and cannot be saved");
        out[name] = v;
        break;
      }
      case AttrKind::String: out[name] = std::get<std::string>(value); break;
      case AttrKind::Shape: out[name] = Json{{"shape", std::get<Shape>(value).dims()}}; break;
      case AttrKind::Ints: out[name] = Json{{"ints", std::get<std::vector<std::int64_t>>(value)}}; break;
      case AttrKind::Tensor: {  // 1-D float64 lists (a piecewise schedule's boundaries)
        const Tensor& t = std::get<Tensor>(value);
        if (t.dtype() != DType::float64 || t.shape().rank() != 1)
          throw FileError("layer '" + layer + "': option '" + name + "' is a tensor that cannot be saved");
        Json list = Json::array();
        for (double v : t.to_vector<double>()) {
          if (!std::isfinite(v)) throw FileError("'" + layer + "': option '" + name + "' is not finite");
          list.push_back(v);
        }
        out[name] = Json{{"doubles", list}};
        break;
      }
      default:
        throw FileError("layer '" + layer + "': option '" + name + "' of kind " +
                        std::string(attr_kind_name(attr_kind_of(value))) + " cannot be saved");
    }
  }
  return out;
}

// A user's value in a message: a bounded excerpt, never the whole (possibly huge) value.
std::string excerpt(const Json& v) {
  return dagrad::detail::json_excerpt(v);
}

std::int64_t int_of(const Json& j, const std::string& what) {
  // An unsigned number past 2^63 would wrap to a negative one in get<int64_t>.
  if (!j.is_number_integer() ||
      (j.is_number_unsigned() &&
       j.get<std::uint64_t>() >
           static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())))
    throw std::runtime_error(what + " must be an integer of at most 2^63-1, got " + excerpt(j));
  return j.get<std::int64_t>();
}

// Whether `j` is an integer in [0, count), compared as the file holds it (2^64-1 stays itself).
bool is_index_below(const Json& j, std::size_t count) {
  if (j.is_number_unsigned()) return j.get<std::uint64_t>() < count;
  return j.is_number_integer() && j.get<std::int64_t>() >= 0 &&
         static_cast<std::uint64_t>(j.get<std::int64_t>()) < count;
}

// "0 to 4", for messages about an index that is not below `count`.
std::string valid_indices(std::size_t count, const char* what) {
  return count == 0 ? std::string("there are no ") + what
                    : std::string(what) + " are 0 to " + std::to_string(count - 1);
}

std::vector<std::int64_t> ints_of(const Json& j, const std::string& what) {
  if (!j.is_array())
    throw std::runtime_error(what + " must be a list of integers, got " + excerpt(j));
  std::vector<std::int64_t> out;
  for (const Json& e : j) out.push_back(int_of(e, what));
  return out;
}

AttrMap json_to_attrs(const Json& j, const std::string& what) {
  if (!j.is_object()) throw std::runtime_error(what + ": config must be an object");
  AttrMap out;
  for (const auto& [name, v] : j.items()) {
    std::string field = what + ": option '" + name + "'";
    // The parser refused duplicate keys, so every name is new: append, in constant time.
    if (v.is_boolean())
      out.append(name, v.get<bool>());
    else if (v.is_number_integer())
      out.append(name, int_of(v, field));
    else if (v.is_number_float())
      out.append(name, v.get<double>());
    else if (v.is_string())
      out.append(name, v.get<std::string>());
    else if (v.is_object() && v.size() == 1 && v.contains("shape"))
      out.append(name, Shape(ints_of(v["shape"], field)));
    else if (v.is_object() && v.size() == 1 && v.contains("ints"))
      out.append(name, ints_of(v["ints"], field));
    else if (v.is_object() && v.size() == 1 && v.contains("doubles") && v["doubles"].is_array()) {
      std::vector<double> values;
      for (const Json& e : v["doubles"]) {
        if (!e.is_number()) throw std::runtime_error(field + " must be a list of numbers");
        values.push_back(e.get<double>());
      }
      out.append(name, Tensor::from_vector<double>(Shape{static_cast<std::int64_t>(values.size())},
                                                   values));
    } else
      throw std::runtime_error(field + " has a value of no known kind: " + excerpt(v));
  }
  return out;
}

const Json& field(const Json& j, const char* name, const std::string& what) {
  if (!j.is_object() || !j.contains(name))
    throw std::runtime_error(what + " has no \"" + name + "\"");
  return j[name];
}

}  // namespace

void save_model(Model& model, const std::string& path) {
  auto fail = [&](const std::string& why) { return FileError("cannot save model to '" + path + "': " + why); };
  if (!model.built())
    throw fail("model '" + model.name() + "' is not built (give its first layer an input shape)");
  fs::path target(path);
  std::error_code ec;
  if (fs::exists(target, ec)) {
    if (!fs::is_directory(target, ec)) throw fail("it exists and is not a directory");
    if (!fs::exists(target / kIndex, ec) && !fs::is_empty(target, ec))
      throw fail(std::string("it is a non-empty directory without ") + kIndex + ", not a model file");
  }

  // The architecture: every layer's type and config; for functional models the layer graph as
  // nodes in topological order, each naming its layer and its input nodes.
  Json doc{{"format", kFormat}, {"version", kModelFileVersion}, {"type", model.type()},
           {"name", model.name()}, {"seed", model.graph().seed()}};
  Json layers = Json::array();
  if (auto* seq = dynamic_cast<Sequential*>(&model)) {
    // The Sequential form lists each layer once, so a layer called twice (shared weights) would
    // come back as two layers of one name, which cannot load.
    std::size_t calls = 0;
    for (Symbol s = model.output_symbols().at(0); !s.is_input(); s = s.inputs().at(0)) ++calls;
    if (calls != seq->layers().size())
      throw fail("Sequential model '" + model.name() + "' calls a layer more than once (" +
                 std::to_string(calls) + " calls of " + std::to_string(seq->layers().size()) +
                 " layers); save it as a functional model (nn::Model) instead");
    for (const LayerPtr& l : seq->layers())
      layers.push_back(Json{{"type", l->type()}, {"config", attrs_to_json(l->config(), l->name())}});
    if (auto shape = seq->declared_input_shape()) doc["input_shape"] = shape->dims();
  } else {
    std::map<const detail::SymbolNode*, int> index;
    std::map<const Layer*, int> layer_index;
    Json nodes = Json::array();
    std::function<int(const Symbol&)> visit = [&](const Symbol& s) -> int {
      if (auto it = index.find(s.node().get()); it != index.end()) return it->second;
      std::vector<int> ins;
      for (const Symbol& i : s.inputs()) ins.push_back(visit(i));
      const Layer* l = s.layer().get();
      if (!layer_index.count(l)) {
        layer_index[l] = static_cast<int>(layers.size());
        layers.push_back(Json{{"type", l->type()}, {"config", attrs_to_json(l->config(), l->name())}});
      }
      int id = static_cast<int>(nodes.size());
      nodes.push_back(Json{{"layer", layer_index[l]}, {"inputs", ins}});
      index[s.node().get()] = id;
      return id;
    };
    Json inputs = Json::array(), outputs = Json::array();
    for (const Symbol& s : model.input_symbols()) inputs.push_back(visit(s));
    for (const Symbol& s : model.output_symbols()) outputs.push_back(visit(s));
    doc["nodes"] = std::move(nodes);
    doc["inputs"] = std::move(inputs);
    doc["outputs"] = std::move(outputs);
  }
  doc["layers"] = std::move(layers);
  // The training state beside the weights (the optimizer's slots are variables, saved with them):
  // what compile was given, the epochs done and the random streams, so fit resumes exactly.
  if (model.compiled()) {
    Json metrics = Json::array();
    for (const std::string& m : model.metrics()) metrics.push_back(m);
    Json random = Json::object();
    for (const auto& [node, state] : model.session().random_states()) random[node] = state;
    doc["training"] = Json{{"optimizer", attrs_to_json(model.optimizer().config(), "optimizer")},
                           {"loss", model.loss().name()},
                           {"metrics", metrics},
                           {"epoch", model.epoch()},
                           {"random_state", random}};
  }

  // The inference graph with its entry point, for `dagrad dot`, gradcheck and serving.
  const ModelGraph& mg = model.inference_graph();
  Graph::Signature serving;
  for (std::size_t i = 0; i < mg.inputs.size(); ++i)
    serving.inputs.emplace_back(mg.inputs.size() == 1 ? "x" : "x_" + std::to_string(i), mg.inputs[i]);
  for (std::size_t i = 0; i < mg.outputs.size(); ++i)
    serving.outputs.emplace_back(mg.outputs.size() == 1 ? "y" : "y_" + std::to_string(i), mg.outputs[i]);
  model.graph().set_signature("serving", serving);

  fs::path parent = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  fs::create_directories(parent, ec);  // as Keras's model.save; a failure shows just below
  try {
    dagrad::detail::replace_directory(target.string(), [&](const std::string& dir) {
      save_graph(model.graph(), (fs::path(dir) / kGraphDir).string());
      save_checkpoint(model.session(), (fs::path(dir) / kWeightsDir).string());
      dagrad::detail::write_file_synced((fs::path(dir) / kIndex).string(),
                                        doc.dump(1, ' ', false, Json::error_handler_t::strict) + "\n");
    });
  } catch (const std::exception& e) {
    throw fail(e.what());
  }
}

bool has_model_file(const std::string& path) {
  std::string backup = dagrad::detail::interrupted_backup(path);
  std::error_code ec;
  return fs::exists(fs::path(backup.empty() ? path : backup) / kIndex, ec);
}

std::unique_ptr<Model> load_model(const std::string& path) {
  // A save killed between the two renames of the fallback leaves the previous model whole in a
  // backup beside the missing directory (detail::interrupted_backup).
  std::string backup = dagrad::detail::interrupted_backup(path);
  fs::path root(backup.empty() ? path : backup);
  std::string index_path = (root / kIndex).string();
  auto fail = [&](const std::string& why) { return FileError("cannot load model '" + path + "': " + why); };
  std::string text = dagrad::detail::read_regular_file(index_path, "cannot read model file '" + index_path + "'");
  Json doc;
  try {
    doc = dagrad::detail::parse_json_document(text, kIndex);
  } catch (const FileError& e) {
    throw fail(std::string(e.what()) + " (a truncated or damaged file?)");
  }
  if (!doc.is_object() || doc.value("format", Json()) != kFormat)
    throw fail(std::string(kIndex) + " is not a dagrad model file (no \"format\": \"" + kFormat + "\")");
  if (!doc.contains("version") || !doc["version"].is_number_integer() ||
      doc["version"].get<std::int64_t>() != kModelFileVersion)
    throw fail(std::string(kIndex) + ": format version " +
               (doc.contains("version") ? excerpt(doc["version"]) : std::string("(none)")) +
               " is not supported (this build reads version " + std::to_string(kModelFileVersion) +
               ")");
  std::unique_ptr<Model> model;
  try {
    std::string type = field(doc, "type", kIndex).get<std::string>();
    std::string name = field(doc, "name", kIndex).get<std::string>();
    // The graph seed, so that random draws (MC dropout) repeat those of the saved model; files
    // written before it was stored draw with seed 0.
    std::uint64_t seed = 0;
    if (doc.contains("seed")) {
      if (!doc["seed"].is_number_unsigned())
        throw std::runtime_error("\"seed\" must be a non-negative integer");
      seed = doc["seed"].get<std::uint64_t>();
    }
    auto backend = std::make_shared<Backend>(seed);
    std::vector<LayerPtr> layers;
    const Json& layer_list = field(doc, "layers", kIndex);
    if (!layer_list.is_array()) throw std::runtime_error("\"layers\" must be a list");
    for (std::size_t i = 0; i < layer_list.size(); ++i) {
      std::string what = std::string(kIndex) + " layer " + std::to_string(i);
      const Json& l = layer_list[i];
      const Json& t = field(l, "type", what);
      if (!t.is_string()) throw std::runtime_error(what + ": \"type\" must be a string");
      AttrMap config = json_to_attrs(field(l, "config", what), what);
      LayerPtr layer;
      try {
        layer = layer_from_config(t.get<std::string>(), config);
      } catch (const std::exception& e) {  // an unknown type, an option out of range
        throw std::runtime_error(what + ": " + e.what());
      }
      // A layer's config() holds every option it has, so an option it lacks is one the type
      // does not read (a misspelt "kernel_regularizer.l2" would otherwise be dropped silently).
      AttrMap known = layer->config();
      for (const auto& [option, value] : config.items())
        if (!known.has(option))
          throw std::runtime_error(what + " (" + t.get<std::string>() + "): unknown option '" +
                                   option + "'");
      layers.push_back(std::move(layer));
    }
    if (type == "Sequential") {
      auto seq = std::make_unique<Sequential>(std::vector<LayerPtr>{}, name, backend);
      if (doc.contains("input_shape") && !(layers.size() > 0 && layers[0]->input_shape()))
        seq->build(Shape(ints_of(doc["input_shape"], "\"input_shape\"")));
      for (LayerPtr& l : layers) seq->add(l);
      model = std::move(seq);
    } else if (type == "Functional") {
      const Json& nodes = field(doc, "nodes", kIndex);
      if (!nodes.is_array()) throw std::runtime_error("\"nodes\" must be a list");
      std::vector<Symbol> symbols;
      for (std::size_t i = 0; i < nodes.size(); ++i) {
        std::string what = std::string(kIndex) + " node " + std::to_string(i);
        const Json& li = field(nodes[i], "layer", what);
        if (!is_index_below(li, layers.size()))
          throw std::runtime_error(what + ": \"layer\" is " + excerpt(li) +
                                   ", not an index into \"layers\" (" +
                                   valid_indices(layers.size(), "layer indices") + ")");
        LayerPtr layer = layers[li.get<std::size_t>()];
        std::vector<Symbol> ins;
        const Json& inputs = field(nodes[i], "inputs", what);
        if (!inputs.is_array())
          throw std::runtime_error(what + ": \"inputs\" must be a list, got " + excerpt(inputs));
        for (const Json& k : inputs) {
          if (!is_index_below(k, symbols.size()))
            throw std::runtime_error(what + ": input " + excerpt(k) + " is not an earlier node (" +
                                     valid_indices(symbols.size(), "earlier nodes") + ")");
          ins.push_back(symbols[k.get<std::size_t>()]);
        }
        if (layer->type() == "InputLayer") {
          if (!layer->input_shape()) throw std::runtime_error(what + ": an InputLayer without input_shape");
          symbols.push_back(Input(*layer->input_shape(), layer->name(), backend));
        } else {
          symbols.push_back(call(layer, ins));
        }
      }
      auto pick = [&](const char* key) {
        std::vector<Symbol> out;
        const Json& list = field(doc, key, kIndex);
        if (!list.is_array())
          throw std::runtime_error(std::string("\"") + key + "\" must be a list, got " +
                                   excerpt(list));
        for (const Json& k : list) {
          if (!is_index_below(k, symbols.size()))
            throw std::runtime_error(std::string("\"") + key + "\" names node " + excerpt(k) +
                                     ", which does not exist (" +
                                     valid_indices(symbols.size(), "nodes") + ")");
          out.push_back(symbols[k.get<std::size_t>()]);
        }
        return out;
      };
      model = std::make_unique<Model>(pick("inputs"), pick("outputs"), name);
    } else {
      throw std::runtime_error("model type '" + type + "' is not Sequential or Functional");
    }
  } catch (const FileError&) {
    throw;
  } catch (const std::exception& e) {
    throw fail(e.what());
  }
  if (!model->built()) throw fail("the model has no input shape and cannot be built");
  std::map<std::string, std::string> random_states;
  if (doc.contains("training")) {
    try {
      const Json& t = doc["training"];
      std::vector<std::string> metrics;
      for (const Json& m : field(t, "metrics", "\"training\"")) metrics.push_back(m.get<std::string>());
      model->compile(optim::optimizer_from_config(json_to_attrs(field(t, "optimizer", "\"training\""), "optimizer")),
                     Loss(field(t, "loss", "\"training\"").get<std::string>()), metrics);
      const Json& epoch = field(t, "epoch", "\"training\"");
      if (!epoch.is_number_integer() || epoch.get<std::int64_t>() < 0)
        throw std::runtime_error("\"training\": \"epoch\" must be a non-negative integer");
      model->set_epoch(static_cast<int>(epoch.get<std::int64_t>()));
      for (const auto& [node, state] : field(t, "random_state", "\"training\"").items())
        random_states[node] = state.get<std::string>();
    } catch (const FileError&) {
      throw;
    } catch (const std::exception& e) {
      throw fail(std::string(kIndex) + ": the training state: " + e.what());
    }
  }
  restore_checkpoint(model->session(), (root / kWeightsDir).string());
  // Streams of random nodes the rebuilt graph has (the same names when built the same way).
  std::map<std::string, std::string> present;
  for (const auto& [node, state] : random_states)
    if (const Node* n = model->graph().find_node(node); n && n->op->uses_rng) present[node] = state;
  try {
    model->session().set_random_states(present);
  } catch (const Error& e) {
    throw fail(std::string(kIndex) + ": random_state: " + e.what());
  }
  return model;
}

}  // namespace dagrad::nn
