// kill -9 of kassad at the worst moments of the card path, then a restart
// on the same data directory (docs/PAYMENTS.md, "A crash anywhere leaves a
// row that says what is owed"):
//
//  1. between the authorisation and the sale's commit: the processor
//     answers slowly (slowMs) and kassad is killed at delays spread over
//     the whole card checkout. Afterwards every payment the processor saw
//     is captured exactly once if and only if its sale was recorded, and
//     reversed (never captured) otherwise; every answered sale survived.
//  2. during forwarding: a backlog of stored offline payments (processor
//     down), then the processor back and kassad killed mid-forwarding
//     again and again (inside a chunk of 64, and right after a chunk's
//     commit). Finally every stored payment is captured exactly once
//     (declining cards: declined, in the review list), nothing pending.
//
// KASSA_TEST_SCALE=asan: a third of the iterations and of the backlog (but
// at least 80 stored payments: more than one chunk).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import {
  APPROVING, ASAN, CARDS, PayWorld, approval, extraCards, kassa, paymentSeq, processorRequests, rng, scaled, sleep, waitFor,
} from './harness.mjs';

/** Counts the processor's POST /v1/payments log lines appended since the last mark. */
class RequestCounter {
  constructor(file) {
    this.file = file;
    this.offset = 0;
    this.partial = '';
    this.count = 0;
  }

  mark() {
    this.poll();
    this.count = 0;
  }

  poll() {
    let fd;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch {
      return this.count;
    }
    try {
      const size = fs.fstatSync(fd).size;
      if (size > this.offset) {
        const buf = Buffer.alloc(size - this.offset);
        fs.readSync(fd, buf, 0, buf.length, this.offset);
        this.offset = size;
        const text = this.partial + buf.toString('utf8');
        const lines = text.split('\n');
        this.partial = lines.pop();
        for (const l of lines) if (l.includes('"event":"request"') && l.includes('"path":"/v1/payments"') && l.includes('"method":"POST"')) this.count++;
      }
    } finally {
      fs.closeSync(fd);
    }
    return this.count;
  }
}

/** Runs fn(item) over items, `width` at a time. */
async function inBatches(items, width, fn) {
  const out = [];
  for (let i = 0; i < items.length; i += width) out.push(...await Promise.all(items.slice(i, i + width).map(fn)));
  return out;
}

