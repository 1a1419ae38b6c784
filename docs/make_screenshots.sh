#!/usr/bin/env bash
# Renders every screenshot in docs/images/ with the app itself: kvlab --script docs/shots/NAME.txt
# under Xvfb. Run after GUI changes:  bash docs/make_screenshots.sh   (needs a Release build in build/).
# docs/images/sizes/: the scene of docs/shots/sizes.txt at three window sizes, normal and projector,
# full and classroom layout (the classroom layout is switched by clicking the toolbar's right-most
# button, whose place follows from the window size and projector mode's text size: 1/32 of the height).
set -euo pipefail
cd "$(dirname "$0")/.."
for script in docs/shots/*.txt; do
  name=$(basename "$script" .txt)
  [ "$name" = sizes ] && continue
  xvfb-run -a -s "-screen 0 1600x1000x24" ./build/kvlab --script "$script" --screenshot "docs/images/$name.png" --size 1600x1000 2>&1 | tail -1
done
mkdir -p docs/images/sizes
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for size in 1280x720 1600x1000 1920x1080; do
  w=${size%x*}; h=${size#*x}
  for mode in normal projector; do
    for layout in full classroom; do
      : > "$tmp"
      [ "$mode" = projector ] && echo "projector on" >> "$tmp"
      cat docs/shots/sizes.txt >> "$tmp"
      if [ "$layout" = classroom ]; then
        # toolbar button centre: menu bar + window padding + half a button (1.9 font heights)
        y=$(awk -v h="$h" -v p="$mode" 'BEGIN { s = 1; if (p == "projector") { s = h / 32 / 17; if (s < 1.3) s = 1.3; if (s > 2.5) s = 2.5 }
                                               fs = 17 * s; printf "%d", fs + 6 * s + 8 * s + 0.95 * fs }')
        printf 'click %d %d\nhover 2 %d\n' $((w - 30)) "$y" $((h - 3)) >> "$tmp"
      fi
      suffix=$([ "$mode" = projector ] && echo "-projector" || true)
      xvfb-run -a -s "-screen 0 1920x1080x24" ./build/kvlab --script "$tmp" \
        --screenshot "docs/images/sizes/$layout-$size$suffix.png" --size "$size" 2>&1 | tail -1
    done
  done
done
