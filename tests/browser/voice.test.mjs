// Voice ordering, push to talk (web/js/voice.js), with Chromium's fake
// microphone playing a spoken order made here with espeak-ng and sox
// (16 kHz mono, 1.5 s of silence after it; played from its start at each
// capture, not looped). No silence is added before the speech: half a
// second of digital zeros there makes the recognizer unsure, which a real
// microphone never gives it.
//  - held with the pointer: "two coffees and a muffin" is proposed as two
//    additions; Esc cancels (the cart is untouched), held again and
//    confirmed, the cart has the lines; the terminal audited both
//    proposals and both answers;
//  - F7 held: "no coffee" proposes removing the coffee line; Enter confirms;
//  - Space held on the button: an order outside the grammar is "please
//    repeat", and nothing is proposed.

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { withTerminalAndBrowser, login, wedgeScan, auditOps, CASHIERS, REPO } from './harness.mjs';

const alice = CASHIERS.find((c) => c.id === 'C01');
const TAIL_S = 1.5;
const COFFEE = 'Coffee, house blend 250g';
const MUFFIN = 'Blueberry muffin';
// The demo catalog's spoken synonyms ("muffin", "coffee"): kassad's [voice].
const VOICE_CONFIG = { voice: { synonyms: path.join(REPO, 'data', 'demo', 'voice_synonyms.csv') } };

/** A spoken order as a 16 kHz mono 16-bit WAV: {file, holdMs, dir}. */
function speak(text) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kassa-voice-'));
  const raw = path.join(dir, 'raw.wav');
  const file = path.join(dir, 'order.wav');
  execFileSync('espeak-ng', ['-v', 'en-us', '-s', '160', '-w', raw, text]);
  execFileSync('sox', [raw, '-r', '16000', '-c', '1', '-b', '16', file, 'pad', '0', String(TAIL_S)]);
  const seconds = Number(execFileSync('soxi', ['-D', file], { encoding: 'utf8' }));
  assert.equal(execFileSync('soxi', ['-r', file], { encoding: 'utf8' }).trim(), '16000');
  // Held through the speech and half a second of the silence after it.
  return { file, dir, holdMs: Math.round((seconds - TAIL_S + 0.5) * 1000) };
}

/** Chromium with a microphone that plays `file` from its start at each capture. */
const fakeMic = (file) => [
  '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
  `--use-file-for-fake-audio-capture=${file}%noloop`,
];

async function withOrder(name, text, fn) {
  const order = speak(text);
  try {
    await withTerminalAndBrowser(name, async (t) => {
      await login(t.page, t.url, alice.id, alice.pin);
      await t.page.locator('#view-checkout').waitFor();
      await t.page.locator('#btn-talk').waitFor(); // shown once the status has voice
      await fn({ ...t, holdMs: order.holdMs });
      assert.deepEqual(t.pageErrors, []);
    }, undefined, { browserArgs: fakeMic(order.file), config: VOICE_CONFIG });
  } finally {
    fs.rmSync(order.dir, { recursive: true, force: true });
  }
}

/** Press, wait until the microphone records, keep holding `ms`, release. */
async function hold(page, press, release, ms) {
  await press();
  await page.locator('#btn-talk.listening').waitFor();
  await page.waitForTimeout(ms);
  await release();
}

const holdPointer = async (page, ms) => {
  const box = await page.locator('#btn-talk').boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await hold(page, () => page.mouse.down(), () => page.mouse.up(), ms);
};

async function changes(page) {
  await page.locator('#dlg-voice').waitFor({ timeout: 60_000 });
  return page.locator('#voice-changes li').evaluateAll((lis) => lis.map((li) => `${li.dataset.op} ${li.dataset.sku}: ${li.textContent}`));
}

async function cartLines(page) {
  return page.locator('#cart-lines tr').evaluateAll((rows) => rows.map((r) => `${r.dataset.sku}×${r.querySelector('.qty-input').value}`));
}