describe('kill -9 between the authorisation and the commit', () => {
  const SLOW_MS = 300;
  const ITERATIONS = scaled(10, 4);
  let w;
  let till;
  before(async () => {
    w = await PayWorld.create('crash-auth', { sims: { slowMs: SLOW_MS } });
    till = await w.till({ payments: { processor_timeout_ms: 2000 } });
  });
  after(async () => {
    await w?.destroy();
  });

  test(`${ITERATIONS} kills at delays over 0..${SLOW_MS + 50} ms: each sale fully paid or not completed, nothing charged twice`, { timeout: 180000 }, () => w.guard(async () => {
    const answers = []; // {delay, status, payment_id, sale_id}
    for (let i = 0; i < ITERATIONS; i++) {
      const delay = Math.round((i * (SLOW_MS + 50)) / (ITERATIONS - 1));
      const cart = await till.cart([{ sku: i % 2 ? 'MLK-1L' : 'BAG-CL', qty: 1 + (i % 3) }]);
      const token = await till.token();
      // Straight fetch: the answer may never come.
      const pending = fetch(`${till.t.base}/api/v1/carts/${cart.cart_id}/checkout`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ tendered_minor: 0, card_minor: cart.total_minor }),
      }).then(async (r) => ({ status: r.status, json: await r.json().catch(() => null) }), (e) => ({ status: 0, error: e.message }));
      await sleep(delay);
      await till.kill9();
      const a = await pending;
      answers.push({
        delay,
        status: a.status,
        payment_id: a.json?.card?.payment_id ?? a.json?.error?.payment_id ?? null,
        sale_id: a.status === 201 ? a.json.sale_id : null,
        amount: cart.total_minor,
      });
      await till.start();
    }
    await till.waitSettled('the reversals and captures owed after the kills', 30000);
    const sales = await till.salesByPayment();
    const saleIds = new Set([...sales.values()].map((s) => s.sale_id));
    // Every answered sale survived the kill; every refused one sold nothing.
    for (const a of answers) {
      if (a.status === 201) assert.ok(saleIds.has(a.sale_id), `answered sale ${a.sale_id} (kill at ${a.delay} ms) is recorded`);
      if (a.status && a.status !== 201 && a.payment_id) assert.ok(!sales.has(a.payment_id), `refused payment ${a.payment_id} sold nothing`);
    }
    // Every payment the processor ever saw: captured once iff sold.
    const seen = [...new Set(processorRequests(w.sims).filter((r) => r.path === '/v1/payments' && r.method === 'POST').map((r) => r.payment_id))];
    const outcome = { captured: 0, reversed: 0, neverAtProcessor: 0 };
    for (const id of seen) {
      const p = await w.sims.payment(id);
      assert.equal(p.status, 200, id);
      const sale = sales.get(id);
      if (sale) {
        assert.equal(p.body.status, 'captured', `${id}: sale ${sale.sale_id} recorded, so captured (${JSON.stringify(p.body)})`);
        assert.equal(p.body.captures, 1, `${id} captured exactly once`);
        assert.equal(p.body.captured_minor, sale.card.amount_minor);
        outcome.captured++;
      } else {
        assert.equal(p.body.status, 'reversed', `${id}: no sale recorded, so the hold is released (${JSON.stringify(p.body)})`);
        assert.equal(p.body.captured_minor, 0, `${id}: not charged`);
        assert.equal(p.body.captures, 0);
        outcome.reversed++;
      }
    }
    for (const [id, sale] of sales) {
      if (!seen.includes(id)) {
        assert.fail(`sale ${sale.sale_id} recorded a card payment ${id} the processor never authorised`);
      }
    }
    outcome.neverAtProcessor = answers.length - outcome.captured - outcome.reversed;
    const l = await w.sims.ledger();
    assert.equal(l.double_captures, 0);
    assert.equal(l.captured_minor, [...sales.values()].reduce((a, s) => a + s.card.amount_minor, 0), 'the processor charged exactly the recorded card sales');
    const pend = await till.pending();
    assert.deepEqual(pend.payments, []);
    process.stderr.write(`crash-auth: ${JSON.stringify(outcome)}; answers ${answers.map((a) => `${a.delay}ms:${a.status}`).join(' ')}\n`);
    // The kills did land in the window this test is about.
    assert.ok(outcome.reversed >= 1, `at least one kill between the approval and the commit (${JSON.stringify(outcome)})`);
  }));
});

