// The store side of the cloud with real processes (docs/CLOUD.md, "Store
// side"): kassad terminals with a [cloud] section upload to a kassa-cloud
// (tests/cloud/harness.mjs) on a fresh database; the terminals' and the
// cloud's certificates come from one CA (tests/cloud/storeutil.mjs).
//
//  - a store of 3 linked terminals: every operation reaches the cloud
//    exactly once, only the Raft leader uploads, the acknowledged vector is
//    committed to every member (pending_upload_ops 0 everywhere); a lone
//    terminal uploads too;
//  - the downlink: head office's catalog change, this store's price
//    override and a promotion reach every terminal of the store; the
//    cursor is committed through Raft, and the status shows it on every
//    member; roster and revocation changes become settings too;
//  - the leader killed (SIGKILL) during uploads again and again while the
//    others keep selling: the cloud ends with exactly the operations made;
//  - the cloud down for a (scaled-down) day of selling on 5 terminals, then
//    back on the same port: the upload resumes within probe_max_ms and
//    everything arrives exactly once;
//  - the acknowledged vector committed even when the cloud already holds
//    everything (a leader killed between the cloud's commit and its own),
//    for a lone terminal and a store;
//  - a leader that loses the lead while an upload waits inside the cloud
//    (its heads rows locked from psql) uploads again when it leads again.
//
// KASSA_TEST_SCALE=asan scales the counts down. KASSA_PEER_LOG=1 prints
// the daemons' logs at the end, KASSA_CLOUD_LOG=1 the cloud's.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client, World, kassa } from './harness.mjs';
import { Mesh, rng, sleep, waitFor } from '../peer/harness.mjs';
import {
  BackgroundSellers, assertCloudHoldsExactly, destroyChecked, assertCloudSameHistory, cloudConfig, cloudOps, ingestLog,
  lockHeads, makeStore, nextLogLine, restartCloud, sellMany, sqliteValue, sortKeys,
} from './storeutil.mjs';

const ASAN = process.env.KASSA_TEST_SCALE === 'asan';
const KILLS = ASAN ? 8 : 20;
const DAY_TERMINALS = ['T1', 'T2', 'T3', 'T4', 'T5'];
const DAY_SALES_PER_TERMINAL = ASAN ? 400 : 2000;
const PROBE_MAX_MS = 1000;
const DOWNLINK_BUDGET_MS = ASAN ? 10000 : 5000;

let world, mesh, db, cloud, cloudPort, admin;
let s1; // S1: T1 T2 T3, linked

before(async () => {
  world = await World.create('uplink');
  mesh = new Mesh('uplink');
  db = await world.database('main');
  cloud = await world.cloud(db);
  cloudPort = cloud.port;
  admin = cloud.admin();
});

after(() => destroyChecked(mesh, world));

/** The kassa-cloud serving now (the last one started). */
const current = () => world.clouds[world.clouds.length - 1];

/** The newest head-office change store can see (cloud database), 0 if none. */
const latestChange = (store) => Number(db.psql(`SELECT coalesce(max(cursor), 0) FROM changes WHERE store_id IN ('*', '${store}')`).trim());

/**
 * Waits until store has one uploader, has applied every head-office change
 * there is (they become operations of its leader), holds the same
 * operations everywhere and has nothing pending: a quiet start.
 */
async function settle(st) {
  const leader = await st.waitUploader();
  const last = latestChange(st.id);
  await waitFor(`${st.id}: the downlink caught up (cursor ${last})`, async () => (await leader.status()).cloud.downlink_cursor >= last, { timeoutMs: DOWNLINK_BUDGET_MS });
  await st.waitSameVv();
  await st.waitNothingPending();
  return leader;
}

/** Sums the vv's seqs. */
const total = (vv) => Object.values(vv).reduce((a, b) => a + b, 0);

