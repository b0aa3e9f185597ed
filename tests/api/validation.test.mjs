// Every request body the document makes invalid answers 400 with the error
// shape, and changes nothing: malformed JSON, wrong types (a string, a float
// or null for an integer, ...), values out of the documented range, missing
// required fields, unknown fields (additionalProperties: false), at the top
// level and inside nested objects and arrays. The invalid bodies are derived
// from each operation's request schema in docs/api/openapi.yaml; after each
// one the terminal's state (status ops and sales, sales list, stock, the
// cart concerned, the session count, the drawer, the review list) must be
// what it was. The terminal has the payment simulators (tests/lib/paysims.mjs)
// so that a review item exists to be resolved.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  MALFORMED_JSON, OPERATIONS, REPO, assertUnchanged, deref, invalidRequestBodies, needsBearer, requestSchema,
} from './harness.mjs';
import { CARDS, declinedOffline, openCart, startCardTerminal } from './payflow.mjs';

let card; // {term, sims, stop}
let term;
let ann;
let sue; // a supervisor's token: the review list
let reviewId; // an offline card payment declined when forwarded (resolved by a target)
let spareReviewId; // another one, left open
let cartId; // ann's cart with COF-250 x2 and MUG-KS x1 (price overridden later)
let saleId; // a sale of COF-250 x3, NEWS-D x1 (returns)
let voidId; // a sale of BAG-CL x1 (void: a sale with returns cannot be voided)
let decisionId; // a recognition waiting for the cashier's answer
let proposalId; // a voice proposal (two muffins) waiting for the cashier's answer
const SUE = { id: 'sue', pin: '9999' };
const MAX = { id: 'max', pin: '8888' };

const opOf = (method, template) => OPERATIONS.find((o) => o.method === method && o.template === template);

