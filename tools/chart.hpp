// Line charts of several named curves per panel, drawn by gnuplot as PNG and SVG: the pictures of
// `dagrad experiment` and `dagrad lr-find` (learning curves of one fit are plot.hpp's).
#pragma once

#include <limits>
#include <string>
#include <vector>

namespace dagrad::tools {

struct Curve {
  std::string label;  // its legend entry; none when empty
  std::vector<double> x = {}, y = {};
  // Empty, or one value per point: a band y - spread .. y + spread (the spread over seeds) drawn
  // translucent in the curve's colour.
  std::vector<double> spread = {};
  bool dashed = false;
  // Index into the colour cycle; -1: the curve's position in its panel. Lets a dashed curve share
  // the colour of the solid one it is paired with (one setup before and after training).
  int color = -1;
};

struct ChartPanel {
  std::string title, x_label, y_label;
  bool log_x = false, log_y = false;
  std::vector<Curve> curves = {};
  // Vertical lines at these x, with a label each (the rate lr-find suggests).
  std::vector<std::pair<double, std::string>> marks = {};
  // Integer x only (epochs, layers): whole-number tics.
  bool integer_x = false;
  // The legend: "auto" (the inside corner the curves cross least), "outside" (right of the
  // plot) or a corner inside ("top right", "bottom left", ...).
  std::string key = "auto";
  // The y range, when the interesting part is narrower than the data (NaN: from the data).
  double y_low = std::numeric_limits<double>::quiet_NaN();
  double y_high = std::numeric_limits<double>::quiet_NaN();
};

struct ChartFiles {
  std::string png, svg;
};

// Draws the panels in a grid (up to 3 side by side), curves in matplotlib's colour cycle, with
// points when a curve has at most 40 of them. Non-finite values break the line (and values <= 0
// on a log axis), and the panel's title says how many were left out. Writes `path_png` (ending in
// .png) and the SVG beside it atomically. Throws FileError naming the file for a panel without
// anything finite to draw, a curve whose x, y and spread sizes differ, no panels, or gnuplot
// failing, missing or running longer than `timeout_seconds`.
ChartFiles draw_chart(const std::vector<ChartPanel>& panels, const std::string& path_png,
                      const std::string& title, double timeout_seconds = 30.0);

}  // namespace dagrad::tools
