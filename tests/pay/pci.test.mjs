// PCI-DSS behaviour (docs/PAYMENTS.md): no full card number is written
// anywhere a terminal writes, or sent to another terminal or the cloud.
//
// A day of card sales at two terminals of store S1 linked by mutually
// authenticated TLS peer links: T1 with the card reader and the processor
// simulators, T2 (no reader) selling cash and taking returns of T1's card
// sales (its refunds forwarded by T2 itself). Online sales with every
// approving test card and more Luhn-valid numbers, split tenders,
// declines, voids and returns with card refunds, then the processor
// stopped for a while (offline sales, a declining card stored offline, a
// manager's override, a void and a cross-terminal return of stored
// payments), forwarding when it is back, the review item resolved on T2,
// and more online sales: about 100 sales.
//
// Then every card number used is searched for — digits only, "4111 1111
// 1111 1111" and "4111-1111-1111-1111" forms — and a Luhn scanner runs
// over: every file the test's processes wrote (both terminals' kassa.db,
// -wal and -shm, every kassad log, the reader and processor logs, the
// configs), both terminals' GET /metrics, `kassa export` of both (what a
// cloud upload carries: every operation) and T2's database and export
// (what came over the peer link: its TLS traffic itself proves nothing).
// Zero hits is the pass condition; the scanner is tested first on a card
// number hidden in binary junk.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { CATALOG_CSV, fullMesh, waitConverged, waitLinked } from '../peer/harness.mjs';
import {
  APPROVING, CARDS, FUTURE_EXPIRY, PAST_EXPIRY, PayWorld, Till, approval, extraCards, filesUnder, findNumbers, luhnOk, rng, scaled,
  scanPans, waitFor,
} from './harness.mjs';

const EXTRA = extraCards(16, 11);
const USED = [...new Set([...Object.values(CARDS), ...EXTRA])];

/** The demo catalog's barcodes: product codes, some of which pass Luhn (EAN-13 is not a card). */
const BARCODES = new Set(fs.readFileSync(CATALOG_CSV, 'utf8').split('\n').slice(1)
  .map((l) => /,(\d{8,14}),\d+(\.\d+)?,/.exec(l)?.[1]).filter(Boolean));

