// Models: the layer graph (symbols), its three dagrad graphs, predict, MC dropout, summary,
// weights and clone_model.
#include "dagrad/nn/model.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <ostream>
#include <set>
#include <sstream>

#include "dagrad/nn/errors.hpp"
#include "dagrad/nn/layers.hpp"
#include "dagrad/ops/ops.hpp"
#include "nn/data_util.hpp"

namespace dagrad::nn {

namespace detail {
// One node of a model's layer graph: an input (layer is its InputLayer, no inputs) or one call
// of a layer on earlier symbols.
struct SymbolNode {
  LayerPtr layer;
  std::vector<Symbol> inputs;
  Shape shape;  // with the batch dimension
  BackendPtr backend;
  bool is_input = false;
  std::uint64_t serial = 0;  // creation order: a layer's calls are numbered by it, as in Keras
};
}  // namespace detail

using detail::SymbolNode;

const Shape& Symbol::shape() const {
  if (!node_) throw ModelError("an empty Symbol has no shape");
  return node_->shape;
}

const LayerPtr& Symbol::layer() const {
  if (!node_) throw ModelError("an empty Symbol has no layer");
  return node_->layer;
}

const std::vector<Symbol>& Symbol::inputs() const {
  if (!node_) throw ModelError("an empty Symbol has no inputs");
  return node_->inputs;
}

bool Symbol::is_input() const { return node_ && node_->is_input; }

const BackendPtr& Symbol::backend() const {
  if (!node_) throw ModelError("an empty Symbol has no backend");
  return node_->backend;
}

namespace {

std::atomic<std::uint64_t> next_serial{1};

Shape with_batch(const Shape& shape) {
  std::vector<std::int64_t> dims{Shape::kUnknown};
  dims.insert(dims.end(), shape.dims().begin(), shape.dims().end());
  return Shape(dims);
}

std::string thousands(std::int64_t n) {
  std::string digits = std::to_string(n), out;
  int count = 0;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    if (count && count % 3 == 0 && *it != '-') out.insert(out.begin(), ',');
    out.insert(out.begin(), *it);
    ++count;
  }
  return out;
}

}  // namespace

Symbol Input(Shape shape, std::string name, BackendPtr backend) {
  for (std::int64_t d : shape.dims())
    if (d < 0 && d != Shape::kUnknown)
      throw ModelError("Input: shape " + shape.to_string() + " has a negative dimension");
  if (!backend) backend = std::make_shared<Backend>();
  if (name.empty()) {  // Keras's "input_1", "input_2", ...: the first free one, taken by the build
    name = "input_1";
    for (int i = 2; backend->name_taken(name); ++i) name = "input_" + std::to_string(i);
  }
  LayerPtr layer = InputLayer(shape, name);
  Shape full = with_batch(shape);
  layer->build(backend, {full});
  auto node = std::make_shared<SymbolNode>();
  node->layer = layer;
  node->shape = full;
  node->backend = backend;
  node->is_input = true;
  node->serial = next_serial++;
  return Symbol(node);
}

Symbol call(const LayerPtr& layer, const std::vector<Symbol>& inputs) {
  if (!layer) throw ModelError("call: no layer");
  if (inputs.empty()) throw ModelError("call: layer '" + layer->name() + "' given no inputs");
  std::vector<Shape> shapes;
  for (const Symbol& s : inputs) {
    if (!s.valid()) throw ModelError("call: layer '" + layer->name() + "' given an empty Symbol");
    if (s.backend() != inputs[0].backend())
      throw ModelError("call: the inputs of layer '" + layer->name() +
                       "' come from different backends (models built apart cannot be joined; "
                       "pass one backend to Input)");
    shapes.push_back(s.shape());
  }
  layer->build(inputs[0].backend(), shapes);
  auto node = std::make_shared<SymbolNode>();
  node->layer = layer;
  node->inputs = inputs;
  node->shape = layer->output_shape(shapes);
  node->backend = inputs[0].backend();
  node->serial = next_serial++;
  return Symbol(node);
}

// ---- Model ---------------------------------------------------------------------------------

