#include "layer_reuse.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iostream>
#include <limits>
#include <stdexcept>

namespace dagrad::tools::experiments {

namespace {

void check_labels(const Tensor& labels, const char* what) {
  if (!labels.defined() || labels.dtype() != DType::int32 || labels.shape().rank() != 1)
    throw std::invalid_argument(std::string(what) + ": labels must be int32 of shape (n,), given " +
                                (labels.defined() ? std::string(dtype_name(labels.dtype())) + " " +
                                                        labels.shape().to_string()
                                                  : std::string("an undefined tensor")));
}

}  // namespace

std::vector<std::int64_t> rows_where(const Tensor& labels,
                                     const std::function<bool(std::int32_t)>& keep) {
  check_labels(labels, "rows_where");
  std::vector<std::int64_t> rows;
  const std::int32_t* p = labels.data<std::int32_t>();
  for (std::int64_t i = 0; i < labels.size(); ++i)
    if (keep(p[i])) rows.push_back(i);
  return rows;
}

Tensor take_rows(const Tensor& x, const std::vector<std::int64_t>& rows) {
  if (!x.defined() || x.shape().rank() < 1)
    throw std::invalid_argument("take_rows: a tensor of rank >= 1 is needed");
  std::vector<std::int64_t> dims = x.shape().dims();
  std::int64_t n = dims[0];
  dims[0] = static_cast<std::int64_t>(rows.size());
  Tensor out(x.dtype(), Shape(dims));
  std::size_t row_bytes = n > 0 ? x.nbytes() / static_cast<std::size_t>(n) : 0;
  const auto* from = static_cast<const std::byte*>(x.raw());
  auto* to = static_cast<std::byte*>(out.raw());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (rows[i] < 0 || rows[i] >= n)
      throw std::out_of_range("take_rows: row " + std::to_string(rows[i]) + " of a tensor of " +
                              std::to_string(n) + " rows");
    std::memcpy(to + i * row_bytes, from + static_cast<std::size_t>(rows[i]) * row_bytes,
                row_bytes);
  }
  return out;
}

Subset select(const Tensor& x, const Tensor& labels, const std::function<bool(std::int32_t)>& keep,
              std::int64_t count) {
  std::vector<std::int64_t> rows = rows_where(labels, keep);
  if (count >= 0 && static_cast<std::int64_t>(rows.size()) > count)
    rows.resize(static_cast<std::size_t>(count));
  return {take_rows(x, rows), take_rows(labels, rows)};
}

Tensor remap_labels(const Tensor& labels, const std::vector<std::int32_t>& new_label_of) {
  check_labels(labels, "remap_labels");
  Tensor out(DType::int32, labels.shape());
  const std::int32_t* in = labels.data<std::int32_t>();
  std::int32_t* p = out.data<std::int32_t>();
  for (std::int64_t i = 0; i < labels.size(); ++i) {
    std::int32_t old = in[i];
    if (old < 0 || static_cast<std::size_t>(old) >= new_label_of.size() ||
        new_label_of[static_cast<std::size_t>(old)] < 0)
      throw std::invalid_argument("remap_labels: label " + std::to_string(old) + " at row " +
                                  std::to_string(i) + " has no new label");
    p[i] = new_label_of[static_cast<std::size_t>(old)];
  }
  return out;
}

Tensor as_column(const Tensor& labels) {
  if (!labels.defined() || labels.shape().rank() != 1)
    throw std::invalid_argument("as_column: labels of shape (n,) are needed");
  Tensor out(DType::float32, Shape{labels.shape()[0], 1});
  float* p = out.data<float>();
  for (std::int64_t i = 0; i < labels.size(); ++i)
    p[i] = static_cast<float>(labels.value_as_double(i));
  return out;
}

Tensor flatten_images(const Tensor& images) {
  if (!images.defined() || images.dtype() != DType::float32 || images.shape().rank() != 3)
    throw std::invalid_argument("flatten_images: float32 images (n, h, w) are needed");
  Tensor out(DType::float32, Shape{images.shape()[0], images.shape()[1] * images.shape()[2]});
  std::memcpy(out.raw(), images.raw(), images.nbytes());
  return out;
}

