// The layer abstraction of the nn module. A layer creates its variables once (build), in the
// graph of a Backend, and adds its computation to that graph each time a model calls it: once
// for the inference graph, once for the training graph (rebuilt after trainable flags change),
// once for the MC-dropout graph. Everything is graph ops; layers hold no kernels.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "../graph/attr.hpp"
#include "../graph/graph.hpp"
#include "../graph/session.hpp"
#include "initializers.hpp"

namespace dagrad::nn {

// The graph and the session that hold a set of layers' variables and their values, and the
// layer-name counters (Keras's per-session "dense", "dense_1", ...). Layers built in one backend
// can be shared by several models of that backend (transfer learning with shared layers).
class Backend {
 public:
  explicit Backend(std::uint64_t seed = 0);
  ~Backend();
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;
  Graph& graph() { return *graph_; }
  Session& session() { return *session_; }
  // `base`, then base_1, base_2, ... : the first not yet taken, which is then taken.
  std::string unique_name(const std::string& base);
  // Takes a name the user gave; throws ModelError when a layer or model already has it.
  void claim_name(const std::string& name);
  bool name_taken(const std::string& name) const;

 private:
  std::unique_ptr<Graph> graph_;
  std::unique_ptr<Session> session_;
  std::unordered_set<std::string> taken_;
  std::unordered_map<std::string, int> next_suffix_;  // per base: candidates below it are taken
};
using BackendPtr = std::shared_ptr<Backend>;

// What a layer's call builds into: which graph it is, and what the layer leaves for the model.
struct CallContext {
  bool training = false;    // training graph: batch statistics, dropout masks, random slopes
  bool mc_dropout = false;  // MC-dropout graph: inference, but (alpha) dropout stays on
  bool dropout_active() const { return training || mc_dropout; }
  std::vector<Operation> updates;  // state updates to run with every training step (BN moving stats)
};

class Layer {
 public:
  virtual ~Layer();
  // The Keras class name ("Dense", "BatchNormalization"), shown by summary and stored in files.
  virtual std::string type() const = 0;
  // The default base of automatic names: the snake_case type ("dense", "batch_normalization").
  std::string default_name() const;

  const std::string& name() const { return name_; }
  // Before the layer is built only (names are variable scopes); throws ModelError otherwise, and
  // for a name that is empty or holds '/' or ':'.
  void set_name(const std::string& name);

  // A frozen layer's variables are not trainable (no gradient, no update) and a frozen
  // BatchNormalization runs in inference mode. Takes effect when a training graph is next built.
  bool trainable() const { return trainable_; }
  void set_trainable(bool trainable);
  template <class T>
  void set_trainable(T) = delete;  // only a bool

  // The input shape without the batch dimension, when given at construction (Flatten({28, 28})).
  const std::optional<Shape>& input_shape() const { return input_shape_; }
  void set_input_shape(Shape shape) { input_shape_ = std::move(shape); }

  // Shapes below include the batch dimension (-1 when unknown).
  virtual int num_inputs() const { return 1; }
  virtual Shape output_shape(const std::vector<Shape>& input_shapes) const = 0;

  bool built() const { return backend_ != nullptr; }
  const BackendPtr& backend() const { return backend_; }
  const std::vector<Shape>& built_input_shapes() const { return built_shapes_; }
  // Creates the variables in `backend` for inputs of these shapes (naming the layer if it has no
  // name). Building again is a no-op when the backend and shapes agree, and a ModelError naming
  // the layer and both shapes otherwise (a layer's weights fit one input shape).
  void build(const BackendPtr& backend, const std::vector<Shape>& input_shapes);

  // Adds the layer's computation on `inputs` (graph tensors of its backend); requires built().
  virtual Output call(const std::vector<Output>& inputs, CallContext& ctx) = 0;

  // Weights in creation order (Dense: kernel, bias; BatchNormalization: gamma, beta,
  // moving_mean, moving_variance), split by whether the optimizer may change them now.
  const std::vector<Output>& weights() const { return weights_; }
  std::vector<Output> trainable_weights() const;
  std::vector<Output> non_trainable_weights() const;
  std::int64_t count_params() const;

  // Penalties of this layer's regularized weights (scalars), added to the training loss.
  virtual std::vector<Output> regularization_losses() { return {}; }
  // Assign ops that enforce the layer's constraints (max-norm), run after each update.
  virtual std::vector<Operation> constraint_updates() { return {}; }

  // The layer's options as attributes ("name", "trainable", "input_shape" and its own), from
  // which layer_from_config rebuilds an identical, unbuilt layer.
  virtual AttrMap config() const;
  // Reads the common options (name, trainable, input_shape) from a config: what a layer factory
  // calls on the layer it made (custom layer types too).
  void apply_base_config(const AttrMap& config);

 protected:
  Layer() = default;
  // Creates the layer's variables; input_shapes include the batch dimension.
  virtual void build_weights(const std::vector<Shape>& input_shapes) { (void)input_shapes; }
  // A variable `<layer name>/<name>` initialized by `init`. trainable = false makes it state
  // (moving statistics), never trained, in collections::kNonTrainableState.
  Output add_weight(const std::string& name, const Shape& shape, const Initializer& init,
                    bool trainable = true);
  Graph& graph() const;

 private:
  // ModelError when a weight of `shape` cannot exist: more elements than int64 counts, or more
  // bytes than the machine's physical memory.
  void check_weight_size(const std::string& name, const Shape& shape) const;
  std::string name_;
  bool trainable_ = true;
  std::optional<Shape> input_shape_;
  BackendPtr backend_;
  std::vector<Shape> built_shapes_;
  std::vector<Output> weights_;
  std::vector<bool> state_;  // per weight: moving state, never trainable
};
using LayerPtr = std::shared_ptr<Layer>;

// Rebuilds an unbuilt layer from type() and config(). Built-in types are known; a custom layer
// type registers its factory once. Unknown types throw ModelError naming the type.
using LayerFactory = LayerPtr (*)(const AttrMap& config);
void register_layer_type(const std::string& type, LayerFactory factory);
LayerPtr layer_from_config(const std::string& type, const AttrMap& config);

}  // namespace dagrad::nn
