#include "list.hpp"

namespace dagrad::tools::experiments {

// Defaults are chosen to give a meaningful answer on a 2-core machine; the durations were
// measured with them (see README "Experiments").
const std::vector<Experiment>& all() {
  static const std::vector<Experiment> list = {
      {.name = "gradients",
       .claim = "in deep nets gradients vanish or explode with sigmoid and N(0,1) weights; "
                "Glorot, He and LeCun initialization with the right activation keep "
                "activations and gradients at scale",
       .duration = "about 1 min",
       .epochs = 2,
       .seeds = 3,
       .limit = 10000,
       .run = gradients},
      {.name = "initializers",
       .claim = "Glorot, He and LeCun initialization, matched to the activation, speed up training considerably",
       .duration = "about 3 min",
       .epochs = 5,
       .seeds = 3,
       .limit = 10000,
       .run = initializers},
      {.name = "activations",
       .claim = "nonsaturating activations: leaky ReLU variants avoid dying ReLUs and beat ReLU; "
                "ELU beats them; SELU beats ELU in a deep MLP with standardized inputs",
       .duration = "3-5 min",
       .epochs = 10,
       .seeds = 3,
       .limit = 10000,
       .run = activations},
      {.name = "batchnorm",
       .claim = "Batch Normalization speeds up training and rescues saturating activations, at a cost per epoch",
       .duration = "about 4 min",
       .epochs = 10,
       .seeds = 3,
       .limit = 10000,
       .run = batchnorm},
      {.name = "clipping",
       .claim = "gradient clipping mitigates exploding gradients (used mostly in RNNs)",
       .duration = "1-2 min",
       .epochs = 5,
       .seeds = 3,
       .limit = 10000,
       .run = clipping},
      {.name = "optimizers",
       .claim = "momentum and Nesterov beat plain SGD; AdaGrad stops too early; RMSProp, Adam and Nadam converge fast",
       .duration = "about 5 min",
       .epochs = 10,
       .seeds = 3,
       .limit = 10000,
       .run = optimizers},
      {.name = "schedules",
       .claim = "a good schedule (exponential, performance, 1cycle) converges faster and better than a constant rate",
       .duration = "about 4 min",
       .epochs = 20,
       .seeds = 3,
       .limit = 10000,
       .run = schedules},
      {.name = "regularization",
       .claim = "l1/l2, dropout, alpha dropout and max-norm curb overfitting; MC dropout improves on plain prediction",
       .duration = "about 5 min",
       .epochs = 20,
       .seeds = 3,
       .limit = 10000,
       .run = regularization},
  };
  return list;
}

}  // namespace dagrad::tools::experiments
