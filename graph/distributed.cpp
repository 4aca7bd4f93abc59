// The process group over Open MPI. Collectives are non-blocking MPI calls waited on with a
// deadline, so that a rank that hangs or died is reported instead of waited for forever.
#include "dagrad/graph/distributed.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#ifndef DAGRAD_HAVE_MPI
#define DAGRAD_HAVE_MPI 0
#endif
#if DAGRAD_HAVE_MPI
#include <mpi.h>
#endif

namespace dagrad::distributed {

namespace {

bool g_initialized = false;
bool g_finalized = false;
int g_rank = 0;
int g_size = 1;
double g_timeout = 600.0;
char g_sigterm_message[256] = "";

[[maybe_unused]] void on_sigterm(int) {
  // Async-signal-safe: one write of a message formatted at initialize(), then _exit.
  ssize_t ignored = write(STDERR_FILENO, g_sigterm_message, std::strlen(g_sigterm_message));
  (void)ignored;
  _exit(128 + SIGTERM);
}

[[maybe_unused]] double timeout_from_environment() {
  const char* text = std::getenv("DAGRAD_COLLECTIVE_TIMEOUT");
  if (!text || !*text) return 600.0;
  char* end = nullptr;
  double v = std::strtod(text, &end);
  if (end == text || *end != '\0' || !(v >= 0) || v > 1e9)
    throw Error(std::string("DAGRAD_COLLECTIVE_TIMEOUT='") + text +
                "' is not a number of seconds in [0, 1e9] (0: wait forever)");
  return v;
}

std::string dtype_label(DType d) { return std::string(dtype_name(d)); }

#if DAGRAD_HAVE_MPI
MPI_Datatype mpi_type(DType d, const char* collective, const std::string& what) {
  switch (d) {
    case DType::float32: return MPI_FLOAT;
    case DType::float64: return MPI_DOUBLE;
    case DType::int32: return MPI_INT32_T;
    case DType::int64: return MPI_INT64_T;
    case DType::boolean: return MPI_C_BOOL;
  }
  throw Error(std::string(collective) + " (" + what + "): unsupported dtype");
}

void check(int rc, const char* collective, const std::string& what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(rc, text, &length);
  throw CollectiveError(std::string(collective) + " (" + what + ") failed on " + describe() +
                        ": " + std::string(text, static_cast<std::size_t>(length)));
}

// Waits for `request`, polling; after the first 10 ms it sleeps between polls so that a rank
// waiting for a slower one leaves the core to it.
void wait(MPI_Request& request, const char* collective, const std::string& what) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  for (;;) {
    int done = 0;
    check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), collective, what);
    if (done) return;
    double waited = std::chrono::duration<double>(clock::now() - start).count();
    if (g_timeout > 0 && waited > g_timeout)
      throw CollectiveError(std::string(collective) + " (" + what + ") on " + describe() +
                            " waited " + std::to_string(static_cast<long long>(waited)) +
                            " s for the other ranks: one of them is hung or died (the limit "
                            "is DAGRAD_COLLECTIVE_TIMEOUT, in seconds)");
    if (waited > 0.01) std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

// MPI counts are ints: larger buffers go in pieces.
constexpr std::int64_t kPiece = INT_MAX / 2;

template <class Start>
void in_pieces(void* data, std::int64_t count, DType dtype, const char* collective,
               const std::string& what, Start start) {
  MPI_Datatype type = mpi_type(dtype, collective, what);
  auto* bytes = static_cast<char*>(data);
  const auto element = static_cast<std::int64_t>(dtype_size(dtype));
  for (std::int64_t offset = 0; offset < count; offset += kPiece) {
    int n = static_cast<int>(std::min(kPiece, count - offset));
    MPI_Request request;
    check(start(bytes + offset * element, n, type, &request), collective, what);
    wait(request, collective, what);
  }
}
#endif

void check_root(int root, const char* collective, const std::string& what) {
  if (root < 0 || root >= g_size)
    throw Error(std::string(collective) + " (" + what + "): root " + std::to_string(root) +
                " is not a rank of this job (ranks 0 to " + std::to_string(g_size - 1) + ")");
}

}  // namespace

bool available() { return DAGRAD_HAVE_MPI != 0; }

