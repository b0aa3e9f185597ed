// Conflict triage after a merge (docs/FRAUD.md, "In kassad"; term.h,
// "review"): two linked terminals of store S1, the committed fraud model
// installed on both (a signed copy, tests/api/fraudmodel.mjs). MUG-KS is
// counted down to 2 units. Apart (one terminal stopped while the other
// sells), T1 sells the two units; T2, believing them still there, sells one
// in a sweethearting sale a supervisor had to approve. Once linked again:
//
//  - each terminal logs that replication made MUG-KS negative;
//  - both list the same review item stock:MUG-KS: stock -1, short 1, the
//    two sales that took the last units (not T1's first, which left one),
//    ranked by risk: T2's approved sale (its recorded decision) first,
//    T1's (scored where it was sold, and where it arrived) second;
//  - the CLI lists it too (risks recorded with the sales only);
//  - flagged on T1 (one of its sales named), it leaves the open list on
//    T2 too, where it shows as resolved by sue on T1 with the sale flagged.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Mesh, fullSetup, kassa, waitConverged, waitFor, waitLinked } from './harness.mjs';
import { installCommands, signedFraudModel } from '../api/fraudmodel.mjs';

const NODES = ['T1', 'T2'];
const SKU = 'MUG-KS';
const SUE = { id: 'sue', pin: '9999' };
const QUICK = { anti_entropy_ms: 250, reconnect_min_ms: 50, reconnect_max_ms: 500, idle_timeout_ms: 2000 };
// Eight items with stock to spare (fullSetup) removed again, two kept.
const REMOVED = ['BAG-CL', 'MLK-1L', 'WAT-15', 'PST-500', 'COL-05', 'BER-05', 'CRS-BT', 'APL-1K'];
const KEPT = [SKU, 'BRD-SD'];

let mesh;
let t1;
let t2;
const sales = {};

before(async () => {
  mesh = new Mesh('triage');
  await mesh.guard(async () => {
    const ca = await mesh.caInit();
    const ports = await mesh.allocPorts(NODES.length);
    const addrs = ports.map((p) => `127.0.0.1:${p}`);
    const model = signedFraudModel(mesh.tmp);
    const terms = [];
    for (const [i, node] of NODES.entries()) {
      const cert = await mesh.issue(ca, 'S1', node);
      const base = i === 0 ? [...fullSetup('S1', node), ['stock', 'count', `${SKU}:2`]] : [['init', '--store', 'S1', '--node', node]];
      terms.push(await mesh.terminal({
        node,
        setup: [...base, ...installCommands(model)],
        peer: { listen: addrs[i], cert_dir: cert, roster: NODES.join(' '), peers: addrs.join(', '), ...QUICK },
      }));
    }
    [t1, t2] = terms;
    await Promise.all(terms.map((t) => t.start()));
    await waitLinked(t1, ['T2']);
    await waitConverged(terms, 'T1\'s setup on T2', { timeoutMs: 10000 });
  });
});

after(async () => {
  await mesh?.destroy();
});

const review = async (t, all = false) => (await t.api('GET', `/api/v1/review${all ? '?all=1' : ''}`, { token: await t.token('sue'), expect: 200 })).json;

test('apart, both terminals sell the last units of a SKU', () => mesh.guard(async () => {
  assert.equal((await t2.stock())[SKU], 2);
  assert.equal((await t1.status()).fraud.state, 'active');
  assert.equal((await t2.status()).fraud.state, 'active');
  await t2.kill();
  sales.t1First = (await t1.sell([{ sku: SKU, qty: 1 }], 'ann')).id;
  sales.t1Last = (await t1.sell([{ sku: SKU, qty: 1 }], 'ann')).id;
  assert.equal((await t1.stock())[SKU], 0);
  await t1.kill();

  await t2.start();
  const token = await t2.token('bob');
  let cart = (await t2.api('POST', '/api/v1/carts', { token, expect: 201 })).json;
  for (const sku of [...REMOVED, ...KEPT]) await t2.api('POST', `/api/v1/carts/${cart.cart_id}/lines`, { token, body: { sku, qty: 1 }, expect: 200 });
  for (const sku of REMOVED) await t2.api('DELETE', `/api/v1/carts/${cart.cart_id}/lines/${sku}`, { token, expect: 200 });
  for (const sku of KEPT) {
    cart = (await t2.api('PATCH', `/api/v1/carts/${cart.cart_id}/lines/${sku}`, { token, body: { price_override_minor: 10, supervisor: SUE }, expect: 200 })).json;
  }
  const pay = (extra, expect) => t2.api('POST', `/api/v1/carts/${cart.cart_id}/checkout`, { token, body: { tendered_minor: cart.cash_total_minor, ...extra }, expect });
  assert.equal((await pay({}, 403)).json.error.reason, 'supervisor_required');
  sales.t2 = (await pay({ supervisor: SUE }, 201)).json.sale_id;
  assert.equal((await t2.stock())[SKU], 1, 'T2 still believed one was left');
  assert.deepEqual((await review(t2)).triage, [], 'nothing negative on T2 alone');
}));

