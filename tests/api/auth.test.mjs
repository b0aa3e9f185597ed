// Authentication and authorisation: bearer tokens on every route the
// document marks `security: bearer`, cashier PINs and the lockout after 5
// wrong ones, supervisor approval (wrong PIN 401, a cashier as approver
// 403, a locked supervisor 423) and carts private to their cashier.
// Every refused request must leave the terminal's state as it was.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { OPERATIONS, assertUnchanged, needsBearer, requestSchema, startTerminal, validate } from './harness.mjs';

let term;
let ann;
let bob;
let saleId;
let annCart;
const SUE = { id: 'sue', pin: '9999' };

before(async () => {
  term = await startTerminal({
    staff: [
      { id: 'lou', name: 'Lou Locked', role: 'cashier', pin: '4444' },
      { id: 'ned', name: 'Ned Next', role: 'cashier', pin: '5555' },
      { id: 'vic', name: 'Vic Visor', role: 'supervisor', pin: '7777' },
    ],
  });
  ann = await term.login('ann', '1111');
  bob = await term.login('bob', '2222');
  const c = (await term.api('POST', '/api/v1/carts', { token: ann, expect: 201 })).json.cart_id;
  await term.api('POST', `/api/v1/carts/${c}/lines`, { token: ann, body: { sku: 'MLK-1L', qty: 2 }, expect: 200 });
  saleId = (await term.api('POST', `/api/v1/carts/${c}/checkout`, { token: ann, body: { tendered_minor: 300 }, expect: 201 })).json.sale_id;
  annCart = (await term.api('POST', '/api/v1/carts', { token: ann, expect: 201 })).json.cart_id;
  await term.api('POST', `/api/v1/carts/${annCart}/lines`, { token: ann, body: { sku: 'COF-250', qty: 1 }, expect: 200 });
});
after(async () => {
  await term?.stop();
});

const sid = () => encodeURIComponent(saleId);

/** A request to every bearer operation, with a body valid by the document. */
function bearerRequests() {
  const fill = {
    '{cart_id}': annCart, '{sku}': 'COF-250', '{sale_id}': sid(), '{barcode}': '4006381333931',
  };
  const bodies = {
    'POST /api/v1/carts/{cart_id}/lines': { sku: 'COF-250' },
    'PATCH /api/v1/carts/{cart_id}/lines/{sku}': { qty: 2 },
    'POST /api/v1/carts/{cart_id}/checkout': { tendered_minor: 10000 },
    'POST /api/v1/sales/{sale_id}/void': { supervisor: SUE },
    'POST /api/v1/sales/{sale_id}/returns': { lines: [{ sku: 'MLK-1L', qty: 1 }], supervisor: SUE },
    'POST /api/v1/drawer/open': { supervisor: SUE, reason: 'x' },
  };
  return OPERATIONS.filter(needsBearer).map((o) => ({
    method: o.method,
    template: o.template,
    path: o.template.replace(/\{[^}]+\}/g, (m) => fill[m]),
    body: bodies[`${o.method} ${o.template}`],
  }));
}

describe('bearer tokens', () => {
  test('the document marks every route but the public five as bearer', () => {
    const pub = OPERATIONS.filter((o) => !needsBearer(o)).map((o) => `${o.method} ${o.template}`).sort();
    assert.deepEqual(pub, ['GET /api/v1/cashiers', 'GET /api/v1/status', 'GET /healthz', 'GET /metrics', 'POST /api/v1/sessions']);
  });

  const BAD = [
    ['no Authorization header', null],
    ['an empty bearer token', 'Bearer '],
    ['a garbage token', 'Bearer garbage'],
    ['a token of the right shape that was never issued', `Bearer ${'ab'.repeat(32)}`],
    ['another scheme', 'Basic YW5uOjExMTE='],
    ['the token without a scheme', () => ann],
    ['the token twice', () => `Bearer ${ann} ${ann}`],
    ['a valid token with its last character changed', () => `Bearer ${ann.slice(0, -1)}${ann.endsWith('0') ? '1' : '0'}`],
  ];
  for (const [label, header] of BAD) {
    test(`${label}: 401 on every bearer route, nothing changed`, async () => {
      const before = await term.snapshot(ann, { carts: [{ id: annCart }] });
      for (const rq of bearerRequests()) {
        const h = typeof header === 'function' ? header() : header;
        const headers = h === null ? {} : { authorization: h };
        await term.api(rq.method, rq.path, { headers, body: rq.body, expect: 401 });
      }
      assertUnchanged(before, await term.snapshot(ann, { carts: [{ id: annCart }] }), label);
    });
  }

  test('a logged-out token is 401 on every bearer route', async () => {
    const gone = await term.login('ned', '5555');
    await term.api('DELETE', '/api/v1/sessions/current', { token: gone, expect: 204 });
    for (const rq of bearerRequests()) await term.api(rq.method, rq.path, { token: gone, body: rq.body, expect: 401 });
    await term.api('DELETE', '/api/v1/sessions/current', { token: gone, expect: 401 });
  });

  test('the public routes need no token', async () => {
    await term.api('GET', '/healthz', { expect: 200 });
    await term.api('GET', '/metrics', { expect: 200 });
    await term.api('GET', '/api/v1/status', { expect: 200 });
    await term.api('GET', '/api/v1/cashiers', { expect: 200 });
  });
});

