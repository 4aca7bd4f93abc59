// dagrad's side of the executor benchmark (bench/README.md, "Training step benchmark"): the
// chapter's MLP trained in one compiled plan on synthetic Fashion-MNIST-shaped data, its
// batch-1 inference latency, the GEMM-only roofline of each training step, and the time to build,
// differentiate and compile the deep selu model's training graph. bench/torch_reference.py is the
// PyTorch side (same data generator, models, optimizer and JSON records); bench/run_bench.sh runs
// both in turn.
//
//   dagrad_bench [--only train,gemm,latency,build] [--model plain|bn|cnn|all] [--batch 32,256]
//                [--steps N] [--repeats R] [--warmup N] [--samples N] [--threads N]
//                [--latency-runs N] [--depths 100,200,400] [--seed S] [--format table|json|both]
#include <cblas.h>
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <dagrad/dagrad.hpp>
#include <iostream>
#include <numeric>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace dagrad;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The value below which a fraction q of v lies (nearest rank).
double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  auto i = static_cast<std::size_t>(std::llround(q * static_cast<double>(v.size() - 1)));
  return v[i];
}

// ---- options ------------------------------------------------------------------------------

struct Options {
  std::set<std::string> only = {"train", "gemm", "latency", "build"};
  std::vector<std::string> models = {"plain", "bn"};
  std::vector<std::int64_t> batches = {32, 256};
  std::int64_t steps = 0;    // per timed repeat; 0: one epoch
  std::int64_t warmup = -1;  // steps before timing; -1: one epoch
  int repeats = 5;
  std::int64_t samples = 8192;
  int threads = 0;  // 0: leave OpenBLAS's setting (OPENBLAS_NUM_THREADS) alone
  int latency_runs = 2000;
  std::vector<std::int64_t> depths = {100, 200, 400};
  std::uint64_t seed = 42;
  std::string format = "table";
  bool buffer_reuse = true;
  std::vector<std::string> skipped_passes;  // graph passes switched off (before/after figures)
};

const char* kUsage =
    "usage: dagrad_bench [options]\n"
    "  --only LIST        figures, comma-separated: train, gemm, latency, build (default all)\n"
    "  --model M          plain, bn, cnn or all (default all: plain and bn; cnn is the cnn\n"
    "                     preset, whose GEMM roofline is not measured)\n"
    "  --batch LIST       training batch sizes (default 32,256)\n"
    "  --steps N          training steps per timed repeat (default: one epoch, samples/batch)\n"
    "  --warmup N         untimed training steps first (default: one epoch)\n"
    "  --repeats R        timed repeats; the median is reported (default 5)\n"
    "  --samples N        synthetic training samples (default 8192)\n"
    "  --threads N        threads of OpenBLAS and dagrad (dagrad::set_num_threads; default: "
    "OPENBLAS_NUM_THREADS)\n"
    "  --latency-runs N   batch-1 inference runs timed one by one (default 2000)\n"
    "  --depths LIST      hidden layers of the selu build figure (default 100,200,400)\n"
    "  --seed S           data, weights and shuffling seed (default 42)\n"
    "  --buffer-reuse B   on or off: plans reuse buffers (Session::set_buffer_reuse; default on)\n"
    "  --skip-passes LIST graph passes to switch off in the train and latency figures, by name\n"
    "                     (OptimizerOptions::disabled; default none)\n"
    "  --format F         table (stdout), json (JSON lines on stdout), both (JSON on stdout,\n"
    "                     table on stderr); default table\n";

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "dagrad_bench: " << message << "\n" << kUsage;
  std::exit(2);
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

std::int64_t to_int(const std::string& flag, const std::string& s, std::int64_t min) {
  std::size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != s.size() || s.empty() || v < min)
    usage_error(flag + " takes an integer >= " + std::to_string(min) + ", got '" + s + "'");
  return v;
}

