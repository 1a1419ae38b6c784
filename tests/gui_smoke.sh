#!/usr/bin/env bash
# GUI smoke test: runs kvlab under xvfb-run with tests/gui/smoke.txt and checks both screenshots
# (size, not blank, grid colours). Skips with a message (exit 77) when xvfb-run is not installed.
set -u
kvlab="$1"; check="$2"; script="$3"
if ! command -v xvfb-run >/dev/null 2>&1; then
  echo "SKIPPED: xvfb-run is not installed (apt-get install xvfb xauth), so the window cannot be tested here"
  exit 77
fi
rm -f smoke-cache-on.png smoke-cache-off.png
xvfb-run -a -s "-screen 0 1600x1000x24" "$kvlab" --script "$script" --screenshot smoke-cache-off.png --size 1600x1000 || exit 1
"$check" smoke-cache-on.png 1600 1000 cached written || exit 1
"$check" smoke-cache-off.png 1600 1000 recomputed || exit 1
