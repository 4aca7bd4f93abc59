#include "chart.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "dagrad/graph/errors.hpp"
#include "files.hpp"
#include "gnuplot.hpp"

namespace dagrad::tools {

namespace {

using gnuplot::Format;
using gnuplot::number;
using gnuplot::quoted;

// matplotlib's default cycle (tab10), which report readers know.
constexpr const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                   "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
constexpr std::size_t kMaxPointsWithMarkers = 40;
const std::string kWhat = "chart";

[[noreturn]] void fail(const std::string& path, const std::string& why) {
  throw FileError("cannot draw " + kWhat + " '" + path + "': " + why);
}

struct Prepared {
  // Per curve: rows "x y low high", a blank line where a value was left out.
  std::vector<std::string> blocks;
  std::vector<bool> has_band, markers;
  std::size_t left_out = 0;
  bool any = false;
};

Prepared prepare(const ChartPanel& panel, const std::string& path) {
  Prepared p;
  for (const Curve& c : panel.curves) {
    if (c.x.size() != c.y.size() || (!c.spread.empty() && c.spread.size() != c.y.size()))
      fail(path, "curve '" + c.label + "' of panel '" + panel.title + "' has " +
                     std::to_string(c.x.size()) + " x, " + std::to_string(c.y.size()) + " y and " +
                     std::to_string(c.spread.size()) + " spread values");
    std::ostringstream os;
    bool gap = false, drawn = false;
    std::size_t points = 0;
    for (std::size_t i = 0; i < c.x.size(); ++i) {
      double x = c.x[i], y = c.y[i];
      double s = c.spread.empty() ? 0.0 : c.spread[i];
      double low = y - s, high = y + s;
      if (panel.log_y) low = std::max(low, y / 10);  // a band reaching 0 would leave the axis
      bool ok = std::isfinite(x) && std::isfinite(y) && std::isfinite(s) &&
                (!panel.log_x || x > 0) && (!panel.log_y || y > 0);
      if (!ok) {
        ++p.left_out;
        if (drawn && !gap) os << "\n";
        gap = true;
        continue;
      }
      os << number(x) << " " << number(y) << " " << number(low) << " " << number(high) << "\n";
      gap = false;
      drawn = true;
      ++points;
    }
    p.any |= drawn;
    p.blocks.push_back(os.str());
    p.has_band.push_back(!c.spread.empty());
    p.markers.push_back(points <= kMaxPointsWithMarkers);
  }
  return p;
}

// The first inside corner whose legend-sized box (40% of the width, a height growing with the
// curves) no curve crosses (sampled along each segment), else "outside": a legend never hides data.
std::string emptiest_corner(const ChartPanel& panel) {
  auto scaled = [](double v, bool log) { return log ? std::log10(v) : v; };
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  std::vector<std::vector<std::pair<double, double>>> lines;
  for (const Curve& c : panel.curves) {
    lines.emplace_back();
    for (std::size_t i = 0; i < c.x.size() && i < c.y.size(); ++i) {
      double x = c.x[i], y = c.y[i];
      if (!std::isfinite(x) || !std::isfinite(y) || (panel.log_x && x <= 0) ||
          (panel.log_y && y <= 0))
        continue;
      x = scaled(x, panel.log_x), y = scaled(y, panel.log_y);
      if (!std::isnan(panel.y_low)) y = std::max(y, scaled(panel.y_low, panel.log_y));
      if (!std::isnan(panel.y_high)) y = std::min(y, scaled(panel.y_high, panel.log_y));
      lines.back().emplace_back(x, y);
      x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
    }
  }
  if (!std::isfinite(x0)) return "outside";
  double sx = x1 > x0 ? x1 - x0 : 1, sy = y1 > y0 ? y1 - y0 : 1;
  double box_h = std::min(0.6, 0.08 + 0.065 * static_cast<double>(panel.curves.size()));
  struct Corner {
    const char* name;
    bool right, top;
  };
  constexpr Corner corners[] = {{"top right", true, true},
                                {"bottom right", true, false},
                                {"top left", false, true},
                                {"bottom left", false, false}};
  for (const Corner& corner : corners) {
    std::size_t count = 0;
    for (const auto& line : lines)
      for (std::size_t i = 0; i < line.size(); ++i) {
        int pieces = i + 1 < line.size() ? 16 : 1;
        for (int k = 0; k < pieces; ++k) {
          double t = k / 16.0;
          double x = line[i].first, y = line[i].second;
          if (k > 0) x += t * (line[i + 1].first - x), y += t * (line[i + 1].second - y);
          double u = (x - x0) / sx, v = (y - y0) / sy;
          bool in_x = corner.right ? u >= 0.6 : u <= 0.4;
          bool in_y = corner.top ? v >= 1 - box_h : v <= box_h;
          count += in_x && in_y;
        }
      }
    if (count == 0) return corner.name;
  }
  return "outside";
}

std::string script(const std::vector<ChartPanel>& panels, const std::vector<Prepared>& prepared,
                   const std::string& title, Format format, int columns, int rows) {
  std::ostringstream os;
  os << "set encoding utf8\n"
     << gnuplot::terminal(format, columns == 1 ? 760 : 560 * columns, 460 * rows);
  int block = 0;
  for (const Prepared& p : prepared)
    for (const std::string& rows_text : p.blocks)
      os << "$d" << block++ << " << EOD\n" << rows_text << "EOD\n";
  os << "set style line 100 lc rgb '#d9d9d9' lw 1 dt 1\n"
     << "set grid xtics ytics ls 100\n"
     << "set border 3 lc rgb '#404040' lw 1\n"
     << "set tics nomirror out scale 0.6 textcolor rgb '#202020'\n"
     << "set format y '%g'\nset format x '%g'\n"
     << "set lmargin 11\nset tmargin 3\nset bmargin 4\n"
     << "set offsets graph 0.02, graph 0.02, graph 0.06, graph 0.06\n"
     << "set multiplot layout " << rows << "," << columns;
  if (!title.empty()) os << " title " << quoted(title) << " font ',14'";
  os << "\n";
  block = 0;
  for (std::size_t k = 0; k < panels.size(); ++k) {
    const ChartPanel& panel = panels[k];
    const Prepared& p = prepared[k];
    std::string panel_title = panel.title;
    bool labelled = std::any_of(panel.curves.begin(), panel.curves.end(),
                                [](const Curve& c) { return !c.label.empty(); });
    if (p.left_out > 0)
      panel_title += " (" + std::to_string(p.left_out) + " non-finite value" +
                     (p.left_out == 1 ? "" : "s") + " left out)";
    const std::string key = panel.key == "auto" ? emptiest_corner(panel) : panel.key;
    os << "set title " << quoted(panel_title) << " font ',12'\n"
       << "set xlabel " << quoted(panel.x_label) << "\nset ylabel " << quoted(panel.y_label) << "\n"
       << (panel.log_x ? "set logscale x\n" : "unset logscale x\n")
       << (panel.log_y ? "set logscale y\n" : "unset logscale y\n") << "set autoscale xy\n"
       << (panel.integer_x ? "set xtics 1\n" : "set xtics autofreq\n")
       << (key == "outside"
               ? "set rmargin\nset key outside right top vertical Left reverse samplen 3 spacing "
                 "1.1\n"
               : "set rmargin 3\nset key inside " + key +
                     " vertical Left reverse opaque box lc rgb '#bfbfbf' samplen 3 spacing 1.1\n")
       << (labelled ? "" : "unset key\n") << "set yrange ["
       << (std::isnan(panel.y_low) ? std::string("*") : number(panel.y_low)) << ":"
       << (std::isnan(panel.y_high) ? std::string("*") : number(panel.y_high)) << "]\n"
       << "unset arrow\nunset label\n";
    // integer_x: tics every 1, 2, 5, 10, ... so that at most about 9 show.
    if (panel.integer_x) {
      double lo = INFINITY, hi = -INFINITY;
      for (const Curve& c : panel.curves)
        for (double x : c.x)
          if (std::isfinite(x)) lo = std::min(lo, x), hi = std::max(hi, x);
      double step = 1;
      for (double decade = 1; std::isfinite(hi) && (hi - lo) / step > 8; decade *= 10)
        for (double m : {1.0, 2.0, 5.0})
          if ((hi - lo) / step > 8) step = m * decade;
      os << "set xtics " << number(step) << "\n";
    }
    for (std::size_t m = 0; m < panel.marks.size(); ++m) {
      double x = panel.marks[m].first;
      if (!std::isfinite(x) || (panel.log_x && x <= 0)) continue;
      os << "set arrow " << m + 1 << " from first " << number(x) << ", graph 0 to first "
         << number(x) << ", graph 1 nohead lc rgb '#404040' dt (6,4) lw 1.5\n"
         << "set label " << m + 1 << " " << quoted(panel.marks[m].second) << " at first "
         << number(x) << ", graph 0.96 left offset 0.5,0 font ',10'\n";
    }
    os << "plot ";
    bool first = true;
    for (std::size_t i = 0; i < panel.curves.size(); ++i, ++block) {
      const Curve& c = panel.curves[i];
      std::size_t cycle = c.color >= 0 ? static_cast<std::size_t>(c.color) : i;
      const char* color = kColors[cycle % std::size(kColors)];
      if (p.has_band[i]) {
        os << (first ? "" : ", ") << "$d" << block << " using 1:3:4 with filledcurves fc rgb '"
           << color << "' fs transparent solid 0.18 noborder notitle";
        first = false;
      }
      os << (first ? "" : ", ") << "$d" << block << " using 1:2 with "
         << (p.markers[i] ? "linespoints" : "lines") << " lc rgb '" << color << "' lw 2 dt "
         << (c.dashed ? "(10,6)" : "1");
      if (p.markers[i]) os << " pt 7 ps 0.7";
      if (c.label.empty())
        os << " notitle";
      else
        os << " title " << quoted(c.label);
      first = false;
    }
    os << "\n";
  }
  os << "unset multiplot\nunset output\n";
  return os.str();
}

}  // namespace

ChartFiles draw_chart(const std::vector<ChartPanel>& panels, const std::string& path_png,
                      const std::string& title, double timeout_seconds) {
  ChartFiles files{path_png, gnuplot::svg_beside(path_png, kWhat, timeout_seconds)};
  if (panels.empty()) fail(path_png, "no panels");
  std::vector<Prepared> prepared;
  for (const ChartPanel& panel : panels) {
    prepared.push_back(prepare(panel, path_png));
    if (!prepared.back().any)
      fail(path_png, "panel '" + panel.title + "' has nothing finite to draw");
  }
  int count = static_cast<int>(panels.size());
  int columns = std::min(count, count == 4 ? 2 : 3);
  int rows = (count + columns - 1) / columns;
  auto deadline = gnuplot::deadline_after(timeout_seconds);
  std::string png = gnuplot::render(script(panels, prepared, title, Format::png, columns, rows),
                                    Format::png, kWhat, files.png, deadline, timeout_seconds);
  std::string svg = gnuplot::render(script(panels, prepared, title, Format::svg, columns, rows),
                                    Format::svg, kWhat, files.svg, deadline, timeout_seconds);
  write_files_atomically({{files.png, png}, {files.svg, svg}}, "draw " + kWhat);
  return files;
}

}  // namespace dagrad::tools
