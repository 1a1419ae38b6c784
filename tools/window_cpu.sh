#!/usr/bin/env bash
# Measures the CPU the window uses (docs/performance.md, "The window's CPU"): starts kvlab under
# Xvfb with the given arguments, waits WARMUP seconds, then samples /proc/PID/stat (utime + stime of
# the whole process) and /proc/PID/task/*/stat (each thread) over SECONDS seconds and prints the
# percentage of one core, per thread as well. Not a test (times are never asserted); needs xvfb-run.
# Usage: tools/window_cpu.sh WARMUP SECONDS ./build/kvlab [kvlab arguments...]
set -eu
warmup="$1"; seconds="$2"; shift 2
tick=$(getconf CLK_TCK)
xvfb-run -a -s "-screen 0 1920x1080x24" "$@" >/tmp/window_cpu.$$.log 2>&1 &
runner=$!
pid=""
for _ in $(seq 50); do
  pid=$(pgrep -n -P "$(pgrep -n -P $runner || echo 0)" -x kvlab 2>/dev/null || true)
  [ -z "$pid" ] && pid=$(pgrep -n -x kvlab -P "$runner" 2>/dev/null || true)
  [ -n "$pid" ] && break
  sleep 0.2
done
[ -n "$pid" ] || { echo "kvlab did not start"; cat /tmp/window_cpu.$$.log; exit 1; }
sleep "$warmup"
# fields 14 and 15 of stat are utime and stime in clock ticks (the name field has no spaces here)
proc_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
thread_ticks() { for t in /proc/$pid/task/*; do echo "$(basename "$t") $(cat "$t/comm") $(awk '{print $14 + $15}' "$t/stat")"; done; }
p0=$(proc_ticks); thread_ticks >/tmp/window_cpu.$$.t0
sleep "$seconds"
p1=$(proc_ticks); thread_ticks >/tmp/window_cpu.$$.t1
awk -v t="$tick" -v s="$seconds" -v a="$p0" -v b="$p1" 'BEGIN { printf "process: %.1f%% of one core over %d s\n", 100 * (b - a) / t / s, s }'
join /tmp/window_cpu.$$.t0 /tmp/window_cpu.$$.t1 | awk -v t="$tick" -v s="$seconds" \
  '{ d = $5 - $3; if (d > 0) printf "  thread %s (%s): %.1f%%\n", $1, $2, 100 * d / t / s }'
kill "$pid" 2>/dev/null || true
wait "$runner" 2>/dev/null || true
rm -f /tmp/window_cpu.$$.*
