"""Synthetic camera frames of the demo catalog's products (and of invented ones).

Every catalog SKU gets a fixed, hand-picked "design": a package shape (bag,
carton, bottle, can, jar, loaf, fruit pile, ...), its colours, a pattern and
its printed name. A frame is that product drawn on a transparent sprite, then
scaled, squashed, rotated, shadowed and pasted on a cluttered counter, partly
covered by a "hand" or another object, lit unevenly, blurred, noised and
sometimes JPEG-compressed. Everything is drawn from a numpy Generator, so a
(design, seed) pair always gives the same frame.

Invented products (for teaching the network what "none of these" looks like,
and for measuring how often it rejects them) use the same shapes with random
colours, patterns and names from word lists that do not overlap the catalog.

Fonts: DejaVu Sans from Debian's fonts-dejavu-core when present, PIL's
built-in bitmap font otherwise (only the training tools draw text; tests use
the committed images).
"""

import csv
import io
import math
import os
import zlib

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

SPRITE = 128  # sprite canvas side in pixels

_FONT_PATHS = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
]
_font_cache = {}


def font(size):
    """A bold sans font of about `size` pixels (PIL's bitmap font if none)."""
    if size not in _font_cache:
        f = None
        for p in _FONT_PATHS:
            if os.path.exists(p):
                f = ImageFont.truetype(p, size)
                break
        _font_cache[size] = f if f is not None else ImageFont.load_default()
    return _font_cache[size]


def load_catalog(path):
    """[(sku, name, barcode)] in file order; the order is the class index."""
    with open(path, newline="", encoding="utf-8") as f:
        return [(r["sku"], r["name"], r["barcode"]) for r in csv.DictReader(f)]


# ---------------------------------------------------------------- designs

# kind, primary, secondary, accent, pattern: chosen by hand so that products
# of one shape differ in colour and pattern, as real packages do.
CATALOG_DESIGNS = {
    "COF-250": ("bag", (120, 60, 30), (230, 200, 150), (200, 30, 30), "band"),
    "COF-1K": ("bag_wide", (25, 25, 25), (210, 170, 60), (240, 240, 240), "stripes_v"),
    "MLK-1L": ("carton", (245, 245, 250), (40, 110, 200), (255, 255, 255), "wave"),
    "BRD-SD": ("loaf", (170, 110, 55), (120, 70, 30), (230, 200, 150), "none"),
    "MUF-BB": ("muffin", (90, 60, 160), (200, 150, 90), (50, 40, 120), "stripes_v"),
    "CRS-BT": ("croissant", (215, 150, 60), (170, 100, 30), (240, 200, 120), "none"),
    "MUG-KS": ("mug", (250, 250, 250), (20, 120, 90), (20, 120, 90), "logo_text"),
    "BAG-CL": ("tote", (225, 210, 180), (60, 60, 60), (200, 60, 40), "circle"),
    "NEWS-D": ("newspaper", (228, 228, 218), (30, 30, 30), (90, 90, 90), "lines"),
    "GFT-10": ("roll", (200, 30, 60), (240, 200, 60), (255, 255, 255), "dots"),
    "CHS-GD": ("wedge", (245, 200, 60), (200, 60, 20), (220, 170, 40), "holes"),
    "YOG-NT": ("tub", (250, 250, 250), (100, 170, 220), (60, 160, 60), "band"),
    "BTR-250": ("block", (250, 230, 140), (30, 90, 50), (200, 40, 40), "band"),
    "EGG-10": ("eggbox", (190, 170, 140), (225, 205, 175), (200, 80, 40), "none"),
    "APL-1K": ("apples", (200, 30, 30), (120, 180, 40), (90, 60, 30), "none"),
    "BAN-1K": ("bananas", (240, 210, 50), (120, 140, 40), (80, 60, 20), "none"),
    "TOM-500": ("tomatoes", (220, 40, 30), (40, 130, 40), (250, 120, 90), "none"),
    "PST-500": ("longbox", (30, 60, 160), (240, 220, 140), (255, 255, 255), "window"),
    "RIC-1K": ("bag", (245, 245, 235), (200, 40, 40), (240, 200, 0), "diag"),
    "OIL-OL": ("bottle", (90, 110, 30), (240, 230, 200), (60, 80, 20), "band"),
    "TEA-GR": ("box", (60, 150, 70), (230, 240, 220), (30, 90, 40), "leaf"),
    "CHO-DK": ("bar", (60, 35, 25), (200, 170, 100), (120, 20, 20), "band"),
    "JUI-OR": ("carton", (250, 140, 20), (255, 255, 255), (240, 90, 0), "circle"),
    "WAT-15": ("bottle_tall", (170, 210, 240), (30, 80, 180), (255, 255, 255), "wave"),
    "COL-05": ("bottle_small", (50, 25, 20), (210, 20, 30), (255, 255, 255), "wave"),
    "BER-05": ("can", (205, 170, 60), (20, 80, 40), (240, 240, 240), "band"),
    "WIN-RD": ("wine", (40, 10, 20), (240, 235, 220), (120, 0, 30), "band"),
    "SOP-HD": ("pump", (230, 150, 190), (255, 255, 255), (150, 60, 120), "circle"),
    "TSP-4": ("rollpack", (250, 250, 250), (120, 170, 220), (30, 80, 160), "dots"),
    "DET-1L": ("jug", (40, 90, 200), (250, 120, 20), (255, 255, 255), "diag"),
    "BAT-AA": ("blister_batt", (240, 200, 0), (20, 20, 20), (200, 150, 40), "none"),
    "PEN-BL": ("blister_pens", (30, 90, 200), (240, 240, 240), (20, 40, 160), "none"),
    "NBK-A5": ("notebook", (200, 40, 40), (20, 20, 20), (240, 240, 240), "none"),
    "MAG-WK": ("magazine", (250, 250, 250), (220, 20, 20), (40, 120, 200), "photo"),
    "STP-10": ("stamps", (240, 240, 230), (40, 100, 180), (200, 50, 50), "grid"),
    "FLW-TL": ("bouquet", (230, 40, 90), (60, 140, 50), (240, 230, 200), "none"),
}

