// The process group of data-parallel training: Open MPI's world, started once per process.
// Without initialize() (or in a build without MPI) the group is this process alone: rank 0 of 1,
// and the collective ops (allreduce, broadcast, reduce_to_root) are copies.
#pragma once

#include <cstdint>
#include <string>

#include "dtype.hpp"
#include "errors.hpp"

namespace dagrad::distributed {

// A collective that MPI reported as failed.
struct CollectiveError : Error {
  using Error::Error;
};

// Whether this build has MPI (CMake's DAGRAD_WITH_MPI and Open MPI found).
bool available();
// Starts MPI (thread level "serialized": one thread at a time calls it), once; later calls do
// nothing. Throws Error in a build without MPI. Installs the handler that reports a SIGTERM from
// mpirun (sent when another rank of the job ended) before the process stops.
void initialize();
// Whether initialize() ran in this process.
bool initialized();
// This process's rank and the number of processes (0 and 1 before initialize()).
int rank();
int size();
// "rank 1 of 2", for messages.
std::string describe();

// A collective waits at most this long (seconds) for the other ranks; then this rank prints which
// collective waited (node, rank, seconds) and exits with status 3, so that mpirun ends the job (the
// calling thread is inside MPI and cannot be unwound). 0 waits forever. Default 600, or
// DAGRAD_COLLECTIVE_TIMEOUT from the environment at initialize().
void set_collective_timeout(double seconds);
double collective_timeout();

enum class Reduction { Sum, Mean };
// In place, over every rank: data <- sum (or mean) of every rank's data. count elements of
// dtype (float32, float64, int32, int64; Mean: floats only). `what` names the caller in errors
// (a node). Every rank must make the same calls in the same order.
void allreduce(void* data, std::int64_t count, DType dtype, Reduction reduction,
               const std::string& what);
// In place: every rank's data <- root's data.
void broadcast(void* data, std::int64_t count, DType dtype, int root, const std::string& what);
// In place: root's data <- the sum of every rank's data; the other ranks' data <- 0.
void reduce_to_root(void* data, std::int64_t count, DType dtype, int root,
                    const std::string& what);

// Ends the job: MPI_Abort over every rank (mpirun then stops them all) with `code`, after
// `message` was written to stderr. In a process that did not initialize, std::_Exit(code).
[[noreturn]] void abort_job(const std::string& message, int code);
// MPI_Finalize, once, if initialize() ran; every rank must call it (after its last collective).
void finalize();

}  // namespace dagrad::distributed
