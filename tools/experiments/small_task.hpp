// The small labelled task of the `pretraining` and `auxiliary` experiments: ten classes from a few
// hundred labelled images, learned from scratch or on the lower layers of a network pretrained on
// another task (frozen, or fine-tuned), and the table and curves that compare them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "layer_reuse.hpp"

namespace dagrad::tools::experiments {

// Labelled training images of the small task (the first ones within --limit).
inline constexpr std::int64_t kLabelledImages = 500;

// The lower layers shared by every network of the two experiments: Flatten, Dense(300) and
// Dense(100), elu with he_normal (the chapter's plain network). Pretrained networks add their own
// head; the classifier adds Dense(10, softmax).
std::vector<nn::LayerPtr> lower_layers();
// Keras's Adam (1e-3) for every fit of the two experiments: robust on a few hundred images.
optim::OptimizerPtr adam();

struct SmallTaskRuns {
  std::vector<Run> scratch, frozen, fine_tuned;
};
// One seed of the small task, each variant for options.epochs epochs with Adam, validated on the
// validation set and tested on the test set (all 10 classes): the classifier from scratch (in a
// backend of `seed`, so with the same initial lower layers as a pretrained network built with that
// seed), and on a copy of `pretrained`'s layers but its last, frozen (only the new head learns) or
// fine-tuned (every layer learns).
void run_small_task(const nn::Model& pretrained, const Subset& labelled,
                    const nn::FashionMnist& data, const Options& options, std::uint64_t seed,
                    SmallTaskRuns& runs);

// The table of the three variants ("pretrained on ..." names the pretraining), its notes on how
// to read it, and the val accuracy panel.
Table small_task_table(const SmallTaskRuns& runs, const std::string& pretrained_on,
                       std::int64_t labelled);
ChartPanel small_task_panel(const SmallTaskRuns& runs);
// The notes on the classifiers (`features_of`: "encoder", "rotation network") and, when fewer than
// kLabelledImages labelled images were available, the one saying so (last).
std::string classifiers_note(const Options& options, std::int64_t labelled,
                             const std::string& features_of);
void add_few_labels_note(std::int64_t labelled, Report& report);

}  // namespace dagrad::tools::experiments