KINDS = sorted({d[0] for d in CATALOG_DESIGNS.values()})
PATTERNS = ["none", "band", "stripes_v", "stripes_h", "diag", "circle", "dots", "wave",
            "leaf", "triangle", "checker"]

# Invented products: word lists disjoint from the catalog's names.
INVENTED_A = ["Peanut", "Maple", "Cocoa", "Lemon", "Cherry", "Salted", "Smoky", "Mint",
              "Ginger", "Vanilla", "Garlic", "Honey", "Pepper", "Almond", "Walnut", "Plum"]
INVENTED_B = ["butter", "syrup", "crisps", "biscuits", "sauce", "cereal", "jam", "soup",
              "granola", "crackers", "spread", "candles", "shampoo", "sponges", "glue", "tape"]
# A second, disjoint pair of lists for the held-out unknowns.
INVENTED_TEST_A = ["Coconut", "Paprika", "Berry", "Sesame", "Cinnamon", "Lime", "Hazel",
                   "Chili", "Apricot", "Fennel"]
INVENTED_TEST_B = ["noodles", "pickles", "wafers", "toffee", "ketchup", "muesli", "lotion",
                   "matches", "napkins", "mustard"]


class Design:
    def __init__(self, kind, primary, secondary, accent, pattern, text):
        self.kind = kind
        self.c1 = tuple(primary)
        self.c2 = tuple(secondary)
        self.c3 = tuple(accent)
        self.pattern = pattern
        self.text = text

    def key(self):
        return (self.kind, self.c1, self.c2, self.c3, self.pattern, self.text)


def catalog_design(sku, name):
    kind, c1, c2, c3, pattern = CATALOG_DESIGNS[sku]
    return Design(kind, c1, c2, c3, pattern, short_name(name))


def short_name(name):
    """The printed name: up to two short lines."""
    words = name.replace('"', "").split()
    line1, line2 = [], []
    for w in words:
        target = line1 if len(" ".join(line1 + [w])) <= 10 or not line1 else line2
        if target is line2 and len(" ".join(line2 + [w])) > 11:
            break
        target.append(w)
    return "\n".join(x for x in (" ".join(line1), " ".join(line2)) if x)


def _hsv(h, s, v):
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    r, g, b = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return (int(r * 255), int(g * 255), int(b * 255))


def invented_design(rng, held_out=False):
    """A product that is not in the catalog: any shape, random colours."""
    a = INVENTED_TEST_A if held_out else INVENTED_A
    b = INVENTED_TEST_B if held_out else INVENTED_B
    text = "%s\n%s" % (a[rng.integers(len(a))], b[rng.integers(len(b))])
    kind = KINDS[rng.integers(len(KINDS))]
    cols = [_hsv(rng.random(), rng.uniform(0.2, 1.0), rng.uniform(0.15, 1.0)) for _ in range(3)]
    pattern = PATTERNS[rng.integers(len(PATTERNS))]
    return Design(kind, cols[0], cols[1], cols[2], pattern, text)


# ---------------------------------------------------------------- drawing


def _shade(c, f):
    return tuple(max(0, min(255, int(v * f))) for v in c)


def _text(d, xy, text, fill, size, anchor="mm"):
    f = font(size)
    try:
        d.multiline_text(xy, text, fill=fill, font=f, anchor=anchor, align="center", spacing=1)
    except (ValueError, TypeError):  # bitmap font: no anchors
        d.multiline_text((xy[0] - 20, xy[1] - 6), text, fill=fill, font=f)