before(async () => {
  card = await startCardTerminal();
  term = card.term;
  ann = await term.login('ann', '1111');
  sue = await term.login('sue', '9999');
  // Two review items: offline card payments the processor declines.
  let spare;
  const { item } = await declinedOffline(term, card.sims, {
    token: ann,
    reviewer: sue,
    whileOffline: async () => {
      const cart = await openCart(term, ann, [{ sku: 'TEA-GR', qty: 1 }]);
      card.sims.present(CARDS.insufficientFunds);
      spare = (await term.api('POST', `/api/v1/carts/${cart.cart_id}/checkout`, {
        token: ann, body: { tendered_minor: 0, card_minor: cart.total_minor }, expect: 201,
      })).json;
    },
  });
  reviewId = item.payment_id;
  spareReviewId = spare.card.payment_id;
  const open = (await term.api('GET', '/api/v1/payments/review', { token: sue, expect: 200 })).json.payments;
  assert.deepEqual(open.map((p) => p.payment_id).sort(), [reviewId, spareReviewId].sort());
  cartId = (await term.api('POST', '/api/v1/carts', { token: ann, expect: 201 })).json.cart_id;
  await term.api('POST', `/api/v1/carts/${cartId}/lines`, { token: ann, body: { sku: 'COF-250', qty: 2 }, expect: 200 });
  await term.api('POST', `/api/v1/carts/${cartId}/lines`, { token: ann, body: { sku: 'MUG-KS' }, expect: 200 });
  const c = (await term.api('POST', '/api/v1/carts', { token: ann, expect: 201 })).json.cart_id;
  await term.api('POST', `/api/v1/carts/${c}/lines`, { token: ann, body: { sku: 'COF-250', qty: 3 }, expect: 200 });
  await term.api('POST', `/api/v1/carts/${c}/lines`, { token: ann, body: { sku: 'NEWS-D', qty: 1 }, expect: 200 });
  saleId = (await term.api('POST', `/api/v1/carts/${c}/checkout`, { token: ann, body: { tendered_minor: 5000 }, expect: 201 })).json.sale_id;
  const c2 = (await term.api('POST', '/api/v1/carts', { token: ann, expect: 201 })).json.cart_id;
  await term.api('POST', `/api/v1/carts/${c2}/lines`, { token: ann, body: { sku: 'BAG-CL' }, expect: 200 });
  voidId = (await term.api('POST', `/api/v1/carts/${c2}/checkout`, { token: ann, body: { tendered_minor: 500 }, expect: 201 })).json.sale_id;
  // a triage item to resolve: FLW-TL oversold (8 in stock, 9 sold)
  const c3 = (await term.api('POST', '/api/v1/carts', { token: ann, expect: 201 })).json.cart_id;
  await term.api('POST', `/api/v1/carts/${c3}/lines`, { token: ann, body: { sku: 'FLW-TL', qty: 9 }, expect: 200 });
  await term.api('POST', `/api/v1/carts/${c3}/checkout`, { token: ann, body: { tendered_minor: 100000 }, expect: 201 });
  // a recognition waiting for the cashier's answer (no model here: a fallback)
  const png = fs.readFileSync(path.join(REPO, 'tests', 'fixtures', 'products', 'barcode_COF-250_4006381333931.png'));
  // a voice proposal waiting for the cashier's answer
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kassa-voice-'));
  try {
    execFileSync('espeak-ng', ['-v', 'en-us', '-w', path.join(dir, 'o.raw'), 'two blueberry muffins']);
    execFileSync('sox', [path.join(dir, 'o.raw'), '-t', 'wav', '-r', '16000', '-c', '1', '-b', '16', path.join(dir, 'o.wav')]);
    const wav = fs.readFileSync(path.join(dir, 'o.wav'));
    proposalId = (await term.api('POST', '/api/v1/voice', { token: ann, rawBody: wav, headers: { 'content-type': 'audio/wav' }, expect: 200 })).json.proposal_id;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  decisionId = (await term.api('POST', '/api/v1/recognize', { token: ann, rawBody: png, headers: { 'content-type': 'image/png' }, expect: 200 })).json.decision_id;
});
after(async () => {
  await card?.stop();
});

async function state() {
  const snap = await term.snapshot(ann, { carts: [{ id: cartId }] });
  snap.sale = (await term.api('GET', `/api/v1/sales/${encodeURIComponent(saleId)}`, { token: ann, expect: 200 })).json;
  snap.voidSale = (await term.api('GET', `/api/v1/sales/${encodeURIComponent(voidId)}`, { token: ann, expect: 200 })).json;
  snap.sessions = await term.metric('kassa_sessions');
  snap.drawer = (await term.api('GET', '/api/v1/drawer', { token: ann, expect: 200 })).json;
  snap.review = (await term.api('GET', '/api/v1/payments/review?all=1', { token: sue, expect: 200 })).json;
  return snap;
}

// [method, template, path, valid bodies]: the valid bodies are sent last and
// must succeed, which shows that the invalid ones failed for what was
// changed in them.
const TARGETS = () => [
  ['POST', '/api/v1/carts', '/api/v1/carts', [{}], 201],
  ['POST', '/api/v1/sessions', '/api/v1/sessions', [{ cashier_id: 'bob', pin: '2222' }], 201],
  ['POST', '/api/v1/carts/{cart_id}/lines', `/api/v1/carts/${cartId}/lines`, [{ sku: 'COF-250', qty: 2 }, { barcode: '4006381333931', qty: 1 }], 200],
  ['PATCH', '/api/v1/carts/{cart_id}/lines/{sku}', `/api/v1/carts/${cartId}/lines/COF-250`, [{ qty: 3, discount: { percent: '10' } }, { discount: { amount_minor: 100 } }], 200],
  ['PATCH', '/api/v1/carts/{cart_id}/lines/{sku}', `/api/v1/carts/${cartId}/lines/MUG-KS`, [{ price_override_minor: 500, supervisor: SUE }], 200],
  ['POST', '/api/v1/sales/{sale_id}/returns', `/api/v1/sales/${encodeURIComponent(saleId)}/returns`, [{ lines: [{ sku: 'COF-250', qty: 1 }], supervisor: SUE, reason: 'damaged' }], 201],
  ['POST', '/api/v1/drawer/open', '/api/v1/drawer/open', [{ supervisor: SUE, reason: 'float check' }], 200],
  ['POST', '/api/v1/drawer/float', '/api/v1/drawer/float', [{ amount_minor: 2000 }], 200],
  ['POST', '/api/v1/drawer/drop', '/api/v1/drawer/drop', [{ amount_minor: 500 }], 200],
  ['POST', '/api/v1/drawer/count', '/api/v1/drawer/count', [{ counted_minor: 1234 }], 200],
  ['POST', '/api/v1/voice/{proposal_id}/confirm', `/api/v1/voice/${proposalId}/confirm`, [{ cart_id: cartId }], 200],
  ['POST', '/api/v1/recognize/{decision_id}/confirm', `/api/v1/recognize/${decisionId}/confirm`, [{ sku: 'COF-250' }], 200],
  ['POST', '/api/v1/payments/review/{payment_id}/resolve', `/api/v1/payments/review/${encodeURIComponent(reviewId)}/resolve`,
    [{ manager: MAX, note: 'the customer paid in cash' }], 200],
  ['POST', '/api/v1/review/{review_id}/resolve', '/api/v1/review/stock:FLW-TL/resolve',
    [{ action: 'accept', note: 'miscounted', supervisor: SUE }], 200],
  // Last: a void ends the sale; the checkout ends the cart.
  ['POST', '/api/v1/sales/{sale_id}/void', `/api/v1/sales/${encodeURIComponent(voidId)}/void`, [{ supervisor: SUE, reason: 'test' }], 200],
  ['POST', '/api/v1/carts/{cart_id}/checkout', `/api/v1/carts/${cartId}/checkout`, [{ tendered_minor: 100000 }], 201],
];

describe('invalid bodies derived from the document: 400, nothing changed', () => {
  test('every operation with a request body is a target', () => {
    const withBody = OPERATIONS.filter((o) => requestSchema(o)).map((o) => `${o.method} ${o.template}`).sort();
    const targeted = [...new Set(TARGETS().map(([m, t]) => `${m} ${t}`))].sort();
    assert.deepEqual(targeted, withBody);
  });

  // One test per target, in order (the valid bodies change the state).
  for (let i = 0; i < TARGETS().length; i++) {
    test(`target ${i + 1}`, async (t) => {
      const [method, template, path, valids, okStatus] = TARGETS()[i];
      t.diagnostic(`${method} ${template}`);
      const schema = requestSchema(opOf(method, template));
      const before = await state();
      let n = 0;
      const token = template === '/api/v1/sessions' ? undefined : ann;
      for (const valid of valids) {
        for (const m of invalidRequestBodies(schema, valid)) {
          const r = await term.api(method, path, { token, body: m.body });
          assert.equal(r.status, 400, `${m.label}: ${method} ${path} ${JSON.stringify(m.body).slice(0, 200)} -> ${r.status} ${r.text}`);
          n++;
        }
      }
      // An optional body may be empty (no body): not malformed then.
      const optional = !deref(opOf(method, template).op.requestBody).required;
      for (const [label, raw] of MALFORMED_JSON.filter(([, raw]) => !(optional && raw === ''))) {
        const r = await term.api(method, path, { token, rawBody: raw });
        assert.equal(r.status, 400, `malformed JSON (${label}): ${method} ${path} -> ${r.status} ${r.text}`);
        n++;
      }
      assertUnchanged(before, await state(), `${n} invalid bodies to ${method} ${template}`);
      t.diagnostic(`${n} invalid bodies`);
      for (const valid of valids) await term.api(method, path, { token, body: valid, expect: okStatus });
    });
  }
});

describe('other invalid input: 400, nothing changed', () => {
  let cart2;
  before(async () => {
    cart2 = (await term.api('POST', '/api/v1/carts', { token: ann, expect: 201 })).json.cart_id;
    await term.api('POST', `/api/v1/carts/${cart2}/lines`, { token: ann, body: { sku: 'BAG-CL', qty: 2 }, expect: 200 });
  });

  const snap = () => term.snapshot(ann, { carts: [{ id: cart2 }] });

  test('integers beyond int64 and huge exponents', async () => {
    const before = await snap();
    for (const raw of [
      '{"qty": 9223372036854775808}', '{"qty": 1e400}', '{"qty": -9223372036854775809}',
      '{"qty": 99999999999999999999999999}', '{"qty": 1000001}',
    ]) {
      await term.api('POST', `/api/v1/carts/${cart2}/lines`, { token: ann, rawBody: raw.replace('{', '{"sku": "BAG-CL", '), expect: 400 });
    }
    for (const raw of ['{"tendered_minor": 9223372036854775808}', '{"tendered_minor": -1}', '{"tendered_minor": 1e400}']) {
      await term.api('POST', `/api/v1/carts/${cart2}/checkout`, { token: ann, rawBody: raw, expect: 400 });
    }
    assertUnchanged(before, await snap(), 'out-of-range integers');
  });

  test('a line needs a SKU or a barcode', async () => {
    const before = await snap();
    await term.api('POST', `/api/v1/carts/${cart2}/lines`, { token: ann, body: {}, expect: 400 });
    await term.api('POST', `/api/v1/carts/${cart2}/lines`, { token: ann, body: { qty: 2 }, expect: 400 });
    assertUnchanged(before, await snap(), 'a line without SKU or barcode');
  });

  test('an unknown SKU or barcode is 404 and changes nothing', async () => {
    const before = await snap();
    await term.api('POST', `/api/v1/carts/${cart2}/lines`, { token: ann, body: { sku: 'NOPE-1' }, expect: 404 });
    await term.api('POST', `/api/v1/carts/${cart2}/lines`, { token: ann, body: { barcode: '4000000000000' }, expect: 404 });
    await term.api('PATCH', `/api/v1/carts/${cart2}/lines/COF-250`, { token: ann, body: { qty: 2 }, expect: 404 });
    await term.api('DELETE', `/api/v1/carts/${cart2}/lines/COF-250`, { token: ann, expect: 404 });
    await term.api('POST', '/api/v1/carts/nope/lines', { token: ann, body: { sku: 'BAG-CL' }, expect: 404 });
    await term.api('POST', '/api/v1/carts/nope/checkout', { token: ann, body: { tendered_minor: 1 }, expect: 404 });
    assertUnchanged(before, await snap(), 'unknown SKU, barcode or cart');
  });

  test('discount percents that are not a percentage are 400', async () => {
    const before = await snap();
    for (const percent of ['abc', '', '-5', '+5', '101', '12.345', '1,5', '1e1', ' 10', '.5']) {
      await term.api('PATCH', `/api/v1/carts/${cart2}/lines/BAG-CL`, { token: ann, body: { discount: { percent } }, expect: 400 });
    }
    await term.api('PATCH', `/api/v1/carts/${cart2}/lines/BAG-CL`, { token: ann, body: { discount: { percent: '10', amount_minor: 5 } }, expect: 400 });
    assertUnchanged(before, await snap(), 'bad percents');
  });

  test('an amount discount above the line amount is refused (400 or 409), nothing changed', async () => {
    const before = await snap();
    await term.api('PATCH', `/api/v1/carts/${cart2}/lines/BAG-CL`, { token: ann, body: { discount: { amount_minor: 301 } }, expect: [400, 409] });
    assertUnchanged(before, await snap(), 'a discount above the line amount');
  });

  test('query parameters out of their documented range are 400', async () => {
    for (const limit of ['0', '201', 'abc', '1.5', '-1', '', '1e2', '20x']) {
      await term.api('GET', `/api/v1/catalog?q=co&limit=${limit}`, { token: ann, expect: 400 });
    }
    for (const limit of ['0', '501', 'abc', '2.5', '-3', '']) {
      await term.api('GET', `/api/v1/sales?limit=${limit}`, { token: ann, expect: 400 });
    }
    await term.api('GET', '/api/v1/catalog?q=co&limit=200', { token: ann, expect: 200 });
    await term.api('GET', '/api/v1/sales?limit=500', { token: ann, expect: 200 });
  });

  test('POST /api/v1/sessions with the wrong body changes no session', async () => {
    const before = await term.metric('kassa_sessions');
    await term.api('POST', '/api/v1/sessions', { rawBody: '{"cashier_id":"bob","pin":"2222","x":1}', expect: 400 });
    await term.api('POST', '/api/v1/sessions', { rawBody: '{"cashier_id":"bob","pin":2222}', expect: 400 });
    assert.equal(await term.metric('kassa_sessions'), before);
  });
});

describe('query parameters: unknown or repeated is 400 on every route, nothing changed', () => {
  test('repeated or unknown parameters of the routes that take parameters', async () => {
    const before = await state();
    for (const p of [
      '/api/v1/catalog?q=co&q=cof', '/api/v1/catalog?limit=1&limit=2', '/api/v1/catalog?q=co&bogus=1',
      '/api/v1/sales?limit=1&limit=1', '/api/v1/sales?offset=1',
      '/api/v1/stock?sku=COF-250&sku=MUG-KS', '/api/v1/stock?SKU=COF-250',
    ]) {
      await term.api('GET', p, { token: ann, expect: 400 });
    }
    assertUnchanged(before, await state(), 'bad query parameters');
  });

  test('an unknown query parameter on every operation of the document', async () => {
    // A request each operation would otherwise accept; with ?unexpected=1
    // the document says 400 ("On every route: ... an unknown or repeated
    // query parameter is 400").
    const spare = await term.login('bob', '2222');
    const cart = async (sku, qty) => {
      const id = (await term.api('POST', '/api/v1/carts', { token: ann, expect: 201 })).json.cart_id;
      if (sku) await term.api('POST', `/api/v1/carts/${id}/lines`, { token: ann, body: { sku, qty }, expect: 200 });
      return id;
    };
    const sell = async () => {
      const id = await cart('TEA-GR', 2);
      return encodeURIComponent((await term.api('POST', `/api/v1/carts/${id}/checkout`, { token: ann, body: { tendered_minor: 1000 }, expect: 201 })).json.sale_id);
    };
    // Separate targets, so that each request would succeed even if those
    // before it had been accepted.
    const c = await cart('TEA-GR', 1);
    const [cPay, cDel, cDelLine] = [await cart('TEA-GR', 1), await cart(), await cart('TEA-GR', 1)];
    const [saleRet, saleVoid] = [await sell(), await sell()];
    const path = {
      '/api/v1/carts/{cart_id}/checkout': `/api/v1/carts/${cPay}/checkout`,
      '/api/v1/carts/{cart_id}': `/api/v1/carts/${cDel}`,
      'DELETE /api/v1/carts/{cart_id}/lines/{sku}': `/api/v1/carts/${cDelLine}/lines/TEA-GR`,
      '/api/v1/carts/{cart_id}/lines/{sku}': `/api/v1/carts/${c}/lines/TEA-GR`,
      '/api/v1/carts/{cart_id}/lines': `/api/v1/carts/${c}/lines`,
      '/api/v1/sales/{sale_id}/void': `/api/v1/sales/${saleVoid}/void`,
      '/api/v1/sales/{sale_id}/returns': `/api/v1/sales/${saleRet}/returns`,
      '/api/v1/sales/{sale_id}': `/api/v1/sales/${saleRet}`,
      '/api/v1/catalog/barcode/{barcode}': '/api/v1/catalog/barcode/4006381333931',
      '/api/v1/payments/review/{payment_id}/resolve': `/api/v1/payments/review/${encodeURIComponent(spareReviewId)}/resolve`,
    };
    const bodies = {
      'POST /api/v1/sessions': { cashier_id: 'bob', pin: '2222' },
      'POST /api/v1/carts/{cart_id}/lines': { sku: 'TEA-GR' },
      'PATCH /api/v1/carts/{cart_id}/lines/{sku}': { qty: 3 },
      'POST /api/v1/carts/{cart_id}/checkout': { tendered_minor: 10000 },
      'POST /api/v1/sales/{sale_id}/void': { supervisor: SUE },
      'POST /api/v1/sales/{sale_id}/returns': { lines: [{ sku: 'TEA-GR', qty: 1 }], supervisor: SUE },
      'POST /api/v1/drawer/open': { supervisor: SUE, reason: 'x' },
      'POST /api/v1/drawer/float': { amount_minor: 100 },
      'POST /api/v1/drawer/drop': { amount_minor: 1 },
      'POST /api/v1/drawer/count': { counted_minor: 100 },
      'POST /api/v1/payments/review/{payment_id}/resolve': { manager: MAX, note: 'x' },
    };
    const snap = async () => {
      const x = await term.snapshot(ann, { carts: [c, cPay, cDel, cDelLine].map((id) => ({ id })) });
      x.sessions = await term.metric('kassa_sessions');
      x.drawer = (await term.api('GET', '/api/v1/drawer', { token: ann, expect: 200 })).json;
      x.review = (await term.api('GET', '/api/v1/payments/review?all=1', { token: sue, expect: 200 })).json;
      return x;
    };
    const before = await snap();
    const accepted = [];
    for (const o of OPERATIONS) {
      const key = `${o.method} ${o.template}`;
      const url = (path[key] ?? path[o.template] ?? o.template) + '?unexpected=1';
      const token = key === 'DELETE /api/v1/sessions/current' ? spare : needsBearer(o) ? ann : undefined;
      const r = await term.api(o.method, url, { token, body: bodies[key] });
      if (r.status !== 400) accepted.push(`${key}?unexpected=1 -> ${r.status}`);
    }
    // /metrics counts requests, so compare the state without it.
    const after = await snap();
    assert.deepEqual(accepted, [], 'operations that did not answer 400 to an unknown query parameter');
    assertUnchanged(before, after, 'requests with an unknown query parameter');
  });
});
