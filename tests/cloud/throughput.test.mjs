// Ingest speed: one batch of 10,000 one-line sales (plus the catalog's
// operations) end to end, TLS upload to the COMMIT's answer. The terminal
// is made by bench/import --keep (the CLI would take minutes to sell
// 10,000 times); skipped when that benchmark program is not built.
// The figure is printed as a diagnostic; the assertion is only a floor that
// catches a per-operation round trip (a sanitizer build is several times
// slower than a release build).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { BIN, Terminal, World, parseExport, runProgram, wireFrame } from './harness.mjs';

const BENCH_IMPORT = path.join(BIN, '..', 'bench', 'import');
const SALES = 10000;

let world;

before(async () => {
  world = await World.create('speed');
});

after(async () => {
  await world?.destroy();
});

test('a batch of 10,000 sales is ingested in one go (over 2,000 operations/s even under a sanitizer on a loaded machine)', { skip: !fs.existsSync(BENCH_IMPORT) && `no ${BENCH_IMPORT}` }, async (t) => {
  const parent = path.join(world.dir, 'bench');
  fs.mkdirSync(parent);
  const { code, stdout, stderr } = await runProgram(BENCH_IMPORT, ['--dir', parent, '--sales', String(SALES), '--keep']);
  assert.equal(code, 0, stderr);
  const kept = /kept (\S+)/.exec(stdout + stderr);
  assert.ok(kept, `bench/import said where it kept its terminals:\n${stdout}${stderr}`);
  const till = new Terminal(path.join(kept[1], 'till-1'), 'bench-store', 'till-1');
  const vv = await till.vv();
  const file = await till.exportOps();
  const db = await world.database('main');
  const cloud = await world.cloud(db, { maxBodyBytes: 8 << 20 });
  const client = await cloud.client('bench-store', 'till-1');
  await client.get('/healthz'); // the TLS handshake outside the measurement
  const t0 = process.hrtime.bigint();
  const res = await client.upload('bench-store', file);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.stored, vv['till-1']);
  const opsPerS = Math.round(vv['till-1'] / (ms / 1000));
  const t1 = process.hrtime.bigint();
  const replay = await client.upload('bench-store', file);
  const replayMs = Number(process.hrtime.bigint() - t1) / 1e6;
  assert.equal(replay.json.duplicates, vv['till-1']);
  const line = cloud.logLines().find((l) => l.event === 'ingested' && l.stored === vv['till-1']);
  t.diagnostic(`${vv['till-1']} ops (${file.length} bytes) in ${ms.toFixed(1)} ms: ${opsPerS} ops/s end to end; ` +
    `server ${(line.total_us / 1000).toFixed(1)} ms; replay ${replayMs.toFixed(1)} ms`);
  assert.equal(db.psql("SELECT sum(sales) FROM sales_daily WHERE store_id = 'bench-store'").trim(), String(SALES));
  // A floor far below the release figure (bench/cloud): a round trip per
  // operation would be well under it; a busy machine must not fail it.
  assert.ok(opsPerS > 2000, `${opsPerS} ops/s`);

  // the store side's format: the catalog's ops in one frame, then the
  // 10,000 sales in one frame (WIRE_BATCH_MAX_OPS), into a fresh database
  const { ops } = parseExport(file);
  const head = ops.length - SALES;
  const frames = [await wireFrame(ops.slice(0, head), world.dir), await wireFrame(ops.slice(head), world.dir)];
  const db2 = await world.database('wire');
  const cloud2 = await world.cloud(db2, { maxBodyBytes: 8 << 20 });
  const client2 = await cloud2.client('bench-store', 'till-1');
  const first = await client2.request('POST', '/v1/stores/bench-store/ops', { body: frames[0] });
  assert.equal(first.status, 200, first.text);
  const t2 = process.hrtime.bigint();
  const big = await client2.request('POST', '/v1/stores/bench-store/ops', { body: frames[1] });
  const wireMs = Number(process.hrtime.bigint() - t2) / 1e6;
  assert.equal(big.status, 200, big.text);
  assert.equal(big.json.stored, SALES);
  const wireOpsPerS = Math.round(SALES / (wireMs / 1000));
  t.diagnostic(`wire frame of ${SALES} sales (${frames[1].length} bytes): ${wireMs.toFixed(1)} ms, ${wireOpsPerS} ops/s end to end`);
  assert.ok(wireOpsPerS > 10000, `${wireOpsPerS} ops/s`);
});
