#include "plot.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <vector>

#include "dagrad/graph/errors.hpp"
#include "files.hpp"
#include "gnuplot.hpp"

namespace dagrad::tools {

namespace {

namespace fs = std::filesystem;
using gnuplot::Format;
using gnuplot::number;
using gnuplot::quoted;

// Colours of matplotlib's default cycle, which report readers know: training blue, validation
// orange, the learning rate green.
constexpr const char* kTrainingColor = "#1f77b4";
constexpr const char* kValidationColor = "#ff7f0e";
constexpr const char* kRateColor = "#2ca02c";
// Above this many epochs the point markers would merge into a thick line.
constexpr std::size_t kMaxEpochsWithPoints = 40;

struct Series {
  std::string label;
  bool validation = false;
  // (epoch, value) rows; a NaN value marks where a run of non-finite values was left out.
  std::vector<std::pair<double, double>> rows;
  std::size_t finite = 0;
};

struct Panel {
  std::string base;  // "loss", "accuracy", "lr"
  std::vector<Series> series;
  bool rate = false;
  bool log_y = false;
  double y_low = 0, y_high = 0;
  std::vector<double> log_tics;  // 1, 2, 5 per decade when the axis spans under 3 decades
  std::size_t left_out = 0;      // non-finite values not drawn
  std::string key_corner = "top right";
};

struct Chart {
  std::vector<Panel> panels;
  std::size_t epochs = 0;
  double x_low = 0, x_high = 0, x_step = 1;
  int columns = 1, rows = 1, width = 0, height = 0;
};

[[noreturn]] void fail(const std::string& path, const std::string& why) {
  throw FileError("cannot draw learning curves '" + path + "': " + why);
}

bool is_rate(const std::string& base) {
  return base == "lr" || base == "learning_rate";
}

std::string words(std::string name) {
  if (is_rate(name)) return "learning rate";
  std::replace(name.begin(), name.end(), '_', ' ');
  return name;
}

std::string capitalized(std::string text) {
  if (!text.empty() && text[0] >= 'a' && text[0] <= 'z') text[0] = static_cast<char>(text[0] - 32);
  return text;
}

// The x step of the epoch tics: 1, 2, 5, 10, 20, 50, ... whichever gives at most 10 tics.
double epoch_step(double span) {
  for (double decade = 1;; decade *= 10)
    for (double m : {1.0, 2.0, 5.0})
      if (span / (m * decade) <= 10) return m * decade;
}

// The corner of the plot area the curves cross least, for the legend: the fraction of sampled
// curve points in a box of the legend's size (about 45% x 22% of a panel) at each corner, the
// first corner listed winning ties.
std::string emptiest_corner(const Panel& panel, double x_low, double x_high) {
  struct Corner {
    const char* name;
    bool right, top;
  };
  constexpr Corner corners[] = {{"top right", true, true},
                                {"bottom right", true, false},
                                {"top left", false, true},
                                {"bottom left", false, false}};
  auto to_unit = [&](double v, double low, double high, bool log) {
    return log ? (std::log10(v) - std::log10(low)) / (std::log10(high) - std::log10(low))
               : (v - low) / (high - low);
  };
  std::vector<std::pair<double, double>> samples;  // in [0, 1]^2
  for (const Series& s : panel.series)
    for (std::size_t i = 0; i < s.rows.size(); ++i) {
      auto [x, y] = s.rows[i];
      if (std::isnan(y)) continue;
      double u = to_unit(x, x_low, x_high, false),
             v = to_unit(y, panel.y_low, panel.y_high, panel.log_y);
      samples.emplace_back(u, v);
      if (i + 1 < s.rows.size() && !std::isnan(s.rows[i + 1].second)) {
        double u1 = to_unit(s.rows[i + 1].first, x_low, x_high, false);
        double v1 = to_unit(s.rows[i + 1].second, panel.y_low, panel.y_high, panel.log_y);
        for (int k = 1; k < 24; ++k) {
          double t = k / 24.0;
          samples.emplace_back(u + t * (u1 - u), v + t * (v1 - v));
        }
      }
    }
  const char* best = corners[0].name;
  std::size_t best_count = SIZE_MAX;
  for (const Corner& c : corners) {
    std::size_t count = std::count_if(samples.begin(), samples.end(), [&](const auto& p) {
      bool in_x = c.right ? p.first >= 0.55 : p.first <= 0.45;
      bool in_y = c.top ? p.second >= 0.78 : p.second <= 0.22;
      return in_x && in_y;
    });
    if (count < best_count) best = c.name, best_count = count;
  }
  return best;
}

Chart layout(const nn::History& history, const std::string& path) {
  Chart chart;
  // Keys in first-seen order, then any only in the map (a History built by hand).
  std::vector<std::string> keys = history.keys;
  for (const auto& [key, values] : history.history)
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
  std::size_t n = history.epochs.size();
  if (n == 0)
    for (const auto& [key, values] : history.history) n = std::max(n, values.size());
  if (n == 0) fail(path, "the history has no epochs");
  chart.epochs = n;
  auto x_of = [&](std::size_t i) {
    return history.epochs.empty() ? static_cast<double>(i + 1) : history.epochs[i] + 1.0;
  };

  for (const std::string& key : keys) {
    auto found = history.history.find(key);
    if (found == history.history.end()) continue;
    const std::vector<double>& values = found->second;
    if (values.size() > n)
      fail(path, "'" + key + "' has " + std::to_string(values.size()) + " values for " +
                     std::to_string(n) + " epochs");
    bool validation = key.rfind("val_", 0) == 0;
    std::string base = validation ? key.substr(4) : key;
    auto panel = std::find_if(chart.panels.begin(), chart.panels.end(),
                              [&](const Panel& p) { return p.base == base; });
    if (panel == chart.panels.end()) {
      panel = chart.panels.insert(chart.panels.end(), Panel{});
      panel->base = base;
      panel->rate = is_rate(base);
    }
    Series series;
    series.validation = validation;
    // The panel's title names the quantity; the legend names the data it was measured on.
    series.label = is_rate(base) && !validation ? words(base)
                   : validation                 ? "validation"
                                                : "training";
    // A key that appeared after the first epoch (a callback added it) belongs to the last ones.
    std::size_t offset = n - values.size();
    bool gap = false;
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (std::isfinite(values[i])) {
        series.rows.emplace_back(x_of(offset + i), values[i]);
        ++series.finite;
        gap = false;
      } else if (!gap && series.finite > 0) {
        series.rows.emplace_back(x_of(offset + i), std::nan(""));
        gap = true;
      }
    }
    panel->left_out += values.size() - series.finite;
    if (series.finite > 0) panel->series.push_back(std::move(series));
  }
  std::erase_if(chart.panels, [](const Panel& p) { return p.series.empty(); });
  if (chart.panels.empty()) fail(path, "no finite values in the history");
  // Loss first, the learning rate last, the metrics between in the order they were logged.
  std::stable_sort(chart.panels.begin(), chart.panels.end(), [](const Panel& a, const Panel& b) {
    auto rank = [](const Panel& p) { return p.base == "loss" ? 0 : p.rate ? 2 : 1; };
    return rank(a) < rank(b);
  });

