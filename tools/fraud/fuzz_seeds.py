#!/usr/bin/python3
"""Seeds for the fraud fuzz targets (tests/fuzz/fuzz_fraud_model.c and
fuzz_fraud_event.c): two tiny valid models with the fraud feature names
(XGBoost 1.7 JSON), corruptions of one of them (including the two that crash
XGBoost's own loader), and event lines of every kind.

    /usr/bin/python3 tools/fraud/fuzz_seeds.py tests/fuzz/corpus
"""

import copy
import json
import os
import sys

import numpy as np
import xgboost as xgb

here = os.path.dirname(os.path.abspath(__file__))


def feature_names():
    """The names, in order, from src/fraud/features.c's table."""
    src = os.path.join(here, "..", "..", "src", "fraud", "features.c")
    names = []
    for line in open(src):
        line = line.strip()
        if line.startswith("[FRAUD_X_") and "] = \"" in line:
            names.append(line.split('"')[1])
    return names


def tiny_model(names, depth, rounds, seed):
    rng = np.random.default_rng(seed)
    x = rng.random((400, len(names))).astype(np.float32)
    x[rng.random(x.shape) < 0.1] = np.nan
    y = (np.nan_to_num(x[:, 3]) + np.nan_to_num(x[:, 9]) > 1.0).astype(int)
    d = xgb.DMatrix(x, label=y, feature_names=names, missing=np.nan)
    b = xgb.train({"objective": "binary:logistic", "max_depth": depth, "nthread": 1,
                   "seed": seed}, d, rounds)
    return json.loads(b.save_raw("json").decode())


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "tests", "fuzz",
                                                             "corpus")
    mdir = os.path.join(out, "fuzz_fraud_model")
    edir = os.path.join(out, "fuzz_fraud_event")
    os.makedirs(mdir, exist_ok=True)
    os.makedirs(edir, exist_ok=True)
    names = feature_names()
    assert len(names) == 44, len(names)
    small = tiny_model(names, 2, 2, 1)
    seeds = {"valid_2x2": small, "valid_3x3": tiny_model(names, 3, 3, 2)}
    t0 = lambda j: j["learner"]["gradient_booster"]["model"]["trees"][0]  # noqa: E731
    bad = copy.deepcopy(small)
    t0(bad)["split_indices"][0] = 1000000
    seeds["crash_feature_index"] = bad
    bad = copy.deepcopy(small)
    bad["learner"]["gradient_booster"]["model"]["gbtree_model_param"]["num_trees"] = "5"
    seeds["crash_num_trees"] = bad
    bad = copy.deepcopy(small)
    t0(bad)["left_children"][0] = 99
    seeds["bad_child"] = bad
    bad = copy.deepcopy(small)
    t0(bad)["split_type"][0] = 1
    seeds["categorical"] = bad
    for name, j in seeds.items():
        with open(os.path.join(mdir, name + ".json"), "w") as f:
            json.dump(j, f, separators=(",", ":"))
    text = json.dumps(small, separators=(",", ":"))
    with open(os.path.join(mdir, "truncated.json"), "w") as f:
        f.write(text[: len(text) // 2])

    events = {
        "sale_card": {"kind": "sale", "t": 1709546400000, "term": "T1", "cashier": "c01",
                      "sale": "T1-17", "amount": 1234, "cash": 234, "discount": 50, "items": 3,
                      "card": True, "token": "tok_ab12", "offline": True,
                      "label": "offline_card_abuse"},
        "sale_cash": {"kind": "sale", "t": 1709546400000, "term": "T2", "sale": "T2-1",
                      "amount": 500, "cash": 500, "items": 1},
        "void": {"kind": "void", "t": 1709546460000, "term": "T1", "cashier": "c01",
                 "sale": "T1-17", "amount": 1234, "cash": 234, "label": "skimming"},
        "return_no_receipt": {"kind": "return", "t": 1709546500000, "term": "T3",
                              "cashier": "c02", "amount": 4500, "cash": 4500, "items": 2,
                              "no_receipt": True},
        "no_sale": {"kind": "no_sale", "t": 1709546500000, "term": "T3", "cashier": "c02"},
        "line_void": {"kind": "line_void", "t": 1709546500000, "term": "T3", "cashier": "c02",
                      "amount": 399, "items": 1},
        "price_override": {"kind": "price_override", "t": 1709546500000, "term": "T3",
                           "cashier": "c02", "amount": 120},
        "card_attempt": {"kind": "card_attempt", "t": 1709546500000, "term": "T1",
                         "cashier": "c01", "amount": 150, "card": True, "token": "tok_x",
                         "declined": True},
        "tender_switch": {"kind": "tender_switch", "t": 1709546500000, "term": "T1"},
        "drawer_count": {"kind": "drawer_count", "t": 1709546500000, "term": "T1",
                         "cashier": "c01", "amount": -2500},
    }
    for name, ev in events.items():
        with open(os.path.join(edir, name + ".json"), "w") as f:
            f.write(json.dumps(ev, separators=(",", ":")) + "\n")
    with open(os.path.join(edir, "bad_duplicate_key.json"), "w") as f:
        f.write('{"kind":"sale","t":1,"term":"T1","t":2}\n')


if __name__ == "__main__":
    main()
