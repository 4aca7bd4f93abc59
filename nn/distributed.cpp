// Data-parallel training: Model::distribute, the broadcast of rank 0's variables, the averaging
// of the forward pass's statistics and the reductions of fit's and evaluate's figures.
#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "dagrad/graph/distributed.hpp"
#include "dagrad/nn/errors.hpp"
#include "dagrad/nn/model.hpp"
#include "dagrad/ops/ops.hpp"
#include "nn/distributed_util.hpp"

namespace dagrad::nn {

namespace {

// One node running assign(v, value_of(v)) for every variable of `vars`, built at the graph's top
// under `scope`; a failure leaves the graph as it was.
Operation assign_all(Graph& g, const std::string& scope, const std::vector<Output>& vars,
                     const std::function<Output(const Output&)>& value_of) {
  auto checkpoint = g.checkpoint();
  try {
    auto top = g.absolute_scope("");
    auto named = g.name_scope(scope, true);
    std::vector<Operation> assigns;
    for (const Output& v : vars) assigns.emplace_back(assign(v, value_of(v)));
    return group(g, assigns, "all");
  } catch (...) {
    g.rollback(checkpoint);
    throw;
  }
}

}  // namespace

void Model::distribute(DistributedOptions options) {
  detail::Training& t = training();
  if (options.bucket_bytes <= 0)
    throw ModelError("distribute: bucket_bytes must be > 0, got " + std::to_string(options.bucket_bytes));
  distributed::initialize();
  build_training(t.optimizer, t.loss, t.metric_names, &options);
  session().set_stream_offset(static_cast<std::uint64_t>(distributed::rank()));
}

bool Model::distributed() const { return training_ && training_->distributed; }

void Model::broadcast_variables() {
  detail::Training& t = training();
  std::vector<Output> vars = weights();
  for (const Output& v : optimizer().state_variables()) vars.push_back(v);
  if (!t.broadcast_target.valid() || t.broadcast_count != vars.size()) {
    t.broadcast_target = assign_all(graph(), name_ + "/broadcast_variables", vars,
                                    [](const Output& v) { return broadcast(v, 0); });
    t.broadcast_count = vars.size();
  }
  session().compile({}, {t.broadcast_target}, {}).run({});
}

namespace detail {

namespace {
std::string number(double v) {
  if (v == static_cast<double>(static_cast<long long>(v))) return std::to_string(static_cast<long long>(v));
  return std::to_string(v);
}
}  // namespace

void check_same_on_every_rank(const std::vector<std::pair<std::string, double>>& settings,
                              const std::string& what) {
  // Every rank learns every rank's settings (its own in its slot, zeros elsewhere, summed), so
  // that each throws the same message naming the first setting and rank that differ from rank 0:
  // whichever rank's error ends the job first, it says what differs.
  const int ranks = distributed::size(), me = distributed::rank();
  const std::size_t k = settings.size();
  std::vector<double> all(static_cast<std::size_t>(ranks) * k, 0.0);
  for (std::size_t i = 0; i < k; ++i) all[static_cast<std::size_t>(me) * k + i] = settings[i].second;
  distributed::allreduce(all.data(), static_cast<std::int64_t>(all.size()), DType::float64,
                         distributed::Reduction::Sum, what);
  for (std::size_t i = 0; i < k; ++i)
    for (int r = 1; r < ranks; ++r) {
      const double root = all[i], other = all[static_cast<std::size_t>(r) * k + i];
      if (other != root)
        throw ModelError(what + ": the ranks disagree on " + settings[i].first + " (rank 0: " +
                         number(root) + ", rank " + std::to_string(r) + " of " +
                         std::to_string(ranks) + ": " + number(other) +
                         "); every rank must run the same program on the same data");
    }
}

void sum_over_ranks(std::vector<double>& sums, double& count) {
  std::vector<double> all = sums;
  all.push_back(count);
  distributed::allreduce(all.data(), static_cast<std::int64_t>(all.size()), DType::float64,
                         distributed::Reduction::Sum, "the epoch's figures");
  count = all.back();
  all.pop_back();
  sums = all;
}

void set_replica_weight(Model& model, Training& t, double weight) {
  if (weight == t.replica_weight_value) return;
  Tensor value(t.replica_weight.dtype(), Shape{});
  if (value.dtype() == DType::float64) *value.data<double>() = weight;
  else *value.data<float>() = static_cast<float>(weight);
  model.session().set_variable_value(t.replica_weight, value);
  t.replica_weight_value = weight;
}

void average_synced_state(Model& model, Training& t) {
  if (t.synced_state.empty()) return;
  if (!t.sync_target.valid()) {
    std::vector<Output> floating;
    for (const Output& v : t.synced_state)
      if (is_floating(v.dtype())) floating.push_back(v);
    t.sync_target = assign_all(model.graph(), model.name() + "/average_statistics", floating,
                               [](const Output& v) { return allreduce(v, distributed::Reduction::Mean); });
  }
  model.session().compile({}, {t.sync_target}, {}).run({});
}

}  // namespace detail
}  // namespace dagrad::nn
