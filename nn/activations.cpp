// Activations by name (keras-semantics.md section 2): each is one op, so that the losses can
// recognise a softmax or sigmoid output by its op and reach the logits behind it.
#include "dagrad/nn/activations.hpp"

#include <string>
#include <vector>

#include "dagrad/nn/errors.hpp"
#include "dagrad/ops/ops.hpp"

namespace dagrad::nn {

namespace {

const std::vector<std::string>& activation_names() {
  static const std::vector<std::string> names = {
      "linear", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "softplus", "softmax"};
  return names;
}

// tf.nn.leaky_relu's default; the LeakyReLU layer's is 0.3.
constexpr double kLeakyReluAlpha = 0.2;

}  // namespace

Activation::Activation(const char* name) : Activation(std::string(name ? name : "")) {}

Activation::Activation(const std::string& name) : name_(name.empty() ? "linear" : name) {
  for (const std::string& known : activation_names())
    if (name_ == known) return;
  std::string list;
  for (const std::string& known : activation_names()) list += (list.empty() ? "" : ", ") + known;
  throw ModelError("unknown activation '" + name + "'; the names are " + list +
                   " (empty means linear)");
}

Output Activation::operator()(Output x) const {
  if (name_ == "linear") return x;
  if (name_ == "sigmoid") return sigmoid(x);
  if (name_ == "tanh") return tanh(x);
  if (name_ == "relu") return relu(x);
  if (name_ == "leaky_relu") return leaky_relu(x, kLeakyReluAlpha);
  if (name_ == "elu") return elu(x, 1.0);
  if (name_ == "selu") return selu(x);
  if (name_ == "softplus") return softplus(x);
  if (name_ == "softmax") {
    // As Keras: a softmax over a single axis that is also the batch is refused.
    if (x.shape().rank() < 2)
      throw ModelError(
          "activation 'softmax' needs a (batch, ..., classes) input of rank >= 2, got " +
          x.shape().to_string() + " (" + x.name() + ")");
    return softmax(x, -1);
  }
  throw ModelError("activation '" + name_ + "' has no implementation");
}

}  // namespace dagrad::nn