struct Model::Impl {
  BackendPtr backend;
  std::vector<Symbol> inputs, outputs;
  std::vector<SymbolNode*> order;  // topological: inputs of a node come before it
  std::vector<LayerPtr> layers;    // unique, in call order, InputLayers excluded
  std::vector<Output> placeholders;
  std::optional<ModelGraph> inference, training, mc;
  std::vector<bool> training_flags;  // the layers' trainable flags when training was built
};

Model::Model(std::string name) : name_(std::move(name)), impl_(std::make_unique<Impl>()) {}

Model::Model(std::vector<Symbol> inputs, std::vector<Symbol> outputs, std::string name)
    : name_(std::move(name)), impl_(std::make_unique<Impl>()) {
  if (inputs.empty() || outputs.empty())
    throw ModelError("Model: needs at least one input and one output");
  for (const Symbol& s : inputs)
    if (!s.valid() || !s.node()->is_input)
      throw ModelError("Model: every input must be a symbol made by Input()");
  if (name_.empty()) name_ = inputs[0].backend()->unique_name("model");
  set_symbols(std::move(inputs), std::move(outputs), {});
}

Model::~Model() = default;

void Model::set_symbols(std::vector<Symbol> inputs, std::vector<Symbol> outputs,
                        std::vector<LayerPtr> layers) {
  auto impl = std::make_unique<Impl>();
  impl->inputs = std::move(inputs);
  impl->outputs = std::move(outputs);
  if (!impl->inputs.empty()) impl->backend = impl->inputs[0].backend();
  for (const Symbol& s : impl->outputs) {
    if (!s.valid()) throw ModelError("model '" + name_ + "': an output is an empty Symbol");
    if (s.backend() != impl->backend)
      throw ModelError("model '" + name_ + "': an output comes from another backend than its inputs");
  }
  // Depth-first post-order from the outputs: every node after its inputs.
  std::set<const SymbolNode*> done;
  std::function<void(SymbolNode*)> visit = [&](SymbolNode* n) {
    if (done.count(n)) return;
    done.insert(n);
    if (n->is_input) {
      bool declared = false;
      for (const Symbol& s : impl->inputs) declared |= s.node().get() == n;
      if (!declared)
        throw ModelError("model '" + name_ + "': an output depends on input '" + n->layer->name() +
                         "', which is not among the model's inputs");
    }
    for (const Symbol& s : n->inputs) visit(s.node().get());
    impl->order.push_back(n);
  };
  for (const Symbol& s : impl->outputs) visit(s.node().get());
  if (layers.empty()) {
    for (SymbolNode* n : impl->order)
      if (!n->is_input) layers.push_back(n->layer);
  }
  // A layer called more than once (a Sequential may repeat one) is one layer with one set of
  // weights: counted, listed and trained once.
  for (const LayerPtr& l : layers)
    if (std::find(impl->layers.begin(), impl->layers.end(), l) == impl->layers.end())
      impl->layers.push_back(l);
  impl_ = std::move(impl);
}

bool Model::built() const { return !impl_->outputs.empty(); }

const BackendPtr& Model::backend_ptr() const {
  if (!impl_->backend)
    throw ModelError("model '" + name_ + "' is not built: give its first layer an input shape "
                     "(Flatten({28, 28}), Dense(.., {.input_shape = ...})) or call build(shape)");
  return impl_->backend;
}

Backend& Model::backend() const { return *backend_ptr(); }

const std::vector<LayerPtr>& Model::layers() const { return impl_->layers; }

LayerPtr Model::layer(const std::string& name) const {
  for (const LayerPtr& l : impl_->layers)
    if (l->name() == name) return l;
  std::string known;
  for (const LayerPtr& l : impl_->layers) known += (known.empty() ? "" : ", ") + l->name();
  throw ModelError("model '" + name_ + "' has no layer '" + name + "' (layers: " + known + ")");
}

LayerPtr Model::operator[](std::size_t index) const {
  if (index >= impl_->layers.size())
    throw ModelError("model '" + name_ + "' has " + std::to_string(impl_->layers.size()) +
                     " layers; index " + std::to_string(index) + " is out of range");
  return impl_->layers[index];
}

