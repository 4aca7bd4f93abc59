#!/usr/bin/env bash
# The training step benchmark (bench/README.md): builds bench/dagrad_bench (Release), installs
# Debian's python3-torch (and libdnnl-dev, for the optional oneDNN figure) when missing, then runs dagrad (A) and bench/torch_reference.py (B) in
# turn per figure, A B A B ..., so that a drift in a shared machine's speed hits both; each run's
# peak resident memory comes from /usr/bin/time. Prints the medians, the pair-by-pair ratios,
# dagrad's fraction of its own GEMM-only roofline and the selu build times (bench_summary.py).
#
# usage: bench/run_bench.sh [PAIRS]        (default 3)
# environment:
#   TORCH_OMP         OMP_NUM_THREADS of PyTorch (default 1: its best setting on 2 cores)
#   TORCH_BLAS        OPENBLAS_NUM_THREADS of PyTorch (default 2)
#   DAGRAD_BLAS       dagrad's OpenBLAS threads (default: TORCH_BLAS)
#   BLAS_CORE         env: OpenBLAS runs the kernels the environment selects (OPENBLAS_CORETYPE if
#                     set); auto: both run with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, so
#                     OpenBLAS detects the processor (default env)
#   REPEATS           timed repeats per run, medianed inside each program (default 5)
#   FIGURES           any of: train latency build onednn (default train latency build); onednn
#                     builds and runs bench/onednn_matmul once (dagrad's products and epilogues
#                     against oneDNN's matmul primitive, 1 and 2 threads), its table into OUT
#   MODELS, BATCHES   training configurations (default "plain bn", "32 256"; also "cnn", the cnn
#                     preset, which has no GEMM roofline)
#   TORCH_ENV, DAGRAD_ENV  more VAR=value settings for one program's environment, e.g.
#                     TORCH_ENV="OMP_WAIT_POLICY=passive" (with TORCH_OMP=2)
#   TORCH_ARGS        more flags for the PyTorch program alone, e.g. "--memory-format
#                     channels_last" (the cnn model's storage)
#   BENCH_ARGS        more flags for both programs, e.g. "--steps 20 --warmup 10 --latency-runs 200"
#                     for a smoke test (flags both take: --steps --warmup --samples --seed
#                     --latency-runs)
#   DAGRAD_BUILD_DIR  the build folder (default build/); DAGRAD_BENCH a prebuilt binary instead
#   OUT               folder of every run's JSON lines, peak RSS and the summary (default: new
#                     folder under /tmp)
set -euo pipefail

cd "$(dirname "$0")/.."
pairs=${1:-3}
[[ $pairs =~ ^[1-9][0-9]*$ ]] || { echo "usage: bench/run_bench.sh [PAIRS]" >&2; exit 2; }
torch_omp=${TORCH_OMP:-1}
torch_blas=${TORCH_BLAS:-2}
dagrad_blas=${DAGRAD_BLAS:-$torch_blas}
blas_core=${BLAS_CORE:-env}
repeats=${REPEATS:-5}
figures=${FIGURES:-train latency build}
models=${MODELS:-plain bn}
batches=${BATCHES:-32 256}
build_dir=${DAGRAD_BUILD_DIR:-build}
out=${OUT:-$(mktemp -d /tmp/dagrad_bench.XXXXXX)}
mkdir -p "$out"

sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)

# ---- dagrad_bench, Release ----------------------------------------------------------------
bench=${DAGRAD_BENCH:-}
if [[ -z $bench ]]; then
  scripts/install-deps.sh
  if [[ ! -f $build_dir/CMakeCache.txt ]]; then
    cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build_dir/CMakeCache.txt")
  if [[ $build_type != Release ]]; then
    echo "run_bench: $build_dir is a '$build_type' build; benchmark a Release build" \
         "(DAGRAD_BUILD_DIR=build-release, or cmake -DCMAKE_BUILD_TYPE=Release)" >&2
    exit 2
  fi
  cmake -S . -B "$build_dir" -DDAGRAD_BUILD_BENCH=ON >/dev/null
  cmake --build "$build_dir" -j "$(nproc)" --target dagrad_bench
  bench=$build_dir/bench/dagrad_bench
fi
[[ -x $bench ]] || { echo "run_bench: no benchmark binary at $bench" >&2; exit 2; }

