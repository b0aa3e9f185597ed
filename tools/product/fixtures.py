"""Test fixtures for src/recog (tests/fixtures/products/), the fuzz seeds of
tests/fuzz/corpus/fuzz_recog_image/, and the REPORT.md text.

Fixture images are rendered from their own seed range (dataset.FIXTURES),
never seen in training or calibration. Selection rule, stated so the tests
are honest about it: for each chosen SKU the first seed whose int8 reference
output is correct with confidence >= 0.85 (a margin for the C runtime's
rounding); for the unknown products and the barcode image the first seed
whose reference confidence is < 0.50. REPORT.md gives the real rates on
the full test sets.
"""

import ctypes
import ctypes.util
import io
import json
import os
import struct
import zlib

import numpy as np
from PIL import Image

import dataset
import preprocess
import render
import tflite_ref

FRAME = (160, 120)
KNOWN_PNG = ["COF-250", "MLK-1L", "BRD-SD", "MUG-KS", "NEWS-D", "CHS-GD", "APL-1K", "BAN-1K",
             "OIL-OL", "WIN-RD", "BAT-AA", "FLW-TL"]
KNOWN_JPEG = ["JUI-OR", "TSP-4"]
BARCODE_SKU = "COF-250"
ACCEPT_CONF = 0.85
REJECT_CONF = 0.50
MAX_TRIES = 200


def _ref(g, rgb):
    q = preprocess.preprocess_rgb(rgb)
    out = tflite_ref.run(g, q[None])[0][0]
    p = (out.astype(np.float64) + 128) / 256.0
    return q, out, p


def _top3(p, labels):
    idx = np.argsort(-p, kind="stable")[:3]
    return [[labels[i], round(float(p[i]), 4)] for i in idx]


def zbar_decode(img):
    """Decodes barcodes in a PIL image with libzbar through ctypes (a check
    of the fixture only); returns [(type name, data)] or None without zbar."""
    path = ctypes.util.find_library("zbar")
    if not path:
        return None
    z = ctypes.CDLL(path)
    z.zbar_image_scanner_create.restype = ctypes.c_void_p
    z.zbar_image_create.restype = ctypes.c_void_p
    z.zbar_image_first_symbol.restype = ctypes.c_void_p
    z.zbar_image_first_symbol.argtypes = [ctypes.c_void_p]
    z.zbar_symbol_next.restype = ctypes.c_void_p
    z.zbar_symbol_next.argtypes = [ctypes.c_void_p]
    z.zbar_symbol_get_data.restype = ctypes.c_char_p
    z.zbar_symbol_get_data.argtypes = [ctypes.c_void_p]
    z.zbar_symbol_get_type.argtypes = [ctypes.c_void_p]
    z.zbar_get_symbol_name.restype = ctypes.c_char_p
    z.zbar_image_set_format.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
    z.zbar_image_set_size.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint]
    z.zbar_image_set_data.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_void_p]
    z.zbar_scan_image.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    z.zbar_image_destroy.argtypes = [ctypes.c_void_p]
    z.zbar_image_scanner_destroy.argtypes = [ctypes.c_void_p]
    gray = np.ascontiguousarray(np.asarray(img.convert("L")))
    h, w = gray.shape
    sc = z.zbar_image_scanner_create()
    im = z.zbar_image_create()
    fourcc = ord("Y") | ord("8") << 8 | ord("0") << 16 | ord("0") << 24
    z.zbar_image_set_format(im, fourcc)
    z.zbar_image_set_size(im, w, h)
    buf = ctypes.create_string_buffer(gray.tobytes(), w * h)
    z.zbar_image_set_data(im, buf, w * h, None)
    z.zbar_scan_image(sc, im)
    out = []
    s = z.zbar_image_first_symbol(im)
    while s:
        out.append((z.zbar_get_symbol_name(z.zbar_symbol_get_type(s)).decode(), z.zbar_symbol_get_data(s).decode()))
        s = z.zbar_symbol_next(s)
    z.zbar_image_destroy(im)
    z.zbar_image_scanner_destroy(sc)
    return out