test('a store of 3 linked terminals: every operation in the cloud exactly once, only the Raft leader uploads, pending 0 on every member', () => mesh.guard(async () => {
  s1 = await makeStore(mesh, world, { store: 'S1', nodes: ['T1', 'T2', 'T3'], cloud: cloudConfig(cloudPort, { probe_max_ms: PROBE_MAX_MS }) });
  await s1.start();
  const leader = await s1.waitUploader();
  // sales on every terminal: with the CLI (on the running terminal's
  // database) and through the API
  for (const t of s1.terms) {
    for (let i = 0; i < 2; i++) await t.cli('--json', 'sale', '--line', 'MLK-1L:1', '--pay', 'cash:100000');
    await sellMany(t, 30, { concurrency: 4 });
  }
  const vv = await s1.waitSameVv();
  assert.deepEqual(Object.keys(vv).sort(), ['T1', 'T2', 'T3'], 'every terminal made operations');
  const views = await s1.waitNothingPending();
  assertCloudHoldsExactly(db, 'S1', vv);
  await assertCloudSameHistory(db, 'S1', s1.node('T2'));
  // the cloud's own answer, with the store's certificate
  const client = new Client(cloud, s1.node('T3').peer.cert_dir);
  try {
    const res = await client.get('/v1/stores/S1/vv');
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(sortKeys(res.json.vv), sortKeys(vv));
  } finally {
    client.close();
  }
  // 6 CLI sales + 90 API sales, each one sale in the cloud's projection
  const sales = await admin.get('/v1/admin/stores/S1/sales');
  assert.equal(sales.status, 200, sales.text);
  assert.equal(sales.json.days.reduce((a, d) => a + d.sales, 0), 96, `the cloud's sales_daily: ${sales.text}`);
  // only the leader uploaded; it says so, the others do not
  const log = ingestLog(cloud, 'S1');
  assert.equal(log.stored, total(vv), 'stored once each');
  assert.equal(log.duplicates, 0, 'nothing sent twice');
  // A loaded machine may starve a heartbeat and move the lead: then every
  // node that uploaded must have led, and only the strict checks are left.
  const leaders = s1.terms.filter((t) => /"event":"state","role":"leader"/.test(t.logText())).map((t) => t.node);
  for (const n of Object.keys(log.nodes)) assert.ok(leaders.includes(n), `${n} uploaded without leading (leaders: ${leaders})`);
  if (leaders.length === 1) assert.deepEqual(Object.keys(log.nodes), [leader.node], `the batches came from the leader only: ${JSON.stringify(log)}`);
  for (const [node, c] of leaders.length === 1 ? Object.entries(views) : []) {
    assert.equal(c.uploader, node === leader.node, `${node}: uploader`);
    assert.equal(c.pending_upload_ops, 0, `${node}: pending`);
    if (node === leader.node) {
      assert.equal(c.state, 'online');
      assert.ok(c.last_upload_ms > 0, 'the leader has a last upload time');
      assert.equal(c.offline_since_ms, 0);
      assert.ok(c.ops_uploaded >= total(vv), `the leader uploaded ${c.ops_uploaded} ops`);
    } else {
      assert.equal(c.ops_uploaded, 0, `${node} uploaded nothing`);
    }
  }
  // the acknowledged vector as every member committed it
  for (const t of s1.terms) {
    const acked = Object.fromEntries(sqliteValue(t, 'SELECT origin, seq FROM cloud_acked').split('\n').filter(Boolean).map((l) => {
      const [o, s] = l.split('|');
      return [o, Number(s)];
    }));
    assert.deepEqual(sortKeys(acked), sortKeys(vv), `${t.node}: cloud_acked`);
  }
}));

