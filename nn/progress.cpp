// Keras's progress bar: the same text as tf.keras's Progbar (width 30, "steps" mode).
#include "nn/progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>

namespace dagrad::nn::detail {

namespace {
std::string format(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}
}  // namespace

bool is_terminal(const std::ostream& out) { return &out == &std::cout && ::isatty(STDOUT_FILENO) == 1; }

ProgressBar::ProgressBar(std::ostream& out, std::int64_t target_steps, int verbose, bool dynamic)
    : out_(out), target_(target_steps), verbose_(verbose), dynamic_(dynamic), start_(std::chrono::steady_clock::now()) {}

double ProgressBar::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string ProgressBar::bar(std::int64_t current, std::int64_t target, int width) {
  std::string digits = std::to_string(target);
  std::string count = std::to_string(current);
  std::string s = std::string(digits.size() > count.size() ? digits.size() - count.size() : 0, ' ') + count + "/" +
                  digits + " [";
  int prog_width = target > 0 ? static_cast<int>(width * static_cast<double>(current) / static_cast<double>(target)) : width;
  if (prog_width > 0) {
    s += std::string(static_cast<std::size_t>(prog_width - 1), '=');
    s += current < target ? '>' : '=';
  }
  s += std::string(static_cast<std::size_t>(std::max(0, width - prog_width)), '.');
  return s + "]";
}

std::string ProgressBar::metrics(const Logs& logs) {
  std::string s;
  for (const auto& [name, v] : logs.items())
    s += " - " + name + ": " + (std::abs(v) > 1e-3 ? format("%.4f", v) : format("%.4e", v));
  return s;
}

std::string ProgressBar::per_step(double t) {
  if (t >= 1) return format("%.0fs/step", t);
  if (t >= 1e-3) return format("%.0fms/step", t * 1e3);
  return format("%.0fus/step", t * 1e6);
}

std::string ProgressBar::eta(double seconds) {
  auto s = static_cast<long>(seconds);
  char buf[32];
  if (s > 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s % 3600) / 60, s % 60);
  else if (s > 60) std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%lds", s);
  return buf;
}

void ProgressBar::update(std::int64_t step, const Logs& logs) {
  current_ = step;
  if (verbose_ != 1 || !dynamic_ || step >= target_) return;
  double now = elapsed();
  if (last_draw_ >= 0 && now - last_draw_ < 0.05) return;  // Keras redraws at most every 50 ms
  last_draw_ = now;
  double remaining = step > 0 ? now / static_cast<double>(step) * static_cast<double>(target_ - step) : 0.0;
  std::string line = bar(step, target_) + " - ETA: " + eta(remaining) + metrics(logs);
  std::size_t width = line.size();
  if (width < last_width_) line += std::string(last_width_ - width, ' ');
  last_width_ = width;
  out_ << '\r' << line << std::flush;
}

void ProgressBar::finish(const Logs& logs) {
  if (verbose_ == 0) return;
  double total = elapsed();
  double per = current_ > 0 ? total / static_cast<double>(current_) : 0.0;
  std::string line;
  if (verbose_ == 1) {
    line = bar(current_, target_) + " - " + format("%.0fs", total) + " " + per_step(per) + metrics(logs);
  } else {
    line = std::to_string(current_) + "/" + std::to_string(target_) + " - " + format("%.0fs", total) + metrics(logs) +
           " - " + format("%.0fs/epoch", total) + " - " + per_step(per);
  }
  if (dynamic_ && verbose_ == 1) {
    if (line.size() < last_width_) line += std::string(last_width_ - line.size(), ' ');
    out_ << '\r';
  }
  out_ << line << "\n" << std::flush;
}

}  // namespace dagrad::nn::detail
