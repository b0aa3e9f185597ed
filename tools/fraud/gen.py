#!/usr/bin/python3
"""Labelled synthetic store days for the fraud model (docs/FRAUD.md).

A store of three terminals and nine cashiers trades from 07:00 to 21:00 over
the demo catalog (data/demo/catalog.csv): customers arrive by a time-of-day
profile (busier at lunch and after work, and at weekends), baskets are drawn
by item popularity, most pay by card (regular customers reuse their card
token), some in cash, a few split. Normal trade has its own noise: line
voids, short-dated discounts, shelf-price overrides, declined cards and a
tender switch, voids of a mistaken sale, returns with and without receipt,
no-sale drawer openings, drawer counts a little over or short, and store-wide
network outages during which cards are taken offline.

Mixed in, labelled on the scored event (sale, void, return, no-sale):

  sweethearting       a cashier lets a friend's basket through: lines scanned
                      then voided, prices overridden to a fraction, cash
  refund_fraud        a cashier refunds to cash: returns without receipt of
                      expensive goods, or against an old cash receipt (often
                      of one of the cashier's own sales)
  discount_abuse      a cashier gives friends 25-100 % off
  skimming            a cashier voids a cash sale minutes after the customer
                      paid, or opens the drawer without a sale; drawer counts
                      of those shifts are often short
  card_testing        a fraudster tries many fresh card tokens for small
                      amounts at one terminal within minutes; most are
                      declined, the approved ones become small sales
  offline_card_abuse  during an outage a stolen card (1-2 tokens) buys
                      expensive goods at several terminals, taken offline

The four dishonest cashiers are drawn per seed and are dishonest only on some
of their shifts, so a cashier's id says nothing; the model must read the
behaviour. Output: JSON lines in the event format of src/fraud (sorted by
time), one file per call.

    gen.py --seed 1 --days 30 --out events.jsonl
"""

import argparse
import csv
import heapq
import json
import os
import sys

import numpy as np

DAY_MS = 86_400_000
MIN_MS = 60_000
# Day 0: Monday 2024-03-04 00:00 (the store's local time is UTC here).
EPOCH_MS = 1_709_510_400_000
OPEN_H, CLOSE_H, SHIFT_SPLIT_H = 7, 21, 14
TERMINALS = ["T1", "T2", "T3"]
TERMINAL_LOAD = {"T1": 1.0, "T2": 0.85, "T3": 0.55}
CASHIERS = ["c%02d" % i for i in range(1, 10)]
# Customers per hour at terminal load 1.0, hours 7..20.
HOUR_RATE = [7, 14, 12, 10, 12, 18, 19, 13, 11, 13, 17, 19, 16, 10]
WEEKEND_FACTOR = 1.3
REGULAR_TOKENS = 4000
# A dishonest cashier is dishonest on this share of their shifts.
ACTIVE_SHIFT_P = 0.3

PATTERNS = ["sweethearting", "refund_fraud", "discount_abuse", "skimming", "card_testing",
            "offline_card_abuse"]
ROLES = ["sweethearting", "refund_fraud", "discount_abuse", "skimming"]


def load_catalog(path):
    items = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            items.append((row["sku"], int(round(float(row["price"]) * 100))))
    return items