test('a lone terminal (no peer links, no Raft) uploads too', () => mesh.guard(async () => {
  const s2 = await makeStore(mesh, world, { store: 'S2', nodes: ['T1'], linked: false, cloud: cloudConfig(cloudPort) });
  await s2.start();
  const [t] = s2.terms;
  await waitFor('the lone terminal says it uploads', async () => (await t.status()).cloud.uploader === true);
  await sellMany(t, 25, { concurrency: 4 });
  await t.cli('--json', 'sale', '--line', 'BAG-CL:2', '--pay', 'cash:100000');
  const vv = await t.vv();
  const views = await s2.waitNothingPending();
  assert.equal(views.T1.state, 'online');
  assertCloudHoldsExactly(db, 'S2', vv);
  await assertCloudSameHistory(db, 'S2', t);
  await t.kill('SIGTERM');
}));

/** The value of setting `key` on a terminal, or '' (read-only sqlite3 on its database). */
const setting = (t, key) => sqliteValue(t, `SELECT value FROM settings WHERE key = '${key}'`);

test('downlink: a catalog change, this store\'s price override and a promotion reach every terminal of the store; the cursor is committed', () => mesh.guard(async () => {
  const leader = await s1.waitUploader();
  const t0 = Date.now();
  const cat = await admin.put('/v1/admin/catalog/TEA-GRN', { name: 'Green tea 20 bags', price_minor: 249, tax_class: 'reduced', barcode: '4000000000017' });
  assert.equal(cat.status, 200, cat.text);
  const other = await admin.put('/v1/admin/stores/S9/prices/TEA-GRN', { price_minor: 999 }); // another store's
  assert.equal(other.status, 200, other.text);
  const price = await admin.put('/v1/admin/stores/S1/prices/TEA-GRN', { price_minor: 229 });
  assert.equal(price.status, 200, price.text);
  const promo = await admin.put('/v1/admin/promotions/tea-week', { sku: 'TEA-GRN', percent: 10, start_ms: 1700000000000, end_ms: 1900000000000 });
  assert.equal(promo.status, 200, promo.text);
  const last = promo.json.cursor;
  const arrived = {};
  await waitFor('the item at the store\'s price on every terminal (API catalog search)', async () => {
    for (const t of s1.terms) {
      if (arrived[t.node]) continue;
      const r = await t.api('GET', '/api/v1/catalog?q=Green%20tea', { token: await t.token(), expect: 200 });
      const it = r.json.items.find((i) => i.sku === 'TEA-GRN');
      if (it && it.price_minor === 229) arrived[t.node] = { ms: Date.now() - t0, item: it };
    }
    return Object.keys(arrived).length === s1.terms.length;
  }, { timeoutMs: DOWNLINK_BUDGET_MS, intervalMs: 25 });
  for (const [node, a] of Object.entries(arrived)) {
    assert.deepEqual({ ...a.item, stock: 0 }, { sku: 'TEA-GRN', name: 'Green tea 20 bags', barcode: '4000000000017', price_minor: 229, tax_class: 'reduced', stock: 0 }, `${node}'s item`);
  }
  // the CLI reads the same
  const listed = JSON.parse(await s1.node('T3').cli('--json', 'catalog', 'list')).find((i) => i.sku === 'TEA-GRN');
  assert.equal(listed?.price_minor, 229, `kassa catalog list on T3: ${JSON.stringify(listed)}`);
  // the promotion: a setting promotion.<id> holding the change's body
  const client = new Client(cloud, s1.node('T1').peer.cert_dir);
  const served = await client.get(`/v1/stores/S1/changes?after=${last - 1}`);
  client.close();
  assert.equal(served.status, 200, served.text);
  const body = served.json.changes.find((c) => c.kind === 'promotion' && c.key === 'tea-week')?.body;
  assert.ok(body, `the promotion served to S1: ${served.text}`);
  await waitFor('the promotion as a setting on every terminal', () => s1.terms.every((t) => setting(t, 'promotion.tea-week') !== ''), { timeoutMs: DOWNLINK_BUDGET_MS });
  for (const t of s1.terms) {
    const v = JSON.parse(setting(t, 'promotion.tea-week'));
    assert.deepEqual(v, body, `${t.node}: promotion.tea-week is the change's body`);
    assert.equal(v.sku, 'TEA-GRN');
    assert.equal(v.percent, 10);
  }
  // the cursor committed through Raft: every member's cloud_state
  await waitFor(`the cursor ${last} committed on every member`, () => s1.terms.every((t) => Number(sqliteValue(t, "SELECT value FROM cloud_state WHERE key = 'cursor'")) === last), { timeoutMs: DOWNLINK_BUDGET_MS });
  console.log(`downlink: PUT to visible on every terminal: ${Object.entries(arrived).map(([n, a]) => `${n} ${a.ms} ms`).join(', ')} (leader ${leader.node})`);
}));

