// The fraud check in the UI (docs/FRAUD.md): with the signed fraud model
// installed and a policy that holds every sale for a supervisor (so the
// test does not depend on a particular score), a sale is held at checkout;
// the supervisor approves it with their PIN in the prompt (a wrong PIN is
// refused in the prompt, the cashier stays logged in), the sale completes;
// the Risk review lists the decision with its risk and reasons, and a
// supervisor accepts it: resolved, on record.

import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { withTerminalAndBrowser, login, wedgeScan, fmt, auditOps, CASHIERS, REPO } from './harness.mjs';

const BAG_TOTAL = 180; // BAG-CL 1.50 + 20 % tax
const sup = CASHIERS.find((c) => c.id === 'SUP1');

test('a sale held by the fraud check is approved by a supervisor; the risk review shows and resolves it', async () => {
  await withTerminalAndBrowser('risk', async ({ url, data, page, pageErrors }) => {
    await login(page, url, sup.id, sup.pin);
    await page.locator('#view-checkout').waitFor();
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    await wedgeScan(page, '4099999000024');
    await page.locator('#cart-lines tr[data-sku="BAG-CL"]').waitFor();
    await page.locator('#btn-pay').click();
    await page.getByRole('button', { name: `Exact amount ${fmt(BAG_TOTAL)}` }).click();
    await page.locator('#pay-confirm').click();

    // held: the supervisor prompt with the reasons
    const prompt = page.locator('#dlg-supervisor');
    await prompt.waitFor();
    assert.equal(await page.locator('#dlg-supervisor-title').textContent(), 'Supervisor approval');
    assert.match(await page.locator('#supervisor-what').textContent(), /risk check held this sale/);
    assert.match(await page.locator('#pay-error').textContent(), /A supervisor must approve this sale/);
    await page.locator('#supervisor-id').selectOption('SUP1');
    await page.locator('#supervisor-pin').fill('0000');
    await page.locator('#supervisor-ok').click();
    await page.locator('#supervisor-error', { hasText: /Wrong supervisor PIN/ }).waitFor();
    assert.equal(await page.locator('#view-checkout').isVisible(), true, 'a wrong PIN does not log out');
    await page.locator('#supervisor-pin').fill(sup.pin);
    await page.locator('#supervisor-ok').click();
    await page.locator('#dlg-receipt').waitFor();
    const saleId = /^Sale (\S+)/.exec(await page.locator('#receipt-summary').textContent())[1];
    await page.locator('#dlg-receipt').getByRole('button', { name: /Done/ }).click();

    // the decision is on record
    const ops = await auditOps(data, 'fraud_decision', 1);
    assert.ok(ops.some((o) => o.detail.includes(saleId) || o.subject.includes(saleId)), JSON.stringify(ops));

    // the risk review: the decision, then accepted
    await page.locator('#btn-risk').click();
    await page.locator('#dlg-risk').waitFor();
    const row = page.locator('#risk-decisions tr', { hasText: saleId });
    await row.waitFor();
    assert.match(await row.textContent(), /\d+%/);
    await row.getByRole('button', { name: /^Accept / }).click();
    await prompt.waitFor();
    await page.locator('#supervisor-id').selectOption('SUP1');
    await page.locator('#supervisor-pin').fill(sup.pin);
    await page.locator('#supervisor-reason').fill('regular customer');
    await page.locator('#supervisor-ok').click();
    await page.locator('#risk-msg', { hasText: /accept recorded/ }).waitFor();
    await page.locator('#risk-all').check();
    await page.locator('#risk-decisions tr', { hasText: 'Resolved (accept) by SUP1' }).waitFor();
    assert.deepEqual(pageErrors, []);
  }, undefined, {
    setup: [['model', 'trust', path.join(REPO, 'models', 'headoffice.pub')], ['model', 'install', path.join(REPO, 'models', 'fraud')]],
    config: { fraud: { supervisor_at_bp: 1, review_at_bp: 1 } },
  });
});
