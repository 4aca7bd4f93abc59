// The learning-rate finder of Géron's chapter 11 (after Smith 2015 and fast.ai): train a few
// hundred steps while the rate grows exponentially from a tiny to a large value, record each
// step's loss, then put the model back as it was. The best rate is "a bit lower than the point at
// which the loss starts to climb (typically about 10 times lower than the turning point)".
#pragma once

#include <cstdint>
#include <vector>

#include "../graph/tensor.hpp"

namespace dagrad::nn {

class Model;

struct LrFinderOptions {
  double min_rate = 1e-5;
  double max_rate = 10.0;
  int steps = 300;  // rate k = min * (max / min)^(k / (steps - 1)), k = 0 .. steps - 1
  std::int64_t batch_size = 32;
  // Ends the sweep once the smoothed loss exceeds this many times its minimum (or a loss is not
  // finite): the rest of the curve would only say "diverged".
  double stop_factor = 4.0;
  // Exponential moving average of the losses (bias-corrected); it lags about 1 / (1 - smoothing)
  // steps behind, so a heavier one would put the turning point late.
  double smoothing = 0.9;
  // The turning point, where the loss starts to climb: the largest rate whose smoothed loss is
  // within this fraction above the lowest one (on a flat bottom, its far end).
  double climb_tolerance = 0.1;
  double suggest_factor = 10;  // suggested rate = the turning point's rate / this
  std::uint64_t seed = 0;      // order of the batches (0: the graph's seed)
};

struct LrFinderResult {
  std::vector<double> rates;     // per step done
  std::vector<double> losses;    // the step's batch loss (before its update)
  std::vector<double> smoothed;  // their bias-corrected moving average
  double lowest_rate = 0;        // the rate at the smoothed loss's minimum
  double turning_rate = 0;       // where it starts to climb (LrFinderOptions::climb_tolerance)
  double suggested_rate = 0;     // turning_rate / suggest_factor
  bool diverged = false;         // stopped before the last step
};

// Runs the sweep on a compiled model (its optimizer must have a constant rate, not a schedule)
// over batches of x, y drawn in a shuffled order (cycling when the steps need more data), then
// restores every weight, the optimizer's state (rate, counter, slots), the random generators and
// the epoch count, so the model is exactly as before. ModelError for a model that is not
// compiled, an optimizer driven by a schedule, or options out of range (0 < min_rate < max_rate,
// finite; steps >= 2; batch_size >= 1; stop_factor > 1; smoothing in [0, 1); climb_tolerance >= 0;
// suggest_factor >= 1).
LrFinderResult find_learning_rate(Model& model, const Tensor& x, const Tensor& y,
                                  const LrFinderOptions& options = {});

}  // namespace dagrad::nn
