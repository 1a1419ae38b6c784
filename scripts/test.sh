#!/usr/bin/env bash
# The README's test command: sets everything up (scripts/setup.sh) and runs every test with CTest.
# Extra arguments go to ctest (e.g. -R cli_ to run only the command-line tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
ctest --test-dir "${KVLAB_BUILD_DIR:-build}" --output-on-failure -j"$(nproc)" "$@"
