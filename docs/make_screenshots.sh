#!/usr/bin/env bash
# Renders every screenshot in docs/images/ with the app itself: kvlab --script docs/shots/NAME.txt
# under Xvfb. Run after GUI changes:  bash docs/make_screenshots.sh   (needs a Release build in build/).
# docs/images/sizes/: the scene of docs/shots/sizes.txt at three window sizes, normal and projector,
# full and classroom layout (the script verb `layout classroom`). docs/images/lesson-*.png: the default
# lesson walked through (docs/shots/lesson/walk.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
for script in docs/shots/*.txt; do
  name=$(basename "$script" .txt)
  [ "$name" = sizes ] && continue
  xvfb-run -a -s "-screen 0 1600x1000x24" ./build/kvlab --script "$script" --screenshot "docs/images/$name.png" --size 1600x1000 2>&1 | tail -1
done
# the default lesson's moments (docs/lessons.md): projector mode on a 1280x720 projector
xvfb-run -a -s "-screen 0 1920x1080x24" ./build/kvlab --script docs/shots/lesson/walk.txt --size 1280x720 2>&1 | tail -1
mkdir -p docs/images/sizes
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for size in 1280x720 1600x1000 1920x1080; do
  h=${size#*x}
  for mode in normal projector; do
    for layout in full classroom; do
      : > "$tmp"
      [ "$mode" = projector ] && echo "projector on" >> "$tmp"
      cat docs/shots/sizes.txt >> "$tmp"
      [ "$layout" = classroom ] && printf 'layout classroom\nhover 2 %d\n' $((h - 3)) >> "$tmp"
      suffix=$([ "$mode" = projector ] && echo "-projector" || true)
      xvfb-run -a -s "-screen 0 1920x1080x24" ./build/kvlab --script "$tmp" \
        --screenshot "docs/images/sizes/$layout-$size$suffix.png" --size "$size" 2>&1 | tail -1
    done
  done
done