std::vector<std::int64_t> to_ints(const std::string& flag, const std::string& s) {
  std::vector<std::int64_t> out;
  for (const std::string& item : split(s)) out.push_back(to_int(flag, item, 1));
  if (out.empty()) usage_error(flag + " takes a comma-separated list of integers");
  return out;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "-h" || flag == "--help") {
      std::cout << kUsage;
      std::exit(0);
    }
    if (i + 1 >= argc) usage_error("unknown flag or missing value: " + flag);
    std::string v = argv[++i];
    if (flag == "--only") {
      o.only.clear();
      for (const std::string& f : split(v)) {
        if (f != "train" && f != "gemm" && f != "latency" && f != "build")
          usage_error("--only: unknown figure '" + f + "' (train, gemm, latency, build)");
        o.only.insert(f);
      }
    } else if (flag == "--model") {
      if (v == "all")
        o.models = {"plain", "bn"};
      else if (v == "plain" || v == "bn" || v == "cnn")
        o.models = {v};
      else
        usage_error("--model takes plain, bn, cnn or all, got '" + v + "'");
    } else if (flag == "--batch") {
      o.batches = to_ints(flag, v);
    } else if (flag == "--steps") {
      o.steps = to_int(flag, v, 1);
    } else if (flag == "--warmup") {
      o.warmup = to_int(flag, v, 0);
    } else if (flag == "--repeats") {
      o.repeats = static_cast<int>(to_int(flag, v, 1));
    } else if (flag == "--samples") {
      o.samples = to_int(flag, v, 1);
    } else if (flag == "--threads") {
      o.threads = static_cast<int>(to_int(flag, v, 1));
    } else if (flag == "--latency-runs") {
      o.latency_runs = static_cast<int>(to_int(flag, v, 1));
    } else if (flag == "--depths") {
      o.depths = to_ints(flag, v);
    } else if (flag == "--seed") {
      o.seed = static_cast<std::uint64_t>(to_int(flag, v, 0));
    } else if (flag == "--buffer-reuse") {
      if (v != "on" && v != "off") usage_error("--buffer-reuse takes on or off");
      o.buffer_reuse = v == "on";
    } else if (flag == "--skip-passes") {
      o.skipped_passes = split(v);
      check_pass_names(default_pipeline(), o.skipped_passes);
    } else if (flag == "--format") {
      if (v != "table" && v != "json" && v != "both")
        usage_error("--format takes table, json or both");
      o.format = v;
    } else {
      usage_error("unknown flag " + flag);
    }
  }
  for (std::int64_t b : o.batches)
    if (b > o.samples) usage_error("--batch " + std::to_string(b) + " exceeds --samples");
  return o;
}

struct BlasInfo {
  int threads = -1;              // -1: not OpenBLAS
  std::string core = "unknown";  // the kernel set OpenBLAS runs ("Haswell", "SkylakeX", ...)
};

// Sets the thread count (when set > 0) through dagrad::set_num_threads, as the dagrad commands'
// --threads does, and reads OpenBLAS's kernel set through the symbol OpenBLAS exports (absent
// from other BLAS libraries, hence dlsym, not a link-time dependency).
BlasInfo blas_setup(int set) {
  if (set > 0) {
    set_num_threads(set);
    if (!blas_threads_settable())
      std::cerr << "dagrad_bench: --threads: the BLAS in use is not OpenBLAS; its threads are its own\n";
  }
  BlasInfo info;
  if (blas_threads_settable()) info.threads = num_threads();
  if (auto core = reinterpret_cast<char* (*)()>(::dlsym(RTLD_DEFAULT, "openblas_get_corename")))
    info.core = core();
  return info;
}

// ---- output -------------------------------------------------------------------------------

// One JSON object built field by field: numbers, strings, arrays of numbers.
class Record {
 public:
  Record& add(const std::string& key, const std::string& value) {
    field(key) << '"' << value << '"';
    return *this;
  }
  Record& add(const std::string& key, const char* value) { return add(key, std::string(value)); }
  Record& add(const std::string& key, bool value) {
    field(key) << (value ? "true" : "false");
    return *this;
  }
  Record& add(const std::string& key, double value) {
    if (std::isfinite(value)) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.6g", value);
      field(key) << buf;
    } else {
      field(key) << "null";
    }
    return *this;
  }
  Record& add(const std::string& key, std::int64_t value) {
    field(key) << value;
    return *this;
  }
  Record& add(const std::string& key, int value) {
    return add(key, static_cast<std::int64_t>(value));
  }
  template <class T>
  Record& add(const std::string& key, const std::vector<T>& values) {
    std::ostream& os = field(key);
    os << '[';
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i) os << ", ";
      if constexpr (std::is_floating_point_v<T>) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.6g", static_cast<double>(values[i]));
        os << buf;
      } else {
        os << values[i];
      }
    }
    os << ']';
    return *this;
  }
  std::string str() const { return "{" + body_.str() + "}"; }

 private:
  std::ostream& field(const std::string& key) {
    if (!first_) body_ << ", ";
    first_ = false;
    body_ << '"' << key << "\": ";
    return body_;
  }
  std::ostringstream body_;
  bool first_ = true;
};

// Where figures go: JSON lines (each record with the BLAS settings added) and the table.
struct Report {
  std::ostream& table;
  bool json;
  bool tabulate;
  BlasInfo blas;

