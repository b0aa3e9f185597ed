"""Rendered data sets: frames through the preprocessing, as uint8 64x64 RGB.

Seeds are split into disjoint ranges, so training, calibration and test
frames never share a seed, and the unknown products of the test use their
own word lists (render.INVENTED_TEST_*) as well as their own seeds:

  train, known       10_000_000 + class * 100_000 + i
  train, unknown     20_000_000 + i  (invented) / 21_000_000 + i (empty counter) /
                     22_000_000 + i  (an invented product's barcode side)
  test, known        30_000_000 + class * 100_000 + i
  test, unknown      40_000_000 + i  (held-out invented) / 41_000_000 + i (empty)
  fixtures           50_000_000 + ... (fixtures.py)
"""

import multiprocessing as mp

import numpy as np

import preprocess
import render

TRAIN_KNOWN, TRAIN_INVENTED, TRAIN_EMPTY, TRAIN_BACK = 10_000_000, 20_000_000, 21_000_000, 22_000_000
TEST_KNOWN, TEST_INVENTED, TEST_EMPTY = 30_000_000, 40_000_000, 41_000_000
FIXTURES = 50_000_000

_catalog = None


def _init(catalog):
    global _catalog
    _catalog = catalog


def invented(seed, held_out):
    """The invented product of a seed (its design and frame share the seed)."""
    return render.invented_design(np.random.default_rng(seed + 7), held_out)


def frame(task):
    """task: ("known", class, seed) | ("invented", held_out, seed) |
    ("back", held_out, seed): an invented product's barcode side |
    ("empty", 0, seed)."""
    kind, arg, seed = task
    if kind == "known":
        sku, name, _ = _catalog[arg]
        img = render.render_frame(render.catalog_design(sku, name), seed)
    elif kind == "invented":
        img = render.render_frame(invented(seed, bool(arg)), seed)
    elif kind == "back":
        code = render.random_ean13(np.random.default_rng(seed + 11))
        img = render.render_barcode_frame(invented(seed, bool(arg)), code, seed, finish=True)
    else:
        img = render.render_empty(seed)
    return img


def _work(task):
    return preprocess.resize_area(preprocess.center_crop(np.asarray(frame(task))), preprocess.INPUT_SIZE)


def render_tasks(catalog, tasks, procs=2):
    """Renders and preprocesses tasks in procs processes -> uint8 [N,64,64,3]."""
    if procs <= 1:
        _init(catalog)
        out = [_work(t) for t in tasks]
    else:
        with mp.get_context("fork").Pool(procs, initializer=_init, initargs=(catalog,)) as pool:
            out = pool.map(_work, tasks, chunksize=64)
    return np.stack(out)


def known_tasks(n_classes, per_class, base):
    return [("known", c, base + c * 100_000 + i) for c in range(n_classes) for i in range(per_class)]


def unknown_tasks(n_invented, n_empty, invented_base, empty_base, held_out, n_back=0, back_base=0):
    return ([("invented", int(held_out), invented_base + i) for i in range(n_invented)] +
            [("empty", 0, empty_base + i) for i in range(n_empty)] +
            [("back", int(held_out), back_base + i) for i in range(n_back)])