std::vector<Shape> Model::input_shapes() const {
  std::vector<Shape> out;
  for (const Symbol& s : impl_->inputs) out.push_back(s.shape());
  return out;
}

std::vector<Shape> Model::output_shapes() const {
  std::vector<Shape> out;
  for (const Symbol& s : impl_->outputs) out.push_back(s.shape());
  return out;
}

std::vector<Output> Model::weights() const {
  std::vector<Output> out;
  for (const LayerPtr& l : impl_->layers)
    for (const Output& w : l->weights()) out.push_back(w);
  return out;
}

std::vector<Output> Model::trainable_weights() const {
  std::vector<Output> out;
  for (const LayerPtr& l : impl_->layers)
    for (const Output& w : l->trainable_weights()) out.push_back(w);
  return out;
}

std::vector<Output> Model::non_trainable_weights() const {
  std::vector<Output> out;
  for (const LayerPtr& l : impl_->layers)
    for (const Output& w : l->non_trainable_weights()) out.push_back(w);
  return out;
}

std::int64_t Model::count_params() const {
  std::int64_t n = 0;
  for (const LayerPtr& l : impl_->layers) n += l->count_params();
  return n;
}

std::vector<Tensor> Model::get_weights() const {
  std::vector<Tensor> out;
  for (const Output& w : weights()) out.push_back(session().variable_value(w));
  return out;
}

void Model::set_weights(const std::vector<Tensor>& values) {
  std::vector<Output> ws = weights();
  if (values.size() != ws.size())
    throw ModelError("model '" + name_ + "' has " + std::to_string(ws.size()) + " weights, given " +
                     std::to_string(values.size()));
  for (std::size_t i = 0; i < ws.size(); ++i)
    if (!values[i].defined() || values[i].dtype() != ws[i].dtype() ||
        values[i].shape() != ws[i].shape())
      throw ModelError("model '" + name_ + "': weight " + std::to_string(i) + " ('" + ws[i].name() +
                       "') is " + std::string(dtype_name(ws[i].dtype())) + " " +
                       ws[i].shape().to_string() + ", given " +
                       (values[i].defined() ? std::string(dtype_name(values[i].dtype())) + " " +
                                                  values[i].shape().to_string()
                                            : std::string("an undefined tensor")) +
                       "; nothing was set");
  for (std::size_t i = 0; i < ws.size(); ++i) session().set_variable_value(ws[i], values[i]);
}

void Model::set_trainable(bool trainable) {
  for (const LayerPtr& l : impl_->layers) l->set_trainable(trainable);
}

namespace {
enum Mode { kInference = 0, kTraining = 1, kMcDropout = 2 };
}

const std::vector<Symbol>& Model::input_symbols() const { return impl_->inputs; }
const std::vector<Symbol>& Model::output_symbols() const { return impl_->outputs; }

const ModelGraph& Model::inference_graph() {
  (void)backend();
  if (!impl_->inference) impl_->inference = build_graph(kInference);
  return *impl_->inference;
}

const ModelGraph& Model::mc_dropout_graph() {
  (void)backend();
  if (!impl_->mc) impl_->mc = build_graph(kMcDropout);
  return *impl_->mc;
}

const ModelGraph& Model::training_graph() {
  (void)backend();
  std::vector<bool> flags;
  for (const LayerPtr& l : impl_->layers) flags.push_back(l->trainable());
  if (!impl_->training || flags != impl_->training_flags) {
    impl_->training = build_graph(kTraining);
    impl_->training_flags = flags;
  }
  return *impl_->training;
}