  Report(const Options& o, BlasInfo info)
      : table(o.format == "both" ? std::cerr : std::cout),
        json(o.format != "table"),
        tabulate(o.format != "json"),
        blas(std::move(info)) {}
  void emit(Record& r) {
    r.add("threads", blas.threads).add("blas_core", blas.core);
    if (json) std::cout << r.str() << "\n" << std::flush;
  }
};

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// ---- synthetic data -----------------------------------------------------------------------
// Counter-based draws (splitmix64), reproduced bit for bit by torch_reference.py: draw i of
// stream s is mix(base_s + (i + 1) * golden) with base_s = mix(seed ^ (s * golden)).
constexpr std::uint64_t kGolden = 0x9E3779B97F4A7C15ull;

std::uint64_t mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

struct Stream {
  std::uint64_t base;
  Stream(std::uint64_t seed, std::uint64_t stream) : base(mix(seed ^ (stream * kGolden))) {}
  std::uint64_t draw(std::uint64_t i) const { return mix(base + (i + 1) * kGolden); }
};

constexpr std::int64_t kInputs = 784, kClasses = 10;

// n images of 28x28 "pixels" uniform in [0, 1) (multiples of 2^-24, exact in float32), and
// labels that are a learnable function of them: argmax over classes of (x - 0.5) . W[:, c] for a
// fixed W uniform in [-1, 1), summed in float64 in pixel order (as the reference does).
struct Data {
  Tensor x;  // float32 (n, 28, 28)
  Tensor y;  // int64 (n,)
  std::vector<std::int64_t> label_counts;
};

Data make_data(std::int64_t n, std::uint64_t seed) {
  Data d{Tensor(DType::float32, Shape{n, 28, 28}), Tensor(DType::int64, Shape{n}),
         std::vector<std::int64_t>(kClasses, 0)};
  Stream pixels(seed, 1), weights(seed, 2);
  std::vector<double> w(kInputs * kClasses);
  for (std::size_t i = 0; i < w.size(); ++i)
    w[i] = static_cast<double>(weights.draw(i) >> 11) * 0x1p-53 * 2.0 - 1.0;
  float* x = d.x.data<float>();
  std::int64_t* y = d.y.data<std::int64_t>();
  for (std::int64_t s = 0; s < n; ++s) {
    double score[kClasses] = {};
    for (std::int64_t j = 0; j < kInputs; ++j) {
      std::int64_t i = s * kInputs + j;
      x[i] = static_cast<float>(pixels.draw(static_cast<std::uint64_t>(i)) >> 40) * 0x1p-24f;
      double centered = static_cast<double>(x[i]) - 0.5;
      for (std::int64_t c = 0; c < kClasses; ++c) {
        double term = centered * w[j * kClasses + c];
        score[c] += term;
      }
    }
    y[s] = std::max_element(score, score + kClasses) - score;
    ++d.label_counts[y[s]];
  }
  return d;
}

// ---- models -------------------------------------------------------------------------------

// The chapter's MLP: Flatten, [BN], Dense(300, elu, he_normal), [BN], Dense(100, elu,
// he_normal), [BN], Dense(10, softmax) (glorot_uniform, zero biases).
std::unique_ptr<nn::Sequential> make_mlp(const std::string& model, std::uint64_t seed) {
  bool bn = model == "bn";
  std::vector<nn::LayerPtr> layers{nn::Flatten({28, 28})};
  if (bn) layers.push_back(nn::BatchNormalization());
  for (std::int64_t units : {300, 100}) {
    layers.push_back(nn::Dense(units, {.activation = "elu", .kernel_initializer = "he_normal"}));
    if (bn) layers.push_back(nn::BatchNormalization());
  }
  layers.push_back(nn::Dense(kClasses, {.activation = "softmax"}));
  return std::make_unique<nn::Sequential>(layers, model, std::make_shared<nn::Backend>(seed));
}

// The benchmark's models: the MLPs above, or "cnn", the preset of that name (nn/presets.cpp:
// Conv(32)-BN-ReLU-MaxPool, Conv(64)-BN-ReLU-MaxPool, Dense 128-BN-ReLU, Dense 10 softmax) as
// `dagrad train --model cnn` trains it.
std::unique_ptr<nn::Sequential> make_bench_model(const std::string& model, std::uint64_t seed) {
  if (model == "cnn") return nn::make_preset("cnn", {}, std::make_shared<nn::Backend>(seed));
  return make_mlp(model, seed);
}

// The training step as a user builds it with the public API (what Model::compile does): the
// training graph's sparse categorical cross-entropy, minimized over the trainable weights by
// `optimizer`, with the forward pass's state updates (BatchNormalization's moving statistics).
struct TrainStep {
  Output x, labels, loss;
  Operation train_op;
};

