"""Trains the fraud model (XGBoost 1.7, binary:logistic) and writes it with its
manifest (docs/MODELS.md format 1, unsigned) into the output directory."""

import base64
import datetime
import hashlib
import json
import os
import struct

import numpy as np
import xgboost as xgb

from common import sigmoid

PARAMS = {
    "objective": "binary:logistic",
    "eval_metric": ["aucpr", "auc"],
    "tree_method": "exact",
    "max_depth": 4,
    "eta": 0.15,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 2,
    "lambda": 2.0,
    "nthread": 2,
    "seed": 7,
}
ROUNDS_MAX = 400
EARLY_STOP = 40
MODEL_FILE = "fraud.json"
# Alert rates of the default policy, chosen on the validation split.
REVIEW_RATE = 0.01
SUPERVISOR_RATE = 0.003
OFFLINE_PRECISION = 0.8


def train(train_rows, valid_rows):
    names = train_rows.feature_names
    dtrain = xgb.DMatrix(train_rows.x, label=train_rows.y, feature_names=names, missing=np.nan)
    dvalid = xgb.DMatrix(valid_rows.x, label=valid_rows.y, feature_names=names, missing=np.nan)
    booster = xgb.train(PARAMS, dtrain, ROUNDS_MAX, evals=[(dvalid, "valid")],
                        early_stopping_rounds=EARLY_STOP, verbose_eval=False)
    best = booster.best_iteration
    return booster[: best + 1], best + 1


def round_sig(v, digits=2):
    if v <= 0:
        return v
    return float("%.*g" % (digits, v))


def choose_policy(prob, rows):
    """Thresholds on the validation split's probabilities."""
    review = round_sig(float(np.quantile(prob, 1 - REVIEW_RATE)))
    supervisor = round_sig(float(np.quantile(prob, 1 - SUPERVISOR_RATE)))
    supervisor = max(supervisor, review)
    idx = names_index(rows.feature_names)
    offline = ((rows.x[:, idx["card_offline"]] == 1) & (rows.x[:, idx["is_void"]] == 0)
               & (rows.x[:, idx["is_return"]] == 0) & (rows.x[:, idx["is_no_sale"]] == 0))
    refuse = review
    cand = np.sort(np.unique(prob[offline]))
    for t in cand:
        sel = offline & (prob >= t)
        abuse = np.array([l == "offline_card_abuse" for l in rows.labels])[sel]
        if sel.sum() >= 3 and abuse.mean() >= OFFLINE_PRECISION:
            refuse = round_sig(float(t))
            break
    return {"review_at": review, "supervisor_at": supervisor,
            "refuse_offline_card_at": min(refuse, 1.0)}


def names_index(names):
    return {n: i for i, n in enumerate(names)}


def pick_canaries(rows, prob):
    """One normal sale near the median score and the highest-scoring example of
    each pattern, from the validation split."""
    picks = []
    normal = [i for i, l in enumerate(rows.labels) if not l and rows.kinds[i] == "sale"]
    order = sorted(normal, key=lambda i: prob[i])
    picks.append(("normal_sale", order[len(order) // 2]))
    for p in ["card_testing", "offline_card_abuse", "refund_fraud", "sweethearting",
              "discount_abuse", "skimming"]:
        idx = [i for i, l in enumerate(rows.labels) if l == p]
        if idx:
            picks.append((p, max(idx, key=lambda i: prob[i])))
    return picks


def write_manifest(out_dir, rows, prob, policy, version, created_at):
    model_path = os.path.join(out_dir, MODEL_FILE)
    data = open(model_path, "rb").read()
    canaries = []
    for name, i in pick_canaries(rows, prob):
        raw = struct.pack("<%df" % rows.x.shape[1], *rows.x[i].tolist())
        canaries.append({
            "name": name,
            "input": {"base64": base64.b64encode(raw).decode()},
            "expected": [float("%.7g" % prob[i])],
            "tolerance_abs": 0.0001,
        })
    manifest = {
        "format": 1,
        "name": "fraud",
        "version": version,
        "created_at": created_at,
        "model": {"file": MODEL_FILE, "size_bytes": len(data),
                  "sha256": hashlib.sha256(data).hexdigest()},
        "input": {
            "dtype": "float32",
            "shape": [1, rows.x.shape[1]],
            "scale": 0,
            "zero_point": 0,
            "preprocess": {
                "kind": "fraud_features",
                "runtime": "xgboost-1.7-json",
                "features": rows.feature_names,
                "missing": "nan",
                "output": "probability",
                "policy": policy,
            },
        },
        "output": {"dtype": "float32", "shape": [1, 1], "scale": 0, "zero_point": 0},
        "labels": ["fraud"],
        "canaries": canaries,
        # a guard against a pathological model, timed wall-clock on a terminal
        # that may be busy: far above the ~10 us a score takes (bench/fraud)
        "latency_budget_ms": 20,
    }
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    return manifest


def run(train_rows, valid_rows, out_dir, version):
    booster, rounds = train(train_rows, valid_rows)
    os.makedirs(out_dir, exist_ok=True)
    booster.save_model(os.path.join(out_dir, MODEL_FILE))
    dvalid = xgb.DMatrix(valid_rows.x, feature_names=valid_rows.feature_names, missing=np.nan)
    prob = sigmoid(booster.predict(dvalid, output_margin=True))
    policy = choose_policy(prob, valid_rows)
    created = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    manifest = write_manifest(out_dir, valid_rows, prob, policy, version, created)
    gain = booster.get_score(importance_type="total_gain")
    return {"booster": booster, "rounds": rounds, "policy": policy, "manifest": manifest,
            "gain": gain}
