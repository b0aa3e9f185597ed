// POST /v1/stores/{store}/ops: all or nothing (docs/CLOUD.md, "Ingest").
// Upload bodies are `kassa export` files of real terminals.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { World, assertError, scalar } from './harness.mjs';

let world, db, cloud, s1;

before(async () => {
  world = await World.create('ingest');
  db = await world.database('main');
  cloud = await world.cloud(db, { maxBodyBytes: 256 * 1024 });
  s1 = await cloud.client('S1', 'T1');
});

after(async () => {
  await world?.destroy();
});

/** What the cloud holds of store, per origin, from the database itself. */
function heads(store) {
  const out = db.psql(`SELECT origin || ' ' || seq FROM heads WHERE store_id = '${store}' AND seq > 0 ORDER BY origin`);
  return Object.fromEntries(out.trim().split('\n').filter(Boolean).map((l) => {
    const [o, s] = l.split(' ');
    return [o, Number(s)];
  }));
}

function opCount(store, origin) {
  return Number(scalar(db, `SELECT count(*) FROM ops WHERE store_id = '${store}' AND origin = '${origin}'`));
}

test('a good upload is stored: every op once, heads, the answered vv, projections', async () => {
  const t = await world.terminal('S1', 'T1');
  await t.sell([{ sku: 'MLK-1L', qty: 2 }]);
  await t.sell([{ sku: 'COF-250', qty: 1 }, { sku: 'BAG-CL', qty: 3 }]);
  const vv = await t.vv();
  const res = await s1.upload('S1', await t.exportOps());
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json, { vv, stored: vv.T1, duplicates: 0 });
  assert.equal(opCount('S1', 'T1'), vv.T1);
  assert.deepEqual(heads('S1'), vv);
  // seqs 1..N contiguous, hashes 32 bytes, kinds as the terminal wrote them
  assert.equal(scalar(db, "SELECT min(seq) || ' ' || max(seq) || ' ' || count(DISTINCT seq) FROM ops WHERE store_id = 'S1'"), `1 ${vv.T1} ${vv.T1}`);
  assert.equal(scalar(db, "SELECT count(*) FROM ops WHERE store_id = 'S1' AND length(hash) <> 32"), '0');
  assert.equal(scalar(db, "SELECT count(*) FROM ops WHERE store_id = 'S1' AND kind = 2"), '2');
  // the head's hash is the last op's
  assert.equal(scalar(db, `SELECT (SELECT hash FROM heads WHERE store_id = 'S1' AND origin = 'T1') = (SELECT hash FROM ops WHERE store_id = 'S1' AND origin = 'T1' AND seq = ${vv.T1})`), 't');
  // GET vv says the same
  const got = await s1.get('/v1/stores/S1/vv');
  assert.equal(got.status, 200);
  assert.deepEqual(got.json, { vv });
  // the upload is logged with what was stored
  const line = cloud.logLines().find((l) => l.event === 'ingested' && l.store === 'S1' && l.stored === vv.T1);
  assert.ok(line, 'an "ingested" log line');
  assert.equal(line.node, 'T1');
});

test('a replayed batch is 200 with stored 0 and changes nothing', async () => {
  const t = await world.terminal('S1', 'R1');
  await t.sell([{ sku: 'MLK-1L', qty: 1 }]);
  const file = await t.exportOps();
  const first = await s1.upload('S1', file);
  assert.equal(first.status, 200, first.text);
  const before = db.psql("SELECT origin, seq, encode(hash, 'hex') FROM ops WHERE store_id = 'S1' ORDER BY 1, 2");
  const stockBefore = db.psql("SELECT sku, qty FROM stock WHERE store_id = 'S1' ORDER BY 1");
  const daysBefore = db.psql("SELECT * FROM sales_daily WHERE store_id = 'S1'");
  const again = await s1.upload('S1', file);
  assert.equal(again.status, 200, again.text);
  assert.equal(again.json.stored, 0);
  assert.equal(again.json.duplicates, first.json.stored);
  assert.deepEqual(again.json.vv, first.json.vv);
  assert.equal(db.psql("SELECT origin, seq, encode(hash, 'hex') FROM ops WHERE store_id = 'S1' ORDER BY 1, 2"), before);
  assert.equal(db.psql("SELECT sku, qty FROM stock WHERE store_id = 'S1' ORDER BY 1"), stockBefore);
  assert.equal(db.psql("SELECT * FROM sales_daily WHERE store_id = 'S1'"), daysBefore);
});

