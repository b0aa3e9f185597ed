// The fraud scorer in kassad (docs/FRAUD.md, "In kassad"), against real
// kassad processes with the committed model installed from a signed copy
// (tests/api/fraudmodel.mjs):
//
//  - an obvious sweethearting sale (most lines scanned then removed, prices
//    overridden) is answered 403 with reason supervisor_required and its
//    reason codes; a cashier's PIN cannot approve it, a supervisor's can;
//    both decisions are audit operations and review items; a plain sale by
//    another cashier is allowed without one; resolving (API and CLI);
//  - with the policy set in [fraud] (flag everything, refuse every offline
//    card): a flagged sale goes through and is listed with its reason
//    codes, a void is scored, an offline card sale is refused (402
//    offline_card_refused: nothing sold, the authorisation released) while
//    the same cart in cash goes through;
//  - no model installed, or the installed one corrupted under a running
//    terminal (SIGHUP): scoring disabled with an alert (status, review list,
//    log) and selling goes on; the model restored, scoring resumes.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { kassa, startTerminal } from './harness.mjs';
import { installCommands, installedModelFile, signedFraudModel } from './fraudmodel.mjs';
import { CARDS, openCart, startCardTerminal, stopProcessor, waitFor } from './payflow.mjs';

const SUE = { id: 'sue', pin: '9999' };
// Ten items with stock to spare (demo catalog).
const SKUS = ['MLK-1L', 'BRD-SD', 'MUF-BB', 'CRS-BT', 'BAG-CL', 'CHS-GD', 'YOG-NT', 'BTR-250', 'EGG-10', 'APL-1K'];

let tmp;
let model;

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kassa-fraud-'));
  model = signedFraudModel(tmp);
});
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A cart with ten lines, eight removed again, two prices overridden to 0.10. */
async function sweetheartCart(term, token) {
  const cart = await openCart(term, token, SKUS.map((sku) => ({ sku, qty: 1 })));
  for (const sku of SKUS.slice(0, 8)) await term.api('DELETE', `/api/v1/carts/${cart.cart_id}/lines/${sku}`, { token, expect: 200 });
  let c;
  for (const sku of SKUS.slice(8)) {
    c = (await term.api('PATCH', `/api/v1/carts/${cart.cart_id}/lines/${sku}`, { token, body: { price_override_minor: 10, supervisor: SUE }, expect: 200 })).json;
  }
  return c;
}

const checkout = (term, token, cart, extra = {}, expect = undefined) => term.api('POST', `/api/v1/carts/${cart.cart_id}/checkout`, {
  token, body: { tendered_minor: cart.cash_total_minor, ...extra }, expect,
});

const status = async (term) => (await term.api('GET', '/api/v1/status', { expect: 200 })).json;
const review = async (term, token, all = false) => (await term.api('GET', `/api/v1/review${all ? '?all=1' : ''}`, { token, expect: 200 })).json;
const auditOf = (term) => JSON.parse(kassa(term.dataDir, '--json', 'audit')).filter((a) => a.action === 'fraud_decision');
const logEvents = (term) => fs.readFileSync(term.logFile, 'utf8').split('\n').filter(Boolean).map((l) => {
  try { return JSON.parse(l); } catch { return {}; }
});