ModelGraph Model::build_graph(int mode) {
  Impl& impl = *impl_;
  const std::string& model_name = name_;
  Graph& g = impl.backend->graph();
  auto checkpoint = g.checkpoint();
  std::size_t placeholders_before = impl.placeholders.size();
  try {
    auto top = g.absolute_scope("");
    if (impl.placeholders.empty())
      for (const Symbol& s : impl.inputs)
        impl.placeholders.push_back(placeholder(g, DType::float32, s.shape(), s.node()->layer->name()));
    auto model_scope = g.name_scope(model_name, true);
    const char* mode_name = mode == kInference ? "predict" : mode == kTraining ? "train" : "mc_dropout";
    auto mode_scope = g.name_scope(mode_name);
    CallContext ctx;
    ctx.training = mode == kTraining;
    ctx.mc_dropout = mode == kMcDropout;
    std::map<const SymbolNode*, Output> values;
    for (std::size_t i = 0; i < impl.inputs.size(); ++i)
      values[impl.inputs[i].node().get()] = impl.placeholders[i];
    for (SymbolNode* n : impl.order) {
      if (n->is_input) continue;
      std::vector<Output> ins;
      for (const Symbol& s : n->inputs) ins.push_back(values.at(s.node().get()));
      auto layer_scope = g.name_scope(n->layer->name());
      Output y = n->layer->call(ins, ctx);
      if (y.shape().rank() != n->shape.rank() || !y.shape().compatible_with(n->shape))
        throw ModelError("layer '" + n->layer->name() + "' (" + n->layer->type() +
                         ") computed shape " + y.shape().to_string() + ", its output_shape says " +
                         n->shape.to_string());
      values[n] = y;
    }
    ModelGraph mg;
    mg.inputs = impl.placeholders;
    for (const Symbol& s : impl.outputs) mg.outputs.push_back(values.at(s.node().get()));
    mg.updates = std::move(ctx.updates);
    if (mode == kTraining) {
      for (const LayerPtr& l : impl.layers) {
        auto layer_scope = g.name_scope(l->name());
        for (const Output& r : l->regularization_losses()) mg.regularization_losses.push_back(r);
        for (const Output& w : l->trainable_weights()) mg.trainable_variables.push_back(w);
      }
    }
    return mg;
  } catch (...) {
    g.rollback(checkpoint);
    impl.placeholders.resize(placeholders_before);
    throw;
  }
}

std::vector<Operation> Model::constraint_updates(const std::vector<Operation>& after) {
  Graph& g = graph();
  auto deps = g.control_dependencies(after);
  auto top = g.absolute_scope("");
  auto scope = g.name_scope(name_, true);
  auto constraints = g.name_scope("constraints");
  std::vector<Operation> out;
  for (const LayerPtr& l : impl_->layers) {
    auto layer_scope = g.name_scope(l->name());
    for (const Operation& op : l->constraint_updates()) out.push_back(op);
  }
  return out;
}

// ---- predict ---------------------------------------------------------------------------------

namespace {

void check_predict_input(const std::string& model, const Shape& expected, const Tensor& x,
                         std::int64_t batch_size) {
  detail::check_model_input(model, expected, x);
  if (batch_size <= 0)
    throw ModelError("predict: batch_size must be > 0, got " + std::to_string(batch_size));
}

// The rows of one batch's output are copied into the result at the batch's offset: an output
// that does not have one row per input row (a custom layer that mixes the batch) would be
// written past the result or leave rows unset.
void check_batch_output(const std::string& model, const Tensor& y, std::int64_t rows) {
  if (y.shape().rank() < 1 || y.shape()[0] != rows)
    throw ModelError("model '" + model + "': a batch of " + std::to_string(rows) +
                     " rows gave an output of shape " + y.shape().to_string() +
                     ", not one row per input row; predict cannot assemble it");
}

// The shape of the output for no input rows: the model's output shape with batch 0.
Shape no_rows_shape(const Output& output) {
  std::vector<std::int64_t> dims = output.shape().dims();
  if (dims.empty()) throw ModelError("predict: the model's output has no batch dimension");
  dims[0] = 0;
  for (std::int64_t d : dims)
    if (d < 0)
      throw ModelError("predict: given no rows and the output shape " + output.shape().to_string() +
                       " is not known");
  return Shape(dims);
}

}  // namespace

Plan& Model::prediction_plan() {
  const ModelGraph& mg = inference_graph();
  if (mg.inputs.size() != 1 || mg.outputs.size() != 1)
    throw ModelError("model '" + name_ + "': predict takes models of one input and one output");
  return session().compile({mg.outputs[0]}, {}, {mg.inputs[0]});
}