describe('cashier PINs', () => {
  test('a wrong PIN, an unknown cashier, a PIN of the wrong form: 401', async () => {
    const before = await term.metric('kassa_sessions');
    await term.api('POST', '/api/v1/sessions', { body: { cashier_id: 'ann', pin: '1112' }, expect: 401 });
    await term.api('POST', '/api/v1/sessions', { body: { cashier_id: 'nobody', pin: '1111' }, expect: 401 });
    // Strings the document allows for pin (no minLength/maxLength there) are
    // judged as PINs: wrong, 401. Should the document bound them, those out
    // of bounds become 400 here by themselves.
    const pinSchema = requestSchema(OPERATIONS.find((o) => o.method === 'POST' && o.template === '/api/v1/sessions')).properties.pin;
    for (const pin of ['', '11a1', '1', '1234567890123', '9'.repeat(65)]) {
      const fits = validate(pinSchema, pin).length === 0;
      await term.api('POST', '/api/v1/sessions', { body: { cashier_id: 'ned', pin }, expect: fits ? 401 : 400 });
      await term.login('ned', '5555'); // clears the count of wrong PINs
    }
    assert.equal(await term.metric('kassa_sessions'), before + 5, 'only the five right logins made sessions');
    // A right PIN clears ann's count of wrong ones.
    await term.login('ann', '1111');
  });

  test('lockout: after 5 wrong PINs the cashier is locked (423), even with the right PIN', async () => {
    for (let i = 1; i <= 4; i++) {
      await term.api('POST', '/api/v1/sessions', { body: { cashier_id: 'lou', pin: '0000' }, expect: 401 });
    }
    // The 5th wrong PIN is the one that locks; it may already say so.
    await term.api('POST', '/api/v1/sessions', { body: { cashier_id: 'lou', pin: '0000' }, expect: [401, 423] });
    const r = await term.api('POST', '/api/v1/sessions', { body: { cashier_id: 'lou', pin: '4444' }, expect: 423 });
    assert.equal(r.json.error.code, 'locked');
    await term.api('POST', '/api/v1/sessions', { body: { cashier_id: 'lou', pin: '0000' }, expect: 423 });
    // Others are not affected.
    await term.login('ned', '5555');
  });

  test('wrong PINs that are interrupted by a right one do not lock', async () => {
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 4; i++) await term.api('POST', '/api/v1/sessions', { body: { cashier_id: 'bob', pin: '0000' }, expect: 401 });
      await term.login('bob', '2222');
    }
  });
});

