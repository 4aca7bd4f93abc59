// The numerics guard's scans (Session::set_check_numerics): whether a tensor holds NaN or Inf,
// and the statistics its error message gives of a step's inputs.
#pragma once

#include <cstdint>
#include <string>

#include "dagrad/graph/tensor.hpp"

namespace dagrad::detail {

// True unless `t` is float32 or float64 with a NaN or an infinity among its elements. Reads the
// exponent bits only, so the scan vectorizes and costs one pass over the memory.
bool all_finite(const Tensor& t);

struct TensorStatistics {
  std::int64_t nan = 0, positive_inf = 0, negative_inf = 0;
  std::int64_t finite = 0;          // elements counted in min and max
  double min = 0, max = 0;          // over the finite elements (integers and bools included)
};
TensorStatistics statistics(const Tensor& t);
// "float32 (2, 3) min -1 max 4, 2 non-finite (1 nan, 1 +inf, 0 -inf)".
std::string describe_statistics(const Tensor& t);

}  // namespace dagrad::detail
