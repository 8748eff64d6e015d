#!/usr/bin/env bash
# Installs the Debian packages qkv needs (only those missing), then configures and builds into build/.
# Idempotent: with nothing to install or rebuild it finishes in seconds. Extra CMake arguments may be
# given in QKV_CMAKE_ARGS (for example -DQKV_WERROR=ON, as CI does).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake ninja-build g++ libopenblas-openmp-dev libcereal-dev doctest-dev nlohmann-json3-dev libcli11-dev)
packages+=("$@")  # callers may ask for more (CI adds clang and the formatter)

scripts/install_missing.sh "${packages[@]}"

# shellcheck disable=SC2086
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release ${QKV_CMAKE_ARGS:-} >/dev/null
cmake --build build -j2
