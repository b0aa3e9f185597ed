#!/usr/bin/python3
"""Trains, quantizes, exports and evaluates the product recognition model.

    /usr/bin/python3 tools/product/train.py --out models/product \
        [--fixtures tests/fixtures/products] [--quick]

Steps (README.md): render the data sets, train the float network with
outlier exposure (invented products and empty counters pushed towards a
uniform softmax, so unknowns get low confidence), fold batch norm, calibrate
and quantize to int8, write product.tflite with our flatbuffer writer, read
it back and evaluate the int8 model with the numpy reference kernels, then
write labels.txt, preprocess.json, the canaries, manifest.json and
REPORT.md (and the test fixtures with --fixtures).
"""

import argparse
import hashlib
import json
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dataset  # noqa: E402
import fixtures  # noqa: E402
import model as M  # noqa: E402
import preprocess  # noqa: E402
import render  # noqa: E402
import tflite_io  # noqa: E402
import tflite_ref  # noqa: E402

THRESHOLD = 0.70
REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def log(*a):
    print("[%6.1fs]" % (time.time() - T0), *a, flush=True)


def to_tensor(u8):
    return torch.from_numpy(u8).float().permute(0, 3, 1, 2) / 255.0


def augment(x, gen):
    """Cheap per-batch augmentation on top of the rendered variety: shifts
    of up to 4 pixels and a little brightness/contrast."""
    n = x.shape[0]
    xp = F.pad(x, (4, 4, 4, 4), mode="replicate")
    dx = torch.randint(0, 9, (n,), generator=gen)
    dy = torch.randint(0, 9, (n,), generator=gen)
    out = torch.stack([xp[i, :, dy[i]:dy[i] + 64, dx[i]:dx[i] + 64] for i in range(n)])
    b = 1 + (torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * 0.3
    c = 1 + (torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * 0.3
    m = out.mean(dim=(1, 2, 3), keepdim=True)
    return ((out - m) * c + m * b).clamp(0, 1)


def train(net, xk, yk, xu, epochs, seed, oe_weight=0.5, batch=128, batch_u=48):
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    net.to(memory_format=torch.channels_last)  # faster depthwise convs on CPU
    opt = torch.optim.AdamW(net.parameters(), lr=4e-3, weight_decay=5e-4)
    steps_per_epoch = len(xk) // batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=4e-3, total_steps=epochs * steps_per_epoch,
                                                pct_start=0.15)
    yk_t = torch.from_numpy(yk).long()
    for ep in range(epochs):
        net.train()
        perm = rng.permutation(len(xk))
        tot, correct, tot_u = 0.0, 0, 0.0
        for s in range(steps_per_epoch):
            idx = perm[s * batch:(s + 1) * batch]
            uidx = rng.integers(0, len(xu), batch_u)
            xb = augment(to_tensor(np.concatenate([xk[idx], xu[uidx]])), gen)
            xb = xb.contiguous(memory_format=torch.channels_last)
            out = net(xb)
            lk = F.cross_entropy(out[:batch], yk_t[idx], label_smoothing=0.05)
            lu = -F.log_softmax(out[batch:], dim=1).mean()
            loss = lk + oe_weight * lu
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += float(lk)
            tot_u += float(lu)
            correct += int((out[:batch].argmax(1) == yk_t[idx]).sum())
        log("epoch %2d  loss %.3f  oe %.3f  train acc %.3f" % (
            ep + 1, tot / steps_per_epoch, tot_u / steps_per_epoch, correct / (steps_per_epoch * batch)))


@torch.no_grad()
def float_probs(net, x):
    net.eval()
    out = [F.softmax(net(to_tensor(x[i:i + 512])), dim=1) for i in range(0, len(x), 512)]
    return torch.cat(out).numpy()


def int8_probs(g, x_u8, chunk=256):
    """Runs the int8 graph with the reference kernels; returns the raw int8
    outputs [N, classes]."""
    q = (x_u8.astype(np.int16) - 128).astype(np.int8)  # scale 1/255, zp -128
    outs = [tflite_ref.run(g, q[i:i + chunk])[0] for i in range(0, len(q), chunk)]
    return np.concatenate(outs)


def dequant(q):
    return (q.astype(np.float64) + 128) / 256.0


def metrics(probs, labels, probs_unknown):
    top1 = probs.argmax(1)
    conf = probs.max(1)
    acc = float((top1 == labels).mean())
    accepted = conf >= THRESHOLD
    return {
        "top1_accuracy": acc,
        "accepted_rate_known": float(accepted.mean()),
        "accepted_correct_known": float((accepted & (top1 == labels)).mean()),
        "accepted_wrong_known": float((accepted & (top1 != labels)).mean()),
        "rejected_rate_unknown": float((probs_unknown.max(1) < THRESHOLD).mean()),
        "median_conf_unknown": float(np.median(probs_unknown.max(1))),
    }


def per_class_accuracy(probs, labels, n):
    top1 = probs.argmax(1)
    return [float((top1[labels == c] == c).mean()) for c in range(n)]


def write_report(out, report):
    with open(os.path.join(out, "report.json"), "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    with open(os.path.join(out, "REPORT.md"), "w") as f:
        f.write(fixtures.report_markdown(report, THRESHOLD))


def barcode_views(catalog, g):
    """What the model says about the barcode side of every product with a
    valid EAN-13 (render.render_barcode_frame, 3 seeds each): a view it was
    never trained on. Returns {sku: [top-1, confidence] of the worst seed}."""
    out = {}
    for sku, name, code in catalog:
        try:
            render.ean13_modules(code)
        except ValueError:
            continue
        worst = None
        for k in range(3):
            img = render.render_barcode_frame(render.catalog_design(sku, name), code, dataset.FIXTURES + 980_000 + k)
            q = preprocess.preprocess_rgb(np.asarray(img))
            o = tflite_ref.run(g, q[None])[0][0]
            conf = float(dequant(o).max())
            if worst is None or conf > worst[1]:
                worst = [catalog[int(o.argmax())][0], conf]
        out[sku] = worst
    return out


def cpu_seconds():
    """User + system CPU of this process and its reaped children."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(REPO, "models", "product"))
    ap.add_argument("--fixtures", default=None, help="also write the test fixtures here")
    ap.add_argument("--catalog", default=os.path.join(REPO, "data", "demo", "catalog.csv"))
    ap.add_argument("--per-class", type=int, default=400)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--procs", type=int, default=2, help="rendering processes")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1 is fastest on a busy 2-core machine)")
    ap.add_argument("--quick", action="store_true", help="tiny run to check the pipeline")
    args = ap.parse_args()
    if args.quick:
        args.per_class, args.epochs = 40, 2
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)

    catalog = render.load_catalog(args.catalog)
    labels = [sku for sku, _, _ in catalog]
    n = len(labels)
    n_test = 60 if not args.quick else 10
    log("catalog: %d products; rendering" % n)
    xk = dataset.render_tasks(catalog, dataset.known_tasks(n, args.per_class, dataset.TRAIN_KNOWN), args.procs)
    yk = np.repeat(np.arange(n), args.per_class)
    n_unk = n * args.per_class // 4
    xu = dataset.render_tasks(catalog, dataset.unknown_tasks(
        n_unk * 7 // 10, n_unk // 5, dataset.TRAIN_INVENTED, dataset.TRAIN_EMPTY, False,
        n_unk // 10, dataset.TRAIN_BACK), args.procs)
    xt = dataset.render_tasks(catalog, dataset.known_tasks(n, n_test, dataset.TEST_KNOWN), args.procs)
    yt = np.repeat(np.arange(n), n_test)
    n_tu = 20 * n_test // 2
    xtu_inv = dataset.render_tasks(catalog, dataset.unknown_tasks(
        n_tu, 0, dataset.TEST_INVENTED, dataset.TEST_EMPTY, True), args.procs)
    xtu_empty = dataset.render_tasks(catalog, dataset.unknown_tasks(
        0, n_tu // 4, dataset.TEST_INVENTED, dataset.TEST_EMPTY, True), args.procs)
    t_render = time.time() - T0
    log("rendered: train %d known + %d unknown, test %d known + %d unknown + %d empty" % (
        len(xk), len(xu), len(xt), len(xtu_inv), len(xtu_empty)))

    net = M.ProductNet(n)
    t1 = time.time()
    train(net, xk, yk, xu, args.epochs, args.seed)
    t_train = time.time() - t1

    fp = float_probs(net, xt)
    fpu = float_probs(net, xtu_inv)
    fpe = float_probs(net, xtu_empty)
    float_m = metrics(fp, yt, fpu)
    log("float:", json.dumps(float_m))

    calib_idx = np.random.default_rng(args.seed + 1).choice(len(xk), min(1000, len(xk)), replace=False)
    calib = np.concatenate([xk[calib_idx], xu[: len(calib_idx) // 5]])
    desc = "kassa product recognition: %d catalog products, int8, input 64x64 RGB" % n
    g, folded = M.to_graph(net, calib, n, desc)
    blob = tflite_io.write(g)
    path = os.path.join(args.out, "product.tflite")
    with open(path, "wb") as f:
        f.write(blob)
    log("wrote %s (%d bytes)" % (path, len(blob)))

    g2 = tflite_io.read(blob)  # evaluate what was written
    qt = int8_probs(g2, xt)
    qtu = int8_probs(g2, xtu_inv)
    qte = int8_probs(g2, xtu_empty)
    int8_m = metrics(dequant(qt), yt, dequant(qtu))
    int8_m["rejected_rate_empty"] = float((dequant(qte).max(1) < THRESHOLD).mean())
    float_m["rejected_rate_empty"] = float((fpe.max(1) < THRESHOLD).mean())
    agree = float((qt.argmax(1) == fp.argmax(1)).mean())
    log("int8:", json.dumps(int8_m), "top-1 agreement with float %.4f" % agree)
    pcs = per_class_accuracy(dequant(qt), yt, n)

    with open(os.path.join(args.out, "labels.txt"), "w") as f:
        f.write("".join(sku + "\n" for sku in labels))
    spec = dict(preprocess.SPEC)
    spec["threshold"] = THRESHOLD
    spec["output"] = {"dtype": "int8", "shape": [1, n], "scale": 1.0 / 256.0, "zero_point": -128,
                      "meaning": "softmax probability per label (labels.txt line i = class i)"}
    with open(os.path.join(args.out, "preprocess.json"), "w") as f:
        json.dump(spec, f, indent=2)
        f.write("\n")

    # Canaries: a confident known product, a less confident known one, and a
    # rejected unknown: together they exercise the whole softmax range.
    conf = dequant(qt).max(1)
    right = qt.argmax(1) == yt
    c_hi = int(np.argmax(np.where(right, conf, -1)))
    mid = np.where(right & (conf >= 0.75) & (conf <= 0.9))[0]
    c_mid = int(mid[0]) if len(mid) else int(np.argsort(np.where(right, conf, 9))[0])
    c_unk = int(np.argmin(dequant(qtu).max(1)))
    canaries = []
    for name, x in (("known_confident", xt[c_hi]), ("known_less_sure", xt[c_mid]),
                    ("unknown_product", xtu_inv[c_unk])):
        q = (x.astype(np.int16) - 128).astype(np.int8)
        raw = q.tobytes()
        fname = "canary_%s.raw" % name
        with open(os.path.join(args.out, fname), "wb") as f:
            f.write(raw)
        out = tflite_ref.run(g2, q[None])[0][0]
        canaries.append({"name": name, "input": {"file": fname, "sha256": sha256(raw)},
                         "expected": [int(v) for v in out], "tolerance_lsb": 3,
                         "top1": labels[int(out.argmax())], "confidence": float(dequant(out).max())})
    with open(os.path.join(args.out, "canaries.json"), "w") as f:
        json.dump({"model": "product.tflite", "model_sha256": sha256(blob),
                   "input_shape": [1, 64, 64, 3], "input_dtype": "int8", "canaries": canaries}, f, indent=1)
        f.write("\n")
    manifest = {
        "format": 1, "name": "product", "version": 1,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model": {"file": "product.tflite", "size_bytes": len(blob), "sha256": sha256(blob)},
        "input": {"dtype": "int8", "shape": [1, 64, 64, 3], "scale": g2.tensors[g2.inputs[0]].scale[0],
                  "zero_point": -128, "preprocess": spec},
        "output": {"dtype": "int8", "shape": [1, n], "scale": 1.0 / 256.0, "zero_point": -128},
        "labels": {"file": "labels.txt", "sha256": sha256("".join(s + "\n" for s in labels).encode())},
        "canaries": [{k: c[k] for k in ("name", "input", "expected", "tolerance_lsb")} for c in canaries],
        # The health check's guard against a pathological model, measured
        # wall-clock on a terminal that may be busy: far above the 0.13 ms
        # of CPU an invoke takes (bench/ai measures the latency itself).
        "latency_budget_ms": 50,
    }
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")

    total = time.time() - T0
    report = {
        "classes": n, "train_known": len(xk), "train_unknown": len(xu), "test_known": len(xt),
        "test_unknown_invented": len(xtu_inv), "test_unknown_empty": len(xtu_empty),
        "epochs": args.epochs, "threshold": THRESHOLD, "float": float_m, "int8": int8_m,
        "int8_float_top1_agreement": agree,
        "per_class_int8": dict(zip(labels, pcs)), "model_bytes": len(blob),
        "macs": M.mac_count(64, n), "params": int(sum(p.numel() for p in net.parameters())),
        "time_render_s": t_render, "time_train_s": t_train, "time_total_s": total,
        "canaries": canaries, "fixtures": None, "quick": args.quick,
        "barcode_views": barcode_views(catalog, g2),
    }
    write_report(args.out, report)
    if args.fixtures:
        report["fixtures"] = fixtures.write(args.fixtures, catalog, g2, log)
    report["time_total_s"] = time.time() - T0
    report["time_cpu_s"] = cpu_seconds()
    report["load_average"] = [LOAD0, os.getloadavg()[0]]
    write_report(args.out, report)
    log("done in %.0f s (%.0f s of CPU)" % (report["time_total_s"], report["time_cpu_s"]))
    if not args.quick and int8_m["top1_accuracy"] < 0.97:
        log("WARNING: int8 top-1 accuracy below 97%")
        return 1
    return 0


T0 = time.time()
LOAD0 = os.getloadavg()[0]
if __name__ == "__main__":
    sys.exit(main())