def _png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_header_only(w, h):
    """A PNG whose IHDR claims w x h, with one tiny IDAT: valid CRCs."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) +
            _png_chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + _png_chunk(b"IEND", b""))


def _jpeg_huge(small_jpeg, w, h):
    """Rewrites the SOF0 frame size of a small baseline JPEG."""
    b = bytearray(small_jpeg)
    i = 2
    while i < len(b) - 9:
        if b[i] == 0xFF and b[i + 1] in (0xC0, 0xC2):
            struct.pack_into(">HH", b, i + 5, h, w)
            return bytes(b)
        i += 2 + struct.unpack(">H", b[i + 2:i + 4])[0]
    raise ValueError("no SOF")


def _save(img, path, fmt, **kw):
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    with open(path, "wb") as f:
        f.write(buf.getvalue())
    return buf.getvalue()


def write(out_dir, catalog, g, log):
    """Writes the fixtures; returns their index (also written as index.json)."""
    os.makedirs(out_dir, exist_ok=True)
    labels = [c[0] for c in catalog]
    byname = {c[0]: c for c in catalog}
    dataset._init(catalog)
    images = []

    def pick_known(sku, fmt):
        c = labels.index(sku)
        for k in range(MAX_TRIES):
            seed = dataset.FIXTURES + c * 1000 + k
            img = render.render_frame(render.catalog_design(sku, byname[sku][1]), seed, size=FRAME)
            if fmt == "jpeg":
                buf = io.BytesIO()
                img.save(buf, "JPEG", quality=90)
                img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
            _, out, p = _ref(g, np.asarray(img))
            if int(out.argmax()) == c and p.max() >= ACCEPT_CONF:
                return seed, img, out, p, k
        raise RuntimeError("no fixture seed for %s" % sku)

    for sku, fmt in [(s, "png") for s in KNOWN_PNG] + [(s, "jpeg") for s in KNOWN_JPEG]:
        seed, img, out, p, tries = pick_known(sku, fmt)
        name = "%s_%d.%s" % (sku, seed, "png" if fmt == "png" else "jpg")
        if fmt == "png":
            _save(img, os.path.join(out_dir, name), "PNG", optimize=True)
        else:
            # Re-render and save as JPEG: the bytes decode to the pixels tested.
            seed_img = render.render_frame(render.catalog_design(sku, byname[sku][1]), seed, size=FRAME)
            _save(seed_img, os.path.join(out_dir, name), "JPEG", quality=90)
            dec = np.asarray(Image.open(os.path.join(out_dir, name)).convert("RGB"))
            assert np.array_equal(dec, np.asarray(img))
        images.append({"file": name, "expect": "product", "sku": sku, "ref_top3": _top3(p, labels),
                       "ref_output": [int(v) for v in out], "seeds_skipped": tries})
        log("fixture %s: %s (%.3f), %d seeds skipped" % (name, sku, p.max(), tries))

    for j in range(2):
        for k in range(MAX_TRIES):
            seed = dataset.FIXTURES + 900_000 + j * 1000 + k
            img = render.render_frame(dataset.invented(seed, True), seed, size=FRAME)
            _, out, p = _ref(g, np.asarray(img))
            if p.max() < REJECT_CONF:
                break
        else:
            raise RuntimeError("no unknown fixture")
        name = "unknown_%d.png" % seed
        _save(img, os.path.join(out_dir, name), "PNG", optimize=True)
        images.append({"file": name, "expect": "fallback", "ref_top3": _top3(p, labels),
                       "ref_output": [int(v) for v in out], "seeds_skipped": k})
        log("fixture %s: unknown (%.3f), %d seeds skipped" % (name, p.max(), k))

    digits = byname[BARCODE_SKU][2]
    bsku = byname[BARCODE_SKU]
    for k in range(MAX_TRIES):
        seed = dataset.FIXTURES + 990_000 + k
        img = render.render_barcode_frame(render.catalog_design(bsku[0], bsku[1]), digits, seed)
        _, out, p = _ref(g, np.asarray(img))
        if p.max() < REJECT_CONF:
            break
    else:
        raise RuntimeError("no barcode fixture")
    decoded = zbar_decode(img)
    if decoded is not None and ("EAN-13", digits) not in decoded:
        raise RuntimeError("zbar does not read the barcode fixture: %r" % decoded)
    name = "barcode_%s_%s.png" % (BARCODE_SKU, digits)
    _save(img, os.path.join(out_dir, name), "PNG", optimize=True)
    images.append({"file": name, "expect": "fallback", "barcode": digits, "barcode_sku": BARCODE_SKU,
                   "ref_top3": _top3(p, labels), "ref_output": [int(v) for v in out], "seeds_skipped": k,
                   "zbar_python_check": decoded})
    log("fixture %s: barcode %s, model %.3f, zbar %r" % (name, digits, p.max(), decoded))

    # The preprocessed input of the first fixture, for the C preprocessing test.
    first = images[0]["file"]
    q = preprocess.preprocess_rgb(np.asarray(Image.open(os.path.join(out_dir, first)).convert("RGB")))
    tensor_name = first.rsplit(".", 1)[0] + ".input.raw"
    with open(os.path.join(out_dir, tensor_name), "wb") as f:
        f.write(q.tobytes())
    # And of one JPEG fixture (the decoders must agree with PIL's too).
    jfirst = next(i["file"] for i in images if i["file"].endswith(".jpg"))
    qj = preprocess.preprocess_rgb(np.asarray(Image.open(os.path.join(out_dir, jfirst)).convert("RGB")))
    jtensor = jfirst.rsplit(".", 1)[0] + ".input.raw"
    with open(os.path.join(out_dir, jtensor), "wb") as f:
        f.write(qj.tobytes())

    bad = write_bad_images(os.path.join(out_dir, "bad"), os.path.join(out_dir, first),
                           os.path.join(out_dir, jfirst))
    index = {"threshold": 0.70, "frame": list(FRAME), "accept_rule": ACCEPT_CONF, "reject_rule": REJECT_CONF,
             "images": images,
             "input_tensors": [{"image": first, "file": tensor_name}, {"image": jfirst, "file": jtensor}],
             "bad": bad}
    with open(os.path.join(out_dir, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")
    return index


def write_bad_images(bad_dir, png_path, jpg_path):
    """Malformed images for the decoder tests; returns [{file, expect}]."""
    os.makedirs(bad_dir, exist_ok=True)
    png = open(png_path, "rb").read()
    jpg = open(jpg_path, "rb").read()
    small = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 10, 10)).save(small, "JPEG", quality=80)
    items = {
        "truncated.png": (png[: len(png) // 2], "png"),
        "truncated_header.png": (png[:20], "png"),
        "truncated.jpg": (jpg[: len(jpg) // 2], "jpeg"),
        "truncated_header.jpg": (jpg[:40], "jpeg"),
        "huge_dims.png": (_png_header_only(100000, 100000), "too large"),
        "wide.png": (_png_header_only(20000, 10), "too large"),
        "huge_dims.jpg": (_jpeg_huge(small.getvalue(), 60000, 60000), "too large"),
        "garbage.bin": (bytes((i * 37 + 11) % 256 for i in range(4096)), "format"),
        "bad_crc.png": (png[:30] + bytes([png[30] ^ 0xFF]) + png[31:], "png"),
        "empty.png": (b"", "format"),
    }
    out = []
    for name, (data, why) in items.items():
        with open(os.path.join(bad_dir, name), "wb") as f:
            f.write(data)
        out.append({"file": "bad/" + name, "error": why})
    return out


def write_fuzz_seeds(corpus_dir):
    """Small, varied PNG and JPEG seeds for fuzz_recog_image."""
    os.makedirs(corpus_dir, exist_ok=True)
    rng = np.random.default_rng(5)
    base = Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8), "RGB")
    seeds = {
        "rgb.png": (base, "PNG", {}),
        "rgba.png": (base.convert("RGBA"), "PNG", {}),
        "gray.png": (base.convert("L"), "PNG", {}),
        "gray_alpha.png": (base.convert("LA"), "PNG", {}),
        "palette.png": (base.convert("P"), "PNG", {}),
        "palette_trns.png": (base.convert("P"), "PNG", {"transparency": 3}),
        "bw.png": (base.convert("1"), "PNG", {}),
        "gray16.png": (base.convert("L").convert("I").point(lambda v: v * 257), "PNG", {}),
        "rgb.jpg": (base, "JPEG", {"quality": 75}),
        "gray.jpg": (base.convert("L"), "JPEG", {"quality": 75}),
        "progressive.jpg": (base, "JPEG", {"quality": 75, "progressive": True}),
        "cmyk.jpg": (base.convert("CMYK"), "JPEG", {"quality": 75}),
        "subsampled.jpg": (base, "JPEG", {"quality": 60, "subsampling": 2}),
    }
    for name, (img, fmt, kw) in seeds.items():
        _save(img, os.path.join(corpus_dir, name), fmt, **kw)
    with open(os.path.join(corpus_dir, "huge_dims.png"), "wb") as f:
        f.write(_png_header_only(100000, 100000))
    with open(os.path.join(corpus_dir, "rgb16.png"), "wb") as f:
        f.write(_png_rgb16(9, 8))
    with open(os.path.join(corpus_dir, "adam7.png"), "wb") as f:
        f.write(_png_adam7(11, 9))


def _png_rgb16(w, h):
    raw = b"".join(b"\x00" + bytes((x * 50 + y) % 256 for x in range(w * 6)) for y in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(raw)) + \
        _png_chunk(b"IEND", b"")


def _png_adam7(w, h):
    """An interlaced 8-bit RGB PNG written by hand (PIL does not write Adam7)."""
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    raw = b""
    for x0, y0, dx, dy in passes:
        xs = range(x0, w, dx)
        ys = range(y0, h, dy)
        if not len(xs) or not len(ys):
            continue
        for y in ys:
            raw += b"\x00" + b"".join(bytes(((x * 40) % 256, (y * 30) % 256, 128)) for x in xs)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 1)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(raw)) + \
        _png_chunk(b"IEND", b"")


def _pct(x):
    return "%.2f%%" % (100 * x)


def report_markdown(r, threshold):
    f, q = r["float"], r["int8"]
    lines = [
        "# Product recognition model: report",
        "",
        "Written by `tools/product/train.py`%s. Everything below was measured by that run;" % (
            " (--quick: a pipeline check, NOT the committed model)" if r["quick"] else ""),
        "the int8 figures come from the exported `product.tflite` read back and run",
        "with the numpy reference of TFLite's int8 reference kernels (`tools/product/tflite_ref.py`).",
        "",
        "## Model",
        "",
        "| | |",
        "| --- | --- |",
        "| input | int8 [1,64,64,3] NHWC RGB, scale 1/255, zero point -128 (q = pixel - 128) |",
        "| output | int8 [1,%d] softmax, scale 1/256, zero point -128; class i = line i of labels.txt |" % r["classes"],
        "| ops | CONV_2D, DEPTHWISE_CONV_2D, MAX_POOL_2D, AVERAGE_POOL_2D, RESHAPE, FULLY_CONNECTED, SOFTMAX (fused RELU6) |",
        "| weights | conv/depthwise int8 per output channel, fully connected int8 per tensor, biases int32 |",
        "| size | %d bytes, %d parameters, %.2f M multiply-accumulates per image |" % (
            r["model_bytes"], r["params"], r["macs"] / 1e6),
        "| confidence threshold | %.2f (below it, or on a model error, the terminal falls back to the barcode) |" % threshold,
        "",
        "## Data (all synthetic, tools/product/render.py)",
        "",
        "| set | images |",
        "| --- | --- |",
        "| training, catalog products | %d (%d per class) |" % (r["train_known"], r["train_known"] // r["classes"]),
        "| training, invented products, their barcode sides, empty counters (outlier exposure) | %d |" % r["train_unknown"],
        "| test, catalog products (other seeds) | %d |" % r["test_known"],
        "| test, invented products (other seeds AND other name lists) | %d |" % r["test_unknown_invented"],
        "| test, empty counters | %d |" % r["test_unknown_empty"],
        "",
        "## Results on the held-out test sets",
        "",
        "| metric | float (folded) | int8 (reference kernels) |",
        "| --- | --- | --- |",
        "| top-1 accuracy, catalog products | %s | **%s** |" % (_pct(f["top1_accuracy"]), _pct(q["top1_accuracy"])),
        "| catalog products accepted (conf >= %.2f) | %s | %s |" % (threshold, _pct(f["accepted_rate_known"]), _pct(q["accepted_rate_known"])),
        "| ... accepted and right | %s | %s |" % (_pct(f["accepted_correct_known"]), _pct(q["accepted_correct_known"])),
        "| ... accepted and wrong | %s | %s |" % (_pct(f["accepted_wrong_known"]), _pct(q["accepted_wrong_known"])),
        "| invented products rejected (conf < %.2f) | %s | **%s** |" % (threshold, _pct(f["rejected_rate_unknown"]), _pct(q["rejected_rate_unknown"])),
        "| median confidence on invented products | %.3f | %.3f |" % (f["median_conf_unknown"], q["median_conf_unknown"]),
        "| empty counters rejected | %s | %s |" % (_pct(f["rejected_rate_empty"]), _pct(q["rejected_rate_empty"])),
        "",
        "int8 and float agree on the top-1 class for %s of the catalog test images." % _pct(r["int8_float_top1_agreement"]),
        "",
        "Caveat: the invented test products come from the same renderer (same shapes, random",
        "colours and patterns) as the invented products used for outlier exposure in training,",
        "with different seeds and word lists; real unknown products may be rejected less often.",
        "",
        "### Per-class int8 accuracy",
        "",
        "| SKU | accuracy |",
        "| --- | --- |",
    ]
    for sku, a in r["per_class_int8"].items():
        lines.append("| %s | %s |" % (sku, _pct(a)))
    lines += [
        "",
        "## Canaries",
        "",
        "| name | file | reference top-1 | confidence |",
        "| --- | --- | --- | --- |",
    ]
    for c in r["canaries"]:
        lines.append("| %s | %s | %s | %.4f |" % (c["name"], c["input"]["file"], c["top1"], c["confidence"]))
    lines += ["", "Expected int8 outputs: `canaries.json` (and `manifest.json`).", ""]
    bv = r.get("barcode_views") or {}
    if bv:
        accepted = {k: v for k, v in bv.items() if v[1] >= threshold}
        lines += [
            "## Barcode side of a package",
            "",
            "The fallback test image shows the back of a package: its colour, some small print and",
            "a large EAN-13. Training saw such views only of invented products (as unknowns). Rendered",
            "for each of the %d catalog products with a valid EAN-13 (3 seeds each; MLK-1L, MUG-KS" % len(bv),
            "and BAG-CL have wrong check digits in data/demo/catalog.csv), the model's top-1 confidence",
            "is at or above the threshold on **%d** of them (it would accept a product instead of" % len(accepted),
            "falling back to the barcode); the highest confidence over all of them is %.3f." % max(
                v[1] for v in bv.values()),
            "",
        ]
        if accepted:
            lines += ["| product (back) | highest top-1 over 3 seeds |", "| --- | --- |"]
            for k, v in sorted(accepted.items(), key=lambda kv: -kv[1][1]):
                lines.append("| %s | %s %.3f |" % (k, v[0], v[1]))
            lines.append("")
    if r["fixtures"]:
        lines += ["## Test fixtures (tests/fixtures/products)", "",
                  "Selection rule: first seed with reference confidence >= %.2f and the right class "
                  "(catalog products), < %.2f (unknown products, barcode image)." % (ACCEPT_CONF, REJECT_CONF), "",
                  "| file | expect | reference top-3 | seeds skipped |", "| --- | --- | --- | --- |"]
        for im in r["fixtures"]["images"]:
            lines.append("| %s | %s | %s | %d |" % (im["file"], im.get("sku", im["expect"]),
                                                    ", ".join("%s %.3f" % (s, p) for s, p in im["ref_top3"]),
                                                    im["seeds_skipped"]))
        lines.append("")
    lines += [
        "## Time",
        "",
        "Wall-clock seconds on the project's 2-core machine, shared with other jobs; CPU seconds",
        "are this run's user + system time, its rendering processes included.",
        "",
        "| step | seconds |",
        "| --- | --- |",
        "| rendering (2 processes) | %.0f |" % r["time_render_s"],
        "| training (%d epochs, 1 torch thread) | %.0f |" % (r["epochs"], r["time_train_s"]),
        "| whole run (render, train, quantize, export, evaluate, fixtures) | %.0f |" % r["time_total_s"],
    ]
    if r.get("time_cpu_s"):
        lines.append("| CPU time of the whole run | %.0f |" % r["time_cpu_s"])
    if r.get("load_average"):
        lines.append("| load average at the start / end | %s |" % " / ".join("%.1f" % x for x in r["load_average"]))
    lines.append("")
    return "\n".join(lines)


def main():
    import argparse
    import sys

    import tflite_io

    ap = argparse.ArgumentParser(description="test fixtures and fuzz seeds of src/recog")
    ap.add_argument("--model", help="a model directory written by train.py (e.g. models/product)")
    ap.add_argument("--fixtures", help="write the test fixtures here (needs --model)")
    ap.add_argument("--catalog", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "..", "..", "data", "demo", "catalog.csv"))
    ap.add_argument("--fuzz-seeds", help="write the fuzz seeds here")
    args = ap.parse_args()
    if args.fuzz_seeds:
        write_fuzz_seeds(args.fuzz_seeds)
    if args.fixtures:
        if not args.model:
            ap.error("--fixtures needs --model")
        with open(os.path.join(args.model, "product.tflite"), "rb") as f:
            g = tflite_io.read(f.read())
        fx = write(args.fixtures, render.load_catalog(args.catalog), g, lambda *a: print(*a, flush=True))
        rpath = os.path.join(args.model, "report.json")
        if os.path.exists(rpath):  # put the fixtures into the model's report
            with open(rpath) as f:
                report = json.load(f)
            report["fixtures"] = fx
            with open(rpath, "w") as f:
                json.dump(report, f, indent=1)
                f.write("\n")
            with open(os.path.join(args.model, "REPORT.md"), "w") as f:
                f.write(report_markdown(report, report["threshold"]))
    if args.model and not args.fixtures:  # just re-render REPORT.md from report.json
        with open(os.path.join(args.model, "report.json")) as f:
            report = json.load(f)
        with open(os.path.join(args.model, "REPORT.md"), "w") as f:
            f.write(report_markdown(report, report["threshold"]))
    if not args.fuzz_seeds and not args.model:
        ap.print_usage(sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
