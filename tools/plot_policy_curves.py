#!/usr/bin/python3
"""Draws docs/cache-policies.md's figures: perplexity per window of positions, one line per cache
policy, from `kvlab-cli quality --cache-policy P --json` outputs, as a PNG (Debian's python3-pil and
the DejaVu fonts kvlab already ships with). Does not run kvlab-cli; tools/ only, never CI.

Usage: tools/plot_policy_curves.py OUT.png TITLE NAME=quality.json [NAME=quality.json ...]
The first file's full-cache curve ("perplexity_full", where it exists) is drawn dashed as the
reference; a vertical line marks the model's context when a run went past it.
"""
import json
import math
import sys

from PIL import Image, ImageDraw, ImageFont

COLOURS = [(0, 114, 178), (213, 94, 0), (0, 158, 115), (204, 121, 167), (230, 159, 0), (86, 180, 233)]  # Okabe-Ito
W, H, LEFT, RIGHT, TOP, BOTTOM = 1400, 660, 110, 300, 90, 80
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def load(arg):
    name, path = arg.split("=", 1)
    with open(path) as f:
        return name, json.load(f)


def dashed(draw, a, b, colour, width, dash=14):
    (x0, y0), (x1, y1) = a, b
    length = math.hypot(x1 - x0, y1 - y0)
    for s in range(0, int(length), 2 * dash):
        t0, t1 = s / length, min(1.0, (s + dash) / length)
        draw.line([(x0 + (x1 - x0) * t0, y0 + (y1 - y0) * t0), (x0 + (x1 - x0) * t1, y0 + (y1 - y0) * t1)], fill=colour, width=width)


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    out, title, runs = sys.argv[1], sys.argv[2], [load(a) for a in sys.argv[3:]]
    first = runs[0][1]
    curves = []
    full = [(w["first"], w["end"], w["perplexity_full"]) for w in first["windows"] if w["perplexity_full"] is not None]
    if full:
        curves.append(("full cache (error)", full, (0, 0, 0), True))
    for i, (name, q) in enumerate(runs):
        curves.append((name, [(w["first"], w["end"], w["perplexity"]) for w in q["windows"]], COLOURS[i % len(COLOURS)], False))
    x_max = max(end for _, pts, _, _ in curves for _, end, _ in pts)
    values = [v for _, pts, _, _ in curves for _, _, v in pts]
    y_lo, y_hi = math.log10(min(values) * 0.9), math.log10(max(values) * 1.1)
    px = lambda x: LEFT + (W - LEFT - RIGHT) * x / x_max
    py = lambda y: TOP + (H - TOP - BOTTOM) * (1 - (math.log10(y) - y_lo) / (y_hi - y_lo))
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    font, big = ImageFont.truetype(FONT, 22), ImageFont.truetype(FONT.replace("Sans.ttf", "Sans-Bold.ttf"), 26)
    d.text((LEFT, 10), title, fill="black", font=big)
    for e in range(int(math.floor(y_lo)), int(math.ceil(y_hi)) + 1):  # 1-2-5 steps on the log scale
        for m in ((1, 2, 3, 5, 7) if y_hi - y_lo > 0.6 else range(1, 10)):
            y = m * 10 ** e
            if y_lo <= math.log10(y) <= y_hi:
                d.line([(LEFT, py(y)), (W - RIGHT, py(y))], fill=(220, 220, 220), width=1)
                d.text((LEFT - 10, py(y)), f"{y:g}", fill="black", font=font, anchor="rm")
    step = [s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000) if x_max / s <= 10][0]
    for x in range(0, x_max + 1, step):
        d.line([(px(x), TOP), (px(x), H - BOTTOM)], fill=(235, 235, 235), width=1)
        d.text((px(x), H - BOTTOM + 10), str(x), fill="black", font=font, anchor="mt")
    d.text(((LEFT + W - RIGHT) / 2, H - 30), f"position in the text (windows of {first['window']})", fill="black", font=font, anchor="mm")
    d.text((12, TOP - 36), "perplexity (log scale)", fill="black", font=font)
    if first.get("streamed"):
        xc = px(first["positions_with_full"])
        dashed(d, (xc, TOP), (xc, H - BOTTOM), (150, 150, 150), 2, dash=6)
        d.text((xc + 6, TOP + 4), "end of the model's context", fill=(110, 110, 110), font=font)
    for i, (name, pts, colour, is_dashed) in enumerate(curves):
        xy = [(px((a + b) / 2), py(v)) for a, b, v in pts]
        if len(xy) == 1:  # a single window: a dot
            d.ellipse([xy[0][0] - 7, xy[0][1] - 7, xy[0][0] + 7, xy[0][1] + 7], fill=colour)
        for a, b in zip(xy, xy[1:]):
            (dashed if is_dashed else lambda dd, p, q, c, w: dd.line([p, q], fill=c, width=w))(d, a, b, colour, 4)
        ly = TOP + 20 + 34 * i
        (dashed if is_dashed else lambda dd, p, q, c, w: dd.line([p, q], fill=c, width=w))(d, (W - RIGHT + 20, ly), (W - RIGHT + 70, ly), colour, 4)
        d.text((W - RIGHT + 80, ly), name, fill="black", font=font, anchor="lm")
    img.save(out)


if __name__ == "__main__":
    main()
