#!/usr/bin/env bash
# The README's test command: installs dependencies, builds, and runs every test with CTest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/build.sh"
build_dir=${DAGRAD_BUILD_DIR:-$root/build}
cd "$build_dir"
ctest --output-on-failure -j "${DAGRAD_JOBS:-$(nproc)}"
