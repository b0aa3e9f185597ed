// The downlink: admin changes in, GET /v1/stores/{store}/changes out, with
// a cursor and a long poll (docs/CLOUD.md, "API").

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { World, assertError } from './harness.mjs';

let world, db, cloud, admin, s1, s2;

before(async () => {
  world = await World.create('down');
  db = await world.database('main');
  cloud = await world.cloud(db);
  admin = cloud.admin();
  s1 = await cloud.client('S1', 'T1');
  s2 = await cloud.client('S2', 'T1');
});

after(async () => {
  await world?.destroy();
});

async function changes(c, store, afterCursor, waitMs) {
  let q = `?after=${afterCursor}`;
  if (waitMs !== undefined) q += `&wait_ms=${waitMs}`;
  const res = await c.get(`/v1/stores/${store}/changes${q}`);
  assert.equal(res.status, 200, res.text);
  return res.json;
}

/** The cursor of the newest change the store can see (paging through). */
async function latest(c, store) {
  let cursor = 0;
  for (;;) {
    const page = await changes(c, store, cursor);
    if (page.changes.length === 0) return cursor;
    cursor = page.cursor;
  }
}

test('admin changes of every kind reach the stores they concern, in cursor order', async () => {
  const start = (await latest(s1, 'S1'));
  const cat = await admin.put('/v1/admin/catalog/MLK-1L', { name: 'Whole milk 1L', price_minor: 129, tax_class: 'reduced', barcode: '4011800564125' });
  assert.equal(cat.status, 200, cat.text);
  assert.equal(cat.json.kind, 'catalog');
  assert.equal(cat.json.key, 'MLK-1L');
  assert.equal(cat.json.store_id, '*');
  const puts = [
    ['/v1/admin/stores/S1/prices/MLK-1L', { price_minor: 125 }],
    ['/v1/admin/promotions/summer', { sku: 'WAT-15', percent: 10, start_ms: 1000, end_ms: 2000 }],
    ['/v1/admin/stores/S1/roster', { nodes: ['T1', 'T2', 'T3'] }],
    ['/v1/admin/stores/S2/revocations/T9', { reason: 'stolen' }],
    ['/v1/admin/models/fraud', { version: '3', sha256: 'a'.repeat(64), manifest: { inputs: 12 } }],
  ];
  const cursors = [cat.json.cursor];
  for (const [p, body] of puts) {
    const res = await admin.put(p, body);
    assert.equal(res.status, 200, `${p}: ${res.text}`);
    cursors.push(res.json.cursor);
  }
  for (let i = 1; i < cursors.length; i++) assert.ok(cursors[i] > cursors[i - 1]);
  const got1 = await changes(s1, 'S1', start);
  assert.deepEqual(got1.changes.map((c) => [c.kind, c.key]), [
    ['catalog', 'MLK-1L'], ['price', 'MLK-1L'], ['promotion', 'summer'], ['roster', 'S1'], ['model', 'fraud'],
  ]);
  assert.equal(got1.cursor, cursors[5]);
  assert.deepEqual(got1.changes[0].body, { name: 'Whole milk 1L', price_minor: 129, tax_class: 'reduced', barcode: '4011800564125', sku: 'MLK-1L' });
  assert.deepEqual(got1.changes[1].body, { price_minor: 125, sku: 'MLK-1L' });
  assert.deepEqual(got1.changes[3].body, { nodes: ['T1', 'T2', 'T3'], store: 'S1' });
  for (const c of got1.changes) assert.deepEqual(Object.keys(c).sort(), ['body', 'cursor', 'key', 'kind']);
  const got2 = await changes(s2, 'S2', start);
  assert.deepEqual(got2.changes.map((c) => [c.kind, c.key]), [
    ['catalog', 'MLK-1L'], ['promotion', 'summer'], ['revocation', 'S2/T9'], ['model', 'fraud'],
  ]);
  assert.deepEqual(got2.changes[2].body, { reason: 'stolen', store: 'S2', node: 'T9' });
  // with the cursor answered: nothing more, and the cursor stays
  assert.deepEqual(await changes(s1, 'S1', got1.cursor), { cursor: got1.cursor, changes: [] });
  // from the middle
  const mid = await changes(s1, 'S1', cursors[2]);
  assert.deepEqual(mid.changes.map((c) => c.kind), ['roster', 'model']);
  // a PUT of the same key again is a new change (the latest wins downstream)
  const again = await admin.put('/v1/admin/stores/S1/prices/MLK-1L', { price_minor: 120 });
  const next = await changes(s1, 'S1', got1.cursor);
  assert.deepEqual(next.changes.map((c) => [c.cursor, c.body.price_minor]), [[again.json.cursor, 120]]);
});

test('a page holds at most 500 changes, oldest first', async () => {
  const start = (await latest(s1, 'S1'));
  db.psql(`INSERT INTO changes (store_id, kind, key, body)
           SELECT '*', 'catalog', 'SKU-' || i, jsonb_build_object('i', i) FROM generate_series(1, 520) AS i`);
  const page1 = await changes(s1, 'S1', start);
  assert.equal(page1.changes.length, 500);
  assert.equal(page1.changes[0].body.i, 1);
  assert.equal(page1.cursor, page1.changes[499].cursor);
  const page2 = await changes(s1, 'S1', page1.cursor);
  assert.equal(page2.changes.length, 20);
  assert.equal(page2.changes[19].body.i, 520);
});

