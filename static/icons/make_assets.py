"""Make the PWA icons (the verdict tones are made in the browser: scanner-ui.js).

    python static/icons/make_assets.py

Writes, next to this script:

- icon-192.png, icon-512.png: "any" purpose icons, a white ticket on a dark teal
  rounded square (transparent corners).
- maskable-512.png: full-bleed teal square; the ticket stays inside the central
  80 % safe zone (a circle of radius 0.4 x size), so any mask shape keeps it whole.

Only Pillow and the standard library; the output is deterministic.
"""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent

TEAL = (0, 0x56, 0x5B, 255)
WHITE = (255, 255, 255, 255)
CLEAR = (0, 0, 0, 0)
SUPERSAMPLE = 4  # draw big, then downscale: cheap anti-aliasing


# --- icons -----------------------------------------------------------------


def _ticket(size: int, width: float, height: float) -> Image.Image:
    """A white ticket, centred on a transparent `size` square, tilted a little.

    `width` and `height` are fractions of `size`. The ticket has a stub on the
    left separated by notches and a dashed perforation, and an "echo" mark
    (a dot between arcs; kaiku = echo) on the main part.
    """
    layer = Image.new("RGBA", (size, size), CLEAR)
    draw = ImageDraw.Draw(layer)
    w, h = width * size, height * size
    left, top = (size - w) / 2, (size - h) / 2
    right, bottom = left + w, top + h
    draw.rounded_rectangle((left, top, right, bottom), radius=0.12 * h, fill=WHITE)

    # Notches top and bottom, at the perforation between stub and main part.
    perf_x = left + 0.28 * w
    notch = 0.11 * h
    for cy in (top, bottom):
        draw.ellipse((perf_x - notch, cy - notch, perf_x + notch, cy + notch), fill=CLEAR)
    dash, gap, thick = 0.07 * h, 0.055 * h, 0.035 * w
    y = top + notch + gap
    while y + dash <= bottom - notch - gap + 1e-6:
        draw.rounded_rectangle(
            (perf_x - thick / 2, y, perf_x + thick / 2, y + dash), radius=thick / 2, fill=TEAL
        )
        y += dash + gap

    # Echo mark on the main part, "((•))": a dot with two arcs on each side.
    cx = perf_x + (right - perf_x) / 2
    cy = top + h / 2
    dot = 0.09 * h
    draw.ellipse((cx - dot, cy - dot, cx + dot, cy + dot), fill=TEAL)
    stroke = round(0.07 * h)
    r_end = stroke / 2
    for radius in (0.22 * h, 0.36 * h):
        box = (cx - radius, cy - radius, cx + radius, cy + radius)
        for mid in (0, 180):  # right and left
            draw.arc(box, start=mid - 42, end=mid + 42, fill=TEAL, width=stroke)
            for angle in (mid - 42, mid + 42):  # round the arc ends
                ex = cx + (radius - r_end) * math.cos(math.radians(angle))
                ey = cy + (radius - r_end) * math.sin(math.radians(angle))
                draw.ellipse((ex - r_end, ey - r_end, ex + r_end, ey + r_end), fill=TEAL)

    return layer.rotate(12, resample=Image.Resampling.BICUBIC)


def make_icon(size: int, *, maskable: bool) -> Image.Image:
    big = size * SUPERSAMPLE
    if maskable:
        # Corner-to-centre distance sqrt(0.31² + 0.2²) = 0.369 < 0.4: inside the
        # safe circle whatever the tilt.
        base = Image.new("RGBA", (big, big), TEAL)
        ticket = _ticket(big, 0.62, 0.40)
    else:
        base = Image.new("RGBA", (big, big), CLEAR)
        ImageDraw.Draw(base).rounded_rectangle(
            (0, 0, big - 1, big - 1), radius=0.22 * big, fill=TEAL
        )
        ticket = _ticket(big, 0.74, 0.48)
    base.alpha_composite(ticket)
    return base.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    icons = {
        "favicon-32.png": make_icon(32, maskable=False),
        "icon-192.png": make_icon(192, maskable=False),
        "icon-512.png": make_icon(512, maskable=False),
        "maskable-512.png": make_icon(512, maskable=True),
    }
    for name, image in icons.items():
        # A small palette keeps the two-colour motif and its soft edges at a fraction of the size.
        image.quantize(colors=32, method=Image.Quantize.FASTOCTREE).save(HERE / name, optimize=True)
    for path in sorted(HERE.glob("*.png")):
        print(f"{path.relative_to(HERE.parent)}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