Tensor Model::predict(const Tensor& x, std::int64_t batch_size) {
  const ModelGraph& mg = inference_graph();
  if (mg.inputs.size() != 1 || mg.outputs.size() != 1)
    throw ModelError("model '" + name_ + "': predict takes models of one input and one output");
  check_predict_input(name_, mg.inputs[0].shape(), x, batch_size);
  Plan& plan = session().compile({mg.outputs[0]}, {}, {mg.inputs[0]});
  std::int64_t n = x.shape()[0];
  Tensor result;
  std::size_t out_row_bytes = 0;
  for (std::int64_t begin = 0; begin < n; begin += batch_size) {
    std::int64_t end = std::min(n, begin + batch_size);
    Tensor batch = detail::rows(x, begin, end);
    Tensor y = plan.run(std::span<const Tensor>(&batch, 1)).at(0);
    check_batch_output(name_, y, end - begin);
    if (!result.defined()) {
      std::vector<std::int64_t> dims = y.shape().dims();
      dims[0] = n;
      result = Tensor(y.dtype(), Shape(dims));
      out_row_bytes = result.nbytes() / static_cast<std::size_t>(std::max<std::int64_t>(n, 1));
    }
    std::memcpy(static_cast<std::byte*>(result.raw()) + out_row_bytes * begin, y.raw(), y.nbytes());
  }
  if (!result.defined()) result = Tensor(mg.outputs[0].dtype(), no_rows_shape(mg.outputs[0]));
  return result;
}

McPrediction Model::predict_mc_dropout(const Tensor& x, int samples, std::int64_t batch_size) {
  if (samples < 1) throw ModelError("predict_mc_dropout: samples must be >= 1");
  const ModelGraph& mg = mc_dropout_graph();
  if (mg.inputs.size() != 1 || mg.outputs.size() != 1)
    throw ModelError("model '" + name_ + "': predict takes models of one input and one output");
  check_predict_input(name_, mg.inputs[0].shape(), x, batch_size);
  Plan& plan = session().compile({mg.outputs[0]}, {}, {mg.inputs[0]});
  std::int64_t n = x.shape()[0];
  // Welford's running mean and sum of squared deviations, per element, in double.
  std::vector<double> mean, m2;
  Shape out_shape;
  if (n == 0) out_shape = no_rows_shape(mg.outputs[0]);
  for (int s = 1; s <= samples; ++s) {
    std::int64_t offset = 0;
    for (std::int64_t begin = 0; begin < n; begin += batch_size) {
      Tensor batch = detail::rows(x, begin, std::min(n, begin + batch_size));
      Tensor y = plan.run(std::span<const Tensor>(&batch, 1)).at(0);
      check_batch_output(name_, y, batch.shape()[0]);
      if (mean.empty() && s == 1 && begin == 0) {
        std::vector<std::int64_t> dims = y.shape().dims();
        dims[0] = n;
        out_shape = Shape(dims);
        mean.assign(static_cast<std::size_t>(out_shape.num_elements()), 0.0);
        m2.assign(mean.size(), 0.0);
      }
      for (std::int64_t i = 0; i < y.size(); ++i) {
        double v = y.value_as_double(i);
        auto k = static_cast<std::size_t>(offset + i);
        double delta = v - mean[k];
        mean[k] += delta / s;
        m2[k] += delta * (v - mean[k]);
      }
      offset += y.size();
    }
  }
  McPrediction out;
  out.mean = Tensor(DType::float32, out_shape);
  out.stddev = Tensor(DType::float32, out_shape);
  float* pm = out.mean.data<float>();
  float* ps = out.stddev.data<float>();
  for (std::size_t k = 0; k < mean.size(); ++k) {
    pm[k] = static_cast<float>(mean[k]);
    ps[k] = static_cast<float>(std::sqrt(m2[k] / samples));
  }
  return out;
}

// ---- summary -----------------------------------------------------------------------------------