# ---- PyTorch and oneDNN: Debian's, benchmark-only dependencies ------------------------------
missing=()
for p in python3-torch python3-numpy libdnnl-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "run_bench: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi
/usr/bin/python3 -c 'import torch, numpy' ||
  { echo "run_bench: /usr/bin/python3 cannot import torch and numpy" >&2; exit 2; }

if [[ " $figures " == *" onednn "* ]]; then
  # Configured again: oneDNN may have been installed just now (bench/CMakeLists.txt finds it).
  cmake -S . -B "$build_dir" >/dev/null
  cmake --build "$build_dir" -j "$(nproc)" --target onednn_matmul
fi

# ---- the runs -----------------------------------------------------------------------------
read -r -a extra_args <<<"${BENCH_ARGS:-}"
read -r -a torch_args <<<"${TORCH_ARGS:-}"
read -r -a torch_env <<<"${TORCH_ENV:-}"
read -r -a dagrad_env <<<"${DAGRAD_ENV:-}"
blas_env=()
[[ $blas_core == auto ]] && blas_env=(-u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)
[[ $blas_core == env || $blas_core == auto ]] ||
  { echo "run_bench: BLAS_CORE is env or auto, not '$blas_core'" >&2; exit 2; }
dagrad_cmd=(env "${blas_env[@]}" "${dagrad_env[@]}" OPENBLAS_NUM_THREADS="$dagrad_blas" "$bench" --threads "$dagrad_blas"
            --repeats "$repeats" --format json "${extra_args[@]}")
torch_cmd=(env "${blas_env[@]}" "${torch_env[@]}" OMP_NUM_THREADS="$torch_omp" OPENBLAS_NUM_THREADS="$torch_blas"
           /usr/bin/python3 bench/torch_reference.py --repeats "$repeats" --format json "${extra_args[@]}"
           "${torch_args[@]}")

{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with local changes)')"
  echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
  echo "environment: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-unset}, BLAS_CORE=$blas_core"
  echo "A (dagrad): ${dagrad_cmd[*]}"
  echo "B (PyTorch): ${torch_cmd[*]}"
  echo "load before: $(uptime)"
} | tee "$out/header.txt"
echo "every run's output: $out"

# One run: its JSON lines into NAME.jsonl, peak RSS (kB) into NAME.rss; prints the main figure.
run() {
  local name=$1
  shift
  if ! /usr/bin/time -f %M -o "$out/$name.rss" "$@" >"$out/$name.jsonl" 2>"$out/$name.err"; then
    echo "run_bench: $name failed:" >&2
    cat "$out/$name.err" >&2
    exit 1
  fi
  /usr/bin/python3 - "$out/$name.jsonl" "$name" "$(cat "$out/$name.rss")" <<'EOF'
import json, sys
records = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
shown = []
for r in records:
    for key, unit in (("samples_per_s", "samples/s"), ("us", "us"), ("total_ms", "ms")):
        if key in r:
            label = r["figure"] + (f" {r['depth']}" if "depth" in r else "")
            shown.append(f"{label} {r[key]:,.{1 if unit != 'samples/s' else 0}f} {unit}")
print(f"  {sys.argv[2]:<28} " + ", ".join(shown) + f"; peak RSS {int(sys.argv[3]) / 1024:.0f} MiB")
EOF
}

for ((i = 1; i <= pairs; i++)); do
  echo "pair $i of $pairs"
  if [[ " $figures " == *" train "* ]]; then
    for model in $models; do
      for batch in $batches; do
        args=(--only "train,gemm" --model "$model" --batch "$batch")
        run "dagrad_train_${model}_${batch}_$i" "${dagrad_cmd[@]}" "${args[@]}"
        run "torch_train_${model}_${batch}_$i" "${torch_cmd[@]}" "${args[@]}"
      done
    done
  fi
  if [[ " $figures " == *" latency "* ]]; then
    run "dagrad_latency_$i" "${dagrad_cmd[@]}" --only latency
    run "torch_latency_$i" "${torch_cmd[@]}" --only latency
  fi
  if [[ " $figures " == *" build "* ]]; then
    run "dagrad_build_$i" "${dagrad_cmd[@]}" --only build
  fi
done
if [[ " $figures " == *" onednn "* ]]; then
  echo "oneDNN matmul against dagrad's products (bench/onednn_matmul.cpp):"
  env "${blas_env[@]}" "$build_dir/bench/onednn_matmul" | tee "$out/onednn.txt"
fi
echo "load after: $(uptime)" | tee -a "$out/header.txt"
echo
/usr/bin/python3 bench/bench_summary.py "$out" | tee "$out/summary.md"
