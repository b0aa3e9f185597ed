// Money through the API: cart and sale totals equal totals computed by hand
// from data/demo/catalog.csv and docs/PRICING.md (tax-exclusive prices, tax
// per line, round half up; standard 20 %, reduced 5.5 %, zero 0 %), price
// overrides, returns and voids with their refunds, and the state conflicts
// (409): void twice, return beyond what was sold, payment below the total.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertUnchanged, startTerminal } from './harness.mjs';

let term;
let ann;
const SUE = { id: 'sue', pin: '9999' };
const MAX = { id: 'max', pin: '8888' };

before(async () => {
  term = await startTerminal();
  ann = await term.login('ann', '1111');
});
after(async () => {
  await term?.stop();
});

const cartPath = (id, rest = '') => `/api/v1/carts/${id}${rest}`;
const salePath = (id, rest = '') => `/api/v1/sales/${encodeURIComponent(id)}${rest}`;

async function openCart() {
  return (await term.api('POST', '/api/v1/carts', { token: ann, expect: 201 })).json.cart_id;
}
async function add(cart, line) {
  return (await term.api('POST', cartPath(cart, '/lines'), { token: ann, body: line, expect: 200 })).json;
}
async function patch(cart, sku, body, expect = 200) {
  return (await term.api('PATCH', cartPath(cart, `/lines/${sku}`), { token: ann, body, expect })).json;
}
async function stockOf(sku) {
  return (await term.api('GET', `/api/v1/stock?sku=${sku}`, { token: ann, expect: 200 })).json.items[0].stock;
}
const pick = (lines) => lines.map(({ sku, qty, unit_price_minor, discount_minor, tax_minor, total_minor }) =>
  ({ sku, qty, unit_price_minor, discount_minor, tax_minor, total_minor }));