test('downlink: status downlink_cursor is the committed cursor on every member', () => mesh.guard(async () => {
  const last = Number(sqliteValue(s1.node('T1'), "SELECT value FROM cloud_state WHERE key = 'cursor'"));
  assert.ok(last > 0, 'the downlink test committed a cursor');
  let views;
  try {
    await waitFor('downlink_cursor equal to the committed cursor on every member', async () => {
      views = await s1.cloudViews();
      return Object.values(views).every((c) => c.downlink_cursor === last);
    }, { timeoutMs: 3000 });
  } catch (e) {
    assert.fail(`status downlink_cursor ${JSON.stringify(Object.fromEntries(Object.entries(views ?? {}).map(([n, c]) => [n, c.downlink_cursor])))}, committed cursor ${last} on every member (${e.message})`);
  }
}));

test('downlink: roster and revocation changes for the store reach every terminal as settings', () => mesh.guard(async () => {
  const roster = await admin.put('/v1/admin/stores/S1/roster', { nodes: ['T1', 'T2', 'T3'] });
  assert.equal(roster.status, 200, roster.text);
  const rev = await admin.put('/v1/admin/stores/S1/revocations/T9', { reason: 'stolen' });
  assert.equal(rev.status, 200, rev.text);
  await waitFor('the cursor past both changes committed on every member', () => s1.terms.every((t) =>
    Number(sqliteValue(t, "SELECT value FROM cloud_state WHERE key = 'cursor'")) >= rev.json.cursor), { timeoutMs: DOWNLINK_BUDGET_MS });
  await waitFor('roster.S1 on every terminal', () => s1.terms.every((t) => setting(t, 'roster.S1') !== ''), { timeoutMs: DOWNLINK_BUDGET_MS });
  assert.deepEqual(JSON.parse(setting(s1.node('T2'), 'roster.S1')), { nodes: ['T1', 'T2', 'T3'], store: 'S1' });
  const revocations = s1.terms.map((t) => sqliteValue(t, "SELECT key || '=' || value FROM settings WHERE key LIKE 'revocation%'"));
  assert.ok(revocations.every((r) => r.includes('T9')), `the revocation of S1/T9 on every terminal, got ${JSON.stringify(revocations)}; ` +
    `the leader's log: ${JSON.stringify((await s1.waitUploader()).events(0, { event: 'change_refused' }))}`);
}));

