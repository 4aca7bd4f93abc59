#!/usr/bin/env bash
# Times `dagrad train` (A) against its PyTorch reference bench/fashion_mnist_torch.py (B) as whole
# processes, in turn (A B A B ...) so that a drift in the shared machine's speed hits both, and
# prints each run, the medians and the pair-by-pair ratio A/B. Every run's output is kept.
#
# usage: bench/run_fashion_mnist.sh [RUNS]        (default 3 pairs)
# environment:
#   DAGRAD            the dagrad binary (default build/tools/dagrad)
#   DAGRAD_BLAS       OPENBLAS_NUM_THREADS of dagrad (default 1)
#   TORCH_OMP         OMP_NUM_THREADS of PyTorch (default 1)
#   TORCH_BLAS        OPENBLAS_NUM_THREADS of PyTorch (default 1)
#   EPOCHS            epochs of both (default 10, the main job's; fewer for a smoke test)
#   OUT               folder of the logs (default a new one under /tmp)
set -euo pipefail

cd "$(dirname "$0")/.."
runs=${1:-3}
dagrad=${DAGRAD:-build/tools/dagrad}
dagrad_blas=${DAGRAD_BLAS:-1}
torch_omp=${TORCH_OMP:-1}
torch_blas=${TORCH_BLAS:-1}
epochs=${EPOCHS:-10}
out=${OUT:-$(mktemp -d /tmp/bench_fashion_mnist.XXXXXX)}
mkdir -p "$out"

[[ -x $dagrad ]] || { echo "no dagrad binary at $dagrad (build it, or set DAGRAD)" >&2; exit 2; }
/usr/bin/python3 -c 'import torch' 2>/dev/null ||
  { echo "/usr/bin/python3 has no torch: apt-get install python3-torch (see bench/README.md)" >&2; exit 2; }

a=(env OPENBLAS_NUM_THREADS="$dagrad_blas" "$dagrad" train --epochs "$epochs" --verbose 2 --out "$out/dagrad")
b=(env OMP_NUM_THREADS="$torch_omp" OPENBLAS_NUM_THREADS="$torch_blas"
   /usr/bin/python3 bench/fashion_mnist_torch.py --epochs "$epochs")
echo "A: ${a[*]}"
echo "B: ${b[*]}"
echo "logs in $out; load average: $(cut -d' ' -f1-3 /proc/loadavg)"

# One run: "wall user sys" from /usr/bin/time, then the run's test accuracy.
timed() {
  local name=$1
  shift
  /usr/bin/time -f '%e %U %S' -o "$out/$name.time" "$@" >"$out/$name.log" 2>&1 ||
    { echo "$name failed, see $out/$name.log" >&2; exit 1; }
  local acc
  acc=$(sed -n 's/^test accuracy: //p' "$out/$name.log")
  echo "$(cat "$out/$name.time") ${acc:-?}"
}

printf '%-6s %9s %9s %9s %9s\n' run wall_s user_s sys_s test_acc
: >"$out/pairs"
for ((i = 1; i <= runs; i++)); do
  ra=$(timed "a$i" "${a[@]}")
  read -r -a fa <<<"$ra"
  printf '%-6s %9s %9s %9s %9s\n' "A$i" "${fa[@]}"
  rb=$(timed "b$i" "${b[@]}")
  read -r -a fb <<<"$rb"
  printf '%-6s %9s %9s %9s %9s\n' "B$i" "${fb[@]}"
  echo "$ra $rb" >>"$out/pairs"
done

# Medians of A, of B and of the pair-by-pair ratios (wall and user+sys).
awk '
  function median(v, n,   i, j, t) {
    for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j-1] > v[j]; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
    return n % 2 ? v[(n+1)/2] : (v[n/2] + v[n/2+1]) / 2
  }
  { n++; aw[n] = $1; ac[n] = $2 + $3; bw[n] = $5; bc[n] = $6 + $7; rw[n] = $1 / $5; rc[n] = ($2 + $3) / ($6 + $7) }
  END {
    printf "median over %d pairs: A wall %.1f s, cpu %.1f s; B wall %.1f s, cpu %.1f s\n",
           n, median(aw, n), median(ac, n), median(bw, n), median(bc, n)
    printf "median A/B: wall %.3f, cpu %.3f\n", median(rw, n), median(rc, n)
  }' "$out/pairs"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