TrainStep build_train_step(nn::Model& model, const optim::OptimizerPtr& optimizer) {
  const nn::ModelGraph& train = model.training_graph();
  Output labels = placeholder(model.graph(), DType::int64, Shape{-1}, "labels");
  Output loss = nn::Loss("sparse_categorical_crossentropy")(labels, train.outputs[0]);
  optim::StepRequest request;
  request.updates = train.updates;
  optim::TrainStep step = optimizer->minimize(loss, train.trainable_variables, request);
  return {train.inputs[0], labels, step.loss, step.train_op};
}

optim::OptimizerPtr sgd(double learning_rate, double momentum, bool nesterov) {
  optim::SGDOptions options;
  options.learning_rate = learning_rate;
  options.momentum = momentum;
  options.nesterov = nesterov;
  return optim::SGD(options);
}

// ---- training throughput ------------------------------------------------------------------

struct TrainResult {
  std::vector<double> samples_per_s;  // one per repeat
  std::vector<float> losses;          // every step's loss, warm-up included
};

// Trains `step` on `data` in batches of `batch`, reshuffled every epoch (a permutation per epoch
// gathered into per-batch tensors allocated once, the remainder of n / batch dropped); times
// `repeats` runs of `steps` steps after `warmup` steps. The reshuffles inside a timed run are
// timed, as they are part of training.
TrainResult train(Session& session, const TrainStep& step, const Data& data, std::int64_t batch,
                  std::int64_t steps, std::int64_t warmup, int repeats, std::uint64_t seed) {
  Plan& plan = session.compile({step.loss}, {step.train_op}, {step.x, step.labels});
  std::int64_t n = data.x.shape()[0], per_epoch = n / batch;
  std::vector<Tensor> batch_x, batch_y;
  for (std::int64_t s = 0; s < per_epoch; ++s) {
    batch_x.emplace_back(DType::float32, Shape{batch, 28, 28});
    batch_y.emplace_back(DType::int64, Shape{batch});
  }
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::int64_t epoch = 0, cursor = per_epoch;
  auto next_batch = [&]() -> std::int64_t {
    if (cursor == per_epoch) {
      std::iota(order.begin(), order.end(), 0);
      std::mt19937_64 rng(seed + static_cast<std::uint64_t>(epoch++));
      std::shuffle(order.begin(), order.end(), rng);
      const float* x = data.x.data<float>();
      const std::int64_t* y = data.y.data<std::int64_t>();
      for (std::int64_t s = 0; s < per_epoch; ++s) {
        float* bx = batch_x[s].data<float>();
        std::int64_t* by = batch_y[s].data<std::int64_t>();
        for (std::int64_t r = 0; r < batch; ++r) {
          std::int64_t src = order[static_cast<std::size_t>(s * batch + r)];
          std::copy_n(x + src * kInputs, kInputs, bx + r * kInputs);
          by[r] = y[src];
        }
      }
      cursor = 0;
    }
    return cursor++;
  };
  TrainResult result;
  result.losses.reserve(static_cast<std::size_t>(warmup + steps * repeats));
  auto run_steps = [&](std::int64_t count) {
    for (std::int64_t i = 0; i < count; ++i) {
      std::int64_t b = next_batch();
      Tensor feeds[2] = {batch_x[b], batch_y[b]};
      result.losses.push_back(plan.run(feeds)[0].item<float>());
    }
  };
  run_steps(warmup);
  if (warmup > 0)
    std::cerr << "dagrad_bench: training plan at batch " << batch << " binds " << plan.bound_bytes()
              << " bytes of buffers, " << plan.view_steps() << " steps are views\n";
  for (int r = 0; r < repeats; ++r) {
    auto start = Clock::now();
    run_steps(steps);
    result.samples_per_s.push_back(static_cast<double>(steps * batch) / seconds_since(start));
  }
  return result;
}

double mean_of(const std::vector<float>& v, std::size_t from, std::size_t to) {
  double s = 0;
  for (std::size_t i = from; i < to; ++i) s += v[i];
  return to > from ? s / static_cast<double>(to - from) : std::nan("");
}

// ---- GEMM roofline ------------------------------------------------------------------------

// One matrix product of the step, as the matmul kernel hands it to BLAS.
struct Gemm {
  bool ta, tb;
  int m, n, k;
  int count;  // products of this shape per matmul node (a batched matmul loops)
  std::string node;
};