  for (Panel& panel : chart.panels) {
    double low = INFINITY, high = -INFINITY;
    for (const Series& s : panel.series)
      for (const auto& [x, y] : s.rows)
        if (std::isfinite(y)) low = std::min(low, y), high = std::max(high, y);
    panel.log_y = panel.rate && low > 0 && high / low >= 10;
    if (panel.log_y) {
      double a = std::log10(low), b = std::log10(high), pad = 0.06 * (b - a);
      panel.y_low = std::pow(10.0, a - pad);
      panel.y_high = std::pow(10.0, b + pad);
      // gnuplot labels only the decades, which leaves one or two labels on a short axis.
      if (b - a < 3)
        for (double k = std::floor(a); k <= b; ++k)
          for (double m : {1.0, 2.0, 5.0})
            if (double tic = m * std::pow(10.0, k); tic >= panel.y_low && tic <= panel.y_high)
              panel.log_tics.push_back(tic);
    } else {
      // At least 5% of the values' magnitude: otherwise one epoch, or a flat curve, would
      // stretch differences in the last digits over the whole panel.
      double span = high - low;
      double magnitude = std::max(std::abs(low), std::abs(high));
      double least = magnitude > 0 ? 0.05 * magnitude : 1.0;
      if (span < least) {
        low -= (least - span) / 2;
        high += (least - span) / 2;
        span = least;
      }
      panel.y_low = low - 0.06 * span;
      panel.y_high = high + 0.06 * span;
    }
    // Values near the largest double: padding would overflow to inf, which gnuplot rejects.
    if (!std::isfinite(panel.y_low) || !std::isfinite(panel.y_high)) {
      panel.y_low = low;
      panel.y_high = high;
    }
  }

  double first = INFINITY, last = -INFINITY;
  for (std::size_t i = 0; i < n; ++i)
    first = std::min(first, x_of(i)), last = std::max(last, x_of(i));
  double span = last - first;
  chart.x_step = epoch_step(span);
  double pad = span > 0 ? std::max(0.25, 0.03 * span) : 0.5;
  chart.x_low = first - pad;
  chart.x_high = last + pad;

  for (Panel& panel : chart.panels)
    panel.key_corner = emptiest_corner(panel, chart.x_low, chart.x_high);

