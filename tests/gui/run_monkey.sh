#!/usr/bin/env bash
# Runs a seeded GUI monkey (make_monkey.sh SEED FRAMES) in KVLAB under Xvfb and passes when the app
# exits 0 having drawn at least FRAMES frames. It does not judge what is drawn, only that nothing
# crashes, hangs, leaks (in sanitizer builds) or stops the script. Usage: run_monkey.sh KVLAB SEED FRAMES
set -u
kvlab="$1"; seed="$2"; want="$3"
here="$(cd "$(dirname "$0")" && pwd)"
script="$(mktemp --suffix=.monkey.txt)"; log="$(mktemp)"
trap 'rm -f "$script" "$log"' EXIT
# make_monkey's budget is a lower bound (waiting for the engine draws more frames: 1.7x to 5x seen)
bash "$here/make_monkey.sh" "$seed" "$want" >"$script"
# Mesa's software driver is dlclose()d by glfwTerminate before LeakSanitizer runs, so blocks Mesa
# still referenced from its own globals show up as leaks from "<unknown module>" that no suppression
# can name. Preloading the driver keeps it mapped: nothing of Mesa's is reported, ours still would be.
driver="$(ls /usr/lib/*/dri/swrast_dri.so 2>/dev/null | head -n 1)"
if [ -n "$driver" ]; then
  export LD_PRELOAD="$driver${LD_PRELOAD:+:$LD_PRELOAD}"
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
fi
"$here/../with_xvfb.sh" "$kvlab" --script "$script" >"$log" 2>&1
code=$?
[ "$code" = 77 ] && { cat "$log"; exit 77; }
frames=$(sed -n 's/^kvlab: \([0-9]*\) frames.*/\1/p' "$log" | tail -n 1)
grep -v '^kvlab: saved' "$log" | tail -n 20
echo "monkey seed $seed: exit $code, ${frames:-0} frames (wanted >= $want)"
[ "$code" = 0 ] && [ "${frames:-0}" -ge "$want" ]
