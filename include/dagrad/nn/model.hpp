// Models: a graph of layer calls (functional, or a Sequential chain), turned into dagrad graphs
// over the same variables: the inference graph (deterministic), the training graph (dropout
// masks, random slopes, batch statistics and moving-statistics updates, rebuilt when trainable
// flags change) and the MC-dropout graph. Each is built once, when first asked for.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../graph/tensor.hpp"
#include "layer.hpp"
#include "losses.hpp"
#include "training.hpp"

namespace dagrad::optim {
class Optimizer;
using OptimizerPtr = std::shared_ptr<Optimizer>;
}  // namespace dagrad::optim

namespace dagrad::nn {

namespace detail {
struct SymbolNode;
struct Training;
}

// A layer output in a model's layer graph: what Input() returns and what a layer applied to
// symbols returns (Keras's KerasTensor). Its shape includes the batch dimension (-1).
class Symbol {
 public:
  Symbol() = default;
  explicit Symbol(std::shared_ptr<detail::SymbolNode> node) : node_(std::move(node)) {}
  const Shape& shape() const;
  const BackendPtr& backend() const;
  // The layer that computed it (an InputLayer for an Input) and the symbols it was called on.
  const LayerPtr& layer() const;
  const std::vector<Symbol>& inputs() const;
  bool is_input() const;
  const std::shared_ptr<detail::SymbolNode>& node() const { return node_; }
  bool valid() const { return node_ != nullptr; }

 private:
  std::shared_ptr<detail::SymbolNode> node_;
};

// A model input of `shape` (without the batch dimension), float32, named `name` or Keras's
// input_1, input_2, ... Without a backend it gets a new one (a new graph and session).
Symbol Input(Shape shape, std::string name = "", BackendPtr backend = nullptr);
// Calls a layer on symbols, building it for their shapes (the functional form of Keras's
// dense(x)): call(nn::Dense(30), x). Not named apply: with a std::shared_ptr argument,
// argument-dependent lookup would also find std::apply.
Symbol call(const LayerPtr& layer, const std::vector<Symbol>& inputs);
inline Symbol call(const LayerPtr& layer, const Symbol& input) {
  return call(layer, std::vector<Symbol>{input});
}

// A model as dagrad graph tensors.
struct ModelGraph {
  std::vector<Output> inputs;   // float32 placeholders, (batch, ...)
  std::vector<Output> outputs;
  std::vector<Operation> updates;               // training graph: run with every step
  std::vector<Output> regularization_losses;    // training graph: penalties to add to the loss
  std::vector<Output> trainable_variables;      // at build time, in model.weights order
};

struct McPrediction {
  Tensor mean;    // mean of the outputs over the passes
  Tensor stddev;  // their standard deviation (population) across passes: the uncertainty
};

class Model {
 public:
  // A functional model from Input symbols to outputs; every layer between them is part of it.
  Model(std::vector<Symbol> inputs, std::vector<Symbol> outputs, std::string name = "");
  virtual ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const std::string& name() const { return name_; }
  virtual std::string type() const { return "Functional"; }
  bool built() const;
  Backend& backend() const;
  const BackendPtr& backend_ptr() const;
  Graph& graph() const { return backend().graph(); }
  Session& session() const { return backend().session(); }

  // Layers in call order (Input layers excluded); by name (ModelError if absent) or index.
  const std::vector<LayerPtr>& layers() const;
  LayerPtr layer(const std::string& name) const;
  LayerPtr operator[](std::size_t index) const;
  std::vector<Shape> input_shapes() const;
  std::vector<Shape> output_shapes() const;
  // The layer graph's ends (empty while a Sequential model is not built).
  const std::vector<Symbol>& input_symbols() const;
  const std::vector<Symbol>& output_symbols() const;

  // Weights of all layers, layer by layer, each in creation order (a layer shared twice once).
  std::vector<Output> weights() const;
  std::vector<Output> trainable_weights() const;
  std::vector<Output> non_trainable_weights() const;
  std::int64_t count_params() const;
  std::vector<Tensor> get_weights() const;
  // Same count and shapes as get_weights (else ModelError naming the variable and shapes).
  void set_weights(const std::vector<Tensor>& values);
  // Freezes or unfreezes every layer.
  void set_trainable(bool trainable);
  template <class T>
  void set_trainable(T) = delete;

  const ModelGraph& inference_graph();
  const ModelGraph& training_graph();  // rebuilt when a layer's trainable flag changed since
  const ModelGraph& mc_dropout_graph();