class Store:
    def __init__(self, seed, catalog):
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.catalog = catalog
        prices = np.array([p for _, p in catalog], dtype=float)
        w = 1.0 / np.sqrt(prices)
        self.weights = w / w.sum()
        order = np.argsort(-prices)
        self.expensive = [int(i) for i in order[:10]]
        self.cheap = [int(i) for i in np.argsort(prices)[:8]]
        self.small = [i for i, (_, p) in enumerate(catalog) if p <= 500]
        self.events = []
        self.n = 0
        self.seq = {t: 0 for t in TERMINALS}
        self.sales = []  # dicts: id, t, term, cashier, lines, amount, cash
        self.pending_returns = []  # (time, sale)
        self.token_n = 0
        roles = self.rng.choice(CASHIERS, size=len(ROLES), replace=False)
        self.role_of = {str(c): r for c, r in zip(roles, ROLES)}
        self.counts = {p: 0 for p in PATTERNS}

    # ---- helpers ----

    def emit(self, t, kind, term, cashier, label=None, **f):
        ev = {"kind": kind, "t": int(t), "term": term}
        if cashier:
            ev["cashier"] = cashier
        for k, v in f.items():
            if v:
                ev[k] = v
        if label:
            ev["label"] = label
            self.counts[label] += 1
        self.events.append((int(t), self.n, ev))
        self.n += 1

    def fresh_token(self):
        self.token_n += 1
        return "tok_s%d_%06d_%04x" % (self.seed, self.token_n, int(self.rng.integers(0, 65536)))

    def regular_token(self):
        # Regular customers: a few come often (Zipf-like reuse).
        i = int(min(REGULAR_TOKENS - 1, self.rng.pareto(1.2) * 40))
        return "tok_r%d_%05d" % (self.seed, i)

    def basket(self, n_lines=None, pool=None):
        r = self.rng
        if n_lines is None:
            n_lines = 1 + r.poisson(1.8) if r.random() > 0.1 else 4 + r.poisson(5)
            n_lines = min(n_lines, 25)
        if pool is None:
            idx = r.choice(len(self.catalog), size=min(n_lines, len(self.catalog)), replace=False,
                           p=self.weights)
        else:
            idx = r.choice(pool, size=min(n_lines, len(pool)), replace=False)
        lines = []
        for i in idx:
            sku, price = self.catalog[int(i)]
            qty = int(r.choice([1, 2, 3, 4], p=[0.8, 0.14, 0.04, 0.02]))
            lines.append({"sku": sku, "qty": qty, "unit": price, "disc": 0})
        return lines

    def service_ms(self, items):
        return int((25 + 6 * items + self.rng.exponential(20)) * 1000)

    def next_id(self, term):
        self.seq[term] += 1
        return "%s-%d" % (term, self.seq[term])

    def outage_at(self, day, t):
        o = day.get("outage")
        return o is not None and o[0] <= t <= o[1]

    # ---- a sale and what happens in its cart ----

    def checkout(self, day, t, term, cashier, lines, label=None, pay="auto", token=None,
                 extra_line_voids=0, small_declines=False):
        """Emits cart events and the sale; returns the end time."""
        r = self.rng
        items = sum(l["qty"] for l in lines)
        end = t + self.service_ms(items + extra_line_voids)
        step = max(1000, (end - t) // (len(lines) + extra_line_voids + 3))
        tt = t + step
        # Benign cart noise on normal sales.
        if label is None:
            if r.random() < 0.07:
                extra_line_voids += 1 + int(r.random() < 0.12)
            if r.random() < 0.04 and lines:
                l = lines[int(r.integers(len(lines)))]
                l["disc"] = int(l["unit"] * l["qty"] * r.choice([0.1, 0.2, 0.3, 0.5]))
            elif r.random() < 0.01:
                for l in lines:
                    l["disc"] = int(l["unit"] * l["qty"] * 0.1)
            if r.random() < 0.012 and lines:
                l = lines[int(r.integers(len(lines)))]
                cut = int(l["unit"] * r.uniform(0.05, 0.4))
                if cut > 0:
                    l["unit"] -= cut
                    self.emit(tt, "price_override", term, cashier, amount=cut)
                    tt += step
        for _ in range(extra_line_voids):
            sku, price = self.catalog[int(r.choice(len(self.catalog), p=self.weights))]
            self.emit(tt, "line_void", term, cashier, amount=price, items=1)
            tt += step
        amount = sum(l["unit"] * l["qty"] - l["disc"] for l in lines)
        discount = sum(l["disc"] for l in lines)
        if pay == "auto":
            p_card = 0.55 if amount < 2000 else 0.72
            pay = "card" if r.random() < p_card else "cash"
            if pay == "card" and r.random() < 0.04:
                pay = "split"
        offline = self.outage_at(day, end)
        card = 0
        if pay in ("card", "split"):
            if token is None:
                token = self.regular_token() if r.random() < 0.7 else self.fresh_token()
            # A benign decline (online only): another card or cash.
            if label is None and not offline and r.random() < 0.02:
                self.emit(tt, "card_attempt", term, cashier, amount=amount, token=token,
                          card=True, declined=True)
                tt += step
                self.emit(tt, "tender_switch", term, cashier)
                tt += step
                if r.random() < 0.6:
                    pay = "cash"
                else:
                    token = self.fresh_token()
            if pay == "card":
                card = amount
            elif pay == "split":
                card = int(amount * r.uniform(0.3, 0.8))
        sale_id = self.next_id(term)
        fields = dict(sale=sale_id, amount=amount, cash=amount - card, discount=discount,
                      items=items)
        if card > 0:
            fields.update(card=True, token=token, offline=offline)
        self.emit(end, "sale", term, cashier, label=label, **fields)
        sale = {"id": sale_id, "t": end, "term": term, "cashier": cashier, "lines": lines,
                "amount": amount, "cash": amount - card}
        self.sales.append(sale)
        if label is None:
            if r.random() < 0.004:
                day["queue"][term].append((end + int(r.uniform(0.5, 5) * MIN_MS), "void",
                                          {"sale": sale, "by": cashier}))
            if r.random() < 0.012:
                later = end + int(r.choice([r.uniform(1, 8) * 3600e3, r.uniform(1, 10) * DAY_MS]))
                self.pending_returns.append((later, sale))
        return end, sale

    # ---- tasks at a terminal ----

    def do_task(self, day, t, term, cashier, kind, p):
        r = self.rng
        role = self.role_of.get(cashier) if cashier in day["active"] else None
        if kind == "customer":
            end, sale = self.checkout(day, t, term, cashier, self.basket())
            # A skimmer voids some cash sales after the customer has gone.
            if role == "skimming" and sale["cash"] == sale["amount"] and r.random() < 0.06:
                heapq.heappush(day["heap"][term], (end + int(r.uniform(1, 20) * MIN_MS),
                                                   self.tick(), "void",
                                                   {"sale": sale, "by": cashier,
                                                    "label": "skimming"}))
            return end
        if kind == "void":
            sale = p["sale"]
            self.emit(t + 20_000, "void", term, p.get("by", cashier), label=p.get("label"),
                      sale=sale["id"], amount=sale["amount"], cash=sale["cash"])
            return t + 40_000
        if kind == "return":
            sale = p["sale"]
            line = sale["lines"][int(r.integers(len(sale["lines"])))]
            qty = int(r.integers(1, line["qty"] + 1))
            refund = (line["unit"] * line["qty"] - line["disc"]) * qty // line["qty"]
            cash = refund if sale["cash"] == sale["amount"] else 0
            self.emit(t + 60_000, "return", term, cashier, sale=sale["id"], amount=refund,
                      cash=cash, items=qty)
            return t + 90_000
        if kind == "return_no_receipt":
            lines = self.basket(n_lines=1 + int(r.random() < 0.3))
            refund = sum(l["unit"] * l["qty"] for l in lines)
            self.emit(t + 90_000, "return", term, cashier, amount=refund, cash=refund,
                      items=sum(l["qty"] for l in lines), no_receipt=True)
            return t + 120_000
        if kind == "no_sale":
            self.emit(t + 5000, "no_sale", term, cashier, label=p.get("label"))
            return t + 20_000
        if kind == "sweetheart":
            return self.sweetheart(day, t, term, cashier)
        if kind == "discount_abuse":
            lines = self.basket()
            frac = r.uniform(0.25, 1.0)
            chosen = lines if r.random() < 0.5 else lines[: max(1, len(lines) // 2)]
            for l in chosen:
                l["disc"] = int(l["unit"] * l["qty"] * frac)
            end, _ = self.checkout(day, t, term, cashier, lines, label="discount_abuse",
                                   pay="cash" if r.random() < 0.7 else "card")
            return end
        if kind == "refund_fraud":
            return self.refund_fraud(t, term, cashier)
        if kind == "card_testing":
            return self.card_testing(day, t, term, cashier)
        if kind == "offline_abuse":
            if not self.outage_at(day, t + 60_000):
                # The network is back: the stolen card is declined online.
                self.emit(t + 30_000, "card_attempt", term, cashier, amount=p["amount"],
                          token=p["token"], card=True, declined=True)
                return t + 60_000
            lines = self.basket(n_lines=2 + int(r.integers(0, 4)), pool=self.expensive)
            for l in lines:
                l["qty"] = int(r.integers(1, 4))
            end, _ = self.checkout(day, t, term, cashier, lines, label="offline_card_abuse",
                                   pay="card", token=p["token"])
            return end
        raise ValueError(kind)

    def sweetheart(self, day, t, term, cashier):
        r = self.rng
        lines = self.basket(n_lines=int(r.integers(5, 16)))
        mode = r.choice(["voids", "overrides", "both", "subtle"], p=[0.4, 0.3, 0.2, 0.1])
        n_voids = 0
        tt = t + 2000
        if mode in ("voids", "both"):
            k = max(1, int(len(lines) * r.uniform(0.4, 0.9)))
            for l in lines[:k]:
                self.emit(tt, "line_void", term, cashier, amount=l["unit"] * l["qty"],
                          items=l["qty"])
                tt += 3000
            lines = lines[k:] or self.basket(n_lines=1, pool=self.cheap)
        if mode in ("overrides", "both"):
            for l in lines[: int(r.integers(2, 6))]:
                new = max(1, int(l["unit"] * r.uniform(0.05, 0.2)))
                self.emit(tt, "price_override", term, cashier, amount=l["unit"] - new)
                l["unit"] = new
                tt += 3000
        if mode == "subtle":
            for l in lines[: int(r.integers(1, 3))]:
                self.emit(tt, "line_void", term, cashier, amount=l["unit"] * l["qty"],
                          items=l["qty"])
                tt += 3000
            lines = lines[2:] or self.basket(n_lines=1)
            lines[0]["disc"] = int(lines[0]["unit"] * lines[0]["qty"] * 0.2)
        end, _ = self.checkout(day, tt, term, cashier, lines, label="sweethearting",
                               pay="cash" if r.random() < 0.8 else "card",
                               extra_line_voids=n_voids)
        return end

    def refund_fraud(self, t, term, cashier):
        r = self.rng
        if r.random() < 0.6 or not self.sales:
            lines = self.basket(n_lines=int(r.integers(1, 4)), pool=self.expensive)
            refund = sum(l["unit"] * l["qty"] for l in lines)
            self.emit(t + 60_000, "return", term, cashier, label="refund_fraud", amount=refund,
                      cash=refund, items=sum(l["qty"] for l in lines), no_receipt=True)
            return t + 90_000
        # An old cash receipt: often one of the cashier's own sales.
        recent = [s for s in self.sales[-4000:]
                  if s["cash"] == s["amount"] and s["amount"] > 500 and t - s["t"] < 3 * DAY_MS]
        own = [s for s in recent if s["cashier"] == cashier]
        pick = own if own and r.random() < 0.6 else recent
        if not pick:
            return t + 1000
        sale = pick[int(r.integers(len(pick)))]
        items = sum(l["qty"] for l in sale["lines"])
        self.emit(t + 60_000, "return", term, cashier, label="refund_fraud", sale=sale["id"],
                  amount=sale["amount"], cash=sale["amount"], items=items)
        return t + 90_000

    def card_testing(self, day, t, term, cashier):
        r = self.rng
        n = int(r.integers(8, 31))
        span = r.uniform(5, 15) * MIN_MS
        tt = t
        tokens = [self.fresh_token() for _ in range(max(2, n // int(r.integers(1, 4))))]
        for _ in range(n):
            tt += int(span / n * r.uniform(0.5, 1.5))
            token = tokens[int(r.integers(len(tokens)))]
            if r.random() < 0.75 or self.outage_at(day, tt):
                amount = int(r.integers(50, 500))
                self.emit(tt, "card_attempt", term, cashier, amount=amount, token=token,
                          card=True, declined=True)
            else:
                # A card that works: one item of at most 5.00, on a token
                # tried before or on a fresh one.
                lines = self.basket(n_lines=1, pool=self.small)
                lines[0]["qty"] = 1
                if r.random() < 0.5:
                    token = self.fresh_token()
                tt, _ = self.checkout(day, tt, term, cashier, lines, label="card_testing",
                                      pay="card", token=token)
        return tt

    def tick(self):
        self.n += 1
        return self.n

    # ---- a day ----

    def shifts(self):
        people = list(self.rng.permutation(CASHIERS))
        return {term: [(OPEN_H, SHIFT_SPLIT_H, people[2 * i]),
                       (SHIFT_SPLIT_H, CLOSE_H, people[2 * i + 1])]
                for i, term in enumerate(TERMINALS)}

    def run_day(self, d):
        r = self.rng
        base = EPOCH_MS + d * DAY_MS
        weekend = d % 7 >= 5
        shifts = self.shifts()
        day = {"queue": {t: [] for t in TERMINALS}, "heap": {}, "active": set()}
        if r.random() < 0.25:
            start = base + int(r.uniform(8, 19) * 3600e3)
            day["outage"] = (start, start + int(r.uniform(20, 120) * MIN_MS))
        tasks = {t: [] for t in TERMINALS}

        def at(h):
            return base + int(h * 3600e3)

        for term in TERMINALS:
            for h in range(OPEN_H, CLOSE_H):
                rate = HOUR_RATE[h - OPEN_H] * TERMINAL_LOAD[term] * (WEEKEND_FACTOR if weekend
                                                                     else 1.0)
                for _ in range(r.poisson(rate)):
                    tasks[term].append((at(h + r.random()), "customer", {}))
            for (h0, h1, cashier) in shifts[term]:
                span = h1 - h0
                for _ in range(r.poisson(0.8)):
                    tasks[term].append((at(h0 + r.random() * span), "no_sale", {}))
                for _ in range(r.poisson(0.15)):
                    tasks[term].append((at(h0 + r.random() * span), "return_no_receipt", {}))
                role = self.role_of.get(cashier)
                if role and r.random() < ACTIVE_SHIFT_P:
                    day["active"].add(cashier)
                    self.plan_fraud(role, tasks[term], lambda: at(h0 + 0.2 + r.random()
                                                                  * (span - 0.4)))
        # Card testing: some days, one burst at one terminal.
        if r.random() < 0.15:
            term = TERMINALS[int(r.integers(len(TERMINALS)))]
            tasks[term].append((at(r.uniform(10, 20)), "card_testing", {}))
        # Offline card abuse during an outage.
        if "outage" in day and r.random() < 0.5:
            o0, o1 = day["outage"]
            tokens = [self.fresh_token() for _ in range(int(r.integers(1, 3)))]
            for _ in range(int(r.integers(3, 9))):
                term = TERMINALS[int(r.integers(len(TERMINALS)))]
                tasks[term].append((int(r.uniform(o0, o1)), "offline_abuse",
                                    {"token": tokens[int(r.integers(len(tokens)))],
                                     "amount": int(r.integers(2500, 12000))}))
        # Returns with receipt that fall on this day.
        due = [x for x in self.pending_returns if base <= x[0] < base + DAY_MS]
        self.pending_returns = [x for x in self.pending_returns if x[0] >= base + DAY_MS]
        for (tr, sale) in due:
            h = (tr - base) / 3600e3
            if OPEN_H <= h < CLOSE_H - 0.2:
                tasks[TERMINALS[int(r.integers(len(TERMINALS)))]].append((tr, "return",
                                                                         {"sale": sale}))
        for term in TERMINALS:
            self.run_terminal(day, term, shifts[term], tasks[term], base)

    def plan_fraud(self, role, tasks, when):
        r = self.rng
        if role == "sweethearting":
            tasks += [(when(), "sweetheart", {}) for _ in range(1 + r.poisson(2))]
        elif role == "refund_fraud":
            tasks += [(when(), "refund_fraud", {}) for _ in range(1 + r.poisson(1))]
        elif role == "discount_abuse":
            tasks += [(when(), "discount_abuse", {}) for _ in range(1 + r.poisson(2))]
        elif role == "skimming":
            tasks += [(when(), "no_sale", {"label": "skimming"}) for _ in range(r.poisson(1.5))]

    def run_terminal(self, day, term, shifts, tasks, base):
        r = self.rng
        heap = [(t, self.tick(), k, p) for (t, k, p) in tasks]
        heapq.heapify(heap)
        day["heap"][term] = heap
        now = base + OPEN_H * 3600_000

        def cashier_at(t):
            h = (t - base) / 3600e3
            return shifts[0][2] if h < shifts[0][1] else shifts[1][2]

        while heap or day["queue"][term]:
            for item in day["queue"][term]:
                heapq.heappush(heap, (item[0], self.tick(), item[1], item[2]))
            day["queue"][term] = []
            if not heap:
                break
            t, _, kind, p = heapq.heappop(heap)
            start = max(t, now)
            cashier = cashier_at(start)
            now = self.do_task(day, start, term, cashier, kind, p) + int(r.uniform(5, 30) * 1000)
        # Drawer counts at the end of each shift.
        for (h0, h1, cashier) in shifts:
            t = base + h1 * 3600_000 + 600_000
            delta = 0
            if r.random() < 0.2:
                delta = int(r.normal(0, 150))
            if cashier in day["active"] and self.role_of.get(cashier) == "skimming" \
                    and r.random() < 0.5:
                delta -= int(r.uniform(2000, 15000))
            self.emit(t, "drawer_count", term, cashier, amount=delta)


def generate(seed, days, catalog_path, out_path):
    store = Store(seed, load_catalog(catalog_path))
    for d in range(days):
        store.run_day(d)
    store.events.sort(key=lambda e: (e[0], e[1]))
    with open(out_path, "w") as f:
        for _, _, ev in store.events:
            f.write(json.dumps(ev, separators=(",", ":")) + "\n")
    return store


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--catalog", default=os.path.join(here, "..", "..", "data", "demo",
                                                      "catalog.csv"))
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    store = generate(a.seed, a.days, a.catalog, a.out)
    print("seed %d: %d events, dishonest cashiers %s, labelled %s" % (
        a.seed, len(store.events), store.role_of, store.counts), file=sys.stderr)


if __name__ == "__main__":
    main()
