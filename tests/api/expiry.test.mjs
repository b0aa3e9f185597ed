// An expired session is 401: kassad runs with a tiny session TTL
// ([api] session_ttl_s = 1, from a config file); a token left unused for
// longer than that is refused on every bearer route, while a fresh login
// works.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTerminal } from './harness.mjs';

const TTL_S = 1;
let term;

before(async () => {
  term = await startTerminal({ config: { api: { session_ttl_s: TTL_S } } });
});
after(async () => {
  await term?.stop();
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test(`a session unused for longer than session_ttl_s (${TTL_S} s) is 401`, async () => {
  const t0 = Date.now();
  const s = (await term.api('POST', '/api/v1/sessions', { body: { cashier_id: 'ann', pin: '1111' }, expect: 201 })).json;
  assert.ok(s.expires_at_ms > t0 && s.expires_at_ms <= Date.now() + TTL_S * 1000 + 1000,
    `expires_at_ms ${s.expires_at_ms} within the TTL of now ${t0}`);
  const cart = (await term.api('POST', '/api/v1/carts', { token: s.token, expect: 201 })).json.cart_id;
  await sleep(TTL_S * 1000 + 1200);
  for (const [method, path, body] of [
    ['GET', '/api/v1/sessions/current'],
    ['GET', `/api/v1/carts/${cart}`],
    ['POST', `/api/v1/carts/${cart}/lines`, { sku: 'COF-250' }],
    ['GET', '/api/v1/sales'],
    ['POST', '/api/v1/carts'],
    ['DELETE', '/api/v1/sessions/current'],
  ]) {
    const r = await term.api(method, path, { token: s.token, body, expect: 401 });
    assert.equal(r.json.error.code, 'unauthorized');
  }
  const fresh = await term.login('ann', '1111');
  await term.api('GET', '/api/v1/sessions/current', { token: fresh, expect: 200 });
});
