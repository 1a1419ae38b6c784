#!/usr/bin/env bash
# Sets up KV Cache Lab on Debian 12: installs the missing Debian packages (sudo when not root; quiet and
# idempotent when everything is present), then configures and builds a Release build in build/.
# It downloads nothing but Debian packages. Used by run.sh and test.sh; safe to run again and again.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(build-essential cmake pkg-config git
  libeigen3-dev catch2 libcli11-dev nlohmann-json3-dev libbenchmark-dev
  libimgui-dev libglfw3-dev libstb-dev libutf8proc-dev fonts-dejavu-core
  xvfb xauth libgl1-mesa-dri wamerican
  clang-14 libclang-rt-14-dev)  # libFuzzer + sanitizer runtimes for tests/fuzz/run.sh (CI)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

BUILD_DIR="${KVLAB_BUILD_DIR:-build}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release ${KVLAB_CMAKE_ARGS:-} >"$log" 2>&1; then
  cat "$log"; echo "setup: cmake configure failed (see above)"; exit 1
fi
if ! cmake --build "$BUILD_DIR" -j"$(nproc)" >"$log" 2>&1; then
  cat "$log"; echo "setup: build failed (see above)"; exit 1
fi
grep -E "warning:" "$log" || true
echo "setup: built $BUILD_DIR/ (Release)"
