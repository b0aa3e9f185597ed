"""Evaluation of the fraud model on the held-out split, from the scores of the C
scorer (bin/fraud_features --model), written as REPORT.md."""

import math

import numpy as np
import xgboost as xgb
from sklearn.metrics import roc_auc_score

from common import sigmoid

PATTERNS = ["sweethearting", "refund_fraud", "discount_abuse", "skimming", "card_testing",
            "offline_card_abuse"]
ALERT_RATE = 0.01


def alert_threshold(scores, rate):
    k = max(1, int(math.ceil(rate * len(scores))))
    return float(np.sort(scores)[::-1][k - 1])


def metrics(rows):
    prob = sigmoid(rows.margin)
    y = rows.y
    labels = np.array(rows.labels)
    out = {"n": len(y), "frauds": int(y.sum()), "auc": float(roc_auc_score(y, prob))}
    thr = alert_threshold(prob, ALERT_RATE)
    alert = prob >= thr
    out["alert_threshold"] = thr
    out["alerts"] = int(alert.sum())
    out["precision"] = float(y[alert].mean())
    out["recall"] = float(alert[y == 1].mean())
    per = {}
    for p in PATTERNS:
        pos = labels == p
        if not pos.any():
            continue
        sel = pos | (y == 0)
        per[p] = {
            "n": int(pos.sum()),
            "auc": float(roc_auc_score(pos[sel], prob[sel])),
            "recall": float(alert[pos].mean()),
            "alerts": int((alert & pos).sum()),
        }
    out["patterns"] = per
    return out, prob


def policy_figures(rows, prob, policy):
    y = rows.y
    labels = np.array(rows.labels)
    idx = {n: i for i, n in enumerate(rows.feature_names)}
    out = {}
    for key in ("review_at", "supervisor_at"):
        a = prob >= policy[key]
        out[key] = {"rate": float(a.mean()), "precision": float(y[a].mean()) if a.any() else 0.0,
                    "recall": float(a[y == 1].mean())}
    sale = ((rows.x[:, idx["is_void"]] == 0) & (rows.x[:, idx["is_return"]] == 0)
            & (rows.x[:, idx["is_no_sale"]] == 0))
    offline = sale & (rows.x[:, idx["card_offline"]] == 1)
    refused = offline & (prob >= policy["refuse_offline_card_at"])
    abuse = labels == "offline_card_abuse"
    out["offline"] = {"sales": int(offline.sum()), "abuse": int((offline & abuse).sum()),
                      "refused": int(refused.sum()), "refused_abuse": int((refused & abuse).sum())}
    return out


def python_margin_diff(booster, rows):
    d = xgb.DMatrix(rows.x, feature_names=rows.feature_names, missing=np.nan)
    py = booster.predict(d, output_margin=True)
    return float(np.max(np.abs(py - rows.margin)))


def pct(v):
    return "%.1f %%" % (100 * v)


