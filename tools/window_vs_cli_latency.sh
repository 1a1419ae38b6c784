#!/usr/bin/env bash
# Latency honesty (docs/performance.md, "The window's CPU and the latency it shows"): the median
# ms/token the window plots while playing, against kvlab-cli generate for the same model, prompt,
# positions and engine threads, cache on and off. Runs each side RUNS times, alternating, and prints
# the medians and their ratio. Not a test (times are never asserted); needs xvfb-run and python3.
# Usage: tools/window_vs_cli_latency.sh BUILD_DIR MODEL TOKENS THREADS [RUNS] [extra kvlab flags...]
set -eu
build="$1"; model="$2"; tokens="$3"; threads="$4"; runs="${5:-3}"; shift 4; [ $# -gt 0 ] && shift
prompt="The cache remembers"
tmp="$(mktemp -d)"
median_steps() {  # FILE KEY: median of the per-step ms after the first step (the prompt's pass)
  python3 -c "import json,statistics,sys; d=json.load(open(sys.argv[1])); s=d[sys.argv[2]]; print(statistics.median([x['ms'] for x in s[1:]]))" "$1" "$2"
}
for cache in on off; do
  flag=""; [ "$cache" = off ] && flag="--no-cache"
  printf "cache %s\ntokens %s\nspeed 1000\nreset\nplay\nwait\n" "$cache" "$tokens" >"$tmp/play.txt"
  for run in $(seq "$runs"); do
    xvfb-run -a -s "-screen 0 1920x1080x24" "$build/kvlab" --model "$model" --prompt "$prompt" --threads "$threads" \
      --script "$tmp/play.txt" --report "$tmp/window.json" "$@" >/dev/null 2>&1
    "$build/kvlab-cli" generate --model "$model" --prompt "$prompt" --tokens "$tokens" --threads "$threads" $flag --json >"$tmp/cli.json"
    w=$(median_steps "$tmp/window.json" step_ms)
    c=$(median_steps "$tmp/cli.json" steps)
    python3 -c "import sys; w,c=float(sys.argv[1]),float(sys.argv[2]); print(f'cache {sys.argv[3]:3} run {sys.argv[4]}: window {w:8.3f} ms  cli {c:8.3f} ms  window/cli {w/c:5.2f}')" "$w" "$c" "$cache" "$run"
  done
done
rm -rf "$tmp"
