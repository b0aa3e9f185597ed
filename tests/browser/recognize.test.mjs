// Product recognition in the checkout screen (web/js/recognize.js), with the
// committed product model signed by the head office key installed:
//  - a photo of apples: the suggestion "Apples 1kg" with its confidence,
//    "Add" puts the line in the cart; an alternative can be taken instead;
//  - a photo the model is unsure of, showing the coffee's barcode: "not
//    sure, scan the barcode", and the coffee found from that barcode;
//  - an unknown item: the fallback without a barcode; "Scan instead";
//  - no picture, a damaged picture: the reason in words;
//  - every decision and the cashier's answer are audit operations;
//  - the whole dialog by keyboard;
//  - without a model: the status bar says so and a barcode in the photo
//    still finds the item.

import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { withTerminalAndBrowser, login, auditOps, CASHIERS, REPO } from './harness.mjs';

const FIXTURES = path.join(REPO, 'tests', 'fixtures', 'products');
const photo = (name) => path.join(FIXTURES, name);
const APPLES = photo('APL-1K_50014000.png');
const COFFEE_BARCODE = photo('barcode_COF-250_4006381333931.png');
const UNKNOWN = photo('unknown_50900000.png');
const GARBAGE = photo('bad/garbage.bin');
const TRUNCATED = photo('bad/truncated.png');
const COFFEE = 'Coffee, house blend 250g';
const INSTALL = [
  ['model', 'trust', path.join(REPO, 'models', 'headoffice.pub')],
  ['model', 'install', path.join(REPO, 'models', 'product')],
];
const alice = CASHIERS.find((c) => c.id === 'C01');

async function openCamera(page) {
  await page.locator('#btn-camera').click();
  await page.locator('#dlg-recognize').waitFor();
}

async function cartSkus(page) {
  return page.locator('#cart-lines tr').evaluateAll((rows) => rows.map((r) => `${r.dataset.sku}×${r.querySelector('.qty-input').value}`));
}

