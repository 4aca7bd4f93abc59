// Data-parallel training over MPI, 2 ranks on this machine: the ranks' training equals one
// process on the union of their batches; the collective ops' gradients across ranks; a rank that
// dies, hangs or disagrees stops the job with a clear error; `dagrad train --distributed`.
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

struct Run {
  int status = -1;  // exit status, or -1
  std::string output;  // stdout and stderr
  double seconds = 0;
};

// Runs `command` through the shell with stderr merged, under a 240 s limit (coreutils timeout),
// so that a hang fails the test instead of stopping CI.
Run shell(const std::string& command) {
  Run r;
  auto start = std::chrono::steady_clock::now();
  FILE* pipe = ::popen(("timeout -k 5 240 " + command + " 2>&1").c_str(), "r");
  BOOST_REQUIRE(pipe);
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) r.output.append(buffer, n);
  int status = ::pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  BOOST_TEST_MESSAGE(command << " -> status " << r.status << " in " << r.seconds << " s\n" << r.output);
  return r;
}

// mpirun with 2 ranks on this machine; as root it needs Open MPI's explicit consent, and
// --oversubscribe lets 2 ranks run where fewer slots are counted. Leak checking is off in the
// ranks of a sanitized build: Open MPI keeps its allocations to the end on purpose.
std::string mpirun(const std::string& args, const std::string& env = "") {
  std::string root = ::geteuid() == 0 ? " --allow-run-as-root" : "";
  std::string vars = env;
  if (const char* asan = std::getenv("ASAN_OPTIONS")) vars += " ASAN_OPTIONS=" + std::string(asan) + ":detect_leaks=0";
  return (vars.empty() ? "" : "env" + vars + " ") + DAGRAD_MPIEXEC " -np 2 --oversubscribe" + root + " " + args;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag)
      : path(fs::temp_directory_path() / ("dagrad_distributed_" + tag + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

// The worker's result file: weights ("w v") and history entries ("loss v", ...).
struct Result {
  std::vector<double> initial, weights;
  std::vector<std::pair<std::string, double>> history;
};
Result read_result(const fs::path& path) {
  std::ifstream in(path);
  BOOST_REQUIRE_MESSAGE(in, "no result file " << path);
  Result r;
  std::string key;
  double v;
  while (in >> key >> v) {
    if (key == "w") r.weights.push_back(v);
    else if (key == "w0") r.initial.push_back(v);
    else r.history.emplace_back(key, v);
  }
  return r;
}

void expect_equivalent(const Result& single, const Result& ranks) {
  BOOST_REQUIRE_EQUAL(single.weights.size(), ranks.weights.size());
  BOOST_REQUIRE_EQUAL(single.history.size(), ranks.history.size());
  BOOST_REQUIRE_EQUAL(single.initial.size(), single.weights.size());
  double worst = 0, largest_change = 0;
  for (std::size_t i = 0; i < single.weights.size(); ++i) {
    worst = std::max(worst, std::abs(single.weights[i] - ranks.weights[i]));
    largest_change = std::max(largest_change, std::abs(single.weights[i] - single.initial[i]));
  }
  BOOST_TEST_MESSAGE("largest weight difference " << worst << " over " << single.weights.size()
                                                  << " weights; largest change in training " << largest_change);
  // Training moved the weights far more than the tolerance (else equal results would prove nothing).
  BOOST_TEST(largest_change > 0.05);
  // float32 sums in another order (two half-batch means, then their mean): rounding only.
  BOOST_TEST(worst < 2e-5);
  for (std::size_t i = 0; i < single.history.size(); ++i) {
    BOOST_TEST(single.history[i].first == ranks.history[i].first);
    BOOST_TEST(std::abs(single.history[i].second - ranks.history[i].second) < 2e-5,
               single.history[i].first << ": " << single.history[i].second << " vs " << ranks.history[i].second);
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(two_ranks)

// 243 samples: global batches of 64, 64, 64 and 51 (25 + 26 rows, weighted by their share).
BOOST_AUTO_TEST_CASE(two_ranks_of_32_train_as_one_process_of_64) {
  TempDir dir("equivalence");
  Run single = shell(std::string(DAGRAD_MPI_WORKER) + " train-single " + (dir.path / "single.txt").string());
  BOOST_REQUIRE_EQUAL(single.status, 0);
  Result reference = read_result(dir.path / "single.txt");
  Run bucketed = shell(mpirun(std::string(DAGRAD_MPI_WORKER) + " train-ranks " + (dir.path / "ranks.txt").string() +
                              " 4194304"));
  BOOST_REQUIRE_EQUAL(bucketed.status, 0);
  expect_equivalent(reference, read_result(dir.path / "ranks.txt"));
  // Buckets of 256 bytes: the 4x16 kernel (256 bytes) goes alone, the small ones share buckets.
  Run small = shell(mpirun(std::string(DAGRAD_MPI_WORKER) + " train-ranks " + (dir.path / "small.txt").string() +
                           " 256"));
  BOOST_REQUIRE_EQUAL(small.status, 0);
  expect_equivalent(reference, read_result(dir.path / "small.txt"));
}

BOOST_AUTO_TEST_CASE(collective_gradients_match_central_differences_across_ranks) {
  Run r = shell(mpirun(std::string(DAGRAD_MPI_WORKER) + " gradients"));
  BOOST_TEST(r.status == 0);
  BOOST_TEST(contains(r.output, "gradient failures: 0"));
  BOOST_TEST(contains(r.output, "gradient reduce_to_root root 1"));
}

BOOST_AUTO_TEST_CASE(a_killed_rank_stops_the_others_with_a_clear_error) {
  Run r = shell(mpirun(std::string(DAGRAD_MPI_WORKER) + " die"));
  BOOST_TEST(r.status != 0);
  BOOST_TEST(r.status != 124);  // not the test's own time limit: the job ended by itself
  BOOST_TEST(r.seconds < 120);
  BOOST_TEST(contains(r.output, "rank 1"));
  BOOST_TEST(contains(r.output, "signal 9"));
}

BOOST_AUTO_TEST_CASE(a_hung_rank_is_reported_after_the_collective_timeout) {
  Run r = shell(mpirun(std::string(DAGRAD_MPI_WORKER) + " hang", " DAGRAD_COLLECTIVE_TIMEOUT=3"));
  BOOST_TEST(r.status != 0);
  BOOST_TEST(r.status != 124);
  BOOST_TEST(r.seconds < 120);
  BOOST_TEST(contains(r.output, "dagrad (rank 0 of 2): allreduce (node 'Adam/allreduce_gradients/allreduce') waited 3 s for the other ranks"));
}

BOOST_AUTO_TEST_CASE(ranks_with_different_data_stop_with_the_setting_named) {
  Run r = shell(mpirun(std::string(DAGRAD_MPI_WORKER) + " disagree"));
  BOOST_TEST(r.status != 0);
  BOOST_TEST(r.status != 124);
  BOOST_TEST(contains(r.output, "the ranks disagree on the number of training samples (rank 0: 243, rank 1 of 2: 200)"));
}

#ifdef DAGRAD_CLI
BOOST_AUTO_TEST_CASE(dagrad_train_distributed_prints_and_writes_on_rank_0_only) {
  TempDir dir("cli");
  Run r = shell(mpirun(std::string(DAGRAD_CLI) + " train --distributed --model plain --limit 2000 --epochs 2 --verbose 2"
                                                 " --out " + dir.path.string()));
  BOOST_REQUIRE_EQUAL(r.status, 0);
  auto count = [&](const std::string& part) {
    std::size_t n = 0;
    for (std::size_t at = r.output.find(part); at != std::string::npos; at = r.output.find(part, at + 1)) ++n;
    return n;
  };
  BOOST_TEST(count("test accuracy:") == 1u);
  BOOST_TEST(count("Epoch 2/2") == 1u);
  BOOST_TEST(contains(r.output, "Data-parallel over 2 ranks: batches of 32 per rank (64 per step)"));
  // 2000 samples in global batches of 64: 32 steps, the last of 16 rows (8 per rank).
  BOOST_TEST(contains(r.output, "32/32"));
  BOOST_TEST(fs::exists(dir.path / "model" / "model.json"));
  std::ifstream history(dir.path / "history.csv");
  std::string line;
  int lines = 0;
  while (std::getline(history, line)) ++lines;
  BOOST_TEST(lines == 3);  // header and one row per epoch, written once
}

// Two different command lines in one job (MPMD): the error names the rank and the setting, and
// the job ends.
BOOST_AUTO_TEST_CASE(dagrad_train_ranks_with_different_limits_end_with_the_rank_named) {
  TempDir dir("cli_mpmd");
  const std::string common = " train --distributed --model plain --epochs 1 --verbose 0 --out " + dir.path.string();
  std::string root = ::geteuid() == 0 ? " --allow-run-as-root" : "";
  std::string vars;
  if (const char* asan = std::getenv("ASAN_OPTIONS")) vars = "env ASAN_OPTIONS=" + std::string(asan) + ":detect_leaks=0 ";
  Run r = shell(vars + DAGRAD_MPIEXEC " --oversubscribe" + root + " -np 1 " DAGRAD_CLI + common + " --limit 1000 : -np 1 " +
                DAGRAD_CLI + common + " --limit 900");
  BOOST_TEST(r.status == 1);
  // Every rank throws the same message; whichever rank's error ends the job first prints it.
  BOOST_TEST(contains(r.output, "): fit: the ranks disagree on the number of training samples "
                                "(rank 0: 1000, rank 1 of 2: 900)"),
             r.output);
  BOOST_TEST(contains(r.output, "dagrad: error (rank "), r.output);
}
#endif

BOOST_AUTO_TEST_SUITE_END()
