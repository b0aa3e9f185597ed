// Product recognition through the API (docs/AI.md, "In kassad"), with the
// committed model signed by the head office key (models/headoffice.pub)
// installed through the registry:
//  - every rendered product fixture is recognised as its SKU; products not
//    in the catalog and a poor view fall back to the barcode, with the
//    barcode zbar reads in the same frame and its catalog item;
//  - every decision and every confirmation is an audit operation;
//  - bad frames (garbage, truncated, too large) are 400 / 413 and change
//    nothing; a confirmation is taken once, for a known decision;
//  - no model installed: every answer is a fallback, never an error;
//  - an installed newer version whose files were damaged is rolled back at
//    start to the previous one (the registry's health check), and says so.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO, kassa, restartTerminal, startTerminal } from './harness.mjs';

const FIXTURES = path.join(REPO, 'tests', 'fixtures', 'products');
const INDEX = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'index.json'), 'utf8'));
const MODEL_DIR = path.join(REPO, 'models', 'product');
const INSTALL = [['model', 'trust', path.join(REPO, 'models', 'headoffice.pub')], ['model', 'install', MODEL_DIR]];

const frame = (name) => fs.readFileSync(path.join(FIXTURES, name));
const recognize = (term, token, bytes, type = 'image/png', expect = 200) =>
  term.api('POST', '/api/v1/recognize', { token, rawBody: bytes, headers: { 'content-type': type }, expect });

function auditOf(term) {
  return JSON.parse(kassa(term.dataDir, '--json', 'audit')).filter((a) => a.action.startsWith('ai_'));
}

/** The fixtures (tests/fixtures/products/index.json): file, expect
 * ("product" with its sku, or "fallback" with the barcode it shows). */
const expectations = () => INDEX.images;
const aProduct = () => INDEX.images.find((x) => x.expect === 'product');

describe('with the signed product model installed', () => {
  let term, ann;
  before(async () => {
    term = await startTerminal({ setup: INSTALL, config: { ai: { max_image_bytes: 200000 } } });
    ann = await term.login('ann', '1111');
  });
  after(async () => {
    await term?.stop();
  });

  test('the status names the model', async () => {
    const st = (await term.api('GET', '/api/v1/status', { expect: 200 })).json;
    assert.equal(st.ai.state, 'ready');
    assert.deepEqual(st.ai.model, { name: 'product', version: 1 });
  });

  test('every product fixture is recognised as its SKU; unknowns and a poor view fall back to the barcode', async () => {
    const cases = expectations();
    assert.ok(cases.length >= 12, `fixtures listed in index.json: ${cases.length}`);
    let products = 0, fallbacks = 0;
    for (const c of cases) {
      const type = /\.jpe?g$/i.test(c.file) ? 'image/jpeg' : 'image/png';
      const r = (await recognize(term, ann, frame(c.file), type)).json;
      assert.match(r.decision_id, /^R\d+-\d+$/);
      if (c.expect === 'product') {
        assert.equal(r.sku, c.sku, `${c.file}: ${JSON.stringify(r)}`);
        assert.ok(r.confidence >= 0.7, `${c.file}: confidence ${r.confidence}`);
        assert.ok(r.name.length > 0, 'the catalog name comes with the SKU');
        products++;
      } else {
        assert.equal(r.fallback, 'barcode', `${c.file}: ${JSON.stringify(r)}`);
        assert.equal(r.reason, 'low_confidence');
        if (c.barcode) assert.deepEqual(r.barcode, { data: c.barcode, symbology: 'EAN-13', sku: c.barcode_sku });
        fallbacks++;
      }
      assert.ok(r.alternatives.length <= 3);
    }
    assert.ok(products >= 12 && fallbacks >= 3, `${products} products, ${fallbacks} fallbacks`);
  });

  test('decisions and confirmations are audit operations; a decision is answered once', async () => {
    const before = auditOf(term).length;
    const c = aProduct();
    const r = (await recognize(term, ann, frame(c.file))).json;
    const ok = (await term.api('POST', `/api/v1/recognize/${r.decision_id}/confirm`, { token: ann, body: { sku: r.sku }, expect: 200 })).json;
    assert.deepEqual(ok, { decision_id: r.decision_id, accepted: true });
    await term.api('POST', `/api/v1/recognize/${r.decision_id}/confirm`, { token: ann, body: { sku: r.sku }, expect: 404 });
    const r2 = (await recognize(term, ann, frame(c.file))).json;
    const no = (await term.api('POST', `/api/v1/recognize/${r2.decision_id}/confirm`, { token: ann, body: { sku: 'BAG-CL' }, expect: 200 })).json;
    assert.equal(no.accepted, false, 'another product than the suggestion');
    const audit = auditOf(term).slice(before);
    assert.deepEqual(audit.map((a) => a.action), ['ai_recognition', 'ai_confirmation', 'ai_recognition', 'ai_confirmation']);
    assert.equal(audit[0].subject, r.decision_id);
    assert.match(audit[0].detail, new RegExp(`model=product@1 result=${r.sku} confidence=0\\.\\d{3} fallback=no`));
    assert.equal(audit[1].detail, `suggested=${r.sku} chosen=${r.sku} accepted=yes`);
    assert.equal(audit[3].detail, `suggested=${r.sku} chosen=BAG-CL accepted=no`);
    assert.equal(audit[0].cashier, 'ann');
    await term.api('POST', '/api/v1/recognize/R1-1/confirm', { token: ann, body: {}, expect: 404 });
  });

  test('bad frames: 400 or 413, nothing recorded', async () => {
    const before = auditOf(term).length;
    const png = frame(aProduct().file);
    for (const bytes of [Buffer.from('not an image at all'), png.subarray(0, 200), Buffer.alloc(100)]) {
      const r = await recognize(term, ann, bytes, 'image/png', 400);
      assert.equal(r.json.error.code, 'bad_request');
    }
    await recognize(term, ann, Buffer.alloc(300000, 1), 'image/png', 413);
    // no camera configured: an empty body says what to send
    const empty = await recognize(term, ann, Buffer.alloc(0), 'image/png', 400);
    assert.match(empty.json.error.message, /no camera is configured/);
    for (const f of fs.readdirSync(path.join(FIXTURES, 'bad'))) {
      await recognize(term, ann, fs.readFileSync(path.join(FIXTURES, 'bad', f)), 'image/png', [400, 413]);
    }
    assert.equal(auditOf(term).length, before, 'no decision recorded for a bad frame');
  });
});