test('an overlapping batch stores only what is new', async () => {
  const t = await world.terminal('S1', 'O1');
  const r1 = await s1.upload('S1', await t.exportOps());
  assert.equal(r1.status, 200, r1.text);
  await t.sell([{ sku: 'WAT-15', qty: 1 }]);
  await t.sell([{ sku: 'WAT-15', qty: 2 }]);
  const r2 = await s1.upload('S1', await t.exportOps());
  assert.equal(r2.status, 200, r2.text);
  assert.equal(r2.json.stored, 2);
  assert.equal(r2.json.duplicates, r1.json.stored);
  assert.equal(r2.json.vv.O1, r1.json.vv.O1 + 2);
});

test('a gap in a sequence is 409 and stores nothing', async () => {
  const t = await world.terminal('S1', 'G1');
  const ok = await s1.upload('S1', await t.exportOps());
  assert.equal(ok.status, 200, ok.text);
  const held = ok.json.vv.G1;
  await t.sell([{ sku: 'MLK-1L', qty: 1 }]); // held + 1
  await t.sell([{ sku: 'MLK-1L', qty: 1 }]); // held + 2
  const gap = await s1.upload('S1', await t.exportOps({ G1: held + 1 }));
  assertError(gap, 409, /gap/);
  assert.match(gap.json.error.message, new RegExp(`G1 at seq ${held + 2}.*up to ${held}`));
  assert.equal(opCount('S1', 'G1'), held);
  assert.equal(heads('S1').G1, held);
  // a new origin must start at 1
  const n = await world.terminal('S1', 'G2');
  await n.sell([{ sku: 'MLK-1L', qty: 1 }]);
  const fresh = await s1.upload('S1', await n.exportOps({ G2: 5 }));
  assertError(fresh, 409, /gap.*G2 at seq 6/);
  assert.equal(opCount('S1', 'G2'), 0);
  assert.equal(heads('S1').G2, undefined);
  // the refusal is logged with its reason
  assert.ok(cloud.logLines().some((l) => l.event === 'refused' && l.status === 409 && /gap/.test(l.message)));
});

test('a fork (another history under the same origin) is 409 and stores nothing', async () => {
  const a = await world.terminal('S1', 'F1');
  await a.sell([{ sku: 'MLK-1L', qty: 1 }]);
  const ok = await s1.upload('S1', await a.exportOps());
  assert.equal(ok.status, 200, ok.text);
  const held = ok.json.vv.F1;
  // a second data directory initialised with the same node id: same seqs, other ops
  const b = await world.terminal('S1', 'F1');
  await b.sell([{ sku: 'COF-250', qty: 1 }]);
  await b.sell([{ sku: 'COF-250', qty: 1 }]);
  const stockBefore = db.psql("SELECT sku, qty FROM stock WHERE store_id = 'S1' ORDER BY 1");
  const fork = await s1.upload('S1', await b.exportOps());
  assertError(fork, 409, /fork: F1\/1 differs/);
  assert.match(fork.json.error.message, /nothing stored/);
  assert.equal(opCount('S1', 'F1'), held);
  assert.equal(db.psql("SELECT sku, qty FROM stock WHERE store_id = 'S1' ORDER BY 1"), stockBefore);
  // only the ops above the cloud's head: they do not continue its chain
  const broken = await s1.upload('S1', await b.exportOps({ F1: held }));
  assertError(broken, 409, /broken hash chain: F1\/\d+ does not continue/);
  assert.equal(opCount('S1', 'F1'), held);
});

test('nothing partially stored: a good origin in a batch with a forked one is not stored', async () => {
  const a = await world.terminal('S1', 'P1');
  const ok = await s1.upload('S1', await a.exportOps());
  assert.equal(ok.status, 200, ok.text);
  const forked = await world.terminal('S1', 'P1'); // P1's other history
  const p2 = await world.terminal('S1', 'P2', { catalog: false });
  await p2.importOps(await forked.exportOps());
  await p2.sell([{ sku: 'MLK-1L', qty: 1 }]);
  const res = await s1.upload('S1', await p2.exportOps());
  assertError(res, 409, /fork: P1/);
  assert.equal(opCount('S1', 'P2'), 0);
  assert.equal(heads('S1').P2, undefined);
});