describe('totals computed by hand', () => {
  let saleA;

  test('cart A: three tax classes', async () => {
    const c = await openCart();
    await add(c, { barcode: '4006381333931', qty: 2 }); // COF-250 6.49 reduced
    await add(c, { sku: 'MUG-KS' });                     // 9.99 standard
    const cart = await add(c, { barcode: '9771234567003', qty: 3 }); // NEWS-D 2.50 zero
    // COF-250 x2: 1298, tax round_half_up(1298 * 0.055 = 71.39) = 71  -> 1369
    // MUG-KS  x1:  999, tax round_half_up( 999 * 0.20  = 199.8) = 200 -> 1199
    // NEWS-D  x3:  750, tax 0                                          ->  750
    assert.deepEqual(pick(cart.lines), [
      { sku: 'COF-250', qty: 2, unit_price_minor: 649, discount_minor: 0, tax_minor: 71, total_minor: 1369 },
      { sku: 'MUG-KS', qty: 1, unit_price_minor: 999, discount_minor: 0, tax_minor: 200, total_minor: 1199 },
      { sku: 'NEWS-D', qty: 3, unit_price_minor: 250, discount_minor: 0, tax_minor: 0, total_minor: 750 },
    ]);
    assert.equal(cart.subtotal_minor, 3047);
    assert.equal(cart.discount_minor, 0);
    assert.equal(cart.tax_minor, 271);
    assert.equal(cart.total_minor, 3318);
    const sale = (await term.api('POST', cartPath(c, '/checkout'), { token: ann, body: { tendered_minor: 5000 }, expect: 201 })).json;
    assert.deepEqual(pick(sale.lines), pick(cart.lines));
    assert.equal(sale.tax_minor, 271);
    assert.equal(sale.total_minor, 3318);
    assert.equal(sale.change_minor, 1682);
    assert.match(sale.receipt_text, /33\.18/);
    assert.match(sale.receipt_text, /16\.82/);
    saleA = sale.sale_id;
    assert.equal(await stockOf('COF-250'), 38);
    assert.equal(await stockOf('MUG-KS'), 7);
    assert.equal(await stockOf('NEWS-D'), 17);
  });

  test('cart B: percent and amount discounts, exact halves round up', async () => {
    const c = await openCart();
    await add(c, { sku: 'BAG-CL', qty: 2 });
    await patch(c, 'BAG-CL', { discount: { percent: '12.5' } });
    await add(c, { sku: 'BRD-SD' });
    await patch(c, 'BRD-SD', { discount: { amount_minor: 80 } });
    await add(c, { sku: 'COF-1K', qty: 3 });
    const cart = await patch(c, 'COF-1K', { discount: { percent: '12.5' } });
    // BAG-CL x2: gross 300, discount round(37.5) = 38, net 262, tax round(52.4) = 52    -> 314
    // BRD-SD x1: gross 380, discount 80, net 300, tax round(300 * 0.055 = 16.5) = 17    -> 317
    // COF-1K x3: gross 5670, discount round(708.75) = 709, net 4961, tax round(272.855) = 273 -> 5234
    assert.deepEqual(pick(cart.lines), [
      { sku: 'BAG-CL', qty: 2, unit_price_minor: 150, discount_minor: 38, tax_minor: 52, total_minor: 314 },
      { sku: 'BRD-SD', qty: 1, unit_price_minor: 380, discount_minor: 80, tax_minor: 17, total_minor: 317 },
      { sku: 'COF-1K', qty: 3, unit_price_minor: 1890, discount_minor: 709, tax_minor: 273, total_minor: 5234 },
    ]);
    assert.equal(cart.subtotal_minor, 5523);
    assert.equal(cart.discount_minor, 827);
    assert.equal(cart.tax_minor, 342);
    assert.equal(cart.total_minor, 5865);
    // {} removes a discount; putting it back gives the same totals.
    const plain = await patch(c, 'BRD-SD', { discount: {} });
    assert.equal(plain.lines[1].discount_minor, 0);
    assert.equal(plain.total_minor, 5865 - 317 + 401); // 380 + round(20.9) = 401
    await patch(c, 'BRD-SD', { discount: { amount_minor: 80 } });
    const sale = (await term.api('POST', cartPath(c, '/checkout'), { token: ann, body: { tendered_minor: 5865 }, expect: 201 })).json;
    assert.equal(sale.total_minor, 5865);
    assert.equal(sale.tax_minor, 342);
    assert.equal(sale.change_minor, 0);
    assert.deepEqual(pick(sale.lines), pick(cart.lines));

    // Partial returns of COF-1K (total 5234, 3 units): cum(m) = round_half_up(5234 m / 3)
    // cum(1) = 1744.67 -> 1745, cum(2) = 3489.33 -> 3489, cum(3) = 5234.
    const ret = (lines, expect = 201) => term.api('POST', salePath(sale.sale_id, '/returns'), {
      token: ann, body: { lines, supervisor: SUE }, expect,
    });
    assert.equal((await ret([{ sku: 'COF-1K', qty: 1 }])).json.refund_minor, 1745);
    assert.equal((await ret([{ sku: 'COF-1K', qty: 1 }])).json.refund_minor, 1744);
    // Beyond what is left (1 unit): 409, nothing changed.
    const before = await term.snapshot(ann);
    await ret([{ sku: 'COF-1K', qty: 2 }], 409);
    await ret([{ sku: 'COF-1K', qty: 1 }, { sku: 'BAG-CL', qty: 3 }], 409);
    assertUnchanged(before, await term.snapshot(ann), 'returns beyond what was sold');
    const last = (await ret([{ sku: 'COF-1K', qty: 1 }, { sku: 'BAG-CL', qty: 2 }])).json;
    assert.equal(last.refund_minor, 1745 + 314);
    assert.equal(last.refund_cash_minor, 1745 + 314, 'a cash sale refunds in cash (no rounding in EUR)');
    assert.equal(last.refund_card_minor, 0);
    assert.equal(last.card_refund_id, '');
    await ret([{ sku: 'COF-1K', qty: 1 }], 409);
    const s = (await term.api('GET', salePath(sale.sale_id), { token: ann, expect: 200 })).json;
    assert.equal(s.refunded_minor, 5234 + 314);
    assert.equal(s.voided, false);
    // A sale with returns cannot be voided.
    await term.api('POST', salePath(sale.sale_id, '/void'), { token: ann, body: { supervisor: SUE }, expect: 409 });
    assert.equal(await stockOf('COF-1K'), 12, 'all three returned');
    assert.equal(await stockOf('BAG-CL'), 100);
  });

  test('void: refunds the total, credits the stock back; a second void is 409', async () => {
    const v = (await term.api('POST', salePath(saleA, '/void'), { token: ann, body: { supervisor: SUE, reason: 'customer changed mind' }, expect: 200 })).json;
    // A cash sale: all of it back from the drawer, nothing to a card (the
    // card's optional fields card_last4 and card_brand: absent or "").
    const { card_last4: last4, card_brand: brand, ...refund } = v;
    assert.deepEqual(refund, { sale_id: saleA, refund_minor: 3318, refund_cash_minor: 3318, refund_card_minor: 0, card_refund_id: '' });
    assert.ok(last4 === undefined || last4 === '', `card_last4 of a cash sale: ${last4}`);
    assert.ok(brand === undefined || brand === '', `card_brand of a cash sale: ${brand}`);
    assert.equal(await stockOf('COF-250'), 40);
    assert.equal(await stockOf('NEWS-D'), 20);
    const before = await term.snapshot(ann);
    const again = await term.api('POST', salePath(saleA, '/void'), { token: ann, body: { supervisor: SUE }, expect: 409 });
    assert.equal(again.json.error.code, 'conflict');
    await term.api('POST', salePath(saleA, '/void'), { token: ann, body: { supervisor: MAX }, expect: 409 });
    // A voided sale takes no returns.
    await term.api('POST', salePath(saleA, '/returns'), { token: ann, body: { lines: [{ sku: 'MUG-KS', qty: 1 }], supervisor: SUE }, expect: 409 });
    assertUnchanged(before, await term.snapshot(ann), 'a second void');
    const list = (await term.api('GET', '/api/v1/sales', { token: ann, expect: 200 })).json.sales;
    assert.equal(list.find((x) => x.sale_id === saleA).voided, true);
  });

  test('void and returns of an unknown sale are 404', async () => {
    await term.api('POST', salePath('T1-424242', '/void'), { token: ann, body: { supervisor: SUE }, expect: 404 });
    await term.api('POST', salePath('nope', '/returns'), { token: ann, body: { lines: [{ sku: 'MUG-KS', qty: 1 }], supervisor: SUE }, expect: 404 });
  });

  test('a return of a SKU the sale does not have is refused, nothing changed', async () => {
    const c = await openCart();
    await add(c, { sku: 'TEA-GR' }); // 299 + round(16.445) = 315
    const sale = (await term.api('POST', cartPath(c, '/checkout'), { token: ann, body: { tendered_minor: 400 }, expect: 201 })).json;
    const before = await term.snapshot(ann);
    await term.api('POST', salePath(sale.sale_id, '/returns'), { token: ann, body: { lines: [{ sku: 'MUG-KS', qty: 1 }], supervisor: SUE }, expect: [404, 409] });
    assertUnchanged(before, await term.snapshot(ann), 'a return of a SKU not sold');
  });
});

