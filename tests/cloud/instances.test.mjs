// Stateless: several kassa-cloud instances on one database; migrations
// that run once, at any start, and survive restarts; a clean stop.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CLOUD, World, assertError, runProgram } from './harness.mjs';

let world;

before(async () => {
  world = await World.create('inst');
});

after(async () => {
  await world?.destroy();
});

function migrations(db) {
  return db.psql('SELECT version FROM schema_migrations ORDER BY 1').trim();
}

test('two instances on one database both ingest, as one', async () => {
  const db = await world.database('two');
  const [a, b] = await Promise.all([world.cloud(db), world.cloud(db)]);
  assert.equal(migrations(db), '1', 'migrated once though both started together');
  const ca = await a.client('S1', 'T1');
  const cb = await b.client('S1', 'T1');
  const t = await world.terminal('S1', 'T1');
  await t.sell([{ sku: 'MLK-1L', qty: 1 }]);
  const r1 = await ca.upload('S1', await t.exportOps());
  assert.equal(r1.status, 200, r1.text);
  // the next ops through the other instance: it knows the head from the database
  await t.sell([{ sku: 'MLK-1L', qty: 2 }]);
  const r2 = await cb.upload('S1', await t.exportOps());
  assert.equal(r2.status, 200, r2.text);
  assert.equal(r2.json.stored, 1);
  assert.deepEqual(r2.json.vv, await t.vv());
  // each sees what the other stored
  assert.deepEqual((await ca.get('/v1/stores/S1/vv')).json.vv, await t.vv());
  // a gap through B after ops stored through A is still a gap
  await t.sell([{ sku: 'MLK-1L', qty: 1 }]);
  await t.sell([{ sku: 'MLK-1L', qty: 1 }]);
  const vv = await t.vv();
  assertError(await cb.upload('S1', await t.exportOps({ T1: vv.T1 - 1 })), 409, /gap/);
  // the same batch to both at once: stored once, the other answers duplicates
  const file = await t.exportOps();
  const [x, y] = await Promise.all([ca.upload('S1', file), cb.upload('S1', file)]);
  assert.equal(x.status, 200, x.text);
  assert.equal(y.status, 200, y.text);
  assert.equal(x.json.stored + y.json.stored, 2);
  assert.deepEqual(x.json.vv, vv);
  assert.deepEqual(y.json.vv, vv);
  assert.equal(db.psql("SELECT count(*) || ' ' || count(DISTINCT seq) FROM ops WHERE store_id = 'S1'").trim(), `${vv.T1} ${vv.T1}`);
  assert.equal(db.psql("SELECT qty FROM stock WHERE store_id = 'S1' AND sku = 'MLK-1L'").trim(), String((await t.stock())['MLK-1L']));
});

test('many terminals of one store uploading through both instances at once', async () => {
  const db = await world.database('race');
  const [a, b] = await Promise.all([world.cloud(db), world.cloud(db)]);
  const t1 = await world.terminal('S1', 'T1');
  const others = [];
  for (let i = 2; i <= 5; i++) {
    const t = await world.terminal('S1', `T${i}`, { catalog: false });
    await t.importOps(await t1.exportOps());
    others.push(t);
  }
  const sales = [];
  for (const t of others) for (let k = 0; k < 3; k++) sales.push(t.sell([{ sku: 'MLK-1L', qty: 1 }, { sku: 'BAG-CL', qty: 2 }]));
  await Promise.all(sales);
  const clients = await Promise.all([...others.entries()].map(([i, t]) => (i % 2 ? a : b).client('S1', t.node)));
  // every terminal's export (each holds T1's catalog too) at once, twice
  const files = await Promise.all(others.map((t) => t.exportOps()));
  const results = await Promise.all([...files, ...files].map((f, i) => clients[i % clients.length].upload('S1', f)));
  for (const r of results) assert.equal(r.status, 200, r.text);
  const stored = results.reduce((s, r) => s + r.json.stored, 0);
  const vv = (await clients[0].get('/v1/stores/S1/vv')).json.vv;
  const expected = Object.values(vv).reduce((s, n) => s + n, 0);
  assert.equal(stored, expected, 'every op stored exactly once');
  assert.equal(db.psql("SELECT count(*) FROM ops WHERE store_id = 'S1'").trim(), String(expected));
  assert.equal(db.psql("SELECT qty FROM stock WHERE store_id = 'S1' AND sku = 'MLK-1L'").trim(), String(60 - 12));
  assert.equal(db.psql("SELECT qty FROM stock WHERE store_id = 'S1' AND sku = 'BAG-CL'").trim(), String(100 - 24));
  assert.equal(db.psql("SELECT sales FROM sales_daily WHERE store_id = 'S1'").trim(), '12');
});

