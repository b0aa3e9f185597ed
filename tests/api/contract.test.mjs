// Every route of docs/api/openapi.yaml answers with its documented success
// shape; routes the document does not have answer 404/405 with the error
// shape; /metrics, /api/v1/status, the static UI and path traversal; the
// cash drawer; card payments against the payment simulators
// (tests/lib/paysims.mjs: online, declined, reader failures, offline,
// forwarding, the review list) and cash rounding.
// The last test checks that this file exercised every operation of the
// document with a success answer.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  METHODS, OPERATIONS, REPO, SPEC, SUPPORTED_KEYWORDS, allSchemas, coverage, deref, rawHttp,
  startTerminal, uncovered, validate,
} from './harness.mjs';
import {
  CARDS, declinedOffline, openCart, startCardTerminal, startReader, stopReader, waitForwarded,
} from './payflow.mjs';

let term;
let ann; // cashier token
const SUE = { id: 'sue', pin: '9999' };
const MAX = { id: 'max', pin: '8888' };

/**
 * A void's or return's answer for a cash sale: all of it back in cash,
 * nothing to a card. The card's optional fields (card_last4, card_brand)
 * are absent or "". want: the other fields.
 */
function assertCashRefund(r, want) {
  const { card_last4: last4, card_brand: brand, ...rest } = r;
  assert.deepEqual(rest, { ...want, refund_cash_minor: want.refund_minor, refund_card_minor: 0, card_refund_id: '' });
  assert.ok(last4 === undefined || last4 === '', `card_last4 of a cash refund: ${last4}`);
  assert.ok(brand === undefined || brand === '', `card_brand of a cash refund: ${brand}`);
}

before(async () => {
  term = await startTerminal();
  ann = await term.login('ann', '1111');
});
after(async () => {
  await term?.stop();
});

describe('the schema checker', () => {
  test('understands every keyword the document uses', () => {
    const unknown = [];
    for (const { schema, where } of allSchemas()) {
      for (const k of Object.keys(schema)) if (!SUPPORTED_KEYWORDS.has(k)) unknown.push(`${where}: ${k}`);
    }
    assert.deepEqual(unknown, []);
  });

  test('resolves every $ref and rejects what it should', () => {
    for (const { schema } of allSchemas()) deref(schema);
    const cart = { $ref: '#/components/schemas/Cart' };
    const totals = { subtotal_minor: 0, discount_minor: 0, tax_minor: 0, total_minor: 0, cash_total_minor: 0 };
    assert.deepEqual(validate(cart, { cart_id: 'c', lines: [], ...totals }), []);
    assert.equal(validate(cart, { cart_id: 'c', lines: [], ...totals, subtotal_minor: 1.5 }).length, 1);
    // 8 required fields missing in the line, total_minor missing in the cart.
    const noTotal = { ...totals };
    delete noTotal.total_minor;
    assert.equal(validate(cart, { cart_id: 'c', lines: [{}], ...noTotal }).length, 9);
    assert.deepEqual(validate(deref({ $ref: '#/components/schemas/Sale' }).properties.card, null), [], 'a cash sale has card null');
    const status = deref({ $ref: '#/components/schemas/Status' });
    assert.deepEqual(validate(status.properties.leader, null), []);
    assert.equal(validate(status.properties.online, null).length, 1);
    assert.equal(validate(deref({ $ref: '#/components/schemas/Supervisor' }), { id: 'a', pin: '1', x: 1 }).length, 1);
    assert.equal(validate(deref({ $ref: '#/components/schemas/Cashier' }), { id: 'a', name: 'n', role: 'boss' }).length, 1);
  });
});

describe('public routes', () => {
  test('GET /healthz', async () => {
    const r = await term.api('GET', '/healthz', { expect: 200 });
    assert.equal(r.json.status, 'ok');
  });

  test('GET /api/v1/status', async () => {
    const r = await term.api('GET', '/api/v1/status', { expect: 200 });
    assert.equal(r.json.store, 'S1');
    assert.equal(r.json.node, 'T1');
    assert.ok(r.json.uptime_s >= 0);
    assert.ok(r.json.db_size_bytes > 0);
    assert.ok(r.json.ops > 0, 'the catalog import and the staff are operations');
    assert.equal(r.json.sales, 0);
    assert.ok(Array.isArray(r.json.peers));
  });

  test('GET /api/v1/cashiers lists the staff without PINs', async () => {
    const r = await term.api('GET', '/api/v1/cashiers', { expect: 200 });
    const byId = Object.fromEntries(r.json.cashiers.map((c) => [c.id, c]));
    assert.deepEqual(Object.keys(byId).sort(), ['ann', 'bob', 'max', 'sue']);
    assert.deepEqual(byId.sue, { id: 'sue', name: 'Sue Wagner', role: 'supervisor' });
    assert.equal(byId.max.role, 'manager');
    assert.doesNotMatch(r.text, /pin|argon/i);
  });
});

describe('sessions', () => {
  test('POST /api/v1/sessions, GET and DELETE /api/v1/sessions/current', async () => {
    const t0 = Date.now();
    const r = await term.api('POST', '/api/v1/sessions', { body: { cashier_id: 'bob', pin: '2222' }, expect: 201 });
    assert.deepEqual(r.json.cashier, { id: 'bob', name: 'Bob Brandt', role: 'cashier' });
    assert.ok(r.json.token.length >= 16, 'a token is long enough not to be guessed');
    assert.ok(r.json.expires_at_ms > t0, 'expires in the future');
    const token = r.json.token;
    const cur = await term.api('GET', '/api/v1/sessions/current', { token, expect: 200 });
    assert.equal(cur.json.cashier.id, 'bob');
    assert.ok(cur.json.expires_at_ms >= r.json.expires_at_ms, 'the expiry does not move back');
    await term.api('DELETE', '/api/v1/sessions/current', { token, expect: 204 });
    await term.api('GET', '/api/v1/sessions/current', { token, expect: 401 });
    // The other session is untouched.
    await term.api('GET', '/api/v1/sessions/current', { token: ann, expect: 200 });
  });
});