describe('price override', () => {
  test('a supervisor sets a unit price; the line says so; the sale keeps it', async () => {
    const c = await openCart();
    await add(c, { sku: 'MUG-KS', qty: 2 });
    const before = await term.snapshot(ann, { carts: [{ id: c }] });
    // Without an approver the override is refused: 403 (documented on the PATCH).
    const r = await term.api('PATCH', cartPath(c, '/lines/MUG-KS'), { token: ann, body: { price_override_minor: 750 }, expect: 403 });
    assert.equal(r.json.error.code, 'forbidden');
    assertUnchanged(before, await term.snapshot(ann, { carts: [{ id: c }] }), 'an override without supervisor');
    const cart = await patch(c, 'MUG-KS', { price_override_minor: 750, supervisor: SUE });
    // 2 x 7.50 = 1500, tax 20 % = 300 -> 1800
    assert.deepEqual(cart.lines[0], {
      sku: 'MUG-KS', name: 'Mug "kassa" 300ml', qty: 2, unit_price_minor: 750, discount_minor: 0,
      tax_minor: 300, total_minor: 1800, price_overridden: true,
    });
    assert.equal(cart.total_minor, 1800);
    // A quantity change keeps the override.
    const more = await patch(c, 'MUG-KS', { qty: 3 });
    assert.equal(more.lines[0].unit_price_minor, 750);
    assert.equal(more.total_minor, 2700);
    const sale = (await term.api('POST', cartPath(c, '/checkout'), { token: ann, body: { tendered_minor: 3000 }, expect: 201 })).json;
    assert.deepEqual(pick(sale.lines), [{ sku: 'MUG-KS', qty: 3, unit_price_minor: 750, discount_minor: 0, tax_minor: 450, total_minor: 2700 }]);
    assert.equal(sale.change_minor, 300);
  });
});

