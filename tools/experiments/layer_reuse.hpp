// What the layer-reuse experiments (transfer, pretraining, auxiliary) share: subsets of the data
// chosen by label, relabelled tasks, a model made of another model's lower layers and a new head,
// and fitting in phases (frozen, then unfrozen) with one history.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "experiment.hpp"

namespace dagrad::tools::experiments {

// Images and their labels (same number of rows).
struct Subset {
  Tensor x, y;
  std::int64_t size() const { return x.defined() ? x.shape()[0] : 0; }
};

// The rows whose int32 label `keep` accepts, in order. std::invalid_argument for labels that are
// not int32 of shape (n,).
std::vector<std::int64_t> rows_where(const Tensor& labels,
                                     const std::function<bool(std::int32_t)>& keep);
// Copies of rows `rows` of `x` (any dtype, rank >= 1), in that order; std::out_of_range naming
// the row for one outside [0, n).
Tensor take_rows(const Tensor& x, const std::vector<std::int64_t>& rows);
// The rows of `data` whose label `keep` accepts, at most `count` of them (the first ones; all when
// count < 0).
Subset select(const Tensor& x, const Tensor& labels, const std::function<bool(std::int32_t)>& keep,
              std::int64_t count = -1);
// int32 labels mapped through `new_label_of` (indexed by the old label); std::invalid_argument
// naming the row for a label outside its range or mapped to -1.
Tensor remap_labels(const Tensor& labels, const std::vector<std::int32_t>& new_label_of);
// Numeric labels (n,) as float32 (n, 1): the targets of a Dense(1, sigmoid) output.
Tensor as_column(const Tensor& labels);
// float32 images (n, h, w) as float32 rows (n, h * w): an autoencoder's targets.
Tensor flatten_images(const Tensor& images);

// A new Sequential model made of copies of `source`'s layers except its last `drop` ones (a clone
// of `source` with `source`'s weights, so training it leaves `source` as it is), then `head`.
std::unique_ptr<nn::Sequential> reuse_lower_layers(const nn::Model& source, nn::LayerPtr head,
                                                   std::size_t drop = 1);
// Sets every layer's trainable flag but the last one's (the head's).
void set_lower_layers_trainable(nn::Model& model, bool trainable);

// Appends the epochs of `more` to `into` (keys of `more` that `into` lacks are added).
void append(nn::History& into, const nn::History& more);

struct Phase {
  optim::OptimizerPtr optimizer;
  int epochs = 0;
};
// Compiles `model` with the phase's optimizer, `loss` and `metrics` and fits it on `train` for
// the phase's epochs, validating on `valid`, numbering the epochs from `first_epoch` (so each
// epoch's shuffle differs); appends them to `history`. Does nothing for 0 epochs. The fit's
// per-epoch lines go to the options' log when options.verbose >= 2.
void fit_phase(nn::Model& model, const Phase& phase, const nn::Loss& loss,
               const std::vector<std::string>& metrics, const Subset& train, const Subset& valid,
               int first_epoch, std::uint64_t seed, const Options& options, nn::History& history);

// The log line of a finished run (options.verbose >= 1): "  label, seed S: what (x.x s)".
void log_run(const Options& options, const std::string& label, std::uint64_t seed,
             const std::string& what, double seconds);

// Fractions as percentages, mean ± standard deviation: "2.95% ± 0.40%" ("2.95%" for one value,
// "nan" when any is not finite).
std::string percent_spread(const std::vector<double>& fractions, int digits = 2);
// 15915 as "15,915".
std::string grouped(std::int64_t n);
// Per-seed values compared: "3 / 1 / 1" (a is higher, equal, lower than b at the same index, over
// the indices both have).
std::string compare_per_seed(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace dagrad::tools::experiments