// The matmul nodes a request runs: every node reachable from the fetches and targets through
// inputs and control dependencies (what the executor prunes to), batch dimensions bound to
// `batch`. Read from the user's graph, so it counts what the training step asks for whatever
// the executor later fuses.
std::vector<Gemm> step_gemms(const Graph& g, const std::vector<int>& roots, std::int64_t batch) {
  std::vector<bool> seen(static_cast<std::size_t>(g.num_nodes()), false);
  std::vector<int> stack = roots;
  std::vector<int> matmuls;
  while (!stack.empty()) {
    int id = stack.back();
    stack.pop_back();
    if (seen[id]) continue;
    seen[id] = true;
    const Node& node = g.node(id);
    if (node.op->name == "matmul") matmuls.push_back(id);
    for (const NodeInput& in : node.inputs) stack.push_back(in.node);
    for (int c : node.control_inputs) stack.push_back(c);
  }
  std::sort(matmuls.begin(), matmuls.end());
  std::vector<Gemm> out;
  for (int id : matmuls) {
    const Node& node = g.node(id);
    auto dims = [&](int input) {
      const NodeInput& in = node.inputs[input];
      std::vector<std::int64_t> d = g.node(in.node).output_shapes[in.index].dims();
      for (std::int64_t& v : d)
        if (v == Shape::kUnknown) v = batch;
      return d;
    };
    std::vector<std::int64_t> a = dims(0), b = dims(1);
    bool ta = node.attrs.get_bool("transpose_a"), tb = node.attrs.get_bool("transpose_b");
    std::size_t ra = a.size(), rb = b.size();
    std::int64_t m = ta ? a[ra - 1] : a[ra - 2], k = ta ? a[ra - 2] : a[ra - 1];
    std::int64_t n = tb ? b[rb - 2] : b[rb - 1];
    std::int64_t count = 1;
    for (std::size_t i = 0; i + 2 < std::max(ra, rb); ++i) count *= (ra > rb ? a[i] : b[i]);
    if (rb == 2 && !ta) m *= count, count = 1;  // the kernel folds the batch into the rows
    out.push_back({ta, tb, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k),
                   static_cast<int>(count), node.name});
  }
  return out;
}

// The largest error of the products against float64 sums, each relative to sum |a_ik b_kj| (so a
// sum that cancels to near zero is not judged by its own tiny size): a BLAS kernel that computes
// wrong results (some OpenBLAS builds on some processors) is caught before it is timed.
double gemm_error(const Gemm& g, const std::vector<float>& a, const std::vector<float>& b,
                  const std::vector<float>& c) {
  double worst = 0;
  for (int i = 0; i < g.m; ++i)
    for (int j = 0; j < g.n; ++j) {
      double sum = 0, scale = 0;
      for (int p = 0; p < g.k; ++p) {
        double x = g.ta ? a[static_cast<std::size_t>(p) * g.m + i]
                        : a[static_cast<std::size_t>(i) * g.k + p];
        double y = g.tb ? b[static_cast<std::size_t>(j) * g.k + p]
                        : b[static_cast<std::size_t>(p) * g.n + j];
        sum += x * y;
        scale += std::abs(x * y);
      }
      double got = c[static_cast<std::size_t>(i) * g.n + j];
      if (scale > 0) worst = std::max(worst, std::abs(got - sum) / scale);
    }
  return worst;
}

struct GemmTiming {
  std::vector<double> seconds_per_step;  // one per repeat
  double max_error = 0;
};

// Seconds per step of the GEMMs alone (cblas_sgemm, row-major, on the BLAS thread count the
// matmul kernel picks for each size, as the kernel calls it),
// over repeats of `steps` steps each, on buffers kept hot in cache: the best case. The products
// are checked once against float64 first (ModelError beyond float32's rounding).
GemmTiming time_gemms(const std::vector<Gemm>& gemms, std::int64_t steps, int repeats,
                      std::uint64_t seed) {
  struct Buffers {
    std::vector<float> a, b, c;
  };
  Stream values(seed, 3);
  std::uint64_t drawn = 0;
  auto filled = [&](std::size_t size) {
    std::vector<float> v(size);
    for (float& e : v) e = static_cast<float>(values.draw(drawn++) >> 40) * 0x1p-23f - 1.0f;
    return v;
  };
  std::vector<Buffers> buffers;
  for (const Gemm& g : gemms)
    buffers.push_back({filled(static_cast<std::size_t>(g.m) * g.k),
                       filled(static_cast<std::size_t>(g.k) * g.n),
                       std::vector<float>(static_cast<std::size_t>(g.m) * g.n)});
  auto set_threads =
      reinterpret_cast<void (*)(int)>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  auto one_step = [&] {
    for (std::size_t i = 0; i < gemms.size(); ++i) {
      const Gemm& g = gemms[i];
      if (set_threads) set_threads(blas_threads_for(static_cast<double>(g.m) * g.n * g.k));
      for (int c = 0; c < g.count; ++c)
        cblas_sgemm(CblasRowMajor, g.ta ? CblasTrans : CblasNoTrans,
                    g.tb ? CblasTrans : CblasNoTrans, g.m, g.n, g.k, 1.0f, buffers[i].a.data(),
                    g.ta ? g.m : g.k, buffers[i].b.data(), g.tb ? g.k : g.n, 0.0f,
                    buffers[i].c.data(), g.n);
    }
  };
  GemmTiming t;
  one_step();
  for (std::size_t i = 0; i < gemms.size(); ++i)
    t.max_error =
        std::max(t.max_error, gemm_error(gemms[i], buffers[i].a, buffers[i].b, buffers[i].c));
  if (t.max_error > 1e-4)
    throw nn::ModelError("the BLAS gemm is wrong: relative error " + std::to_string(t.max_error) +
                         " against float64 sums (try another OPENBLAS_CORETYPE)");
  for (int i = 0; i < 20; ++i) one_step();
  for (int r = 0; r < repeats; ++r) {
    auto start = Clock::now();
    for (std::int64_t s = 0; s < steps; ++s) one_step();
    t.seconds_per_step.push_back(seconds_since(start) / static_cast<double>(steps));
  }
  return t;
}

