#!/usr/bin/env bash
# The README's main-job command: installs dependencies, builds, and runs the main job.
# Until the nn and optim modules exist, the main job is examples/train_gd: a two-layer network
# learns a spiral with gradients() and assign_sub updates compiled into one plan; it writes its
# forward and gradient graph as DOT, SVG and a graph file, which `dagrad dot` renders again.
# examples/graph_basics (build, run, save and draw a small graph) runs first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/build.sh"
build_dir=${DAGRAD_BUILD_DIR:-$root/build}
out=${1:-$root/out}
mkdir -p "$out"
"$build_dir/examples/graph_basics" "$out"
"$build_dir/examples/train_gd" "$out"
"$build_dir/tools/dagrad" dot "$out/train_gd.dagrad" -o "$out/train_gd_dense_1.png" --scope dense_1 --no-backward
echo "main job: outputs in $out"
