// Weight initializers with Keras's formulas and names (reference: keras-semantics.md section 1).
// An initializer is a value: it describes a distribution and, given a shape, adds the graph node
// that draws from it (a random op scaled, or a constant), which a variable then takes as its
// initial value. Draws are seeded as the random ops are, with the graph's seed (Graph::set_seed)
// mixed in: an explicit seed gives the same values in any graph of the same seed, wherever the
// node is; seed 0 derives the stream from the graph's seed and the node, so a model built the
// same way in a graph with the same seed is initialized identically.
#pragma once

#include <cstdint>
#include <string>

#include "../graph/attr.hpp"
#include "../graph/graph.hpp"
#include "../ops/ops.hpp"  // OpName

namespace dagrad::nn {

// Keras's _compute_fans: rank 0 -> (1, 1); rank 1 -> (n, n); rank 2 -> (rows, cols) (a Dense
// kernel is (inputs, units)); rank >= 3 -> both times the receptive field prod(shape[:-2]).
struct Fans {
  std::int64_t fan_in = 1;
  std::int64_t fan_out = 1;
};
Fans compute_fans(const Shape& shape);

class Initializer {
 public:
  enum class Kind { VarianceScaling, Constant, RandomNormal, RandomUniform, TruncatedNormal };

  // A named initializer: glorot_uniform, glorot_normal, he_uniform, he_normal, lecun_uniform,
  // lecun_normal, zeros, ones, random_normal, random_uniform, truncated_normal (Keras's
  // defaults: stddev 0.05, [-0.05, 0.05]). An unknown name throws ModelError listing the names.
  Initializer(const char* name);  // NOLINT: implicit, so options read {.kernel_initializer = "he_normal"}
  Initializer(const std::string& name);  // NOLINT

  // VarianceScaling(scale > 0, mode fan_in|fan_out|fan_avg, distribution
  // truncated_normal|normal (alias)|untruncated_normal|uniform); bad values throw ModelError.
  static Initializer variance_scaling(double scale = 1.0, const std::string& mode = "fan_in",
                                      const std::string& distribution = "truncated_normal",
                                      std::int64_t seed = 0);
  static Initializer constant(double value);
  static Initializer random_normal(double mean = 0.0, double stddev = 0.05, std::int64_t seed = 0);
  static Initializer random_uniform(double minval = -0.05, double maxval = 0.05,
                                    std::int64_t seed = 0);
  static Initializer truncated_normal(double mean = 0.0, double stddev = 0.05,
                                      std::int64_t seed = 0);

  // Adds the node that computes an initial value of `shape` (fully known, else ModelError) and
  // float `dtype`, under the graph's current name scope.
  Output operator()(Graph& g, const Shape& shape, DType dtype = DType::float32,
                    OpName name = {}) const;

  // The standard deviation of the values it draws for `shape`: sqrt(scale / n) for a
  // variance-scaling one whatever its distribution (a uniform one draws within +-sqrt(3) times
  // it, a truncated normal's parameter is it / 0.8796...), stddev of a random normal,
  // (maxval - minval) / sqrt(12) of a random uniform, 0.8796... * stddev of a truncated normal,
  // 0 of a constant. Used by tests and summaries.
  double target_stddev(const Shape& shape) const;

  // The name it was made from ("he_normal"), or "variance_scaling", "constant", ...
  const std::string& name() const { return name_; }
  // Round trip for model files: every field as attributes, and back (every field required;
  // a missing, unknown or mistyped field or invalid values throw ModelError).
  AttrMap config() const;
  static Initializer from_config(const AttrMap& config);

  Kind kind = Kind::Constant;
  double scale = 1.0;                        // VarianceScaling
  std::string mode = "fan_in";               // VarianceScaling
  std::string distribution = "truncated_normal";  // VarianceScaling
  double value = 0.0;                        // Constant
  double mean = 0.0, stddev = 0.05;          // RandomNormal, TruncatedNormal
  double minval = -0.05, maxval = 0.05;      // RandomUniform
  std::int64_t seed = 0;

 private:
  Initializer() = default;
  std::string name_;
};

}  // namespace dagrad::nn