// ---- figures ------------------------------------------------------------------------------

void train_figures(const Options& o, Report& report, const Data& data) {
  bool timing = o.only.count("train") > 0;
  if (report.tabulate)
    report.table << "training, median of " << o.repeats << " repeats\n"
                 << "  model  batch    samples/s  gemm-only samples/s  of roofline  gemms  loss "
                    "first -> last\n";
  for (const std::string& model_name : o.models) {
    for (std::int64_t batch : o.batches) {
      std::int64_t per_epoch = data.x.shape()[0] / batch;
      std::int64_t steps = o.steps > 0 ? o.steps : per_epoch;
      std::int64_t warmup = o.warmup >= 0 ? o.warmup : per_epoch;
      // The roofline counts matmul nodes only: a convolution's products are not among them.
      bool roofline = o.only.count("gemm") > 0 && model_name != "cnn";
      std::unique_ptr<nn::Sequential> model = make_bench_model(model_name, o.seed);
      TrainStep step = build_train_step(*model, sgd(0.01, 0.9, true));
      model->session().set_buffer_reuse(o.buffer_reuse);
      model->session().set_optimizer_options({.disabled = o.skipped_passes, .enabled = {}});
      model->session().initialize_variables();
      std::vector<Gemm> gemms;
      if (model_name != "cnn")
        gemms = step_gemms(model->graph(), {step.loss.node, step.train_op.node}, batch);

      double train_sps = std::nan(""), gemm_sps = std::nan(""), first = std::nan(""),
             last = std::nan("");
      if (timing) {
        TrainResult r =
            train(model->session(), step, data, batch, steps, warmup, o.repeats, o.seed);
        train_sps = median(r.samples_per_s);
        std::size_t total = r.losses.size(), window = std::min<std::size_t>(10, total);
        first = mean_of(r.losses, 0, window);
        last = mean_of(r.losses, total - window, total);
        Record rec;
        rec.add("impl", "dagrad")
            .add("figure", "train")
            .add("model", model_name)
            .add("batch", batch)
            .add("samples_per_s", train_sps)
            .add("runs", r.samples_per_s)
            .add("steps", steps)
            .add("warmup", warmup)
            .add("repeats", o.repeats)
            .add("samples", data.x.shape()[0])
            .add("total_steps", static_cast<std::int64_t>(total))
            .add("initial_loss", first)
            .add("final_loss", last)
            .add("loss_decreased", last < first)
            .add("label_counts", data.label_counts);
        report.emit(rec);
      }
      if (roofline) {
        GemmTiming timing_gemms = time_gemms(gemms, steps, o.repeats, o.seed);
        gemm_sps = static_cast<double>(batch) / median(timing_gemms.seconds_per_step);
        std::vector<std::int64_t> shapes;  // m, n, k, ta, tb per product
        double flops = 0;
        for (const Gemm& g : gemms) {
          shapes.insert(shapes.end(), {g.m, g.n, g.k, g.ta, g.tb});
          flops += 2.0 * g.m * g.n * g.k * g.count;
        }
        Record rec;
        rec.add("impl", "dagrad")
            .add("figure", "gemm")
            .add("model", model_name)
            .add("batch", batch)
            .add("samples_per_s", gemm_sps)
            .add("gemms", static_cast<std::int64_t>(gemms.size()))
            .add("mnk_ta_tb", shapes)
            .add("gflops", flops * gemm_sps / static_cast<double>(batch) * 1e-9)
            .add("max_relative_error", timing_gemms.max_error);
        if (timing) rec.add("fraction_of_roofline", train_sps / gemm_sps);
        report.emit(rec);
      }
      if (report.tabulate) {
        auto cell = [](double v, int width, int decimals) {
          std::string text = std::isfinite(v) ? fixed(v, decimals) : "-";
          return std::string(
                     static_cast<std::size_t>(std::max(0, width - static_cast<int>(text.size()))),
                     ' ') +
                 text;
        };
        report.table << "  " << std::string(model_name + "     ").substr(0, 5)
                     << cell(static_cast<double>(batch), 7, 0) << cell(train_sps, 13, 0)
                     << cell(gemm_sps, 21, 0) << cell(train_sps / gemm_sps, 13, 3)
                     << cell(static_cast<double>(gemms.size()), 7, 0) << "  "
                     << (timing ? fixed(first, 4) + " -> " + fixed(last, 4) : "-") << "\n";
      }
    }
  }
}

