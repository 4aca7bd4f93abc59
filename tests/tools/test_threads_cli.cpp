// The --threads flag of train, experiment and lr-find (tools/threads.cpp), run as a user runs
// them: bad counts are one-line errors naming the flag and the value, the help documents it,
// and a good count is accepted.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <string>

#include "dagrad/dagrad.hpp"
#include "fixtures.hpp"

namespace fs = std::filesystem;

namespace {

struct ThreadsCli : dagrad::test::CliRun {
  ThreadsCli() : CliRun("threads_cli") {}
};

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

const char* const kCommands[] = {"train", "experiment optimizers", "lr-find"};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(threads_cli, ThreadsCli)

BOOST_AUTO_TEST_CASE(bad_counts_are_one_line_errors) {
  const std::pair<const char*, const char*> values[] = {
      {"0", "between 1 and 1024, got 0"},       {"-2", "between 1 and 1024, got -2"},
      {"1025", "between 1 and 1024, got 1025"}, {"two", "'two' is not a whole number"},
      {"1.5", "'1.5' is not a whole number"},   {"2x", "'2x' is not a whole number"},
  };
  for (const char* command : kCommands)
    for (const auto& [value, part] : values) {
      std::string args = std::string(command) + " --threads=" + value;
      BOOST_TEST_CONTEXT(args) {
        BOOST_TEST(run(args) != 0);
        std::string err = read("stderr");
        BOOST_TEST(contains(err, "--threads"), err);
        BOOST_TEST(contains(err, part), err);
        BOOST_TEST(std::count(err.begin(), err.end(), '\n') == 1, err);
        BOOST_TEST(read("stdout").empty());  // nothing ran
      }
    }
}

BOOST_AUTO_TEST_CASE(help_documents_the_flag) {
  for (const char* command : {"train", "experiment", "lr-find"}) {
    BOOST_TEST_CONTEXT(command) {
      BOOST_TEST(run(std::string(command) + " --help") == 0);
      std::string help = read("stdout");
      BOOST_TEST(contains(help, "--threads N"), help);
      BOOST_TEST(contains(help, "BLAS and dagrad's own work"), help);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_good_count_is_accepted) {
  if (!fs::is_directory(dagrad::nn::kFashionMnistDir)) {
    BOOST_TEST_MESSAGE("skipped: Fashion-MNIST is not installed (scripts/install-deps.sh)");
    return;
  }
  BOOST_TEST(run("train --threads 1 --epochs 1 --limit 64 --verbose 0 --out '" +
                 (dir / "run").string() + "'") == 0,
             read("stderr"));
  BOOST_TEST(fs::exists(dir / "run" / "model"));
}

BOOST_AUTO_TEST_SUITE_END()