describe('the committed model, default policy', () => {
  let term;
  let ann;
  let bob;
  let sup;
  before(async () => {
    term = await startTerminal({ setup: installCommands(model) });
    [ann, bob, sup] = [await term.login('ann', '1111'), await term.login('bob', '2222'), await term.login('sue', '9999')];
  });
  after(async () => {
    await term?.stop();
  });

  test('status: scoring active with the installed model', async () => {
    const f = (await status(term)).fraud;
    assert.deepEqual([f.state, f.model_version, f.reason], ['active', 1, '']);
    const loaded = logEvents(term).find((e) => e.component === 'fraud' && e.event === 'model_loaded');
    assert.equal(loaded.version, 1);
    assert.ok(Math.abs(loaded.supervisor_at - 0.89) < 1e-6, 'the manifest\'s policy');
  });

  test('a plain sale is allowed without a decision', async () => {
    const before = (await status(term)).fraud;
    const cart = await openCart(term, bob, [{ sku: 'MLK-1L', qty: 2 }, { sku: 'BRD-SD', qty: 1 }]);
    await checkout(term, bob, cart, {}, 201);
    const after = (await status(term)).fraud;
    assert.equal(after.decisions, before.decisions + 1, 'scored');
    assert.equal(after.flagged, before.flagged, 'not flagged');
    assert.deepEqual((await review(term, sup)).decisions, []);
  });

  let approvedSale;
  test('sweethearting: 403 supervisor_required with reason codes; a cashier cannot approve, a supervisor can', async () => {
    const cart = await sweetheartCart(term, ann);
    const salesBefore = (await status(term)).sales;
    const r = await checkout(term, ann, cart, {}, 403);
    assert.equal(r.json.error.code, 'forbidden');
    assert.equal(r.json.error.reason, 'supervisor_required');
    const f = r.json.error.fraud;
    assert.equal(f.action, 'supervisor');
    assert.ok(f.probability >= 0.89, `probability ${f.probability}`);
    const features = f.reasons.map((x) => x.feature);
    assert.ok(features.includes('cart_line_voids') && features.includes('cart_overrides'), features.join(','));
    assert.ok(f.reasons.every((x) => x.contribution > 0));
    assert.equal(f.reasons.find((x) => x.feature === 'cart_line_voids').value, 8);
    assert.equal((await status(term)).sales, salesBefore, 'nothing sold');
    // A cashier's own PIN is no approval; a wrong PIN is 401.
    const byCashier = await checkout(term, ann, cart, { supervisor: { id: 'bob', pin: '2222' } }, 403);
    assert.notEqual(byCashier.json.error.reason, 'supervisor_required');
    await checkout(term, ann, cart, { supervisor: { id: 'sue', pin: '0000' } }, 401);
    assert.equal((await status(term)).sales, salesBefore, 'still nothing sold');
    approvedSale = (await checkout(term, ann, cart, { supervisor: SUE }, 201)).json;
    assert.equal(approvedSale.cashier_id, 'ann');
  });

  test('the decisions are audit operations and review items (supervisors only)', async () => {
    await term.api('GET', '/api/v1/review', { token: ann, expect: 403 });
    const list = (await review(term, sup)).decisions;
    const approved = list.filter((d) => d.sale_id === approvedSale.sale_id);
    assert.equal(approved.length, 1);
    assert.deepEqual([approved[0].event, approved[0].action, approved[0].outcome, approved[0].cashier_id, approved[0].supervisor_id],
      ['sale', 'supervisor', 'approved', 'ann', 'sue']);
    assert.ok(approved[0].reasons.some((x) => x.feature === 'cart_line_voids'));
    const refused = list.filter((d) => d.outcome === 'refused');
    assert.equal(refused.length, 1, 'the 403 left a decision (a refused approval is an auth failure, logged as such)');
    assert.ok(refused.every((d) => d.sale_id === '' && d.subject.startsWith('cart:')));
    // The same, as operations in the log (kassa audit reads the database).
    const audit = auditOf(term);
    assert.deepEqual(audit.map((a) => `fraud:${a.id}`).sort(), list.map((d) => d.id).sort());
    const op = audit.find((a) => a.subject === approvedSale.sale_id);
    assert.deepEqual([op.cashier, op.supervisor], ['ann', 'sue']);
    assert.match(op.detail, /^event=sale action=supervisor outcome=approved p=0\.9\d* r=/);
    const f = (await status(term)).fraud;
    assert.ok(f.flagged >= 4 && f.decisions >= f.flagged, JSON.stringify(f));
  });

  test('resolving a decision: accept through the API, flag through the CLI; each once', async () => {
    let list = (await review(term, sup)).decisions;
    const [first, second] = list;
    const path = `/api/v1/review/${encodeURIComponent(first.id)}/resolve`;
    await term.api('POST', path, { token: ann, body: { action: 'adjust', qty: 1, supervisor: SUE }, expect: 400 });
    const ok = (await term.api('POST', path, { token: ann, body: { action: 'accept', note: 'known customer', supervisor: SUE }, expect: 200 })).json;
    assert.deepEqual(ok, { id: first.id, action: 'accept', by: 'sue', note: 'known customer', sale_id: '', counted: 0 });
    await term.api('POST', path, { token: ann, body: { action: 'flag', supervisor: SUE }, expect: 409 });
    kassa(term.dataDir, 'review', 'resolve', second.id, 'flag', '--note', 'CCTV', '--by', 'max');
    list = (await review(term, sup)).decisions;
    assert.ok(!list.some((d) => d.id === first.id || d.id === second.id), 'resolved: off the open list');
    const all = (await review(term, sup, true)).decisions;
    const [a, b] = [all.find((d) => d.id === first.id), all.find((d) => d.id === second.id)];
    assert.deepEqual([a.resolved, a.resolution.action, a.resolution.by, a.resolution.note], [true, 'accept', 'sue', 'known customer']);
    assert.deepEqual([b.resolved, b.resolution.action, b.resolution.by, b.resolution.note], [true, 'flag', 'max', 'CCTV']);
    const cli = JSON.parse(kassa(term.dataDir, '--json', 'review', 'list'));
    assert.deepEqual(cli.decisions.map((d) => d.id), list.map((d) => d.id), 'the CLI lists what the API lists');
  });

  test('the installed model corrupted, then SIGHUP: scoring disabled with an alert, selling goes on; restored: active again', async () => {
    const file = installedModelFile(term.dataDir);
    const good = fs.readFileSync(file);
    const bad = Buffer.from(good);
    bad[bad.indexOf('"base_score":"5E-1"') + 15] = '9'.charCodeAt(0);
    fs.writeFileSync(file, bad);
    try {
      process.kill(term.pid, 'SIGHUP');
      const f = await waitFor('scoring disabled', async () => {
        const s = (await status(term)).fraud;
        return s.state === 'disabled' ? s : null;
      });
      assert.match(f.reason, /SHA-256|altered/);
      assert.equal(f.model_version, 0);
      const r = await review(term, sup);
      assert.deepEqual(r.alerts.map((x) => [x.kind, x.message]), [['fraud_scoring_disabled', f.reason]]);
      assert.ok(logEvents(term).some((e) => e.event === 'scoring_disabled' && e.level === 'error'));
      // The sale that needed a supervisor goes through now: never blocked.
      const cart = await sweetheartCart(term, ann);
      await checkout(term, ann, cart, {}, 201);
    } finally {
      fs.writeFileSync(file, good);
    }
    process.kill(term.pid, 'SIGHUP');
    await waitFor('scoring active again', async () => (await status(term)).fraud.state === 'active');
    assert.deepEqual((await review(term, sup)).alerts, []);
  });
});