namespace {

// Keras's print_row: each field starts where the previous one's column ends (the previous
// field's last character becomes a space) and is cut at its own column.
std::string keras_row(const std::vector<std::string>& fields, const std::vector<std::size_t>& positions) {
  std::string line;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i > 0 && !line.empty()) line.back() = ' ';
    line += fields[i];
    if (line.size() > positions[i]) line.resize(positions[i]);
    line.append(positions[i] - line.size(), ' ');
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line;
}

}  // namespace

namespace {

// A functional model's layers as Keras's model.layers orders them (_map_graph_network): by
// depth, deepest first, where a node's depth is 0 at the outputs and one more than its deepest
// consumer (and a layer's is its deepest call's); ties in the order in which a depth-first walk
// from the outputs first reaches them. Also Keras's sequential_like test: one node per depth,
// none with more than one input, no layer called twice.
struct KerasLayerOrder {
  std::vector<const Layer*> layers;
  bool sequential_like = true;
};

KerasLayerOrder keras_layer_order(const std::vector<SymbolNode*>& post_order,
                                  const std::vector<Symbol>& outputs) {
  std::map<const Layer*, int> first_reached;
  std::set<const SymbolNode*> seen;
  std::function<void(const SymbolNode*)> walk = [&](const SymbolNode* n) {
    if (!seen.insert(n).second) return;
    first_reached.emplace(n->layer.get(), static_cast<int>(first_reached.size()));
    for (const Symbol& s : n->inputs) walk(s.node().get());
  };
  for (const Symbol& s : outputs) walk(s.node().get());

  std::map<const SymbolNode*, int> node_depth;
  std::map<const Layer*, int> layer_depth;
  for (auto it = post_order.rbegin(); it != post_order.rend(); ++it) {  // consumers first
    const SymbolNode* n = *it;
    int depth = node_depth[n];
    if (auto l = layer_depth.find(n->layer.get()); l != layer_depth.end())
      depth = std::max(depth, l->second);
    layer_depth[n->layer.get()] = depth;
    node_depth[n] = depth;
    for (const Symbol& s : n->inputs) {
      int& d = node_depth[s.node().get()];
      d = std::max(d, depth + 1);
    }
  }
  KerasLayerOrder order;
  for (const auto& [layer, depth] : layer_depth) order.layers.push_back(layer);
  std::sort(order.layers.begin(), order.layers.end(), [&](const Layer* a, const Layer* b) {
    if (layer_depth[a] != layer_depth[b]) return layer_depth[a] > layer_depth[b];
    return first_reached[a] < first_reached[b];
  });
  std::map<int, int> nodes_at_depth;
  std::map<const Layer*, int> calls;
  for (const auto& [n, depth] : node_depth)
    if (++nodes_at_depth[depth] > 1 || n->inputs.size() > 1 || ++calls[n->layer.get()] > 1)
      order.sequential_like = false;
  return order;
}

}  // namespace

