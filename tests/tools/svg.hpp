// Reading gnuplot's pictures in the tools tests: files, and where the SVG put each point marker.
#pragma once

#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <vector>

namespace dagrad::test {

inline std::string read(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

struct Point {
  double x, y;
};

// The point markers of one colour in document order (gnuplot draws each series' points, then
// the legend's sample point last, the legend being opaque).
inline std::vector<Point> points_of(const std::string& svg, const std::string& rgb) {
  static const std::regex marker(
      R"(<use xlink:href='#gpPt[0-9]+' transform='translate\(([0-9.]+),([0-9.]+)\) scale\([0-9.]+\)' color='rgb\(([ 0-9,]+)\)'/>)");
  std::vector<Point> points;
  for (std::sregex_iterator it(svg.begin(), svg.end(), marker), end; it != end; ++it) {
    std::string color = (*it)[3];
    std::erase(color, ' ');
    if (color == rgb) points.push_back({std::stod((*it)[1]), std::stod((*it)[2])});
  }
  return points;
}

}  // namespace dagrad::test