  // Runs the inference graph over `x` in batches (the last one may be smaller); one input only.
  // ModelError for an x of another dtype or shape, batch_size <= 0, or a model whose output
  // does not have one row per input row.
  Tensor predict(const Tensor& x, std::int64_t batch_size = 32);
  // MC dropout: `samples` passes of the MC-dropout graph (dropout on, BatchNormalization with its
  // moving statistics), their mean and standard deviation; samples >= 1.
  McPrediction predict_mc_dropout(const Tensor& x, int samples = 100, std::int64_t batch_size = 32);

  // The layers' constraint updates (max-norm), built now under control dependencies on `after`
  // (the optimizer's updates), so that one plan runs them after the step, as Keras applies
  // constraints after each update. Empty when no layer has a constraint.
  std::vector<Operation> constraint_updates(const std::vector<Operation>& after);

  // ---- training (nn/training.cpp) ----
  // Builds the training step once: the training graph's loss (batch mean) plus the layers'
  // penalties, minimized by `optimizer` over the trainable weights with BatchNormalization's
  // updates and the max-norm constraints after each update; and the evaluation graph (the same
  // loss on the inference graph). Metrics: "accuracy" (resolved from the shapes, as tf.keras),
  // "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy", or a loss name.
  // Labels are float32 (converted from any numeric dtype): class indices (batch,) for the
  // sparse loss, else the output's shape. One input and one output. Changing a layer's trainable
  // flag afterwards requires compile() again (as in Keras); fit refuses to run until then.
  void compile(optim::OptimizerPtr optimizer, Loss loss, std::vector<std::string> metrics = {});
  bool compiled() const;
  // Makes a compiled model train data-parallel over the ranks of an MPI job (started with
  // mpirun; distributed::initialize() is called here), as Horovod's DistributedOptimizer and
  // tf.distribute's MirroredStrategy do. Every rank runs the same program, and from here on the
  // same calls. Rebuilds the training step (the optimizer keeps its state) so that it averages
  // the gradients over the ranks (optim::allreduce_gradients) before clipping and the updates.
  // Then fit starts from rank 0's weights and optimizer state (broadcast), and each epoch cuts
  // each global batch of batch_size * ranks samples (one shuffle, the same on every rank) into
  // one slice per rank; drops a last global batch smaller than the number of ranks; averages
  // BatchNormalization's moving statistics over the ranks; reduces the epoch's figures and the
  // validation figures over the ranks, so every rank sees the same logs and callbacks decide
  // alike. Progress is printed by rank 0 only; CSVLogger and ModelCheckpoint write on rank 0
  // only. evaluate splits its samples between the ranks and reduces the figures. Random nodes
  // draw a stream of their own on each rank (Session::set_stream_offset). The figures of a batch
  // (train_on_batch, on_batch_end's logs) are the rank's own: a callback that stops training
  // from them must decide alike on every rank (use the epoch's logs, which are reduced). compile()
  // again keeps the model distributed. Throws ModelError unless compiled, distributed::Error in
  // a build without MPI.
  void distribute(DistributedOptions options = {});
  bool distributed() const;
  // Sets every rank's weights and optimizer state to rank 0's (each rank must call it).
  void broadcast_variables();
  // Trains for epochs [initial_epoch, epochs) in batches (the last one may be smaller); returns
  // every epoch's logs. x float32 (n, input shape...), y n labels.
  History fit(const Tensor& x, const Tensor& y, FitOptions options = {});
  // Compiles the training step's plan now (fit and train_on_batch do it on first use), so that
  // its random nodes have generators: Session::random_states then covers them all.
  void prepare_training();
  // The compiled plans of one training step (fetching the loss and metrics, running the
  // updates; feeds: inputs, labels) and of predict (feed: inputs), compiled on first use: for
  // inspecting what the graph passes made of them (Plan::plan_graph, Plan::pass_reports) and
  // for benchmarks that run steps without fit's bookkeeping.
  Plan& training_plan();
  Plan& prediction_plan();
  // One training step on the batch x, y (all of it, unshuffled): that batch's loss and metrics
  // before the update, as Keras's train_on_batch. Does not count as an epoch.
  Logs train_on_batch(const Tensor& x, const Tensor& y);
  // The loss (penalties included, as Keras) and metrics of the inference graph over x, y.
  Logs evaluate(const Tensor& x, const Tensor& y, std::int64_t batch_size = 32, int verbose = 0,
                std::ostream* out = nullptr);
  optim::Optimizer& optimizer() const;  // ModelError unless compiled
  const Loss& loss() const;
  const std::vector<std::string>& metrics() const;
  // The optimizer's learning-rate variable (ModelError unless compiled; set_learning_rate also
  // refuses an optimizer driven by a schedule). Changes take effect at the next step.
  double learning_rate() const;
  void set_learning_rate(double rate);
  // Epochs completed by fit (kept in model files, so a loaded model resumes at initial_epoch =
  // epoch()).
  int epoch() const;
  void set_epoch(int epoch);
  // Set by a callback to end fit after the current epoch.
  bool stop_training = false;

