#!/usr/bin/env bash
# The README's run command: sets everything up (scripts/setup.sh) and starts the KV Cache Lab window
# on the shipped default model. Extra arguments go to kvlab (e.g. --projector). Without a display,
# kvlab says so in one line and shows how to use xvfb-run or kvlab-cli instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec ./build/kvlab --model default "$@"
