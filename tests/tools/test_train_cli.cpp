// `dagrad train`, `evaluate`, `predict` and `dot` of a model, run as a user runs them (the real
// binary through the shell), on a slice of the real Fashion-MNIST when it is installed.
#include <sys/wait.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <regex>

#include "dagrad/dagrad.hpp"
#include "fixtures.hpp"

namespace fs = std::filesystem;

namespace {

struct TrainCli : dagrad::test::CliRun {
  TrainCli() : CliRun("train_cli") {}
  std::string q(const fs::path& p) const { return quoted(p); }
};

bool have_data() {
  return fs::is_directory(dagrad::nn::kFashionMnistDir);
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(train_cli, TrainCli)

BOOST_AUTO_TEST_CASE(bad_flags_are_one_line_errors_before_any_work) {
  const std::pair<const char*, const char*> cases[] = {
      {"train --epochs 0", "--epochs"},
      {"train --epochs -3", "--epochs"},
      {"train --lr -1", "--lr"},
      {"train --lr nan", "--lr"},
      {"train --model resnet", "--model: unknown model 'resnet' (presets: plain, "},
      {"train --optimizer sgdd", "sgdd"},
      {"train --schedule cosine", "cosine"},
      {"train --batchnorm sideways", "--batchnorm"},
      {"train --layers 300,x", "--layers"},
      {"train --data /nonexistent/fashion", "dataset-fashion-mnist"},
      {"train --resume /nonexistent/model", "not a model file"},
      {"train --batch-size 0", "--batch-size"},
      {"train --activation swishy", "--activation: unknown activation 'swishy'"},
      {"train --init zeroish", "--init: unknown initializer 'zeroish'"},
      {"train --schedule 1cycle --epochs 1 --limit 50", "1cycle needs at least 3 training steps"},
      {"train --seed -1", "--seed: '-1' is not a seed"},
      {"train --seed abc", "--seed: 'abc' is not a seed"},
      {"train --seed 18446744073709551616", "--seed: '18446744073709551616' is not a seed"},
      {"train --lr 0", "--lr: '0' is not a positive finite number"},
      {"train --lr -1", "--lr: '-1' is not a positive finite number"},
      {"train --lr nan", "--lr: 'nan' is not a positive finite number"},
      {"train --lr inf", "--lr: 'inf' is not a positive finite number"},
      {"train --lr 1e400", "--lr: '1e400' is out of range"},
      {"train --lr abc", "--lr: 'abc' is not a number"},
      {"train --batch-size -1", "--batch-size: Value -1 not in range"},
      {"train --epochs abc", "--epochs: Value abc not in range"},
      {"train --momentum abc", "--momentum = abc"},
      {"train --limit many", "--limit: Value many not in range"},
      {"train --threads 0", "--threads: the thread count must be between 1 and"},
      {"train --threads -1", "--threads: the thread count must be between 1 and"},
      {"train --threads abc", "--threads: 'abc' is not a whole number of threads"},
  };
  for (const auto& [args, part] : cases) {
    BOOST_TEST_CONTEXT(args) {
      BOOST_TEST(run(args) != 0);
      std::string err = read("stderr");
      BOOST_TEST(contains(err, part), err);
      BOOST_TEST(std::count(err.begin(), err.end(), '\n') == 1, err);
      BOOST_TEST(!contains(read("stdout"), "Epoch"));  // nothing was trained
      BOOST_TEST(err.rfind("dagrad: error: ", 0) == 0u, err);
    }
  }
  BOOST_TEST(run("train --help") == 0);
  BOOST_TEST(contains(read("stdout"), "--early-stopping"));
  BOOST_TEST(run("evaluate --help") == 0);
  BOOST_TEST(run("predict --help") == 0);
}

// Two epochs on 1,000 images, then everything a user does with the saved model.
BOOST_AUTO_TEST_CASE(train_evaluate_predict_resume_and_draw) {
  if (!have_data()) {
    BOOST_TEST_MESSAGE("skipped: Fashion-MNIST is not installed (scripts/install-deps.sh)");
    return;
  }
  fs::path out = dir / "run";
  BOOST_TEST(
      run("train --limit 1000 --epochs 2 --model plain --optimizer adam --out " + q(out)) == 0,
      read("stderr"));
  std::string text = read("stdout");
  BOOST_TEST(contains(text, "Total params: 266,610"), text);
  BOOST_TEST(std::regex_search(
                 text, std::regex(R"(Epoch 2/2\n32/32 \[=+\] - \d+s \d+(us|ms|s)/step - loss: )")),
             text);
  std::smatch m;
  BOOST_REQUIRE(std::regex_search(text, m, std::regex(R"(test accuracy: (0\.\d{4})\n)")));
  BOOST_TEST(std::stod(m[1]) > 0.6);  // 2 epochs on 1,000 images: far above chance (0.1)
  BOOST_TEST(fs::exists(out / "model" / "model.json"));
  BOOST_TEST(fs::exists(out / "learning_curves.png"));
  BOOST_TEST(fs::exists(out / "learning_curves.svg"));
  std::string csv = read("run/history.csv");
  BOOST_TEST(csv.rfind("epoch,loss,accuracy,val_loss,val_accuracy\n0,", 0) == 0u, csv);

  BOOST_TEST(run("evaluate " + q(out / "model")) == 0, read("stderr"));
  std::string eval = read("stdout");
  BOOST_TEST(contains(eval, "test accuracy: " + std::string(m[1])),
             eval);  // the same model, the same figure
  BOOST_TEST(contains(eval, "9 Ankle boot"), eval);
  BOOST_TEST(run("predict " + q(out / "model") + " --index 0 --top 2") == 0, read("stderr"));
  BOOST_TEST(contains(read("stdout"), "image 0 (a Ankle boot): "),
             read("stdout"));  // t10k's first label is 9
  BOOST_TEST(run("predict " + q(out / "model") + " --index 10000") != 0);

  BOOST_TEST(
      run("train --limit 1000 --epochs 3 --resume " + q(out / "model") + " --out " + q(out)) == 0,
      read("stderr"));
  BOOST_TEST(contains(read("stdout"), "resumed at epoch 2"), read("stdout"));
  BOOST_TEST(contains(read("stdout"), "Epoch 3/3"));
  BOOST_TEST(!contains(read("stdout"), "Epoch 1/3"));
  BOOST_TEST(run("train --limit 1000 --epochs 2 --resume " + q(out / "model")) !=
             0);  // nothing left to train

  BOOST_TEST(
      run("dot " + q(out / "model") + " --graph inference -o " + q(dir / "inference.dot")) == 0,
      read("stderr"));
  std::string dot = read("inference.dot");
  BOOST_TEST(contains(dot, "predict"));
  BOOST_TEST(!contains(dot, "gradients"));
  BOOST_TEST(run("dot --model bn --graph train -o " + q(dir / "train.dot")) == 0, read("stderr"));
  std::string train = read("train.dot");
  BOOST_TEST(contains(train, "lookahead"));
  BOOST_TEST(contains(train, "gradients"));
}

// Every file under `root` with its bytes, to compare a folder before and after a command.
std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    std::ifstream in(entry.path(), std::ios::binary);
    files[entry.path().string()] =
        entry.is_directory() ? "<dir>"
                             : std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return files;
}

// A bad flag is refused before the output folder is touched: a model saved there stays as it was.
BOOST_AUTO_TEST_CASE(bad_flags_leave_the_output_folder_as_it_was) {
  fs::path out = dir / "out";
  fs::create_directories(out / "model");
  std::ofstream(out / "model" / "model.json") << "{\"the\": \"old model\"}";
  std::ofstream(out / "history.csv") << "epoch,loss\n0,1\n";
  const auto before = snapshot(out);
  for (const char* args : {"--epochs 0", "--epochs -3", "--lr 0", "--lr abc", "--lr 1e400",
                           "--seed -1", "--model resnet", "--optimizer sgdd", "--schedule cosine",
                           "--batch-size -1", "--threads 0", "--layers 300,x", "--activation swishy", "--init zeroish",
                           "--data /nonexistent/fashion"}) {
    BOOST_TEST_CONTEXT(args) {
      BOOST_TEST(run(std::string("train ") + args + " --out " + q(out)) != 0);
      BOOST_TEST(snapshot(out) == before);
      BOOST_TEST(!fs::exists(out / "learning_curves.png"));
    }
  }
}

// Training that diverges under --check-numerics stops at the first NaN or Inf with one line
// naming the node, and saves nothing: the model already in the output folder stays as it was.
BOOST_AUTO_TEST_CASE(check_numerics_stops_a_diverging_run_and_saves_nothing) {
  if (!have_data()) {
    BOOST_TEST_MESSAGE("skipped: Fashion-MNIST is not installed (scripts/install-deps.sh)");
    return;
  }
  fs::path out = dir / "out";
  fs::create_directories(out / "model");
  std::ofstream(out / "model" / "model.json") << "{\"the\": \"old model\"}";
  const auto model_before = snapshot(out / "model");
  BOOST_TEST(run("train --check-numerics --lr 1e30 --optimizer sgd --model plain --limit 256 "
                 "--epochs 1 --verbose 0 --out " + q(out)) != 0);
  std::string err = read("stderr");
  BOOST_TEST(err.rfind("dagrad: error: numerics check: node '", 0) == 0u, err);
  BOOST_TEST(contains(err, "produced NaN or Inf in its output"), err);
  BOOST_TEST(contains(err, ", created at "), err);
  BOOST_TEST(contains(err, "non-finite"), err);
  BOOST_TEST(std::count(err.begin(), err.end(), '\n') == 1, err);
  BOOST_TEST(snapshot(out / "model") == model_before);
  BOOST_TEST(!contains(read("stdout"), "test accuracy"));
  // Without the guard the same run ends (with a NaN loss), exit status 0.
  BOOST_TEST(run("train --lr 1e30 --optimizer sgd --model plain --limit 256 --epochs 1 --verbose 0 "
                 "--out " + q(dir / "unguarded")) == 0, read("stderr"));
  BOOST_TEST(std::regex_search(read("stdout"), std::regex("test loss: -?nan\\n")), read("stdout"));
}

BOOST_AUTO_TEST_SUITE_END()
