// Internal: Keras's progress bar (keras-semantics.md 10.6), for fit and evaluate.
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>

#include "dagrad/nn/training.hpp"

namespace dagrad::nn::detail {

class ProgressBar {
 public:
  // verbose 1: the bar (redrawn in place when `dynamic`, else only its final line); 2: one
  // summary line; 0: nothing.
  ProgressBar(std::ostream& out, std::int64_t target_steps, int verbose, bool dynamic);
  void update(std::int64_t step, const Logs& logs);  // after `step` of target steps
  void finish(const Logs& logs);                      // the epoch's (or evaluation's) final line

  // "1719/1719 [==============================]" for the current step.
  static std::string bar(std::int64_t current, std::int64_t target, int width = 30);
  // " - loss: 0.4918 - accuracy: 0.8340" (%.4f, or %.4e for |v| <= 1e-3).
  static std::string metrics(const Logs& logs);
  // "1ms/step", "834us/step", "2s/step".
  static std::string per_step(double seconds);
  // "5s", "1:05", "1:01:05".
  static std::string eta(double seconds);

 private:
  double elapsed() const;
  std::ostream& out_;
  std::int64_t target_;
  int verbose_;
  bool dynamic_;
  std::chrono::steady_clock::time_point start_;
  double last_draw_ = -1.0;
  std::size_t last_width_ = 0;
  std::int64_t current_ = 0;
};

// Whether `out` is standard output attached to a terminal.
bool is_terminal(const std::ostream& out);

}  // namespace dagrad::nn::detail
