// The one thread setting of dagrad: it governs the BLAS's threads (OpenBLAS) and dagrad's own
// parallel work together, so the two never oversubscribe the cores.
#pragma once

namespace dagrad {

// The largest thread count set_num_threads accepts.
inline constexpr int kMaxThreads = 1024;

// Sets the thread count dagrad uses, the BLAS's included. Throws Error unless 1 <= n <=
// kMaxThreads. Process-wide; set it before running, not while another thread runs a plan.
// With a BLAS other than OpenBLAS, whose threads dagrad cannot set, the count still governs
// dagrad's own work.
void set_num_threads(int n);

// The thread count in force: set_num_threads's, else OpenBLAS's own at start-up
// (OPENBLAS_NUM_THREADS or the cores), else 1.
int num_threads();

// Matrix products of fewer multiply-adds (m*n*k of one BLAS call) than this run on one BLAS
// thread: on the 2-core machines it was measured on, a second OpenBLAS thread cost more than it
// gained below it (figures in graph/threads.cpp).
inline constexpr double kSmallGemmWork = 16.0e6;

// The BLAS thread count a matrix product of `work` multiply-adds runs on: 1 below
// kSmallGemmWork, else num_threads().
int blas_threads_for(double work);

// Whether the BLAS in use is OpenBLAS, whose thread count set_num_threads controls.
bool blas_threads_settable();

}  // namespace dagrad