describe('without a usable model', () => {
  test('no model installed: every answer is a fallback to the barcode', async () => {
    const term = await startTerminal();
    try {
      const ann = await term.login('ann', '1111');
      const st = (await term.api('GET', '/api/v1/status', { expect: 200 })).json.ai;
      assert.equal(st.state, 'no_model');
      assert.equal(st.model, null);
      const barcode = expectations().find((x) => x.barcode);
      const r = (await recognize(term, ann, frame(barcode.file))).json;
      assert.equal(r.fallback, 'barcode');
      assert.equal(r.reason, 'model_error');
      assert.equal(r.barcode.data, barcode.barcode);
      assert.equal(r.model, null);
    } finally {
      await term.stop();
    }
  });

  test('a newer version damaged after its install is rolled back at start', async () => {
    let term = await startTerminal({ setup: INSTALL });
    const tmp = fs.mkdtempSync(path.join(term.tmp, 'v2-'));
    try {
      // version 2: the same model, signed by a key of this test's own
      const key = path.join(tmp, 'test');
      kassa(term.dataDir, 'model', 'keygen', key);
      kassa(term.dataDir, 'model', 'trust', `${key}.pub`);
      const v2 = path.join(tmp, 'v2');
      fs.cpSync(MODEL_DIR, v2, { recursive: true });
      const m = JSON.parse(fs.readFileSync(path.join(v2, 'manifest.json'), 'utf8'));
      m.version = 2;
      fs.writeFileSync(path.join(v2, 'manifest.json'), JSON.stringify(m, null, 2));
      kassa(term.dataDir, 'model', 'sign', '--key', `${key}.key`, path.join(v2, 'product.tflite'), path.join(v2, 'manifest.json'));
      kassa(term.dataDir, 'model', 'install', v2);
      await term.kill();
      // a byte of the active version's model changed on disk
      const installed = path.join(term.dataDir, 'models', 'installed', 'product', '2', 'product.tflite');
      const bytes = fs.readFileSync(installed);
      bytes[bytes.length - 10] ^= 0xff;
      fs.writeFileSync(installed, bytes);
      term = await restartTerminal(term);
      const st = (await term.api('GET', '/api/v1/status', { expect: 200 })).json.ai;
      assert.equal(st.state, 'ready');
      assert.deepEqual(st.model, { name: 'product', version: 1 }, 'back to version 1');
      assert.match(term.log(), /"event":"model_rolled_back"/);
      const ann = await term.login('ann', '1111');
      const r = (await recognize(term, ann, frame(aProduct().file))).json;
      assert.equal(r.sku, aProduct().sku);
    } finally {
      await term.stop();
    }
  });
});
