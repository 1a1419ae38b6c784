#!/usr/bin/env bash
# Renders every screenshot in docs/images/ with the app itself: kvlab --script docs/shots/NAME.txt
# under Xvfb. Run after GUI changes:  bash docs/make_screenshots.sh   (needs a Release build in build/).
set -euo pipefail
cd "$(dirname "$0")/.."
for script in docs/shots/*.txt; do
  name=$(basename "$script" .txt)
  xvfb-run -a -s "-screen 0 1600x1000x24" ./build/kvlab --script "$script" --screenshot "docs/images/$name.png" --size 1600x1000 2>&1 | tail -1
done
