// Learning-curve pictures drawn by the real gnuplot (tools/plot.cpp). The SVG is gnuplot's own
// text, so the tests read it: labels, legend, and where each point landed.
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <regex>
#include <set>

#include "dagrad/graph/errors.hpp"
#include "fixtures.hpp"
#include "svg.hpp"
#include "tools/plot.hpp"

using namespace dagrad;
namespace fs = std::filesystem;
using dagrad::test::Point;
using dagrad::test::points_of;
using dagrad::test::read;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// A run like the book's Figure 10-12 (Fashion-MNIST, SGD), ten epochs.
const std::vector<double> kLoss = {0.4918, 0.3885, 0.3519, 0.3287, 0.3110,
                                   0.2967, 0.2851, 0.2773, 0.2728, 0.2701};
const std::vector<double> kAccuracy = {0.8340, 0.8625, 0.8741, 0.8818, 0.8869,
                                       0.8922, 0.8960, 0.8987, 0.9003, 0.9015};
const std::vector<double> kValLoss = {0.4817, 0.3712, 0.3620, 0.3480, 0.3390,
                                      0.3320, 0.3300, 0.3265, 0.3290, 0.3250};
const std::vector<double> kValAccuracy = {0.8396, 0.8680, 0.8702, 0.8756, 0.8786,
                                          0.8810, 0.8816, 0.8842, 0.8830, 0.8852};

nn::History history_of(std::vector<std::pair<std::string, std::vector<double>>> columns,
                       int first_epoch = 0) {
  nn::History h;
  for (std::size_t i = 0; i < columns.front().second.size(); ++i)
    h.epochs.push_back(first_epoch + static_cast<int>(i));
  for (auto& [key, values] : columns) {
    h.keys.push_back(key);
    h.history[key] = values;
  }
  return h;
}

nn::History book_history() {
  return history_of({{"loss", kLoss},
                     {"accuracy", kAccuracy},
                     {"val_loss", kValLoss},
                     {"val_accuracy", kValAccuracy}});
}

std::uint32_t big_endian(const std::string& bytes, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
  return v;
}

