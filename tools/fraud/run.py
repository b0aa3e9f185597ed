#!/usr/bin/python3
"""The fraud model, end to end: generate labelled store days, compute their
features with the C code (bin/fraud_features), train, evaluate on held-out
seeds through the C scorer, and write models/fraud/{fraud.json,manifest.json,
REPORT.md}. See tools/fraud/README.md.

    /usr/bin/python3 tools/fraud/run.py --build /tmp/build
"""

import argparse
import os
import platform
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)

import evaluate  # noqa: E402
import gen  # noqa: E402
import train  # noqa: E402
from common import HELDOUT_SEEDS, TRAIN_SEEDS, VALID_SEEDS, Rows, run_features  # noqa: E402


def split_stats(seeds, days, stores, rows):
    pats = {}
    for l in rows.labels:
        if l:
            pats[l] = pats.get(l, 0) + 1
    return {"seeds": seeds, "days": days * len(seeds),
            "events": sum(len(stores[s].events) for s in seeds), "scored": len(rows.labels),
            "frauds": int(rows.y.sum()), "patterns": pats}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True, help="a build directory with bin/fraud_features")
    ap.add_argument("--work", default="/tmp/kassa-fraud", help="generated events and features")
    ap.add_argument("--out", default=os.path.join(here, "..", "..", "models", "fraud"))
    ap.add_argument("--days", type=int, default=40, help="days per seed")
    ap.add_argument("--version", type=int, default=1, help="the manifest's model version")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    timing = []
    t0 = time.time()
    catalog = os.path.join(here, "..", "..", "data", "demo", "catalog.csv")
    stores, feats = {}, {}
    for s in TRAIN_SEEDS + VALID_SEEDS + HELDOUT_SEEDS:
        stores[s] = gen.generate(s, a.days, catalog, os.path.join(a.work, "events_%d.jsonl" % s))
        print("generated seed %d: %d events" % (s, len(stores[s].events)), file=sys.stderr)
    timing.append(("generate events (python)", time.time() - t0))
    t1 = time.time()
    for s in TRAIN_SEEDS + VALID_SEEDS:
        feats[s] = run_features(a.build, os.path.join(a.work, "events_%d.jsonl" % s),
                                os.path.join(a.work, "features_%d.csv" % s))
    timing.append(("features of train + validation (C)", time.time() - t1))
    t2 = time.time()
    tr_rows = Rows.concat([feats[s] for s in TRAIN_SEEDS])
    va_rows = Rows.concat([feats[s] for s in VALID_SEEDS])
    result = train.run(tr_rows, va_rows, a.out, a.version)
    timing.append(("train (python xgboost, nthread=2)", time.time() - t2))
    print("trained: %d rounds, policy %s" % (result["rounds"], result["policy"]), file=sys.stderr)
    t3 = time.time()
    model = os.path.join(a.out, train.MODEL_FILE)
    parts = [run_features(a.build, os.path.join(a.work, "events_%d.jsonl" % s),
                          os.path.join(a.work, "scored_%d.csv" % s), model=model, reasons=True)
             for s in HELDOUT_SEEDS]
    ho_rows = Rows.concat(parts)
    timing.append(("score held-out with the C scorer, with reasons", time.time() - t3))
    m, prob = evaluate.metrics(ho_rows)
    ctx = {
        "metrics": m,
        "policy_figures": evaluate.policy_figures(ho_rows, prob, result["policy"]),
        "train": result,
        "params": train.PARAMS,
        "model_bytes": os.path.getsize(model),
        "feature_names": ho_rows.feature_names,
        "splits": [("train", split_stats(TRAIN_SEEDS, a.days, stores, tr_rows)),
                   ("validation", split_stats(VALID_SEEDS, a.days, stores, va_rows)),
                   ("held-out", split_stats(HELDOUT_SEEDS, a.days, stores, ho_rows))],
        "margin_diff": evaluate.python_margin_diff(result["booster"], ho_rows),
        "examples": evaluate.examples(ho_rows, prob),
        "machine": "%s, %d CPUs, Python %s" % (platform.machine(), os.cpu_count(),
                                               platform.python_version()),
    }
    timing.append(("total", time.time() - t0))
    ctx["timing"] = timing
    evaluate.report(os.path.join(a.out, "REPORT.md"), ctx)
    print("held-out: AUC %.4f, precision %.3f recall %.3f at 1%% alerts; %.0f s" % (
        m["auc"], m["precision"], m["recall"], timing[-1][1]), file=sys.stderr)
    for p, v in m["patterns"].items():
        print("  %-20s n=%4d auc=%.4f recall=%.3f" % (p, v["n"], v["auc"], v["recall"]),
              file=sys.stderr)


if __name__ == "__main__":
    main()
