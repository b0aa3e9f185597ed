// Request bodies over the configured limit ([api] max_body_size_bytes,
// here 4096 through a config file) answer 413 with the error shape and
// change nothing, whether the body comes with a Content-Length or chunked;
// a body just under the limit is judged on its content instead.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertUnchanged, startTerminal } from './harness.mjs';

const LIMIT = 4096;
let term;
let ann;
let cart;

before(async () => {
  term = await startTerminal({ config: { api: { max_body_size_bytes: LIMIT } } });
  ann = await term.login('ann', '1111');
  cart = (await term.api('POST', '/api/v1/carts', { token: ann, expect: 201 })).json.cart_id;
  await term.api('POST', `/api/v1/carts/${cart}/lines`, { token: ann, body: { sku: 'COF-250' }, expect: 200 });
});
after(async () => {
  await term?.stop();
});

/** A JSON text of exactly n bytes: the valid body plus a padding field. */
function padded(body, n) {
  const base = JSON.stringify({ ...body, pad: '' });
  assert.ok(n >= base.length);
  const text = JSON.stringify({ ...body, pad: 'x'.repeat(n - base.length) });
  assert.equal(Buffer.byteLength(text), n);
  return text;
}

const snap = async () => {
  const s = await term.snapshot(ann, { carts: [{ id: cart }] });
  s.sessions = await term.metric('kassa_sessions');
  return s;
};

for (const [label, path, body, token] of [
  ['POST /api/v1/sessions', '/api/v1/sessions', { cashier_id: 'bob', pin: '2222' }, false],
  ['POST /api/v1/carts/{id}/lines', null, { sku: 'COF-250', qty: 1 }, true],
]) {
  test(`${label}: over the limit 413 (Content-Length and chunked), nothing changed`, async () => {
    const p = path ?? `/api/v1/carts/${cart}/lines`;
    const tok = token ? ann : undefined;
    const before = await snap();
    for (const n of [LIMIT + 1, LIMIT * 4, 1024 * 1024]) {
      const r = await term.api('POST', p, { token: tok, rawBody: padded(body, n), expect: 413 });
      assert.equal(r.json.error.code, 'payload_too_large');
    }
    const text = padded(body, LIMIT * 2);
    const stream = new ReadableStream({
      start(ctl) {
        for (let i = 0; i < text.length; i += 1000) ctl.enqueue(new TextEncoder().encode(text.slice(i, i + 1000)));
        ctl.close();
      },
    });
    await term.api('POST', p, { token: tok, rawBody: stream, expect: 413 });
    assertUnchanged(before, await snap(), `bodies over ${LIMIT} bytes to ${label}`);
    // Just under the limit, the padding field is judged: unknown, 400.
    await term.api('POST', p, { token: tok, rawBody: padded(body, LIMIT - 1), expect: 400 });
    await term.api('POST', p, { token: tok, rawBody: padded(body, LIMIT), expect: 400 });
    assertUnchanged(before, await snap(), `bodies of ${LIMIT} bytes or less with an unknown field`);
    // And the daemon still answers normally.
    await term.api('POST', p, { token: tok, body, expect: token ? 200 : 201 });
  });
}
