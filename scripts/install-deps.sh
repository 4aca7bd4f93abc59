#!/usr/bin/env bash
# Installs every Debian 12 package dagrad needs to build, test and run. Idempotent: packages
# already present are left alone, and apt is only called when something is missing.
set -euo pipefail

PACKAGES=(
  cmake g++ make ccache pkg-config
  xtensor-dev xtl-dev libxsimd-dev libxtensor-blas-dev libopenblas-dev
  libboost-test-dev
  libdnnl-dev
  graphviz libgraphviz-dev
  gnuplot-nox
  zlib1g-dev nlohmann-json3-dev libcli11-dev
  libopenmpi-dev openmpi-bin
  dataset-fashion-mnist
)
# `--sanitizers`: also what scripts/sanitize.sh needs (clang 16 with libFuzzer and the sanitizer
# runtimes; Debian's default clang 14 cannot compile std::source_location).
if [ "${1:-}" = "--sanitizers" ]; then
  PACKAGES+=(clang-16 libclang-rt-16-dev)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