void initialize() {
  if (g_initialized) return;
#if DAGRAD_HAVE_MPI
  double timeout = timeout_from_environment();
  int already = 0;
  MPI_Initialized(&already);
  if (!already) {
    int provided = 0;
    if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
      throw Error("MPI_Init_thread failed: is this process started by mpirun?");
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  g_timeout = timeout;
  g_initialized = true;
  std::snprintf(g_sigterm_message, sizeof g_sigterm_message,
                "dagrad (%s): stopped by SIGTERM, which mpirun sends when another rank of the "
                "job ended; mpirun's message names that rank\n",
                describe().c_str());
  std::signal(SIGTERM, on_sigterm);
#else
  throw Error("this dagrad was built without MPI (install libopenmpi-dev with "
              "scripts/install-deps.sh and configure with -DDAGRAD_WITH_MPI=ON)");
#endif
}

bool initialized() { return g_initialized; }
int rank() { return g_rank; }
int size() { return g_size; }
std::string describe() {
  return "rank " + std::to_string(g_rank) + " of " + std::to_string(g_size);
}

void set_collective_timeout(double seconds) {
  if (!(seconds >= 0) || seconds > 1e9)
    throw Error("collective timeout must be in [0, 1e9] seconds (0: wait forever), got " +
                std::to_string(seconds));
  g_timeout = seconds;
}
double collective_timeout() { return g_timeout; }

void allreduce(void* data, std::int64_t count, DType dtype, Reduction reduction,
               const std::string& what) {
  bool floating = dtype == DType::float32 || dtype == DType::float64;
  if (dtype == DType::boolean || (reduction == Reduction::Mean && !floating))
    throw Error("allreduce (" + what + "): " + (reduction == Reduction::Mean ? "mean" : "sum") +
                " of " + dtype_label(dtype) + " is not supported");
  (void)data;
  if (g_size == 1 || count == 0) return;
#if DAGRAD_HAVE_MPI
  in_pieces(data, count, dtype, "allreduce", what,
            [](void* p, int n, MPI_Datatype t, MPI_Request* r) {
              return MPI_Iallreduce(MPI_IN_PLACE, p, n, t, MPI_SUM, MPI_COMM_WORLD, r);
            });
  if (reduction == Reduction::Mean) {
    if (dtype == DType::float32) {
      auto* p = static_cast<float*>(data);
      const float inverse = 1.0f / static_cast<float>(g_size);
      for (std::int64_t i = 0; i < count; ++i) p[i] *= inverse;
    } else {
      auto* p = static_cast<double*>(data);
      const double inverse = 1.0 / static_cast<double>(g_size);
      for (std::int64_t i = 0; i < count; ++i) p[i] *= inverse;
    }
  }
#endif
}

void broadcast(void* data, std::int64_t count, DType dtype, int root, const std::string& what) {
  check_root(root, "broadcast", what);
  (void)data, (void)dtype;
  if (g_size == 1 || count == 0) return;
#if DAGRAD_HAVE_MPI
  in_pieces(data, count, dtype, "broadcast", what,
            [root](void* p, int n, MPI_Datatype t, MPI_Request* r) {
              return MPI_Ibcast(p, n, t, root, MPI_COMM_WORLD, r);
            });
#endif
}

void reduce_to_root(void* data, std::int64_t count, DType dtype, int root,
                    const std::string& what) {
  check_root(root, "reduce_to_root", what);
  (void)data;
  if (dtype == DType::boolean)
    throw Error("reduce_to_root (" + what + "): sum of bool is not supported");
  if (g_size == 1 || count == 0) return;
#if DAGRAD_HAVE_MPI
  const bool is_root = g_rank == root;
  in_pieces(data, count, dtype, "reduce_to_root", what,
            [root, is_root](void* p, int n, MPI_Datatype t, MPI_Request* r) {
              return MPI_Ireduce(is_root ? MPI_IN_PLACE : p, is_root ? p : nullptr, n, t, MPI_SUM,
                                 root, MPI_COMM_WORLD, r);
            });
  if (!is_root) std::memset(data, 0, static_cast<std::size_t>(count) * dtype_size(dtype));
#endif
}

void abort_job(const std::string& message, int code) {
  std::fprintf(stderr, "%s\n", message.c_str());
  std::fflush(stderr);
#if DAGRAD_HAVE_MPI
  if (g_initialized && !g_finalized) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::_Exit(code);
}

void finalize() {
  if (!g_initialized || g_finalized) return;
#if DAGRAD_HAVE_MPI
  MPI_Finalize();
#endif
  g_finalized = true;
}

}  // namespace dagrad::distributed