describe('catalog and stock', () => {
  test('GET /api/v1/catalog searches by name prefix, case-insensitive', async () => {
    const r = await term.api('GET', '/api/v1/catalog?q=cOf', { token: ann, expect: 200 });
    assert.deepEqual(r.json.items.map((i) => i.sku).sort(), ['COF-1K', 'COF-250']);
    const cof = r.json.items.find((i) => i.sku === 'COF-250');
    assert.deepEqual(cof, {
      sku: 'COF-250', name: 'Coffee, house blend 250g', barcode: '4006381333931',
      price_minor: 649, tax_class: 'reduced', stock: 40,
    });
    const co = await term.api('GET', '/api/v1/catalog?q=co', { token: ann, expect: 200 });
    assert.deepEqual(co.json.items.map((i) => i.sku).sort(), ['COF-1K', 'COF-250', 'COL-05']);
    const one = await term.api('GET', '/api/v1/catalog?q=co&limit=1', { token: ann, expect: 200 });
    assert.equal(one.json.items.length, 1);
    const none = await term.api('GET', '/api/v1/catalog?q=zzz', { token: ann, expect: 200 });
    assert.deepEqual(none.json.items, []);
  });

  test('GET /api/v1/catalog limit: default 20, up to 200', async () => {
    const def = await term.api('GET', '/api/v1/catalog', { token: ann, expect: 200 });
    assert.equal(def.json.items.length, 20);
    const all = await term.api('GET', '/api/v1/catalog?limit=200', { token: ann, expect: 200 });
    assert.equal(all.json.items.length, 36);
    const bread = all.json.items.find((i) => i.sku === 'BRD-SD');
    assert.equal(bread.barcode, '', 'an item without a barcode has ""');
  });

  test('GET /api/v1/catalog/barcode/{barcode}', async () => {
    const r = await term.api('GET', '/api/v1/catalog/barcode/4099999000017', { token: ann, expect: 200 });
    assert.deepEqual(r.json, {
      sku: 'MUG-KS', name: 'Mug "kassa" 300ml', barcode: '4099999000017',
      price_minor: 999, tax_class: 'standard', stock: 8,
    });
    await term.api('GET', '/api/v1/catalog/barcode/4000000000000', { token: ann, expect: 404 });
  });

  test('GET /api/v1/stock, all and ?sku=', async () => {
    const all = await term.api('GET', '/api/v1/stock', { token: ann, expect: 200 });
    assert.equal(all.json.items.length, 36);
    assert.equal(all.json.items.find((i) => i.sku === 'BAG-CL').stock, 100);
    const one = await term.api('GET', '/api/v1/stock?sku=NEWS-D', { token: ann, expect: 200 });
    assert.deepEqual(one.json.items, [{ sku: 'NEWS-D', stock: 20 }]);
    await term.api('GET', '/api/v1/stock?sku=NOPE-1', { token: ann, expect: 404 });
  });

  test('GET /api/v1/stock/chain without a cloud: unavailable, never a figure', async () => {
    const r = await term.api('GET', '/api/v1/stock/chain?sku=COF-250', { token: ann, expect: 200 });
    assert.equal(r.json.available, false);
    assert.equal(r.json.sku, 'COF-250');
    assert.match(r.json.why, /no cloud/);
    assert.equal(r.json.stores, undefined);
    await term.api('GET', '/api/v1/stock/chain', { token: ann, expect: 400 });
    await term.api('GET', '/api/v1/stock/chain?sku=bad%20sku', { token: ann, expect: 400 });
  });
});

