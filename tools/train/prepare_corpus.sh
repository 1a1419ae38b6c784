#!/usr/bin/env bash
# Extracts the training corpus for the default model: the King James Version of the Bible (public
# domain; Debian packages bible-kjv + bible-kjv-text), one verse per line without verse references.
# Writes $1 (default /tmp/kvlab-corpus.txt). Developer tool: never needed to build, run or test.
set -euo pipefail
out="${1:-/tmp/kvlab-corpus.txt}"
command -v bible >/dev/null || { echo "install the Debian packages bible-kjv bible-kjv-text first"; exit 1; }
bible -f "Genesis 1:1-Revelation 22:21" | sed -E 's/^[0-9A-Za-z]+[0-9]+:[0-9]+ //' > "$out"
echo "wrote $out: $(wc -l <"$out") lines, $(wc -c <"$out") bytes"
