// (4) The whole flow by keyboard alone on a 1024×768 screen: log in, add
// items through the scan field and through search (F2), discount a line,
// pay (F4), close the receipt (Esc), void the sale with a supervisor (F8).
// No mouse event may reach the page, nothing may scroll sideways, every
// control is a touch target of at least 44 px, and focus is always visible.

import test from 'node:test';
import assert from 'node:assert/strict';
import { withTerminalAndBrowser, CASHIERS } from './harness.mjs';

// NEWS-D "Daily newspaper" 9771234567003, 2.50 zero-rated: total 250.
// MUF-BB "Blueberry muffin" (no barcode), 2.20 standard (20 %), 10 % off:
//   gross 220, discount round_half_up(22.0) = 22, net 198,
//   tax round_half_up(198 × 0.20 = 39.6) = 40, total 238.
// Cart: items 250 + 220 = 470, discount 22, subtotal 250 + 198 = 448,
//       tax 40, total 488.
// Cash 5.00: change 12.
const EXPECT = { gross: '4.70', subtotal: '4.48', discount: '−0.22', tax: '0.40', total: '4.88', muffin: '2.38', change: '0.12' };

async function focused(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return { id: '', label: '', tag: 'BODY' };
    const label = el.getAttribute('aria-label') || (el.labels && el.labels[0] && el.labels[0].textContent) || el.textContent;
    return { id: el.id, label: (label || '').trim(), tag: el.tagName, outline: getComputedStyle(el).outlineStyle };
  });
}

/** Press Tab (or Shift+Tab) until the focused element matches, at most n times. */
async function tabTo(page, match, { back = false, n = 40 } = {}) {
  for (let i = 0; i < n; i++) {
    const f = await focused(page);
    if (match(f)) return f;
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
  }
  throw new Error(`focus never reached the wanted control; last: ${JSON.stringify(await focused(page))}`);
}

async function assertLayout(page, where) {
  const m = await page.evaluate(() => ({
    docScroll: document.documentElement.scrollWidth,
    docClient: document.documentElement.clientWidth,
    bodyScroll: document.body.scrollWidth,
    inner: window.innerWidth,
  }));
  assert.ok(m.docScroll <= m.docClient && m.bodyScroll <= m.inner, `horizontal overflow ${where}: ${JSON.stringify(m)}`);

  // Touch targets: every visible button, text field and select is ≥ 44 px
  // high (and buttons ≥ 44 px wide). Radio buttons count by their label.
  const small = await page.evaluate(() => {
    const bad = [];
    const top = [...document.querySelectorAll('dialog[open]')].pop();
    const scope = top || document;
    for (const el of scope.querySelectorAll('button, input, select')) {
      const target = el.type === 'radio' || el.type === 'checkbox' ? el.closest('label') : el;
      const r = target.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue; // not displayed
      if (r.height < 44 || (el.tagName === 'BUTTON' && r.width < 44)) {
        bad.push(`${el.id || el.getAttribute('aria-label') || el.textContent.trim()} ${Math.round(r.width)}×${Math.round(r.height)}`);
      }
    }
    return bad;
  });
  assert.deepEqual(small, [], `touch targets under 44 px ${where}`);

  // Every control has a name a screen reader can say: a <label>, an
  // aria-label, or (buttons) its text.
  const unnamed = await page.evaluate(() => [...document.querySelectorAll('button, input, select')]
    .filter((el) => {
      const r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) return false;
      const aria = (el.getAttribute('aria-label') || '').trim();
      const labels = el.labels ? [...el.labels].map((l) => l.textContent.trim()).join('') : '';
      const text = el.tagName === 'BUTTON' ? el.textContent.trim() : '';
      return !(aria || labels || text);
    })
    .map((el) => el.outerHTML.slice(0, 80)));
  assert.deepEqual(unnamed, [], `unlabelled controls ${where}`);
}

async function assertFocusVisible(page, where) {
  const f = await focused(page);
  assert.notEqual(f.tag, 'BODY', `nothing focused ${where}`);
  assert.notEqual(f.outline, 'none', `focus not visible ${where}: ${JSON.stringify(f)}`);
}

