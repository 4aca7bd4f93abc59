#include "experiment.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <stdexcept>

namespace dagrad::tools::experiments {

void Table::add(std::vector<std::string> row) {
  if (row.size() != header_.size())
    throw std::invalid_argument("Table::add: a row of " + std::to_string(row.size()) +
                                " cells for " + std::to_string(header_.size()) + " columns");
  rows_.push_back(std::move(row));
}

namespace {

// Numbers ("0.85", "-3e-05", "0.8512 ± 0.0031", "12.5%") are right-aligned.
bool numeric(const std::string& cell) {
  return !cell.empty() && (std::isdigit(static_cast<unsigned char>(cell[0])) ||
                           ((cell[0] == '-' || cell[0] == '+') && cell.size() > 1) ||
                           cell == "nan" || cell == "inf");
}

// Display width: UTF-8 continuation bytes take no column.
std::size_t width(const std::string& s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

}  // namespace

std::string Table::text() const {
  std::vector<std::size_t> w(header_.size());
  for (std::size_t c = 0; c < header_.size(); ++c) {
    w[c] = width(header_[c]);
    for (const auto& row : rows_) w[c] = std::max(w[c], width(row[c]));
  }
  std::ostringstream os;
  auto line = [&](const std::vector<std::string>& cells, bool head) {
    std::string out;
    for (std::size_t c = 0; c < cells.size(); ++c) {
      std::string pad(w[c] - width(cells[c]), ' ');
      bool right = !head && c > 0 && numeric(cells[c]);
      out +=
          (c ? "  " : "") + (right ? pad + cells[c] : cells[c] + (c + 1 < cells.size() ? pad : ""));
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    os << out << "\n";
  };
  line(header_, true);
  std::size_t total = 0;
  for (std::size_t c = 0; c < w.size(); ++c) total += w[c] + (c ? 2 : 0);
  os << std::string(total, '-') << "\n";
  for (const auto& row : rows_) line(row, false);
  return os.str();
}

std::string Table::markdown() const {
  std::ostringstream os;
  auto escape = [](std::string s) {
    std::string out;
    for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
    return out;
  };
  os << "|";
  for (const auto& h : header_) os << " " << escape(h) << " |";
  os << "\n|";
  for (std::size_t c = 0; c < header_.size(); ++c) os << (c == 0 ? "---|" : "---:|");
  os << "\n";
  for (const auto& row : rows_) {
    os << "|";
    for (const auto& cell : row) os << " " << escape(cell) << " |";
    os << "\n";
  }
  return os.str();
}

std::string Table::csv() const {
  std::ostringstream os;
  auto put = [&](const std::vector<std::string>& cells) {
    for (std::size_t c = 0; c < cells.size(); ++c) {
      const std::string& s = cells[c];
      bool quote = s.find_first_of(",\"\n\r") != std::string::npos;
      std::string out = s;
      if (quote) {
        out.clear();
        for (char ch : s) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
        out = "\"" + out + "\"";
      }
      os << (c ? "," : "") << out;
    }
    os << "\n";
  };
  put(header_);
  for (const auto& row : rows_) put(row);
  return os.str();
}

std::string fixed(double value, int digits) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return buffer;
}

std::string general(double value, int significant) {
  if (!std::isfinite(value)) return fixed(value);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*g", significant, value);
  return buffer;
}

std::string mean_spread_general(const std::vector<double>& values, int significant) {
  for (double v : values)
    if (!std::isfinite(v)) return "nan";
  Spread s = spread(values);
  if (values.size() < 2 || s.stddev == 0) return general(s.mean, significant);
  return general(s.mean, significant) + " ± " + general(s.stddev, significant);
}

std::string over_seeds(const Options& options) {
  return "Mean ± standard deviation over " + std::to_string(options.seeds) + " seed" +
         (options.seeds == 1 ? "" : "s");
}

Spread spread(const std::vector<double>& values) {
  Spread s;
  if (values.empty()) return s;
  double sum = 0;
  for (double v : values) sum += v;
  s.mean = sum / static_cast<double>(values.size());
  if (values.size() > 1) {
    double squares = 0;
    for (double v : values) squares += (v - s.mean) * (v - s.mean);
    s.stddev = std::sqrt(squares / static_cast<double>(values.size() - 1));
  }
  return s;
}

std::string mean_spread(const std::vector<double>& values, int digits) {
  for (double v : values)
    if (!std::isfinite(v)) return "nan";
  Spread s = spread(values);
  if (values.size() < 2) return fixed(s.mean, digits);
  return fixed(s.mean, digits) + " ± " + fixed(s.stddev, digits);
}

std::unique_ptr<nn::Sequential> build(const nn::ModelSpec& spec, std::uint64_t seed,
                                      const nn::FashionMnist& data) {
  std::unique_ptr<nn::Sequential> model = nn::make_model(spec, std::make_shared<nn::Backend>(seed));
  if (spec.standardize)
    for (const nn::LayerPtr& l : model->layers())
      if (auto norm = std::dynamic_pointer_cast<nn::NormalizationLayer>(l))
        norm->adapt(data.x_train);
  return model;
}

Run train(nn::Model& model, optim::OptimizerPtr optimizer, const nn::FashionMnist& data,
          const Options& options, std::uint64_t seed, const TrainSettings& settings) {
  auto start = std::chrono::steady_clock::now();
  model.compile(std::move(optimizer), "sparse_categorical_crossentropy", {"accuracy"});
  std::ostream& log = options.log ? *options.log : std::cerr;
  nn::FitOptions fit;
  fit.epochs = options.epochs;
  fit.batch_size = settings.batch_size;
  fit.verbose = options.verbose >= 2 ? 2 : 0;
  fit.out = &log;
  fit.validation_x = data.x_valid;
  fit.validation_y = data.y_valid;
  fit.seed = seed;
  fit.callbacks = settings.callbacks;
  Run run;
  run.history = model.fit(data.x_train, data.y_train, fit);
  nn::Logs test = model.evaluate(data.x_test, data.y_test, 256);
  run.test_loss = test.at("loss");
  run.test_accuracy = test.at("accuracy");
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (options.verbose >= 1)
    log << "  " << (settings.label.empty() ? model.name() : settings.label) << ", seed " << seed
        << ": test accuracy " << fixed(run.test_accuracy) << ", val_loss "
        << fixed(run.history["val_loss"].back()) << " (" << fixed(run.seconds, 1) << " s)\n"
        << std::flush;
  return run;
}

Curve mean_curve(const std::string& label, const std::vector<Run>& runs, const std::string& key) {
  Curve c;
  c.label = label;
  std::size_t epochs = 0;
  for (const Run& r : runs) epochs = std::max(epochs, r.history[key].size());
  for (std::size_t e = 0; e < epochs; ++e) {
    std::vector<double> values;
    for (const Run& r : runs)
      if (e < r.history[key].size()) values.push_back(r.history[key][e]);
    Spread s = spread(values);
    bool finite =
        std::all_of(values.begin(), values.end(), [](double v) { return std::isfinite(v); });
    c.x.push_back(static_cast<double>(e + 1));
    c.y.push_back(finite ? s.mean : NAN);
    c.spread.push_back(finite ? s.stddev : 0.0);
  }
  if (runs.size() < 2) c.spread.clear();
  return c;
}

std::vector<double> last(const std::vector<Run>& runs, const std::string& key) {
  std::vector<double> out;
  for (const Run& r : runs) out.push_back(r.history[key].back());
  return out;
}

std::vector<double> test_accuracies(const std::vector<Run>& runs) {
  std::vector<double> out;
  for (const Run& r : runs) out.push_back(r.test_accuracy);
  return out;
}

Tensor gather(const Tensor& x, const std::vector<std::int64_t>& indices) {
  if (!x.defined() || x.shape().rank() < 1) throw std::out_of_range("gather: x has no rows");
  const std::int64_t n = x.shape()[0];
  Shape shape = x.shape();
  shape[0] = static_cast<std::int64_t>(indices.size());
  Tensor out(x.dtype(), shape);
  const std::size_t row = n == 0 ? 0 : x.nbytes() / static_cast<std::size_t>(n);
  const auto* in = static_cast<const std::byte*>(x.raw());
  auto* o = static_cast<std::byte*>(out.raw());
  for (std::size_t i = 0; i < indices.size(); ++i) {
    std::int64_t r = indices[i];
    if (r < 0 || r >= n)
      throw std::out_of_range("gather: row " + std::to_string(r) + " of a tensor of " +
                              std::to_string(n) + " rows");
    std::copy_n(in + static_cast<std::size_t>(r) * row, row, o + i * row);
  }
  return out;
}

Tensor take_rows(const Tensor& x, std::int64_t begin, std::int64_t end) {
  const std::int64_t n = x.defined() && x.shape().rank() >= 1 ? x.shape()[0] : 0;
  if (begin < 0 || end < begin || end > n)
    throw std::out_of_range("take_rows: rows [" + std::to_string(begin) + ", " +
                            std::to_string(end) + ") of a tensor of " + std::to_string(n) +
                            " rows");
  std::vector<std::int64_t> indices(static_cast<std::size_t>(end - begin));
  for (std::size_t i = 0; i < indices.size(); ++i)
    indices[i] = begin + static_cast<std::int64_t>(i);
  return gather(x, indices);
}

double accuracy(const Tensor& probabilities, const Tensor& labels) {
  const std::int64_t n = probabilities.shape()[0], classes = probabilities.shape()[1];
  if (n == 0) return 0;
  const float* p = probabilities.data<float>();
  std::int64_t right = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const float* row = p + i * classes;
    auto best = std::max_element(row, row + classes) - row;
    right += static_cast<double>(best) == labels.value_as_double(i);
  }
  return static_cast<double>(right) / static_cast<double>(n);
}

}  // namespace dagrad::tools::experiments