// Width and height from a PNG's IHDR chunk, after checking the signature and chunk type.
std::pair<std::uint32_t, std::uint32_t> png_size(const std::string& png) {
  BOOST_TEST_REQUIRE(png.size() > 33u);
  BOOST_TEST_REQUIRE(png.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
  BOOST_TEST_REQUIRE(png.compare(12, 4, "IHDR") == 0);
  return {big_endian(png, 16), big_endian(png, 20)};
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The x of the tic label `label` ("1") of the panel whose x range holds x_from..x_to.
double tic_x(const std::string& svg, const std::string& label, double x_from, double x_to) {
  static const std::regex tic(
      R"re(<g transform="translate\(([0-9.]+),([0-9.]+)\)"[^>]*text-anchor="middle">\s*<text>([^<]*)</text>)re");
  for (std::sregex_iterator it(svg.begin(), svg.end(), tic), end; it != end; ++it) {
    double x = std::stod((*it)[1]);
    std::string text = (*it)[3];
    if (text.find_first_not_of(' ') != std::string::npos &&
        text.substr(text.find_first_not_of(' ')) == label && x >= x_from && x <= x_to)
      return x;
  }
  BOOST_FAIL("no tic label '" + label + "'");
  return 0;
}

constexpr const char* kBlue = "31,119,180";    // training
constexpr const char* kOrange = "255,127,14";  // validation

// Each data point sits where its epoch and value put it: x evenly spaced from the first
// epoch's tic, y an affine, decreasing function of the value (pixel y grows downwards).
// Returns the pixels per unit of value.
double check_series(const std::vector<Point>& points, const std::vector<double>& values,
                    double first_tic_x) {
  BOOST_TEST_REQUIRE(points.size() == values.size());
  BOOST_TEST(std::abs(points.front().x - first_tic_x) < 0.02);
  auto [low, high] = std::minmax_element(values.begin(), values.end());
  std::size_t i_low = static_cast<std::size_t>(low - values.begin());
  std::size_t i_high = static_cast<std::size_t>(high - values.begin());
  double slope = (points[i_high].y - points[i_low].y) / (*high - *low);
  BOOST_TEST(slope < 0.0);
  double step = (points.back().x - points.front().x) / static_cast<double>(values.size() - 1);
  for (std::size_t i = 0; i < values.size(); ++i) {
    BOOST_TEST(std::abs(points[i].x - (points.front().x + step * static_cast<double>(i))) < 0.02,
               "x of point " << i);
    BOOST_TEST(std::abs(points[i].y - (points[i_low].y + slope * (values[i] - *low))) < 0.05,
               "y of point " << i << " (value " << values[i] << ")");
  }
  return slope;
}

struct PlotFixture : test::TempDir {
  PlotFixture() : TempDir("plot") {}
  std::set<std::string> listing(const fs::path& where) const {
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(where)) names.insert(entry.path().filename());
    return names;
  }
};

// Puts a directory holding a fake `gnuplot` first on PATH while it lives.
struct FakeGnuplot {
  std::string saved_path;
  FakeGnuplot(const fs::path& bin, const std::string& script_body) {
    fs::create_directories(bin);
    if (!script_body.empty()) {
      std::ofstream(bin / "gnuplot") << "#!/bin/sh\n" << script_body << "\n";
      fs::permissions(bin / "gnuplot", fs::perms::owner_all);
    }
    saved_path = std::getenv("PATH") ? std::getenv("PATH") : "";
    // Without a script the directory alone is the PATH: gnuplot cannot be found.
    std::string path = script_body.empty() ? bin.string() : bin.string() + ":" + saved_path;
    setenv("PATH", path.c_str(), 1);
  }
  ~FakeGnuplot() { setenv("PATH", saved_path.c_str(), 1); }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(plot, PlotFixture)

BOOST_AUTO_TEST_CASE(writes_png_and_svg_with_labels_legend_and_every_point) {
  std::string png_path = (dir / "curves.png").string();
  tools::LearningCurveFiles files =
      tools::plot_learning_curves(book_history(), png_path, "Fashion-MNIST MLP");
  BOOST_TEST(files.png == png_path);
  BOOST_TEST(files.svg == (dir / "curves.svg").string());
  // Two panels (loss; accuracy) of 500 x 450 side by side.
  auto [width, height] = png_size(read(files.png));
  BOOST_TEST(width == 1000u);
  BOOST_TEST(height == 450u);

  std::string svg = read(files.svg);
  BOOST_TEST(svg.find("width=\"1000\" height=\"450\"") != std::string::npos);
  for (const char* text : {"Fashion-MNIST MLP", "Loss", "Accuracy", "loss", "accuracy", "epoch"})
    BOOST_TEST(count(svg, "<text>" + std::string(text) + "</text>") >= 1u, text);
  BOOST_TEST(count(svg, "<text>epoch</text>") == 2u);
  BOOST_TEST(count(svg, "<text>training</text>") == 2u);  // one legend per panel
  BOOST_TEST(count(svg, "<text>validation</text>") == 2u);
  BOOST_TEST(count(svg, "stroke-dasharray") == 4u);  // validation dashed: two curves, two samples
  // Epochs are numbered from 1, as Keras prints them.
  BOOST_TEST(count(svg, "<text> 1</text>") == 2u);
  BOOST_TEST(count(svg, "<text> 10</text>") == 2u);
  BOOST_TEST(count(svg, "<text> 0</text>") == 0u);

  // Per colour: the loss panel's 10 points, its legend sample, the accuracy panel's 10, its sample.
  std::vector<Point> blue = points_of(svg, kBlue), orange = points_of(svg, kOrange);
  BOOST_TEST_REQUIRE(blue.size() == 22u);
  BOOST_TEST_REQUIRE(orange.size() == 22u);
  double left_tic = tic_x(svg, "1", 0, 500), right_tic = tic_x(svg, "1", 500, 1000);
  double loss_scale = check_series({blue.begin(), blue.begin() + 10}, kLoss, left_tic);
  double val_loss_scale = check_series({orange.begin(), orange.begin() + 10}, kValLoss, left_tic);
  double accuracy_scale =
      check_series({blue.begin() + 11, blue.begin() + 21}, kAccuracy, right_tic);
  double val_accuracy_scale =
      check_series({orange.begin() + 11, orange.begin() + 21}, kValAccuracy, right_tic);
  // Training and validation of one quantity share the panel's scale.
  BOOST_TEST(std::abs(loss_scale - val_loss_scale) < 1e-3 * std::abs(loss_scale));
  BOOST_TEST(std::abs(accuracy_scale - val_accuracy_scale) < 1e-3 * std::abs(accuracy_scale));
  BOOST_TEST(listing(dir) == (std::set<std::string>{"curves.png", "curves.svg"}));
}

BOOST_AUTO_TEST_CASE(one_epoch_draws_a_point_per_series) {
  nn::History h = history_of({{"loss", {0.49}}, {"accuracy", {0.83}}, {"val_loss", {0.48}}});
  auto files = tools::plot_learning_curves(h, (dir / "one.png").string(), "one epoch");
  png_size(read(files.png));
  std::string svg = read(files.svg);
  // loss panel: training point + sample, accuracy panel: the same; validation only in loss.
  BOOST_TEST(points_of(svg, kBlue).size() == 4u);
  BOOST_TEST(points_of(svg, kOrange).size() == 2u);
  BOOST_TEST(count(svg, "<text> 1</text>") == 2u);
}

BOOST_AUTO_TEST_CASE(epochs_after_initial_epoch_keep_their_numbers) {
  // fit(initial_epoch=5, epochs=10): History epochs 5..9, printed "Epoch 6/10".."Epoch 10/10".
  nn::History h = history_of({{"loss", {0.5, 0.4, 0.35, 0.32, 0.3}}}, 5);
  auto files = tools::plot_learning_curves(h, (dir / "resumed.png").string(), "");
  std::string svg = read(files.svg);
  std::vector<Point> blue = points_of(svg, kBlue);
  BOOST_TEST_REQUIRE(blue.size() == 6u);
  check_series({blue.begin(), blue.begin() + 5}, {0.5, 0.4, 0.35, 0.32, 0.3},
               tic_x(svg, "6", 0, 1000));
  BOOST_TEST(count(svg, "<text> 5</text>") == 0u);
  BOOST_TEST(count(svg, "<text> 10</text>") == 1u);
  // One panel alone is 700 wide.
  auto [width, height] = png_size(read(files.png));
  BOOST_TEST(width == 700u);
  BOOST_TEST(height == 450u);
}

BOOST_AUTO_TEST_CASE(non_finite_values_are_left_out_and_counted) {
  std::vector<double> loss = {0.49, 0.39, kNaN, 0.33, 0.31, kInf, 0.28, 0.277, kNaN, -kInf};
  std::vector<double> accuracy = {0.83, 0.86, 0.87, kNaN, 0.89, 0.89, 0.90, 0.90, 0.90, 0.90};
  nn::History h = history_of({{"loss", loss}, {"accuracy", accuracy}});
  auto files = tools::plot_learning_curves(h, (dir / "nan.png").string(), "diverging");
  png_size(read(files.png));
  std::string svg = read(files.svg);
  BOOST_TEST(count(svg, "<text>Loss (4 non-finite values left out)</text>") == 1u);
  BOOST_TEST(count(svg, "<text>Accuracy (1 non-finite value left out)</text>") == 1u);
  BOOST_TEST(count(svg, "<text>validation</text>") == 0u);  // no val_ keys: no validation entry
  // 6 finite losses + sample, 9 finite accuracies + sample.
  std::vector<Point> blue = points_of(svg, kBlue);
  BOOST_TEST_REQUIRE(blue.size() == 17u);
  // The finite losses sit at their epochs' places: epochs 1, 2, 4, 5, 7, 8 of an even spacing.
  // (SVG coordinates have two decimals, so the spacing comes from the farthest pair.)
  double spacing = (blue[5].x - blue[0].x) / 7;
  const int epochs[] = {1, 2, 4, 5, 7, 8};
  for (std::size_t i = 0; i < 6; ++i)
    BOOST_TEST(std::abs(blue[i].x - (blue[0].x + spacing * (epochs[i] - 1))) < 0.02);
}

BOOST_AUTO_TEST_CASE(learning_rate_gets_its_own_log_scale_panel) {
  std::vector<double> lr, loss;
  for (int e = 0; e < 25; ++e) {
    lr.push_back(0.01 * std::pow(0.1, e / 20.0));  // the book's exponential schedule
    loss.push_back(0.3 + 0.3 * std::exp(-e / 4.0));
  }
  nn::History h = history_of({{"loss", loss}, {"lr", lr}});
  auto files = tools::plot_learning_curves(h, (dir / "lr.png").string(), "with lr");
  auto [width, height] = png_size(read(files.png));
  BOOST_TEST(width == 1000u);
  BOOST_TEST(height == 450u);
  std::string svg = read(files.svg);
  BOOST_TEST(count(svg, "<text>Learning rate</text>") == 1u);
  BOOST_TEST(count(svg, "<text>learning rate</text>") == 1u);
  // 0.01 down to 6.3e-4: tics at 1, 2 and 5 per decade.
  for (const char* tic : {"0.001", "0.002", "0.005", "0.01"})
    BOOST_TEST(count(svg, "<text>" + std::string(tic) + "</text>") == 1u, tic);
  // On a log axis equal ratios are equal distances: every epoch multiplies the rate by 10^-0.05.
  std::vector<Point> green = points_of(svg, "44,160,44");
  BOOST_TEST_REQUIRE(green.size() == 25u);  // no legend for the rate alone
  double first_step = green[1].y - green[0].y;
  BOOST_TEST(first_step > 0.0);
  for (std::size_t i = 1; i < green.size(); ++i)
    BOOST_TEST(std::abs((green[i].y - green[i - 1].y) - first_step) < 0.03);
}

BOOST_AUTO_TEST_CASE(title_with_quotes_newlines_and_markup_is_text) {
  fs::path witness = dir / "pwned";
  std::string title = "He said \"don't\"\nstop & go <now> 10^3 val_loss\xff '; system('touch " +
                      witness.string() + "'); '";
  auto files = tools::plot_learning_curves(book_history(), (dir / "q.png").string(), title);
  png_size(read(files.png));
  std::string svg = read(files.svg);
  std::string expected =
      "<text>He said \"don't\" stop &amp; go &lt;now> 10^3 val_loss\xEF\xBF\xBD"
      " '; system('touch " +
      witness.string() + "'); '</text>";
  BOOST_TEST(count(svg, expected) == 1u, svg.substr(svg.find("<text>He said"), 200));
  BOOST_TEST(!fs::exists(witness));
}

BOOST_AUTO_TEST_CASE(unwritable_path_is_a_file_error_naming_it) {
  fs::path missing = dir / "no_such_dir" / "curves.png";
  BOOST_CHECK_EXCEPTION(tools::plot_learning_curves(book_history(), missing.string(), "t"),
                        FileError, [&](const FileError& e) {
                          std::string m = e.what();
                          BOOST_TEST_MESSAGE(m);
                          return m.find(missing.string()) != std::string::npos &&
                                 m.find('\n') == std::string::npos;
                        });
  BOOST_TEST(!fs::exists(dir / "no_such_dir"));

  // The target is a directory: the rename fails after the temporaries were written; they go.
  fs::create_directories(dir / "taken.png");
  BOOST_CHECK_EXCEPTION(
      tools::plot_learning_curves(book_history(), (dir / "taken.png").string(), "t"), FileError,
      [&](const FileError& e) {
        BOOST_TEST_MESSAGE(e.what());
        return std::string(e.what()).find((dir / "taken.png").string()) != std::string::npos;
      });
  BOOST_TEST(listing(dir) == (std::set<std::string>{"taken.png"}));
  BOOST_TEST(fs::is_empty(dir / "taken.png"));
}

BOOST_AUTO_TEST_CASE(bad_requests_are_file_errors_and_write_nothing) {
  auto message_of = [&](const nn::History& h, const std::string& name) {
    try {
      tools::plot_learning_curves(h, (dir / name).string(), "t");
    } catch (const FileError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  std::string m = message_of(book_history(), "curves.svg");
  BOOST_TEST(m.find("curves.svg") != std::string::npos);
  BOOST_TEST(m.find("must end in .png") != std::string::npos, m);
  m = message_of(nn::History{}, "empty.png");
  BOOST_TEST(m.find("empty.png") != std::string::npos);
  BOOST_TEST(m.find("no epochs") != std::string::npos, m);
  m = message_of(history_of({{"loss", {kNaN, kInf}}, {"val_loss", {kNaN, kNaN}}}), "nan.png");
  BOOST_TEST(m.find("nan.png") != std::string::npos);
  BOOST_TEST(m.find("no finite values") != std::string::npos, m);
  nn::History too_long = history_of({{"loss", {0.5, 0.4}}});
  too_long.history["loss"].push_back(0.3);
  m = message_of(too_long, "long.png");
  BOOST_TEST(m.find("'loss' has 3 values for 2 epochs") != std::string::npos, m);
  BOOST_TEST(fs::is_empty(dir));
}

BOOST_AUTO_TEST_CASE(gnuplot_failures_leave_the_older_picture_intact) {
  std::string png_path = (dir / "curves.png").string();
  tools::plot_learning_curves(book_history(), png_path, "first");
  std::string old_png = read(png_path), old_svg = read(dir / "curves.svg");
  auto expect_failure = [&](const std::string& fake, const std::string& phrase, double timeout) {
    FakeGnuplot guard(dir / "bin", fake);
    auto started = std::chrono::steady_clock::now();
    try {
      tools::plot_learning_curves(book_history(), png_path, "second", timeout);
      BOOST_ERROR("no error for: " + phrase);
    } catch (const FileError& e) {
      std::string m = e.what();
      BOOST_TEST(m.find(png_path) != std::string::npos, m);
      BOOST_TEST(m.find(phrase) != std::string::npos, m);
      BOOST_TEST(m.find('\n') == std::string::npos, m);
    }
    BOOST_TEST(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() <
               10.0);
    BOOST_TEST(read(png_path) == old_png);
    BOOST_TEST(read(dir / "curves.svg") == old_svg);
    BOOST_TEST(listing(dir) == (std::set<std::string>{"bin", "curves.png", "curves.svg"}));
  };
  expect_failure("", "cannot run gnuplot", 30);
  expect_failure("cat >/dev/null; echo 'gnuplot> plot' >&2; echo '   line 7: boom' >&2; exit 1",
                 "gnuplot failed (exit status 1): line 7: boom", 30);
  expect_failure("cat >/dev/null; exit 0", "gnuplot wrote no PNG image (0 bytes)", 30);
  expect_failure("cat >/dev/null; kill -SEGV $$", "gnuplot crashed (signal 11)", 30);
  // Hangs (and a helper it started that keeps the output open) are stopped at the deadline.
  expect_failure("sleep 60 & sleep 60", "gnuplot did not finish within 0.5 s", 0.5);
}

BOOST_AUTO_TEST_SUITE_END()
