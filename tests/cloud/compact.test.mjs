// Local compaction with real processes (docs/CLOUD.md, "Compaction"): a
// store of 3 linked terminals uploading to kassa-cloud, with a retention of
// 1 s and a compaction check every second, and a Raft log compacted into a
// snapshot past 8 entries.
//
//  - round after round of selling, every terminal's log holds at most about
//    a round of operations (ops_held), while the operations made keep
//    growing; the cloud holds every operation exactly once; the terminals'
//    state digests stay equal and their chains verify from their bases;
//    the Raft log stays short; a void of a dropped sale is refused with
//    the reason;
//  - a terminal away: compaction waits for it (nothing it lacks is
//    dropped), it catches up from its peers when back (and gets the Raft
//    snapshot of the records committed meanwhile), then compaction resumes.
//
// KASSA_TEST_SCALE=asan scales the counts down.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { World } from './harness.mjs';
import { Mesh, sleep, waitFor, waitConverged } from '../peer/harness.mjs';
import { assertCloudHoldsExactly, cloudConfig, destroyChecked, makeStore, sellMany, sqliteValue } from './storeutil.mjs';

const ASAN = process.env.KASSA_TEST_SCALE === 'asan';
const ROUNDS = ASAN ? 3 : 5;
const SALES_PER_TERMINAL = ASAN ? 15 : 50;
const RAFT_LOG_COMPACT_ENTRIES = 8;

let world, mesh, db, cloud, st;

before(async () => {
  world = await World.create('compact');
  mesh = new Mesh('compact');
  db = await world.database('compact');
  cloud = await world.cloud(db);
});

after(() => destroyChecked(mesh, world));

/** {node: {ops, ops_held}} of the running terminals. */
async function held(ts) {
  const out = {};
  for (const t of ts) {
    const s = await t.status();
    out[t.node] = { ops: s.ops, ops_held: s.ops_held };
  }
  return out;
}

/** Waits until every running terminal holds at most bound operations. */
async function waitHeldAtMost(ts, bound, what) {
  let last;
  await waitFor(what, async () => {
    last = await held(ts);
    return Object.values(last).every((h) => h.ops_held <= bound);
  }, { timeoutMs: 30000, intervalMs: 200 }).catch((e) => {
    e.message += `\n  held: ${JSON.stringify(last)}`;
    throw e;
  });
  return last;
}

const total = (vv) => Object.values(vv).reduce((a, b) => a + b, 0);

async function verifies(t) {
  const v = JSON.parse(await t.cli('--json', 'log', 'verify'));
  assert.equal(v.ok, true, `${t.node}: log verify ${JSON.stringify(v)}`);
}

test(`${ROUNDS} rounds of ${SALES_PER_TERMINAL} sales on each of 3 terminals: each log stays bounded, the cloud holds everything once, digests equal, chains verify, the Raft log stays short`, () => mesh.guard(async () => {
  st = await makeStore(mesh, world, {
    store: 'C1',
    nodes: ['T1', 'T2', 'T3'],
    cloud: cloudConfig(cloud.port, { retention_s: 1, compact_interval_s: 1 }),
    extra: { raft: { log_compact_entries: RAFT_LOG_COMPACT_ENTRIES } },
  });
  await st.start();
  await st.waitUploader();
  const perRound = 3 * SALES_PER_TERMINAL;
  // A round's operations, and what came before and is not yet old enough.
  const bound = 2 * perRound;
  let firstSale;
  const rows = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (const t of st.terms) {
      const ids = await sellMany(t, SALES_PER_TERMINAL, { concurrency: 4 });
      firstSale ??= ids[0];
    }
    const vv = await st.waitSameVv();
    await st.waitNothingPending();
    const h = await waitHeldAtMost(st.terms, bound, `round ${r + 1}: every log holds at most ${bound} operations`);
    rows.push({ round: r + 1, made: total(vv), ...h.T1 });
  }
  console.log(`compaction rounds (T1): ${JSON.stringify(rows)}`);
  const vv = await st.waitSameVv();
  assert.ok(total(vv) >= ROUNDS * perRound, `operations made: ${total(vv)}`);
  const last = rows[rows.length - 1];
  assert.ok(last.ops_held < total(vv) / 2, `T1 holds ${last.ops_held} of ${total(vv)} operations`);
  assertCloudHoldsExactly(db, 'C1', vv);
  await waitConverged(st.terms, 'C1: the same state digest on every terminal');
  for (const t of st.terms) await verifies(t);
  // the Raft log: compacted into a snapshot, short on every member
  for (const t of st.terms) {
    const entries = Number(sqliteValue(t, 'SELECT count(*) FROM raft_log'));
    const snapshotIdx = Number(sqliteValue(t, 'SELECT coalesce(max(idx), 0) FROM raft_snapshot'));
    assert.ok(snapshotIdx > 0, `${t.node}: a Raft snapshot (index ${snapshotIdx})`);
    assert.ok(entries <= 4 * RAFT_LOG_COMPACT_ENTRIES, `${t.node}: ${entries} Raft log entries`);
  }
  // the first sale is gone from every terminal: its void is refused
  await assert.rejects(st.node('T2').cli('void', firstSale), /older than the retention period/);
  const sale = await st.node('T2').api('GET', `/api/v1/sales/${encodeURIComponent(firstSale)}`, { token: await st.node('T2').token(), expect: [404, 409] });
  assert.ok([404, 409].includes(sale.status));
}));

test('a terminal away: compaction waits for it, it catches up from its peers (and the Raft snapshot), then compaction resumes', () => mesh.guard(async () => {
  const t3 = st.node('T3');
  await t3.kill('SIGKILL');
  const others = [st.node('T1'), st.node('T2')];
  for (const t of others) await sellMany(t, SALES_PER_TERMINAL, { concurrency: 4 });
  await st.waitSameVv();
  await st.waitNothingPending();
  const before = await held(others);
  // several compaction intervals past the retention: nothing T3 lacks goes
  await sleep(3500);
  const during = await held(others);
  for (const t of others) {
    assert.ok(during[t.node].ops_held >= 2 * SALES_PER_TERMINAL, `${t.node} kept what T3 lacks: ${JSON.stringify(during)}`);
    assert.equal(during[t.node].ops_held, before[t.node].ops_held, `${t.node}: nothing dropped while T3 is away`);
  }
  assert.ok(others.some((t) => /compaction_waits/.test(t.logText())), 'the leader says why compaction waits');
  await t3.start();
  await st.waitSameVv('T3 caught up from its peers');
  await st.waitNothingPending();
  await waitHeldAtMost(st.terms, 2 * SALES_PER_TERMINAL, 'compaction resumed on every terminal');
  await waitConverged(st.terms, 'C1: the same state digest after T3 came back');
  for (const t of st.terms) await verifies(t);
  const acked = (t) => sqliteValue(t, 'SELECT origin || \':\' || seq FROM cloud_acked ORDER BY origin');
  await waitFor('T3 has the committed cloud vector', async () => acked(t3) === acked(st.node('T1')), { timeoutMs: 10000 });
}));
