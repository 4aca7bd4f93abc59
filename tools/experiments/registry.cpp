#include "list.hpp"

namespace dagrad::tools::experiments {

// Defaults are chosen to give a meaningful answer on a 2-core machine; the durations were
// measured with them (see README "Experiments").
const std::vector<Experiment>& all() {
  static const std::vector<Experiment> list = {
      {.name = "optimizers",
       .claim = "momentum and Nesterov beat plain SGD; AdaGrad stops too early; RMSProp, Adam and Nadam converge fast",
       .duration = "about 5 min",
       .epochs = 10,
       .seeds = 3,
       .limit = 10000,
       .run = optimizers},
      {.name = "transfer",
       .claim = "reusing the lower layers of a network trained on a similar task (A) helps a task "
                "with little data (B): the book's error rate fell by a factor of almost 4",
       .duration = "about 3 min",
       .epochs = 20,
       .seeds = 5,
       .limit = 55000,
       .run = transfer},
      {.name = "pretraining",
       .claim = "with few labels, an autoencoder trained on the unlabelled images gives lower "
                "layers that help a classifier trained on the labelled ones",
       .duration = "about 2 min",
       .epochs = 30,
       .seeds = 3,
       .limit = 10000,
       .run = pretraining},
      {.name = "auxiliary",
       .claim = "with few labels, pretraining on an auxiliary task whose labels are free gives "
                "lower layers that help (here: which of 4 rotations an image shows)",
       .duration = "about 1.5 min",
       .epochs = 30,
       .seeds = 3,
       .limit = 10000,
       .run = auxiliary},
  };
  return list;
}

}  // namespace dagrad::tools::experiments
