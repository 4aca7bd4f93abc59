// Backend, Layer and the layer-type registry.
#include "dagrad/nn/layer.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>
#include <new>

#include <unistd.h>

#include "dagrad/graph/errors.hpp"
#include "dagrad/nn/errors.hpp"
#include "dagrad/ops/ops.hpp"
#include "nn/config_util.hpp"

namespace dagrad::nn {

Backend::Backend(std::uint64_t seed)
    : graph_(std::make_unique<Graph>()), session_(nullptr) {
  graph_->set_seed(seed);
  session_ = std::make_unique<Session>(*graph_);
}

Backend::~Backend() = default;

bool Backend::name_taken(const std::string& name) const { return taken_.count(name) != 0; }

std::string Backend::unique_name(const std::string& base) {
  // Names are never given back, so every candidate below the base's counter is taken: the search
  // resumes there (scanning from "base" each time made n layers cost O(n^3) string compares).
  int& next = next_suffix_[base];
  std::string name = next == 0 ? base : base + "_" + std::to_string(next);
  while (name_taken(name)) name = base + "_" + std::to_string(++next);
  ++next;
  taken_.insert(name);
  return name;
}

// Names are variable scopes: "/" would nest them, ":" is the output separator of graph names.
static void check_valid_name(const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || name.find(':') != std::string::npos)
    throw ModelError("layer or model name '" + name +
                     "' is not valid: it must be non-empty, without '/' or ':'");
}

void Backend::claim_name(const std::string& name) {
  check_valid_name(name);
  if (name_taken(name))
    throw ModelError("the name '" + name +
                     "' is already used by another layer or model of this backend; names are "
                     "variable scopes and must be unique");
  taken_.insert(name);
}

Layer::~Layer() = default;

