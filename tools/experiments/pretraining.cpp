// Unsupervised pretraining (the chapter's Figure 11-5): when labels are scarce but images are not,
// train an autoencoder on all the images without their labels, then reuse its lower layers
// (the encoder) under a new softmax head, trained on the few labelled images. Compared with the
// same network from scratch on those images.
//
// The autoencoder is trained whole, not layer by layer as in the figure's greedy scheme (which
// predates ReLU-family activations and good initializations): Flatten, Dense(300) and Dense(100)
// (elu, he_normal; the encoder) then Dense(784, sigmoid) (the decoder), binary cross-entropy on
// the flattened pixels in [0, 1], Adam. It learns from every training image within --limit (the
// command's limit on training images) without looking at a label, and is validated on the
// validation images' reconstruction.
//
// Epochs: --epochs E is the length of every fit: the autoencoder's and each classifier's. Each
// seed trains its own autoencoder; the labelled images are the same for every seed.
#include <chrono>

#include "list.hpp"
#include "small_task.hpp"

namespace dagrad::tools::experiments {

Report pretraining(const Options& options, const nn::FashionMnist& data) {
  const std::int64_t unlabelled = data.x_train.shape()[0];
  const Subset labelled = select(
      data.x_train, data.y_train, [](std::int32_t) { return true; }, kLabelledImages);
  // The autoencoder's targets are its inputs, flattened; it never sees a label.
  const Subset images{data.x_train, flatten_images(data.x_train)};
  const Subset valid_images{data.x_valid, flatten_images(data.x_valid)};

  std::vector<Run> autoencoders;
  SmallTaskRuns runs;
  for (int k = 0; k < options.seeds; ++k) {
    const std::uint64_t seed = options.seed_of(k);
    auto start = std::chrono::steady_clock::now();
    std::vector<nn::LayerPtr> layers = lower_layers();
    layers.push_back(nn::Dense(784, {.activation = "sigmoid"}));
    nn::Sequential autoencoder(layers, "", std::make_shared<nn::Backend>(seed));
    Run run;
    fit_phase(autoencoder, {adam(), options.epochs}, "binary_crossentropy", {}, images,
              valid_images, 0, seed, options, run.history);
    run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    log_run(options, "autoencoder", seed, "val_loss " + fixed(run.history["val_loss"].back()),
            run.seconds);
    autoencoders.push_back(std::move(run));
    run_small_task(autoencoder, labelled, data, options, seed, runs);
  }

  Report report;
  report.title = "Unsupervised pretraining: an autoencoder's encoder for " +
                 std::to_string(labelled.size()) + " labelled images";
  report.table = small_task_table(runs, "an autoencoder", labelled.size());

  ChartPanel autoencoder_loss{"Autoencoder: reconstruction loss", "epoch",
                              "binary cross-entropy per pixel"};
  autoencoder_loss.integer_x = true;
  autoencoder_loss.key = "top right";
  autoencoder_loss.curves.push_back(mean_curve("training", autoencoders, "loss"));
  autoencoder_loss.curves.push_back(mean_curve("validation", autoencoders, "val_loss"));
  report.panels = {autoencoder_loss, small_task_panel(runs)};

  report.notes = {
      over_seeds(options) + " from " + std::to_string(options.seed_of(0)) +
          "; each seed trains its own autoencoder and classifiers (the from-scratch one starts "
          "from the autoencoder's initial lower layers). Test accuracy over the 10,000 test "
          "images; val accuracy over the 5,000 validation images, per epoch.",
      "The autoencoder (encoder Dense 300-100 elu, decoder Dense(784, sigmoid), binary "
      "cross-entropy on the pixels, Adam) learned from the " +
          grouped(unlabelled) + " training images within --limit, without labels, for " +
          std::to_string(options.epochs) + " epoch(s): final val loss " +
          mean_spread(last(autoencoders, "val_loss")) + ".",
      classifiers_note(options, labelled.size(), "encoder"),
      "The chapter: with plenty of unlabelled and few labelled data, pretraining on the "
      "unlabelled data and fine-tuning on the labelled ones helps. Read the per-seed count and "
      "the spread before believing a difference.",
  };
  add_few_labels_note(labelled.size(), report);
  return report;
}

}  // namespace dagrad::tools::experiments
