// Learning curves of a fit (the History's per-epoch "loss", "accuracy", "val_loss", ...) drawn
// by gnuplot (Debian's gnuplot-nox) in a child process, as PNG and SVG.
#pragma once

#include <string>

#include "dagrad/nn/training.hpp"

namespace dagrad::tools {

struct LearningCurveFiles {
  std::string png;
  std::string svg;
};

// Draws one panel per quantity, side by side: "loss" first, then each metric ("accuracy", ...),
// then the learning rate when "lr" was logged (log scale when it spans a factor of 10 or more).
// Epochs are on x, 1-based as Keras prints them; training is a solid line, validation ("val_"
// keys) a dashed one, with points; non-finite values are left out (the line breaks there).
// Writes `path_png` (must end in .png) and the SVG beside it (.svg), each to a temporary sibling
// renamed over the target, so a failed plot leaves older pictures intact. Throws FileError
// naming the file when the history holds nothing finite to draw or a key has more values than
// there are epochs, when gnuplot is missing, fails or runs longer than `timeout_seconds` (in
// (0, 1e6]) for both pictures together, or when a file cannot be written.
LearningCurveFiles plot_learning_curves(const nn::History& history, const std::string& path_png,
                                        const std::string& title, double timeout_seconds = 30.0);

}  // namespace dagrad::tools
