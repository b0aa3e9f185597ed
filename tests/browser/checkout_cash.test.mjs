// (1) A cashier logs in, scans two barcodes through the keyboard wedge,
// changes a quantity, pays cash and gets a receipt whose totals match the
// demo catalog, computed here by hand (docs/PRICING.md).

import test from 'node:test';
import assert from 'node:assert/strict';
import { withTerminalAndBrowser, login, wedgeScan } from './harness.mjs';

// From data/demo/catalog.csv (prices exclude tax):
//   COF-250 "Coffee, house blend 250g" 4006381333931  6.49 reduced (5.5 %)
//   MUG-KS  "Mug ""kassa"" 300ml"       4099999000017  9.99 standard (20 %)
//
// Coffee × 3: net = 649 × 3 = 1947; tax = round_half_up(1947 × 0.055)
//             = round_half_up(107.085) = 107; total = 2054
// Mug × 1:    net = 999;            tax = round_half_up(999 × 0.20)
//             = round_half_up(199.8) = 200;   total = 1199
// Cart:       subtotal = 2946, tax = 307, total = 3253
// Cash 50.00: change = 5000 − 3253 = 1747
const EXPECT = {
  coffeeTotal: '20.54',
  mugTotal: '11.99',
  subtotal: '29.46',
  tax: '3.07',
  total: '32.53',
  tendered: '50.00',
  change: '17.47',
};

test('checkout: wedge scans, quantity change, cash payment, receipt totals', async () => {
  await withTerminalAndBrowser('checkout_cash', async ({ url, page, pageErrors }) => {
    await login(page, url, 'C01', '1234');
    await page.locator('#view-checkout').waitFor();
    await assert.doesNotReject(page.locator('#who').filter({ hasText: 'Alice Cashier' }).waitFor());

    // Scanner with nothing focused: the global wedge must take it.
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    await wedgeScan(page, '4006381333931');
    await page.locator('#cart-lines tr[data-sku="COF-250"]').waitFor();

    // Scanner while a button has focus: the scan's Enter must not press it.
    await page.locator('#btn-search').focus();
    await wedgeScan(page, '4099999000017');
    await page.locator('#cart-lines tr[data-sku="MUG-KS"]').waitFor();
    assert.equal(await page.locator('#dlg-search').isVisible(), false, 'the scan Enter clicked the focused Search button');

    // Digits typed into a text field stay there (the wedge does not steal them).
    const coffee = page.locator('#cart-lines tr[data-sku="COF-250"]');
    const qty = coffee.getByLabel('Quantity of Coffee, house blend 250g');
    await qty.fill('3');
    await qty.press('Enter');
    await coffee.locator('.line-total', { hasText: EXPECT.coffeeTotal }).waitFor();
    assert.equal(await qty.inputValue(), '3');
    assert.equal(await page.locator('#cart-lines tr').count(), 2, 'typing 3 in the quantity field must not be taken as a scan');
    assert.equal(await page.locator('#cart-lines tr[data-sku="MUG-KS"] .line-total').textContent(), EXPECT.mugTotal);

    assert.equal(await page.locator('#t-subtotal').textContent(), EXPECT.subtotal);
    assert.equal(await page.locator('#t-tax').textContent(), EXPECT.tax);
    assert.equal(await page.locator('#t-total').textContent(), EXPECT.total);

    // Pay cash: the change shown before confirming, then the receipt.
    await page.locator('#btn-pay').click();
    await page.locator('#dlg-pay').waitFor();
    assert.equal(await page.locator('#pay-total').textContent(), EXPECT.total);
    await page.locator('#pay-tendered').fill('20');
    assert.equal(await page.locator('#pay-change-label').textContent(), 'Still due');
    assert.equal(await page.locator('#pay-change').textContent(), '12.53');
    await page.getByRole('button', { name: 'Tendered 50.00' }).click();
    assert.equal(await page.locator('#pay-tendered').inputValue(), EXPECT.tendered);
    assert.equal(await page.locator('#pay-change').textContent(), EXPECT.change);
    await page.locator('#pay-confirm').click();

    const receipt = page.locator('#receipt-text');
    await receipt.waitFor();
    const text = await receipt.textContent();
    assert.match(text, /Coffee, house blend 250g/);
    assert.match(text, /Mug "kassa" 300ml/);
    assert.match(text, new RegExp(`Subtotal\\s+${EXPECT.subtotal}\\b`));
    assert.match(text, new RegExp(`Tax\\s+${EXPECT.tax}\\b`));
    assert.match(text, new RegExp(`TOTAL\\s+${EXPECT.total}\\b`));
    assert.match(text, new RegExp(`Cash\\s+${EXPECT.tendered}\\b`));
    assert.match(text, new RegExp(`Change\\s+${EXPECT.change}\\b`));
    assert.match(await page.locator('#receipt-summary').textContent(), new RegExp(`total ${EXPECT.total}.*change ${EXPECT.change}`));

    // The print stylesheet shows the receipt and nothing else.
    await page.emulateMedia({ media: 'print' });
    assert.equal(await page.locator('#print-receipt').isVisible(), true);
    assert.equal(await page.locator('#print-receipt').textContent(), text);
    assert.equal(await page.locator('#view-checkout').isVisible(), false);
    assert.equal(await page.locator('#status-bar').isVisible(), false);
    assert.equal(await page.locator('#dlg-receipt').isVisible(), false);
    await page.emulateMedia({ media: 'screen' });

    // The sale is paid: the cart on screen is empty again.
    assert.equal(await page.locator('#cart-lines tr').count(), 0);
    assert.equal(await page.locator('#t-total').textContent(), '0.00');
    assert.deepEqual(pageErrors, []);
  });
});
