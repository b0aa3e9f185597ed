// (7) The manager's side of card payments and the cash drawer: an offline
// card payment the processor declines when it is forwarded lands in the
// review list (supervisors and managers only), and a manager resolves it
// with a note; the drawer's float, drop and end-of-shift count, with what
// was over or short (docs/PAYMENTS.md, "The review list", "The drawer").

import test from 'node:test';
import assert from 'node:assert/strict';
import { withTerminalAndBrowser, login, wedgeScan, fmt } from './harness.mjs';
import { CARDS } from '../lib/paysims.mjs';

// BAG-CL "Cloth bag" 4099999000024, 1.50 standard (20 %): total 180.
const BAG = { barcode: '4099999000024', sku: 'BAG-CL', total: 180 };

async function sellBag(page) {
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await wedgeScan(page, BAG.barcode);
  await page.locator(`#cart-lines tr[data-sku="${BAG.sku}"]`).waitFor();
}

test('review: an offline card payment declined when forwarded is resolved by a manager', async () => {
  const payments = { forward_retry_min_ms: 300000, forward_retry_max_ms: 300000 };
  await withTerminalAndBrowser('review_list', async ({ url, page, pageErrors, sims }) => {
    // A cashier does not get the review list.
    await login(page, url, 'C01', '1234');
    await page.locator('#view-checkout').waitFor();
    assert.equal(await page.locator('#btn-review').isVisible(), false);
    await page.locator('#btn-logout').click();
    await page.locator('#view-login').waitFor();

    await login(page, url, 'SUP1', '9999');
    await page.locator('#view-checkout').waitFor();
    await page.locator('#btn-review').waitFor();

    // The processor is down: a card it would decline is accepted offline.
    await sims.stopProcessor();
    await sellBag(page);
    sims.present(CARDS.insufficientFunds);
    await page.locator('#btn-pay-card').click();
    await page.locator('#pay-confirm').click();
    await page.locator('#dlg-receipt').waitFor();
    assert.match(await page.locator('#receipt-tenders').textContent(), /VISA \*\*\*\*9995 · 1\.80 · accepted offline — will be forwarded/);
    const saleId = /^Sale (\S+)/.exec(await page.locator('#receipt-summary').textContent())[1];
    await page.keyboard.press('Escape');
    await page.locator('#st-card-pending', { hasText: '1 card payment pending: 1.80' }).waitFor();

    // Back online and forwarded: declined, so it is to be reviewed.
    await sims.startProcessor();
    await page.locator('#st-forward').click();
    await page.locator('#st-card-pending').waitFor({ state: 'hidden' });
    await page.locator('#st-review', { hasText: '1 card payment to review' }).waitFor();

    await page.locator('#btn-review').click();
    await page.locator('#dlg-review').waitFor();
    const row = page.locator(`#review-rows tr[data-sale-id="${saleId}"]`);
    await row.waitFor();
    const cells = await row.locator('td').allTextContents();
    assert.equal(cells[0], saleId);
    assert.equal(cells[1], fmt(BAG.total));
    assert.equal(cells[2], 'VISA ****9995');
    assert.equal(cells[3], 'Declined: insufficient funds');

    // Resolving needs a manager and a note.
    await row.getByRole('button', { name: /^Resolve payment .* of sale / }).click();
    await page.locator('#dlg-supervisor').waitFor();
    assert.match(await page.locator('#dlg-supervisor-title').textContent(), /^Resolve card payment /);
    const offered = await page.locator('#supervisor-id option').evaluateAll((os) => os.map((o) => o.value));
    assert.deepEqual(offered, ['MGR1']);
    assert.equal(await page.locator('#supervisor-reason-label').textContent(), 'Note (required)');
    await page.locator('#supervisor-pin').fill('5555');
    await page.locator('#supervisor-ok').click();
    await page.locator('#supervisor-error', { hasText: 'A note is required.' }).waitFor();
    await page.locator('#supervisor-reason').fill('Customer came back and paid in cash');
    await page.locator('#supervisor-ok').click();
    await page.locator('#review-msg', { hasText: `(sale ${saleId}) by MGR1` }).waitFor();
    await page.locator('#review-rows td', { hasText: 'Nothing to review.' }).waitFor();
    await page.locator('#st-review').waitFor({ state: 'hidden' });

    // Still on record, resolved.
    await page.locator('#review-all').check();
    await row.locator('td', { hasText: 'Resolved by MGR1: Customer came back and paid in cash' }).waitFor();
    await page.keyboard.press('Escape');

    // The sale cannot be voided at the till (the customer never paid by card).
    const voided = await page.evaluate(async (id) => {
      const res = await fetch(`/api/v1/sales/${id}/void`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${sessionStorage.getItem('kassa.token')}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ supervisor: { id: 'SUP1', pin: '9999' } }),
      });
      return res.status;
    }, saleId);
    assert.equal(voided, 409);

    assert.deepEqual(pageErrors, []);
  }, undefined, { paySims: true, payments });
});

