#!/usr/bin/env bash
# Data-parallel scaling on this machine (bench/README.md, "Data-parallel scaling"): the chapter's
# model trained on Fashion-MNIST at one global batch, in three configurations run in turn, round
# after round (A B C A B C ...), so that the machine's load falls on all alike:
#   A  2 ranks x 1 thread   mpirun -np 2 scaling_bench --distributed --threads 1
#   B  1 rank  x 2 threads  scaling_bench --threads 2
#   C  1 rank  x 1 thread   scaling_bench --threads 1
# and prints each one's median samples/s and the ratios A/B (the scaling efficiency the issue
# asks for: the same 2 cores used by ranks instead of threads) and A/(2 C) (classic efficiency).
#   bench/run_scaling.sh [ROUNDS] [MODEL] [GLOBAL_BATCH...]   (defaults: 3 plain 64 512)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
model=${2:-plain}
shift $(( $# > 2 ? 2 : $# )) || true
batches=("$@")
[ ${#batches[@]} -eq 0 ] && batches=(64 512)
./scripts/install-deps.sh >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2 --target scaling_bench >/dev/null
bin=build/bench/scaling_bench
mpirun_flags=(-np 2 --oversubscribe --bind-to none)
[ "$(id -u)" -eq 0 ] && mpirun_flags+=(--allow-run-as-root)
out=$(mktemp -d)
for r in $(seq 1 "$rounds"); do
  for b in "${batches[@]}"; do
    OPENBLAS_NUM_THREADS=1 mpirun "${mpirun_flags[@]}" "$bin" --distributed --threads 1 --model "$model" \
      --global-batch "$b" >> "$out/A_$b"
    "$bin" --threads 2 --model "$model" --global-batch "$b" >> "$out/B_$b"
    "$bin" --threads 1 --model "$model" --global-batch "$b" >> "$out/C_$b"
  done
  echo "round $r of $rounds done" >&2
done
python3 - "$out" "$model" "${batches[@]}" <<'PY'
import json, statistics, sys, os
out, model, batches = sys.argv[1], sys.argv[2], sys.argv[3:]
def load(name):
    return [json.loads(l) for l in open(os.path.join(out, name)) if l.startswith("{")]
print(f"model {model}, Fashion-MNIST 55,000 training images, median samples/s over rounds")
print("| global batch | A: 2 ranks x 1 thread | B: 1 rank x 2 threads | C: 1 rank x 1 thread | A/B | A/(2C) |")
print("|---|---|---|---|---|---|")
for b in batches:
    a, bb, c = (statistics.median(r["samples_per_second"] for r in load(f"{k}_{b}")) for k in "ABC")
    pairs = [x["samples_per_second"] / y["samples_per_second"] for x, y in zip(load(f"A_{b}"), load(f"B_{b}"))]
    print(f"| {b} | {a:,.0f} | {bb:,.0f} | {c:,.0f} | {a / bb:.2f} (rounds: {', '.join(f'{p:.2f}' for p in pairs)}) | {a / (2 * c):.2f} |")
PY
rm -rf "$out"