test('recognition: suggestion, alternatives, barcode fallback, errors, audit', async () => {
  await withTerminalAndBrowser('recognize', async ({ url, data, page, pageErrors }) => {
    await login(page, url, alice.id, alice.pin);
    await page.locator('#view-checkout').waitFor();
    await page.locator('#st-ai', { hasText: 'AI: model product v1' }).waitFor();
    const before = (await auditOps(data, 'ai_')).length;

    // Apples: the suggestion with how sure, alternatives, "Add".
    await openCamera(page);
    await page.locator('#recog-file').setInputFiles(APPLES);
    await page.locator('#recog-suggestion').waitFor();
    assert.equal(await page.locator('#recog-name').textContent(), 'Apples 1kg');
    const sure = /^(\d+)% sure$/.exec(await page.locator('#recog-confidence').textContent());
    assert.ok(sure && Number(sure[1]) >= 70 && Number(sure[1]) <= 100, `confidence shown: ${sure}`);
    const alts = await page.locator('#recog-alts button').allTextContents();
    assert.ok(alts.length >= 1 && alts.length <= 3, `alternatives: ${alts}`);
    assert.ok(alts.every((t) => /\S.* (under 1|\d+)%$/.test(t)), `alternatives: ${alts}`);
    assert.ok(!alts.some((t) => t.startsWith('Apples')), 'the suggestion is not among the alternatives');
    await page.locator('#recog-add', { hasText: 'Add Apples 1kg' }).click();
    await page.locator('#cart-lines tr[data-sku="APL-1K"]').waitFor();
    assert.equal(await page.locator('#dlg-recognize').isVisible(), false);
    assert.match(await page.locator('#msg').textContent(), /Added Apples 1kg — 2\.79/);

    // Apples again, but the cashier takes the first alternative.
    await openCamera(page);
    await page.locator('#recog-file').setInputFiles(APPLES);
    const alt = page.locator('#recog-alts button').first();
    await alt.waitFor();
    const altSku = await alt.getAttribute('data-sku');
    assert.notEqual(altSku, 'APL-1K');
    await alt.click();
    await page.locator(`#cart-lines tr[data-sku="${altSku}"]`).waitFor();

    // Not sure, but the photo shows the coffee's barcode: offered by name.
    await openCamera(page);
    await page.locator('#recog-file').setInputFiles(COFFEE_BARCODE);
    await page.locator('#recog-fallback').waitFor();
    assert.equal(await page.locator('#recog-fallback-text').textContent(), 'Not sure what this is — scan the barcode.');
    assert.equal(await page.locator('#recog-barcode-text').textContent(), `The photo shows barcode 4006381333931: ${COFFEE}.`);
    assert.equal(await page.locator('#recog-suggestion').isVisible(), false);
    await page.locator('#recog-barcode-add', { hasText: `Add ${COFFEE}` }).click();
    await page.locator('#cart-lines tr[data-sku="COF-250"]').waitFor();

    // An unknown item, no barcode: only the fallback; "Scan instead" goes
    // to the barcode field.
    await openCamera(page);
    await page.locator('#recog-file').setInputFiles(UNKNOWN);
    await page.locator('#recog-fallback').waitFor();
    assert.equal(await page.locator('#recog-fallback-text').textContent(), 'Not sure what this is — scan the barcode.');
    assert.equal(await page.locator('#recog-barcode-add').isVisible(), false);
    assert.equal(await page.locator('#recog-barcode-text').textContent(), '');
    await page.locator('#recog-close', { hasText: 'Scan instead' }).click();
    assert.equal(await page.locator('#dlg-recognize').isVisible(), false);
    assert.equal(await page.evaluate(() => document.activeElement.id), 'scan-input');

    // No picture at all, then a damaged PNG: why, in words; nothing added.
    await openCamera(page);
    await page.locator('#recog-file').setInputFiles(GARBAGE);
    await page.locator('#recog-error', { hasText: '“garbage.bin” is not a photo this terminal can read: choose a PNG or JPEG picture.' }).waitFor();
    assert.equal(await page.locator('#recog-source').isVisible(), true, 'another photo can be chosen');
    await page.locator('#recog-file').setInputFiles(TRUNCATED);
    await page.locator('#recog-error', { hasText: 'The terminal could not read that photo:' }).waitFor();
    assert.match(await page.locator('#recog-error').textContent(), /\(bad_request\)$/);
    await page.keyboard.press('Escape');
    assert.equal(await page.locator('#dlg-recognize').isVisible(), false);

    assert.deepEqual(await cartSkus(page), ['APL-1K×1', `${altSku}×1`, 'COF-250×1']);

    // Four decisions, each answered once, in order; the damaged photos none.
    const audit = (await auditOps(data, 'ai_', before + 8)).slice(before);
    assert.deepEqual(audit.map((a) => a.action), [
      'ai_recognition', 'ai_confirmation', 'ai_recognition', 'ai_confirmation',
      'ai_recognition', 'ai_confirmation', 'ai_recognition', 'ai_confirmation',
    ]);
    for (let i = 0; i < 8; i += 2) assert.equal(audit[i + 1].subject, audit[i].subject, `answer ${i / 2} is for its decision`);
    assert.match(audit[0].detail, /^model=product@1 result=APL-1K confidence=0\.\d{3} fallback=no$/);
    assert.equal(audit[1].detail, 'suggested=APL-1K chosen=APL-1K accepted=yes');
    assert.equal(audit[3].detail, `suggested=APL-1K chosen=${altSku} accepted=no`);
    assert.match(audit[4].detail, /result=fallback reason=low_confidence .*barcode=4006381333931$/);
    assert.equal(audit[5].detail, 'suggested=- chosen=COF-250 accepted=no');
    assert.match(audit[6].detail, /result=fallback reason=low_confidence/);
    assert.equal(audit[7].detail, 'suggested=- chosen=- accepted=no');
    assert.ok(audit.every((a) => a.cashier === alice.id), 'the cashier is on record');
    assert.deepEqual(pageErrors, []);
  }, undefined, { setup: INSTALL });
});

async function focused(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    return { id: el.id, text: el.textContent.trim(), outline: getComputedStyle(el).outlineStyle };
  });
}

