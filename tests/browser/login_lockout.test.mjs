// (3) Five wrong PINs lock the cashier: the first four say "wrong PIN", the
// fifth is answered 423 and the screen says "locked, try again in N s"
// (N from Retry-After) — and so is the right PIN until the lock runs out.

import test from 'node:test';
import assert from 'node:assert/strict';
import { withTerminalAndBrowser } from './harness.mjs';

const WRONG = '0000';
const RIGHT = '2468'; // C02's real PIN (harness CASHIERS)

test('login: wrong PIN is reported, five wrong PINs lock the cashier (423)', async () => {
  await withTerminalAndBrowser('login_lockout', async ({ url, page, pageErrors }) => {
    await page.goto(url);
    await page.locator('#login-cashiers input[value="C02"]').check();
    const error = page.locator('#login-error');

    const answers = [];
    page.on('response', (r) => {
      if (r.url().endsWith('/api/v1/sessions') && r.request().method() === 'POST') answers.push(r.status());
    });

    // Each attempt waits for its own answer, and for the page to have shown
    // it (the button is enabled again once the answer is rendered).
    async function attempt(pin) {
      const answered = page.waitForResponse((r) => r.url().endsWith('/api/v1/sessions') && r.request().method() === 'POST');
      await page.locator('#login-pin').fill(pin);
      await page.locator('#login-submit').click();
      await answered;
      await page.waitForFunction(() => document.getElementById('login-submit').disabled === false);
      return error.textContent();
    }

    for (let i = 1; i <= 4; i++) {
      const text = await attempt(WRONG);
      assert.match(text, /^Wrong PIN/, `attempt ${i}: ${text}`);
    }
    // The fifth wrong PIN locks the cashier: 423, with Retry-After.
    const fifth = await attempt(WRONG);
    assert.equal(answers.at(-1), 423, `attempt 5 must lock, got ${answers.at(-1)}`);
    assert.match(fifth, /^Locked, try again in \d+ s\.$/, `attempt 5: ${fifth}`);

    // While locked even the right PIN is refused.
    const sixth = await attempt(RIGHT);
    assert.equal(answers.at(-1), 423, `the right PIN while locked must get 423, got ${answers.at(-1)}`);
    assert.match(sixth, /^Locked, try again in \d+ s\.$/, sixth);
    const seconds = Number(/in (\d+) s/.exec(sixth)[1]);
    assert.ok(seconds > 0, `seconds to wait: ${seconds}`);
    assert.deepEqual(answers, [401, 401, 401, 401, 423, 423]);

    // Still on the login screen; the countdown is counting.
    assert.equal(await page.locator('#view-login').isVisible(), true);
    assert.equal(await page.locator('#view-checkout').isVisible(), false);
    await page.waitForFunction(
      (s) => {
        const m = /in (\d+) s/.exec(document.getElementById('login-error').textContent);
        return m && Number(m[1]) < s;
      },
      seconds,
      { timeout: 3000 },
    );
    assert.deepEqual(pageErrors, []);
  });
});