test('undecodable bodies are 400; other content types 415', async () => {
  const t = await world.terminal('S1', 'B1');
  const file = await t.exportOps();
  const garbage = Buffer.from('this is not a frame at all, just some garbage bytes.....');
  assertError(await s1.request('POST', '/v1/stores/S1/ops', { body: garbage }), 400, /undecodable/);
  assertError(await s1.request('POST', '/v1/stores/S1/ops', { body: Buffer.alloc(0) }), 400, /empty/);
  // a frame header alone, a Heartbeat, an OpsBatch that is not zstd, bytes after a frame
  assertError(await s1.request('POST', '/v1/stores/S1/ops', { body: Buffer.from([0, 0, 0, 9, 2, 1]) }), 400, /truncated/);
  assertError(await s1.request('POST', '/v1/stores/S1/ops', { body: Buffer.from([0, 0, 0, 0, 4]) }), 400, /not an OpsBatch/);
  assertError(await s1.request('POST', '/v1/stores/S1/ops', { body: Buffer.from([0, 0, 0, 3, 2, 1, 2, 3]) }), 400, /zstd/);
  assertError(await s1.request('POST', '/v1/stores/S1/ops', { body: Buffer.from([0, 0, 0, 0, 4, 9]) }), 400, /bytes after the frame/);
  assertError(await s1.request('POST', '/v1/stores/S1/ops', { body: Buffer.from([0x7f, 0, 0, 0, 2]) }), 400, /exceeds the maximum/);
  // export files: cut short, a flipped byte (the checksum), garbage as an export
  assertError(await s1.upload('S1', file.subarray(0, file.length - 10)), 400, /undecodable export file/);
  const flipped = Buffer.from(file);
  flipped[Math.floor(flipped.length / 2)] ^= 0x40;
  assertError(await s1.upload('S1', flipped), 400, /undecodable export file/);
  assertError(await s1.upload('S1', garbage), 400, /undecodable export file/);
  // an export of another store, posted with that store's... path and our certificate
  const other = await world.terminal('S9', 'X1');
  assertError(await s1.upload('S1', await other.exportOps()), 400, /store S9, not S1/);
  assertError(await s1.request('POST', '/v1/stores/S1/ops', { body: file, contentType: 'text/plain' }), 415, /Content-Type text\/plain/);
  assert.equal(opCount('S1', 'B1'), 0);
  // every refusal was logged
  assert.ok(cloud.logLines().filter((l) => l.event === 'refused' && l.status === 400).length >= 10);
});

test('a body over --max-body-bytes is 413 and stores nothing', async () => {
  const t = await world.terminal('S1', 'L1');
  for (let i = 0; i < 3; i++) await t.sell([{ sku: 'MLK-1L', qty: 1 }]);
  const file = await t.exportOps();
  const big = Buffer.concat([file, Buffer.alloc(256 * 1024 - file.length + 1)]);
  assertError(await s1.upload('S1', big), 413, /limit is 262144/);
  assert.equal(opCount('S1', 'L1'), 0);
  // exactly at the limit the size is fine (then it is undecodable)
  assertError(await s1.upload('S1', big.subarray(0, 256 * 1024)), 400, /undecodable/);
  // the connection is still usable after the 413
  const ok = await s1.upload('S1', file);
  assert.equal(ok.status, 200, ok.text);
});

test('unknown routes are 404, wrong methods 405, bad path ids 400', async () => {
  assertError(await s1.get('/v1/nothing'), 404, /no such route/);
  const m = await s1.get('/v1/stores/S1/ops');
  assertError(m, 405, /allowed: POST/);
  assert.equal(m.headers.allow, 'POST');
  assertError(await s1.get('/v1/stores/S%201/vv'), 400, /invalid store/);
  const h = await s1.get('/healthz');
  assert.equal(h.status, 200);
  assert.deepEqual(h.json, { status: 'ok', db: 'up' });
  const metrics = await s1.get('/metrics');
  assert.equal(metrics.status, 200);
  assert.match(metrics.text, /kassa_cloud_ingest_ops_total\{result="stored"\} \d+/);
  assert.match(metrics.text, /kassa_cloud_ingest_refused_total\{status="409"\} \d+/);
  assert.match(metrics.text, /kassa_cloud_requests_total\{route="\/v1\/stores\/\{store\}\/ops",status="200"\} \d+/);
});
