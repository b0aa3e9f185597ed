// The projections the ingest keeps (docs/CLOUD.md, "Schema"): stock per
// store and SKU, sales_daily, review_items; read through the admin routes
// and GET /v1/stock, and compared with what the terminals themselves say.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { World } from './harness.mjs';

let world, db, cloud, admin;

before(async () => {
  world = await World.create('proj');
  db = await world.database('main');
  cloud = await world.cloud(db);
  admin = cloud.admin();
});

after(async () => {
  await world?.destroy();
});

async function upload(t, since) {
  const c = await cloud.client(t.store, t.node);
  const res = await c.upload(t.store, await t.exportOps(since));
  assert.equal(res.status, 200, res.text);
  return res.json;
}

async function cloudStock(store) {
  const res = await admin.get(`/v1/admin/stores/${store}/stock`);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.store_id, store);
  return Object.fromEntries(res.json.stock.map((r) => [r.sku, r.qty]));
}

/** The cloud's stock of store equals the terminal's view for every SKU. */
async function assertSameStock(store, t, what) {
  const mine = await t.stock();
  const theirs = await cloudStock(store);
  for (const [sku, qty] of Object.entries(mine)) assert.equal(theirs[sku] ?? 0, qty, `${what}: ${sku}`);
  for (const sku of Object.keys(theirs)) assert.ok(sku in mine, `${what}: ${sku} unknown to the terminal`);
}

/** Two terminals of one store sharing T1's catalog and stock (T2 imported T1's ops). */
async function pair(store) {
  const t1 = await world.terminal(store, 'T1');
  const t2 = await world.terminal(store, 'T2', { catalog: false });
  await t2.importOps(await t1.exportOps());
  return [t1, t2];
}

test('stock per store and SKU after sales, receipts and counts equals the terminal', async () => {
  const t = await world.terminal('A1', 'T1');
  await t.sell([{ sku: 'MLK-1L', qty: 2 }, { sku: 'BAG-CL', qty: 1 }]);
  await t.sell([{ sku: 'MLK-1L', qty: 5 }]);
  await t.run('stock', 'receive', 'COF-1K:7');
  await t.run('stock', 'count', 'BRD-SD:20');
  await upload(t);
  await assertSameStock('A1', t, 'after the first upload');
  const s = await cloudStock('A1');
  assert.equal(s['MLK-1L'], 60 - 7);
  assert.equal(s['COF-1K'], 12 + 7);
  assert.equal(s['BRD-SD'], 20);
  // more sales, uploaded incrementally
  await t.sell([{ sku: 'MLK-1L', qty: 1 }]);
  await upload(t);
  await assertSameStock('A1', t, 'after the second upload');
});

test('sales_daily: sales and totals by the UTC day of the HLC; refunds on their day', async () => {
  const t = await world.terminal('A2', 'T1');
  const ids = [];
  ids.push(await t.sell([{ sku: 'MLK-1L', qty: 2 }]));
  ids.push(await t.sell([{ sku: 'COF-250', qty: 1 }, { sku: 'BAG-CL', qty: 2 }]));
  ids.push(await t.sell([{ sku: 'WAT-15', qty: 3 }]));
  await upload(t);
  const sales = await t.json('sales', 'list');
  const day = new Date(sales[0].time_ms).toISOString().slice(0, 10);
  const res = await admin.get('/v1/admin/stores/A2/sales');
  assert.equal(res.status, 200, res.text);
  const total = sales.reduce((a, s) => a + s.total_minor, 0);
  assert.deepEqual(res.json, { store_id: 'A2', days: [{ day, sales: 3, total_minor: total, refunds_minor: 0 }] });
  const v = await t.json('void', ids[0]);
  const r = await t.json('return', ids[1], '--line', 'BAG-CL:1');
  await upload(t);
  const after2 = (await admin.get('/v1/admin/stores/A2/sales')).json.days;
  assert.equal(after2.length, 1);
  assert.equal(after2[0].sales, 3);
  assert.equal(after2[0].total_minor, total);
  assert.equal(after2[0].refunds_minor, v.refund_minor + r.refund_minor);
  assert.equal(db.psql("SELECT count(*) FROM sales_daily WHERE store_id = 'A2'").trim(), '1');
});

