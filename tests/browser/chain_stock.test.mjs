// (11) Stock at the chain's other stores, and the cloud in the status bar.
//
// The harness terminal has no cloud configured: GET /api/v1/stock/chain
// answers {available: false, why: "this terminal has no cloud configured"}
// and GET /api/v1/status says cloud.state "not_configured". The search
// result's "Stock at other stores" must then say "Unavailable" and why,
// never a number, and the status bar must have no cloud item at all. All by
// keyboard, then once more by pointer.
//
// The second test stubs those two answers in the browser (page.route) to
// check how the states a terminal without a cloud never reaches are shown:
// the stores' figures, and the cloud offline or online. A terminal with a
// real cloud is tested elsewhere.

import test from 'node:test';
import assert from 'node:assert/strict';
import { withTerminalAndBrowser, login } from './harness.mjs';

const NO_CLOUD = 'this terminal has no cloud configured';

async function focused(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    return {
      id: el ? el.id : '',
      label: el ? (el.getAttribute('aria-label') || el.textContent || '').trim() : '',
      dialog: el && el.closest('dialog') ? el.closest('dialog').id : '',
    };
  });
}

/** The status bar has rendered a status from the terminal (not the page's placeholders). */
async function statusRendered(page) {
  await page.locator('#st-terminal', { hasText: ' · ' }).waitFor();
}

/** As web/js/dom.js timeText shows it, in the same (machine's) time zone. */
function clock(ms, seconds) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, '0');
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}${seconds ? `:${pad(d.getSeconds())}` : ''}`;
  return d.toDateString() === new Date().toDateString() ? hm : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hm}`;
}

test('chain stock without a cloud: "Unavailable" and why, no number; no cloud in the status bar', async () => {
  await withTerminalAndBrowser('chain_stock', async ({ url, page, pageErrors }) => {
    const asked = [];
    page.on('request', (r) => {
      if (r.url().includes('/api/v1/stock/chain')) asked.push(new URL(r.url()).searchParams.get('sku'));
    });
    await login(page, url, 'C01', '1234');
    await page.locator('#view-checkout').waitFor();

    // The terminal really has no cloud, and the bar says nothing about one.
    const status = await page.evaluate(async () => (await fetch('/api/v1/status')).json());
    assert.equal(status.cloud.state, 'not_configured');
    await statusRendered(page);
    await page.waitForTimeout(2500); // at least one more poll
    assert.equal(await page.locator('#st-cloud').isVisible(), false, 'a cloud item is shown without a cloud');
    assert.doesNotMatch(await page.locator('#status-bar').innerText(), /cloud/i);

    // Keyboard: F2, type, ↓ to the result, → to its "Stock at other stores", Enter.
    await page.keyboard.press('F2');
    await page.locator('#dlg-search').waitFor();
    await page.keyboard.type('Blue');
    await page.waitForFunction(() => document.querySelectorAll('#search-results button.result').length === 1);
    await page.keyboard.press('ArrowDown');
    assert.match((await focused(page)).label, /Blueberry muffin/);
    await page.keyboard.press('ArrowRight');
    assert.equal((await focused(page)).label, 'Stock at other stores: Blueberry muffin');
    await page.keyboard.press('Enter');

    const dlg = page.locator('#dlg-chain');
    await dlg.waitFor();
    assert.equal((await focused(page)).dialog, 'dlg-chain', 'focus moves into the dialog');
    const line = page.locator('#chain-status');
    await line.filter({ hasText: 'Unavailable' }).waitFor();
    assert.equal(await line.textContent(), `Unavailable: ${NO_CLOUD}`);
    assert.doesNotMatch(await line.textContent(), /\d/, 'a number shown for unavailable figures');
    assert.equal(await page.locator('#chain-list').isVisible(), false);
    assert.equal(await page.locator('#chain-rows tr').count(), 0);
    assert.match(await page.locator('#chain-item').textContent(), /Blueberry muffin \(MUF-BB\)/);

    // "Ask again" asks again (Shift+Tab from Close), with the same answer.
    await page.keyboard.press('Shift+Tab');
    assert.equal((await focused(page)).id, 'chain-again');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.getElementById('chain-status').textContent.startsWith('Unavailable'));
    await page.waitForFunction(() => !document.getElementById('chain-again').disabled);
    assert.equal(await line.textContent(), `Unavailable: ${NO_CLOUD}`);
    assert.deepEqual(asked, ['MUF-BB', 'MUF-BB']);

    // Esc closes it, back on the button that opened it, the search still open.
    await page.keyboard.press('Escape');
    assert.equal(await dlg.isVisible(), false);
    assert.equal(await page.locator('#dlg-search').isVisible(), true);
    assert.equal((await focused(page)).label, 'Stock at other stores: Blueberry muffin');
    // ← back to the result, ↑ to the search field.
    await page.keyboard.press('ArrowLeft');
    assert.match((await focused(page)).label, /^Blueberry muffin/);
    await page.keyboard.press('ArrowUp');
    assert.equal((await focused(page)).id, 'search-input');

    // By pointer, for another item: the same.
    await page.locator('#search-input').fill('Coffee');
    await page.waitForFunction(() => document.querySelectorAll('#search-results button.result').length === 2);
    await page.getByRole('button', { name: 'Stock at other stores: Coffee beans, espresso 1kg' }).click();
    await line.filter({ hasText: 'Unavailable' }).waitFor();
    assert.equal(await line.textContent(), `Unavailable: ${NO_CLOUD}`);
    assert.match(await page.locator('#chain-item').textContent(), /\(COF-1K\)/);
    assert.equal(asked.at(-1), 'COF-1K');
    await page.locator('#dlg-chain button[data-close]').click();
    await page.keyboard.press('Escape');
    assert.equal(await page.locator('#dlg-search').isVisible(), false);

    // Looking up stock added nothing to the sale.
    assert.equal(await page.locator('#cart-lines tr').count(), 0);
    assert.equal(await page.locator('#st-cloud').isVisible(), false);
    assert.deepEqual(pageErrors, []);
  });
});

