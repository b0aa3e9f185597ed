// Concurrent clients: 8 cashiers, each with its own session, each running
// 20 checkouts, all 8 at once. Every checkout must succeed with the
// hand-computed total, and the terminal must end with exactly 160 more
// sales and the stock decreased by exactly the units sold.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTerminal } from './harness.mjs';

const CLIENTS = 8;
const CHECKOUTS = 20;
const staff = Array.from({ length: CLIENTS }, (_, i) => ({ id: `c${i + 1}`, name: `Cashier ${i + 1}`, role: 'cashier', pin: `${1000 + i}` }));

let term;
before(async () => {
  // Enough stock that nothing goes below zero (the stock column is 100 and 80).
  term = await startTerminal({ staff, stock: { 'BAG-CL': 1000, 'WAT-15': 1000 } });
});
after(async () => {
  await term?.stop();
});

// BAG-CL x1 (by barcode): 150 + tax 20 % 30 = 180
// WAT-15 x2 (by SKU):     138 + tax round_half_up(138 * 0.055 = 7.59) = 8 -> 146
const TOTAL = 326;

async function client(token) {
  const sales = [];
  for (let i = 0; i < CHECKOUTS; i++) {
    const cart = (await term.api('POST', '/api/v1/carts', { token, expect: 201 })).json.cart_id;
    await term.api('POST', `/api/v1/carts/${cart}/lines`, { token, body: { barcode: '4099999000024' }, expect: 200 });
    const c = (await term.api('POST', `/api/v1/carts/${cart}/lines`, { token, body: { sku: 'WAT-15', qty: 2 }, expect: 200 })).json;
    assert.equal(c.total_minor, TOTAL);
    const sale = (await term.api('POST', `/api/v1/carts/${cart}/checkout`, { token, body: { tendered_minor: 500 }, expect: 201 })).json;
    assert.equal(sale.total_minor, TOTAL);
    assert.equal(sale.change_minor, 500 - TOTAL);
    sales.push(sale.sale_id);
  }
  return sales;
}

test(`${CLIENTS} concurrent sessions x ${CHECKOUTS} checkouts: right sales count, consistent stock`, async () => {
  const tokens = await Promise.all(staff.map((s) => term.login(s.id, s.pin)));
  const ann = await term.login('ann', '1111');
  const stock = async (sku) => (await term.api('GET', `/api/v1/stock?sku=${sku}`, { token: ann, expect: 200 })).json.items[0].stock;
  const bag0 = await stock('BAG-CL');
  const wat0 = await stock('WAT-15');
  const st0 = (await term.api('GET', '/api/v1/status', { expect: 200 })).json;
  const metric0 = await term.metric('kassa_sales_total');
  const commits0 = await term.metric('kassa_sale_commits_total');

  const results = await Promise.all(tokens.map((t) => client(t)));

  const ids = results.flat();
  const n = CLIENTS * CHECKOUTS;
  assert.equal(ids.length, n);
  assert.equal(new Set(ids).size, n, 'every sale has its own id');
  const st1 = (await term.api('GET', '/api/v1/status', { expect: 200 })).json;
  assert.equal(st1.sales - st0.sales, n);
  assert.equal(await term.metric('kassa_sales_total') - metric0, n);
  // Checkouts that arrive together share a commit (group commit): never
  // more commits than sales, and with this many clients paying at once,
  // fewer.
  const commits = await term.metric('kassa_sale_commits_total') - commits0;
  assert.ok(commits >= 1 && commits < n, `${commits} commits for ${n} concurrent sales`);
  const listed = (await term.api('GET', '/api/v1/sales?limit=500', { token: ann, expect: 200 })).json.sales;
  assert.equal(listed.length, n);
  assert.deepEqual(new Set(listed.map((s) => s.sale_id)), new Set(ids));
  assert.ok(listed.every((s) => s.total_minor === TOTAL && !s.voided));
  assert.equal(await stock('BAG-CL'), bag0 - n, 'BAG-CL: one unit per sale');
  assert.equal(await stock('WAT-15'), wat0 - 2 * n, 'WAT-15: two units per sale');
  // Each sale names its own cashier.
  for (const [i, sales] of results.entries()) {
    const s = (await term.api('GET', `/api/v1/sales/${encodeURIComponent(sales[CHECKOUTS - 1])}`, { token: ann, expect: 200 })).json;
    assert.equal(s.cashier_id, staff[i].id);
  }
});