describe('carts, checkout, sales', () => {
  let cartId;
  let saleId;

  test('POST /api/v1/carts opens an empty cart; GET shows it', async () => {
    const r = await term.api('POST', '/api/v1/carts', { token: ann, expect: 201 });
    assert.deepEqual(r.json, {
      cart_id: r.json.cart_id, lines: [], subtotal_minor: 0, discount_minor: 0, tax_minor: 0, total_minor: 0, cash_total_minor: 0,
    });
    cartId = r.json.cart_id;
    const g = await term.api('GET', `/api/v1/carts/${cartId}`, { token: ann, expect: 200 });
    assert.deepEqual(g.json, r.json);
    // The body is optional: an empty object opens a cart too.
    const e = await term.api('POST', '/api/v1/carts', { token: ann, body: {}, expect: 201 });
    assert.notEqual(e.json.cart_id, cartId);
    await term.api('DELETE', `/api/v1/carts/${e.json.cart_id}`, { token: ann, expect: 204 });
  });

  test('POST lines by barcode and by SKU; the same SKU again adds to its quantity', async () => {
    let r = await term.api('POST', `/api/v1/carts/${cartId}/lines`, { token: ann, body: { barcode: '4006381333931' }, expect: 200 });
    assert.equal(r.json.lines.length, 1);
    assert.equal(r.json.lines[0].sku, 'COF-250');
    assert.equal(r.json.lines[0].qty, 1, 'qty defaults to 1');
    r = await term.api('POST', `/api/v1/carts/${cartId}/lines`, { token: ann, body: { sku: 'COF-250', qty: 2 }, expect: 200 });
    assert.equal(r.json.lines.length, 1);
    assert.equal(r.json.lines[0].qty, 3);
    r = await term.api('POST', `/api/v1/carts/${cartId}/lines`, { token: ann, body: { sku: 'GFT-10', qty: 1 }, expect: 200 });
    assert.deepEqual(r.json.lines.map((l) => l.sku), ['COF-250', 'GFT-10']);
  });

  test('PATCH a line (quantity) and DELETE a line', async () => {
    let r = await term.api('PATCH', `/api/v1/carts/${cartId}/lines/COF-250`, { token: ann, body: { qty: 2 }, expect: 200 });
    assert.equal(r.json.lines.find((l) => l.sku === 'COF-250').qty, 2);
    r = await term.api('DELETE', `/api/v1/carts/${cartId}/lines/GFT-10`, { token: ann, expect: 200 });
    assert.deepEqual(r.json.lines.map((l) => l.sku), ['COF-250']);
    // COF-250 x2: gross 1298, tax round_half_up(1298 * 5.5 %) = 71.39 -> 71.
    const l = r.json.lines[0];
    assert.deepEqual(l, {
      sku: 'COF-250', name: 'Coffee, house blend 250g', qty: 2, unit_price_minor: 649,
      discount_minor: 0, tax_minor: 71, total_minor: 1369, price_overridden: false,
    });
    assert.equal(r.json.subtotal_minor, 1298);
    assert.equal(r.json.total_minor, 1369);
  });

  test('POST checkout records the sale (201) and closes the cart', async () => {
    const r = await term.api('POST', `/api/v1/carts/${cartId}/checkout`, { token: ann, body: { tendered_minor: 2000 }, expect: 201 });
    assert.equal(r.json.cashier_id, 'ann');
    assert.equal(r.json.total_minor, 1369);
    assert.equal(r.json.tax_minor, 71);
    assert.equal(r.json.tendered_minor, 2000);
    assert.equal(r.json.change_minor, 631);
    assert.equal(r.json.voided, false);
    assert.equal(r.json.refunded_minor, 0);
    assert.deepEqual(r.json.lines, [{ sku: 'COF-250', qty: 2, unit_price_minor: 649, discount_minor: 0, tax_minor: 71, total_minor: 1369 }]);
    assert.match(r.json.receipt_text, /13\.69/);
    saleId = r.json.sale_id;
    await term.api('GET', `/api/v1/carts/${cartId}`, { token: ann, expect: 404 });
  });

  test('GET /api/v1/sales lists it; GET /api/v1/sales/{id} shows it', async () => {
    const list = await term.api('GET', '/api/v1/sales', { token: ann, expect: 200 });
    assert.equal(list.json.sales.length, 1);
    assert.deepEqual(
      { ...list.json.sales[0], time_ms: 0 },
      { sale_id: saleId, time_ms: 0, total_minor: 1369, voided: false, refunded_minor: 0, conflict: false },
    );
    const one = await term.api('GET', `/api/v1/sales/${encodeURIComponent(saleId)}`, { token: ann, expect: 200 });
    assert.equal(one.json.sale_id, saleId);
    assert.equal(one.json.time_ms, list.json.sales[0].time_ms);
    assert.equal(one.json.change_minor, 631);
    await term.api('GET', '/api/v1/sales/T1-999999', { token: ann, expect: 404 });
    const st = await term.api('GET', '/api/v1/stock?sku=COF-250', { token: ann, expect: 200 });
    assert.equal(st.json.items[0].stock, 38);
  });

  test('POST returns (supervisor) refunds, then POST void of another sale', async () => {
    const ret = await term.api('POST', `/api/v1/sales/${encodeURIComponent(saleId)}/returns`, {
      token: ann, body: { lines: [{ sku: 'COF-250', qty: 1 }], supervisor: SUE, reason: 'damaged' }, expect: 201,
    });
    // cum(1) = round_half_up(1369 * 1 / 2) = 684.5 -> 685
    assert.equal(ret.json.sale_id, saleId);
    assert.equal(ret.json.refund_minor, 685);
    assert.ok(ret.json.return_id.length > 0);
    assertCashRefund(ret.json, { sale_id: saleId, return_id: ret.json.return_id, refund_minor: 685 });
    let s = await term.api('GET', `/api/v1/sales/${encodeURIComponent(saleId)}`, { token: ann, expect: 200 });
    assert.equal(s.json.refunded_minor, 685);

    const c = (await term.api('POST', '/api/v1/carts', { token: ann, expect: 201 })).json.cart_id;
    await term.api('POST', `/api/v1/carts/${c}/lines`, { token: ann, body: { sku: 'NEWS-D', qty: 2 }, expect: 200 });
    const sale2 = (await term.api('POST', `/api/v1/carts/${c}/checkout`, { token: ann, body: { tendered_minor: 500 }, expect: 201 })).json;
    assert.equal(sale2.total_minor, 500, 'zero-rated: no tax');
    assert.equal(sale2.change_minor, 0);
    const v = await term.api('POST', `/api/v1/sales/${encodeURIComponent(sale2.sale_id)}/void`, {
      token: ann, body: { supervisor: SUE }, expect: 200,
    });
    assertCashRefund(v.json, { sale_id: sale2.sale_id, refund_minor: 500 });
    s = await term.api('GET', `/api/v1/sales/${encodeURIComponent(sale2.sale_id)}`, { token: ann, expect: 200 });
    assert.equal(s.json.voided, true);
    const list = await term.api('GET', '/api/v1/sales', { token: ann, expect: 200 });
    assert.deepEqual(list.json.sales.map((x) => x.sale_id), [sale2.sale_id, saleId], 'newest first');
    const st = await term.api('GET', '/api/v1/stock?sku=NEWS-D', { token: ann, expect: 200 });
    assert.equal(st.json.items[0].stock, 20, 'a void credits the stock back');
  });

  test('DELETE /api/v1/carts/{id} abandons a cart', async () => {
    const c = (await term.api('POST', '/api/v1/carts', { token: ann, expect: 201 })).json.cart_id;
    await term.api('POST', `/api/v1/carts/${c}/lines`, { token: ann, body: { sku: 'MLK-1L' }, expect: 200 });
    await term.api('DELETE', `/api/v1/carts/${c}`, { token: ann, expect: 204 });
    await term.api('GET', `/api/v1/carts/${c}`, { token: ann, expect: 404 });
    await term.api('DELETE', `/api/v1/carts/${c}`, { token: ann, expect: 404 });
    const st = await term.api('GET', '/api/v1/stock?sku=MLK-1L', { token: ann, expect: 200 });
    assert.equal(st.json.items[0].stock, 60, 'an abandoned cart took nothing');
  });

  test('POST /api/v1/drawer/open (supervisor) is audited as an operation', async () => {
    const before = (await term.api('GET', '/api/v1/status', { expect: 200 })).json.ops;
    const r = await term.api('POST', '/api/v1/drawer/open', { token: ann, body: { supervisor: SUE, reason: 'change for the safe' }, expect: 200 });
    assert.equal(r.json.opened, true);
    const afterOps = (await term.api('GET', '/api/v1/status', { expect: 200 })).json.ops;
    assert.equal(afterOps, before + 1);
  });
});