void Model::summary(std::ostream& out) const {
  if (!built())
    throw ModelError("model '" + name_ + "' is not built: give its first layer an input shape "
                     "(Flatten({28, 28}), Dense(.., {.input_shape = ...})) or call build(shape)");
  const bool sequential = type() == "Sequential";
  KerasLayerOrder keras_order = keras_layer_order(impl_->order, impl_->outputs);
  const bool sequential_like = sequential || keras_order.sequential_like;
  const std::size_t width = sequential_like ? 65 : 98;
  const std::vector<std::size_t> positions = sequential_like
                                                 ? std::vector<std::size_t>{29, 55, 65}
                                                 : std::vector<std::size_t>{32, 53, 65, 98};
  std::vector<std::string> header{"Layer (type)", "Output Shape", "Param #"};
  if (!sequential_like) header.emplace_back("Connected to");
  out << "Model: \"" << name_ << "\"\n" << std::string(width, '_') << "\n"
      << keras_row(header, positions) << "\n" << std::string(width, '=') << "\n";

  // One row per layer, as Keras's model.layers: a Sequential model's layers; a functional
  // model's, InputLayers included, in Keras's order. A layer called more than once has one
  // row, with every call's inbound symbols, its calls in the order they were made.
  std::map<const Layer*, std::vector<const SymbolNode*>> nodes_of;
  for (const SymbolNode* n : impl_->order) nodes_of[n->layer.get()].push_back(n);
  std::map<const SymbolNode*, int> call_index;  // "dense[1][0]": the input is dense's 2nd call
  for (auto& [layer, nodes] : nodes_of) {
    std::sort(nodes.begin(), nodes.end(),
              [](const SymbolNode* a, const SymbolNode* b) { return a->serial < b->serial; });
    for (std::size_t i = 0; i < nodes.size(); ++i) call_index[nodes[i]] = static_cast<int>(i);
  }
  std::vector<const Layer*> rows_of;
  if (sequential)
    for (const LayerPtr& l : impl_->layers) rows_of.push_back(l.get());
  else
    rows_of = keras_order.layers;
  for (std::size_t r = 0; r < rows_of.size(); ++r) {
    const Layer* layer = rows_of[r];
    const std::vector<const SymbolNode*>& nodes = nodes_of[layer];
    // Keras's layer.output_shape: the shape all calls share, else "multiple"; an InputLayer's
    // is a list of one shape.
    std::string shape = detail::keras_shape(nodes.at(0)->shape);
    for (const SymbolNode* n : nodes)
      if (n->shape != nodes[0]->shape) shape = "multiple";
    if (nodes[0]->is_input) shape = "[" + shape + "]";
    std::vector<std::string> fields{layer->name() + " (" + layer->type() + ")", shape,
                                    std::to_string(layer->count_params())};
    std::vector<std::string> connected;
    for (const SymbolNode* n : nodes)
      for (const Symbol& s : n->inputs)
        connected.push_back(s.node()->layer->name() + "[" +
                            std::to_string(call_index[s.node().get()]) + "][0]");
    if (!sequential_like) fields.push_back(connected.empty() ? "" : connected[0]);
    out << keras_row(fields, positions) << "\n";
    for (std::size_t c = 1; !sequential_like && c < connected.size(); ++c)
      out << keras_row({"", "", "", connected[c]}, positions) << "\n";
    out << std::string(width, r + 1 == rows_of.size() ? '=' : '_') << "\n";
  }
  std::int64_t trainable = 0, total = 0;
  for (const LayerPtr& l : impl_->layers) {
    total += l->count_params();
    for (const Output& w : l->trainable_weights()) trainable += w.shape().num_elements();
  }
  out << "Total params: " << thousands(total) << "\n"
      << "Trainable params: " << thousands(trainable) << "\n"
      << "Non-trainable params: " << thousands(total - trainable) << "\n"
      << std::string(width, '_') << "\n";
}

// ---- Sequential ----------------------------------------------------------------------------

Sequential::Sequential(std::vector<LayerPtr> layers, std::string name, BackendPtr backend)
    : Model(std::move(name)), backend_(std::move(backend)) {
  for (const LayerPtr& l : layers)
    if (!l) throw ModelError("Sequential: a layer is null");
  // Layers built already (reused from another model) fix the backend.
  for (const LayerPtr& l : layers)
    if (!backend_ && l->built()) backend_ = l->backend();
  if (!backend_) backend_ = std::make_shared<Backend>();
  if (name_.empty()) name_ = backend_->unique_name("sequential");
  sequence_ = std::move(layers);
  rebuild_symbols();
}

void Sequential::add(LayerPtr layer) {
  if (!layer) throw ModelError("Sequential::add: the layer is null");
  if (sequence_.empty() && layer->built() && layer->backend() != backend_) backend_ = layer->backend();
  sequence_.push_back(std::move(layer));
  try {
    rebuild_symbols();
  } catch (...) {
    sequence_.pop_back();
    rebuild_symbols();
    throw;
  }
}

void Sequential::pop() {
  if (sequence_.empty()) throw ModelError("Sequential '" + name_ + "' has no layer to pop");
  sequence_.pop_back();
  rebuild_symbols();
}

void Sequential::build(const Shape& input_shape) {
  std::optional<Shape> before = input_shape_;
  input_shape_ = input_shape;
  try {
    rebuild_symbols();
  } catch (...) {
    input_shape_ = before;
    rebuild_symbols();
    throw;
  }
}

