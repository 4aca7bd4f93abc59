#!/usr/bin/env bash
# Installs the dependencies (if missing) and builds dagrad in build/ (Release).
# Usage: scripts/build.sh [extra cmake configure arguments]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
build_dir=${DAGRAD_BUILD_DIR:-$root/build}
jobs=${DAGRAD_JOBS:-$(nproc)}
cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$build_dir" -j "$jobs"
