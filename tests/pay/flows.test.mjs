// Card payment flows of kassad against the two simulators (docs/PAYMENTS.md),
// real processes on loopback:
//
//  - online: every approving test card, split tender, card refunds by void
//    and by partial return, declines (processor and terminal), reader
//    failures (timeout, disconnect, card removed, no answer, not running),
//    a second checkout and cart changes while a card payment runs;
//  - offline: the processor stopped, each offline limit and the manager's
//    override (audited), forwarding when the processor is back (by itself
//    and by POST /payments/forward), in order, the review list and its
//    resolution;
//  - processor faults (500, garbage, hanging) and the "network timeout"
//    card: offline within the limits, charged exactly once afterwards;
//  - expiry of a stored payment older than offline_max_age_s (2 s here, in
//    real time: no fake clock).
//
// Bugs these tests show (they fail until fixed):
//  - an offline payment approved when forwarded keeps auth_code "" in the
//    sale (kd_json_card, src/kassad/h_sale.c, answers the tender's code,
//    not the outcome's);
//  - a return on another terminal before the sale's capture reached the
//    processor: the refund is declined "not_captured" for good (only a 404
//    is retried, on_fwd_answer in src/kassad/pay.c) and the customer keeps
//    paying in full;
//  - docs/api/openapi.yaml does not list the 409 that adding, changing or
//    removing a line and abandoning the cart answer during a card payment.
// And one fixed in 807c327, kept as a regression test: a refund made due
// while the forwarder was sending stayed due (a kick during a pass was
// dropped).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { operationOf } from '../api/harness.mjs';
import { fullMesh, waitConverged } from '../peer/harness.mjs';
import {
  APPROVING, BRAND, CARDS, PAST_EXPIRY, PayWorld, Till, approval, paymentSeq, processorRequests, sleep, waitFor,
} from './harness.mjs';

// ---------------------------------------------------------------------------