test('recognition by keyboard alone: F6, Enter for a photo, Enter to add, Tab to an alternative, Esc', async () => {
  await withTerminalAndBrowser('recognize_keyboard', async ({ url, data, page, pageErrors }) => {
    await login(page, url, alice.id, alice.pin);
    await page.locator('#view-checkout').waitFor();
    await page.locator('#btn-camera').waitFor(); // shown once the status says recognition is on
    await page.keyboard.press('F3');
    const before = (await auditOps(data, 'ai_')).length;

    // File choosers are caught for the whole test: waiting for each one
    // alone turns the interception off and on in between, and Chromium
    // then sometimes cancels the next chooser before it opens.
    const choosers = [];
    let chooserArrived = () => {};
    page.on('filechooser', (c) => {
      choosers.push(c);
      chooserArrived();
    });
    async function nextChooser() {
      if (!choosers.length) {
        await new Promise((resolve, reject) => {
          const t = setTimeout(() => reject(new Error('no file chooser opened within 10 s')), 10_000);
          chooserArrived = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
      return choosers.shift();
    }

    // F6 opens the dialog at "Take or choose a photo"; Enter opens the
    // file chooser (a phone's camera, on a phone).
    async function photoByKeyboard(file) {
      await page.keyboard.press('F6');
      await page.locator('#dlg-recognize').waitFor();
      assert.equal((await focused(page)).id, 'recog-photo');
      await page.keyboard.press('Enter');
      const chooser = await nextChooser();
      assert.equal(chooser.isMultiple(), false);
      await chooser.setFiles(file);
    }

    await photoByKeyboard(APPLES);
    await page.locator('#recog-suggestion').waitFor();
    await page.waitForFunction(() => document.activeElement.id === 'recog-add');
    const f = await focused(page);
    assert.equal(f.text, 'Add Apples 1kg');
    assert.notEqual(f.outline, 'none', 'focus is visible');
    // Touch targets in the dialog, as everywhere: at least 44 px.
    const small = await page.locator('#dlg-recognize button').evaluateAll((bs) => bs
      .map((b) => [b.textContent.trim(), b.getBoundingClientRect()])
      .filter(([, r]) => r.width > 0 && (r.height < 44 || r.width < 44))
      .map(([t, r]) => `${t} ${r.width}×${r.height}`));
    assert.deepEqual(small, []);
    await page.keyboard.press('Enter');
    await page.locator('#cart-lines tr[data-sku="APL-1K"]').waitFor();
    assert.equal(await page.locator('#dlg-recognize').isVisible(), false);
    assert.equal((await focused(page)).id, 'scan-input', 'focus back where the dialog was opened from');

    // Tab from "Add" reaches the first alternative; Enter takes it.
    await photoByKeyboard(APPLES);
    await page.waitForFunction(() => document.activeElement.id === 'recog-add');
    await page.keyboard.press('Tab');
    const altSku = await page.evaluate(() => document.activeElement.dataset.sku);
    assert.ok(altSku && altSku !== 'APL-1K', `focused after Add: ${JSON.stringify(await focused(page))}`);
    await page.keyboard.press('Enter');
    await page.locator(`#cart-lines tr[data-sku="${altSku}"]`).waitFor();

    // The coffee by its barcode: focus on its "Add"; Enter.
    await photoByKeyboard(COFFEE_BARCODE);
    await page.waitForFunction(() => document.activeElement.id === 'recog-barcode-add');
    assert.equal((await focused(page)).text, `Add ${COFFEE}`);
    await page.keyboard.press('Enter');
    await page.locator('#cart-lines tr[data-sku="COF-250"]').waitFor();

    // Esc on a suggestion: nothing added, the decision answered "none".
    await photoByKeyboard(APPLES);
    await page.waitForFunction(() => document.activeElement.id === 'recog-add');
    await page.keyboard.press('Escape');
    assert.equal(await page.locator('#dlg-recognize').isVisible(), false);
    assert.equal(await page.locator('#cart-lines tr').count(), 3);
    assert.equal(await page.locator('#cart-lines tr[data-sku="APL-1K"] .qty-input').inputValue(), '1');

    const audit = (await auditOps(data, 'ai_', before + 8)).slice(before);
    assert.deepEqual(audit.filter((a) => a.action === 'ai_confirmation').map((a) => a.detail), [
      'suggested=APL-1K chosen=APL-1K accepted=yes',
      `suggested=APL-1K chosen=${altSku} accepted=no`,
      'suggested=- chosen=COF-250 accepted=no',
      'suggested=APL-1K chosen=- accepted=no',
    ]);
    assert.deepEqual(pageErrors, []);
  }, { width: 1024, height: 768 }, { setup: INSTALL });
});

test('no model, a terminal camera that gives no picture: said so; the barcode in a photo still finds the item', async () => {
  const device = '/nonexistent/video9';
  await withTerminalAndBrowser('recognize_no_model', async ({ url, page, pageErrors }) => {
    await login(page, url, alice.id, alice.pin);
    await page.locator('#st-ai', { hasText: 'AI: no model (barcode only)' }).waitFor();
    await openCamera(page);
    assert.match(await page.locator('#recog-source-hint').textContent(), /No recognition model/);
    // The terminal has a camera configured: offered first; it fails (503).
    assert.equal(await page.evaluate(() => document.activeElement.id), 'recog-camera');
    await page.keyboard.press('Enter');
    await page.locator('#recog-error', { hasText: `The terminal camera gave no picture: camera ${device}: open:` }).waitFor();
    assert.match(await page.locator('#recog-error').textContent(), /\(camera_unavailable\)$/);
    assert.equal(await page.evaluate(() => document.activeElement.id), 'recog-camera', 'ready to try again');
    await page.locator('#recog-file').setInputFiles(COFFEE_BARCODE);
    await page.locator('#recog-fallback').waitFor();
    assert.equal(await page.locator('#recog-barcode-text').textContent(),
      `No recognition model on this terminal. The photo shows barcode 4006381333931: ${COFFEE}.`);
    await page.locator('#recog-barcode-add').click();
    await page.locator('#cart-lines tr[data-sku="COF-250"]').waitFor();
    assert.deepEqual(pageErrors, []);
  }, undefined, { config: { ai: { camera: device } } });
});
