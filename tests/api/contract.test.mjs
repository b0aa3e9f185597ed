// Every route of docs/api/openapi.yaml answers with its documented success
// shape; routes the document does not have answer 404/405 with the error
// shape; /metrics, /api/v1/status, the static UI and path traversal.
// The last test checks that this file exercised every operation of the
// document with a success answer.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  METHODS, OPERATIONS, REPO, SPEC, SUPPORTED_KEYWORDS, allSchemas, coverage, deref, rawHttp,
  startTerminal, uncovered, validate,
} from './harness.mjs';

let term;
let ann; // cashier token
const SUE = { id: 'sue', pin: '9999' };

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
    assert.deepEqual(validate(cart, { cart_id: 'c', lines: [], subtotal_minor: 0, discount_minor: 0, tax_minor: 0, total_minor: 0 }), []);
    assert.equal(validate(cart, { cart_id: 'c', lines: [], subtotal_minor: 1.5, discount_minor: 0, tax_minor: 0, total_minor: 0 }).length, 1);
    assert.equal(validate(cart, { cart_id: 'c', lines: [{}], subtotal_minor: 0, discount_minor: 0, tax_minor: 0 }).length, 9);
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
});

describe('carts, checkout, sales', () => {
  let cartId;
  let saleId;

  test('POST /api/v1/carts opens an empty cart; GET shows it', async () => {
    const r = await term.api('POST', '/api/v1/carts', { token: ann, expect: 201 });
    assert.deepEqual(r.json, {
      cart_id: r.json.cart_id, lines: [], subtotal_minor: 0, discount_minor: 0, tax_minor: 0, total_minor: 0,
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
    assert.deepEqual(v.json, { sale_id: sale2.sale_id, refund_minor: 500 });
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

describe('coverage of the document', () => {
  test('every operation of the document was answered with a documented success in this file', () => {
    assert.equal(OPERATIONS.length, 22, 'operations in openapi.yaml (update when the document grows)');
    assert.deepEqual(uncovered(coverage.succeeded), []);
  });
});