  int count = static_cast<int>(chart.panels.size());
  chart.columns = count <= 3 ? count : static_cast<int>(std::ceil(std::sqrt(count)));
  chart.rows = (count + chart.columns - 1) / chart.columns;
  chart.width = count == 1 ? 700 : 500 * chart.columns;
  chart.height = 450 * chart.rows;
  return chart;
}

std::string script(const Chart& chart, const std::string& title, Format format) {
  std::ostringstream os;
  os << "set encoding utf8\n";
  // noenhanced: names like val_loss or a title with ^ _ { } are text, not markup.
  os << gnuplot::terminal(format, chart.width, chart.height);
  // Data inline as datablocks: no temporary files.
  int block = 0;
  for (const Panel& panel : chart.panels)
    for (const Series& series : panel.series) {
      os << "$d" << block++ << " << EOD\n";
      for (const auto& [x, y] : series.rows) {
        if (std::isnan(y))
          os << "\n";  // one blank line: the line breaks here
        else
          os << number(x) << " " << number(y) << "\n";
      }
      os << "EOD\n";
    }
  os << "set style line 100 lc rgb '#d9d9d9' lw 1 dt 1\n"
     << "set grid xtics ytics ls 100\n"
     << "set border 3 lc rgb '#404040' lw 1\n"
     << "set tics nomirror out scale 0.6 textcolor rgb '#202020'\n"
     << "set xtics " << number(chart.x_step) << "\n"
     << "set format y '%g'\n"
     // Fixed margins (in characters) align the panels' axes whatever their tic labels.
     << "set lmargin 11\nset rmargin 3\nset tmargin 3\nset bmargin 4\n"
     << "set xlabel 'epoch'\n"
     << "set xrange [" << number(chart.x_low) << ":" << number(chart.x_high) << "]\n"
     << "set multiplot layout " << chart.rows << "," << chart.columns;
  if (!title.empty()) os << " title " << quoted(title) << " font ',14'";
  os << "\n";
  const bool points = chart.epochs <= kMaxEpochsWithPoints;
  block = 0;
  for (const Panel& panel : chart.panels) {
    std::string panel_title = capitalized(words(panel.base));
    if (panel.left_out > 0)
      panel_title += " (" + std::to_string(panel.left_out) + " non-finite value" +
                     (panel.left_out == 1 ? "" : "s") + " left out)";
    os << "set title " << quoted(panel_title) << " font ',12'\n"
       << "set ylabel " << quoted(words(panel.base)) << "\n"
       << (panel.log_y ? "set logscale y\n" : "unset logscale y\n");
    if (panel.log_tics.empty()) {
      os << "set ytics autofreq\n";
    } else {
      os << "set ytics (";
      for (std::size_t i = 0; i < panel.log_tics.size(); ++i)
        os << (i ? ", " : "") << number(panel.log_tics[i]);
      os << ")\n";
    }
    os << "set yrange [" << number(panel.y_low) << ":" << number(panel.y_high) << "]\n"
       << (panel.rate && panel.series.size() == 1
               ? "unset key\n"
               : "set key inside " + panel.key_corner +
                     " vertical Left reverse opaque box lc rgb '#bfbfbf' samplen 3 spacing 1.1 "
                     "width 1 height 0.5\n")
       << "plot ";
    for (std::size_t i = 0; i < panel.series.size(); ++i) {
      const Series& s = panel.series[i];
      const char* color = s.validation ? kValidationColor
                          : panel.rate ? kRateColor
                                       : kTrainingColor;
      os << (i ? ", " : "") << "$d" << block++ << " using 1:2 with "
         << (points ? "linespoints" : "lines") << " lc rgb '" << color << "' lw 2 dt "
         << (s.validation ? "(10,6)" : "1");
      if (points) os << " pt " << (s.validation ? 6 : 7) << " ps 0.8";
      os << " title " << quoted(s.label);
    }
    os << "\n";
  }
  os << "unset multiplot\nunset output\n";
  return os.str();
}

}  // namespace

LearningCurveFiles plot_learning_curves(const nn::History& history, const std::string& path_png,
                                        const std::string& title, double timeout_seconds) {
  const std::string what = "learning curves";
  LearningCurveFiles files{path_png, gnuplot::svg_beside(path_png, what, timeout_seconds)};
  Chart chart = layout(history, files.png);
  auto deadline = gnuplot::deadline_after(timeout_seconds);
  // Both images exist before either file is touched.
  std::string png = gnuplot::render(script(chart, title, Format::png), Format::png, what, files.png,
                                    deadline, timeout_seconds);
  std::string svg = gnuplot::render(script(chart, title, Format::svg), Format::svg, what, files.svg,
                                    deadline, timeout_seconds);
  write_files_atomically({{files.png, png}, {files.svg, svg}}, "draw " + what);
  return files;
}

}  // namespace dagrad::tools
