#!/usr/bin/env bash
# The README's run command: sets everything up (scripts/setup.sh) and starts KV Cache Lab on the
# shipped default model. Until the window app lands this is the terminal demo of kvlab-cli.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec ./build/kvlab-cli demo --model default "$@"
