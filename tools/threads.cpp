#include "threads.hpp"

#include <dlfcn.h>

#include <iostream>

namespace dagrad::tools {

void set_blas_threads(int threads, const std::string& command) {
  using SetThreads = void (*)(int);
  auto set = reinterpret_cast<SetThreads>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (!set) {
    std::cerr << command << ": --threads: the BLAS in use is not OpenBLAS; ignored\n";
    return;
  }
  set(threads);
}

}  // namespace dagrad::tools