describe('the cash drawer', () => {
  const drawer = async () => (await term.api('GET', '/api/v1/drawer', { token: ann, expect: 200 })).json;

  test('GET /api/v1/drawer holds the cash of the sales less the cash refunds', async () => {
    const d = await drawer();
    assert.equal(d.node_id, 'T1');
    // This file's cash so far: 1369 due (2000 tendered, 631 change) - 685
    // returned + 500 - 500 voided.
    assert.equal(d.cash_minor, 1369 - 685 + 500 - 500);
    assert.deepEqual(d.events, [], 'no float, drop or count yet');
  });

  test('POST float, then count: over_short_minor = counted - expected, the drawer then holds what was counted', async () => {
    const before = (await drawer()).cash_minor;
    const ops = (await term.api('GET', '/api/v1/status', { expect: 200 })).json.ops;
    const f = await term.api('POST', '/api/v1/drawer/float', { token: ann, body: { amount_minor: 10000 }, expect: 200 });
    assert.equal(f.json.node_id, 'T1');
    assert.equal(f.json.cash_minor, before + 10000);
    const expected = before + 10000;
    const over = await term.api('POST', '/api/v1/drawer/count', { token: ann, body: { counted_minor: expected + 37 }, expect: 200 });
    assert.deepEqual(over.json, {
      node_id: 'T1', cash_minor: expected + 37, counted_minor: expected + 37, expected_minor: expected, over_short_minor: 37,
    });
    const short = await term.api('POST', '/api/v1/drawer/count', { token: ann, body: { counted_minor: expected - 120 }, expect: 200 });
    assert.equal(short.json.expected_minor, expected + 37, 'the count before was booked');
    assert.equal(short.json.over_short_minor, expected - 120 - (expected + 37));
    assert.equal(short.json.cash_minor, expected - 120);
    const afterOps = (await term.api('GET', '/api/v1/status', { expect: 200 })).json.ops;
    assert.equal(afterOps, ops + 3, 'each movement is an operation');
  });

  test('POST drop beyond what the drawer holds is 409 and changes nothing; within it, 200', async () => {
    const d = await drawer();
    const r = await term.api('POST', '/api/v1/drawer/drop', { token: ann, body: { amount_minor: d.cash_minor + 1 }, expect: 409 });
    assert.equal(r.json.error.code, 'conflict');
    assert.deepEqual(await drawer(), d, 'a refused drop changes nothing');
    const ok = await term.api('POST', '/api/v1/drawer/drop', { token: ann, body: { amount_minor: 5000 }, expect: 200 });
    assert.equal(ok.json.cash_minor, d.cash_minor - 5000);
    // All of it may go to the safe; then nothing more.
    const all = await term.api('POST', '/api/v1/drawer/drop', { token: ann, body: { amount_minor: ok.json.cash_minor }, expect: 200 });
    assert.equal(all.json.cash_minor, 0);
    await term.api('POST', '/api/v1/drawer/drop', { token: ann, body: { amount_minor: 1 }, expect: 409 });
    const zero = await term.api('POST', '/api/v1/drawer/count', { token: ann, body: { counted_minor: 0 }, expect: 200 });
    assert.equal(zero.json.over_short_minor, 0);
  });

  test('GET /api/v1/drawer lists the movements newest first, naming the cashier', async () => {
    const d = await drawer();
    assert.equal(d.cash_minor, 0);
    assert.deepEqual(d.events.map((e) => [e.action, e.cashier_id, e.node_id]), [
      ['count', 'ann', 'T1'], ['drop', 'ann', 'T1'], ['drop', 'ann', 'T1'], ['count', 'ann', 'T1'],
      ['count', 'ann', 'T1'], ['float', 'ann', 'T1'],
    ]);
    assert.equal(d.events.at(-1).amount_minor, 10000);
    assert.equal(d.events.at(-2).over_short_minor, 37);
    assert.equal(d.events.at(-3).over_short_minor, -157);
    assert.equal(d.events[2].amount_minor, 5000);
    for (let i = 1; i < d.events.length; i++) assert.ok(d.events[i - 1].time_ms >= d.events[i].time_ms, 'newest first');
  });
});

describe('metrics', () => {
  test('GET /metrics is Prometheus text with kassa_sales_total and a latency histogram', async () => {
    const r = await term.api('GET', '/metrics', { expect: 200 });
    assert.match(r.headers.get('content-type'), /^text\/plain/);
    const text = r.text;
    assert.match(text, /^# TYPE kassa_sales_total counter$/m);
    const sales = /^kassa_sales_total (\d+)$/m.exec(text);
    assert.ok(sales, 'kassa_sales_total has a value');
    assert.equal(Number(sales[1]), 2, 'two checkouts so far in this file');
    const hist = /^# TYPE (\w+) histogram$/m.exec(text);
    assert.ok(hist, 'a histogram');
    const h = hist[1];
    assert.match(h, /seconds/, 'latency in seconds, as Prometheus names it');
    const buckets = [...text.matchAll(new RegExp(`^${h}_bucket\\{(?:[^}]*,)?le="([^"]+)"[^}]*\\} (\\d+)$`, 'gm'))];
    assert.ok(buckets.length >= 2, 'buckets');
    assert.equal(buckets.at(-1)[1], '+Inf');
    const counts = buckets.map((b) => Number(b[2]));
    for (let i = 1; i < counts.length; i++) assert.ok(counts[i] >= counts[i - 1], 'buckets are cumulative');
    const count = Number(new RegExp(`^${h}_count(?:\\{[^}]*\\})? (\\d+)$`, 'm').exec(text)?.[1]);
    assert.equal(count, counts.at(-1), '_count equals the +Inf bucket');
    assert.ok(count > 20, 'the requests of this file are counted');
    assert.match(text, new RegExp(`^${h}_sum(?:\\{[^}]*\\})? [0-9.e+-]+$`, 'm'));
    // Every sample line is "name{labels} value".
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      assert.match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*",?)*\})? ([-+0-9.eE]+|NaN|[+-]Inf)$/, `sample line: ${line}`);
    }
  });
});

