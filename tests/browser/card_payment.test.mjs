// (6) Card payments through the simulated reader and processor
// (tests/lib/paysims.mjs, docs/PAYMENTS.md): an online approval while the
// cart is locked, a decline then cash, a reader that disconnects then a
// retry, split tender, where refunds go; and with the processor down, a
// payment accepted offline, the offline limit overridden by a manager, and
// "Forward now" once the processor is back.

import test from 'node:test';
import assert from 'node:assert/strict';
import { withTerminalAndBrowser, login, wedgeScan, fmt } from './harness.mjs';
import { CARDS } from '../lib/paysims.mjs';

// From data/demo/catalog.csv (docs/PRICING.md):
//   COF-250 6.49 reduced 5.5 %: tax round_half_up(35.695) = 36, total 685
//   MUG-KS  9.99 standard 20 %: tax round_half_up(199.8) = 200, total 1199
//   BAG-CL  1.50 standard 20 %: tax 30, total 180
const COFFEE = { barcode: '4006381333931', sku: 'COF-250', total: 685 };
const MUG = { barcode: '4099999000017', sku: 'MUG-KS', total: 1199 };
const BAG = { barcode: '4099999000024', sku: 'BAG-CL', total: 180 };

const re = (text) => new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));

async function scanItems(page, ...items) {
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  for (const it of items) {
    await wedgeScan(page, it.barcode);
    await page.locator(`#cart-lines tr[data-sku="${it.sku}"]`).waitFor();
  }
  const total = items.reduce((n, it) => n + it.total, 0);
  await page.locator('#t-total', { hasText: fmt(total) }).waitFor();
  return total;
}

