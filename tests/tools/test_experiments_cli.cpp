// `dagrad experiment NAME` and `dagrad lr-find` run as a user runs them (the real binary through
// the shell): every registered experiment on a tiny setting writes its table and chart, and bad
// flags are one-line errors before any work.
#include <sys/wait.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <regex>

#include "dagrad/dagrad.hpp"
#include "fixtures.hpp"
#include "tools/experiments/experiment.hpp"

namespace fs = std::filesystem;

namespace {

struct Cli : dagrad::test::CliRun {
  Cli() : CliRun("experiment_cli") {}
};

bool have_data() {
  return fs::is_directory(dagrad::nn::kFashionMnistDir);
}
bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}
std::size_t lines(const std::string& s) {
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(experiments_cli, Cli)

BOOST_AUTO_TEST_CASE(bad_flags_are_one_line_errors_before_any_work) {
  const std::pair<const char*, const char*> cases[] = {
      {"experiment nosuch", "nosuch"},
      {"experiment", "name"},
      {"experiment optimizers --epochs 0", "--epochs"},
      {"experiment optimizers --seeds x", "--seeds"},
      {"experiment optimizers --limit 60000", "--limit"},
      {"experiment optimizers --data /nonexistent/fashion", "dataset-fashion-mnist"},
      {"lr-find --model resnet", "resnet"},
      {"lr-find --optimizer sgdd", "sgdd"},
      {"lr-find --min-rate 1 --max-rate 0.1", "--min-rate"},
      {"lr-find --min-rate nan", "--min-rate"},
      {"lr-find --steps 1", "--steps"},
      {"lr-find --data /nonexistent/fashion", "dataset-fashion-mnist"},
      {"lr-find --seed -1", "--seed: '-1' is not a seed"},
      {"experiment optimizers --seed -1", "--seed: '-1' is not a seed"},
      {"experiment optimizers --seed 1.5", "--seed: '1.5' is not a seed"},
  };
  for (const auto& [args, part] : cases) {
    BOOST_TEST_CONTEXT(args) {
      BOOST_TEST(run(args) != 0);
      std::string err = read("stderr");
      BOOST_TEST(contains(err, part), err);
      BOOST_TEST(lines(err) == 1u, err);
      BOOST_TEST(read("stdout").empty());
    }
  }
  // --help lists every experiment with its defaults and duration.
  BOOST_TEST(run("experiment --help") == 0);
  std::string help = read("stdout");
  for (const auto& e : dagrad::tools::experiments::all()) {
    BOOST_TEST(contains(help, e.name + " (" + std::to_string(e.epochs) + " epochs"), e.name);
    BOOST_TEST(contains(help, e.duration), e.name);
  }
}

// Every registered experiment, tiny: the table on standard output and in NAME.md and NAME.csv
// (same rows), the chart as PNG and SVG.
BOOST_AUTO_TEST_CASE(every_experiment_runs_on_a_tiny_setting) {
  if (!have_data()) {
    BOOST_TEST_MESSAGE("skipped: Fashion-MNIST is not installed (scripts/install-deps.sh)");
    return;
  }
  for (const auto& e : dagrad::tools::experiments::all()) {
    BOOST_TEST_CONTEXT(e.name) {
      fs::path out = dir / "out";
      BOOST_TEST(
          run("experiment " + e.name + " --limit 200 --epochs 1 --seeds 1 --verbose 0 --out '" +
              out.string() + "'") == 0,
          read("stderr"));
      BOOST_TEST(read("stderr").empty(), read("stderr"));
      std::string csv = read(out / (e.name + ".csv")), md = read(out / (e.name + ".md"));
      BOOST_TEST(lines(csv) >= 2u, csv);
      BOOST_TEST(contains(md, "## " + e.name), md);
      BOOST_TEST(contains(md, "dagrad experiment " + e.name + " --epochs 1 --seeds 1 --limit 200"),
                 md);
      // The Markdown table has the CSV's rows (a separator line more).
      std::size_t table_rows = 0;
      for (std::size_t at = md.find("\n|"); at != std::string::npos; at = md.find("\n|", at + 1))
        ++table_rows;
      BOOST_TEST(table_rows == lines(csv) + 1, md << csv);
      BOOST_TEST(read(out / (e.name + ".png")).compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
      BOOST_TEST(contains(read(out / (e.name + ".svg")), "</svg>"));
      // The first header cell of the table is printed on standard output.
      std::string first_cell = csv.substr(0, csv.find_first_of(",\n"));
      BOOST_TEST(contains(read("stdout"), first_cell), read("stdout"));
    }
  }
}

// 50 images make 2 batches: too few steps for 1cycle, which is left out with a note instead of
// ending the run.
BOOST_AUTO_TEST_CASE(schedules_on_too_few_steps_leave_1cycle_out) {
  if (!have_data()) {
    BOOST_TEST_MESSAGE("skipped: Fashion-MNIST is not installed (scripts/install-deps.sh)");
    return;
  }
  fs::path out = dir / "few";
  BOOST_TEST(run("experiment schedules --limit 50 --epochs 1 --seeds 1 --verbose 0 --out '" +
                 out.string() + "'") == 0,
             read("stderr"));
  std::string csv = read(out / "schedules.csv");
  BOOST_TEST(lines(csv) == 6u, csv);  // header + none, power, exponential, piecewise, plateau
  BOOST_TEST(!contains(csv, "1cycle"));
  BOOST_TEST(contains(read("stdout"), "1cycle left out: it needs at least 3 training steps"));
}

// `all` on 3 images: transfer has no sandals or shirts and fails; the others still run, and the
// exit status and the last line name the failure.
BOOST_AUTO_TEST_CASE(all_goes_on_past_an_experiment_that_cannot_run) {
  if (!have_data()) {
    BOOST_TEST_MESSAGE("skipped: Fashion-MNIST is not installed (scripts/install-deps.sh)");
    return;
  }
  fs::path out = dir / "all";
  BOOST_TEST(run("experiment all --limit 3 --epochs 1 --seeds 1 --verbose 0 --out '" +
                 out.string() + "'") != 0);
  std::string err = read("stderr");
  BOOST_TEST(contains(err, "dagrad experiment transfer: error:"), err);
  BOOST_TEST(contains(err, "experiments that failed: transfer\n"), err);
  BOOST_TEST(fs::exists(out / "regularization.csv"));  // the last one ran
  BOOST_TEST(!fs::exists(out / "transfer.csv"));
}

// --model cnn runs the transfer experiment with the dense and the convolutional network, in one
// table (a network column, 4 rows each) and files of their own; experiments that have no cnn
// version refuse it, naming the experiment.
BOOST_AUTO_TEST_CASE(transfer_with_model_cnn_puts_both_networks_in_one_table) {
  if (!have_data()) {
    BOOST_TEST_MESSAGE("skipped: Fashion-MNIST is not installed (scripts/install-deps.sh)");
    return;
  }
  fs::path out = dir / "transfer_cnn";
  BOOST_TEST(run("experiment transfer --model cnn --limit 2000 --epochs 1 --seeds 1 --verbose 0 "
                 "--out '" + out.string() + "'") == 0,
             read("stderr"));
  std::string csv = read(out / "transfer_cnn.csv");
  BOOST_TEST(lines(csv) == 9u, csv);
  BOOST_TEST(csv.rfind("network,model,", 0) == 0u, csv);
  BOOST_TEST(contains(csv, "\ncnn,B_on_A as the notebook,"), csv);
  BOOST_TEST(contains(csv, "\ndense,B from scratch,"), csv);
  BOOST_TEST(!fs::exists(out / "transfer.csv"));  // the dense-only run's files are not touched
  BOOST_TEST(contains(read(out / "transfer_cnn.md"), "`dagrad experiment transfer --model cnn "));

  BOOST_TEST(run("experiment regularization --model cnn --limit 100 --out '" + out.string() + "'") != 0);
  BOOST_TEST(contains(read("stderr"), "--model 'cnn': experiment regularization takes dense"),
             read("stderr"));
  BOOST_TEST(run("experiment transfer --model '' --limit 100 --out '" + out.string() + "'") != 0);
  BOOST_TEST(contains(read("stderr"), "--model: give a network family (dense or cnn), got ''"),
             read("stderr"));
  BOOST_TEST(!fs::exists(out / "transfer.csv"));
  BOOST_TEST(run("experiment transfer --model resnet --limit 100 --out '" + out.string() + "'") != 0);
  BOOST_TEST(contains(read("stderr"), "--model 'resnet': experiment transfer takes dense, cnn"),
             read("stderr"));
}

BOOST_AUTO_TEST_CASE(lr_find_suggests_a_rate_below_where_the_loss_climbs) {
  if (!have_data()) {
    BOOST_TEST_MESSAGE("skipped: Fashion-MNIST is not installed (scripts/install-deps.sh)");
    return;
  }
  fs::path out = dir / "lr";
  BOOST_TEST(run("lr-find --model plain --limit 1000 --steps 60 --out '" + out.string() + "'") == 0,
             read("stderr"));
  std::string text = read("stdout");
  std::smatch m;
  BOOST_REQUIRE(std::regex_search(
      text, m, std::regex(R"(after rate ([0-9.e+-]+)\nsuggested learning rate: ([0-9.e+-]+)\n)")));
  double turning = std::stod(m[1]), suggested = std::stod(m[2]);
  BOOST_TEST(suggested > 1e-5);
  BOOST_TEST(std::abs(suggested - turning / 10) <= 1e-5 * turning);  // printed to 6 digits
  std::string csv = read(out / "lr_find.csv");
  BOOST_TEST(csv.rfind("step,rate,loss,smoothed loss\n0,0.000010,", 0) == 0u, csv);
  BOOST_TEST(lines(csv) <= 61u);
  BOOST_TEST(read(out / "lr_find.png").compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
}

BOOST_AUTO_TEST_SUITE_END()
