// Per-call BLAS thread counts for the matrix-product kernels (internal to the library).
#pragma once

#include <cstdint>

namespace dagrad::detail {

// Products with fewer multiply-adds (m*n*k) than this run on one BLAS thread: on the 2-core
// machines this was measured on, a second OpenBLAS thread costs more than it gains below it
// (bench notes in graph/threads.cpp).
inline constexpr double kSmallGemmWork = 16.0e6;

// Sets the BLAS's thread count for a product of `work` multiply-adds: 1 when small, else
// num_threads(). Calls OpenBLAS only when the count changes. Call from one thread at a time
// (OpenBLAS's count is process-wide).
void use_blas_threads_for(double work);

}  // namespace dagrad::detail