describe('online', () => {
  let w;
  let till;
  before(async () => {
    w = await PayWorld.create('online');
    till = await w.till({ payments: { reader_timeout_ms: 1000 } });
  });
  after(async () => {
    await w?.destroy();
  });

  const drawerCash = async () => (await till.drawer()).cash_minor;

  test('each approving test card is approved online and captured exactly once', () => w.guard(async () => {
    const cash0 = await drawerCash();
    const sales = [];
    for (const card of APPROVING) {
      const { cart, sale } = await till.cardSale([{ sku: 'COF-1K', qty: 1 }, { sku: 'BAG-CL', qty: 2 }], { card, expect: 201 });
      assert.equal(sale.total_minor, cart.total_minor);
      const c = sale.card;
      assert.equal(c.mode, 'online', card);
      assert.equal(c.status, 'approved', card);
      assert.equal(c.brand, BRAND[card], card);
      assert.equal(c.last4, card.slice(-4), card);
      assert.equal(c.amount_minor, cart.total_minor, card);
      assert.equal(c.exp_month, 12);
      assert.equal(c.exp_year, 2039);
      assert.match(c.auth_code, /^[A-Z0-9]{6}$/, card);
      assert.equal(sale.cash_due_minor, 0);
      assert.equal(sale.change_minor, 0);
      assert.ok(!JSON.stringify(sale).includes(card), 'the sale does not carry the card number');
      // The stored sale answers the same card tender.
      assert.deepEqual((await till.sale(sale.sale_id)).card, c);
      sales.push(sale);
    }
    assert.equal(new Set(sales.map((s) => s.card.payment_id)).size, sales.length, 'one payment id each');
    const ps = await till.waitSettled('the captures forwarded');
    assert.equal(ps.processor, 'online');
    assert.equal(ps.pending_count, 0);
    for (const s of sales) {
      const p = await w.sims.payment(s.card.payment_id);
      assert.equal(p.status, 200, s.card.payment_id);
      assert.equal(p.body.status, 'captured', s.card.payment_id);
      assert.equal(p.body.captures, 1, s.card.payment_id);
      assert.equal(p.body.captured_minor, s.total_minor);
      assert.equal(p.body.mode, 'online');
    }
    const l = await w.sims.ledger();
    assert.equal(l.captures, sales.length);
    assert.equal(l.captured_minor, sales.reduce((a, s) => a + s.total_minor, 0));
    assert.equal(l.double_captures, 0);
    assert.equal(await drawerCash(), cash0, 'card sales put no cash in the drawer');
  }));

  test('split tender: the card pays its part, the drawer gets only the cash, change is right', () => w.guard(async () => {
    const cash0 = await drawerCash();
    const ledger0 = await w.sims.ledger();
    const cart = await till.cart([{ sku: 'COF-1K', qty: 2 }, { sku: 'MLK-1L', qty: 1 }]);
    const total = cart.total_minor;
    const card = 2000;
    const cashDue = total - card;
    // Refused before any card is asked for: card above the total, cash short.
    const tooMuch = await till.checkout(cart.cart_id, { tendered_minor: 0, card_minor: total + 1 });
    assert.equal(tooMuch.status, 409, tooMuch.text);
    const short = await till.checkout(cart.cart_id, { tendered_minor: cashDue - 1, card_minor: card });
    assert.equal(short.status, 409, short.text);
    w.sims.present(CARDS.mastercard);
    const res = await till.checkout(cart.cart_id, { tendered_minor: cashDue + 101, card_minor: card }, { expect: 201 });
    const sale = res.json;
    assert.equal(sale.total_minor, total);
    assert.equal(sale.card.amount_minor, card);
    assert.equal(sale.card.last4, '4444');
    assert.equal(sale.cash_due_minor, cashDue);
    assert.equal(sale.tendered_minor, cashDue + 101);
    assert.equal(sale.change_minor, 101);
    assert.equal(await drawerCash(), cash0 + cashDue, 'the drawer takes the cash due only');
    await till.waitSettled();
    const p = await w.sims.payment(sale.card.payment_id);
    assert.equal(p.body.captured_minor, card);
    assert.equal(p.body.captures, 1);
    const l = await w.sims.ledger();
    assert.equal(l.captured_minor - ledger0.captured_minor, card, 'only the card part is charged');
    assert.equal(l.payments - ledger0.payments, 1, 'the refused checkouts never reached the processor');
  }));

  test('a void refunds the card part to the card and the cash part from the drawer', () => w.guard(async () => {
    const ledger0 = await w.sims.ledger();
    const cart = await till.cart([{ sku: 'MUG-KS', qty: 1 }, { sku: 'PST-500', qty: 3 }]);
    const card = 1000;
    const cashDue = cart.total_minor - card;
    w.sims.present(CARDS.visa);
    const sale = (await till.checkout(cart.cart_id, { tendered_minor: cashDue, card_minor: card }, { expect: 201 })).json;
    const cashAfterSale = await drawerCash();
    // Voided at once: the capture and the refund are forwarded in that order.
    const v = await till.api('POST', `/api/v1/sales/${sale.sale_id}/void`, {
      token: await till.token('ann'), body: { supervisor: approval('sue'), reason: 'customer changed mind' }, expect: 200,
    });
    assert.equal(v.json.refund_minor, cart.total_minor);
    assert.equal(v.json.refund_card_minor, card);
    assert.equal(v.json.refund_cash_minor, cashDue);
    assert.equal(v.json.card_last4, '1111');
    assert.match(v.json.card_refund_id, /^T1\..+\.P\d+$/);
    assert.equal(await drawerCash(), cashAfterSale - cashDue, 'the cash part leaves the drawer');
    await till.waitSettled('the capture and the refund forwarded');
    const pend = await till.pending();
    assert.deepEqual(pend.payments, [], 'nothing waits once forwarded');
    const p = await w.sims.payment(sale.card.payment_id);
    assert.equal(p.body.status, 'captured');
    assert.equal(p.body.captured_minor, card);
    assert.equal(p.body.refunded_minor, card);
    assert.equal(p.body.captures, 1);
    const l = await w.sims.ledger();
    assert.equal(l.refunded_minor - ledger0.refunded_minor, card);
    assert.equal(l.refunds - ledger0.refunds, 1);
    const after = await till.sale(sale.sale_id);
    assert.equal(after.voided, true);
    assert.equal(after.card.refunded_minor, card);
    // A second void is refused and refunds nothing more.
    const again = await till.api('POST', `/api/v1/sales/${sale.sale_id}/void`, {
      token: await till.token('ann'), body: { supervisor: approval('sue') },
    });
    assert.equal(again.status, 409, again.text);
    await sleep(300);
    assert.equal((await w.sims.ledger()).refunds - ledger0.refunds, 1);
  }));

  test('a partial return refunds to the card first, then in cash', () => w.guard(async () => {
    const ledger0 = await w.sims.ledger();
    const cart = await till.cart([{ sku: 'COF-1K', qty: 1 }, { sku: 'MUG-KS', qty: 1 }, { sku: 'BAG-CL', qty: 1 }]);
    const card = 2500;
    const cashDue = cart.total_minor - card;
    w.sims.present(CARDS.amex);
    const sale = (await till.checkout(cart.cart_id, { tendered_minor: cashDue, card_minor: card }, { expect: 201 })).json;
    const lineTotal = Object.fromEntries(sale.lines.map((l) => [l.sku, l.total_minor]));
    const ret = async (sku) => (await till.api('POST', `/api/v1/sales/${sale.sale_id}/returns`, {
      token: await till.token('ann'), body: { lines: [{ sku, qty: 1 }], supervisor: approval('sue'), reason: 'return' }, expect: 201,
    })).json;
    let cash = await drawerCash();
    // 1: the mug, all of it on the card.
    const r1 = await ret('MUG-KS');
    assert.equal(r1.refund_minor, lineTotal['MUG-KS']);
    assert.equal(r1.refund_card_minor, lineTotal['MUG-KS']);
    assert.equal(r1.refund_cash_minor, 0);
    assert.notEqual(r1.card_refund_id, '');
    assert.equal(await drawerCash(), cash);
    // 2: the coffee: what the card has left, the rest in cash.
    const cardLeft = card - lineTotal['MUG-KS'];
    const r2 = await ret('COF-1K');
    assert.equal(r2.refund_card_minor, cardLeft);
    assert.equal(r2.refund_cash_minor, lineTotal['COF-1K'] - cardLeft);
    assert.notEqual(r2.card_refund_id, r1.card_refund_id);
    assert.equal(await drawerCash(), cash - r2.refund_cash_minor);
    cash = await drawerCash();
    // 3: the bag: the card is fully refunded, so cash only.
    const r3 = await ret('BAG-CL');
    assert.equal(r3.refund_card_minor, 0);
    assert.equal(r3.card_refund_id, '');
    assert.equal(r3.refund_cash_minor, lineTotal['BAG-CL']);
    assert.equal(await drawerCash(), cash - lineTotal['BAG-CL']);
    // Forwarded by itself: the second refund was made due while the
    // first was being sent.
    // (A row left due by the lost wake-up of the forwarder, which the
    // "forwarder wake-ups" test shows, is sent by POST /payments/forward.)
    const { stuck } = await till.settle({ graceMs: 3000 });
    if (stuck.length) process.stderr.write(`partial return: forwarded only after POST /payments/forward: ${JSON.stringify(stuck)}\n`);
    assert.deepEqual((await till.pending()).payments, []);
    const p = await w.sims.payment(sale.card.payment_id);
    assert.equal(p.body.refunded_minor, card, 'the card got back exactly what it paid');
    assert.equal(p.body.captures, 1);
    const l = await w.sims.ledger();
    assert.equal(l.refunds - ledger0.refunds, 2);
    assert.equal(l.refunded_minor - ledger0.refunded_minor, card);
    const after = await till.sale(sale.sale_id);
    assert.equal(after.refunded_minor, cart.total_minor);
    assert.equal(after.card.refunded_minor, card);
  }));

  test('declines: by the processor, expired at the terminal, unreadable at the reader; the cart stays usable', () => w.guard(async () => {
    const ledger0 = await w.sims.ledger();
    const sales0 = (await till.saleSummaries()).length;
    const cash0 = await drawerCash();
    const cases = [
      { card: CARDS.insufficientFunds, status: 402, reason: 'insufficient_funds', atProcessor: true },
      { card: CARDS.stolen, status: 402, reason: 'stolen_card', atProcessor: true },
      { card: CARDS.expiredByProcessor, status: 402, reason: 'expired_card', atProcessor: true },
      { card: CARDS.visa, expiry: PAST_EXPIRY, status: 402, reason: 'expired_card', atProcessor: false },
      { card: CARDS.badCheckDigit, status: 502, reason: 'unreadable', atProcessor: false },
    ];
    for (const c of cases) {
      const { cart, res } = await till.cardSale([{ sku: 'CRS-BT', qty: 2 }], { card: c.card, expiry: c.expiry });
      const what = `${c.card} ${c.expiry ?? ''}`;
      assert.equal(res.status, c.status, `${what}: ${res.text}`);
      assert.equal(res.json.error.code, c.status === 402 ? 'payment_declined' : 'payment_error', what);
      assert.equal(res.json.error.reason, c.reason, what);
      assert.equal(res.json.error.override_possible, undefined, `${what}: no override for a decline`);
      const id = res.json.error.payment_id;
      assert.match(id, /^T1\./, what);
      const p = await w.sims.payment(id);
      if (c.atProcessor) {
        assert.equal(p.status, 200, what);
        assert.equal(p.body.status, 'declined', what);
        assert.equal(p.body.captured_minor, 0, what);
      } else {
        assert.equal(p.status, 404, `${what}: never sent to the processor`);
      }
      // The cart is still there and can be paid another way.
      const got = await till.api('GET', `/api/v1/carts/${cart.cart_id}`, { token: await till.token(), expect: 200 });
      assert.equal(got.json.total_minor, cart.total_minor);
      await till.checkout(cart.cart_id, { tendered_minor: cart.total_minor }, { expect: 201 });
    }
    assert.equal((await till.saleSummaries()).length, sales0 + cases.length, 'only the cash sales');
    const l = await w.sims.ledger();
    assert.equal(l.captures, ledger0.captures, 'nothing captured');
    assert.equal(l.payments - ledger0.payments, 3, 'the processor saw only its three declines');
    assert.ok((await drawerCash()) > cash0);
    const ps = await till.waitSettled();
    assert.equal(ps.pending_count, 0);
    assert.equal(ps.review_count, 0, 'online declines are not review items');
  }));

  test('reader failures: timeout, disconnect, card removed, no answer at all: 502, nothing charged', () => w.guard(async () => {
    const ledger0 = await w.sims.ledger();
    const cases = [
      { present: { behaviour: 'timeout' }, reason: 'timeout' },
      { present: { behaviour: 'disconnect' }, reason: 'reader_disconnected' },
      { present: { behaviour: 'remove' }, reason: 'cancelled' },
    ];
    for (const c of cases) {
      const cart = await till.cart([{ sku: 'APL-1K', qty: 1 }]);
      w.sims.present(c.present);
      const t0 = Date.now();
      const res = await till.checkout(cart.cart_id, { tendered_minor: 0, card_minor: cart.total_minor });
      assert.equal(res.status, 502, `${c.reason}: ${res.text}`);
      assert.equal(res.json.error.code, 'payment_error');
      assert.equal(res.json.error.reason, c.reason);
      if (c.reason === 'timeout') assert.ok(Date.now() - t0 >= 900, 'the reader waited reader_timeout_ms');
      assert.equal((await w.sims.payment(res.json.error.payment_id)).status, 404);
      // The cart is usable: the next tap (the default card) pays it.
      const ok = await till.checkout(cart.cart_id, { tendered_minor: 0, card_minor: cart.total_minor }, { expect: 201 });
      assert.equal(ok.json.card.last4, '1111');
    }
    // A reader that does not answer at all (stopped): kassad's own timeout.
    const pid = w.sims.reader.child.pid;
    const cart = await till.cart([{ sku: 'APL-1K', qty: 1 }]);
    process.kill(pid, 'SIGSTOP');
    let res;
    try {
      res = await till.checkout(cart.cart_id, { tendered_minor: 0, card_minor: cart.total_minor });
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    assert.equal(res.status, 502, res.text);
    assert.equal(res.json.error.reason, 'reader_timeout');
    await sleep(100);
    await till.checkout(cart.cart_id, { tendered_minor: 0, card_minor: cart.total_minor }, { expect: 201 });
    await till.waitSettled();
    const l = await w.sims.ledger();
    assert.equal(l.captures - ledger0.captures, 4, 'only the four successful retries were charged');
    assert.equal(l.double_captures, 0);
  }));

  test('the reader not running: 502, the cart still usable, card payments work once it is back', () => w.guard(async () => {
    await w.sims.stopReader();
    try {
      const cart = await till.cart([{ sku: 'BAG-CL', qty: 1 }]);
      const res = await till.checkout(cart.cart_id, { tendered_minor: 0, card_minor: cart.total_minor });
      assert.equal(res.status, 502, res.text);
      assert.equal(res.json.error.code, 'payment_error');
      assert.equal(res.json.error.reason, 'reader_unavailable');
      assert.equal((await w.sims.payment(res.json.error.payment_id)).status, 404);
      const token = await till.token();
      const c2 = (await till.api('POST', `/api/v1/carts/${cart.cart_id}/lines`, { token, body: { sku: 'MLK-1L', qty: 1 }, expect: 200 })).json;
      assert.equal(c2.lines.length, 2);
      const sale = (await till.checkout(cart.cart_id, { tendered_minor: c2.total_minor }, { expect: 201 })).json;
      assert.equal(sale.card, null);
      const ps = await till.payStatus();
      assert.equal(ps.due_count, 0, 'nothing owed for a read that never happened');
    } finally {
      await w.sims.startReader();
    }
    const { sale } = await till.cardSale([{ sku: 'BAG-CL', qty: 1 }], { card: CARDS.visa2, expect: 201 });
    assert.equal(sale.card.last4, '4242');
  }));

  test('while a card payment runs: a second checkout of the cart is 409, the cart cannot change', () => w.guard(async () => {
    const token = await till.token();
    const cart = await till.cart([{ sku: 'BAG-CL', qty: 1 }, { sku: 'MLK-1L', qty: 1 }]);
    w.sims.present({ behaviour: 'timeout' }); // the read waits reader_timeout_ms (1 s)
    const first = till.checkout(cart.cart_id, { tendered_minor: 0, card_minor: cart.total_minor });
    await sleep(150);
    const id = cart.cart_id;
    const second = await till.checkout(id, { tendered_minor: 0, card_minor: cart.total_minor });
    assert.equal(second.status, 409, second.text);
    const cashToo = await till.checkout(id, { tendered_minor: cart.total_minor });
    assert.equal(cashToo.status, 409, cashToo.text);
    // Not through the contract check: the document does not list these
    // 409s (the next test).
    const add = await till.raw('POST', `/api/v1/carts/${id}/lines`, { token, body: { sku: 'CRS-BT', qty: 1 } });
    assert.equal(add.status, 409, add.text);
    const patch = await till.raw('PATCH', `/api/v1/carts/${id}/lines/BAG-CL`, { token, body: { qty: 5 } });
    assert.equal(patch.status, 409, patch.text);
    const del = await till.raw('DELETE', `/api/v1/carts/${id}/lines/MLK-1L`, { token });
    assert.equal(del.status, 409, del.text);
    const drop = await till.raw('DELETE', `/api/v1/carts/${id}`, { token });
    assert.equal(drop.status, 409, drop.text);
    for (const r of [add, patch, del, drop]) assert.equal(r.json?.error?.code, 'conflict');
    const res = await first;
    assert.equal(res.status, 502, res.text);
    assert.equal(res.json.error.reason, 'timeout');
    const got = (await till.api('GET', `/api/v1/carts/${id}`, { token, expect: 200 })).json;
    assert.deepEqual(got.lines.map((l) => [l.sku, l.qty]), [['BAG-CL', 1], ['MLK-1L', 1]], 'the cart is what it was');
    await till.api('POST', `/api/v1/carts/${id}/lines`, { token, body: { sku: 'CRS-BT', qty: 1 }, expect: 200 });
  }));

  test('the API document lists the 409 of a cart change during a card payment', () => {
    const missing = [
      ['POST', '/api/v1/carts/x/lines'], ['PATCH', '/api/v1/carts/x/lines/BAG-CL'],
      ['DELETE', '/api/v1/carts/x/lines/BAG-CL'], ['DELETE', '/api/v1/carts/x'],
    ].filter(([m, p]) => !operationOf(m, p).op.responses['409']).map(([m, p]) => `${m} ${operationOf(m, p).template}`);
    assert.deepEqual(missing, [], 'BUG (docs/api/openapi.yaml): kassad answers 409 "a card payment for this cart is in progress" ' +
      '(find_idle_cart, src/kassad/h_cart.c) but these operations do not document a 409');
  });
});

// ---------------------------------------------------------------------------

describe('offline: store-and-forward with limits', () => {
  let w;
  let till;
  const LIMITS = { offline_max_amount_minor: 5000, offline_max_pending_minor: 12000, offline_max_per_card: 2 };
  const stored = []; // {sale, card}
  before(async () => {
    w = await PayWorld.create('offline');
    await w.sims.stopProcessor();
    till = await w.till({ payments: LIMITS });
  });
  after(async () => {
    await w?.destroy();
  });

  const pendingOf = async () => {
    const p = await till.pending();
    return { count: p.pending_count, amount: p.pending_amount_minor, list: p.payments };
  };

  test('processor stopped: the card sale is accepted offline and waits', () => w.guard(async () => {
    const cash0 = (await till.drawer()).cash_minor;
    const before = Date.now();
    const { sale, cart } = await till.cardSale([{ sku: 'COF-1K', qty: 1 }, { sku: 'BAG-CL', qty: 1 }], { card: CARDS.visa, expect: 201 });
    assert.equal(sale.card.mode, 'offline');
    assert.equal(sale.card.status, 'stored');
    assert.equal(sale.card.auth_code, '');
    assert.equal(sale.card.amount_minor, cart.total_minor);
    stored.push({ sale, card: CARDS.visa });
    const ps = await till.payStatus();
    assert.equal(ps.processor, 'offline');
    assert.equal(ps.pending_count, 1);
    assert.equal(ps.pending_amount_minor, cart.total_minor);
    assert.ok(ps.oldest_pending_ms >= before - 1000 && ps.oldest_pending_ms <= Date.now() + 1000, `oldest_pending_ms ${ps.oldest_pending_ms}`);
    const p = await pendingOf();
    assert.equal(p.list.length, 1);
    assert.equal(p.list[0].payment_id, sale.card.payment_id);
    assert.equal(p.list[0].step, 'stored');
    assert.equal(p.list[0].kind, 'payment');
    assert.equal(p.list[0].last4, '1111');
    assert.equal(p.list[0].brand, 'visa');
    assert.equal(p.list[0].amount_minor, cart.total_minor);
    assert.equal((await till.drawer()).cash_minor, cash0);
    // A card that will be declined is stored too: nobody can know yet.
    const s2 = await till.cardSale([{ sku: 'MLK-1L', qty: 1 }], { card: CARDS.insufficientFunds, expect: 201 });
    assert.equal(s2.sale.card.mode, 'offline');
    stored.push({ sale: s2.sale, card: CARDS.insufficientFunds });
  }));

  test('above the per-payment limit: 402 offline_limit; a manager allows it (audited); others may not', () => w.guard(async () => {
    const before = await pendingOf();
    const lines = [{ sku: 'COF-1K', qty: 3 }]; // 56.70 > 50.00
    const { cart, res } = await till.cardSale(lines, { card: CARDS.visa2 });
    assert.ok(cart.total_minor > LIMITS.offline_max_amount_minor);
    assert.equal(res.status, 402, res.text);
    assert.equal(res.json.error.code, 'payment_declined');
    assert.equal(res.json.error.reason, 'offline_limit');
    assert.equal(res.json.error.override_possible, true);
    assert.deepEqual(await pendingOf().then((p) => [p.count, p.amount]), [before.count, before.amount]);
    const body = { tendered_minor: 0, card_minor: cart.total_minor };
    // Refused before a card is asked for.
    const bySup = await till.checkout(cart.cart_id, { ...body, manager: approval('sue') });
    assert.equal(bySup.status, 403, bySup.text);
    const byCashier = await till.checkout(cart.cart_id, { ...body, manager: approval('bob') });
    assert.equal(byCashier.status, 403, byCashier.text);
    const wrongPin = await till.checkout(cart.cart_id, { ...body, manager: { id: 'max', pin: '0000' } });
    assert.equal(wrongPin.status, 401, wrongPin.text);
    w.sims.present(CARDS.visa2);
    const ok = await till.checkout(cart.cart_id, { ...body, manager: approval('max') }, { expect: 201 });
    assert.equal(ok.json.card.mode, 'offline');
    stored.push({ sale: ok.json, card: CARDS.visa2 });
    const audit = await till.audit();
    const entry = audit.find((e) => e.action === 'saf_override' && e.subject === ok.json.card.payment_id);
    assert.ok(entry, `an saf_override audit entry for ${ok.json.card.payment_id}: ${JSON.stringify(audit)}`);
    assert.equal(entry.supervisor, 'max');
    assert.equal(entry.cashier, 'ann');
    assert.match(entry.detail, /offline limit/);
    assert.equal(audit.filter((e) => e.action === 'saf_override').length, 1, 'only the allowed checkout is audited');
    const after = await pendingOf();
    assert.equal(after.count, before.count + 1);
    assert.equal(after.amount, before.amount + cart.total_minor);
  }));

  test('the per-card limit: a third stored payment on one card needs a manager', () => w.guard(async () => {
    // visa2 has one stored payment (the override above).
    const s = await till.cardSale([{ sku: 'BAG-CL', qty: 1 }], { card: CARDS.visa2, expect: 201 });
    stored.push({ sale: s.sale, card: CARDS.visa2 });
    const { res } = await till.cardSale([{ sku: 'BAG-CL', qty: 1 }], { card: CARDS.visa2 });
    assert.equal(res.status, 402, res.text);
    assert.equal(res.json.error.reason, 'offline_limit');
    assert.equal(res.json.error.override_possible, true);
    assert.match(res.json.error.message, /2 stored offline payments/);
    // Another card is fine.
    const s2 = await till.cardSale([{ sku: 'BAG-CL', qty: 1 }], { card: CARDS.amex, expect: 201 });
    stored.push({ sale: s2.sale, card: CARDS.amex });
  }));

  test('the total pending limit', () => w.guard(async () => {
    const before = await pendingOf();
    const room = LIMITS.offline_max_pending_minor - before.amount;
    assert.ok(room > 0 && room < LIMITS.offline_max_amount_minor, `room ${room}`);
    // Within the per-payment limit, over what is left of the total.
    const unit = (await till.cart([{ sku: 'MUG-KS', qty: 1 }])).total_minor;
    const over = await till.cardSale([{ sku: 'MUG-KS', qty: Math.floor(room / unit) + 1 }], { card: CARDS.mastercard });
    assert.ok(over.cart.total_minor > room && over.cart.total_minor <= LIMITS.offline_max_amount_minor);
    assert.equal(over.res.status, 402, over.res.text);
    assert.equal(over.res.json.error.reason, 'offline_limit');
    assert.equal(over.res.json.error.override_possible, true);
    assert.match(over.res.json.error.message, /would exceed/);
    // What fits goes through.
    const fits = await till.cardSale([{ sku: 'MLK-1L', qty: 1 }], { card: CARDS.mastercard, expect: 201 });
    stored.push({ sale: fits.sale, card: CARDS.mastercard });
    const after = await pendingOf();
    assert.equal(after.amount, before.amount + fits.cart.total_minor);
    assert.ok(after.amount <= LIMITS.offline_max_pending_minor);
  }));

  test('an expired card is refused offline too, even with a manager', () => w.guard(async () => {
    const before = await pendingOf();
    const a = await till.cardSale([{ sku: 'BAG-CL', qty: 1 }], { card: CARDS.visa, expiry: PAST_EXPIRY });
    assert.equal(a.res.status, 402, a.res.text);
    assert.equal(a.res.json.error.reason, 'expired_card');
    assert.equal(a.res.json.error.override_possible, undefined);
    const b = await till.cardSale([{ sku: 'BAG-CL', qty: 1 }], { card: CARDS.amex, expiry: PAST_EXPIRY, manager: approval('max') });
    assert.equal(b.res.status, 402, b.res.text);
    assert.equal(b.res.json.error.reason, 'expired_card');
    assert.deepEqual(await pendingOf().then((p) => [p.count, p.amount]), [before.count, before.amount]);
  }));

  test('processor back: forwarded by itself, in order; each stored payment approved or declined', () => w.guard(async () => {
    const before = await pendingOf();
    assert.equal(before.count, stored.length);
    await w.sims.startProcessor();
    const ps = await till.waitSettled('the stored payments forwarded by the retry timer', 10000);
    assert.equal(ps.pending_count, 0);
    assert.equal(ps.pending_amount_minor, 0);
    assert.equal(ps.processor, 'online');
    assert.equal(ps.review_count, 1);
    for (const { sale, card } of stored) {
      const p = await w.sims.payment(sale.card.payment_id);
      const declines = card === CARDS.insufficientFunds;
      assert.equal(p.status, 200, sale.card.payment_id);
      assert.equal(p.body.status, declines ? 'declined' : 'captured', card);
      assert.equal(p.body.captures, declines ? 0 : 1, card);
      assert.equal(p.body.mode, 'offline');
      const now = await till.sale(sale.sale_id);
      assert.equal(now.card.status, declines ? 'declined' : 'approved', card);
    }
    const l = await w.sims.ledger();
    assert.equal(l.double_captures, 0);
    assert.equal(l.captures, stored.length - 1);
    // In creation order: the processor saw the payments (and the
    // reversals of the refused checkouts) by increasing payment number.
    const seqs = processorRequests(w.sims).filter((r) => r.payment_id && r.method === 'POST').map((r) => paymentSeq(r.payment_id));
    assert.ok(seqs.length >= stored.length);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), `forwarded in order: ${seqs.join(' ')}`);
    // The refused checkouts: their authorisations released, nothing captured.
    const reversals = processorRequests(w.sims).filter((r) => /\/reverse$/.test(r.path));
    assert.ok(reversals.length >= 3, 'the offline_limit refusals were released');
    for (const r of reversals) assert.equal((await w.sims.payment(r.payment_id)).body.captured_minor, 0);
  }));

  test('an offline payment approved when forwarded shows its authorisation code', () => w.guard(async () => {
    const approved = stored.filter((s) => s.card !== CARDS.insufficientFunds);
    const codes = [];
    for (const { sale } of approved) codes.push((await till.sale(sale.sale_id)).card.auth_code);
    assert.deepEqual(codes.filter((c) => !/^[A-Z0-9]{6}$/.test(c)), [], 'BUG: the sale\'s card.auth_code stays "" after the ' +
      'processor approved the stored payment (docs: "" offline until forwarded): kd_json_card (src/kassad/h_sale.c) answers ' +
      'the tender\'s auth_code, not the one the outcome recorded in card_payments');
  }));

  test('the declined offline payment is in the review list; a manager resolves it', () => w.guard(async () => {
    const declined = stored.find((s) => s.card === CARDS.insufficientFunds).sale;
    const list = await till.review();
    assert.equal(list.length, 1);
    const item = list[0];
    assert.equal(item.payment_id, declined.card.payment_id);
    assert.equal(item.kind, 'payment');
    assert.equal(item.sale_id, declined.sale_id);
    assert.equal(item.outcome, 'declined');
    assert.equal(item.reason, 'insufficient_funds');
    assert.equal(item.last4, '9995');
    assert.equal(item.amount_minor, declined.card.amount_minor);
    assert.equal(item.resolved, false);
    const asCashier = await till.api('GET', '/api/v1/payments/review', { token: await till.token('ann') });
    assert.equal(asCashier.status, 403);
    // Not refundable at the till.
    const v = await till.api('POST', `/api/v1/sales/${declined.sale_id}/void`, { token: await till.token(), body: { supervisor: approval('sue') } });
    assert.equal(v.status, 409, v.text);
    const url = `/api/v1/payments/review/${encodeURIComponent(item.payment_id)}/resolve`;
    const bySup = await till.api('POST', url, { token: await till.token(), body: { manager: approval('sue'), note: 'called the customer' } });
    assert.equal(bySup.status, 403, bySup.text);
    const ok = await till.api('POST', url, { token: await till.token(), body: { manager: approval('max'), note: 'customer paid cash later' }, expect: 200 });
    assert.equal(ok.json.resolved, true);
    assert.equal(ok.json.resolved_by, 'max');
    assert.equal(ok.json.resolution_note, 'customer paid cash later');
    assert.deepEqual(await till.review(), []);
    const all = await till.review({ all: true });
    assert.equal(all.length, 1);
    assert.equal(all[0].resolved, true);
    const again = await till.api('POST', url, { token: await till.token(), body: { manager: approval('max'), note: 'x' } });
    assert.equal(again.status, 409, again.text);
    const unknown = await till.api('POST', '/api/v1/payments/review/T1.nope.P999/resolve', { token: await till.token(), body: { manager: approval('max'), note: 'x' } });
    assert.equal(unknown.status, 404, unknown.text);
    assert.equal((await till.payStatus()).review_count, 0);
  }));

  test('POST /payments/forward forwards at once instead of at the next retry', () => w.guard(async () => {
    // A retry delay far beyond this test: only the request can forward.
    await till.restart({ forward_retry_min_ms: 60000, forward_retry_max_ms: 60000 });
    await w.sims.stopProcessor();
    const { sale } = await till.cardSale([{ sku: 'BAG-CL', qty: 2 }], { card: CARDS.visa, expect: 201 });
    assert.equal(sale.card.mode, 'offline');
    await w.sims.startProcessor();
    await sleep(1500);
    const waiting = await till.payStatus();
    assert.equal(waiting.pending_count, 1, 'not forwarded before the retry delay');
    assert.ok(waiting.retry_in_ms >= 60000 * 0.75, `retry_in_ms ${waiting.retry_in_ms}`);
    const t0 = Date.now();
    const fw = await till.forward();
    assert.equal(fw.forwarding, true);
    await till.waitSettled('forwarded after POST /payments/forward', 3000);
    assert.ok(Date.now() - t0 < 3000);
    const p = await w.sims.payment(sale.card.payment_id);
    assert.equal(p.body.status, 'captured');
    assert.equal(p.body.captures, 1);
  }));
});

