// The thread setting in tests, shared by the test modules (included as "common/threads.hpp").
#pragma once

#include <dlfcn.h>

#include "dagrad/dagrad.hpp"

namespace dagrad::testing {

// OpenBLAS's own thread count, read past dagrad (-1 when the BLAS is not OpenBLAS).
inline int openblas_threads() {
  auto get = reinterpret_cast<int (*)()>(::dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  return get ? get() : -1;
}

// A fixture that puts the process's thread setting back after each case.
struct RestoreThreads {
  int saved = num_threads();
  ~RestoreThreads() { set_num_threads(saved); }
};

}  // namespace dagrad::testing
