// (5) The other supervised actions and the session's end: return one unit
// of a sale line (refund per docs/PRICING.md "Returns"), open the drawer
// without a sale (reason required), and a session that ended on the
// terminal sends the cashier back to the login screen.

import test from 'node:test';
import assert from 'node:assert/strict';
import { withTerminalAndBrowser, login, wedgeScan, fmt } from './harness.mjs';

// COF-250 × 3 at 6.49, reduced 5.5 %: net 1947, tax 107, line total T = 2054.
// Returning k = 1 of q = 3 (none returned before):
//   refund = cum(1) − cum(0) = round_half_up(2054 × 1 / 3 = 684.67) = 685.
const LINE_TOTAL = 2054;
const REFUND = 685;

test('return one unit, open the drawer, and 401 returns to the login screen', async () => {
  await withTerminalAndBrowser('return_drawer', async ({ url, page, pageErrors }) => {
    await login(page, url, 'C01', '1234');
    await page.locator('#view-checkout').waitFor();

    // Sale: three coffees (scanned three times: the same SKU adds up).
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    for (let i = 0; i < 3; i++) await wedgeScan(page, '4006381333931');
    const coffee = page.locator('#cart-lines tr[data-sku="COF-250"]');
    await coffee.locator('.line-total', { hasText: fmt(LINE_TOTAL) }).waitFor();
    await page.locator('#btn-pay').click();
    await page.locator('#pay-tendered').fill('21');
    await page.locator('#pay-confirm').click();
    await page.locator('#dlg-receipt').waitFor();
    const saleId = /^Sale (\S+)/.exec(await page.locator('#receipt-summary').textContent())[1];
    await page.keyboard.press('Escape');

    // Return one unit with the manager's approval.
    await page.locator('#btn-sales').click();
    const row = page.locator(`#sales-rows tr[data-sale-id="${saleId}"]`);
    await row.getByRole('button', { name: `Return items of sale ${saleId}` }).click();
    await page.locator('#dlg-return').waitFor();
    const units = page.locator('#return-rows input[data-sku="COF-250"]');
    assert.equal(await units.getAttribute('max'), '3');
    await page.locator('#return-form button[type=submit]').click();
    await page.locator('#return-error', { hasText: 'at least one line' }).waitFor();
    await units.fill('1');
    await page.locator('#return-form button[type=submit]').click();
    await page.locator('#dlg-supervisor').waitFor();
    await page.locator('#supervisor-id').selectOption('MGR1');
    await page.locator('#supervisor-pin').fill('5555');
    await page.locator('#supervisor-ok').click();
    await page.locator('#sales-msg', { hasText: `refund ${fmt(REFUND)}` }).waitFor();
    assert.equal(await page.locator('#dlg-return').isVisible(), false);
    await row.locator('td', { hasText: `Refunded ${fmt(REFUND)}` }).waitFor();
    await page.keyboard.press('Escape');

    // Open the drawer: the reason is required before anything is sent.
    await page.keyboard.press('F9');
    await page.locator('#dlg-supervisor').waitFor();
    await page.locator('#supervisor-id').selectOption('SUP1');
    await page.locator('#supervisor-pin').fill('9999');
    await page.locator('#supervisor-ok').click();
    await page.locator('#supervisor-error', { hasText: 'reason is required' }).waitFor();
    await page.locator('#supervisor-pin').fill('9999');
    await page.locator('#supervisor-reason').fill('change for the float');
    await page.locator('#supervisor-ok').click();
    await page.locator('#msg', { hasText: 'Drawer opened.' }).waitFor();

    // The session ends on the terminal (as after a timeout); the next
    // request answers 401 and the cashier is back at the login screen.
    const status = await page.evaluate(async () => {
      const res = await fetch('/api/v1/sessions/current', {
        method: 'DELETE',
        headers: { Authorization: `Bearer ${sessionStorage.getItem('kassa.token')}` },
      });
      return res.status;
    });
    assert.equal(status, 204);
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    await wedgeScan(page, '4099999000024');
    await page.locator('#view-login').waitFor();
    await page.locator('#login-error', { hasText: 'session has ended' }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('kassa.token')), null);
    assert.deepEqual(pageErrors, []);
  });
});