std::optional<Shape> Sequential::declared_input_shape() const {
  if (!sequence_.empty() && sequence_[0]->input_shape()) return sequence_[0]->input_shape();
  return input_shape_;
}

void Sequential::rebuild_symbols() {
  for (std::size_t i = 1; i < sequence_.size(); ++i)
    if (sequence_[i]->type() == "InputLayer")
      throw ModelError("Sequential '" + name_ + "': an InputLayer declares the input and must be " +
                       "the first layer, not layer " + std::to_string(i));
  std::vector<LayerPtr> layers;
  for (const LayerPtr& l : sequence_)
    if (l->type() != "InputLayer") layers.push_back(l);
  std::optional<Shape> shape = declared_input_shape();
  if (!shape) {
    input_ = Symbol();
    set_symbols({}, {}, layers);
    return;
  }
  if (!input_.valid() || input_.shape() != with_batch(*shape) || input_.backend() != backend_) {
    std::string input_name;
    if (!sequence_.empty() && sequence_[0]->type() == "InputLayer" && !sequence_[0]->name().empty())
      input_name = sequence_[0]->name();
    else if (!sequence_.empty() && !sequence_[0]->name().empty())
      input_name = sequence_[0]->name() + "_input";  // Keras's "dense_input"
    if (!input_name.empty() && backend_->name_taken(input_name)) input_name.clear();
    input_ = Input(*shape, input_name, backend_);
  }
  Symbol x = input_;
  for (const LayerPtr& l : layers) x = call(l, x);
  set_symbols({input_}, {x}, layers);
}

// ---- clone_model -----------------------------------------------------------------------------

namespace {
LayerPtr clone_layer(const LayerPtr& layer) { return layer_from_config(layer->type(), layer->config()); }
}  // namespace

std::unique_ptr<Model> clone_model(const Model& model) {
  auto backend = std::make_shared<Backend>(model.built() ? model.graph().seed() : 0);
  if (const auto* seq = dynamic_cast<const Sequential*>(&model)) {
    // The sequence as given, so that a layer it repeats is one copy repeated (shared weights).
    std::map<const Layer*, LayerPtr> copies;
    auto out = std::make_unique<Sequential>(std::vector<LayerPtr>{}, model.name(), backend);
    for (const LayerPtr& l : seq->sequence_) {
      if (l->type() == "InputLayer") continue;  // declared_input_shape() has its shape
      LayerPtr& copy = copies[l.get()];
      if (!copy) copy = clone_layer(l);
      if (out->layers().empty() && !copy->input_shape() && seq->declared_input_shape())
        out->build(*seq->declared_input_shape());
      out->add(copy);
    }
    return out;
  }
  if (!model.built()) throw ModelError("clone_model: model '" + model.name() + "' is not built");
  // Functional: replay the layer graph with a fresh copy of each layer (shared ones once).
  std::map<const Layer*, LayerPtr> copies;
  std::map<const SymbolNode*, Symbol> symbols;
  std::function<Symbol(const Symbol&)> copy = [&](const Symbol& s) -> Symbol {
    const SymbolNode* n = s.node().get();
    if (auto it = symbols.find(n); it != symbols.end()) return it->second;
    Symbol result;
    if (n->is_input) {
      std::vector<std::int64_t> dims(n->shape.dims().begin() + 1, n->shape.dims().end());
      result = Input(Shape(dims), n->layer->name(), backend);
    } else {
      std::vector<Symbol> ins;
      for (const Symbol& i : n->inputs) ins.push_back(copy(i));
      LayerPtr& c = copies[n->layer.get()];
      if (!c) c = clone_layer(n->layer);
      result = call(c, ins);
    }
    symbols[n] = result;
    return result;
  };
  std::vector<Symbol> inputs, outputs;
  for (const Symbol& s : model.input_symbols()) inputs.push_back(copy(s));
  for (const Symbol& s : model.output_symbols()) outputs.push_back(copy(s));
  return std::make_unique<Model>(inputs, outputs, model.name());
}

}  // namespace dagrad::nn