describe('kill -9 during forwarding of a backlog', () => {
  // At least 16 rows after the first chunk: the kill just after a chunk's
  // commit needs the next pass to still be running.
  const BACKLOG = scaled(200, 80);
  const KILLS_IN_CHUNK = ASAN ? 5 : 6;
  const CHUNK = 64;
  let w;
  let till;
  before(async () => {
    w = await PayWorld.create('crash-forward', { sims: { slowMs: 10 } });
    await w.sims.stopProcessor();
    till = await w.till({
      payments: { offline_max_pending_minor: 1000000000, offline_max_per_card: 1000, offline_max_amount_minor: 1000000, forward_retry_min_ms: 50, forward_retry_max_ms: 200 },
    });
  });
  after(async () => {
    await w?.destroy();
  });

  test(`a backlog of ${BACKLOG} stored payments, ${KILLS_IN_CHUNK + 1} kills mid-forwarding: each captured exactly once`, { timeout: 240000 }, () => w.guard(async () => {
    const cards = [...APPROVING, ...extraCards(4), CARDS.insufficientFunds, CARDS.stolen];
    const declining = new Set([CARDS.insufficientFunds, CARDS.stolen]);
    const backlog = []; // {payment_id, sale_id, amount, card}
    const skus = ['BAG-CL', 'MLK-1L', 'PST-500', 'CRS-BT', 'APL-1K'];
    for (let i = 0; i < BACKLOG; i++) {
      const card = cards[i % cards.length];
      const { sale } = await till.cardSale([{ sku: skus[i % skus.length], qty: 1 + (i % 4) }], { card, expect: 201 });
      assert.equal(sale.card.mode, 'offline');
      backlog.push({ payment_id: sale.card.payment_id, sale_id: sale.sale_id, amount: sale.card.amount_minor, card });
    }
    let ps = await till.payStatus();
    assert.equal(ps.pending_count, BACKLOG);
    const cliPending = async () => JSON.parse(await kassa(till.dataDir, '--json', 'payments', 'pending')).pending_count;

    await w.sims.startProcessor();
    const counter = new RequestCounter(w.sims.processorLog);
    const pick = rng(42);
    const kills = [];
    // Kills inside the first chunk of a pass (nothing of it committed yet),
    // then one just after a chunk's commit.
    const triggers = [];
    for (let i = 0; i < KILLS_IN_CHUNK; i++) triggers.push(1 + pick(CHUNK - 2));
    triggers.push(CHUNK + 1 + pick(8));
    counter.mark();
    for (const k of triggers) {
      const before = await cliPending().catch(() => null);
      await waitFor(`the processor to receive ${k} forwarded payments`, () => counter.poll() >= k, { timeoutMs: 30000, intervalMs: 2 });
      await till.kill9();
      const left = await cliPending();
      kills.push({ trigger: k, sent: counter.count, pendingAfter: left });
      assert.ok(left > 0, `killed mid-forwarding (${left} still stored after ${counter.count} sends)`);
      counter.mark();
      await till.start();
      void before;
    }
    const { status, stuck } = await till.settle({ graceMs: 15000, timeoutMs: 30000 });
    ps = status;
    assert.equal(ps.pending_count, 0);
    assert.equal(ps.due_count, 0);
    assert.deepEqual(stuck, [], 'forwarded by itself after the last restart');
    process.stderr.write(`crash-forward: backlog ${BACKLOG}; kills ${JSON.stringify(kills)}\n`);
    // One kill after a chunk's commit: the backlog shrank by a chunk.
    const partial = kills[kills.length - 1];
    assert.ok(partial.pendingAfter <= BACKLOG - CHUNK, `a chunk's answers committed before the last kill (${partial.pendingAfter} left)`);
    for (const k of kills.slice(0, -1)) assert.equal(k.pendingAfter, BACKLOG, 'nothing of a chunk committed before its end');

    // Every stored payment at the processor exactly once.
    const results = await inBatches(backlog, 20, async (b) => ({ b, p: await w.sims.payment(b.payment_id) }));
    let approved = 0;
    let approvedMinor = 0;
    for (const { b, p } of results) {
      assert.equal(p.status, 200, `${b.payment_id} reached the processor`);
      assert.equal(p.body.mode, 'offline');
      if (declining.has(b.card)) {
        assert.equal(p.body.status, 'declined', b.payment_id);
        assert.equal(p.body.captures, 0, b.payment_id);
      } else {
        assert.equal(p.body.status, 'captured', b.payment_id);
        assert.equal(p.body.captures, 1, `${b.payment_id} captured exactly once`);
        assert.equal(p.body.captured_minor, b.amount);
        approved++;
        approvedMinor += b.amount;
      }
    }
    const l = await w.sims.ledger();
    assert.equal(l.double_captures, 0);
    assert.equal(l.captures, approved);
    assert.equal(l.captured_minor, approvedMinor);
    // The kills made the forwarder send some payments again: answered from
    // the processor's record.
    const sends = processorRequests(w.sims).filter((r) => r.path === '/v1/payments' && r.method === 'POST');
    assert.ok(sends.length > BACKLOG, `re-sends after the kills (${sends.length} sends for ${BACKLOG} payments)`);
    // In order within each pass: the first sends are by increasing number.
    const firstSeen = [];
    const seenIds = new Set();
    for (const r of sends) if (!seenIds.has(r.payment_id)) { seenIds.add(r.payment_id); firstSeen.push(paymentSeq(r.payment_id)); }
    assert.deepEqual(firstSeen, [...firstSeen].sort((a, b) => a - b), 'first sent in creation order');
    // The review list: exactly the declining cards' payments.
    const review = await till.review();
    assert.deepEqual(review.map((r) => r.payment_id).sort(), backlog.filter((b) => declining.has(b.card)).map((b) => b.payment_id).sort());
    for (const r of review) assert.equal(r.outcome, 'declined');
    assert.equal(ps.review_count, review.length);
    // And the sales say so.
    const sales = await till.salesByPayment();
    for (const b of backlog) {
      assert.equal(sales.get(b.payment_id)?.card.status, declining.has(b.card) ? 'declined' : 'approved', b.payment_id);
    }
    // A manager resolves one of them.
    const one = review[0];
    await till.api('POST', `/api/v1/payments/review/${encodeURIComponent(one.payment_id)}/resolve`, {
      token: await till.token(), body: { manager: approval('max'), note: 'written off' }, expect: 200,
    });
    assert.equal((await till.review()).length, review.length - 1);
  }));
});