def _pattern(img, box, ds, rng_pat):
    """Draws ds.pattern inside box (x0, y0, x1, y1) of img, clipped to it."""
    x0, y0, x1, y1 = [int(v) for v in box]
    w, h = x1 - x0, y1 - y0
    if w < 4 or h < 4 or ds.pattern == "none":
        return
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    p, c2, c3 = ds.pattern, ds.c2 + (255,), ds.c3 + (255,)
    if p == "band":
        d.rectangle((0, h * 0.55, w, h * 0.8), fill=c2)
        d.rectangle((0, h * 0.8, w, h * 0.86), fill=c3)
    elif p == "stripes_v":
        step = max(4, w // 6)
        for x in range(0, w, step * 2):
            d.rectangle((x, 0, x + step - 1, h), fill=c2)
    elif p == "stripes_h":
        step = max(4, h // 7)
        for y in range(0, h, step * 2):
            d.rectangle((0, y, w, y + step - 1), fill=c2)
    elif p == "diag":
        d.polygon([(0, h * 0.6), (w, h * 0.25), (w, h * 0.5), (0, h * 0.85)], fill=c2)
        d.polygon([(0, h * 0.85), (w, h * 0.5), (w, h * 0.58), (0, h * 0.93)], fill=c3)
    elif p == "circle":
        r = min(w, h) * 0.28
        cx, cy = w / 2, h * 0.62
        d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=c2)
        d.ellipse((cx - r / 2, cy - r / 2, cx + r / 2, cy + r / 2), fill=c3)
    elif p == "dots":
        step = max(6, min(w, h) // 5)
        for yy in range(step // 2, h, step):
            for xx in range(step // 2 + (yy // step % 2) * step // 2, w, step):
                d.ellipse((xx - 2, yy - 2, xx + 2, yy + 2), fill=c2)
    elif p == "wave":
        pts = [(x, h * 0.65 + math.sin(x / max(w, 1) * 2 * math.pi) * h * 0.08) for x in range(0, w + 1, 2)]
        d.polygon(pts + [(w, h), (0, h)], fill=c2)
        d.line(pts, fill=c3, width=2)
    elif p == "leaf":
        cx, cy = w / 2, h * 0.65
        d.ellipse((cx - w * 0.22, cy - h * 0.1, cx + w * 0.22, cy + h * 0.1), fill=c2)
        d.line((cx - w * 0.22, cy, cx + w * 0.22, cy), fill=c3, width=2)
    elif p == "triangle":
        d.polygon([(w * 0.2, h * 0.85), (w * 0.5, h * 0.45), (w * 0.8, h * 0.85)], fill=c2)
    elif p == "checker":
        step = max(5, min(w, h) // 5)
        for yy in range(0, h, step):
            for xx in range(0, w, step):
                if (xx // step + yy // step) % 2:
                    d.rectangle((xx, yy, xx + step - 1, yy + step - 1), fill=c2)
    elif p == "holes":
        for _ in range(7):
            hx, hy, hr = rng_pat.uniform(0.1, 0.9) * w, rng_pat.uniform(0.2, 0.9) * h, rng_pat.uniform(2, 5)
            d.ellipse((hx - hr, hy - hr, hx + hr, hy + hr), fill=c3)
    elif p == "window":
        d.rounded_rectangle((w * 0.15, h * 0.45, w * 0.85, h * 0.8), radius=4, fill=c2)
        for k in range(6):
            yy = h * 0.48 + k * h * 0.05
            d.line((w * 0.18, yy, w * 0.82, yy), fill=_shade(ds.c2, 0.8), width=1)
    elif p == "logo_text":
        _text(d, (w / 2, h * 0.55), "kassa", c2, max(8, h // 5))
    elif p == "lines":
        for k in range(8):
            yy = h * 0.35 + k * h * 0.075
            d.line((w * 0.08, yy, w * (0.5 if k % 3 == 2 else 0.92), yy), fill=c3, width=1)
    elif p == "photo":
        d.rectangle((w * 0.1, h * 0.3, w * 0.9, h * 0.85), fill=c3)
        d.ellipse((w * 0.3, h * 0.4, w * 0.7, h * 0.8), fill=_shade(ds.c2, 0.9) + (255,))
    elif p == "grid":
        for yy in range(2):
            for xx in range(5):
                bx, by = w * (0.05 + xx * 0.19), h * (0.35 + yy * 0.3)
                col = c2 if (xx + yy) % 2 else c3
                d.rectangle((bx, by, bx + w * 0.16, by + h * 0.25), fill=col)
    img.alpha_composite(layer, (x0, y0))
    # Keep the pattern inside the package: re-mask by the package's alpha.


def _label(img, box, ds, size=11):
    d = ImageDraw.Draw(img)
    x0, y0, x1, y1 = box
    _text(d, ((x0 + x1) / 2, y0 + (y1 - y0) * 0.28), ds.text, _contrast(ds.c1), size)


def _contrast(c):
    return (20, 20, 20) if sum(c) > 380 else (245, 245, 245)


def draw_sprite(ds, variant):
    """The product on a transparent SPRITE x SPRITE canvas.

    variant: a small integer; natural products (fruit, bread) differ between
    variants, packages only by tiny wear.
    """
    rng = np.random.default_rng(zlib.crc32(repr(ds.key()).encode()) * 131 + variant)
    img = Image.new("RGBA", (SPRITE, SPRITE), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    k = ds.kind
    c1, c2, c3 = ds.c1, ds.c2, ds.c3
    dark = _shade(c1, 0.7)
    body = None  # box of the printable face
    if k in ("bag", "bag_wide", "rice_bag"):
        w = 50 if k == "bag" else 62
        x0, x1, y0, y1 = 64 - w / 2 - 4, 64 + w / 2 + 4, 18, 118
        d.polygon([(x0 + 6, y0), (x1 - 6, y0), (x1, y1), (x0, y1)], fill=c1)
        teeth = [(x0 + 6 + i * (x1 - x0 - 12) / 12, y0 - (3 if i % 2 else 0)) for i in range(13)]
        d.polygon(teeth + [(x1 - 6, y0 + 8), (x0 + 6, y0 + 8)], fill=dark)
        body = (x0 + 4, y0 + 10, x1 - 4, y1 - 4)
    elif k in ("box", "longbox"):
        w, h = (56, 84) if k == "box" else (40, 104)
        x0, y0 = 64 - w / 2 - 4, 64 - h / 2 + 4
        d.polygon([(x0, y0), (x0 + 8, y0 - 8), (x0 + w + 8, y0 - 8), (x0 + w, y0)], fill=_shade(c1, 1.15))
        d.polygon([(x0 + w, y0), (x0 + w + 8, y0 - 8), (x0 + w + 8, y0 + h - 8), (x0 + w, y0 + h)], fill=dark)
        d.rectangle((x0, y0, x0 + w, y0 + h), fill=c1)
        body = (x0, y0, x0 + w, y0 + h)
    elif k == "carton":
        x0, x1, y0, y1 = 40, 88, 38, 120
        d.polygon([(x0, y0), (64, 16), (x1, y0)], fill=_shade(c1, 0.9))
        d.rectangle((60, 10, 68, 18), fill=dark)
        d.rectangle((x0, y0, x1, y1), fill=c1)
        d.polygon([(x1, y0), (x1 + 8, y0 - 4), (x1 + 8, y1 - 4), (x1, y1)], fill=dark)
        body = (x0, y0, x1, y1)
    elif k in ("bottle", "bottle_tall", "bottle_small", "wine"):
        w, top = {"bottle": (34, 14), "bottle_tall": (38, 6), "bottle_small": (28, 30), "wine": (30, 8)}[k]
        x0, x1 = 64 - w / 2, 64 + w / 2
        neck = 8 if k != "wine" else 7
        shoulder = top + (30 if k == "wine" else 22)
        d.rectangle((64 - neck / 2, top, 64 + neck / 2, shoulder), fill=c1)
        d.rectangle((64 - neck / 2 - 1, top - 6, 64 + neck / 2 + 1, top + 2), fill=c3 if k != "wine" else (150, 20, 40))
        d.polygon([(64 - neck / 2, shoulder - 6), (x0, shoulder + 10), (x1, shoulder + 10), (64 + neck / 2, shoulder - 6)], fill=c1)
        d.rounded_rectangle((x0, shoulder + 8, x1, 122), radius=5, fill=c1)
        d.line((x0 + 5, shoulder + 14, x0 + 5, 116), fill=_shade(c1, 1.4), width=2)
        ly0 = shoulder + 26
        d.rectangle((x0, ly0, x1, ly0 + 34), fill=c2)
        body = (x0, ly0, x1, ly0 + 34)
    elif k == "can":
        x0, x1, y0, y1 = 42, 86, 22, 116
        d.rectangle((x0, y0, x1, y1), fill=c1)
        d.ellipse((x0, y0 - 6, x1, y0 + 6), fill=(200, 200, 205))
        d.ellipse((x0, y1 - 6, x1, y1 + 6), fill=_shade(c1, 0.8))
        d.line((x0 + 6, y0 + 6, x0 + 6, y1 - 4), fill=_shade(c1, 1.4), width=3)
        body = (x0, y0 + 8, x1, y1 - 6)
    elif k == "tub":
        d.polygon([(34, 50), (94, 50), (88, 112), (40, 112)], fill=c1)
        d.ellipse((32, 42, 96, 58), fill=c3)
        body = (38, 56, 90, 110)
    elif k == "block":
        d.polygon([(22, 56), (32, 46), (112, 46), (102, 56)], fill=_shade(c1, 1.1))
        d.polygon([(102, 56), (112, 46), (112, 84), (102, 94)], fill=dark)
        d.rectangle((22, 56, 102, 94), fill=c1)
        body = (22, 56, 102, 94)
    elif k == "bar":
        d.rectangle((14, 44, 114, 88), fill=c1)
        d.polygon([(114, 44), (120, 40), (120, 84), (114, 88)], fill=dark)
        body = (14, 44, 114, 88)
    elif k == "loaf":
        d.ellipse((16, 40, 112, 100), fill=c1)
        d.ellipse((22, 42, 106, 88), fill=_shade(c1, 1.15))
        for i in range(3):
            x = 40 + i * 22 + rng.integers(-3, 4)
            d.arc((x - 12, 50, x + 12, 80), 200, 340, fill=c2, width=3)
        for _ in range(25):
            px, py = rng.uniform(30, 100), rng.uniform(48, 92)
            d.point((px, py), fill=c3)
    elif k == "muffin":
        d.polygon([(36, 70), (92, 70), (84, 116), (44, 116)], fill=c1)
        for x in range(40, 92, 7):
            d.line((x, 72, x - 2 + (x - 64) / 8, 114), fill=_shade(c1, 0.7), width=2)
        d.ellipse((28, 30, 100, 82), fill=c2)
        for _ in range(9):
            px, py = rng.uniform(38, 90), rng.uniform(38, 72)
            d.ellipse((px - 4, py - 4, px + 4, py + 4), fill=c3)
    elif k == "croissant":
        for i, (cx, r) in enumerate([(28, 13), (44, 18), (64, 22), (84, 18), (100, 13)]):
            cy = 66 + abs(cx - 64) * 0.35
            col = c1 if i % 2 == 0 else c3
            d.ellipse((cx - r, cy - r * 0.8, cx + r, cy + r * 0.8), fill=col, outline=c2, width=2)
    elif k == "mug":
        d.ellipse((86, 50, 116, 92), outline=c1, width=7)
        d.rectangle((26, 30, 94, 112), fill=c1)
        d.ellipse((26, 24, 94, 36), fill=_shade(c1, 0.85))
        d.ellipse((30, 26, 90, 34), fill=(60, 40, 30))
        d.ellipse((26, 106, 94, 118), fill=c1)
        body = (26, 40, 94, 110)
    elif k == "tote":
        d.arc((40, 8, 88, 60), 180, 360, fill=c2, width=5)
        d.rectangle((22, 34, 106, 122), fill=c1)
        body = (22, 34, 106, 122)
    elif k in ("newspaper", "magazine", "notebook"):
        x0, y0, x1, y1 = (18, 14, 110, 120) if k != "notebook" else (28, 16, 100, 118)
        d.rectangle((x0 + 3, y0 + 3, x1 + 3, y1 + 3), fill=_shade(c1, 0.75))
        d.rectangle((x0, y0, x1, y1), fill=c1)
        if k == "notebook":
            d.rectangle((x1 - 12, y0, x1 - 8, y1), fill=c2)
            d.rectangle((x0 + 12, y0 + 20, x1 - 20, y0 + 40), fill=c3)
        if k == "newspaper":
            _text(d, ((x0 + x1) / 2, y0 + 12), "DAILY", c2, 16)
            d.rectangle((x0 + 8, y0 + 26, x1 - 8, y0 + 28), fill=c2)
            d.rectangle((x1 - 38, y0 + 34, x1 - 8, y0 + 64), fill=c3)
        if k == "magazine":
            _text(d, ((x0 + x1) / 2, y0 + 14), "WEEK", c2, 20)
        body = (x0, y0 + (30 if k != "notebook" else 44), x1, y1)
    elif k == "roll":
        d.rectangle((14, 46, 114, 86), fill=c1)
        d.ellipse((6, 46, 22, 86), fill=_shade(c1, 0.8))
        d.ellipse((108, 46, 122, 86), fill=_shade(c1, 1.1))
        d.ellipse((112, 60, 118, 72), fill=(150, 120, 80))
        body = (14, 46, 114, 86)
    elif k == "wedge":
        d.polygon([(14, 100), (114, 100), (100, 40)], fill=c1)
        d.polygon([(14, 100), (100, 40), (98, 30), (10, 92)], fill=c2)
        body = (40, 60, 110, 98)
    elif k == "eggbox":
        d.rectangle((12, 50, 116, 104), fill=c1)
        for i in range(5):
            for j in range(2):
                cx, cy = 24 + i * 20, 62 + j * 26
                d.ellipse((cx - 9, cy - 9, cx + 9, cy + 9), fill=c2, outline=_shade(c1, 0.8))
        d.rectangle((40, 44, 88, 60), fill=c3)
        body = None
        _text(d, (64, 52), "EGGS", (255, 255, 255), 10)
    elif k in ("apples", "tomatoes"):
        n = 4 + variant % 3
        for _ in range(n):
            cx, cy = rng.uniform(34, 94), rng.uniform(40, 96)
            r = rng.uniform(17, 22) if k == "apples" else rng.uniform(13, 18)
            col = c1 if (k == "tomatoes" or rng.random() < 0.7) else c2
            d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=col, outline=_shade(col, 0.7))
            d.ellipse((cx - r * 0.5, cy - r * 0.6, cx - r * 0.1, cy - r * 0.2), fill=_shade(col, 1.35))
            if k == "tomatoes":
                d.line((cx - 5, cy - r, cx + 5, cy - r), fill=c2, width=3)
                d.line((cx, cy - r - 5, cx, cy - r), fill=c2, width=2)
            else:
                d.line((cx, cy - r - 5, cx + 2, cy - r + 2), fill=c3, width=2)
        if k == "tomatoes":
            d.line((20, 30, 108, 34), fill=c2, width=3)
    elif k == "bananas":
        for i in range(3 + variant % 2):
            off = i * 8
            d.arc((18, 20 + off, 110, 110 + off), 20, 160, fill=c1, width=14)
            d.arc((18, 20 + off, 110, 110 + off), 20, 160, fill=_shade(c1, 0.8), width=2)
        d.rectangle((58, 104, 70, 118), fill=c2)
    elif k == "pump":
        d.rounded_rectangle((40, 40, 88, 120), radius=10, fill=c1)
        d.rectangle((60, 22, 68, 42), fill=c3)
        d.rectangle((52, 18, 84, 26), fill=c3)
        body = (44, 54, 84, 108)
        d.rectangle(body, fill=c2)
    elif k == "rollpack":
        d.rounded_rectangle((18, 30, 110, 116), radius=8, fill=c2)
        for i in range(2):
            for j in range(2):
                cx, cy = 42 + i * 44, 52 + j * 42
                d.ellipse((cx - 20, cy - 18, cx + 20, cy + 18), fill=c1, outline=_shade(c1, 0.8))
                d.ellipse((cx - 5, cy - 5, cx + 5, cy + 5), fill=(190, 170, 140))
        d.rectangle((18, 72, 110, 84), fill=c3)
    elif k == "jug":
        d.rounded_rectangle((30, 30, 100, 120), radius=12, fill=c1)
        d.ellipse((70, 36, 104, 72), outline=_shade(c1, 0.8), width=8)
        d.rectangle((36, 16, 54, 32), fill=c3)
        body = (34, 64, 96, 112)
        d.rectangle(body, fill=c2)
    elif k in ("blister_batt", "blister_pens"):
        d.rounded_rectangle((22, 8, 106, 122), radius=6, fill=c1)
        d.ellipse((56, 12, 72, 20), fill=(0, 0, 0, 0))
        d.rounded_rectangle((30, 46, 98, 116), radius=6, fill=(235, 240, 245, 255))
        if k == "blister_batt":
            for i in range(4):
                x = 36 + i * 16
                d.rectangle((x, 52, x + 10, 110), fill=c2)
                d.rectangle((x, 52, x + 10, 62), fill=c3)
                d.rectangle((x + 3, 48, x + 7, 52), fill=(160, 160, 160))
        else:
            for i in range(3):
                y = 58 + i * 18
                d.rectangle((34, y, 94, y + 6), fill=c3)
                d.polygon([(94, y), (98, y + 3), (94, y + 6)], fill=(220, 200, 160))
                d.rectangle((40, y - 1, 46, y + 7), fill=_shade(c3, 0.6))
        _text(d, (64, 32), ds.text.split("\n")[0], _contrast(c1), 11)
    elif k == "stamps":
        d.rectangle((12, 24, 116, 104), fill=c1)
        body = (12, 24, 116, 104)
    elif k == "bouquet":
        d.polygon([(44, 124), (84, 124), (110, 60), (18, 60)], fill=c3)
        for i in range(5):
            x = 30 + i * 17 + rng.integers(-3, 4)
            top = 18 + rng.integers(0, 16)
            d.line((x, top + 10, 64, 100), fill=c2, width=3)
            d.ellipse((x - 8, top - 4, x + 8, top + 14), fill=c1)
            d.polygon([(x - 8, top + 2), (x - 4, top - 10), (x, top), (x + 4, top - 10), (x + 8, top + 2)], fill=c1)
    else:
        raise ValueError("unknown kind " + k)
    if body is not None:
        x0, y0, x1, y1 = body
        patt = Image.new("RGBA", img.size, (0, 0, 0, 0))
        _pattern(patt, body, ds, rng)
        # Only where the package is.
        alpha = np.minimum(np.asarray(patt)[:, :, 3], np.asarray(img)[:, :, 3])
        patt.putalpha(Image.fromarray(alpha.astype(np.uint8)))
        img.alpha_composite(patt)
        if k not in ("newspaper",):
            _label(img, body, ds, size=11 if (x1 - x0) > 45 else 9)
    # Wear: a few faint scratches.
    for _ in range(int(variant) % 3):
        x, y = rng.uniform(20, 108), rng.uniform(20, 108)
        d.line((x, y, x + rng.uniform(-8, 8), y + rng.uniform(-8, 8)), fill=(255, 255, 255, 60))
    return img


# ---------------------------------------------------------------- frames

_sprite_cache = {}
SPRITE_VARIANTS = 4


def sprite(ds, variant):
    key = (ds.key(), variant)
    if key not in _sprite_cache:
        if len(_sprite_cache) > 512:
            _sprite_cache.clear()
        _sprite_cache[key] = draw_sprite(ds, variant)
    return _sprite_cache[key]


FRAME_SIZES = [(128, 96), (160, 120), (144, 108), (120, 120), (96, 128), (176, 132), (112, 84)]
COUNTERS = [(200, 200, 200), (150, 150, 155), (60, 60, 65), (190, 160, 120), (120, 90, 60),
            (230, 230, 225), (40, 45, 50), (170, 180, 170)]
SKIN = [(224, 172, 140), (198, 134, 100), (141, 85, 60), (240, 200, 170)]


def _background(rng, w, h):
    base = np.array(COUNTERS[rng.integers(len(COUNTERS))], dtype=np.float32)
    base = base * rng.uniform(0.8, 1.15) + rng.normal(0, 10, 3)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, 2 * math.pi)
    ramp = (np.cos(ang) * xx / w + np.sin(ang) * yy / h) * rng.uniform(-40, 40)
    arr = np.clip(base[None, None, :] + ramp[:, :, None], 0, 255)
    if rng.random() < 0.4:  # wood grain / belt texture
        freq = rng.uniform(0.2, 0.6)
        arr += (np.sin(yy * freq + np.sin(xx * 0.05) * 3) * rng.uniform(4, 12))[:, :, None]
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB").convert("RGBA")
    d = ImageDraw.Draw(img)
    for _ in range(rng.integers(0, 7)):  # clutter: receipts, coins, other items
        col = tuple(int(v) for v in rng.integers(0, 256, 3)) + (int(rng.integers(120, 256)),)
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        if rng.random() < 0.5:  # keep clutter mostly at the edges
            if rng.random() < 0.5:
                cx = rng.uniform(0, w * 0.2) if rng.random() < 0.5 else rng.uniform(w * 0.8, w)
            else:
                cy = rng.uniform(0, h * 0.2) if rng.random() < 0.5 else rng.uniform(h * 0.8, h)
        s = rng.uniform(4, 0.3 * min(w, h))
        t = rng.integers(4)
        if t == 0:
            d.rectangle((cx - s, cy - s / 2, cx + s, cy + s / 2), fill=col)
        elif t == 1:
            d.ellipse((cx - s / 2, cy - s / 2, cx + s / 2, cy + s / 2), fill=col)
        elif t == 2:
            d.line((cx - s, cy - s, cx + s, cy + s * rng.uniform(-1, 1)), fill=col, width=int(rng.integers(1, 4)))
        else:
            for k in range(int(rng.integers(2, 6))):
                d.line((cx, cy + k * 3, cx + s, cy + k * 3), fill=col, width=1)
    return img


def _hand(d, rng, box):
    """A hand-ish blob (palm + fingers) or a grey object entering from a side."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    side = rng.integers(4)
    frac = rng.uniform(0.15, 0.35)
    if rng.random() < 0.6:
        col = SKIN[rng.integers(len(SKIN))]
        col = _shade(col, rng.uniform(0.85, 1.1))
        if side == 0:  # from the left
            px, py = x0 - w * 0.2, rng.uniform(y0, y1)
            d.ellipse((px - w * 0.25, py - h * 0.2, px + w * frac, py + h * 0.2), fill=col)
            for k in range(4):
                fy = py - h * 0.15 + k * h * 0.1
                d.line((px, fy, px + w * (frac + 0.12), fy), fill=col, width=max(3, int(h * 0.07)))
        elif side == 1:  # from the right
            px, py = x1 + w * 0.2, rng.uniform(y0, y1)
            d.ellipse((px - w * frac, py - h * 0.2, px + w * 0.25, py + h * 0.2), fill=col)
            for k in range(4):
                fy = py - h * 0.15 + k * h * 0.1
                d.line((px - w * (frac + 0.12), fy, px, fy), fill=col, width=max(3, int(h * 0.07)))
        elif side == 2:  # from the bottom
            px, py = rng.uniform(x0, x1), y1 + h * 0.2
            d.ellipse((px - w * 0.2, py - h * frac, px + w * 0.2, py + h * 0.25), fill=col)
        else:  # from the top
            px, py = rng.uniform(x0, x1), y0 - h * 0.2
            d.ellipse((px - w * 0.2, py - h * 0.25, px + w * 0.2, py + h * frac), fill=col)
    else:
        col = tuple(int(v) for v in rng.integers(30, 230, 3))
        if side < 2:
            xa = x0 - w * 0.1 if side == 0 else x1 - w * frac
            d.rectangle((xa, rng.uniform(y0 - h * 0.1, y1 - h * 0.4), xa + w * (frac + 0.1), y1 + h * 0.1), fill=col)
        else:
            ya = y0 - h * 0.1 if side == 2 else y1 - h * frac
            d.rectangle((rng.uniform(x0 - w * 0.1, x1 - w * 0.4), ya, x1 + w * 0.1, ya + h * (frac + 0.1)), fill=col)


def _place(canvas, spr, rng, side, scale_lo, scale_hi, any_angle):
    """Scales, squashes, rotates and pastes spr near the frame's centre;
    returns the pasted box."""
    w, h = canvas.size
    bbox = spr.getbbox() or (0, 0, SPRITE, SPRITE)
    spr = spr.crop(bbox)
    target = side * rng.uniform(scale_lo, scale_hi)
    s = target / max(spr.size)
    sx, sy = s * rng.uniform(0.88, 1.12), s * rng.uniform(0.88, 1.12)
    spr = spr.resize((max(2, int(spr.size[0] * sx)), max(2, int(spr.size[1] * sy))), Image.BICUBIC)
    if any_angle or rng.random() < 0.08:
        angle = rng.uniform(0, 360)
    else:
        angle = rng.normal(0, 14)
    spr = spr.rotate(angle, resample=Image.BICUBIC, expand=True)
    cx = w / 2 + rng.uniform(-0.12, 0.12) * side
    cy = h / 2 + rng.uniform(-0.12, 0.12) * side
    x, y = int(cx - spr.size[0] / 2), int(cy - spr.size[1] / 2)
    if rng.random() < 0.6:  # soft shadow
        a = np.asarray(spr)[:, :, 3].astype(np.float32) * rng.uniform(0.25, 0.5)
        sh = Image.new("RGBA", spr.size, (0, 0, 0, 0))
        sh.putalpha(Image.fromarray(a.astype(np.uint8)))
        sh = sh.filter(ImageFilter.GaussianBlur(2))
        canvas.alpha_composite(sh, (x + int(rng.integers(1, 5)), y + int(rng.integers(1, 5)))) \
            if x >= -4 and y >= -4 else None
    tmp = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    tmp.paste(spr, (x, y))
    canvas.alpha_composite(tmp)
    return (x, y, x + spr.size[0], y + spr.size[1])


def _finish(img, rng, strength=1.0):
    """Lighting, blur, noise and maybe JPEG artefacts; returns RGB."""
    arr = np.asarray(img.convert("RGB")).astype(np.float32)
    h, w = arr.shape[:2]
    bright = rng.uniform(1 - 0.35 * strength, 1 + 0.3 * strength)
    contrast = rng.uniform(1 - 0.25 * strength, 1 + 0.2 * strength)
    tint = rng.uniform(1 - 0.12 * strength, 1 + 0.12 * strength, 3)
    mean = arr.mean()
    arr = (arr - mean) * contrast + mean
    arr = arr * bright * tint[None, None, :]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, 2 * math.pi)
    light = 1 + (np.cos(ang) * (xx / w - 0.5) + np.sin(ang) * (yy / h - 0.5)) * rng.uniform(0, 0.5) * strength
    arr *= light[:, :, None]
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    if rng.random() < 0.5 * strength:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    sigma = rng.uniform(0, 6) * strength
    if sigma > 0.5:
        arr = np.asarray(img).astype(np.float32) + rng.normal(0, sigma, (h, w, 3))
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    if rng.random() < 0.3 * strength:
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=int(rng.integers(50, 95)))
        img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    return img


NATURAL = ("apples", "tomatoes", "bananas", "croissant", "loaf", "muffin", "bouquet")


def render_frame(ds, seed, size=None, occlude=True):
    """One camera frame (PIL RGB) of design ds, fully determined by seed."""
    rng = np.random.default_rng(seed)
    w, h = size or FRAME_SIZES[rng.integers(len(FRAME_SIZES))]
    side = min(w, h)
    canvas = _background(rng, w, h)
    variant = int(rng.integers(SPRITE_VARIANTS))
    box = _place(canvas, sprite(ds, variant), rng, side, 0.55, 0.95, ds.kind in NATURAL)
    if occlude and rng.random() < 0.35:
        _hand(ImageDraw.Draw(canvas), rng, box)
    return _finish(canvas, rng)


def render_empty(seed, size=None):
    """A counter with clutter and no product (an unknown for the training)."""
    rng = np.random.default_rng(seed)
    w, h = size or FRAME_SIZES[rng.integers(len(FRAME_SIZES))]
    canvas = _background(rng, w, h)
    if rng.random() < 0.5:
        _hand(ImageDraw.Draw(canvas), rng, (w * 0.3, h * 0.3, w * 0.7, h * 0.7))
    return _finish(canvas, rng)


# ---------------------------------------------------------------- EAN-13

_L = ["0001101", "0011001", "0010011", "0111101", "0100011",
      "0110001", "0101111", "0111011", "0110111", "0001011"]
_G = ["".join(reversed("".join("1" if b == "0" else "0" for b in code))) for code in _L]
_R = ["".join("1" if b == "0" else "0" for b in code) for code in _L]
# Parity of digits 2..7 by the first digit (L = odd, G = even).
_PARITY = ["LLLLLL", "LLGLGG", "LLGGLG", "LLGGGL", "LGLLGG",
           "LGGLLG", "LGGGLL", "LGLGLG", "LGLGGL", "LGGLGL"]


def ean13_check_digit(first12):
    s = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(first12))
    return (10 - s % 10) % 10


def ean13_modules(digits):
    """The 95 modules (1 = bar) of a 13-digit EAN; checks the check digit."""
    if len(digits) != 13 or not digits.isdigit():
        raise ValueError("EAN-13 needs 13 digits")
    if ean13_check_digit(digits[:12]) != int(digits[12]):
        raise ValueError("bad EAN-13 check digit in " + digits)
    par = _PARITY[int(digits[0])]
    bits = "101"
    for i, c in enumerate(digits[1:7]):
        bits += (_L if par[i] == "L" else _G)[int(c)]
    bits += "01010"
    for c in digits[7:]:
        bits += _R[int(c)]
    bits += "101"
    assert len(bits) == 95
    return [int(b) for b in bits]


def draw_ean13(digits, module_px=3, bar_h=70):
    """A white label with the barcode (11/7-module quiet zones) and digits."""
    mods = ean13_modules(digits)
    quiet_l, quiet_r = 11, 7
    w = (quiet_l + 95 + quiet_r) * module_px
    h = bar_h + 22
    img = Image.new("RGB", (w, h), (255, 255, 255))
    d = ImageDraw.Draw(img)
    guards = set(list(range(0, 3)) + list(range(45, 50)) + list(range(92, 95)))
    for i, m in enumerate(mods):
        if m:
            x = (quiet_l + i) * module_px
            extra = 8 if i in guards else 0
            d.rectangle((x, 4, x + module_px - 1, 4 + bar_h + extra), fill=(0, 0, 0))
    f = font(14)
    d.text((2, bar_h + 6), digits[0], fill=(0, 0, 0), font=f)
    d.text(((quiet_l + 5) * module_px, bar_h + 6), digits[1:7], fill=(0, 0, 0), font=f)
    d.text(((quiet_l + 51) * module_px, bar_h + 6), digits[7:], fill=(0, 0, 0), font=f)
    return img


BACK_SIZES = [(480, 360), (400, 300), (448, 336)]


def render_barcode_frame(ds, digits, seed, finish=False):
    """A poor product view with a clear barcode: the back of the package
    (its colours, a block of small print) filling most of the frame, and a
    large EAN-13, tilted a little. finish=True adds the lighting, blur and
    noise of render_frame (for training; the test image stays clean)."""
    rng = np.random.default_rng(seed)
    w, h = BACK_SIZES[rng.integers(len(BACK_SIZES))]
    canvas = _background(rng, w, h)
    d = ImageDraw.Draw(canvas)
    x0, y0 = int(w * rng.uniform(0.02, 0.1)), int(h * rng.uniform(0.02, 0.1))
    x1, y1 = int(w * rng.uniform(0.9, 0.98)), int(h * rng.uniform(0.9, 0.98))
    d.rectangle((x0, y0, x1, y1), fill=ds.c1 + (255,))
    band = int((y1 - y0) * rng.uniform(0.08, 0.15))
    d.rectangle((x0, y1 - band, x1, y1), fill=ds.c2 + (255,))
    ink = _contrast(ds.c1)
    tx = x0 + int((x1 - x0) * rng.uniform(0.05, 0.15))
    for k in range(int(rng.integers(2, 6))):  # small print
        ty = y0 + 8 + k * 7
        d.line((tx, ty, tx + int((x1 - x0) * rng.uniform(0.3, 0.8)), ty), fill=ink, width=1)
    code = draw_ean13(digits, module_px=3 if w >= 448 else 2).convert("RGBA")
    code = code.rotate(rng.uniform(-4, 4), resample=Image.BICUBIC, expand=True, fillcolor=(255, 255, 255, 255))
    cx = (w - code.size[0]) // 2 + int(rng.integers(-10, 11))
    cy = (h - code.size[1]) // 2 + int(rng.integers(0, 30))
    canvas.alpha_composite(code, (max(0, cx), max(0, cy)))
    if finish:
        return _finish(canvas, rng, strength=0.6)
    return canvas.convert("RGB")


def random_ean13(rng):
    """A random 13-digit EAN with a correct check digit (an invented product's)."""
    first12 = "".join(str(int(v)) for v in rng.integers(0, 10, 12))
    return first12 + str(ean13_check_digit(first12))
