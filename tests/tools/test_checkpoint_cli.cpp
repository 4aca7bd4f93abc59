// `dagrad train --checkpoint`: a run killed (SIGKILL) at random moments and started again
// finishes with the bits of an uninterrupted run; and the same seed gives the same bits, on one
// thread and on two.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "dagrad/dagrad.hpp"
#include "fixtures.hpp"

namespace fs = std::filesystem;
namespace tt = boost::test_tools;

namespace {

struct CheckpointCli : dagrad::test::CliRun {
  CheckpointCli() : CliRun("checkpoint_cli") {}
};

bool have_data() {
  return fs::is_directory(dagrad::nn::kFashionMnistDir);
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

std::vector<std::string> split(const std::string& args) {
  std::vector<std::string> words;
  std::istringstream in(args);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

// Starts `dagrad ARGS` (output to /dev/null); with `fallback`, saves take the two-rename path.
pid_t start(const std::string& args, bool fallback) {
  std::vector<std::string> words = split(args);
  pid_t pid = ::fork();
  if (pid == 0) {
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    if (fallback) ::setenv("DAGRAD_TEST_NO_RENAME_EXCHANGE", "1", 1);
    std::vector<char*> argv{const_cast<char*>(DAGRAD_CLI)};
    for (std::string& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    ::execv(DAGRAD_CLI, argv.data());
    ::_exit(127);
  }
  return pid;
}

// Every variable of the two models' files, bit for bit, naming the first that differs.
void check_same_weights(const fs::path& a, const fs::path& b) {
  auto ma = dagrad::nn::load_model(a.string());
  auto mb = dagrad::nn::load_model(b.string());
  std::vector<dagrad::Tensor> wa = ma->get_weights(), wb = mb->get_weights();
  BOOST_TEST_REQUIRE(wa.size() == wb.size());
  for (std::size_t i = 0; i < wa.size(); ++i) {
    BOOST_TEST_CONTEXT("weight " << i) {
      BOOST_TEST_REQUIRE(wa[i].nbytes() == wb[i].nbytes());
      BOOST_TEST(std::memcmp(wa[i].raw(), wb[i].raw(), wa[i].nbytes()) == 0);
    }
  }
  // The optimizer's state too (slots, iterations): the files' weights/ hold every variable.
  for (const auto& e : fs::directory_iterator(a / "weights")) {
    std::string name = e.path().filename().string();
    if (e.path().extension() != ".npy") continue;  // checkpoint.json: the names, compared above
    BOOST_TEST_CONTEXT(name) {
      dagrad::Tensor x = dagrad::read_npy(e.path().string());
      dagrad::Tensor y = dagrad::read_npy((b / "weights" / name).string());
      BOOST_TEST_REQUIRE(x.nbytes() == y.nbytes());
      BOOST_TEST(std::memcmp(x.raw(), y.raw(), x.nbytes()) == 0);
    }
  }
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(checkpoint_cli, CheckpointCli)

// Dropout (the random streams), Adam (slots, iterations) and a step schedule: everything a
// resumed epoch must reproduce.
BOOST_AUTO_TEST_CASE(a_run_killed_at_random_moments_resumes_to_the_uninterrupted_weights) {
  if (!have_data()) {
    BOOST_TEST_MESSAGE("skipped: Fashion-MNIST is not installed (scripts/install-deps.sh)");
    return;
  }
  const std::string common =
      "train --limit 300 --epochs 6 --model dropout --optimizer adam --schedule exponential "
      "--threads 1 --seed 7 --verbose 0 ";
  auto t0 = std::chrono::steady_clock::now();
  BOOST_TEST_REQUIRE(run(common + "--out " + quoted(dir / "ref")) == 0, read("stderr"));
  double reference_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

  const fs::path ck = dir / "ck";
  const std::string args =
      common + "--checkpoint " + (dir / "ck").string() + " --out " + (dir / "run").string();
  unsigned seed = std::random_device{}();
  BOOST_TEST_MESSAGE("kill delays seeded with " << seed << "; an uninterrupted run took "
                                                << static_cast<int>(reference_ms) << " ms");
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> delay(0.0, reference_ms);
  int kills = 0, finished_early = 0, epochs_seen_max = 0;
  for (int attempt = 0; attempt < 10; ++attempt) {
    pid_t pid = start(args, attempt % 2 == 1);
    BOOST_TEST_REQUIRE(pid > 0);
    std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(delay(rng)));
    ::kill(pid, SIGKILL);
    int status = 0;
    BOOST_TEST_REQUIRE(::waitpid(pid, &status, 0) == pid);
    if (WIFEXITED(status)) {
      // Finished before the kill: it must have succeeded; start over to keep killing.
      BOOST_TEST(WEXITSTATUS(status) == 0);
      ++finished_early;
      fs::remove_all(ck);
      fs::remove_all(dir / "run");
      continue;
    }
    ++kills;
    // Whatever the moment, the checkpoint on disk is whole (or was never written).
    if (dagrad::nn::has_model_file(ck.string())) {
      BOOST_TEST_CONTEXT("after kill " << kills) {
        std::unique_ptr<dagrad::nn::Model> m;
        BOOST_CHECK_NO_THROW(m = dagrad::nn::load_model(ck.string()));
        if (m) epochs_seen_max = std::max(epochs_seen_max, m->epoch());
      }
    }
  }
  BOOST_TEST_MESSAGE(kills << " kills, " << finished_early << " runs finished before their kill, "
                           << "checkpoints up to epoch " << epochs_seen_max << " seen");
  BOOST_TEST(kills >= 5);
  BOOST_TEST_REQUIRE(run(args) == 0, read("stderr"));
  check_same_weights(dir / "ref" / "model", dir / "run" / "model");
  check_same_weights(dir / "ref" / "model", ck);
  // The loss curves: every epoch's row once, with the same figures (17 digits).
  BOOST_TEST(read("run/history.csv") == read("ref/history.csv"));
  // No temporary or backup of a killed save is left beside the checkpoint.
  for (const auto& e : fs::directory_iterator(dir))
    BOOST_TEST(!contains(e.path().filename().string(), ".ck."), e.path());
}

BOOST_AUTO_TEST_CASE(a_checkpoint_folder_that_is_not_a_model_is_refused_before_any_work) {
  fs::create_directories(dir / "mine");
  std::ofstream(dir / "mine" / "notes.txt") << "keep";
  BOOST_TEST(run("train --checkpoint " + quoted(dir / "mine")) != 0);
  std::string err = read("stderr");
  BOOST_TEST(contains(err, "--checkpoint"), err);
  BOOST_TEST(contains(err, "not a model file"), err);
  BOOST_TEST(std::count(err.begin(), err.end(), '\n') == 1, err);
  BOOST_TEST(read("mine/notes.txt") == "keep");
  BOOST_TEST(run("train --checkpoint " + quoted(dir / "a") + " --resume " + quoted(dir / "b")) !=
             0);
  BOOST_TEST(contains(read("stderr"), "not both"), read("stderr"));
}

// A model file that cannot be trained on: saved without an optimizer (--resume), or with a
// damaged weight file (--checkpoint); a one-line error naming the problem, files unchanged.
BOOST_AUTO_TEST_CASE(models_that_cannot_be_resumed_are_one_line_errors) {
  if (!have_data()) {
    BOOST_TEST_MESSAGE("skipped: Fashion-MNIST is not installed (scripts/install-deps.sh)");
    return;
  }
  using namespace dagrad;
  nn::Sequential model({nn::Flatten({28, 28}), nn::Dense(10, {.activation = "softmax"})});
  nn::save_model(model, (dir / "bare").string());
  BOOST_TEST(run("train --limit 100 --resume " + quoted(dir / "bare")) != 0);
  std::string err = read("stderr");
  BOOST_TEST(contains(err, "saved without an optimizer"), err);
  BOOST_TEST(std::count(err.begin(), err.end(), '\n') == 1, err);

  model.compile(optim::SGD(), "sparse_categorical_crossentropy", {"accuracy"});
  nn::save_model(model, (dir / "ck").string());
  std::string bytes = read("ck/weights/0.npy");
  {
    std::ofstream cut(dir / "ck" / "weights" / "0.npy", std::ios::binary | std::ios::trunc);
    cut << bytes.substr(0, bytes.size() - 8);
  }
  BOOST_TEST(run("train --limit 100 --epochs 2 --checkpoint " + quoted(dir / "ck")) != 0);
  err = read("stderr");
  BOOST_TEST(contains(err, "0.npy"), err);
  BOOST_TEST(std::count(err.begin(), err.end(), '\n') == 1, err);
  BOOST_TEST(!contains(read("stdout"), "Epoch"));
  BOOST_TEST(read("ck/weights/0.npy") == bytes.substr(0, bytes.size() - 8));
}

// A run killed after logging epoch 2 but before its checkpoint was saved: the checkpoint says 2
// epochs are done, history.csv has rows 0 to 3 (row 3 from an older, longer run). The resumed
// run keeps rows 0 and 1 and writes epoch 2 afresh.
BOOST_AUTO_TEST_CASE(history_rows_the_checkpoint_lacks_are_dropped_on_resume) {
  if (!have_data()) {
    BOOST_TEST_MESSAGE("skipped: Fashion-MNIST is not installed (scripts/install-deps.sh)");
    return;
  }
  using namespace dagrad;
  nn::Sequential model({nn::Flatten({28, 28}), nn::Dense(10, {.activation = "softmax"})});
  model.compile(optim::SGD(), "sparse_categorical_crossentropy", {"accuracy"});
  model.set_epoch(2);
  nn::save_model(model, (dir / "ck").string());
  fs::create_directories(dir / "out");
  const std::string kept =
      "epoch,loss,accuracy,val_loss,val_accuracy\n0,5,0.1,5,0.1\n1,4,0.2,4,0.2\n";
  std::ofstream(dir / "out" / "history.csv") << kept << "2,9,0.9,9,0.9\n3,9,0.9,9,0.9\n";
  BOOST_TEST_REQUIRE(run("train --limit 100 --epochs 3 --verbose 0 --checkpoint " +
                         quoted(dir / "ck") + " --out " + quoted(dir / "out")) == 0,
                     read("stderr"));
  std::string csv = read("out/history.csv");
  BOOST_TEST(csv.rfind(kept + "2,", 0) == 0u, csv);
  BOOST_TEST(!contains(csv, "2,9,"), csv);
  BOOST_TEST(!contains(csv, "\n3,"), csv);
  BOOST_TEST(std::count(csv.begin(), csv.end(), '\n') == 4, csv);
  BOOST_TEST(nn::load_model((dir / "ck").string())->epoch() == 3);
}

// A schedule that works by epoch is a callback, not optimizer state: a resumed run makes it
// again from the flags. The legacy Nadam's piecewise schedule sets the rate at each epoch's
// start: 0.001 for epochs 0-4, 0.0005 from epoch 5 (tools/optimizer_choice.cpp). Before the fix a
// run resumed at epoch 5 kept 0.001.
BOOST_AUTO_TEST_CASE(a_resumed_run_keeps_its_per_epoch_schedule) {
  if (!have_data()) {
    BOOST_TEST_MESSAGE("skipped: Fashion-MNIST is not installed (scripts/install-deps.sh)");
    return;
  }
  const std::string command = "train --model plain --limit 100 --verbose 0 --optimizer nadam --schedule piecewise"
                              " --checkpoint " + quoted(dir / "ck") + " --out " + quoted(dir / "out");
  BOOST_TEST_REQUIRE(run(command + " --epochs 5") == 0, read("stderr"));
  BOOST_TEST(dagrad::nn::load_model((dir / "ck").string())->learning_rate() == 0.001, tt::tolerance(1e-6));
  BOOST_TEST_REQUIRE(run(command + " --epochs 6") == 0, read("stderr"));
  auto model = dagrad::nn::load_model((dir / "ck").string());
  BOOST_TEST(model->epoch() == 6);
  BOOST_TEST(model->learning_rate() == 0.0005, tt::tolerance(1e-6));
}

// Same seed, same thread count: the same bits. At batch 256 the first layer's products
// (256 x 784 x 300) are large enough to run on both threads of OpenBLAS.
BOOST_AUTO_TEST_CASE(the_same_seed_gives_the_same_bits_on_one_and_on_two_threads) {
  if (!have_data()) {
    BOOST_TEST_MESSAGE("skipped: Fashion-MNIST is not installed (scripts/install-deps.sh)");
    return;
  }
  for (int threads : {1, 2}) {
    BOOST_TEST_CONTEXT("--threads " << threads) {
      std::string args =
          "train --limit 1024 --epochs 2 --model bn --optimizer adam --batch-size 256 "
          "--seed 5 --verbose 0 --threads " +
          std::to_string(threads) + " --out ";
      std::string a = "t" + std::to_string(threads) + "a", b = "t" + std::to_string(threads) + "b";
      BOOST_TEST_REQUIRE(run(args + quoted(dir / a)) == 0, read("stderr"));
      BOOST_TEST_REQUIRE(run(args + quoted(dir / b)) == 0, read("stderr"));
      check_same_weights(dir / a / "model", dir / b / "model");
      BOOST_TEST(read(a + "/history.csv") == read(b + "/history.csv"));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