describe('the static UI', () => {
  test('GET / serves web/index.html as text/html', async () => {
    const r = await fetch(`${term.base}/`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/html/);
    assert.equal(await r.text(), fs.readFileSync(path.join(REPO, 'web', 'index.html'), 'utf8'));
  });

  test('GET /js/api.js serves the file', async () => {
    const r = await fetch(`${term.base}/js/api.js`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /javascript/);
    assert.equal(await r.text(), fs.readFileSync(path.join(REPO, 'web', 'js', 'api.js'), 'utf8'));
  });

  test('a missing static file is 404', async () => {
    const r = await fetch(`${term.base}/no-such-file.html`);
    assert.equal(r.status, 404);
    await r.arrayBuffer();
  });

  const TRAVERSALS = [
    '/../../etc/passwd',
    '/../../../../../../etc/passwd',
    '/js/../../../etc/passwd',
    '/%2e%2e/%2e%2e/etc/passwd',
    '/%2E%2E/%2E%2E/%2E%2E/%2E%2E/etc/passwd',
    '/..%2f..%2f..%2f..%2fetc%2fpasswd',
    '/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd',
    '/js/%2e%2e/%2e%2e/docs/api/openapi.yaml',
    '/../docs/api/openapi.yaml',
    '/%2e%2e/docs/api/openapi.yaml',
    '/....//....//etc/passwd',
    '/%252e%252e/%252e%252e/etc/passwd',
    '/..\\..\\etc\\passwd',
  ];
  for (const target of TRAVERSALS) {
    test(`traversal ${target} is refused`, async () => {
      const r = await rawHttp(term.port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      assert.ok([400, 403, 404].includes(r.status), `status ${r.status} for ${target}:\n${r.head}`);
      assert.doesNotMatch(r.body, /root:.*:0:0:/, 'no /etc/passwd');
      assert.doesNotMatch(r.body, /openapi: 3/, 'nothing from outside the web root');
    });
  }

  test('an absolute-form request target outside the web root is refused', async () => {
    const r = await rawHttp(term.port, `GET http://127.0.0.1:${term.port}/../../etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    assert.ok([400, 403, 404].includes(r.status), `status ${r.status}:\n${r.head}`);
    assert.doesNotMatch(r.body, /root:.*:0:0:/);
  });
});

describe('routes the document does not have', () => {
  const UNKNOWN = [
    ['GET', '/api/v1/nope'],
    ['GET', '/api/v2/status'],
    ['POST', '/api/v1/carts/x/y/z'],
    ['GET', '/api/v1/catalog/barcode'],
    ['GET', '/api/v1/sales/x/void/again'],
    ['DELETE', '/api/v1/sessions/current/x'],
    ['GET', '/api'],
    ['GET', '/api/v1'],
  ];
  for (const [method, p] of UNKNOWN) {
    test(`${method} ${p} is 404 with the error shape`, async () => {
      await term.api(method, p, { token: ann, expect: 404 });
    });
  }

  test('every documented path answers 405 (error shape) to the methods it does not have', async () => {
    const fill = (tpl) => tpl.replace(/\{[^}]+\}/g, 'x1');
    let n = 0;
    for (const [tpl, item] of Object.entries(SPEC.paths)) {
      for (const m of METHODS) {
        if (item[m]) continue;
        const method = m.toUpperCase();
        const body = method === 'GET' || method === 'DELETE' ? undefined : {};
        await term.api(method, fill(tpl), { token: ann, body, expect: 405 });
        n++;
      }
    }
    assert.ok(n > 40);
  });
});

describe('card payments (payment simulators)', () => {
  // A terminal of its own, wired to a throwaway reader and processor; the
  // reader gives up after 300 ms, an offline payment may be 10.00 at most.
  let card; // {term, sims, stop}
  let t;
  let cashier; // ann's token on this terminal
  let sup; // sue's (supervisor) token
  before(async () => {
    card = await startCardTerminal({ payments: { reader_timeout_ms: 300, offline_max_amount_minor: 1000 } });
    t = card.term;
    cashier = await t.login('ann', '1111');
    sup = await t.login('sue', '9999');
  });
  after(async () => {
    await card?.stop();
  });

  const pay = (cartId, body, expect) => t.api('POST', `/api/v1/carts/${cartId}/checkout`, { token: cashier, body, expect });
  const sale = async (id) => (await t.api('GET', `/api/v1/sales/${encodeURIComponent(id)}`, { token: cashier, expect: 200 })).json;
  const salesCount = async () => (await t.api('GET', '/api/v1/status', { expect: 200 })).json.sales;
  /** A refused card payment: the error's shape and details; the cart and the sales untouched. */
  async function refused(cart, body, status, reason) {
    const sales = await salesCount();
    const r = await pay(cart.cart_id, body, status);
    assert.equal(r.json.error.reason, reason, r.text);
    assert.ok(r.json.error.payment_id.length > 0, 'names the payment');
    assert.notEqual(r.json.error.override_possible, true, r.text);
    assert.equal(await salesCount(), sales, 'nothing sold');
    const again = await t.api('GET', `/api/v1/carts/${cart.cart_id}`, { token: cashier, expect: 200 });
    assert.deepEqual(again.json, cart, 'the cart stays as it was');
    return r;
  }

  // Between card actions the tests wait for the forwarder to be idle
  // (waitForwarded): kassad loses a forwarding request made while a pass is
  // running (kd_pay_kick in src/kassad/pay.c), and what it was for then
  // waits for the next one.
  let onlineSale; // paid by card in full (mastercard)
  let splitSale; // 5.00 by card (visa), the rest in cash

  test('GET /api/v1/status: payments with a reader and a processor, nothing waiting', async () => {
    const p = (await t.api('GET', '/api/v1/status', { expect: 200 })).json.payments;
    assert.equal(p.reader, true);
    assert.ok(['unknown', 'online'].includes(p.processor), p.processor);
    assert.equal(p.pending_count, 0);
    assert.equal(p.due_count, 0);
    assert.equal(p.review_count, 0);
  });

  test('POST checkout with card_minor = total: 201, a Sale with its card, captured by the processor', async () => {
    const cart = await openCart(t, cashier, [{ sku: 'COF-250', qty: 1 }]);
    card.sims.present(CARDS.mastercard);
    const r = await pay(cart.cart_id, { tendered_minor: 0, card_minor: cart.total_minor }, 201);
    onlineSale = r.json;
    assert.equal(onlineSale.total_minor, cart.total_minor);
    assert.equal(onlineSale.tendered_minor, 0);
    assert.equal(onlineSale.cash_due_minor, 0);
    assert.equal(onlineSale.rounding_minor, 0);
    assert.equal(onlineSale.change_minor, 0);
    const c = onlineSale.card;
    assert.ok(c.payment_id.length > 0);
    assert.ok(c.auth_code.length > 0, 'an online approval has its code');
    assert.deepEqual({ ...c, payment_id: '', auth_code: '' }, {
      payment_id: '', amount_minor: cart.total_minor, brand: 'mastercard', last4: '4444', exp_month: 12,
      exp_year: 2039, mode: 'online', auth_code: '', status: 'approved', refunded_minor: 0,
    });
    assert.doesNotMatch(r.text, new RegExp(CARDS.mastercard), 'never the card number');
    assert.deepEqual((await sale(onlineSale.sale_id)).card, c);
    await t.api('GET', `/api/v1/carts/${cart.cart_id}`, { token: cashier, expect: 404 });
    await waitForwarded(t, cashier);
    const proc = await card.sims.payment(c.payment_id);
    assert.equal(proc.status, 200);
    assert.equal(proc.body.captured_minor, cart.total_minor, 'captured once');
    assert.equal(proc.body.captures, 1);
  });

  test('POST checkout split: card_minor and cash for the rest', async () => {
    const cart = await openCart(t, cashier, [{ sku: 'COF-250', qty: 1 }, { sku: 'NEWS-D', qty: 1 }]);
    assert.equal(cart.total_minor, 685 + 250);
    card.sims.present(CARDS.visa);
    // The cash must cover what the card does not: 500 by card, 400 cash is short.
    await pay(cart.cart_id, { tendered_minor: 400, card_minor: 500 }, 409);
    await pay(cart.cart_id, { tendered_minor: 0, card_minor: cart.total_minor + 1 }, 409);
    const r = await pay(cart.cart_id, { tendered_minor: 500, card_minor: 500 }, 201);
    splitSale = r.json;
    assert.equal(splitSale.cash_due_minor, 935 - 500);
    assert.equal(splitSale.change_minor, 500 - 435);
    assert.equal(splitSale.card.amount_minor, 500);
    assert.equal(splitSale.card.last4, '1111');
    assert.equal(splitSale.card.mode, 'online');
    await waitForwarded(t, cashier);
    assert.equal((await card.sims.payment(splitSale.card.payment_id)).body.captured_minor, 500);
  });

  test('POST void of a card sale refunds the card; returns refund the card first, then cash', async () => {
    const v = await t.api('POST', `/api/v1/sales/${encodeURIComponent(onlineSale.sale_id)}/void`, {
      token: cashier, body: { supervisor: SUE, reason: 'card test' }, expect: 200,
    });
    assert.equal(v.json.sale_id, onlineSale.sale_id);
    assert.equal(v.json.refund_minor, onlineSale.total_minor);
    assert.equal(v.json.refund_card_minor, onlineSale.total_minor);
    assert.equal(v.json.refund_cash_minor, 0);
    assert.ok(v.json.card_refund_id.length > 0);
    assert.equal(v.json.card_last4, '4444');
    assert.equal(v.json.card_brand, 'mastercard');
    await waitForwarded(t, cashier);
    assert.equal((await card.sims.payment(onlineSale.card.payment_id)).body.refunded_minor, onlineSale.total_minor);

    const ret = (lines) => t.api('POST', `/api/v1/sales/${encodeURIComponent(splitSale.sale_id)}/returns`, {
      token: cashier, body: { lines, supervisor: SUE }, expect: 201,
    });
    const news = (await ret([{ sku: 'NEWS-D', qty: 1 }])).json;
    assert.deepEqual([news.refund_minor, news.refund_card_minor, news.refund_cash_minor], [250, 250, 0]);
    assert.ok(news.card_refund_id.length > 0);
    assert.deepEqual([news.card_last4, news.card_brand], ['1111', 'visa']);
    await waitForwarded(t, cashier);
    const cof = (await ret([{ sku: 'COF-250', qty: 1 }])).json;
    assert.deepEqual([cof.refund_minor, cof.refund_card_minor, cof.refund_cash_minor], [685, 500 - 250, 685 - 250]);
    assert.notEqual(cof.card_refund_id, news.card_refund_id);

    await waitForwarded(t, cashier);
    assert.equal((await card.sims.payment(splitSale.card.payment_id)).body.refunded_minor, 500);
    const s = await sale(splitSale.sale_id);
    assert.equal(s.card.refunded_minor, 500);
    assert.equal(s.refunded_minor, 935);
  });

  test('402: a declined card (stolen_card) and an expired card; nothing sold, the cart stays', async () => {
    const cart = await openCart(t, cashier, [{ sku: 'TEA-GR', qty: 1 }]);
    card.sims.present(CARDS.stolen);
    const r = await refused(cart, { tendered_minor: 0, card_minor: cart.total_minor }, 402, 'stolen_card');
    assert.equal(r.json.error.code, 'payment_declined');
    card.sims.present(CARDS.visa, '01/20');
    await refused(cart, { tendered_minor: 0, card_minor: cart.total_minor }, 402, 'expired_card');
    await t.api('DELETE', `/api/v1/carts/${cart.cart_id}`, { token: cashier, expect: 204 });
  });

  test('502: the reader times out, cannot read the card, the card is removed, the reader is down; then cash pays', async () => {
    const cart = await openCart(t, cashier, [{ sku: 'TEA-GR', qty: 2 }]);
    const body = { tendered_minor: 0, card_minor: cart.total_minor };
    card.sims.present({ behaviour: 'timeout' });
    const t0 = Date.now();
    const r = await refused(cart, body, 502, 'timeout');
    assert.equal(r.json.error.code, 'payment_error');
    assert.ok(Date.now() - t0 >= 250, 'the reader waited for its timeout (300 ms)');
    card.sims.present(CARDS.badCheckDigit);
    await refused(cart, body, 502, 'unreadable');
    card.sims.present({ behaviour: 'remove' });
    await refused(cart, body, 502, 'cancelled');
    await stopReader(card.sims);
    try {
      await refused(cart, body, 502, 'reader_unavailable');
    } finally {
      await startReader(card.sims);
    }
    const s = (await pay(cart.cart_id, { tendered_minor: 1000 }, 201)).json;
    assert.equal(s.card, null, 'a cash sale has no card');
    assert.equal(s.change_minor, 1000 - cart.total_minor);
  });

  let review; // what declinedOffline() returned

  test('offline: the processor down, a card payment is stored (201, mode offline); beyond the limit 402 unless a manager allows it', async () => {
    let limited;
    let overridden;
    review = await declinedOffline(t, card.sims, {
      token: cashier,
      reviewer: sup,
      whileOffline: async () => {
        const cart = await openCart(t, cashier, [{ sku: 'MUG-KS', qty: 1 }]); // 11.99 > 10.00
        const body = { tendered_minor: 0, card_minor: cart.total_minor };
        // A supervisor is not enough (checked before the card is asked for).
        const sue = await pay(cart.cart_id, { ...body, manager: SUE }, 403);
        assert.equal(sue.json.error.code, 'forbidden');
        card.sims.present(CARDS.visa2);
        limited = (await pay(cart.cart_id, body, 402)).json.error;
        card.sims.present(CARDS.visa2);
        overridden = (await pay(cart.cart_id, { ...body, manager: MAX }, 201)).json;
      },
    });
    const { sale: s, pending } = review;
    assert.deepEqual({ ...s.card, payment_id: '' }, {
      payment_id: '', amount_minor: s.total_minor, brand: 'visa', last4: '9995', exp_month: 12, exp_year: 2039,
      mode: 'offline', auth_code: '', status: 'stored', refunded_minor: 0,
    });
    assert.equal(pending.processor, 'offline');
    assert.equal(pending.pending_count, 1);
    assert.equal(pending.pending_amount_minor, s.total_minor);
    assert.ok(pending.oldest_pending_ms > 0);
    const row = pending.payments.find((p) => p.payment_id === s.card.payment_id);
    assert.deepEqual({ ...row, stored_ms: 0, attempts: 0, last_error: '' }, {
      payment_id: s.card.payment_id, kind: 'payment', step: 'stored', amount_minor: s.total_minor,
      brand: 'visa', last4: '9995', stored_ms: 0, attempts: 0, last_error: '',
    });
    assert.equal(limited.code, 'payment_declined');
    assert.equal(limited.reason, 'offline_limit');
    assert.equal(limited.override_possible, true);
    assert.equal(overridden.card.mode, 'offline');
    assert.equal(overridden.card.status, 'stored');
  });

  test('POST /api/v1/payments/forward (202); the processor declines the stored payment: a review item', async () => {
    const { sale: s, forward, item, after: done } = review;
    assert.equal(forward.forwarding, true);
    assert.deepEqual({ ...item, decided_ms: 0 }, {
      payment_id: s.card.payment_id, kind: 'payment', refunds_payment_id: '', sale_id: s.sale_id,
      amount_minor: s.total_minor, brand: 'visa', last4: '9995', outcome: 'declined', reason: 'insufficient_funds',
      decided_ms: 0, resolved: false, resolved_by: '', resolution_note: '',
    });
    assert.ok(item.decided_ms > 0);
    assert.equal(done.processor, 'online');
    assert.equal(done.pending_count, 0);
    assert.equal(done.review_count, 1);
    assert.ok(done.last_forward_ms > 0);
    assert.equal((await sale(s.sale_id)).card.status, 'declined');
    // The manager's override was approved when forwarded, charged once.
    const sales = (await t.api('GET', '/api/v1/sales?limit=1', { token: cashier, expect: 200 })).json.sales;
    const over = await sale(sales[0].sale_id);
    assert.equal(over.card.mode, 'offline');
    assert.equal(over.card.status, 'approved');
    const proc = await card.sims.payment(over.card.payment_id);
    assert.equal(proc.body.captured_minor, over.total_minor);
    // A sale whose card was declined is for the review list, not the till.
    await t.api('POST', `/api/v1/sales/${encodeURIComponent(s.sale_id)}/void`, { token: cashier, body: { supervisor: SUE }, expect: 409 });
  });

  test('the review list: 403 for a cashier; resolving needs a manager (403 for a supervisor), then 200', async () => {
    const { sale: s } = review;
    const id = s.card.payment_id;
    const path = `/api/v1/payments/review/${encodeURIComponent(id)}/resolve`;
    const r = await t.api('GET', '/api/v1/payments/review', { token: cashier, expect: 403 });
    assert.equal(r.json.error.code, 'forbidden');
    const bySue = await t.api('POST', path, { token: cashier, body: { manager: SUE, note: 'customer paid cash' }, expect: 403 });
    assert.equal(bySue.json.error.code, 'forbidden');
    let list = (await t.api('GET', '/api/v1/payments/review', { token: sup, expect: 200 })).json.payments;
    assert.deepEqual(list.map((p) => [p.payment_id, p.resolved]), [[id, false]], 'still open');
    const ok = await t.api('POST', path, { token: cashier, body: { manager: MAX, note: 'customer paid cash' }, expect: 200 });
    assert.deepEqual({ ...ok.json, decided_ms: 0 }, { ...review.item, decided_ms: 0, resolved: true, resolved_by: 'max', resolution_note: 'customer paid cash' });
    list = (await t.api('GET', '/api/v1/payments/review', { token: sup, expect: 200 })).json.payments;
    assert.deepEqual(list, [], 'resolved items are left out by default');
    list = (await t.api('GET', '/api/v1/payments/review?all=1', { token: sup, expect: 200 })).json.payments;
    assert.deepEqual(list, [ok.json]);
    await t.api('POST', path, { token: cashier, body: { manager: MAX, note: 'again' }, expect: 409 });
    await t.api('POST', '/api/v1/payments/review/T1.P999/resolve', { token: cashier, body: { manager: MAX, note: 'x' }, expect: 404 });
    assert.equal((await t.api('GET', '/api/v1/status', { expect: 200 })).json.payments.review_count, 0);
    assert.equal((await sale(s.sale_id)).card.status, 'declined', 'the sale still says what happened');
  });
});

describe('cash rounding (CHF to 0.05)', () => {
  let chf;
  let tok;
  before(async () => {
    chf = await startTerminal({ setup: [['currency', 'CHF', '--rounding', '5']] });
    tok = await chf.login('ann', '1111');
  });
  after(async () => {
    await chf?.stop();
  });
  const pay = (cartId, body, expect) => chf.api('POST', `/api/v1/carts/${cartId}/checkout`, { token: tok, body, expect });
  const drawerCash = async () => (await chf.api('GET', '/api/v1/drawer', { token: tok, expect: 200 })).json.cash_minor;

  test('odd totals: the cash due is rounded (halves up), rounding_minor and change follow, the drawer takes the cash due', async () => {
    // GFT-10 0.99 standard: x3 = 297 + round(59.4) = 356 -> 3.55 (rounding -1).
    const down = await openCart(chf, tok, [{ sku: 'GFT-10', qty: 3 }]);
    assert.equal(down.total_minor, 356);
    assert.equal(down.cash_total_minor, 355, 'the cart tells what it costs in cash');
    await pay(down.cart_id, { tendered_minor: 354 }, 409);
    const a = (await pay(down.cart_id, { tendered_minor: 500 }, 201)).json;
    assert.deepEqual([a.total_minor, a.cash_due_minor, a.rounding_minor, a.tendered_minor, a.change_minor, a.card], [356, 355, -1, 500, 145, null]);
    // x1 = 99 + round(19.8) = 119 -> 1.20 (rounding +1): 1.19 is not enough.
    const up = await openCart(chf, tok, [{ sku: 'GFT-10', qty: 1 }]);
    assert.equal(up.total_minor, 119);
    assert.equal(up.cash_total_minor, 120);
    await pay(up.cart_id, { tendered_minor: 119 }, 409);
    const b = (await pay(up.cart_id, { tendered_minor: 120 }, 201)).json;
    assert.deepEqual([b.total_minor, b.cash_due_minor, b.rounding_minor, b.change_minor], [119, 120, 1, 0]);
    assert.deepEqual((await chf.api('GET', `/api/v1/sales/${encodeURIComponent(a.sale_id)}`, { token: tok, expect: 200 })).json.rounding_minor, -1);
    assert.equal(await drawerCash(), 355 + 120);
    // A void gives back what the sale took: the cash due.
    const v = (await chf.api('POST', `/api/v1/sales/${encodeURIComponent(a.sale_id)}/void`, { token: tok, body: { supervisor: SUE }, expect: 200 })).json;
    assert.deepEqual([v.refund_minor, v.refund_cash_minor, v.refund_card_minor], [356, 355, 0]);
    assert.equal(await drawerCash(), 120);
  });

  test('a card checkout without a reader configured is 409', async () => {
    const cart = await openCart(chf, tok, [{ sku: 'GFT-10', qty: 1 }]);
    const r = await pay(cart.cart_id, { tendered_minor: 0, card_minor: 119 }, 409);
    assert.equal(r.json.error.code, 'conflict');
  });
});

describe('product recognition (no model installed here: fallbacks)', () => {
  test('POST /api/v1/recognize answers a fallback to the barcode; POST .../confirm records the answer once', async () => {
    const png = fs.readFileSync(path.join(REPO, 'tests', 'fixtures', 'products', 'barcode_COF-250_4006381333931.png'));
    const r = (await term.api('POST', '/api/v1/recognize', { token: ann, rawBody: png, headers: { 'content-type': 'image/png' }, expect: 200 })).json;
    assert.equal(r.fallback, 'barcode');
    assert.equal(r.barcode.sku, 'COF-250');
    const c = (await term.api('POST', `/api/v1/recognize/${r.decision_id}/confirm`, { token: ann, body: { sku: 'COF-250' }, expect: 200 })).json;
    assert.deepEqual(c, { decision_id: r.decision_id, accepted: false });
    await term.api('POST', `/api/v1/recognize/${r.decision_id}/confirm`, { token: ann, body: {}, expect: 404 });
  });
});

describe('the review list (no fraud model here: scoring disabled, selling goes on)', () => {
  test('GET /api/v1/review: 403 for a cashier, the alert; an oversold SKU is a triage item; POST .../resolve accepts it once', async () => {
    const sup = await term.login('sue', '9999');
    await term.api('GET', '/api/v1/review', { token: ann, expect: 403 });
    let r = (await term.api('GET', '/api/v1/review', { token: sup, expect: 200 })).json;
    assert.equal(r.fraud.state, 'disabled');
    assert.match(r.fraud.reason, /no model installed/);
    assert.deepEqual(r.alerts.map((a) => a.kind), ['fraud_scoring_disabled']);
    assert.equal((await term.api('GET', '/api/v1/status', { expect: 200 })).json.fraud.state, 'disabled');
    // FLW-TL: 8 in stock, 9 sold.
    const cart = await openCart(term, ann, [{ sku: 'FLW-TL', qty: 9 }]);
    const sale = (await term.api('POST', `/api/v1/carts/${cart.cart_id}/checkout`, { token: ann, body: { tendered_minor: cart.total_minor }, expect: 201 })).json;
    r = (await term.api('GET', '/api/v1/review', { token: sup, expect: 200 })).json;
    const item = r.triage.find((i) => i.sku === 'FLW-TL');
    assert.deepEqual([item.id, item.stock, item.shortfall, item.total_sales, item.resolved], ['stock:FLW-TL', -1, 1, 1, false]);
    assert.deepEqual(item.sales.map((s) => [s.sale_id, s.qty, s.risk, s.cashier_id]), [[sale.sale_id, 9, null, 'ann']]);
    const path = '/api/v1/review/stock:FLW-TL/resolve';
    await term.api('POST', path, { token: ann, body: { action: 'accept', supervisor: { id: 'ann', pin: '1111' } }, expect: 403 });
    await term.api('POST', path, { token: ann, body: { action: 'accept', supervisor: { id: 'sue', pin: '0000' } }, expect: 401 });
    await term.api('POST', path, { token: ann, body: { action: 'adjust', supervisor: SUE }, expect: 400 });
    await term.api('POST', path, { token: ann, body: { action: 'void', supervisor: SUE }, expect: 400 });
    const ok = (await term.api('POST', path, { token: ann, body: { action: 'accept', note: 'shelf miscounted', supervisor: SUE }, expect: 200 })).json;
    assert.deepEqual(ok, { id: 'stock:FLW-TL', action: 'accept', by: 'sue', note: 'shelf miscounted', sale_id: '', counted: 0 });
    await term.api('POST', path, { token: ann, body: { action: 'accept', supervisor: SUE }, expect: 409 });
    await term.api('POST', '/api/v1/review/stock:MUF-BB/resolve', { token: ann, body: { action: 'accept', supervisor: SUE }, expect: 404 });
    await term.api('POST', '/api/v1/review/fraud:T1-1/resolve', { token: ann, body: { action: 'accept', supervisor: SUE }, expect: 404 });
    r = (await term.api('GET', '/api/v1/review', { token: sup, expect: 200 })).json;
    assert.equal(r.triage.find((i) => i.sku === 'FLW-TL'), undefined, 'resolved: off the open list');
    r = (await term.api('GET', '/api/v1/review?all=1&limit=10', { token: sup, expect: 200 })).json;
    const done = r.triage.find((i) => i.sku === 'FLW-TL');
    assert.deepEqual([done.resolved, done.resolution.action, done.resolution.by, done.resolution.note, done.resolution.node_id], [true, 'accept', 'sue', 'shelf miscounted', 'T1']);
    await term.api('GET', '/api/v1/review?limit=0', { token: sup, expect: 400 });
  });
});

describe('voice ordering', () => {
  test('POST /api/v1/voice proposes; POST .../confirm applies to a new cart; POST .../cancel records a cancel', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kassa-voice-'));
    try {
      const wav = (text, name) => {
        execFileSync('espeak-ng', ['-v', 'en-us', '-w', path.join(dir, `${name}.raw`), text]);
        execFileSync('sox', [path.join(dir, `${name}.raw`), '-t', 'wav', '-r', '16000', '-c', '1', '-b', '16', path.join(dir, `${name}.wav`)]);
        return fs.readFileSync(path.join(dir, `${name}.wav`));
      };
      const send = (bytes) => term.api('POST', '/api/v1/voice', { token: ann, rawBody: bytes, headers: { 'content-type': 'audio/wav' }, expect: 200 });
      const p = (await send(wav('two blueberry muffins', 'a'))).json;
      assert.equal(p.status, 'heard', JSON.stringify(p));
      const cart = (await term.api('POST', `/api/v1/voice/${p.proposal_id}/confirm`, { token: ann, body: {}, expect: 200 })).json;
      assert.deepEqual(cart.lines.map(({ sku, qty }) => [sku, qty]), [['MUF-BB', 2]]);
      const q = (await send(wav('a butter croissant', 'b'))).json;
      await term.api('POST', `/api/v1/voice/${q.proposal_id}/cancel`, { token: ann, expect: 200 });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('coverage of the document', () => {
  test('every operation of the document was answered with a documented success in this file', () => {
    assert.equal(OPERATIONS.length, 38, 'operations in openapi.yaml (update when the document grows)');
    assert.deepEqual(uncovered(coverage.succeeded), []);
  });
});
