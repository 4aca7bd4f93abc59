// The BLAS thread count of the commands' --threads flag.
#pragma once

#include <string>

namespace dagrad::tools {

// Sets OpenBLAS's thread count when the BLAS in use is OpenBLAS; otherwise tells the user on
// standard error, prefixed by `command`, that the flag was ignored.
void set_blas_threads(int threads, const std::string& command);

}  // namespace dagrad::tools