test('the scanner finds a card number hidden in binary junk (a test of the test)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kassa-pay-scan-'));
  try {
    const pick = rng(3);
    // Junk without ASCII digits, spaces or dashes around the numbers.
    const junk = (n) => Buffer.from(Array.from({ length: n }, () => {
      let b;
      do b = pick(256); while ((b >= 48 && b <= 57) || b === 32 || b === 45);
      return b;
    }));
    const file = path.join(dir, 'junk.bin');
    fs.writeFileSync(file, Buffer.concat([
      junk(5000), Buffer.from(CARDS.visa), junk(3000), Buffer.from('4111 1111 1111 1111'), junk(3000),
      Buffer.from(`7${CARDS.mastercard}`), junk(2000), Buffer.from(CARDS.badCheckDigit), junk(1000),
    ]));
    const buf = fs.readFileSync(file);
    const { hits } = scanPans(buf);
    assert.deepEqual(hits.map((h) => h.digits), [CARDS.visa, CARDS.visa, CARDS.mastercard],
      'the digits-only number, the spaced one, the one glued to a digit; not the Luhn-invalid one');
    assert.equal(hits[0].offset, 5000);
    const direct = findNumbers(buf, [CARDS.visa, CARDS.mastercard, CARDS.badCheckDigit]);
    assert.deepEqual(direct.map((d) => d.form).sort(), ['4111 1111 1111 1111', CARDS.badCheckDigit, CARDS.mastercard, CARDS.visa].sort());
    // Nothing in junk alone, nor in a hex identifier that holds digits.
    assert.deepEqual(scanPans(junk(20000)).hits, []);
    const tok = Buffer.from('"tok_ab4111111111111111cd9e8f7a6b5c4d3e2f1a0b"');
    assert.equal(scanPans(tok).hits.length, 0);
    assert.equal(scanPans(tok).identifiers.length, 1);
    assert.equal(findNumbers(tok, [CARDS.visa]).length, 1, 'the direct search has no such exception');
    assert.ok(luhnOk(CARDS.amex) && !luhnOk(CARDS.badCheckDigit));
    for (const n of USED) assert.ok(!BARCODES.has(n), `${n} is not a catalog barcode`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

let w;
let t1;
let t2;

before(async () => {
  w = await PayWorld.create('pci');
  await w.guard(async () => {
    const { terms } = await fullMesh(w.mesh, ['T1', 'T2'], { anti_entropy_ms: 250, reconnect_min_ms: 100, reconnect_max_ms: 1000 });
    const limits = { offline_max_amount_minor: 8000, offline_max_pending_minor: 500000, offline_max_per_card: 2 };
    terms[0].extra = { log: { level: 'debug' }, payments: w.sims.kassadConfig(limits) };
    const { reader_socket: _none, ...noReader } = w.sims.kassadConfig(limits);
    terms[1].extra = { log: { level: 'debug' }, payments: noReader };
    t1 = new Till(w, terms[0]);
    t2 = new Till(w, terms[1]);
    w.tills.push(t1, t2);
    await Promise.all([t1.start(), t2.start()]);
    await waitLinked(t1.t, ['T2']);
    await waitConverged([t1.t, t2.t], 'T1\'s setup replicated to T2', { timeoutMs: 15000 });
  });
});

after(async () => {
  await w?.destroy();
});

test('a day of card sales at two linked terminals, then no card number anywhere', { timeout: 240000 }, () => w.guard(async () => {
  const pick = rng(2024);
  const skus = ['BAG-CL', 'MLK-1L', 'PST-500', 'CRS-BT', 'APL-1K', 'COF-250', 'MUG-KS', 'CHS-GD'];
  const lines = () => {
    const n = 1 + pick(3);
    const set = new Set();
    while (set.size < n) set.add(skus[pick(skus.length)]);
    return [...set].map((sku) => ({ sku, qty: 1 + pick(2) }));
  };
  const sales = { card: [], cash: 0, declined: 0 };
  let extraNext = 0;
  const nextCard = (online) => (online && pick(3) === 0 ? APPROVING[pick(APPROVING.length)] : EXTRA[extraNext++ % EXTRA.length]);
  // One card checkout on T1 (split tender one time in three).
  const sellCard = async (card, { expiry = FUTURE_EXPIRY, manager, big = false, expect = 201 } = {}) => {
    const cart = await t1.cart(big ? [{ sku: 'COF-1K', qty: 5 }] : lines());
    const split = !big && pick(3) === 0 && cart.total_minor > 200;
    const cardMinor = split ? Math.floor(cart.total_minor / 2) : cart.total_minor;
    w.sims.present(card, expiry);
    const body = { tendered_minor: cart.total_minor - cardMinor + (split ? 50 : 0), card_minor: cardMinor };
    if (manager) body.manager = manager;
    const res = await t1.checkout(cart.cart_id, body, { expect });
    if (res.status === 201) sales.card.push(res.json);
    else sales.declined++;
    return res;
  };
  const sellCash = async (till) => {
    const cart = await till.cart(lines());
    await till.checkout(cart.cart_id, { tendered_minor: cart.total_minor + 100 }, { expect: 201 });
    sales.cash++;
  };
  const onT2 = (id) => waitFor(`sale ${id} replicated to T2`, async () => {
    const r = await t2.api('GET', `/api/v1/sales/${encodeURIComponent(id)}`, { token: await t2.token(), expect: [200, 404] });
    return r.status === 200 ? r.json : false;
  }, { timeoutMs: 10000 });
  const returnOn = async (till, sale) => {
    const line = sale.lines[0];
    return (await till.api('POST', `/api/v1/sales/${encodeURIComponent(sale.sale_id)}/returns`, {
      token: await till.token(), body: { lines: [{ sku: line.sku, qty: 1 }], supervisor: approval('sue'), reason: 'return' }, expect: 201,
    })).json;
  };
  const voidOn = async (till, sale) => (await till.api('POST', `/api/v1/sales/${encodeURIComponent(sale.sale_id)}/void`, {
    token: await till.token(), body: { supervisor: approval('sue'), reason: 'void' }, expect: 200,
  })).json;

  // --- Morning: online.
  const ONLINE1 = scaled(30, 12);
  for (let i = 0; i < ONLINE1; i++) {
    await sellCard(i < APPROVING.length ? APPROVING[i] : nextCard(true));
    if (i % 3 === 0) await sellCash(t2);
  }
  for (const [card, expiry, status] of [
    [CARDS.insufficientFunds, FUTURE_EXPIRY, 402], [CARDS.stolen, FUTURE_EXPIRY, 402], [CARDS.expiredByProcessor, FUTURE_EXPIRY, 402],
    [CARDS.visa, PAST_EXPIRY, 402], [CARDS.badCheckDigit, FUTURE_EXPIRY, 502],
  ]) await sellCard(card, { expiry, expect: status });
  const morning = sales.card.slice();
  const refunds = [];
  for (const s of morning.slice(0, 3)) refunds.push(await voidOn(t1, s));
  for (const s of morning.slice(3, 6)) refunds.push(await returnOn(t2, await onT2(s.sale_id)));
  await t1.settle();
  await t2.settle();
  // The processor keeps its records in memory: look before it stops.
  const morningLedger = await w.sims.ledger();
  assert.equal(morningLedger.refunds, refunds.length, 'every morning refund had a card part and reached the processor');
  assert.equal(morningLedger.refunded_minor, refunds.reduce((a, r) => a + r.refund_card_minor, 0));
  assert.equal(morningLedger.double_captures, 0);
  const morningRefunds = refunds.length;

  // --- Midday: the processor is down.
  await w.sims.stopProcessor();
  const OFFLINE = scaled(25, 10);
  const offline = [];
  for (let i = 0; i < OFFLINE; i++) {
    const res = await sellCard(nextCard(false));
    offline.push(res.json);
    if (i % 3 === 1) await sellCash(t2);
  }
  const declinedOffline = (await sellCard(CARDS.insufficientFunds)).json;
  assert.equal(declinedOffline.card.mode, 'offline');
  const over = await sellCard(CARDS.visa2, { big: true, expect: 402 });
  assert.equal(over.json.error.reason, 'offline_limit');
  const overridden = (await sellCard(CARDS.visa2, { big: true, manager: approval('max') })).json;
  assert.equal(overridden.card.mode, 'offline');
  refunds.push(await voidOn(t1, offline[0]));
  refunds.push(await returnOn(t2, await onT2(offline[1].sale_id)));
  assert.ok((await t1.payStatus()).pending_count >= OFFLINE);

  // --- Afternoon: the processor is back.
  await w.sims.startProcessor();
  await t1.settle({ graceMs: 5000 });
  await t2.settle({ graceMs: 5000 });
  const review = await waitFor('the declined offline payment on T2\'s review list', async () => {
    const l = await t2.review();
    return l.length === 1 ? l : false;
  });
  assert.equal(review[0].payment_id, declinedOffline.card.payment_id);
  await t2.api('POST', `/api/v1/payments/review/${encodeURIComponent(review[0].payment_id)}/resolve`, {
    token: await t2.token(), body: { manager: approval('max'), note: 'customer will pay cash' }, expect: 200,
  });
  const ONLINE2 = scaled(15, 6);
  for (let i = 0; i < ONLINE2; i++) {
    await sellCard(nextCard(true));
    if (i % 3 === 0) await sellCash(t2);
  }
  await t1.settle();
  await t2.settle();
  await waitConverged([t1.t, t2.t], 'T1 and T2 converged at the end of the day', { timeoutMs: 15000 });

  // The day did what it says.
  const total = sales.card.length + sales.cash;
  process.stderr.write(`pci: ${sales.card.length} card sales, ${sales.cash} cash sales, ${sales.declined} refused, ${refunds.length} refunds\n`);
  assert.ok(total >= scaled(95, 35), `about 100 sales (${total})`);
  const l = await w.sims.ledger();
  assert.equal(l.double_captures, 0);
  // The refunds of stored payments (a void on T1, a return on T2) reached
  // the processor after their payments did.
  const lateRefunds = refunds.slice(morningRefunds);
  assert.equal(lateRefunds.length, 2);
  assert.equal(l.refunds, lateRefunds.length);
  for (const r of lateRefunds) {
    assert.ok(r.refund_card_minor > 0);
    const sale = sales.card.find((s) => s.sale_id === r.sale_id);
    const p = await w.sims.payment(sale.card.payment_id);
    assert.equal(p.body.status, 'captured', sale.card.payment_id);
    assert.equal(p.body.captures, 1);
    assert.equal(p.body.refunded_minor, r.refund_card_minor, `${sale.card.payment_id} refunded`);
  }
  assert.deepEqual(await t1.review(), []);
  assert.equal((await t1.review({ all: true })).length, 1);
  for (const t of [t1, t2]) assert.equal((await t.payStatus()).due_count, 0, `${t.node}: nothing due`);

  // --- The scan.
  const sources = [];
  for (const t of [t1, t2]) {
    assert.ok(fs.existsSync(path.join(t.dataDir, 'kassa.db')), `${t.node}: kassa.db`);
    sources.push({ name: `${t.node} GET /metrics`, buf: Buffer.from(await t.metricsText()) });
    const ops = await t.exportOps();
    // What the scan looks at does hold the day's card payments.
    const missing = sales.card.filter((s) => !ops.includes(Buffer.from(s.card.payment_id))).map((s) => s.card.payment_id);
    assert.deepEqual(missing, [], `${t.node}'s export holds every card payment`);
    sources.push({ name: `${t.node} kassa export`, buf: ops });
    sources.push({ name: `${t.node} GET /api/v1/sales (all, full)`, buf: Buffer.from(JSON.stringify(await t.sales())) });
  }
  const files = filesUnder(w.mesh.tmp);
  const names = files.map((f) => path.relative(w.mesh.tmp, f));
  for (const must of ['T1/data/kassa.db', 'T2/data/kassa.db', 'T1/kassad.log', 'T2/kassad.log', 'sims/processor.log', 'sims/reader.log']) {
    assert.ok(names.includes(must), `${must} is scanned (files: ${names.join(' ')})`);
  }
  for (const f of files) sources.push({ name: path.relative(w.mesh.tmp, f), buf: fs.readFileSync(f) });
  const problems = [];
  let bytes = 0;
  let identifiers = 0;
  let barcodes = 0;
  for (const s of sources) {
    bytes += s.buf.length;
    for (const d of findNumbers(s.buf, USED)) problems.push(`${s.name} @${d.offset}: test card ${d.number} as "${d.form}"`);
    const scan = scanPans(s.buf);
    identifiers += scan.identifiers.length;
    if (process.env.KASSA_PAY_SCAN_DEBUG) for (const h of scan.identifiers) process.stderr.write(`identifier in ${s.name}: ${h.digits} ${h.context}\n`);
    for (const h of scan.hits) {
      if (BARCODES.has(h.digits)) {
        barcodes++;
        continue;
      }
      problems.push(`${s.name} @${h.offset}: Luhn-valid ${h.digits}: ${h.context}`);
    }
  }
  process.stderr.write(`pci: scanned ${sources.length} sources, ${bytes} bytes; ${barcodes} catalog barcodes and ${identifiers} digit runs inside identifiers skipped\n`);
  assert.deepEqual(problems, [], 'no card number in anything the terminals wrote or sent');
}));