  // Keras 2.6's table (the book's format): name (type), output shape with None, params, totals;
  // one row per layer, rows without trailing spaces. Sequential models and functional chains
  // (InputLayer row "[(None, 8)]"): 65 columns; other functional models: 98, with "Connected
  // to", rows in Keras's order (deepest layers first).
  void summary(std::ostream& out) const;

 protected:
  explicit Model(std::string name);
  // For Sequential: (re)creates the symbol graph from its layer list; `layers` are the model's
  // layers, also while it has no symbols (not built).
  void set_symbols(std::vector<Symbol> inputs, std::vector<Symbol> outputs,
                   std::vector<LayerPtr> layers);
  std::string name_;

 private:
  struct Impl;
  ModelGraph build_graph(int mode);  // 0 inference, 1 training, 2 MC dropout
  detail::Training& training() const;
  void build_training(optim::OptimizerPtr optimizer, Loss loss, std::vector<std::string> metrics,
                      const DistributedOptions* distributed);
  std::unique_ptr<Impl> impl_;
  std::shared_ptr<detail::Training> training_;
};

class Sequential : public Model {
 public:
  explicit Sequential(std::vector<LayerPtr> layers = {}, std::string name = "",
                      BackendPtr backend = nullptr);
  std::string type() const override { return "Sequential"; }
  // Appends a layer; the model is built as soon as the first layer knows its input shape. An
  // InputLayer may only come first. A layer appended twice is called twice with one set of
  // weights (layers() lists it once).
  void add(LayerPtr layer);
  // Removes the last layer (ModelError when empty).
  void pop();
  // Builds the model for inputs of `input_shape` (without batch) when no layer declares one.
  void build(const Shape& input_shape);
  // The input shape (without batch) given by build() or the first layer, if any.
  std::optional<Shape> declared_input_shape() const;

 private:
  friend std::unique_ptr<Model> clone_model(const Model& model);  // copies sequence_ as given
  void rebuild_symbols();
  std::vector<LayerPtr> sequence_;
  std::optional<Shape> input_shape_;
  BackendPtr backend_;
  Symbol input_;  // kept while the input shape stays, so the placeholders stay too
};

// The same architecture with fresh weights (each layer's initializers), the same layer names,
// in a new backend of the same graph seed (so the fresh draws equal the original's initial
// values, unlike Keras's); nothing is shared. Copy values with
// clone.set_weights(model.get_weights()).
std::unique_ptr<Model> clone_model(const Model& model);

// Model files: a directory with model.json (format "dagrad-model", version, model type, name,
// graph seed, the layers' types and configs and, for functional models, their connections), the
// inference graph as a graph file (inference.dagrad, with a "serving" signature) and the weights
// as a checkpoint (weights/). load_model reads model.json and weights/ (inference.dagrad is for
// tools), rebuilds the layers from their configs in a backend of the saved seed and restores the
// weights; a file of another version, a missing or truncated part, a layer option its type does
// not read, or a weight of the wrong shape is a FileError naming the file and the layer or
// variable. Saving is atomic (a temporary sibling directory replaces `path`, so a failed save
// leaves an older model file intact), creates missing parent directories, and refuses a `path`
// that exists and is neither a model file nor empty, and a Sequential model that calls a layer
// more than once (its file lists each layer once).
// The graph file holds the model's whole backend graph (training nodes too) with the "serving"
// signature (x -> y) naming the inference entry point.
inline constexpr int kModelFileVersion = 1;
// Every file of a save is synced to disk before the directory is swapped in (one
// renameat2(RENAME_EXCHANGE), or two renames where the file system lacks it), so a process killed
// at any moment leaves the old or the new model whole. A save killed between the two renames
// leaves `path` missing and the old model in a backup ".NAME.old-PID-N" beside it: load_model
// (and has_model_file) read that backup then, and the next save deletes it.
void save_model(Model& model, const std::string& path);
std::unique_ptr<Model> load_model(const std::string& path);
// Whether load_model(path) finds a model file to read (model.json at path, or the backup of an
// interrupted save); it does not check the file's contents.
bool has_model_file(const std::string& path);

}  // namespace dagrad::nn