test('voids and returns credit stock back; a sale voided on one terminal and returned on another credits once', async () => {
  const [t1, t2] = await pair('A3');
  const sale = await t1.sell([{ sku: 'MLK-1L', qty: 3 }, { sku: 'COF-250', qty: 2 }]);
  const other = await t1.sell([{ sku: 'WAT-15', qty: 4 }]);
  await t2.importOps(await t1.exportOps());
  // apart from each other: T1 voids, T2 returns one unit of the same sale
  await t1.run('void', sale);
  await t2.run('return', sale, '--line', 'MLK-1L:1');
  await t2.run('return', other, '--line', 'WAT-15:1');
  await upload(t1);
  await upload(t2);
  // both terminals converge on the merge rule: all 3 + 2 units back, once
  await t1.importOps(await t2.exportOps());
  await t2.importOps(await t1.exportOps());
  await assertSameStock('A3', t1, 'terminal 1');
  await assertSameStock('A3', t2, 'terminal 2');
  const s = await cloudStock('A3');
  assert.equal(s['MLK-1L'], 60);
  assert.equal(s['COF-250'], 40);
  assert.equal(s['WAT-15'], (await t1.stock())['WAT-15']);
  // replaying both changes nothing
  await upload(t1);
  await upload(t2);
  assert.deepEqual(await cloudStock('A3'), s);
});

test('a void uploaded before its sale is credited when the sale arrives', async () => {
  const [t1, t2] = await pair('A4');
  const sale = await t1.sell([{ sku: 'APL-1K', qty: 4 }]);
  await t2.importOps(await t1.exportOps());
  await t2.run('void', sale);
  // T2's own ops alone first (the void), T1's (catalog, sale) after
  const first = await upload(t2, { T1: (await t1.vv()).T1 });
  assert.equal(first.vv.T1, undefined);
  assert.equal((await cloudStock('A4'))['APL-1K'], undefined, 'the void waits for its sale');
  assert.equal(db.psql("SELECT known FROM refunded_sales WHERE store_id = 'A4'").trim(), 'f');
  await upload(t1);
  assert.equal((await cloudStock('A4'))['APL-1K'], 50);
  assert.equal(db.psql("SELECT known FROM refunded_sales WHERE store_id = 'A4'").trim(), 't');
  await t1.importOps(await t2.exportOps());
  await assertSameStock('A4', t1, 'after both');
});

test('two terminals selling the last unit make a negative_stock review item', async () => {
  const t1 = await world.terminal('A6', 'T1');
  await t1.run('stock', 'count', 'COF-1K:1');
  const t2 = await world.terminal('A6', 'T2', { catalog: false });
  await t2.importOps(await t1.exportOps());
  assert.equal((await t2.stock())['COF-1K'], 1);
  await t1.sell([{ sku: 'COF-1K', qty: 1 }]);
  await t2.sell([{ sku: 'COF-1K', qty: 1 }]);
  await upload(t1);
  let review = (await admin.get('/v1/admin/stores/A6/review')).json;
  assert.deepEqual(review, { store_id: 'A6', items: [] });
  await upload(t2);
  review = (await admin.get('/v1/admin/stores/A6/review')).json;
  assert.equal(review.items.length, 1);
  const item = review.items[0];
  assert.equal(item.kind, 'negative_stock');
  assert.equal(item.ref, 'COF-1K');
  assert.deepEqual(item.detail, { qty: -1 });
  assert.match(item.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal((await cloudStock('A6'))['COF-1K'], -1);
});

test('GET /v1/stock shows one SKU in every store, to any store', async () => {
  const b1 = await world.terminal('B1', 'T1');
  const b2 = await world.terminal('B2', 'T1');
  await b1.sell([{ sku: 'BER-05', qty: 5 }]);
  await b2.sell([{ sku: 'BER-05', qty: 2 }]);
  await b2.run('stock', 'receive', 'BER-05:10');
  await upload(b1);
  await upload(b2);
  const c = await cloud.client('B1', 'T1');
  const res = await c.get('/v1/stock?sku=BER-05');
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.sku, 'BER-05');
  const byStore = Object.fromEntries(res.json.stores.map((s) => [s.store_id, s]));
  assert.equal(byStore.B1.qty, 55);
  assert.equal(byStore.B2.qty, 68);
  const newest = Math.max(...(await b2.json('sales', 'list')).map((s) => s.time_ms));
  assert.ok(byStore.B2.as_of_ms >= newest && byStore.B2.as_of_ms <= Date.now() + 1000, JSON.stringify(byStore.B2));
  for (const s of res.json.stores) assert.deepEqual(Object.keys(s).sort(), ['as_of_ms', 'qty', 'store_id']);
  // a SKU nobody has: no stores; a bad or missing sku: 400; unknown parameters: 400
  assert.deepEqual((await c.get('/v1/stock?sku=NOPE')).json, { sku: 'NOPE', stores: [] });
  assert.equal((await c.get('/v1/stock')).status, 400);
  assert.equal((await c.get('/v1/stock?sku=a%20b')).status, 400);
  assert.equal((await c.get('/v1/stock?sku=BER-05&store=B1')).status, 400);
  assert.equal((await c.get('/v1/stock?sku=BER-05&sku=MLK-1L')).status, 400);
});
