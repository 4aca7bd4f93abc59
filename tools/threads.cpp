#include "threads.hpp"

#include <charconv>
#include <string>

#include "dagrad/graph/threads.hpp"

namespace dagrad::tools {

namespace {

// A whole number in 1..kMaxThreads; a name or a fraction is told apart from a count out of range.
std::string check_thread_count(const std::string& text) {
  int n = 0;
  const char* end = text.data() + text.size();
  auto [stop, error] = std::from_chars(text.data(), end, n);
  if (error != std::errc() || stop != end) return "'" + text + "' is not a whole number of threads";
  if (n < 1 || n > kMaxThreads)
    return "the thread count must be between 1 and " + std::to_string(kMaxThreads) + ", got " +
           text;
  return "";
}

}  // namespace

CLI::Option* add_threads_option(CLI::App* cmd, int& threads) {
  return cmd
      ->add_option("--threads", threads,
                   "Threads of the BLAS and dagrad's own work together (default: "
                   "OPENBLAS_NUM_THREADS, else the cores); small matrix products use one")
      ->check(CLI::Validator(check_thread_count, "1.." + std::to_string(kMaxThreads)))
      ->type_name("N");
}

void apply_threads_option(int threads) {
  if (threads > 0) set_num_threads(threads);
}

}  // namespace dagrad::tools
