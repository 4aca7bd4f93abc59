// Charts of several curves (tools/chart.cpp) drawn by the real gnuplot; the SVG is read back to
// check where points landed, the bands, the log axis and the errors.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <filesystem>
#include <limits>
#include <random>

#include "dagrad/graph/errors.hpp"
#include "fixtures.hpp"
#include "svg.hpp"
#include "tools/chart.hpp"

using namespace dagrad;
using dagrad::test::points_of;
using dagrad::test::read;
namespace fs = std::filesystem;

namespace {

constexpr const char* kBlue = "31,119,180";
constexpr const char* kOrange = "255,127,14";

struct ChartFixture : test::TempDir {
  ChartFixture() : TempDir("chart") {}
};

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(chart, ChartFixture)

BOOST_AUTO_TEST_CASE(two_curves_share_one_affine_y_axis_and_one_x_axis) {
  const std::vector<double> a = {2.0, 1.2, 0.9, 0.8}, b = {1.5, 1.4, 1.0, 0.6};
  tools::ChartPanel panel{"Validation loss", "epoch", "val_loss"};
  panel.integer_x = true;
  panel.curves = {{"sgd", {1, 2, 3, 4}, a}, {"adam", {1, 2, 3, 4}, b}};
  tools::ChartFiles files = tools::draw_chart({panel}, (dir / "c.png").string(), "Optimizers");
  BOOST_TEST(files.svg == (dir / "c.svg").string());
  BOOST_TEST(read(files.png).compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
  std::string svg = read(files.svg);
  for (const char* text : {"Optimizers", "Validation loss", "epoch", "val_loss", "sgd", "adam"})
    BOOST_TEST(contains(svg, text), text);
  std::vector<test::Point> pa = points_of(svg, kBlue), pb = points_of(svg, kOrange);
  BOOST_TEST_REQUIRE(pa.size() >= 4u);
  BOOST_TEST_REQUIRE(pb.size() >= 4u);
  // One pixel-per-unit slope for both curves (from a's extremes), the same x for the same epoch.
  double slope = (pa[0].y - pa[3].y) / (a[0] - a[3]);
  BOOST_TEST(slope < 0);
  for (int i = 0; i < 4; ++i) {
    BOOST_TEST(std::abs(pa[i].x - pb[i].x) < 0.02);
    BOOST_TEST(std::abs(pa[i].y - (pa[3].y + slope * (a[i] - a[3]))) < 0.05);
    BOOST_TEST(std::abs(pb[i].y - (pa[3].y + slope * (b[i] - a[3]))) < 0.05);
  }
  BOOST_TEST(std::abs((pa[1].x - pa[0].x) - (pa[3].x - pa[2].x)) < 0.02);
}

BOOST_AUTO_TEST_CASE(a_log_x_axis_spaces_decades_evenly) {
  tools::ChartPanel panel{"Loss against the rate", "learning rate", "loss"};
  panel.log_x = true;
  panel.curves = {{"loss", {1e-4, 1e-3, 1e-2, 1e-1}, {2.0, 1.5, 1.0, 3.0}}};
  panel.marks = {{1e-3, "suggested"}};
  std::string svg = read(tools::draw_chart({panel}, (dir / "l.png").string(), "").svg);
  std::vector<test::Point> p = points_of(svg, kBlue);
  BOOST_TEST_REQUIRE(p.size() >= 4u);
  double decade = p[1].x - p[0].x;
  BOOST_TEST(decade > 10);
  BOOST_TEST(std::abs((p[2].x - p[1].x) - decade) < 0.05);
  BOOST_TEST(std::abs((p[3].x - p[2].x) - decade) < 0.05);
  BOOST_TEST(contains(svg, "suggested"));
}

BOOST_AUTO_TEST_CASE(a_spread_is_drawn_as_a_translucent_band) {
  tools::ChartPanel panel{"Accuracy", "epoch", "accuracy"};
  panel.curves = {{"mean", {1, 2, 3}, {0.8, 0.85, 0.87}, {0.01, 0.02, 0.01}}};
  std::string with = read(tools::draw_chart({panel}, (dir / "b.png").string(), "").svg);
  panel.curves[0].spread.clear();
  std::string without = read(tools::draw_chart({panel}, (dir / "n.png").string(), "").svg);
  // gnuplot writes a filled polygon with the curve's colour and an opacity for the band.
  BOOST_TEST(contains(with, "fill-opacity"));
  BOOST_TEST(!contains(without, "fill-opacity"));
}

BOOST_AUTO_TEST_CASE(non_finite_values_are_left_out_and_counted) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  tools::ChartPanel panel{"Training loss", "epoch", "loss"};
  panel.log_y = true;
  panel.curves = {{"exploding", {1, 2, 3, 4}, {2.0, 50.0, nan, INFINITY}},
                  {"clipped", {1, 2, 3, 4}, {2, 1, 0.5, 0}}};
  std::string svg = read(tools::draw_chart({panel}, (dir / "f.png").string(), "").svg);
  // nan, inf, and 0 on the log axis.
  BOOST_TEST(contains(svg, "3 non-finite values left out"));
  BOOST_TEST(points_of(svg, kBlue).size() >= 2u);
}

BOOST_AUTO_TEST_CASE(bad_requests_are_file_errors_naming_the_file) {
  auto fails = [&](const std::vector<tools::ChartPanel>& panels, const std::string& name,
                   const std::string& part) {
    std::string path = (dir / name).string();
    try {
      tools::draw_chart(panels, path, "t");
    } catch (const FileError& e) {
      std::string m = e.what();
      BOOST_TEST(contains(m, path), m);
      BOOST_TEST(contains(m, part), m);
      BOOST_TEST(!fs::exists(path));
      return;
    }
    BOOST_FAIL("no FileError for " + name);
  };
  tools::ChartPanel ok{"p", "x", "y"};
  ok.curves = {{"c", {1, 2}, {1, 2}}};
  fails({}, "none.png", "no panels");
  fails({ok}, "picture.svg", ".png");
  tools::ChartPanel uneven = ok;
  uneven.curves[0].y = {1};
  fails({uneven}, "uneven.png", "1 y");
  tools::ChartPanel spread = ok;
  spread.curves[0].spread = {0.1};
  fails({spread}, "spread.png", "spread");
  tools::ChartPanel empty = ok;
  empty.curves[0].y = {NAN, NAN};
  fails({empty}, "empty.png", "nothing finite");
}

BOOST_AUTO_TEST_SUITE_END()