void latency_figure(const Options& o, Report& report, const Data& data) {
  std::unique_ptr<nn::Sequential> model = make_mlp("plain", o.seed);
  const nn::ModelGraph& inference = model->inference_graph();
  model->session().set_optimizer_options({.disabled = o.skipped_passes, .enabled = {}});
  model->session().initialize_variables();
  Plan& plan = model->session().compile({inference.outputs[0]}, {}, {inference.inputs[0]});
  Tensor one(DType::float32, Shape{1, 28, 28});
  std::copy_n(data.x.data<float>(), kInputs, one.data<float>());
  Tensor feeds[1] = {one};
  for (int i = 0; i < 200; ++i) plan.run(feeds);
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(o.latency_runs));
  for (int i = 0; i < o.latency_runs; ++i) {
    auto start = Clock::now();
    std::vector<Tensor> out = plan.run(feeds);
    us.push_back(seconds_since(start) * 1e6);
  }
  double med = median(us);
  Record rec;
  rec.add("impl", "dagrad")
      .add("figure", "latency")
      .add("model", "plain")
      .add("batch", 1)
      .add("us", med)
      .add("us_p10", quantile(us, 0.1))
      .add("us_p90", quantile(us, 0.9))
      .add("runs", o.latency_runs);
  report.emit(rec);
  if (report.tabulate)
    report.table << "inference latency, plain model, batch 1: median " << fixed(med, 1)
                 << " us (p10 " << fixed(quantile(us, 0.1), 1) << ", p90 "
                 << fixed(quantile(us, 0.9), 1) << ", " << o.latency_runs << " runs)\n";
}

// The chapter's deep selu network: Flatten, `depth` x Dense(100, selu, lecun_normal),
// Dense(10, softmax), trained by plain SGD (learning rate 1e-3, as the chapter's selu run).
// Phases, each timed alone on a fresh graph: build (layers, training graph, loss), differentiate
// (minimize: gradients and the optimizer's updates), compile (Session::compile of the step),
// then, for reference, initializing the variables and the first step at batch 32 (where the
// plan binds its shapes and allocates).
struct BuildTimes {
  double build_ms, differentiate_ms, compile_ms, init_ms, first_step_ms;
  int nodes;
};

BuildTimes time_selu_build(std::int64_t depth, std::uint64_t seed, const Data& data) {
  BuildTimes t{};
  auto start = Clock::now();
  std::vector<nn::LayerPtr> layers{nn::Flatten({28, 28})};
  for (std::int64_t i = 0; i < depth; ++i)
    layers.push_back(nn::Dense(100, {.activation = "selu", .kernel_initializer = "lecun_normal"}));
  layers.push_back(nn::Dense(kClasses, {.activation = "softmax"}));
  nn::Sequential model(layers, "selu", std::make_shared<nn::Backend>(seed));
  const nn::ModelGraph& train = model.training_graph();
  Output labels = placeholder(model.graph(), DType::int64, Shape{-1}, "labels");
  Output loss = nn::Loss("sparse_categorical_crossentropy")(labels, train.outputs[0]);
  t.build_ms = seconds_since(start) * 1e3;

  start = Clock::now();
  optim::StepRequest request;
  request.updates = train.updates;
  optim::TrainStep step = sgd(1e-3, 0.0, false)->minimize(loss, train.trainable_variables, request);
  t.differentiate_ms = seconds_since(start) * 1e3;
  t.nodes = model.graph().num_nodes();

  start = Clock::now();
  Plan& plan = model.session().compile({step.loss}, {step.train_op}, {train.inputs[0], labels});
  t.compile_ms = seconds_since(start) * 1e3;

  start = Clock::now();
  model.session().initialize_variables();
  t.init_ms = seconds_since(start) * 1e3;

  Tensor x(DType::float32, Shape{32, 28, 28}), y(DType::int64, Shape{32});
  std::copy_n(data.x.data<float>(), 32 * kInputs, x.data<float>());
  std::copy_n(data.y.data<std::int64_t>(), 32, y.data<std::int64_t>());
  Tensor feeds[2] = {x, y};
  start = Clock::now();
  plan.run(feeds);
  t.first_step_ms = seconds_since(start) * 1e3;
  return t;
}