describe('a policy set in [fraud]: flag everything, refuse every offline card (card simulators)', () => {
  let card;
  let term;
  let ann;
  let sup;
  before(async () => {
    card = await startCardTerminal({
      setup: installCommands(model),
      config: { fraud: { review_at_bp: 1, supervisor_at_bp: 10000, refuse_offline_card_at_bp: 1 } },
    });
    term = card.term;
    [ann, sup] = [await term.login('ann', '1111'), await term.login('sue', '9999')];
  });
  after(async () => {
    await card?.stop();
  });

  let cashSale;
  test('a flagged sale goes through and is on the review list with its reason codes', async () => {
    const cart = await openCart(term, ann, [{ sku: 'TEA-GR', qty: 1 }]);
    cashSale = (await checkout(term, ann, cart, {}, 201)).json;
    const d = (await review(term, sup)).decisions.find((x) => x.sale_id === cashSale.sale_id);
    assert.deepEqual([d.event, d.action, d.outcome, d.supervisor_id], ['sale', 'review', 'flagged', '']);
    assert.ok(d.probability > 0 && d.probability < 1);
    assert.ok(d.reasons.length >= 1 && d.reasons.every((x) => typeof x.feature === 'string' && x.contribution > 0), JSON.stringify(d.reasons));
  });

  test('a void is scored before it runs; the supervisor who approved it is recorded', async () => {
    await term.api('POST', `/api/v1/sales/${encodeURIComponent(cashSale.sale_id)}/void`, { token: ann, body: { supervisor: SUE, reason: 'customer changed mind' }, expect: 200 });
    const d = (await review(term, sup)).decisions.find((x) => x.event === 'void');
    assert.deepEqual([d.sale_id, d.outcome, d.cashier_id, d.supervisor_id], [cashSale.sale_id, 'approved', 'ann', 'sue']);
  });

  test('an online card sale is flagged, not refused', async () => {
    const cart = await openCart(term, ann, [{ sku: 'CHO-DK', qty: 1 }]);
    card.sims.present(CARDS.visa);
    const sale = (await checkout(term, ann, cart, { tendered_minor: 0, card_minor: cart.total_minor }, 201)).json;
    assert.equal(sale.card.mode, 'online');
    const d = (await review(term, sup)).decisions.find((x) => x.sale_id === sale.sale_id);
    assert.equal(d.outcome, 'flagged');
  });

  test('an offline card sale is refused under the policy (402), nothing sold or charged; the same cart in cash goes through', async () => {
    await stopProcessor(card.sims);
    try {
      const cart = await openCart(term, ann, [{ sku: 'JUI-OR', qty: 2 }]);
      const salesBefore = (await status(term)).sales;
      card.sims.present(CARDS.visa2);
      const r = await checkout(term, ann, cart, { tendered_minor: 0, card_minor: cart.total_minor }, 402);
      assert.deepEqual([r.json.error.code, r.json.error.reason, r.json.error.fraud.action], ['payment_declined', 'offline_card_refused', 'refuse_offline_card']);
      assert.match(r.json.error.message, /cash/);
      const paymentId = r.json.error.payment_id;
      assert.ok(paymentId);
      assert.equal((await status(term)).sales, salesBefore, 'nothing sold');
      assert.equal((await status(term)).payments.pending_count, 0, 'nothing stored for forwarding');
      const d = (await review(term, sup)).decisions.find((x) => x.subject === paymentId);
      assert.deepEqual([d.action, d.outcome, d.sale_id], ['refuse_offline_card', 'refused', '']);
      const cash = (await checkout(term, ann, cart, {}, 201)).json;
      assert.equal(cash.card, null);
      assert.equal((await status(term)).sales, salesBefore + 1);
    } finally {
      await card.sims.startProcessor();
    }
  });

  test('kassa review list shows the same decisions', async () => {
    const api = (await review(term, sup)).decisions.map((d) => d.id);
    const cli = JSON.parse(kassa(term.dataDir, '--json', 'review', 'list')).decisions.map((d) => d.id);
    assert.deepEqual(cli, api);
    assert.match(kassa(term.dataDir, 'review', 'list'), /refuse_offline_card refused/);
  });
});

describe('no model installed', () => {
  let term;
  before(async () => {
    term = await startTerminal();
  });
  after(async () => {
    await term?.stop();
  });

  test('scoring disabled with an alert; selling is never blocked', async () => {
    const f = (await status(term)).fraud;
    assert.deepEqual([f.state, f.model_version], ['disabled', 0]);
    assert.match(f.reason, /no model installed/);
    const sup = await term.login('sue', '9999');
    assert.deepEqual((await review(term, sup)).alerts.map((a) => a.kind), ['fraud_scoring_disabled']);
    assert.ok(logEvents(term).some((e) => e.component === 'fraud' && e.event === 'scoring_disabled'));
    const ann = await term.login('ann', '1111');
    const cart = await sweetheartCart(term, ann);
    await checkout(term, ann, cart, {}, 201);
    assert.deepEqual((await review(term, sup)).decisions, []);
    assert.deepEqual(auditOf(term), []);
  });
});