// ---------------------------------------------------------------------------

describe('processor faults and the network-timeout card', () => {
  let w;
  let till;
  const payments = [];
  before(async () => {
    w = await PayWorld.create('faults', { sims: { timeoutHoldMs: 2500 } });
    till = await w.till({ payments: { processor_timeout_ms: 600, offline_max_amount_minor: 5000, offline_max_per_card: 10 } });
  });
  after(async () => {
    await w?.destroy();
  });

  for (const mode of ['error500', 'garbage', 'hang']) {
    test(`processor ${mode}: offline within the limits, charged exactly once after recovery`, () => w.guard(async () => {
      await w.sims.control(mode);
      try {
        const t0 = Date.now();
        const a = await till.cardSale([{ sku: 'PST-500', qty: 2 }], { card: APPROVING[payments.length % 4], expect: 201 });
        const took = Date.now() - t0;
        assert.equal(a.sale.card.mode, 'offline', mode);
        if (mode === 'hang') assert.ok(took >= 550, `waited for processor_timeout_ms (${took} ms)`);
        payments.push(a.sale);
        assert.equal((await till.payStatus()).processor, 'offline');
        // The limits hold in a fault too.
        const big = await till.cardSale([{ sku: 'COF-1K', qty: 3 }], {});
        assert.equal(big.res.status, 402, big.res.text);
        assert.equal(big.res.json.error.reason, 'offline_limit');
        // Known to be down: the next customer does not wait for a timeout.
        const t1 = Date.now();
        const b = await till.cardSale([{ sku: 'MLK-1L', qty: 1 }], { expect: 201 });
        assert.equal(b.sale.card.mode, 'offline');
        assert.ok(Date.now() - t1 < 450, `offline at once (${Date.now() - t1} ms)`);
        payments.push(b.sale);
        await sleep(400); // the forwarder retries into the fault
        assert.ok((await till.payStatus()).pending_count >= 2);
      } finally {
        await w.sims.control('normal');
      }
      await till.waitSettled(`forwarded after ${mode}`, 10000);
      for (const s of payments) {
        const p = await w.sims.payment(s.card.payment_id);
        assert.equal(p.body.status, 'captured', s.card.payment_id);
        assert.equal(p.body.captures, 1, s.card.payment_id);
        assert.equal(p.body.captured_minor, s.card.amount_minor);
        assert.equal((await till.sale(s.sale_id)).card.status, 'approved');
      }
      const l = await w.sims.ledger();
      assert.equal(l.double_captures, 0);
      assert.equal(l.captures, payments.length);
      assert.equal(l.captured_minor, payments.reduce((a, s) => a + s.card.amount_minor, 0));
    }));
  }

  test('the network-timeout card: online times out, stored offline, forwarded: captured exactly once', () => w.guard(async () => {
    const ledger0 = await w.sims.ledger();
    const t0 = Date.now();
    const { sale } = await till.cardSale([{ sku: 'CRS-BT', qty: 1 }], { card: CARDS.networkTimeout, expect: 201 });
    assert.ok(Date.now() - t0 >= 550, 'the terminal waited processor_timeout_ms');
    assert.equal(sale.card.mode, 'offline');
    assert.equal(sale.card.last4, '0119');
    await till.waitSettled('the stored payment forwarded', 10000);
    const id = sale.card.payment_id;
    let p = await w.sims.payment(id);
    assert.equal(p.body.status, 'captured');
    assert.equal(p.body.captures, 1);
    assert.equal((await till.sale(sale.sale_id)).card.status, 'approved');
    // The held answer of the first call goes out late (2.5 s): still once.
    await sleep(2600);
    p = await w.sims.payment(id);
    assert.equal(p.body.captures, 1);
    const l = await w.sims.ledger();
    assert.equal(l.captures - ledger0.captures, 1);
    assert.equal(l.double_captures, 0);
  }));

  test('the network-timeout card above the offline limit: refused and its hold released', () => w.guard(async () => {
    const ledger0 = await w.sims.ledger();
    const { res } = await till.cardSale([{ sku: 'COF-1K', qty: 3 }], { card: CARDS.networkTimeout });
    assert.equal(res.status, 402, res.text);
    assert.equal(res.json.error.reason, 'offline_limit');
    const id = res.json.error.payment_id;
    await till.waitSettled('the reversal forwarded', 10000);
    const p = await w.sims.payment(id);
    assert.equal(p.status, 200, 'the processor approved it before the terminal gave up');
    assert.equal(p.body.status, 'reversed');
    assert.equal(p.body.captured_minor, 0);
    assert.equal(p.body.captures, 0);
    await sleep(2600); // past the held answer
    assert.equal((await w.sims.payment(id)).body.captured_minor, 0);
    assert.equal((await w.sims.ledger()).captured_minor, ledger0.captured_minor);
  }));
});