test(`the leader killed with SIGKILL during uploads ${KILLS} times while the others sell: the cloud holds exactly the operations made`, () => mesh.guard(async () => {
  const pick = rng(20240611);
  const sellers = new BackgroundSellers(s1.terms, { pauseMs: 10 });
  const mark = cloud.lines.length;
  const times = [];
  let windowKills = 0;
  try {
    for (let k = 0; k < KILLS; k++) {
      // during an upload: right after the cloud committed one of the
      // leader's batches (the leader's ack is on its way through Raft), or
      // at some point of its upload cycle. A loaded machine may move the
      // lead meanwhile: the batch is the store's, the kill is the leader's
      // as it is then.
      await nextLogLine(cloud, `kill ${k + 1}: a batch from the store's leader`,
        (l) => l.event === 'ingested' && l.store === 'S1' && l.stored > 0, 10000);
      const leader = await s1.waitUploader(`kill ${k + 1}: one uploader, the Raft leader`);
      if (k % 2 === 0) windowKills++;
      else await sleep(pick(900));
      const t0 = Date.now();
      await leader.kill('SIGKILL');
      const next = await s1.waitUploader(`kill ${k + 1}: a new uploader among the survivors`);
      assert.notEqual(next.node, leader.node);
      times.push(Date.now() - t0);
      await leader.start();
    }
    await s1.waitUploader('everyone back: one uploader');
  } finally {
    const acked = await sellers.stop();
    console.log(`kill loop: ${acked} sales acknowledged (${sellers.failed} requests lost with a killed terminal)`);
  }
  const vv = await s1.waitSameVv('every terminal converged after the kills', { timeoutMs: 30000 });
  await s1.waitNothingPending('pending 0 on every terminal after the kills', { timeoutMs: 30000 });
  assertCloudHoldsExactly(db, 'S1', vv, 'S1 after the kills');
  await assertCloudSameHistory(db, 'S1', s1.node('T1'));
  const log = ingestLog(cloud, 'S1', mark);
  console.log(`kill loop: ${KILLS} kills (${windowKills} right after a batch was stored), kill to new uploader ms: ${times.join(' ')}; ` +
    `cloud: ${log.batches} batches, ${log.stored} stored, ${log.duplicates} duplicates, from ${JSON.stringify(log.nodes)}; ops ${JSON.stringify(vv)}`);
  assert.ok(Object.keys(log.nodes).length >= 2, 'several leaders uploaded');
  // S1 is done (the day offline stops the cloud under it)
  await Promise.all(s1.terms.map((t) => t.kill('SIGTERM')));
}));

test(`the cloud down for a day of selling (${DAY_TERMINALS.length} x ${DAY_SALES_PER_TERMINAL} sales), then back on its port: uploads resume within probe_max_ms, everything arrives exactly once`, () => mesh.guard(async () => {
  const s3 = await makeStore(mesh, world, { store: 'S3', nodes: DAY_TERMINALS, cloud: cloudConfig(cloudPort, { probe_max_ms: PROBE_MAX_MS }) });
  await s3.start();
  const leader = await settle(s3);
  const before = await s3.vv();
  // the cloud goes away
  const down = current();
  const stop = await down.stop();
  assert.equal(stop.code, 0, 'kassa-cloud stops cleanly');
  const tDown = Date.now();
  const t0 = Date.now();
  const counts = await Promise.all(s3.terms.map((t) => sellMany(t, DAY_SALES_PER_TERMINAL, { concurrency: 8 })));
  const sellMs = Date.now() - t0;
  const made = counts.reduce((a, c) => a + c.length, 0);
  const vv = await s3.waitSameVv('the day\'s sales everywhere', { timeoutMs: 60000 });
  const pendingOps = total(vv) - total(before);
  assert.ok(pendingOps >= made, `${pendingOps} new operations for ${made} sales`);
  const offline = await waitFor('the uploader says offline, with everything pending', async () => {
    const views = await s3.cloudViews();
    const up = Object.entries(views).find(([, c]) => c.uploader);
    if (!up || up[1].state !== 'offline' || !(up[1].offline_since_ms > 0)) return false;
    return Object.values(views).every((c) => c.pending_upload_ops === pendingOps) ? { node: up[0], views } : false;
  }, { timeoutMs: 10000, intervalMs: 100 });
  const since = offline.views[offline.node].offline_since_ms;
  assert.ok(since >= tDown - 2000 && since <= Date.now(), `offline_since_ms ${since} (the cloud stopped at ${tDown})`);
  assert.deepEqual(sortKeys(cloudOps(db, 'S3').heads), sortKeys(before), 'nothing reached the database meanwhile');
  // back on the same port
  const up = await restartCloud(world, db, cloudPort);
  const tUp = Date.now();
  const first = await up.waitLog('the first batch of S3 after the restart', (l) => l.event === 'ingested' && l.store === 'S3', PROBE_MAX_MS + 10000);
  const resumeMs = Date.now() - tUp;
  await s3.waitNothingPending('pending 0 on every terminal after the cloud came back', { timeoutMs: 60000, intervalMs: 50 });
  const drainMs = Date.now() - tUp;
  assertCloudHoldsExactly(db, 'S3', vv, 'S3 after the day offline');
  await assertCloudSameHistory(db, 'S3', s3.node('T4'));
  const log = ingestLog(up, 'S3');
  const views = await s3.cloudViews();
  const uploader = Object.entries(views).find(([, c]) => c.uploader);
  console.log(`day offline: ${made} sales (${pendingOps} operations) in ${sellMs} ms on ${DAY_TERMINALS.length} terminals; ` +
    `cloud back: first batch after ${resumeMs} ms (from ${first.node}), everything acknowledged on every terminal after ${drainMs} ms; ` +
    `${log.batches} batches, ${log.stored} stored, ${log.duplicates} duplicates (leader before ${leader.node}, uploader now ${uploader?.[0]})`);
  assert.equal(log.stored, pendingOps, 'each operation stored once');
  assert.equal(log.duplicates, 0, 'nothing sent twice');
  assert.ok(resumeMs <= PROBE_MAX_MS + (ASAN ? 4000 : 1500), `the upload resumed ${resumeMs} ms after the cloud came back (probe_max_ms ${PROBE_MAX_MS})`);
  assert.equal(uploader[1].state, 'online');
  assert.equal(uploader[1].offline_since_ms, 0);
  await Promise.all(s3.terms.map((t) => t.kill('SIGTERM')));
}));