test('drawer: float, a cash sale, drops, and counts short and over', async () => {
  await withTerminalAndBrowser('cash_drawer', async ({ url, page, pageErrors }) => {
    await login(page, url, 'C01', '1234');
    await page.locator('#view-checkout').waitFor();
    // This terminal has no card reader: cash is the only tender offered.
    await page.locator('#st-card').waitFor({ state: 'hidden' });
    await page.locator('#btn-pay-card').waitFor({ state: 'hidden' });

    const expected = page.locator('#drawer-expected');
    const result = page.locator('#drawer-result');
    const amount = page.locator('#drawer-amount');
    const events = page.locator('#drawer-events tr');

    // Float in at the start of the shift (typed, then Enter).
    await page.locator('#btn-cash-drawer').click();
    await page.locator('#dlg-drawer').waitFor();
    await expected.filter({ hasText: '0.00' }).waitFor();
    await page.locator('#drawer-events td', { hasText: 'No float, drop or count yet.' }).waitFor();
    assert.equal(await page.evaluate(() => document.activeElement.id), 'drawer-amount');
    await page.keyboard.type('100');
    await page.keyboard.press('Enter');
    await result.filter({ hasText: 'Float of 100.00 recorded. The drawer should now hold 100.00.' }).waitFor();
    await expected.filter({ hasText: '100.00' }).waitFor();
    await events.filter({ hasText: 'Float in' }).waitFor();
    await page.keyboard.press('Escape');

    // A cash sale puts its cash due in the drawer.
    await sellBag(page);
    await page.locator('#btn-pay').click();
    await page.getByRole('button', { name: `Exact amount ${fmt(BAG.total)}` }).click();
    await page.locator('#pay-confirm').click();
    await page.locator('#dlg-receipt').waitFor();
    await page.keyboard.press('Escape');

    await page.locator('#btn-cash-drawer').click();
    await expected.filter({ hasText: '101.80' }).waitFor();

    // A drop to the safe, then one beyond what the drawer holds (refused).
    await page.locator('input[name=drawer-action][value=drop]').check();
    assert.equal(await page.locator('#drawer-submit').textContent(), 'Record drop');
    await amount.fill('50');
    await page.locator('#drawer-submit').click();
    await result.filter({ hasText: 'Cash drop of 50.00 recorded. The drawer should now hold 51.80.' }).waitFor();
    await amount.fill('1000');
    await page.locator('#drawer-submit').click();
    await page.locator('#drawer-error', { hasText: 'cannot drop 1000.00: the drawer holds 51.80' }).waitFor();
    await expected.filter({ hasText: '51.80' }).waitFor();

    // End of shift: 50.00 counted, 1.80 short; the drawer then holds 50.00.
    await page.locator('input[name=drawer-action][value=count]').check();
    await amount.fill('50');
    await page.locator('#drawer-submit').click();
    await result.filter({ hasText: 'Counted 50.00, expected 51.80: short 1.80.' }).waitFor();
    await expected.filter({ hasText: /^50\.00$/ }).waitFor();
    // Counted again, with 2.00 more found: over.
    await amount.fill('52');
    await page.locator('#drawer-submit').click();
    await result.filter({ hasText: 'Counted 52.00, expected 50.00: over 2.00.' }).waitFor();
    await expected.filter({ hasText: '52.00' }).waitFor();

    // The movements, newest first (the refused drop is not one).
    await events.nth(3).waitFor();
    const rows = await events.evaluateAll((trs) => trs.map((tr) => [...tr.cells].slice(1).map((td) => td.textContent)));
    assert.deepEqual(rows, [
      ['Count', '52.00', 'over 2.00', 'C01'],
      ['Count', '50.00', 'short 1.80', 'C01'],
      ['Cash drop', '50.00', '', 'C01'],
      ['Float in', '100.00', '', 'C01'],
    ]);
    await page.keyboard.press('Escape');
    assert.equal(await page.locator('#dlg-drawer').isVisible(), false);
    assert.deepEqual(pageErrors, []);
  });
});
