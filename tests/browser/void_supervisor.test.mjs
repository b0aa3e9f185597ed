// (2) Voiding a sale needs a supervisor: a wrong supervisor PIN is refused
// inside the prompt (the cashier stays logged in), the right one voids the
// sale, and the terminal's own record says so.

import test from 'node:test';
import assert from 'node:assert/strict';
import { withTerminalAndBrowser, login, wedgeScan, fmt } from './harness.mjs';

// BAG-CL "Cloth bag" 4099999000024, 1.50 standard (20 %):
// tax = round_half_up(150 × 0.20) = 30, total = 180.
const BAG_TOTAL = 180;

test('void: a sale is voided after a supervisor approves with id and PIN', async () => {
  await withTerminalAndBrowser('void_supervisor', async ({ url, page, pageErrors }) => {
    await login(page, url, 'C01', '1234');
    await page.locator('#view-checkout').waitFor();

    // A sale to void: one cloth bag, paid exact.
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    await wedgeScan(page, '4099999000024');
    await page.locator('#cart-lines tr[data-sku="BAG-CL"]').waitFor();
    assert.equal(await page.locator('#t-total').textContent(), fmt(BAG_TOTAL));
    await page.locator('#btn-pay').click();
    await page.getByRole('button', { name: `Exact amount ${fmt(BAG_TOTAL)}` }).click();
    await page.locator('#pay-confirm').click();
    await page.locator('#dlg-receipt').waitFor();
    const summary = await page.locator('#receipt-summary').textContent();
    const saleId = /^Sale (\S+)/.exec(summary)[1];
    await page.locator('#dlg-receipt').getByRole('button', { name: /Done/ }).click();

    // Recent sales → Void on our sale.
    await page.locator('#btn-sales').click();
    const row = page.locator(`#sales-rows tr[data-sale-id="${saleId}"]`);
    await row.waitFor();
    assert.match(await row.textContent(), new RegExp(fmt(BAG_TOTAL).replace('.', '\\.')));
    assert.match(await row.textContent(), /Paid/);
    await row.getByRole('button', { name: `Void sale ${saleId}` }).click();

    const prompt = page.locator('#dlg-supervisor');
    await prompt.waitFor();
    // Only supervisors and managers are offered as approvers.
    const offered = await page.locator('#supervisor-id option').evaluateAll((os) => os.map((o) => o.value));
    assert.deepEqual([...offered].sort(), ['MGR1', 'SUP1']);
    await page.locator('#supervisor-id').selectOption('SUP1');

    // Wrong PIN: refused in the prompt, which stays open; no logout.
    await page.locator('#supervisor-pin').fill('0000');
    await page.locator('#supervisor-reason').fill('customer changed their mind');
    await page.locator('#supervisor-ok').click();
    await page.locator('#supervisor-error', { hasText: /^Wrong supervisor PIN\./ }).waitFor();
    assert.equal(await prompt.isVisible(), true);
    assert.equal(await page.locator('#view-checkout').isVisible(), true, 'a wrong supervisor PIN must not log the cashier out');

    // Right PIN: voided.
    await page.locator('#supervisor-pin').fill('9999');
    await page.locator('#supervisor-ok').click();
    await page.locator('#sales-msg', { hasText: `Sale ${saleId} voided` }).waitFor();
    assert.match(await page.locator('#sales-msg').textContent(), new RegExp(`Refund ${fmt(BAG_TOTAL).replace('.', '\\.')}`));
    assert.equal(await prompt.isVisible(), false);
    await row.locator('td', { hasText: 'Voided' }).waitFor();
    assert.equal(await row.getByRole('button', { name: `Void sale ${saleId}` }).isDisabled(), true);

    // The terminal agrees (same session token the UI holds).
    const sale = await page.evaluate(async (id) => {
      const token = sessionStorage.getItem('kassa.token');
      const res = await fetch(`/api/v1/sales/${encodeURIComponent(id)}`, { headers: { Authorization: `Bearer ${token}` } });
      return res.json();
    }, saleId);
    assert.equal(sale.voided, true);

    assert.deepEqual(pageErrors, []);
  });
});
