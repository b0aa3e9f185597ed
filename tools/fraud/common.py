"""Shared by the fraud tools: running the C feature program and reading its CSV."""

import os
import subprocess

import numpy as np

TRAIN_SEEDS = [1, 2, 3]
VALID_SEEDS = [4]
HELDOUT_SEEDS = [101, 102, 103]


class Rows:
    """The rows of a fraud_features CSV: labels, kinds, times, features,
    optional C margins and reasons."""

    def __init__(self, path):
        with open(path) as f:
            header = f.readline().rstrip("\n").split(",")
            lines = f.read().splitlines()
        self.feature_names = [h for h in header[3:] if h not in ("margin", "reasons")]
        nf = len(self.feature_names)
        has_margin = "margin" in header
        has_reasons = "reasons" in header
        self.labels, self.kinds, self.times, self.reasons = [], [], [], []
        x = np.empty((len(lines), nf), dtype=np.float32)
        margin = np.empty(len(lines), dtype=np.float32) if has_margin else None
        for i, line in enumerate(lines):
            cols = line.split(",")
            self.labels.append(cols[0])
            self.kinds.append(cols[1])
            self.times.append(int(cols[2]))
            x[i] = [float(v) for v in cols[3:3 + nf]]
            if has_margin:
                margin[i] = float(cols[3 + nf])
            if has_reasons:
                self.reasons.append(cols[4 + nf])
        self.x = x
        self.margin = margin
        self.y = np.array([1 if l else 0 for l in self.labels], dtype=np.int32)

    @staticmethod
    def concat(parts):
        out = Rows.__new__(Rows)
        out.feature_names = parts[0].feature_names
        out.labels = sum((p.labels for p in parts), [])
        out.kinds = sum((p.kinds for p in parts), [])
        out.times = sum((p.times for p in parts), [])
        out.reasons = sum((p.reasons for p in parts), [])
        out.x = np.concatenate([p.x for p in parts])
        out.y = np.concatenate([p.y for p in parts])
        out.margin = (np.concatenate([p.margin for p in parts])
                      if all(p.margin is not None for p in parts) else None)
        return out


def run_features(build_dir, events, out_csv, model=None, reasons=False):
    prog = os.path.join(build_dir, "bin", "fraud_features")
    cmd = [prog]
    if model:
        cmd += ["--model", model]
    if reasons:
        cmd += ["--reasons"]
    cmd += [events]
    with open(out_csv, "w") as f:
        subprocess.run(cmd, stdout=f, check=True)
    return Rows(out_csv)


def sigmoid(m):
    return 1.0 / (1.0 + np.exp(-np.asarray(m, dtype=np.float64)))