void build_figures(const Options& o, Report& report, const Data& data) {
  if (report.tabulate)
    report.table
        << "selu training graph (ms, median of " << o.repeats << " fresh graphs)\n"
        << "  depth   nodes     build  differentiate   compile   sum   (init, first step)\n";
  std::vector<std::int64_t> depths = o.depths;
  std::vector<BuildTimes> medians;
  for (std::int64_t depth : depths) {
    std::vector<double> b, d, c, i, f;
    int nodes = 0;
    for (int r = 0; r < o.repeats; ++r) {
      BuildTimes t = time_selu_build(depth, o.seed, data);
      b.push_back(t.build_ms), d.push_back(t.differentiate_ms), c.push_back(t.compile_ms);
      i.push_back(t.init_ms), f.push_back(t.first_step_ms);
      nodes = t.nodes;
    }
    BuildTimes m{median(b), median(d), median(c), median(i), median(f), nodes};
    medians.push_back(m);
    double sum = m.build_ms + m.differentiate_ms + m.compile_ms;
    Record rec;
    rec.add("impl", "dagrad")
        .add("figure", "build")
        .add("model", "selu")
        .add("depth", depth)
        .add("nodes", nodes)
        .add("build_ms", m.build_ms)
        .add("differentiate_ms", m.differentiate_ms)
        .add("compile_ms", m.compile_ms)
        .add("total_ms", sum)
        .add("init_ms", m.init_ms)
        .add("first_step_ms", m.first_step_ms)
        .add("repeats", o.repeats);
    if (medians.size() > 1) {
      const BuildTimes& p = medians[medians.size() - 2];
      double growth = static_cast<double>(depth) / static_cast<double>(depths[medians.size() - 2]);
      // Per doubling of depth: (t / t_prev) ^ (1 / log2(depth / depth_prev)); 2.0 is linear.
      auto per_doubling = [&](double now, double before) {
        return std::pow(now / before, 1.0 / std::log2(growth));
      };
      rec.add("build_ratio", per_doubling(m.build_ms, p.build_ms))
          .add("differentiate_ratio", per_doubling(m.differentiate_ms, p.differentiate_ms))
          .add("compile_ratio", per_doubling(m.compile_ms, p.compile_ms))
          .add("total_ratio", per_doubling(sum, p.build_ms + p.differentiate_ms + p.compile_ms));
    }
    report.emit(rec);
    if (report.tabulate) {
      char line[200];
      std::snprintf(line, sizeof line, "  %5lld  %6d  %8.1f  %13.1f  %8.1f  %6.1f   (%.1f, %.1f)\n",
                    static_cast<long long>(depth), nodes, m.build_ms, m.differentiate_ms,
                    m.compile_ms, sum, m.init_ms, m.first_step_ms);
      report.table << line;
    }
  }
  if (report.tabulate && medians.size() > 1) {
    report.table << "  per doubling of depth (2.0 = linear): ";
    for (std::size_t k = 1; k < medians.size(); ++k) {
      double prev =
          medians[k - 1].build_ms + medians[k - 1].differentiate_ms + medians[k - 1].compile_ms;
      double now = medians[k].build_ms + medians[k].differentiate_ms + medians[k].compile_ms;
      double growth = static_cast<double>(depths[k]) / static_cast<double>(depths[k - 1]);
      report.table << (k > 1 ? ", " : "") << depths[k - 1] << "->" << depths[k] << " x"
                   << fixed(std::pow(now / prev, 1.0 / std::log2(growth)), 2);
    }
    report.table << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  try {
    Report report(o, blas_setup(o.threads));
    Data data = make_data(o.samples, o.seed);
    if (report.tabulate)
      report.table << "dagrad_bench: " << o.samples << " synthetic samples, OpenBLAS threads "
                   << report.blas.threads << ", core " << report.blas.core << "\n";
    if (o.only.count("train") || o.only.count("gemm")) train_figures(o, report, data);
    if (o.only.count("latency")) latency_figure(o, report, data);
    if (o.only.count("build")) build_figures(o, report, data);
  } catch (const std::exception& e) {
    std::cerr << "dagrad_bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
