#!/usr/bin/env bash
# The README's main-job command: installs dependencies (Fashion-MNIST comes from Debian's
# dataset-fashion-mnist), builds, and trains the chapter's batch-normalized model on
# Fashion-MNIST with Nesterov momentum for 10 epochs (`dagrad train`: summary, progress bars,
# test accuracy, the model file, history CSV and learning curves in out/train), then evaluates
# the saved model (confusion matrix), predicts a few test images and draws the model's graph.
#   scripts/main-job.sh [OUT_DIR] [-- extra dagrad train flags]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/out"
if [[ $# -gt 0 && "$1" != "--" ]]; then out=$1; shift; fi
[[ $# -gt 0 && "$1" == "--" ]] && shift
"$root/scripts/build.sh"
build_dir=${DAGRAD_BUILD_DIR:-$root/build}
dagrad="$build_dir/tools/dagrad"
mkdir -p "$out"
"$dagrad" train --out "$out/train" "$@"
"$dagrad" evaluate "$out/train/model"
"$dagrad" predict "$out/train/model" --index 0 1 2 3 4
"$dagrad" dot "$out/train/model" --graph inference -o "$out/train/model_inference.svg"
echo "main job: outputs in $out/train"