// ---------------------------------------------------------------------------

describe('forwarder wake-ups', () => {
  // The processor answers after 200 ms, so the forwarder is visibly busy
  // sending a capture when the next refund is made due.
  let w;
  let till;
  before(async () => {
    w = await PayWorld.create('wakeup', { sims: { slowMs: 200 } });
    till = await w.till();
  });
  after(async () => {
    await w?.destroy();
  });

  test('a card refund made due while the forwarder sends a capture is forwarded by itself', () => w.guard(async () => {
    const { sale } = await till.cardSale([{ sku: 'COF-1K', qty: 1 }, { sku: 'BAG-CL', qty: 1 }], { card: CARDS.visa, expect: 201 });
    // At once: the capture of this sale is on its way (200 ms).
    const r = await till.api('POST', `/api/v1/sales/${sale.sale_id}/returns`, {
      token: await till.token(), body: { lines: [{ sku: 'BAG-CL', qty: 1 }], supervisor: approval('sue') }, expect: 201,
    });
    assert.ok(r.json.refund_card_minor > 0);
    // forward_retry_max_ms is 500: a forwarder that noticed the refund
    // sends it within a second.
    let last;
    const settled = await till.waitSettled('the refund forwarded', 4000).then(() => true, async () => {
      last = (await till.pending()).payments;
      return false;
    });
    assert.ok(settled, `BUG: the refund stayed due with the forwarder idle (${JSON.stringify(last)}): kd_pay_kick ` +
      '(src/kassad/pay.c) ignores a kick while a forwarding pass runs, and fwd_end, finding a chunk that was not full, ' +
      'schedules nothing; the row waits for the next unrelated kick (a sale, a refund, POST /payments/forward) or a restart');
    const p = await w.sims.payment(sale.card.payment_id);
    assert.equal(p.body.refunded_minor, r.json.refund_card_minor);
  }));

  test('"Forward now" sends what was left', () => w.guard(async () => {
    await till.forward();
    await till.waitSettled('forwarded after POST /payments/forward', 5000);
    const l = await w.sims.ledger();
    assert.equal(l.refunds, 1);
    assert.equal(l.double_captures, 0);
  }));
});