/** The API as the page's session sees it. */
function apiFetch(page, method, path, body) {
  return page.evaluate(async ({ method, path, body }) => {
    const res = await fetch(path, {
      method,
      headers: { Authorization: `Bearer ${sessionStorage.getItem('kassa.token')}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json().catch(() => null) };
  }, { method, path, body });
}

async function receiptDone(page) {
  const summary = await page.locator('#receipt-summary').textContent();
  const tenders = await page.locator('#receipt-tenders').textContent();
  const text = await page.locator('#receipt-text').textContent();
  await page.keyboard.press('Escape');
  await page.locator('#dlg-receipt').waitFor({ state: 'hidden' });
  return { saleId: /^Sale (\S+)/.exec(summary)[1], summary, tenders, text };
}

test('card: approved while the cart is locked, declined then cash, reader failure then retry, split, refunds', async () => {
  // No default card: the reader waits for the customer until present().
  await withTerminalAndBrowser('card_payment_online', async ({ url, page, pageErrors, sims }) => {
    await login(page, url, 'C01', '1234');
    await page.locator('#view-checkout').waitFor();

    // ── Card, the whole total: the dialog waits for the customer.
    await scanItems(page, COFFEE);
    await page.locator('#btn-pay-card').click();
    await page.locator('#dlg-pay').waitFor();
    assert.equal(await page.locator('#dlg-pay-title').textContent(), 'Pay by card');
    assert.equal(await page.locator('#pay-card-amount').textContent(), fmt(COFFEE.total));
    await page.locator('#pay-confirm').click();
    await page.locator('#pay-progress', { hasText: 'Present card on the reader…' }).waitFor();
    assert.equal(await page.locator('#pay-confirm').isDisabled(), true);
    await page.keyboard.press('Escape');
    assert.equal(await page.locator('#dlg-pay').isVisible(), true, 'Esc must not close the dialog while the card payment runs');
    // The terminal keeps the cart locked meanwhile.
    const cartId = await page.evaluate(() => sessionStorage.getItem('kassa.cart'));
    const change = await apiFetch(page, 'POST', `/api/v1/carts/${cartId}/lines`, { sku: MUG.sku, qty: 1 });
    assert.equal(change.status, 409, JSON.stringify(change.body));

    sims.present(CARDS.visa); // the customer taps
    await page.locator('#dlg-receipt').waitFor();
    const online = await receiptDone(page);
    const auth = /Card VISA \*\*\*\*1111 · 6\.85 · approved \(auth ([A-Z0-9]+)\)/.exec(online.tenders);
    assert.ok(auth, online.tenders);
    assert.match(online.text, re(`Card visa ****1111  auth ${auth[1]}`));
    assert.match(await page.locator('#msg').textContent(), re(`paid by card VISA ****1111: approved (auth ${auth[1]})`));
    assert.equal(await page.locator('#cart-lines tr').count(), 0);
    // Nothing waits for the processor.
    await page.locator('#st-card', { hasText: 'Card processor: online' }).waitFor();
    await page.locator('#st-forward').waitFor({ state: 'hidden' });
    assert.equal(await page.locator('#st-card-pending').isVisible(), false);

    // ── Declined: said in words; the cart stays; cash instead.
    await scanItems(page, MUG);
    sims.present(CARDS.insufficientFunds);
    await page.locator('#btn-pay-card').click();
    await page.locator('#pay-confirm').click();
    await page.locator('#pay-failure-title', { hasText: 'Declined: insufficient funds' }).waitFor();
    assert.match(await page.locator('#pay-failure-detail').textContent(), /Nothing was charged/);
    assert.equal(await page.locator('#pay-retry').textContent(), 'Try another card');
    assert.equal(await page.locator('#pay-override').isVisible(), false);
    assert.equal(await page.locator(`#cart-lines tr[data-sku="${MUG.sku}"]`).count(), 1);
    assert.equal(await page.locator('#t-total').textContent(), fmt(MUG.total));
    await page.locator('#pay-cash-instead').click();
    assert.equal(await page.locator('#dlg-pay-title').textContent(), 'Pay cash');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'pay-tendered');
    await page.keyboard.type('20');
    await page.keyboard.press('Enter');
    await page.locator('#dlg-receipt').waitFor();
    const cash = await receiptDone(page);
    assert.match(cash.summary, /total 11\.99 · cash 20\.00 · change 8\.01/);
    assert.doesNotMatch(cash.tenders, /Card/);

    // ── The reader disconnects: said in words; "Try again" with the card.
    await scanItems(page, BAG);
    sims.present({ behaviour: 'disconnect' });
    await page.locator('#btn-pay-card').click();
    await page.locator('#pay-confirm').click();
    await page.locator('#pay-failure-title', { hasText: 'Reader disconnected' }).waitFor();
    assert.equal(await page.locator('#pay-retry').textContent(), 'Try again');
    assert.equal(await page.locator('#pay-cash-instead').isVisible(), true);
    sims.present(CARDS.mastercard);
    await page.locator('#pay-retry').click();
    await page.locator('#dlg-receipt').waitFor();
    const retried = await receiptDone(page);
    assert.match(retried.tenders, /Card MASTERCARD \*\*\*\*4444 · 1\.80 · approved \(auth [A-Z0-9]+\)/);

    // ── Split: 15.00 of 18.84 in cash (20.00 handed over), the rest by card.
    const total = await scanItems(page, COFFEE, MUG);
    assert.equal(total, 1884);
    await page.locator('#btn-pay').click();
    await page.locator('input[name=tender][value=split]').check();
    assert.equal(await page.locator('#dlg-pay-title').textContent(), 'Split payment: cash + card');
    await page.locator('#pay-tendered').fill('15');
    assert.equal(await page.locator('#pay-card-amount').textContent(), '3.84');
    await page.locator('#pay-received').fill('20');
    assert.equal(await page.locator('#pay-change').textContent(), '5.00');
    sims.present(CARDS.visa);
    await page.locator('#pay-confirm').click();
    await page.locator('#dlg-receipt').waitFor();
    const split = await receiptDone(page);
    assert.match(split.tenders, /Card VISA \*\*\*\*1111 · 3\.84 · approved \(auth [A-Z0-9]+\)/);
    assert.match(split.tenders, /Cash 20\.00 · due 15\.00 · change 5\.00/);
    assert.doesNotMatch(split.tenders, /rounding/, 'no cash rounding is configured');
    assert.match(split.text, /Change\s+5\.00\b/);

    // ── Refunds go back where the money came from.
    await page.keyboard.press('F8');
    const splitRow = page.locator(`#sales-rows tr[data-sale-id="${split.saleId}"]`);
    await splitRow.getByRole('button', { name: `Return items of sale ${split.saleId}` }).click();
    await page.locator(`#return-rows input[data-sku="${MUG.sku}"]`).fill('1');
    await page.locator('#return-form button[type=submit]').click();
    await page.locator('#supervisor-id').selectOption('SUP1');
    await page.locator('#supervisor-pin').fill('9999');
    await page.locator('#supervisor-ok').click();
    // 11.99 back: the card's 3.84 first, then 8.15 in cash.
    await page.locator('#sales-msg', { hasText: 'refund 3.84 back to card VISA ****1111, 8.15 cash' }).waitFor();

    const cardRow = page.locator(`#sales-rows tr[data-sale-id="${online.saleId}"]`);
    await cardRow.getByRole('button', { name: `Void sale ${online.saleId}` }).click();
    await page.locator('#supervisor-id').selectOption('SUP1');
    await page.locator('#supervisor-pin').fill('9999');
    await page.locator('#supervisor-ok').click();
    await page.locator('#sales-msg', { hasText: `Sale ${online.saleId} voided. Refund 6.85 back to card VISA ****1111.` }).waitFor();
    await page.keyboard.press('Escape');

    assert.deepEqual(pageErrors, []);
  }, undefined, { paySims: { defaultCard: null } });
});

test('card: processor down → accepted offline, offline limit → manager override, "Forward now" once it is back', async () => {
  // Offline payments up to 5.00; the forwarder's own retries are far off,
  // so only "Forward now" sends them.
  const payments = { offline_max_amount_minor: 500, forward_retry_min_ms: 300000, forward_retry_max_ms: 300000 };
  await withTerminalAndBrowser('card_payment_offline', async ({ url, page, pageErrors, sims }) => {
    await login(page, url, 'C01', '1234');
    await page.locator('#view-checkout').waitFor();
    await sims.stopProcessor();

    // ── Within the offline limit: accepted offline (the reader's default card).
    await scanItems(page, BAG);
    await page.locator('#btn-pay-card').click();
    await page.locator('#pay-confirm').click();
    await page.locator('#dlg-receipt').waitFor();
    const offline = await receiptDone(page);
    assert.match(offline.tenders, /Card VISA \*\*\*\*1111 · 1\.80 · accepted offline — will be forwarded/);
    assert.match(offline.text, /Card visa \*\*\*\*1111 \(offline\)/);
    await page.locator('#st-card-pending', { hasText: '1 card payment pending: 1.80' }).waitFor();
    await page.locator('#st-card', { hasText: 'offline' }).waitFor();
    await page.locator('#st-forward').waitFor();

    // ── Over the offline limit: explained, and a manager may allow it.
    await scanItems(page, COFFEE);
    await page.locator('#btn-pay-card').click();
    await page.locator('#pay-confirm').click();
    await page.locator('#pay-failure-title', { hasText: 'over the offline limit' }).waitFor();
    assert.match(await page.locator('#pay-failure-detail').textContent(), /offline limit of 5\.00 per payment.*manager.*presents the card again/);
    assert.equal(await page.locator(`#cart-lines tr[data-sku="${COFFEE.sku}"]`).count(), 1);
    await page.locator('#pay-override').click();
    const prompt = page.locator('#dlg-supervisor');
    await prompt.waitFor();
    assert.equal(await page.locator('#dlg-supervisor-title').textContent(), 'Manager override');
    assert.equal(await page.locator('#supervisor-id-label').textContent(), 'Manager');
    const offered = await page.locator('#supervisor-id option').evaluateAll((os) => os.map((o) => o.value));
    assert.deepEqual(offered, ['MGR1'], 'only managers may allow it');
    assert.equal(await page.locator('#supervisor-reason').isVisible(), false);
    // A wrong PIN stays in the prompt (and charges nothing).
    await page.locator('#supervisor-pin').fill('0000');
    await page.locator('#supervisor-ok').click();
    await page.locator('#supervisor-error', { hasText: /^Wrong manager PIN\./ }).waitFor();
    assert.equal(await page.locator('#view-checkout').isVisible(), true);
    await page.locator('#supervisor-pin').fill('5555');
    await page.locator('#supervisor-ok').click();
    await page.locator('#dlg-receipt').waitFor();
    assert.equal(await prompt.isVisible(), false);
    assert.equal(await page.locator('#dlg-pay').isVisible(), false);
    const overridden = await receiptDone(page);
    assert.match(overridden.tenders, /Card VISA \*\*\*\*1111 · 6\.85 · accepted offline — will be forwarded/);
    await page.locator('#st-card-pending', { hasText: '2 card payments pending: 8.65' }).waitFor();

    // ── The processor is back; "Forward now" sends what waits.
    await sims.startProcessor();
    assert.match(await page.locator('#st-card-pending').textContent(), /2 card payments pending/);
    await page.locator('#st-forward').click();
    await page.locator('#st-card-pending').waitFor({ state: 'hidden' });
    await page.locator('#st-card', { hasText: 'Card processor: online' }).waitFor();
    await page.locator('#st-forward').waitFor({ state: 'hidden' });
    const status = await apiFetch(page, 'GET', '/api/v1/status');
    assert.equal(status.body.payments.pending_count, 0);
    assert.equal(status.body.payments.pending_amount_minor, 0);
    for (const id of [offline.saleId, overridden.saleId]) {
      const sale = await apiFetch(page, 'GET', `/api/v1/sales/${id}`);
      assert.equal(sale.body.card.status, 'approved', `${id}: ${JSON.stringify(sale.body.card)}`);
    }

    assert.deepEqual(pageErrors, []);
  }, undefined, { paySims: true, payments });
});

test('cash rounding (CHF, 0.05): cash only and split, the rounding shown on the receipt', async () => {
  // MLK-1L 1.19 reduced 5.5 %: tax round_half_up(6.545) = 7, total 126;
  //   in cash 1.26 → 1.25 (rounding −0.01).
  // MUG-KS total 1199; split with a cash part of 10.02: the card pays 1.97,
  //   the cash due 10.02 → 10.00 (rounding −0.02); 20.00 handed over.
  const MILK = { barcode: '4011800564125', sku: 'MLK-1L', total: 126 };
  await withTerminalAndBrowser('cash_rounding', async ({ url, page, pageErrors }) => {
    await login(page, url, 'C01', '1234');
    await page.locator('#view-checkout').waitFor();

    await scanItems(page, MILK);
    await page.keyboard.press('F4');
    // Below the rounded total: the terminal refuses, in its own words.
    await page.keyboard.type('1.20');
    await page.keyboard.press('Enter');
    await page.locator('#pay-error', { hasText: 'payment 1.20 is less than the total 1.25' }).waitFor();
    // The rounded total is enough.
    await page.locator('#pay-tendered').fill('1.25');
    await page.keyboard.press('Enter');
    await page.locator('#dlg-receipt').waitFor();
    const cash = await receiptDone(page);
    assert.match(cash.tenders, /Cash 1\.25 · due 1\.25 · change 0\.00/);
    assert.match(cash.tenders, /Cash rounding −0\.01/);

    await scanItems(page, MUG);
    await page.locator('#btn-pay-card').click();
    await page.locator('input[name=tender][value=split]').check();
    await page.locator('#pay-tendered').fill('10.02');
    assert.equal(await page.locator('#pay-card-amount').textContent(), '1.97');
    await page.locator('#pay-received').fill('20');
    await page.locator('#pay-confirm').click();
    await page.locator('#dlg-receipt').waitFor();
    const split = await receiptDone(page);
    assert.match(split.tenders, /Card VISA \*\*\*\*1111 · 1\.97 · approved/);
    assert.match(split.tenders, /Cash 20\.00 · due 10\.00 · change 10\.00/);
    assert.match(split.tenders, /Cash rounding −0\.02/);

    assert.deepEqual(pageErrors, []);
  }, undefined, { paySims: true, setup: [['currency', 'CHF', '--rounding', '5']] });
});