describe('checkout conflicts', () => {
  test('payment below the total is 409; the cart stays; the right amount then sells', async () => {
    const c = await openCart();
    const cart = await add(c, { sku: 'WIN-RD', qty: 2 }); // 1798 + 359.6 -> 360 = 2158
    assert.equal(cart.total_minor, 2158);
    const before = await term.snapshot(ann, { carts: [{ id: c }] });
    const salesMetric = await term.metric('kassa_sales_total');
    const r = await term.api('POST', cartPath(c, '/checkout'), { token: ann, body: { tendered_minor: 2157 }, expect: 409 });
    assert.equal(r.json.error.code, 'conflict');
    await term.api('POST', cartPath(c, '/checkout'), { token: ann, body: { tendered_minor: 0 }, expect: 409 });
    assertUnchanged(before, await term.snapshot(ann, { carts: [{ id: c }] }), 'a payment below the total');
    assert.equal(await term.metric('kassa_sales_total'), salesMetric);
    const sale = (await term.api('POST', cartPath(c, '/checkout'), { token: ann, body: { tendered_minor: 2158 }, expect: 201 })).json;
    assert.equal(sale.change_minor, 0);
    assert.equal(await term.metric('kassa_sales_total'), salesMetric + 1);
    // The cart is gone: paying it again records nothing.
    const after1 = await term.snapshot(ann);
    await term.api('POST', cartPath(c, '/checkout'), { token: ann, body: { tendered_minor: 2158 }, expect: [404, 409] });
    assertUnchanged(after1, await term.snapshot(ann), 'paying a closed cart');
  });

  test('an empty cart cannot be paid (409)', async () => {
    const c = await openCart();
    const before = await term.snapshot(ann, { carts: [{ id: c }] });
    await term.api('POST', cartPath(c, '/checkout'), { token: ann, body: { tendered_minor: 100 }, expect: 409 });
    assertUnchanged(before, await term.snapshot(ann, { carts: [{ id: c }] }), 'paying an empty cart');
    await term.api('DELETE', cartPath(c), { token: ann, expect: 204 });
  });

  test('the largest quantity prices exactly', async () => {
    const c = await openCart();
    const cart = await add(c, { sku: 'GFT-10', qty: 1000000 });
    // 99 * 10^6 = 99000000, tax 20 % = 19800000 -> 118800000
    assert.equal(cart.total_minor, 118800000);
    await term.api('DELETE', cartPath(c), { token: ann, expect: 204 });
  });
});

describe('sales list', () => {
  test('newest first, limit honoured, totals as sold', async () => {
    const all = (await term.api('GET', '/api/v1/sales?limit=500', { token: ann, expect: 200 })).json.sales;
    assert.equal(all.length, 5);
    for (let i = 1; i < all.length; i++) assert.ok(all[i - 1].time_ms >= all[i].time_ms, 'newest first');
    assert.deepEqual(all.map((s) => s.total_minor), [2158, 2700, 315, 5865, 3318]);
    const two = (await term.api('GET', '/api/v1/sales?limit=2', { token: ann, expect: 200 })).json.sales;
    assert.deepEqual(two, all.slice(0, 2));
    const st = (await term.api('GET', '/api/v1/status', { expect: 200 })).json;
    assert.equal(st.sales, 5);
  });
});
