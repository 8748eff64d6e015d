#!/usr/bin/env bash
# Installs the Debian packages qkv needs (only those missing), then configures and builds into build/.
# Idempotent: with nothing to install or rebuild it finishes in seconds. Extra CMake arguments may be
# given in QKV_CMAKE_ARGS (for example -DQKV_WERROR=ON, as CI does).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake ninja-build g++ libopenblas-openmp-dev libcereal-dev doctest-dev nlohmann-json3-dev libcli11-dev)
packages+=("$@")  # callers may ask for more (CI adds clang and the formatter)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# shellcheck disable=SC2086
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release ${QKV_CMAKE_ARGS:-} >/dev/null
cmake --build build -j2
