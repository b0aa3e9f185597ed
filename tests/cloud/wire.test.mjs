// Uploads in the store side's format: one wire frame of type OpsBatch
// (application/octet-stream), built from real terminals' operations.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { World, assertError, parseExport, scalar, wireFrame } from './harness.mjs';

let world, db, cloud, s1;

before(async () => {
  world = await World.create('wire');
  db = await world.database('main');
  cloud = await world.cloud(db);
  s1 = await cloud.client('S1', 'T1');
});

after(async () => {
  await world?.destroy();
});

const post = (body) => s1.request('POST', '/v1/stores/S1/ops', { body });

test('a wire frame is stored like an export file; replays and overlaps too', async () => {
  const t = await world.terminal('S1', 'W1');
  await t.sell([{ sku: 'MLK-1L', qty: 2 }]);
  const { ops } = parseExport(await t.exportOps());
  const half = Math.floor(ops.length / 2);
  const r1 = await post(await wireFrame(ops.slice(0, half), world.dir));
  assert.equal(r1.status, 200, r1.text);
  assert.deepEqual(r1.json, { vv: { W1: half }, stored: half, duplicates: 0 });
  // the whole log: the first half duplicates, the rest stored
  const r2 = await post(await wireFrame(ops, world.dir));
  assert.equal(r2.status, 200, r2.text);
  assert.deepEqual(r2.json, { vv: await t.vv(), stored: ops.length - half, duplicates: half });
  const again = await post(await wireFrame(ops, world.dir));
  assert.deepEqual(again.json, { vv: await t.vv(), stored: 0, duplicates: ops.length });
  // stored byte for byte: hashes recomputed inside runs equal the terminal's
  const hex = db.psql("SELECT encode(hash, 'hex') FROM ops WHERE store_id = 'S1' AND origin = 'W1' ORDER BY seq").trim().split('\n');
  assert.deepEqual(hex, ops.map((o) => o.hash.toString('hex')));
  assert.equal(scalar(db, "SELECT qty FROM stock WHERE store_id = 'S1' AND sku = 'MLK-1L'"), '58');
});

test('several origins in one frame, in any order', async () => {
  const a = await world.terminal('S1', 'M1');
  const b = await world.terminal('S1', 'M2', { catalog: false });
  await b.importOps(await a.exportOps());
  await b.sell([{ sku: 'BAG-CL', qty: 1 }]);
  await a.sell([{ sku: 'BAG-CL', qty: 1 }]);
  await b.importOps(await a.exportOps());
  const { ops } = parseExport(await b.exportOps());
  // M2's ops first, then M1's: sorted by the cloud, not by the sender
  const mixed = [...ops.filter((o) => o.origin === 'M2'), ...ops.filter((o) => o.origin === 'M1')];
  const res = await post(await wireFrame(mixed, world.dir));
  assert.equal(res.status, 200, res.text);
  const { M1, M2 } = res.json.vv;
  assert.deepEqual({ M1, M2 }, await b.vv());
});

test('a frame altered inside a run is 400 (the decoder checks the chain); a fork is 409', async () => {
  const t = await world.terminal('S1', 'X1');
  await t.sell([{ sku: 'MLK-1L', qty: 1 }]);
  const { ops } = parseExport(await t.exportOps());
  const altered = ops.map((o) => ({ ...o }));
  const mid = Math.floor(ops.length / 2);
  altered[mid].payload = Buffer.from(altered[mid].payload);
  altered[mid].payload[altered[mid].payload.length - 1] ^= 1;
  const res = await post(await wireFrame(altered, world.dir));
  assertError(res, 400, /undecodable body: .*(hash chain broken|payload|ops batch)/);
  assert.equal(scalar(db, "SELECT count(*) FROM ops WHERE origin = 'X1'"), '0');
  // the same origin, another history, as a frame
  const ok = await post(await wireFrame(ops, world.dir));
  assert.equal(ok.status, 200, ok.text);
  const other = await world.terminal('S1', 'X1');
  const fork = await post(await wireFrame(parseExport(await other.exportOps()).ops, world.dir));
  assertError(fork, 409, /fork: X1\/1/);
  // a frame whose ops were chained in another store: refused, nothing stored
  const s9 = await world.terminal('S9', 'Y1');
  const wrong = await post(await wireFrame(parseExport(await s9.exportOps()).ops, world.dir));
  assertError(wrong, 400, /another store's ops/);
  assert.equal(scalar(db, "SELECT count(*) FROM ops WHERE origin = 'Y1'"), '0');
});
