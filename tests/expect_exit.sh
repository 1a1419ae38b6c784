#!/usr/bin/env bash
# Runs a command and checks its exit code and that stderr is one readable "kvlab-cli: ..." line
# (no stack trace, no abort). Usage: expect_exit.sh CODE [--stderr REGEX] -- command args...
set -u
want="$1"; shift
pattern=""
if [ "${1:-}" = "--stderr" ]; then pattern="$2"; shift 2; fi
[ "${1:-}" = "--" ] && shift
err="$(mktemp)"; trap 'rm -f "$err"' EXIT
"$@" >/dev/null 2>"$err"
got=$?
lines=$(wc -l <"$err")
if [ "$got" != "$want" ]; then echo "expected exit $want, got $got; stderr:"; cat "$err"; exit 1; fi
if [ "$want" != 0 ]; then
  if [ "$lines" -ne 1 ] || ! grep -Eq "^kvlab(-cli)?: " "$err"; then echo "expected one "kvlab...: ..." line on stderr, got:"; cat "$err"; exit 1; fi
fi
if [ -n "$pattern" ] && ! grep -Eq -- "$pattern" "$err"; then echo "stderr does not match /$pattern/:"; cat "$err"; exit 1; fi
echo "ok: exit $got: $(head -c 300 "$err")"
