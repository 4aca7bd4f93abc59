// Internal: the pieces of data-parallel training that fit and evaluate use (nn/distributed.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "nn/training_state.hpp"

namespace dagrad::nn {
class Model;
}

namespace dagrad::nn::detail {

// Rows [begin, end) of a batch of rows [batch_begin, batch_end) that `rank` of `ranks` takes.
struct Slice {
  std::int64_t begin, end;
};
inline Slice slice_of(std::int64_t batch_begin, std::int64_t batch_end, int rank, int ranks) {
  const std::int64_t n = batch_end - batch_begin;
  return {batch_begin + n * rank / ranks, batch_begin + n * (rank + 1) / ranks};
}

// Every rank learns whether all ranks passed the same values (compared with rank 0's); on a
// difference every rank throws the same ModelError naming the first setting that differs.
void check_same_on_every_rank(const std::vector<std::pair<std::string, double>>& settings,
                              const std::string& what);
// sums and count summed over the ranks, in place.
void sum_over_ranks(std::vector<double>& sums, double& count);
// Sets the replica_weight variable when it changes.
void set_replica_weight(Model& model, Training& t, double weight);
// Averages BatchNormalization's moving statistics (t.synced_state) over the ranks.
void average_synced_state(Model& model, Training& t);

}  // namespace dagrad::nn::detail
