// Activation functions by name, for Dense(activation = "...") and the Activation layer
// (reference: keras-semantics.md section 2). Stateless ones only: PReLU (learned slope) and
// RReLU (random slope in training) are layers (layers.hpp).
#pragma once

#include <string>

#include "../graph/graph.hpp"

namespace dagrad::nn {

class Activation {
 public:
  // "linear" (or empty: identity), "sigmoid", "tanh", "relu", "leaky_relu" (alpha 0.2, as
  // tf.nn.leaky_relu; the LeakyReLU layer's default is Keras's 0.3), "elu" (alpha 1), "selu",
  // "softplus", "softmax" (last axis, input of rank >= 2 as Keras requires, else ModelError;
  // the result is the softmax node itself, whose logits the losses use). Each is one op. An
  // unknown name throws ModelError listing the names.
  Activation(const char* name);  // NOLINT: implicit, so options read {.activation = "elu"}
  Activation(const std::string& name);  // NOLINT
  Activation() : Activation("linear") {}

  Output operator()(Output x) const;
  const std::string& name() const { return name_; }
  bool is_linear() const { return name_ == "linear"; }

 private:
  std::string name_;
};

}  // namespace dagrad::nn