/**
 * A store whose operations the cloud already holds, though the store never
 * committed the cloud's answer (its leader was killed between the cloud's
 * COMMIT and its own): here made by uploading the export file of a
 * terminal with its certificate while the store's daemons are down.
 */
async function uploadBehindTheStoresBack(t, store) {
  const buf = await kassa(['--data', t.dataDir, 'export'], { binary: true });
  const client = new Client(current(), t.peer.cert_dir);
  try {
    const res = await client.upload(store, buf);
    assert.equal(res.status, 200, res.text);
    return res.json;
  } finally {
    client.close();
  }
}

test('a lone terminal whose operations the cloud already holds commits the cloud\'s vector (pending 0)', () => mesh.guard(async () => {
  const s4 = await makeStore(mesh, world, { store: 'S4', nodes: ['T1'], linked: false, cloud: cloudConfig(cloudPort) });
  const [t] = s4.terms;
  // a first run: everything uploaded, head office's changes applied (and uploaded)
  await t.start();
  await settle(s4);
  await t.kill('SIGTERM');
  // sales made while the daemon is down, in the cloud already
  for (let i = 0; i < 3; i++) await t.cli('--json', 'sale', '--line', 'WAT-15:1', '--pay', 'cash:100000');
  const vv = await t.vv();
  const res = await uploadBehindTheStoresBack(t, 'S4');
  assert.equal(res.stored, 3);
  await t.start();
  await waitFor('online', async () => (await t.status()).cloud.state === 'online', { timeoutMs: 10000 });
  assert.deepEqual(sortKeys(await t.vv()), sortKeys(vv), 'no new operation since');
  let c;
  try {
    await waitFor('pending 0', async () => (c = (await t.status()).cloud).pending_upload_ops === 0, { timeoutMs: 4000 });
  } catch {
    assert.fail(`the cloud holds all ${total(vv)} operations (${JSON.stringify(cloudOps(db, 'S4').heads)}), yet status says ${JSON.stringify(c)}`);
  } finally {
    await t.kill('SIGTERM');
  }
}));

