// Voice ordering through the API (docs/VOICE.md, "In kassad"): recordings
// made here with espeak-ng and sox (the same tools as the voice test set),
// the demo catalog and synonyms ([voice] synonyms):
//  - an order heard, proposed, then confirmed into a new cart and into an
//    existing one (adds and a remove); nothing changes before the confirm;
//  - speech outside the grammar: please_repeat, nothing to confirm;
//  - bad recordings (not WAV, empty, too long, too large): 400 / 413;
//  - a new catalog item is speakable without a restart (grammar rebuilt);
//  - every proposal and answer is an audit operation.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { REPO, kassa, startTerminal } from './harness.mjs';

let term, ann, tmp;

/** A 16 kHz mono 16-bit WAV of text, spoken by espeak-ng's en-us voice. */
function say(text, name) {
  const raw = path.join(tmp, `${name}.raw.wav`), out = path.join(tmp, `${name}.wav`);
  execFileSync('espeak-ng', ['-v', 'en-us', '-w', raw, text]);
  execFileSync('sox', [raw, '-r', '16000', '-c', '1', '-b', '16', out]);
  return fs.readFileSync(out);
}

const post = (wav, expect = 200) =>
  term.api('POST', '/api/v1/voice', { token: ann, rawBody: wav, headers: { 'content-type': 'audio/wav' }, expect });
const audit = () => JSON.parse(kassa(term.dataDir, '--json', 'audit')).filter((a) => a.action.startsWith('voice_'));

before(async () => {
  term = await startTerminal({ config: { voice: { synonyms: path.join(REPO, 'data', 'demo', 'voice_synonyms.csv'), max_audio_bytes: 1000000 } } });
  ann = await term.login('ann', '1111');
  tmp = fs.mkdtempSync(path.join(term.tmp, 'voice-'));
});
after(async () => {
  await term?.stop();
});

test('an order is proposed, changes nothing, then is applied on confirm (new cart, then an existing one)', async () => {
  const p = (await post(say('two coffees and a blueberry muffin', 'order1'))).json;
  assert.equal(p.status, 'heard', JSON.stringify(p));
  assert.deepEqual(p.changes.map(({ op, sku, qty }) => [op, sku, qty]), [['add', 'COF-250', 2], ['add', 'MUF-BB', 1]]);
  assert.equal(p.changes[1].name, 'Blueberry muffin');
  const cart = (await term.api('POST', `/api/v1/voice/${p.proposal_id}/confirm`, { token: ann, body: {}, expect: 200 })).json;
  assert.deepEqual(cart.lines.map(({ sku, qty }) => [sku, qty]), [['COF-250', 2], ['MUF-BB', 1]]);
  await term.api('POST', `/api/v1/voice/${p.proposal_id}/confirm`, { token: ann, body: {}, expect: 404 });
  // into the same cart: a remove of the whole muffin line, one more coffee
  const q = (await post(say('no muffin and a coffee', 'order2'))).json;
  assert.equal(q.status, 'heard', JSON.stringify(q));
  const before = (await term.api('GET', `/api/v1/carts/${cart.cart_id}`, { token: ann, expect: 200 })).json;
  assert.deepEqual(before.lines.map(({ sku, qty }) => [sku, qty]), [['COF-250', 2], ['MUF-BB', 1]], 'nothing applied before the confirm');
  const after = (await term.api('POST', `/api/v1/voice/${q.proposal_id}/confirm`, { token: ann, body: { cart_id: cart.cart_id }, expect: 200 })).json;
  assert.equal(after.cart_id, cart.cart_id);
  assert.deepEqual(after.lines.map(({ sku, qty }) => [sku, qty]), [['COF-250', 3]]);
});

test('speech outside the grammar: please repeat, nothing to confirm; a cancel is recorded', async () => {
  const p = (await post(say('what is the weather like today', 'oog'))).json;
  assert.equal(p.status, 'please_repeat', JSON.stringify(p));
  assert.deepEqual(p.changes, []);
  assert.ok(['out_of_grammar', 'low_confidence', 'no_speech'].includes(p.reason));
  await term.api('POST', `/api/v1/voice/${p.proposal_id}/confirm`, { token: ann, body: {}, expect: 404 });
  const q = (await post(say('a cola', 'cola'))).json;
  assert.equal(q.status, 'heard', JSON.stringify(q));
  await term.api('POST', `/api/v1/voice/${q.proposal_id}/cancel`, { token: ann, expect: 200 });
  await term.api('POST', `/api/v1/voice/${q.proposal_id}/cancel`, { token: ann, expect: 404 });
  const a = audit();
  assert.ok(a.some((x) => x.action === 'voice_proposal' && x.subject === p.proposal_id && /status=out_of_grammar|status=low_confidence|status=no_speech/.test(x.detail)));
  assert.ok(a.some((x) => x.action === 'voice_confirmation' && x.subject === q.proposal_id && /^cancelled/.test(x.detail)));
});

test('bad recordings: 400 with a reason, 413 over the limit', async () => {
  const good = say('a cola', 'cola2');
  for (const bytes of [Buffer.from('definitely not a wav file'), good.subarray(0, 30), Buffer.alloc(0)]) {
    const r = await post(bytes, 400);
    assert.equal(r.json.error.code, 'bad_request');
  }
  // 20 s of silence: over the 15 s an order may last
  const long = path.join(tmp, 'long.wav');
  execFileSync('sox', ['-n', '-r', '16000', '-c', '1', '-b', '16', long, 'trim', '0', '20']);
  const r = await post(fs.readFileSync(long), 400);
  assert.match(r.json.error.message, /long|15/);
  await post(Buffer.alloc(1100000, 1), 413);
});

test('a product added to the catalog is speakable at once (the grammar is rebuilt)', async () => {
  const builds = (await term.api('GET', '/api/v1/status', { expect: 200 })).json.voice.grammar_builds;
  const csv = path.join(tmp, 'more.csv');
  fs.writeFileSync(csv, 'sku,name,barcode,price,tax_class,stock\nCAK-LM,Lemon cake,,3.50,standard,10\n');
  kassa(term.dataDir, 'catalog', 'import', csv);
  const p = (await post(say('two lemon cakes', 'cake'))).json;
  const st = (await term.api('GET', '/api/v1/status', { expect: 200 })).json.voice;
  assert.equal(st.grammar_builds, builds + 1, 'rebuilt once for the new catalog');
  assert.equal(p.status, 'heard', JSON.stringify(p));
  assert.deepEqual(p.changes.map(({ op, sku, qty }) => [op, sku, qty]), [['add', 'CAK-LM', 2]]);
});
