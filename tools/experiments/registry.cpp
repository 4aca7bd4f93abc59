#include "list.hpp"

namespace dagrad::tools::experiments {

// Defaults are chosen to give a meaningful answer on a 2-core machine; the durations were
// measured with them there, unloaded (`dagrad experiment all`, 2026-12-05; a loaded machine takes
// up to three times as long). README "Experiments" has the tables they give.
const std::vector<Experiment>& all() {
  static const std::vector<Experiment> list = {
      {.name = "gradients",
       .claim = "in deep nets gradients vanish or explode with sigmoid and N(0,1) weights; "
                "Glorot, He and LeCun initialization with the right activation keep "
                "activations and gradients at scale",
       .duration = "about 30 s",
       .epochs = 2,
       .seeds = 3,
       .limit = 10000,
       .run = gradients},
      {.name = "initializers",
       .claim = "Glorot, He and LeCun initialization, matched to the activation, speed up training "
                "considerably",
       .duration = "about 1 min",
       .epochs = 5,
       .seeds = 3,
       .limit = 10000,
       .run = initializers},
      {.name = "activations",
       .claim = "nonsaturating activations: leaky ReLU variants avoid dying ReLUs and beat ReLU; "
                "ELU beats them; SELU beats ELU in a deep MLP with standardized inputs",
       .duration = "about 1.5 min",
       .epochs = 10,
       .seeds = 3,
       .limit = 10000,
       .run = activations},
      {.name = "batchnorm",
       .claim = "Batch Normalization speeds up training and rescues saturating activations, at a "
                "cost per epoch",
       .duration = "about 1.5 min",
       .epochs = 10,
       .seeds = 3,
       .limit = 10000,
       .run = batchnorm},
      {.name = "clipping",
       .claim = "gradient clipping mitigates exploding gradients (used mostly in RNNs)",
       .duration = "about 30 s",
       .epochs = 5,
       .seeds = 3,
       .limit = 10000,
       .run = clipping},
      {.name = "transfer",
       .claim = "reusing the lower layers of a network trained on a similar task (A) helps a task "
                "with little data (B): the book's error rate fell by a factor of almost 4",
       .duration = "about 2.5 min",
       .epochs = 20,
       .seeds = 5,
       .limit = 55000,
       .run = transfer,
       .models = {"dense", "cnn"}},
      {.name = "pretraining",
       .claim = "with few labels, an autoencoder trained on the unlabelled images gives lower "
                "layers that help a classifier trained on the labelled ones",
       .duration = "about 1 min",
       .epochs = 30,
       .seeds = 3,
       .limit = 10000,
       .run = pretraining},
      {.name = "auxiliary",
       .claim = "with few labels, pretraining on an auxiliary task whose labels are free gives "
                "lower layers that help (here: which of 4 rotations an image shows)",
       .duration = "about 1 min",
       .epochs = 30,
       .seeds = 3,
       .limit = 10000,
       .run = auxiliary},
      {.name = "optimizers",
       .claim = "momentum and Nesterov beat plain SGD; AdaGrad stops too early; RMSProp, Adam and "
                "Nadam converge fast",
       .duration = "about 2 min",
       .epochs = 10,
       .seeds = 3,
       .limit = 10000,
       .run = optimizers},
      {.name = "schedules",
       .claim = "a good schedule (exponential, performance, 1cycle) converges faster and better "
                "than a constant rate",
       .duration = "about 2.5 min",
       .epochs = 20,
       .seeds = 3,
       .limit = 10000,
       .run = schedules},
      {.name = "regularization",
       .claim = "l1/l2, dropout, alpha dropout and max-norm curb overfitting; MC dropout improves "
                "on plain prediction",
       .duration = "about 3.5 min",
       .epochs = 20,
       .seeds = 3,
       .limit = 10000,
       .run = regularization},
  };
  return list;
}

}  // namespace dagrad::tools::experiments