test('voice: hold to speak, the proposal, Esc cancels, again and confirm', async () => {
  await withOrder('voice_order', 'two coffees and a muffin', async ({ page, data, holdMs }) => {
    assert.equal(await page.locator('#btn-talk').getAttribute('aria-pressed'), 'false');
    await holdPointer(page, holdMs);
    const want = [`add COF-250: Add 2 × ${COFFEE}`, `add MUF-BB: Add 1 × ${MUFFIN}`];
    assert.deepEqual((await changes(page)).sort(), want);
    assert.match(await page.locator('#voice-heard').textContent(), /coffee/i);
    assert.equal(await page.evaluate(() => document.activeElement.id), 'voice-confirm');
    await page.keyboard.press('Escape');
    assert.equal(await page.locator('#dlg-voice').isVisible(), false);
    assert.deepEqual(await cartLines(page), [], 'a cancelled proposal changes nothing');

    // The microphone plays the order again from its start.
    await holdPointer(page, holdMs);
    assert.deepEqual((await changes(page)).sort(), want);
    await page.locator('#voice-confirm').click();
    await page.waitForFunction(() => document.querySelectorAll('#cart-lines tr').length === 2);
    assert.deepEqual((await cartLines(page)).sort(), ['COF-250×2', 'MUF-BB×1']);
    assert.equal(await page.locator('#dlg-voice').isVisible(), false);
    assert.match(await page.locator('#msg').textContent(), /^Voice order: /);
    // The cart the terminal opened is this screen's: a scan adds to it.
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    await wedgeScan(page, '4006381333931');
    await page.locator('#cart-lines tr[data-sku="COF-250"] .qty-input[value="3"]').waitFor();

    const audit = await auditOps(data, 'voice_', 4);
    assert.deepEqual(audit.map((a) => a.action), ['voice_proposal', 'voice_confirmation', 'voice_proposal', 'voice_confirmation']);
    assert.equal(audit[1].subject, audit[0].subject);
    assert.equal(audit[3].subject, audit[2].subject);
    const changed = 'changes=add COF-250x2,add MUF-BBx1';
    assert.match(audit[0].detail, new RegExp(`^status=heard score=-?[\\d.]+ ${changed} heard=two coffees and a muffin$`));
    assert.equal(audit[1].detail, `cancelled ${changed}`);
    assert.equal(audit[3].detail, `confirmed ${changed}`);
    assert.ok(audit.every((a) => a.cashier === alice.id));
  });
});

test('voice: F7 held, a removal, confirmed with Enter', async () => {
  await withOrder('voice_remove', 'no coffee', async ({ page, holdMs }) => {
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    await wedgeScan(page, '4006381333931');
    await wedgeScan(page, '4099999000024');
    await page.waitForFunction(() => document.querySelectorAll('#cart-lines tr').length === 2);
    await hold(page, () => page.keyboard.down('F7'), () => page.keyboard.up('F7'), holdMs);
    assert.deepEqual(await changes(page), [`remove COF-250: Remove ${COFFEE} (the whole line)`]);
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelectorAll('#cart-lines tr').length === 1);
    assert.deepEqual(await cartLines(page), ['BAG-CL×1']);
  });
});

test('voice: Space held on the button, an order outside the grammar is "please repeat"', async () => {
  await withOrder('voice_repeat', 'what is the weather like in paris tomorrow', async ({ page, data, holdMs }) => {
    await page.locator('#btn-talk').focus();
    await hold(page, () => page.keyboard.down(' '), () => page.keyboard.up(' '), holdMs);
    await page.locator('#msg', { hasText: /^Please repeat: / }).waitFor({ timeout: 60_000 });
    assert.equal(await page.locator('#dlg-voice').isVisible(), false);
    assert.deepEqual(await cartLines(page), []);
    assert.equal(await page.locator('#btn-talk').isDisabled(), false, 'ready for another try');
    const audit = await auditOps(data, 'voice_', 1);
    assert.deepEqual(audit.map((a) => a.action), ['voice_proposal'], 'nothing to confirm or cancel');
    assert.match(audit[0].detail, /^status=(?!heard)\w+ .* changes=- /);
  });
});