std::unique_ptr<nn::Sequential> reuse_lower_layers(const nn::Model& source, nn::LayerPtr head,
                                                   std::size_t drop) {
  std::unique_ptr<nn::Model> copy = nn::clone_model(source);
  copy->set_weights(source.get_weights());
  const std::vector<nn::LayerPtr>& layers = copy->layers();
  if (drop > layers.size())
    throw std::invalid_argument("reuse_lower_layers: cannot drop " + std::to_string(drop) + " of " +
                                std::to_string(layers.size()) + " layers");
  std::vector<nn::LayerPtr> reused(layers.begin(),
                                   layers.end() - static_cast<std::ptrdiff_t>(drop));
  reused.push_back(std::move(head));
  // The layers keep the clone's backend alive; the clone itself is not needed any more.
  return std::make_unique<nn::Sequential>(std::move(reused));
}

void set_lower_layers_trainable(nn::Model& model, bool trainable) {
  const std::vector<nn::LayerPtr>& layers = model.layers();
  for (std::size_t i = 0; i + 1 < layers.size(); ++i) layers[i]->set_trainable(trainable);
}

void append(nn::History& into, const nn::History& more) {
  std::size_t before = into.epochs.size();
  into.epochs.insert(into.epochs.end(), more.epochs.begin(), more.epochs.end());
  for (const std::string& key : more.keys) {
    if (!into.history.count(key)) {
      into.keys.push_back(key);
      // Earlier epochs without this key: NaN, so that every key has one value per epoch.
      into.history[key].assign(before, std::numeric_limits<double>::quiet_NaN());
    }
    const std::vector<double>& values = more.history.at(key);
    into.history[key].insert(into.history[key].end(), values.begin(), values.end());
  }
}

void fit_phase(nn::Model& model, const Phase& phase, const nn::Loss& loss,
               const std::vector<std::string>& metrics, const Subset& train, const Subset& valid,
               int first_epoch, std::uint64_t seed, const Options& options, nn::History& history) {
  if (phase.epochs <= 0) return;
  model.compile(phase.optimizer, loss, metrics);
  nn::FitOptions fit;
  fit.initial_epoch = first_epoch;
  fit.epochs = first_epoch + phase.epochs;
  fit.verbose = options.verbose >= 2 ? 2 : 0;
  fit.out = options.log ? options.log : &std::cerr;
  fit.validation_x = valid.x;
  fit.validation_y = valid.y;
  fit.seed = seed;
  append(history, model.fit(train.x, train.y, fit));
}

void log_run(const Options& options, const std::string& label, std::uint64_t seed,
             const std::string& what, double seconds) {
  if (options.verbose < 1) return;
  std::ostream& log = options.log ? *options.log : std::cerr;
  log << "  " << label << ", seed " << seed << ": " << what << " (" << fixed(seconds, 1) << " s)\n"
      << std::flush;
}

std::string percent_spread(const std::vector<double>& fractions, int digits) {
  for (double v : fractions)
    if (!std::isfinite(v)) return "nan";
  Spread s = spread(fractions);
  std::string mean = fixed(100 * s.mean, digits) + "%";
  if (fractions.size() < 2) return mean;
  return mean + " ± " + fixed(100 * s.stddev, digits) + "%";
}

std::string grouped(std::int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out = n < 0 ? "-" : "";
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string compare_per_seed(const std::vector<double>& a, const std::vector<double>& b) {
  std::size_t n = std::min(a.size(), b.size()), better = 0, worse = 0;
  for (std::size_t i = 0; i < n; ++i) {
    better += a[i] > b[i] ? 1 : 0;
    worse += a[i] < b[i] ? 1 : 0;
  }
  return std::to_string(better) + " / " + std::to_string(n - better - worse) + " / " +
         std::to_string(worse);
}

}  // namespace dagrad::tools::experiments