test('migrations are idempotent: a restart changes nothing and keeps the data; --migrate-only', async () => {
  const db = await world.database('mig');
  const first = await runProgram(CLOUD, ['--migrate-only', '--pg', db.conninfo]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /"event":"migrated","version":1/);
  assert.equal(migrations(db), '1');
  const again = await runProgram(CLOUD, ['--migrate-only', '--pg', db.conninfo]);
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stderr, /"event":"migrated"/);
  const c1 = await world.cloud(db);
  assert.ok(!c1.logLines().some((l) => l.event === 'migrated'));
  const client = await c1.client('S1', 'T1');
  const t = await world.terminal('S1', 'T1');
  const up = await client.upload('S1', await t.exportOps());
  assert.equal(up.status, 200, up.text);
  assert.deepEqual(await c1.stop(), { code: 0, signal: null });
  const c2 = await world.cloud(db);
  assert.ok(!c2.logLines().some((l) => l.event === 'migrated'));
  assert.equal(migrations(db), '1');
  const client2 = await c2.client('S1', 'T1');
  assert.deepEqual((await client2.get('/v1/stores/S1/vv')).json.vv, up.json.vv);
  const tables = db.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'ops_p%'").trim();
  assert.equal(tables, '16', 'ops is partitioned by hash of store_id into 16');
});

test('a database migrated by a newer kassa-cloud is refused', async () => {
  const db = await world.database('newer');
  assert.equal((await runProgram(CLOUD, ['--migrate-only', '--pg', db.conninfo])).code, 0);
  db.psql('INSERT INTO schema_migrations (version) VALUES (999)');
  const res = await runProgram(CLOUD, ['--migrate-only', '--pg', db.conninfo]);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /schema version 999; this kassa-cloud knows up to 1/);
});

test('usage errors exit 2; an unreachable database exits 1', async () => {
  for (const args of [[], ['--pg'], ['--pg', 'x', '--bogus'], ['--pg', 'x', '--listen', '127.0.0.1:1']]) {
    const res = await runProgram(CLOUD, args);
    assert.equal(res.code, 2, `${args.join(' ')}: ${res.stderr}`);
  }
  const res = await runProgram(CLOUD, ['--migrate-only', '--pg', 'host=127.0.0.1 port=1 dbname=x connect_timeout=2']);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /cannot connect to PostgreSQL/);
});

test('a lost database connection: uploads reconnect and go on; reads answer 503 once, then reconnect', async () => {
  const db = await world.database('lost');
  const c = await world.cloud(db);
  const client = await c.client('S1', 'T1');
  const t = await world.terminal('S1', 'T1');
  const kill = () => db.psql(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                              WHERE application_name = 'kassa-cloud' AND datname = current_database()`).trim();
  assert.equal(kill(), '1');
  const up = await client.upload('S1', await t.exportOps());
  assert.equal(up.status, 200, up.text);
  assert.deepEqual(up.json.vv, await t.vv());
  assert.equal(kill(), '1');
  const lost = await client.get('/v1/stores/S1/vv');
  assertError(lost, 503, /database/);
  const back = await client.get('/v1/stores/S1/vv');
  assert.equal(back.status, 200, back.text);
  assert.deepEqual(back.json.vv, await t.vv());
  assert.ok(c.logLines().some((l) => l.event === 'db_reconnected'));
});

test('SIGTERM answers the waiting long polls and exits 0', async () => {
  const db = await world.database('stop');
  const c = await world.cloud(db);
  const client = await c.client('S1', 'T1');
  const waiting = client.get('/v1/stores/S1/changes?after=0&wait_ms=20000');
  await new Promise((r) => setTimeout(r, 300));
  const t0 = Date.now();
  const exit = c.stop();
  const res = await waiting;
  assert.equal(res.status, 200);
  assert.deepEqual(res.json, { cursor: 0, changes: [] });
  assert.ok(Date.now() - t0 < 3000);
  assert.deepEqual(await exit, { code: 0, signal: null });
});