describe('supervisor approval', () => {
  const ACTIONS = () => [
    ['void', 'POST', `/api/v1/sales/${sid()}/void`, (sup) => ({ supervisor: sup, reason: 'test' })],
    ['return', 'POST', `/api/v1/sales/${sid()}/returns`, (sup) => ({ lines: [{ sku: 'MLK-1L', qty: 1 }], supervisor: sup })],
    ['drawer', 'POST', '/api/v1/drawer/open', (sup) => ({ supervisor: sup, reason: 'float' })],
    ['price override', 'PATCH', `/api/v1/carts/${annCart}/lines/COF-250`, (sup) => ({ price_override_minor: 100, supervisor: sup })],
  ];
  const snap = async () => {
    const s = await term.snapshot(ann, { carts: [{ id: annCart }] });
    s.sale = (await term.api('GET', `/api/v1/sales/${sid()}`, { token: ann, expect: 200 })).json;
    return s;
  };

  for (const i of [0, 1, 2, 3]) {
    test(`action ${i + 1}: wrong supervisor PIN 401, unknown supervisor 401, a cashier approving 403; nothing changed`, async (t) => {
      const [name, method, p, body] = ACTIONS()[i];
      t.diagnostic(name);
      const before = await snap();
      await term.api(method, p, { token: ann, body: body({ id: 'sue', pin: '0000' }), expect: 401 });
      await term.api(method, p, { token: ann, body: body({ id: 'nobody', pin: '9999' }), expect: 401 });
      const r = await term.api(method, p, { token: ann, body: body({ id: 'bob', pin: '2222' }), expect: 403 });
      assert.equal(r.json.error.code, 'forbidden');
      // The cashier approving their own action is no better.
      await term.api(method, p, { token: ann, body: body({ id: 'ann', pin: '1111' }), expect: 403 });
      // A 401 about the supervisor's PIN does not end the cashier's session.
      await term.api('GET', '/api/v1/sessions/current', { token: ann, expect: 200 });
      assertUnchanged(before, await snap(), `refused ${name} approvals`);
      // A right PIN clears sue's count of wrong ones (a drawer open only
      // adds an audit operation).
      await term.api('POST', '/api/v1/drawer/open', { token: ann, body: { supervisor: SUE, reason: 'reset' }, expect: 200 });
    });
  }

  test('a manager may approve', async () => {
    await term.api('POST', '/api/v1/drawer/open', { token: bob, body: { supervisor: { id: 'max', pin: '8888' }, reason: 'manager' }, expect: 200 });
  });

  test('a supervisor locked by wrong PINs gets 423 even with the right PIN', async () => {
    const before = await term.snapshot(ann);
    for (let i = 1; i <= 4; i++) {
      await term.api('POST', '/api/v1/drawer/open', { token: ann, body: { supervisor: { id: 'vic', pin: '0000' }, reason: 'x' }, expect: 401 });
    }
    await term.api('POST', '/api/v1/drawer/open', { token: ann, body: { supervisor: { id: 'vic', pin: '0000' }, reason: 'x' }, expect: [401, 423] });
    for (const [method, p, body] of [
      ['POST', '/api/v1/drawer/open', { supervisor: { id: 'vic', pin: '7777' }, reason: 'x' }],
      ['POST', `/api/v1/sales/${sid()}/void`, { supervisor: { id: 'vic', pin: '7777' } }],
      ['POST', `/api/v1/sales/${sid()}/returns`, { lines: [{ sku: 'MLK-1L', qty: 1 }], supervisor: { id: 'vic', pin: '7777' } }],
      ['PATCH', `/api/v1/carts/${annCart}/lines/COF-250`, { price_override_minor: 1, supervisor: { id: 'vic', pin: '7777' } }],
    ]) {
      const r = await term.api(method, p, { token: ann, body, expect: 423 });
      assert.equal(r.json.error.code, 'locked');
    }
    // The lockout is the supervisor's: logging in as vic is locked too.
    await term.api('POST', '/api/v1/sessions', { body: { cashier_id: 'vic', pin: '7777' }, expect: 423 });
    assertUnchanged(before, await term.snapshot(ann), 'a locked supervisor');
  });
});

describe('carts belong to their cashier', () => {
  test("another cashier's cart is 404 for every cart route, and stays as it was", async () => {
    const before = (await term.api('GET', `/api/v1/carts/${annCart}`, { token: ann, expect: 200 })).json;
    const st = await term.snapshot(ann);
    await term.api('GET', `/api/v1/carts/${annCart}`, { token: bob, expect: 404 });
    await term.api('POST', `/api/v1/carts/${annCart}/lines`, { token: bob, body: { sku: 'BAG-CL' }, expect: 404 });
    await term.api('PATCH', `/api/v1/carts/${annCart}/lines/COF-250`, { token: bob, body: { qty: 5 }, expect: 404 });
    await term.api('DELETE', `/api/v1/carts/${annCart}/lines/COF-250`, { token: bob, expect: 404 });
    await term.api('POST', `/api/v1/carts/${annCart}/checkout`, { token: bob, body: { tendered_minor: 100000 }, expect: 404 });
    await term.api('DELETE', `/api/v1/carts/${annCart}`, { token: bob, expect: 404 });
    assert.deepEqual((await term.api('GET', `/api/v1/carts/${annCart}`, { token: ann, expect: 200 })).json, before);
    assertUnchanged(st, await term.snapshot(ann), "bob's requests on ann's cart");
  });
});