describe('two terminals: a return on T2 before T1\'s capture reached the processor', () => {
  // T1 forwards in creation order: with a backlog of stored payments ahead
  // of it, the capture of a new online sale waits its turn, while T2
  // (which got the sale over the peer link) sends its refund at once.
  const BACKLOG = 30;
  let w;
  let t1;
  let t2;
  before(async () => {
    w = await PayWorld.create('race', { sims: { slowMs: 50 } });
    await w.guard(async () => {
      const { terms } = await fullMesh(w.mesh, ['T1', 'T2'], { anti_entropy_ms: 250, reconnect_min_ms: 100, reconnect_max_ms: 1000 });
      const cfg = w.sims.kassadConfig({ offline_max_per_card: 1000 });
      terms[0].extra = { payments: cfg };
      const { reader_socket: _none, ...noReader } = cfg;
      terms[1].extra = { payments: noReader };
      t1 = new Till(w, terms[0]);
      t2 = new Till(w, terms[1]);
      await Promise.all([t1.start(), t2.start()]);
      await waitConverged([t1.t, t2.t], 'T1\'s setup on T2', { timeoutMs: 15000 });
    });
  });
  after(async () => {
    await w?.destroy();
  });

  test('the refund reaches the card once the capture is there (not declined "not_captured")', () => w.guard(async () => {
    await w.sims.stopProcessor();
    for (let i = 0; i < BACKLOG; i++) await t1.cardSale([{ sku: 'BAG-CL', qty: 1 }], { expect: 201 });
    await w.sims.startProcessor();
    await waitFor('T1 forwarding its backlog, the processor online again', async () => {
      const ps = await t1.payStatus();
      return ps.processor === 'online' && ps.pending_count > BACKLOG / 2;
    }, { timeoutMs: 5000, intervalMs: 10 });
    const { sale } = await t1.cardSale([{ sku: 'COF-1K', qty: 1 }, { sku: 'MLK-1L', qty: 1 }], { card: CARDS.amex, expect: 201 });
    assert.equal(sale.card.mode, 'online');
    const onT2 = await waitFor('the sale on T2', async () => {
      const r = await t2.api('GET', `/api/v1/sales/${sale.sale_id}`, { token: await t2.token(), expect: [200, 404] });
      return r.status === 200 ? r.json : false;
    });
    const ret = (await t2.api('POST', `/api/v1/sales/${sale.sale_id}/returns`, {
      token: await t2.token(), body: { lines: [{ sku: 'MLK-1L', qty: 1 }], supervisor: approval('sue') }, expect: 201,
    })).json;
    assert.equal(ret.refund_card_minor, onT2.lines.find((l) => l.sku === 'MLK-1L').total_minor);
    const early = await t2.settle({ graceMs: 5000 });
    await t1.settle({ graceMs: 4000 });
    await t2.settle({ graceMs: 3000 });
    const p = await w.sims.payment(sale.card.payment_id);
    assert.equal(p.body.status, 'captured');
    assert.equal(p.body.captures, 1);
    const review = await t2.review();
    assert.deepEqual(review.map((r) => `${r.outcome}:${r.reason}`), [], 'BUG: T2\'s card refund was declined ' +
      `(${JSON.stringify(review)}; T2 settled ${JSON.stringify(early.status)}): the processor answered "not_captured" because ` +
      'T1\'s capture was still queued behind its backlog, and on_fwd_answer (src/kassad/pay.c, TERM_PAY_REFUND_DUE) retries a ' +
      'refund only on 404, treating not_captured as final: the customer is charged in full and the return is not refunded');
    assert.equal(p.body.refunded_minor, ret.refund_card_minor, 'the card got its refund');
  }));
});

