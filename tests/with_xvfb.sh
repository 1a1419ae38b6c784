#!/usr/bin/env bash
# Runs a command under xvfb-run (a virtual display), or skips (exit 77) with a message when xvfb-run is
# not installed, so GUI tests never pass silently without having run.
if ! command -v xvfb-run >/dev/null 2>&1; then
  echo "SKIPPED: xvfb-run is not installed (apt-get install xvfb xauth), so the window cannot be tested here"
  exit 77
fi
exec xvfb-run -a -s "-screen 0 1600x1000x24" "$@"