test('after the merge both terminals list the shortfall with the sales ranked by risk', () => mesh.guard(async () => {
  const markT2 = t2.logMark();
  await t1.start();
  await waitLinked(t1, ['T2']);
  await waitConverged([t1, t2], 'the merge');
  for (const t of [t1, t2]) {
    const item = await waitFor(`the review item on ${t.node}`, async () => (await review(t)).triage.find((i) => i.sku === SKU));
    assert.deepEqual([item.id, item.stock, item.shortfall, item.total_sales, item.resolved], [`stock:${SKU}`, -1, 1, 2, false], t.node);
    assert.deepEqual(item.sales.map((s) => [s.sale_id, s.node_id, s.cashier_id, s.qty]),
      [[sales.t2, 'T2', 'bob', 1], [sales.t1Last, 'T1', 'ann', 1]], `${t.node}: riskiest first; T1's first sale left a unit`);
    assert.ok(item.sales[0].risk >= 0.89, `${t.node}: the approved sale's recorded risk ${item.sales[0].risk}`);
    assert.equal(typeof item.sales[1].risk, 'number', `${t.node}: T1's sale was scored (${item.sales[1].risk})`);
    assert.ok(item.sales[1].risk < item.sales[0].risk);
    assert.ok(item.since_ms > 0);
  }
  // T2 saw the stock go negative when T1's sales arrived.
  await waitFor('T2 logs the negative stock', () => t2.events(markT2, { component: 'fraud', event: 'stock_negative', sku: SKU }).length === 1);
  // The CLI reads the same item from the database (risk: recorded ones only).
  const cli = JSON.parse(await kassa(t2.dataDir, '--json', 'review', 'list')).triage.find((i) => i.sku === SKU);
  assert.deepEqual(cli.sales.map((s) => [s.sale_id, s.risk === null]), [[sales.t2, false], [sales.t1Last, true]]);
}));

test('flagged on T1, the item leaves the open list on both; T2 shows how it was resolved', () => mesh.guard(async () => {
  const path = `/api/v1/review/stock:${SKU}/resolve`;
  const token = await t1.token('ann');
  await t1.api('POST', path, { token, body: { action: 'flag', sale_id: sales.t1First, supervisor: SUE }, expect: 400 });
  const ok = (await t1.api('POST', path, { token, body: { action: 'flag', sale_id: sales.t2, note: 'prices overridden to 0.10', supervisor: SUE }, expect: 200 })).json;
  assert.deepEqual([ok.action, ok.by, ok.sale_id], ['flag', 'sue', sales.t2]);
  assert.equal((await review(t1)).triage.find((i) => i.sku === SKU), undefined);
  await waitFor('the resolution on T2', async () => !(await review(t2)).triage.some((i) => i.sku === SKU));
  const done = (await review(t2, true)).triage.find((i) => i.sku === SKU);
  assert.deepEqual([done.resolved, done.resolution.action, done.resolution.by, done.resolution.node_id, done.resolution.sale_id, done.resolution.note],
    [true, 'flag', 'sue', 'T1', sales.t2, 'prices overridden to 0.10']);
  assert.deepEqual(done.sales.map((s) => [s.sale_id, s.flagged]), [[sales.t2, true], [sales.t1Last, false]]);
  await t2.api('POST', path, { token: await t2.token('ann'), body: { action: 'accept', supervisor: SUE }, expect: 409 });
  await waitConverged([t1, t2], 'the resolution replicated');
}));