test('keyboard only at 1024×768: sell, discount, pay, void without a mouse', async () => {
  await withTerminalAndBrowser('keyboard_only', async ({ url, page, pageErrors }) => {
    await page.goto(url);
    // Count any pointer input that reaches the page: there must be none.
    await page.evaluate(() => {
      window.__pointer = 0;
      for (const t of ['mousedown', 'mouseup', 'click', 'pointerdown', 'touchstart']) {
        window.addEventListener(t, (e) => { if (e.isTrusted && (e.detail > 0 || t !== 'click')) window.__pointer++; }, true);
      }
    });
    await page.waitForFunction(() => document.activeElement && document.activeElement.name === 'cashier');
    await assertLayout(page, 'on the login screen');

    // Log in: focus starts on the cashier list; arrows pick Alice.
    const alice = CASHIERS.find((c) => c.id === 'C01');
    const n = await page.locator('#login-cashiers input[name=cashier]').count();
    await page.keyboard.press('Space');
    for (let i = 0; i < n; i++) {
      if ((await page.locator('#login-cashiers input:checked').getAttribute('value')) === alice.id) break;
      await page.keyboard.press('ArrowDown');
    }
    assert.equal(await page.locator('#login-cashiers input:checked').getAttribute('value'), alice.id);
    await assertFocusVisible(page, 'on the cashier list');
    await page.keyboard.press('Tab');
    assert.equal((await focused(page)).id, 'login-pin', 'Tab from the cashier goes to the PIN');
    await page.keyboard.type(alice.pin);
    await page.keyboard.press('Enter');
    await page.locator('#view-checkout').waitFor();

    // The scan field has focus: type a barcode into it and press Enter.
    assert.equal((await focused(page)).id, 'scan-input');
    await page.keyboard.type('9771234567003', { delay: 120 }); // slow, like a person
    await page.keyboard.press('Enter');
    await page.locator('#cart-lines tr[data-sku="NEWS-D"]').waitFor();

    // F2: search by name, ↓ to the result, Enter adds it.
    await page.keyboard.press('F2');
    await page.locator('#dlg-search').waitFor();
    assert.equal((await focused(page)).id, 'search-input');
    await page.keyboard.type('Blue');
    await page.locator('#search-results button', { hasText: 'Blueberry muffin' }).waitFor();
    await page.waitForFunction(() => document.querySelectorAll('#search-results button.result').length === 1);
    await page.keyboard.press('ArrowDown');
    await assertFocusVisible(page, 'on a search result');
    await assertLayout(page, 'with the search dialog open');
    await page.keyboard.press('Enter');
    await page.locator('#cart-lines tr[data-sku="MUF-BB"]').waitFor();
    assert.equal(await page.locator('#dlg-search').isVisible(), false);

    // Esc closes the search even while its text field has focus.
    await page.keyboard.press('F2');
    await page.locator('#dlg-search').waitFor();
    await page.keyboard.type('Tea');
    await page.keyboard.press('Escape');
    assert.equal(await page.locator('#dlg-search').isVisible(), false, 'Esc did not close the search');
    assert.equal(await page.locator('#cart-lines tr').count(), 2);

    // Discount the muffin: Shift+Tab back from the scan field into its row.
    await page.keyboard.press('F3');
    assert.equal((await focused(page)).id, 'scan-input');
    await tabTo(page, (f) => f.label === 'Discount on Blueberry muffin', { back: true });
    await assertFocusVisible(page, 'on the discount button');
    await page.keyboard.press('Enter');
    await page.locator('#dlg-discount').waitFor();
    assert.equal((await focused(page)).id, 'discount-value');
    await page.keyboard.type('10');
    await page.keyboard.press('Enter');
    await page.locator('#cart-lines tr[data-sku="MUF-BB"] .line-total', { hasText: EXPECT.muffin }).waitFor();
    assert.equal(await page.locator('#t-gross').textContent(), EXPECT.gross);
    assert.equal(await page.locator('#t-discount').textContent(), EXPECT.discount);
    assert.equal(await page.locator('#t-subtotal').textContent(), EXPECT.subtotal);
    assert.equal(await page.locator('#t-tax').textContent(), EXPECT.tax);
    assert.equal(await page.locator('#t-total').textContent(), EXPECT.total);
    assert.equal((await focused(page)).label, 'Discount on Blueberry muffin', 'focus returns to the control that opened the dialog');
    await assertLayout(page, 'on the checkout screen with two lines');

    // F4: pay 5.00 cash.
    await page.keyboard.press('F4');
    await page.locator('#dlg-pay').waitFor();
    assert.equal((await focused(page)).id, 'pay-tendered');
    await page.keyboard.type('5');
    assert.equal(await page.locator('#pay-change').textContent(), EXPECT.change);
    await assertLayout(page, 'with the pay dialog open');
    await page.keyboard.press('Enter');
    await page.locator('#dlg-receipt').waitFor();
    const receipt = await page.locator('#receipt-text').textContent();
    assert.match(receipt, new RegExp(`TOTAL\\s+${EXPECT.total}\\b`));
    assert.match(receipt, new RegExp(`Change\\s+${EXPECT.change}\\b`));
    const saleId = /^Sale (\S+)/.exec(await page.locator('#receipt-summary').textContent())[1];

    // Focus stays inside the dialog however often Tab is pressed.
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press('Tab');
      assert.ok(await page.evaluate(() => document.getElementById('dlg-receipt').contains(document.activeElement)), 'focus left the receipt dialog');
    }
    await page.keyboard.press('Escape');
    assert.equal(await page.locator('#dlg-receipt').isVisible(), false);
    assert.equal(await page.locator('#cart-lines tr').count(), 0);

    // F8: void the sale with the supervisor's PIN.
    await page.keyboard.press('F8');
    const row = page.locator(`#sales-rows tr[data-sale-id="${saleId}"]`);
    await row.waitFor();
    await tabTo(page, (f) => f.label === `Void sale ${saleId}`);
    await page.keyboard.press('Enter');
    await page.locator('#dlg-supervisor').waitFor();
    const approver = await page.locator('#supervisor-id').inputValue();
    const sup = CASHIERS.find((c) => c.id === approver);
    assert.ok(sup && sup.role !== 'cashier', `approver offered: ${approver}`);
    await tabTo(page, (f) => f.id === 'supervisor-pin');
    await page.keyboard.type(sup.pin);
    await page.keyboard.press('Tab');
    assert.equal((await focused(page)).id, 'supervisor-reason');
    await page.keyboard.type('keyboard test');
    await assertLayout(page, 'with the supervisor prompt open');
    await page.keyboard.press('Enter');
    await page.locator('#sales-msg', { hasText: `Sale ${saleId} voided` }).waitFor();
    await row.locator('td', { hasText: 'Voided' }).waitFor();
    await assertFocusVisible(page, 'after the void');

    // Esc closes the list; back on the checkout screen, scanning again.
    await page.keyboard.press('Escape');
    assert.equal(await page.locator('#dlg-sales').isVisible(), false);
    await assertFocusVisible(page, 'after closing the sales list');
    await assertLayout(page, 'at the end');

    assert.equal(await page.evaluate(() => window.__pointer), 0, 'a pointer event reached the page');
    assert.deepEqual(pageErrors, []);
  }, { width: 1024, height: 768 });
});