std::string Layer::default_name() const {
  // "BatchNormalization" -> "batch_normalization", "PReLU" -> "p_re_lu" as Keras's to_snake_case.
  std::string t = type(), out;
  for (std::size_t i = 0; i < t.size(); ++i) {
    char c = t[i];
    bool upper = std::isupper(static_cast<unsigned char>(c)) != 0;
    if (upper && i > 0) {
      bool prev_lower = std::islower(static_cast<unsigned char>(t[i - 1])) != 0;
      bool next_lower = i + 1 < t.size() && std::islower(static_cast<unsigned char>(t[i + 1])) != 0;
      bool prev_upper = std::isupper(static_cast<unsigned char>(t[i - 1])) != 0;
      if (prev_lower || (prev_upper && next_lower)) out += '_';
    }
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

void Layer::set_name(const std::string& name) {
  if (built())
    throw ModelError("layer '" + name_ + "' is built; its name (the scope of its variables) " +
                     "cannot change to '" + name + "'");
  check_valid_name(name);  // here, so the error names what the user wrote
  name_ = name;
}

void Layer::set_trainable(bool trainable) {
  trainable_ = trainable;
  if (!built()) return;
  for (std::size_t i = 0; i < weights_.size(); ++i)
    if (!state_[i]) graph().set_trainable(weights_[i], trainable);
}

Graph& Layer::graph() const {
  if (!backend_) throw ModelError("layer '" + name_ + "' (" + type() + ") is not built yet");
  return backend_->graph();
}

static std::string shapes_text(const std::vector<Shape>& shapes) {
  std::string s;
  for (std::size_t i = 0; i < shapes.size(); ++i) s += (i ? ", " : "") + shapes[i].to_string();
  return s;
}

void Layer::build(const BackendPtr& backend, const std::vector<Shape>& input_shapes) {
  if (!backend) throw ModelError("Layer::build: no backend");
  if (static_cast<int>(input_shapes.size()) != num_inputs() && num_inputs() >= 0)
    throw ModelError("layer '" + name_ + "' (" + type() + ") takes " +
                     std::to_string(num_inputs()) + " input(s), given " +
                     std::to_string(input_shapes.size()));
  if (built()) {
    if (backend != backend_)
      throw ModelError("layer '" + name_ + "' is built in another backend: layers are shared " +
                       "only between models of one backend; clone the model to copy it");
    bool same = built_shapes_.size() == input_shapes.size();
    for (std::size_t i = 0; same && i < input_shapes.size(); ++i)
      same = built_shapes_[i].compatible_with(input_shapes[i]) &&
             built_shapes_[i].rank() == input_shapes[i].rank();
    if (!same)
      throw ModelError("layer '" + name_ + "' (" + type() + ") was built for input shape " +
                       shapes_text(built_shapes_) + " and cannot be applied to " +
                       shapes_text(input_shapes));
    return;
  }
  (void)output_shape(input_shapes);  // validates the shapes before anything is added
  const bool automatic_name = name_.empty();
  if (automatic_name)
    name_ = backend->unique_name(default_name());
  else
    backend->claim_name(name_);
  backend_ = backend;
  built_shapes_ = input_shapes;
  Graph& g = backend->graph();
  auto checkpoint = g.checkpoint();
  auto undo = [&] {
    g.rollback(checkpoint);
    weights_.clear();
    state_.clear();
    backend_ = nullptr;
    built_shapes_.clear();
    // The name stays taken in the backend (the session may hold values under its scope), so an
    // automatic name is dropped: building the layer again gives it the next one.
    if (automatic_name) name_.clear();
  };
  try {
    {
      auto scope = g.absolute_scope("");
      build_weights(input_shapes);
    }
    // Keras initializes a layer's weights when it is built: get_weights works at once.
    backend->session().initialize_uninitialized_variables();
  } catch (const AllocationError& e) {  // a weight's buffer: it names variable, bytes and shape
    undo();
    throw ModelError("layer '" + name_ + "' (" + type() + "): not enough memory for its weights " +
                     "for input shape " + shapes_text(input_shapes) + ": " + e.what());
  } catch (const std::bad_alloc&) {
    undo();
    throw ModelError("layer '" + name_ + "' (" + type() + "): not enough memory for its weights " +
                     "for input shape " + shapes_text(input_shapes));
  } catch (...) {
    undo();
    throw;
  }
}

void Layer::check_weight_size(const std::string& name, const Shape& shape) const {
  // Refused here rather than by the allocator: a count that overflows int64 is a ShapeError
  // from Shape, and an allocation the machine cannot hold is either
  // std::bad_alloc or, with overcommit, the OOM killer while the weight is zero-filled.
  std::string what = "layer '" + name_ + "' (" + type() + "): weight '" + name + "' of shape " +
                     shape.to_string();
  std::int64_t elements = 1;
  for (std::int64_t d : shape.dims())
    if (__builtin_mul_overflow(elements, d, &elements))
      throw ModelError(what + " has more elements than an int64 can count");
  const long pages = ::sysconf(_SC_PHYS_PAGES), page_size = ::sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page_size <= 0) return;
  const double bytes =
      static_cast<double>(elements) * static_cast<double>(dtype_size(DType::float32));
  const double memory = static_cast<double>(pages) * static_cast<double>(page_size);
  if (bytes > memory)
    throw ModelError(what + " needs " + std::to_string(bytes / 1e9) + " GB, more than this " +
                     "machine's memory (" + std::to_string(memory / 1e9) + " GB)");
}

Output Layer::add_weight(const std::string& name, const Shape& shape, const Initializer& init,
                         bool trainable) {
  Graph& g = graph();
  check_weight_size(name, shape);
  auto scope = g.absolute_scope(name_);
  // Not under "<name>/": a scope of that name would make the variable's own name "<name>_1".
  Output initial = init(g, shape, DType::float32, name + "_initializer");
  VariableOptions options;
  options.trainable = trainable && trainable_;
  if (!trainable) options.collections.emplace_back(collections::kNonTrainableState);
  Output v = variable(initial, options, name);
  weights_.push_back(v);
  state_.push_back(!trainable);
  return v;
}

std::vector<Output> Layer::trainable_weights() const {
  std::vector<Output> out;
  if (!trainable_) return out;
  for (std::size_t i = 0; i < weights_.size(); ++i)
    if (!state_[i]) out.push_back(weights_[i]);
  return out;
}

std::vector<Output> Layer::non_trainable_weights() const {
  std::vector<Output> out;
  for (std::size_t i = 0; i < weights_.size(); ++i)
    if (state_[i] || !trainable_) out.push_back(weights_[i]);
  return out;
}

std::int64_t Layer::count_params() const {
  std::int64_t n = 0;
  for (const Output& w : weights_) n += w.shape().num_elements();
  return n;
}

AttrMap Layer::config() const {
  AttrMap c;
  c.set("name", name_);
  c.set("trainable", trainable_);
  if (input_shape_) c.set("input_shape", *input_shape_);
  return c;
}

void Layer::apply_base_config(const AttrMap& config) {
  if (config.has("name")) name_ = config.get_string("name");
  if (config.has("trainable")) trainable_ = config.get_bool("trainable");
  if (config.has("input_shape")) input_shape_ = config.get_shape("input_shape");
}

namespace {
std::mutex registry_mutex;
std::map<std::string, LayerFactory>& factories() {
  static std::map<std::string, LayerFactory> f;
  return f;
}
}  // namespace

void register_layer_type(const std::string& type, LayerFactory factory) {
  std::lock_guard lock(registry_mutex);
  factories()[type] = factory;
}

void register_builtin_layer_types();  // layers.cpp

LayerPtr layer_from_config(const std::string& type, const AttrMap& config) {
  LayerFactory factory = nullptr;
  {
    static std::once_flag once;
    std::call_once(once, [] { register_builtin_layer_types(); });
    std::lock_guard lock(registry_mutex);
    auto it = factories().find(type);
    if (it != factories().end()) factory = it->second;
  }
  if (!factory) {
    std::string known;
    for (const auto& [name, f] : factories()) known += (known.empty() ? "" : ", ") + name;
    throw ModelError("unknown layer type '" + type + "' (known: " + known +
                     "; a custom layer registers its type with register_layer_type)");
  }
  return factory(config);
}

}  // namespace dagrad::nn