def report(path, ctx):
    m, pol, tr = ctx["metrics"], ctx["policy_figures"], ctx["train"]
    L = []
    w = L.append
    w("# Fraud model: evaluation report")
    w("")
    w("Written by `tools/fraud/run.py` (tools/fraud/README.md); do not edit by hand.")
    w("")
    w("- model: `models/fraud/fraud.json` (XGBoost %s JSON, %d trees of depth <= %d, %d bytes), "
      "manifest `manifest.json` version %d, created %s" % (
          xgb.__version__, tr["rounds"], ctx["params"]["max_depth"], ctx["model_bytes"],
          tr["manifest"]["version"], tr["manifest"]["created_at"]))
    w("- features: %d, computed by `src/fraud` (`bin/fraud_features`) for training and "
      "scoring alike" % len(ctx["feature_names"]))
    w("- scores below come from the **C scorer** (`bin/fraud_features --model`, XGBoost's C API "
      "with nthread=1), not from Python")
    w("")
    w("## Data")
    w("")
    w("| split | seeds | days | events | scored events | fraud | " +
      " | ".join(PATTERNS) + " |")
    w("|" + "---|" * (6 + len(PATTERNS)))
    for name, s in ctx["splits"]:
        w("| %s | %s | %d | %d | %d | %d (%s) | %s |" % (
            name, ",".join(str(x) for x in s["seeds"]), s["days"], s["events"], s["scored"],
            s["frauds"], pct(s["frauds"] / max(1, s["scored"])),
            " | ".join(str(s["patterns"].get(p, 0)) for p in PATTERNS)))
    w("")
    w("Training used the train split, with early stopping on the validation split (which also "
      "chose the policy thresholds); the held-out split (other seeds: other dishonest cashiers, "
      "days, outages and customers) was used only here.")
    w("")
    w("## Held-out split")
    w("")
    w("| | value |")
    w("|---|---|")
    w("| ROC-AUC, all patterns | **%.4f** |" % m["auc"])
    w("| alerts at a 1 %% alert rate | %d of %d scored events (probability >= %.4f) |" % (
        m["alerts"], m["n"], m["alert_threshold"]))
    w("| precision at 1 %% alerts | **%s** (fraud is %s of scored events) |" % (
        pct(m["precision"]), pct(m["frauds"] / m["n"])))
    w("| recall at 1 %% alerts | **%s** of %d frauds |" % (pct(m["recall"]), m["frauds"]))
    w("")
    w("Per pattern (ROC-AUC of that pattern's events against all normal events; recall and "
      "alerts at the same 1 % alert threshold):")
    w("")
    w("| pattern | events | ROC-AUC | recall at 1 % alerts | its alerts |")
    w("|---|---|---|---|---|")
    for p, v in m["patterns"].items():
        w("| %s | %d | %.4f | %s | %d |" % (p, v["n"], v["auc"], pct(v["recall"]), v["alerts"]))
    w("")
    w("## The default policy on the held-out split")
    w("")
    pp = tr["policy"]
    w("Thresholds (probabilities, `fraud_policy_default`, also in the manifest's "
      "`input.preprocess.policy`): review_at %.4g, supervisor_at %.4g, "
      "refuse_offline_card_at %.4g." % (pp["review_at"], pp["supervisor_at"],
                                         pp["refuse_offline_card_at"]))
    w("")
    w("| decision | share of scored events | precision | recall |")
    w("|---|---|---|---|")
    for key, name in (("review_at", "flag for review (or more)"),
                      ("supervisor_at", "require a supervisor")):
        v = pol[key]
        w("| %s | %s | %s | %s |" % (name, pct(v["rate"]), pct(v["precision"]),
                                     pct(v["recall"])))
    o = pol["offline"]
    w("")
    w("Offline card sales: %d, of which %d offline card abuse; refused: %d, of which %d abuse." % (
        o["sales"], o["abuse"], o["refused"], o["refused_abuse"]))
    w("")
    w("## Consistency of the C scorer")
    w("")
    w("Largest |margin(C) - margin(Python)| over the held-out split: %.3g (the C side loads the "
      "model re-written from its checked values)." % ctx["margin_diff"])
    w("")
    w("## Features the model leans on (total gain)")
    w("")
    w("| feature | total gain |")
    w("|---|---|")
    for name, g in sorted(tr["gain"].items(), key=lambda kv: -kv[1])[:15]:
        w("| %s | %.0f |" % (name, g))
    w("")
    w("## Example alerts (held-out, with the C scorer's reason codes)")
    w("")
    w("| pattern | kind | probability | reasons (top contributions) |")
    w("|---|---|---|---|")
    for ex in ctx["examples"]:
        w("| %s | %s | %.3f | %s |" % ex)
    w("")
    w("## Run")
    w("")
    w("Training parameters: `%s`, %d rounds kept (early stopping)." % (
        {k: v for k, v in ctx["params"].items() if k != "eval_metric"}, tr["rounds"]))
    w("")
    w("| step | seconds |")
    w("|---|---|")
    for step, secs in ctx["timing"]:
        w("| %s | %.1f |" % (step, secs))
    w("")
    w("Machine: %s." % ctx["machine"])
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")


def examples(rows, prob, per_pattern=2):
    out = []
    for p in PATTERNS:
        idx = [i for i, l in enumerate(rows.labels) if l == p]
        idx.sort(key=lambda i: -prob[i])
        for i in idx[:per_pattern]:
            out.append((p, rows.kinds[i], float(prob[i]), rows.reasons[i].replace(";", ", ")))
    normal = [i for i, l in enumerate(rows.labels) if not l]
    normal.sort(key=lambda i: -prob[i])
    for i in normal[:3]:
        out.append(("(normal: highest-scoring)", rows.kinds[i], float(prob[i]),
                    rows.reasons[i].replace(";", ", ")))
    return out
