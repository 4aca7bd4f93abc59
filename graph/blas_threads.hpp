// Per-call BLAS thread counts for the matrix-product kernels (internal to the library).
#pragma once

#include "dagrad/graph/threads.hpp"

namespace dagrad::detail {

// Sets the BLAS's thread count to blas_threads_for(work), calling OpenBLAS only when the count
// changes. Call from one thread at a time (OpenBLAS's count is process-wide).
void use_blas_threads_for(double work);

}  // namespace dagrad::detail
