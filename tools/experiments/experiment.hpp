// `dagrad experiment NAME`: the chapter's claims (Géron, ch. 11) checked on Fashion-MNIST. Each
// experiment trains its variants over several seeds and returns a table (mean and spread over
// seeds) and the panels of one chart; the command prints the table and writes NAME.md, NAME.csv,
// NAME.png and NAME.svg under --out.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "dagrad/nn/nn.hpp"
#include "dagrad/optim/optim.hpp"
#include "tools/chart.hpp"

namespace dagrad::tools::experiments {

// The command's flags, with the experiment's defaults filled in.
struct Options {
  int epochs = 0;
  int seeds = 0;
  std::int64_t limit = 0;       // training images used (of 55,000)
  std::uint64_t seed = 42;      // the k-th seed of a variant is seed + k
  std::string model = "dense";  // the network family, for experiments with several (`models`)
  int verbose = 0;              // 0 quiet, 1 one line per run, 2 also the fit's per-epoch lines
  std::ostream* log = nullptr;  // where runs are reported (std::cerr when null)
  std::uint64_t seed_of(int k) const { return seed + static_cast<std::uint64_t>(k); }
};

// A table of strings: printed aligned, saved as Markdown (for the README) and CSV.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  // Throws std::invalid_argument when the row's width differs from the header's.
  void add(std::vector<std::string> row);
  const std::vector<std::string>& header() const { return header_; }
  const std::vector<std::vector<std::string>>& rows() const { return rows_; }
  std::string text() const;      // columns padded, numbers right-aligned
  std::string markdown() const;  // a GitHub table
  std::string csv() const;       // RFC 4180 quoting

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// What an experiment returns.
struct Report {
  Table table{{}};
  std::vector<ChartPanel> panels;
  std::string title;               // the chart's title
  std::vector<std::string> notes;  // lines printed under the table (what to read in it)
};

struct Experiment {
  std::string name;
  std::string claim;     // what the chapter claims, in a line
  std::string duration;  // how long the defaults take here ("about 2 min")
  int epochs = 10, seeds = 3;
  std::int64_t limit = 10000;
  std::function<Report(const Options&, const nn::FashionMnist&)> run;
  // The values --model takes (the first is the default); other experiments have only "dense".
  std::vector<std::string> models = {"dense"};
};

// Every experiment, in the chapter's order.
const std::vector<Experiment>& all();

// ---- helpers the experiments share (tools/experiments/experiment.cpp) ----

// "0.8512" (digits after the point).
std::string fixed(double value, int digits = 4);
// "0.00123", "1.5e-05" (significant digits, for values spanning decades such as rates).
std::string general(double value, int significant = 3);
// "Mean ± standard deviation over 3 seeds" ("1 seed"): how every table's figures were made.
std::string over_seeds(const Options& options);
// Mean and sample standard deviation (0 for one value; NaN values count as NaN).
struct Spread {
  double mean = 0, stddev = 0;
};
Spread spread(const std::vector<double>& values);
// "0.8512 ± 0.0031", or "0.8512" for one value; "nan" when any is not finite.
std::string mean_spread(const std::vector<double>& values, int digits = 4);
// The same in significant digits: "0.0055 ± 0.0021", "1e-05".
std::string mean_spread_general(const std::vector<double>& values, int significant = 2);

// A model of `spec` in a new backend of graph seed `seed`, its Normalization layer (if any)
// adapted to the training images.
std::unique_ptr<nn::Sequential> build(const nn::ModelSpec& spec, std::uint64_t seed,
                                      const nn::FashionMnist& data);

struct Run {
  nn::History history;
  double test_loss = 0, test_accuracy = 0;
  double seconds = 0;
};
struct TrainSettings {
  std::int64_t batch_size = 32;
  std::vector<nn::CallbackPtr> callbacks = {};
  std::string label;  // for the log line
};
// Compiles `model` with `optimizer` (sparse categorical cross-entropy, accuracy), fits it on the
// training set for options.epochs with the validation set, evaluates on the test set, and logs one
// line when options.verbose >= 1.
Run train(nn::Model& model, optim::OptimizerPtr optimizer, const nn::FashionMnist& data,
          const Options& options, std::uint64_t seed, const TrainSettings& settings = {});

// The per-epoch mean of `key` over runs, with its spread over seeds as a band (1-based epochs).
Curve mean_curve(const std::string& label, const std::vector<Run>& runs, const std::string& key);
// The last epoch's value of `key` in each run.
std::vector<double> last(const std::vector<Run>& runs, const std::string& key);
// The test accuracies of runs.
std::vector<double> test_accuracies(const std::vector<Run>& runs);

// Rows [begin, end) of x (any dtype, rank >= 1) as a new tensor; std::out_of_range when the range
// is not inside x's first dimension.
Tensor take_rows(const Tensor& x, std::int64_t begin, std::int64_t end);
// The rows of x listed in `indices`, in that order (std::out_of_range for an index outside x).
Tensor gather(const Tensor& x, const std::vector<std::int64_t>& indices);
// The share of rows of `probabilities` (n, classes) whose largest entry is at the label
// (labels: n class indices of any numeric dtype).
double accuracy(const Tensor& probabilities, const Tensor& labels);

}  // namespace dagrad::tools::experiments