describe('expiry of stored payments', () => {
  const AGE_S = 2;
  let w;
  let till;
  before(async () => {
    w = await PayWorld.create('expiry');
    await w.sims.stopProcessor();
    till = await w.till({ payments: { offline_max_age_s: AGE_S } });
  });
  after(async () => {
    await w?.destroy();
  });

  test(`a stored payment older than offline_max_age_s (${AGE_S} s) expires unsent and goes to review`, () => w.guard(async () => {
    const storedAt = Date.now();
    const { sale } = await till.cardSale([{ sku: 'BAG-CL', qty: 1 }], { card: CARDS.visa2, expect: 201 });
    assert.equal(sale.card.mode, 'offline');
    const id = sale.card.payment_id;
    await sleep(300);
    const young = await till.payStatus();
    assert.ok(Date.now() - storedAt < AGE_S * 1000, 'checked before its age');
    assert.equal(young.pending_count, 1, 'still stored before its age');
    assert.equal((await till.sale(sale.sale_id)).card.status, 'stored');
    const ps = await till.waitSettled('the stored payment expired', AGE_S * 1000 + 5000);
    assert.ok(Date.now() - storedAt >= AGE_S * 1000, 'not expired before offline_max_age_s');
    assert.equal(ps.pending_count, 0);
    assert.equal(ps.review_count, 1);
    const list = await till.review();
    assert.equal(list.length, 1);
    assert.equal(list[0].payment_id, id);
    assert.equal(list[0].outcome, 'expired');
    assert.equal(list[0].reason, 'too_old');
    assert.equal(list[0].sale_id, sale.sale_id);
    assert.equal((await till.sale(sale.sale_id)).card.status, 'expired');
    // Never sent: the processor, back now, knows nothing of it.
    await w.sims.startProcessor();
    await till.forward();
    await sleep(300);
    assert.equal((await w.sims.payment(id)).status, 404);
    assert.equal((await w.sims.ledger()).payments, 0);
    const v = await till.api('POST', `/api/v1/sales/${sale.sale_id}/void`, { token: await till.token(), body: { supervisor: approval('sue') } });
    assert.equal(v.status, 409, v.text);
  }));
});
