// A few persistent threads that block (never spin) while idle, for kernels that split their work
// into parts themselves (internal to ops/). Why not OpenMP: libgomp's idle threads spin by
// default (OMP_WAIT_POLICY is read once, at load), and on a 2-core machine shared with other work
// that spinning halved the cnn preset's training speed (bench/README.md, "cnn").
#pragma once

#include <functional>

namespace dagrad::kernels {

// Runs part(0) ... part(parts - 1), part 0 on the calling thread and the others on the pool's
// threads (made on first use, kept, each keeping its thread_local state), and returns when all
// have finished; rethrows the first exception a part threw. One call at a time: concurrent
// callers wait their turn.
void run_parts(int parts, const std::function<void(int)>& part);

}  // namespace dagrad::kernels