test('a store whose operations the cloud already holds commits the cloud\'s vector through Raft (pending 0 on every member)', () => mesh.guard(async () => {
  const s5 = await makeStore(mesh, world, { store: 'S5', nodes: ['T1', 'T2', 'T3'], cloud: cloudConfig(cloudPort) });
  await s5.start();
  await settle(s5);
  await Promise.all(s5.terms.map((t) => t.kill('SIGTERM')));
  // sales made while the daemons are down, in the cloud already
  const t2 = s5.node('T2');
  for (let i = 0; i < 3; i++) await t2.cli('--json', 'sale', '--line', 'COL-05:1', '--pay', 'cash:100000');
  const res = await uploadBehindTheStoresBack(t2, 'S5');
  assert.equal(res.stored, 3);
  await s5.start();
  await s5.waitUploader();
  const vv = await s5.waitSameVv();
  assert.deepEqual(sortKeys(vv), sortKeys(cloudOps(db, 'S5').heads), 'the cloud holds what the store holds');
  let views;
  try {
    await waitFor('pending 0 everywhere', async () => Object.values(views = await s5.cloudViews()).every((c) => c.pending_upload_ops === 0), { timeoutMs: 4000 });
  } catch {
    assert.fail(`the cloud holds everything (${JSON.stringify(cloudOps(db, 'S5').heads)}), yet the members say ${JSON.stringify(Object.fromEntries(Object.entries(views ?? {}).map(([n, c]) => [n, c.pending_upload_ops])))} pending`);
  } finally {
    await Promise.all(s5.terms.map((t) => t.kill('SIGTERM')));
  }
}));

test('a leader that loses the lead while the cloud\'s answer is on its way uploads again when it leads again', () => mesh.guard(async () => {
  const s6 = await makeStore(mesh, world, { store: 'S6', nodes: ['T1', 'T2', 'T3'], cloud: cloudConfig(cloudPort, { timeout_ms: 15000 }) });
  await s6.start();
  const leader = await settle(s6);
  const others = s6.terms.filter((t) => t !== leader);
  // an upload that waits inside the cloud: the store's heads rows locked
  const lock = await lockHeads(db, 'S6');
  let released = false;
  try {
    await sellMany(s6.node('T1'), 5, { concurrency: 1 });
    await waitFor(`${leader.node}'s upload waiting inside the cloud`, () => lock.waiting() > 0, { timeoutMs: 5000 });
    // the lead lost meanwhile: the other two gone, no quorum, it steps down
    await Promise.all(others.map((t) => t.kill('SIGKILL')));
    await waitFor(`${leader.node} no longer uploads`, async () => !(await leader.status()).cloud.uploader, { timeoutMs: 5000 });
    // the cloud stores the batch and answers a terminal that no longer leads
    released = true;
    assert.equal(await lock.release(), 0);
  } finally {
    if (!released) lock.kill();
  }
  const vv1 = await leader.vv();
  await waitFor('the batch stored', () => (cloudOps(db, 'S6').heads.T1 ?? 0) === vv1.T1, { timeoutMs: 5000 });
  await sleep(200); // its answer handled
  // the others back, slow to campaign: the old leader leads again
  for (const t of others) t.extra = { ...t.extra, raft: { election_min_ms: 3000, election_max_ms: 3500 } };
  await Promise.all(others.map((t) => t.start()));
  const again = await s6.waitUploader('one uploader again');
  assert.equal(again.node, leader.node, `${leader.node} leads again (the others campaign slowly)`);
  await sellMany(others[0], 5, { concurrency: 1 });
  const vv = await s6.waitSameVv();
  let views;
  try {
    await waitFor('pending 0 everywhere', async () => Object.values(views = await s6.cloudViews()).every((c) => c.pending_upload_ops === 0), { timeoutMs: 6000 });
  } catch {
    const events = leader.events(0, { component: 'cloud' }).slice(-3);
    assert.fail(`${leader.node} leads again but uploads nothing: the cloud holds ${JSON.stringify(cloudOps(db, 'S6').heads)} of ${JSON.stringify(vv)}; ` +
      `members say ${JSON.stringify(views)}; its last cloud log lines: ${JSON.stringify(events)}`);
  }
  assertCloudHoldsExactly(db, 'S6', vv);
  await Promise.all(s6.terms.map((t) => t.kill('SIGTERM')));
}));
