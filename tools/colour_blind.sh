#!/usr/bin/env bash
# Simulates red-green colour blindness on a screenshot, to check that the window's cell states and
# series can be told apart without colour vision (docs/user-guide.md, issue 14). Uses ImageMagick's
# colour matrix with Machado et al. (2009) severity-1.0 matrices, applied to sRGB values (an
# approximation: good enough to see which colours collapse into one). Not needed to build or test.
#   tools/colour_blind.sh IN.png            -> IN-deuteranopia.png and IN-protanopia.png
set -euo pipefail
in="$1"; base="${in%.png}"
convert "$in" -color-matrix "0.367322 0.860646 -0.227968  0.280085 0.672501 0.047413  -0.011820 0.042940 0.968881" "$base-deuteranopia.png"
convert "$in" -color-matrix "0.152286 1.052583 -0.204868  0.114503 0.786281 0.099216  -0.003882 -0.048116 1.051998" "$base-protanopia.png"
echo "$base-deuteranopia.png $base-protanopia.png"
