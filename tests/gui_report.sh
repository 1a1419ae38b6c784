#!/usr/bin/env bash
# GUI state test: runs kvlab under Xvfb with a script and --report, then checks the report's fields
# with report_check (counts and states only, never times). Skips (77) without xvfb-run.
# Usage: gui_report.sh KVLAB REPORT_CHECK SCRIPT CHECK...
set -u
kvlab="$1"; check="$2"; script="$3"; shift 3
here="$(cd "$(dirname "$0")" && pwd)"
report="$(basename "$script" .txt).report.json"
rm -f "$report"
"$here/with_xvfb.sh" "$kvlab" --script "$script" --report "$report"
code=$?
[ "$code" = 77 ] && exit 77
[ "$code" = 0 ] || { echo "kvlab exited with $code"; exit 1; }
"$check" "$report" "$@"