test('chain stock and cloud status as shown (answers stubbed in the browser)', async () => {
  await withTerminalAndBrowser('chain_stock_shown', async ({ url, page, pageErrors }) => {
    const now = Date.now();
    let cloud = { state: 'offline', uploader: true, pending_upload_ops: 1234, last_upload_ms: now - 3_600_000, offline_since_ms: now - 5 * 60_000 - 5_000 };
    await page.route('**/api/v1/status', async (route) => {
      const response = await route.fetch();
      const json = await response.json();
      await route.fulfill({ response, json: { ...json, cloud } });
    });
    let chain = null;
    await page.route('**/api/v1/stock/chain?*', (route) => route.fulfill({ json: chain }));

    await login(page, url, 'C01', '1234');
    await page.locator('#view-checkout').waitFor();
    await statusRendered(page);
    const store = (await page.locator('#st-terminal').textContent()).split(' · ')[0];

    const item = page.locator('#st-cloud');
    await item.filter({ hasText: 'Cloud: offline for 5 min · 1,234 operations waiting' }).waitFor();
    assert.match(await item.getAttribute('class'), /st-warn/);

    const last = now - 60_000;
    cloud = { state: 'online', uploader: true, pending_upload_ops: 3, last_upload_ms: last, offline_since_ms: 0 };
    await item.filter({ hasText: `Cloud: online · last upload ${clock(last, false)}` }).waitFor();
    assert.equal(await item.textContent(), `Cloud: online · last upload ${clock(last, false)}`);
    assert.match(await item.getAttribute('class'), /st-ok/);

    cloud = { state: 'unknown', uploader: true, pending_upload_ops: 1, last_upload_ms: 0, offline_since_ms: 0 };
    await item.filter({ hasText: 'Cloud: not reached yet · 1 operation waiting' }).waitFor();

    cloud = { state: 'not_configured' };
    await page.waitForFunction(() => document.getElementById('st-cloud').hidden);

    // Figures: other stores first, this one marked; the time asked shown.
    const asOf = now - 2_000;
    chain = {
      sku: 'MUF-BB', available: true, as_of_ms: asOf,
      stores: [
        { store_id: store, qty: 30, as_of_ms: now - 60_000 },
        { store_id: 'S9', qty: -2, as_of_ms: now - 120_000 },
        { store_id: 'S2', qty: 7, as_of_ms: now - 30_000 },
      ],
    };
    await page.keyboard.press('F2');
    await page.keyboard.type('Blue');
    await page.waitForFunction(() => document.querySelectorAll('#search-results button.result').length === 1);
    await page.getByRole('button', { name: 'Stock at other stores: Blueberry muffin' }).click();
    const line = page.locator('#chain-status');
    await line.filter({ hasText: 'Asked at' }).waitFor();
    assert.equal(await line.textContent(), `Asked at ${clock(asOf, true)}: 3 stores.`);
    const rows = await page.locator('#chain-rows tr').evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent)));
    assert.deepEqual(rows, [
      ['S2', '7', clock(now - 30_000, true)],
      ['S9', '-2', clock(now - 120_000, true)],
      [`${store} (this store)`, '30', clock(now - 60_000, true)],
    ]);

    // Asked again and now unavailable: the figures go, no number stays.
    chain = { sku: 'MUF-BB', available: false, why: 'the cloud cannot be reached: the chain\'s figures are unavailable offline' };
    await page.locator('#chain-again').click();
    await line.filter({ hasText: 'Unavailable' }).waitFor();
    assert.equal(await line.textContent(), `Unavailable: ${chain.why}`);
    assert.equal(await page.locator('#chain-rows tr').count(), 0);
    assert.equal(await page.locator('#chain-list').isVisible(), false);
    assert.deepEqual(pageErrors, []);
  });
});