test('a long poll returns within 1 s of an admin change, and empty after wait_ms', async () => {
  const cursor = (await latest(s1, 'S1'));
  const t0 = Date.now();
  const waiting = changes(s1, 'S1', cursor, 10000);
  // a change for another store does not wake S1
  await new Promise((r) => setTimeout(r, 300));
  await admin.put('/v1/admin/stores/S2/prices/BAG-CL', { price_minor: 20 });
  await new Promise((r) => setTimeout(r, 400));
  const putAt = Date.now();
  const put = await admin.put('/v1/admin/stores/S1/prices/BAG-CL', { price_minor: 25 });
  assert.equal(put.status, 200);
  const got = await waiting;
  const answeredAt = Date.now();
  assert.ok(answeredAt - putAt < 1000, `answered ${answeredAt - putAt} ms after the change`);
  assert.ok(answeredAt - t0 >= 700, 'it waited for the change');
  assert.deepEqual(got.changes.map((c) => [c.kind, c.key, c.body.price_minor]), [['price', 'BAG-CL', 25]]);
  // nothing happens: empty after about wait_ms, cursor unchanged
  const t1 = Date.now();
  const idle = await changes(s1, 'S1', got.cursor, 600);
  const waited = Date.now() - t1;
  assert.deepEqual(idle, { cursor: got.cursor, changes: [] });
  assert.ok(waited >= 550 && waited < 2000, `waited ${waited} ms for wait_ms=600`);
  // a change written straight into the database (another instance) is found by the poll
  const t2 = Date.now();
  const polled = changes(s1, 'S1', got.cursor, 10000);
  await new Promise((r) => setTimeout(r, 200));
  db.psql("INSERT INTO changes (store_id, kind, key, body) VALUES ('S1', 'price', 'WAT-15', '{\"price_minor\": 99}')");
  const p = await polled;
  assert.deepEqual(p.changes.map((c) => c.key), ['WAT-15']);
  assert.ok(Date.now() - t2 < 1500);
});

test('many long polls at once are each answered', async () => {
  const cursor = (await latest(s1, 'S1'));
  const waits = [];
  for (let i = 0; i < 20; i++) waits.push(changes(i % 2 ? s1 : s2, i % 2 ? 'S1' : 'S2', cursor, 10000));
  await new Promise((r) => setTimeout(r, 300));
  await admin.put('/v1/admin/catalog/NEW-1', { name: 'New', price_minor: 100, tax_class: 'standard' });
  const all = await Promise.all(waits);
  for (const a of all) assert.deepEqual(a.changes.map((c) => c.key), ['NEW-1']);
});

test('bad queries and bodies are 400 with the reason', async () => {
  assertError(await s1.get('/v1/stores/S1/changes?after=-1'), 400, /after must be an integer/);
  assertError(await s1.get('/v1/stores/S1/changes?after=x'), 400, /after/);
  assertError(await s1.get('/v1/stores/S1/changes?wait_ms=30001'), 400, /wait_ms must be an integer from 0 to 30000/);
  assertError(await s1.get('/v1/stores/S1/changes?cursor=1'), 400, /unknown query parameter cursor/);
  assertError(await s1.get('/v1/stores/S1/changes?after=1&after=2'), 400, /given twice/);
  const bad = [
    ['/v1/admin/catalog/X', { name: 'X', price_minor: 1 }, /tax_class is required/],
    ['/v1/admin/catalog/X', { name: 'X', price_minor: -1, tax_class: 'std' }, /price_minor must be an integer from 0/],
    ['/v1/admin/catalog/X', { name: '', price_minor: 1, tax_class: 'std' }, /name must be a string of 1 to 96/],
    ['/v1/admin/catalog/X', { name: 'X', price_minor: 1, tax_class: 'std', colour: 'red' }, /unknown field colour/],
    ['/v1/admin/catalog/X', [1, 2], /must be a JSON object/],
    ['/v1/admin/catalog/X', '{"name": ', /not JSON/],
    ['/v1/admin/promotions/p1', { sku: 'A', percent: 10, amount_minor: 5, start_ms: 1, end_ms: 2 }, /one of percent and amount_minor/],
    ['/v1/admin/promotions/p1', { sku: 'A', percent: 10, start_ms: 5, end_ms: 2 }, /end_ms must be after start_ms/],
    ['/v1/admin/promotions/p1', { sku: 'A', percent: 101, start_ms: 1, end_ms: 2 }, /percent must be an integer from 1 to 100/],
    ['/v1/admin/stores/S1/roster', { nodes: [] }, /nodes must be an array of distinct ids/],
    ['/v1/admin/stores/S1/roster', { nodes: ['T1', 'T1'] }, /distinct/],
    ['/v1/admin/stores/S1/roster', { nodes: ['bad id'] }, /distinct ids/],
    ['/v1/admin/models/m', { version: '1', sha256: 'XYZ' }, /sha256 must be 64 lowercase hex/],
  ];
  const before = db.psql('SELECT count(*) FROM changes').trim();
  for (const [p, body, re] of bad) assertError(await admin.put(p, body), 400, re);
  assert.equal(db.psql('SELECT count(*) FROM changes').trim(), before);
  assertError(await admin.request('PUT', '/v1/admin/catalog/X', { body: Buffer.alloc(0), contentType: 'application/json' }), 400, /empty/);
});
