// The process group over Open MPI. Collectives are MPI's blocking calls (its fastest: a
// non-blocking call polled with a deadline ran the chapter model's batch-64 epoch 1.08 to 1.33
// times slower), watched by a thread that ends the rank when one call waits past the deadline,
// so that a rank that hangs or died is reported instead of waited for forever.
#include "dagrad/graph/distributed.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
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
std::atomic<double> g_timeout{600.0};  // read by the watchdog thread
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

// The watchdog: a collective stores its start time (steady clock, ns; 0 when none runs) and what
// it is; a thread wakes a few times per timeout and ends the rank when one has run too long.
// Ending the rank (not throwing: the calling thread is inside MPI) makes mpirun stop the job.
// The text alternates between two buffers and the index is published with the start time, so the
// watchdog (which prints only while a call is stuck) never reads a buffer being written.
std::atomic<std::int64_t> g_collective_start{0};
std::atomic<int> g_collective_slot{0};
char g_collective_what[2][192] = {"", ""};

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void watchdog() {
  for (;;) {
    const double timeout = g_timeout;
    std::this_thread::sleep_for(std::chrono::duration<double>(
        timeout > 0 ? std::min(1.0, timeout / 10) : 1.0));
    const std::int64_t start = g_collective_start.load(std::memory_order_acquire);
    if (timeout <= 0 || start == 0) continue;
    const double waited = static_cast<double>(now_ns() - start) * 1e-9;
    if (waited <= timeout) continue;
    std::fprintf(stderr,
                 "dagrad (%s): %s waited %lld s for the other ranks: one of them is hung or died "
                 "(the limit is DAGRAD_COLLECTIVE_TIMEOUT, in seconds); this rank stops, and mpirun "
                 "ends the job\n",
                 describe().c_str(), g_collective_what[g_collective_slot.load(std::memory_order_acquire)],
                 static_cast<long long>(waited));
    std::fflush(stderr);
    std::_Exit(3);
  }
}

// Runs one blocking collective under the watchdog.
template <class Call>
void watched(const char* collective, const std::string& what, Call call) {
  const int slot = 1 - g_collective_slot.load(std::memory_order_relaxed);
  std::snprintf(g_collective_what[slot], sizeof g_collective_what[slot], "%s (%s)", collective,
                what.c_str());
  g_collective_slot.store(slot, std::memory_order_release);
  g_collective_start.store(now_ns(), std::memory_order_release);
  int rc = call();
  g_collective_start.store(0, std::memory_order_release);
  check(rc, collective, what);
}

// MPI counts are ints: larger buffers go in pieces.
constexpr std::int64_t kPiece = INT_MAX / 2;

template <class Call>
void in_pieces(void* data, std::int64_t count, DType dtype, const char* collective,
               const std::string& what, Call call) {
  MPI_Datatype type = mpi_type(dtype, collective, what);
  auto* bytes = static_cast<char*>(data);
  const auto element = static_cast<std::int64_t>(dtype_size(dtype));
  for (std::int64_t offset = 0; offset < count; offset += kPiece) {
    int n = static_cast<int>(std::min(kPiece, count - offset));
    watched(collective, what, [&] { return call(bytes + offset * element, n, type); });
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
    // Only the thread that started MPI calls it (the watchdog never does): "funneled" suffices.
    if (provided < MPI_THREAD_FUNNELED)
      throw Error("this MPI gives thread level " + std::to_string(provided) +
                  "; dagrad needs MPI_THREAD_FUNNELED or more");
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  g_timeout = timeout;
  g_initialized = true;
  std::snprintf(g_sigterm_message, sizeof g_sigterm_message,
                "dagrad (%s): stopped by SIGTERM (mpirun ends the whole job when a rank ends "
                "or when it is interrupted; its message says which)\n",
                describe().c_str());
  std::signal(SIGTERM, on_sigterm);
  std::thread(watchdog).detach();  // sleeps; never touches MPI
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
double collective_timeout() { return g_timeout.load(); }

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
            [](void* p, int n, MPI_Datatype t) {
              return MPI_Allreduce(MPI_IN_PLACE, p, n, t, MPI_SUM, MPI_COMM_WORLD);
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
            [root](void* p, int n, MPI_Datatype t) {
              return MPI_Bcast(p, n, t, root, MPI_COMM_WORLD);
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
            [root, is_root](void* p, int n, MPI_Datatype t) {
              return MPI_Reduce(is_root ? MPI_IN_PLACE : p, is_root ? p : nullptr, n, t, MPI_SUM,
                                root, MPI_COMM_WORLD);
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
