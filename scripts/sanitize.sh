#!/usr/bin/env bash
# The sanitizer and fuzzing stages of CI (.ci/run runs them after scripts/test.sh):
#  1. builds everything with clang 16 under AddressSanitizer and UndefinedBehaviorSanitizer (any
#     finding stops the program) in build-sanitize/, with the libFuzzer targets of fuzz/;
#  2. runs the whole CTest suite there (which also replays every fuzz seed and past crash);
#  3. fuzzes each loader for DAGRAD_FUZZ_SECONDS (default 60) from its seeds, with libFuzzer's
#     seed DAGRAD_FUZZ_SEED (default 1).
# Usage: scripts/sanitize.sh [--no-fuzz]. A crash leaves its input in build-sanitize/fuzz-out/;
# copy it to fuzz/regressions/<target>/ with the fix.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh" --sanitizers
build_dir=${DAGRAD_SANITIZE_BUILD_DIR:-$root/build-sanitize}
jobs=${DAGRAD_JOBS:-$(nproc)}
seconds=${DAGRAD_FUZZ_SECONDS:-60}
# A fixed libFuzzer seed makes the CI stage repeatable: the same run explores the same inputs.
# Give another (DAGRAD_FUZZ_SEED=0 draws one) to explore further.
fuzz_seed=${DAGRAD_FUZZ_SEED:-1}

# -O1 keeps the build short (the sanitizers' checks, not the optimizer, are what this build is for);
# oneDNN is left out (clang would need libomp), so every product goes through OpenBLAS here.
cmake -S "$root" -B "$build_dir" -DCMAKE_CXX_COMPILER=clang++-16 -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS_RELEASE="-O1 -g1 -DNDEBUG" -DDAGRAD_NATIVE=OFF -DDAGRAD_WITH_DNNL=OFF \
  -DDAGRAD_BUILD_BENCH=OFF -DDAGRAD_SANITIZE=address,undefined -DDAGRAD_FUZZ=ON >/dev/null
cmake --build "$build_dir" -j "$jobs"

# allocator_may_return_null: a tensor too large to allocate must reach dagrad's own error, as
# in a normal build, instead of ASan's report. The subprocesses the tests start inherit these.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && command -v llvm-symbolizer >/dev/null; then
  export ASAN_SYMBOLIZER_PATH=$(command -v llvm-symbolizer)  # stack traces with file and line
fi
(cd "$build_dir" && ctest --output-on-failure -j "$jobs" --timeout 900)

if [ "${1:-}" = "--no-fuzz" ]; then exit 0; fi
for target in fuzz_graph_file fuzz_model_file fuzz_npy fuzz_idx; do
  corpus="$build_dir/fuzz-corpus/$target"
  out="$build_dir/fuzz-out/$target"
  mkdir -p "$corpus" "$out"
  echo "sanitize: fuzzing $target for ${seconds}s"
  "$build_dir/fuzz/$target" -max_total_time="$seconds" -seed="$fuzz_seed" -timeout=10 -rss_limit_mb=4096 \
    -artifact_prefix="$out/" -print_final_stats=1 \
    "$corpus" "$root/fuzz/seeds/$target" "$root/fuzz/regressions/$target" 2>"$out/log" || {
    tail -n 60 "$out/log"
    echo "sanitize: $target found a crash; its input is in $out/" >&2
    exit 1
  }
  grep -E "Done [0-9]+ runs|^#[0-9]+ +DONE" "$out/log" | tail -n 2 || true
done
