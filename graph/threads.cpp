// The thread setting. OpenBLAS is reached through the symbols it exports (dlsym), because the
// library may be built against another BLAS, which has no such calls.
//
// Why a small-work threshold: timed alone with OpenBLAS 0.3.21 (pthreads, its own Zen 4 kernels)
// on a 2-core machine, one thread against two, in microseconds, row-major sgemm m x n x k:
//   32x300x784 111 vs 170, 784x300x32 (A^T) 83 vs 165, 32x784x300 (B^T) 117 vs 103,
//   256x100x300 85 vs 104, 300x100x256 (A^T) 85 vs 115                 (m*n*k 7.5e6 - 7.7e6)
//   256x300x784 644 vs 486, 784x300x256 (A^T) 629 vs 509, 256x784x300 620 vs 418    (6.0e7)
// OpenBLAS's own cut-over (m*n*k <= 262144) leaves the first group on two threads. Switching
// the count costs about 2 ns per openblas_set_num_threads call.
#include "dagrad/graph/threads.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <string>

#include "dagrad/graph/errors.hpp"
#include "graph/blas_threads.hpp"

namespace dagrad {

namespace {

struct OpenBlas {
  void (*set)(int) = nullptr;
  int (*get)() = nullptr;
};

const OpenBlas& openblas() {
  static const OpenBlas calls = [] {
    OpenBlas c;
    c.set = reinterpret_cast<void (*)(int)>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
    c.get = reinterpret_cast<int (*)()>(::dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
    if (!c.get) c.set = nullptr;  // both or neither
    return c;
  }();
  return calls;
}

std::atomic<int> configured{0};  // 0: not read from OpenBLAS yet
std::atomic<int> applied{0};     // the count last handed to OpenBLAS; 0: unknown

}  // namespace

void set_num_threads(int n) {
  if (n < 1 || n > kMaxThreads)
    throw Error("set_num_threads: the thread count must be between 1 and " +
                std::to_string(kMaxThreads) + ", got " + std::to_string(n));
  configured.store(n);
  if (openblas().set) {
    openblas().set(n);
    applied.store(n);
  }
}

int num_threads() {
  int n = configured.load(std::memory_order_relaxed);
  if (n > 0) return n;
  int start = openblas().get ? std::clamp(openblas().get(), 1, kMaxThreads) : 1;
  configured.compare_exchange_strong(n, start);  // a concurrent set_num_threads wins
  return configured.load();
}

int blas_threads_for(double work) {
  return work < kSmallGemmWork ? 1 : num_threads();
}

bool blas_threads_settable() {
  return openblas().set != nullptr;
}

namespace detail {

void use_blas_threads_for(double work) {
  const OpenBlas& blas = openblas();
  if (!blas.set) return;
  int want = blas_threads_for(work);
  if (applied.load(std::memory_order_relaxed) != want) {
    blas.set(want);
    applied.store(want, std::memory_order_relaxed);
  }
}

}  // namespace detail

}  // namespace dagrad
