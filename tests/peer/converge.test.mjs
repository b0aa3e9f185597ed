// Store replication, the happy path: five kassad terminals of store S1 on
// loopback (T1..T5, all in the roster), each listing all five peer
// addresses — its own included, which it must notice and skip.
//
// Only T1 is set up (demo catalog, staff, stock); T2..T5 start empty and
// must receive all of it over the peer links before they can even log a
// cashier in. Then every terminal sells at once through the API (two
// cashiers each, 20 sales per terminal), and the store must converge
// within 1 s of the last acknowledged sale: identical `kassa state-hash`
// everywhere, every acknowledged sale listed on every terminal with its
// lines, the stock of each SKU equal to what it was minus the units sold
// on all five. The peers' status (API and `kassa status`) must then show
// one link per pair, dialled by the smaller node id, nothing lagging, and
// counters that add up.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  Mesh, assertStoreConsistent, fullMesh, baseline, randomLines, rng, stateHashes, waitConverged, waitFor, waitLinked, waitSettled,
} from './harness.mjs';

const NODES = ['T1', 'T2', 'T3', 'T4', 'T5'];
const SALES_PER_TERMINAL = 20;
const CASHIERS = ['ann', 'bob']; // selling at once on each terminal
const CONVERGE_BUDGET_MS = 1000;

let mesh;
let terms;
let addrOf;

before(async () => {
  mesh = new Mesh('converge');
  await mesh.guard(async () => {
    ({ terms, addrOf } = await fullMesh(mesh, NODES, { anti_entropy_ms: 250, reconnect_min_ms: 100, reconnect_max_ms: 1000 }));
    await Promise.all(terms.map((t) => t.start()));
  });
});

after(async () => {
  await mesh?.destroy();
});

test('every terminal links to the four others and receives T1\'s setup', () => mesh.guard(async () => {
  for (const t of terms) {
    const others = NODES.filter((n) => n !== t.node);
    const st = await waitLinked(t, others);
    assert.equal(st.online, true, `${t.node} online`);
    assert.deepEqual(st.peers.map((p) => p.node).sort(), others, `${t.node}: one status entry per other roster node, none for itself`);
  }
  const hash = await waitConverged(terms, 'the setup of T1 replicated to all', { timeoutMs: 10000 });
  assert.match(hash, /^[0-9a-f]{64}$/);
  const vvs = await Promise.all(terms.map((t) => t.vv()));
  for (const [i, vv] of vvs.entries()) assert.deepEqual(vv, vvs[0], `${NODES[i]} holds T1's setup ops`);
  assert.ok(vvs[0].T1 > 36, `T1's setup is in the log (${JSON.stringify(vvs[0])})`);
}));

test(`${NODES.length} terminals x ${SALES_PER_TERMINAL} concurrent sales converge within ${CONVERGE_BUDGET_MS} ms of the last acknowledgement`, () => mesh.guard(async () => {
  const base = await baseline(terms[0]);
  // Log in first: the Argon2 PIN checks are not part of what is measured.
  await Promise.all(terms.flatMap((t) => CASHIERS.map((c) => t.token(c))));

  const perLane = SALES_PER_TERMINAL / CASHIERS.length;
  const lanes = terms.flatMap((t, ti) => CASHIERS.map(async (cashier, ci) => {
    const pick = rng(1000 + ti * 10 + ci);
    const done = [];
    for (let k = 0; k < perLane; k++) done.push(await t.sell(randomLines(pick), cashier));
    return done;
  }));
  const sales = (await Promise.all(lanes)).flat();
  const lastAck = Math.max(...sales.map((s) => s.ackedAt));
  assert.equal(sales.length, NODES.length * SALES_PER_TERMINAL);

  let polls = 0;
  const hash = await waitFor('identical state-hash on all five', async () => {
    polls++;
    const hs = await stateHashes(terms);
    return hs.every((h) => h === hs[0]) ? hs[0] : false;
  }, { timeoutMs: 15000, intervalMs: 10 });
  const convergedMs = Date.now() - lastAck;
  console.log(`converged ${convergedMs} ms after the last acknowledged sale (${polls} poll(s) of state-hash on 5 terminals)`);
  assert.ok(hash);
  assert.ok(convergedMs <= CONVERGE_BUDGET_MS, `converged ${convergedMs} ms after the last sale, budget ${CONVERGE_BUDGET_MS} ms`);

  await assertStoreConsistent(terms, base, sales);
  const vvs = await Promise.all(terms.map((t) => t.vv()));
  for (const [i, vv] of vvs.entries()) assert.deepEqual(vv, vvs[0], `${NODES[i]}'s version vector`);
  for (const t of terms.slice(1)) {
    assert.equal(vvs[0][t.node], SALES_PER_TERMINAL, `${t.node} appended exactly its ${SALES_PER_TERMINAL} sales`);
  }
}));

test('status: one link per pair dialled by the smaller id, nothing lagging, counters add up; kassa status prints the peers', () => mesh.guard(async () => {
  let byNode;
  await waitFor('every peer connected with lag_ops 0 and behind_ops 0 on every terminal, one link per pair', async () => {
    byNode = await waitSettled(terms, { timeoutMs: 5000 });
    return terms.every((t) => byNode[t.node].peers.every((p) => p.connected && p.lag_ops === 0 && p.behind_ops === 0));
  }, { timeoutMs: 10000, intervalMs: 100 });

  const now = Date.now();
  for (const t of terms) {
    const st = byNode[t.node];
    const vv = await t.vv();
    const foreign = st.ops - (vv[t.node] || 0);
    const received = st.peers.reduce((n, p) => n + p.ops_received, 0);
    assert.equal(received, foreign, `${t.node}: ops_received over its peers = the ${foreign} operations of other origins it holds`);
    for (const p of st.peers) {
      assert.ok(now - p.last_seen_ms < 5000 && p.last_seen_ms <= now + 1000, `${t.node} last saw ${p.node} ${now - p.last_seen_ms} ms ago`);
      if (p.direction === 'out') assert.equal(p.address, addrOf[p.node], `${t.node} dialled ${p.node} at its listen address`);
      else assert.match(p.address, /^127\.0\.0\.1:\d+$/);
    }
    assert.equal(st.sales, NODES.length * SALES_PER_TERMINAL, `${t.node}: sales count in status`);

    // kassa status: one line per peer, from peers.json, which kassad
    // rewrites each second (so it may show the state of up to 1 s ago).
    const line = (n) => new RegExp(`^peer ${n}: connected, 127\\.0\\.0\\.1:\\d+ \\(${byNode[t.node].peers.find((p) => p.node === n).direction}\\), ` +
      'last seen \\d+\\.\\d s ago, lacks 0 of ours, we lack 0 of its(, last error: .*)?$', 'm');
    let text = '';
    await waitFor(`${t.node}: kassa status showing the 4 peers connected and caught up`, async () => {
      text = await t.cli('status');
      return (text.match(/^peer /gm) || []).length === 4 && NODES.filter((x) => x !== t.node).every((n) => line(n).test(text));
    }, { timeoutMs: 3000, intervalMs: 100 }).catch((e) => { throw new Error(`${e.message}\n${text}`); });
    assert.match(text, new RegExp(`^store S1 node ${t.node}: ${st.ops} operations, 0 pending, ${st.sales} sales`, 'm'));
    const js = JSON.parse(await t.cli('--json', 'status'));
    assert.equal(js.node, t.node);
    assert.equal(js.peers.length, 4);
    assert.ok(js.peers.every((p) => p.connected === true && p.stale === false), JSON.stringify(js.peers));
  }

  // Its own address was dialled once, recognised, and never dialled again.
  for (const t of terms) {
    const self = t.events(0, { component: 'peer', event: 'link_failed', direction: 'out', reason: 'this address is ourselves' });
    assert.equal(self.length, 1, `${t.node} dialled its own address ${self.length} times`);
    assert.equal(self[0].address, addrOf[t.node]);
    assert.deepEqual(t.events(0, { component: 'peer', event: 'link_refused' }), [], `${t.node}: no certificate refused`);
    assert.deepEqual(t.events(0, { component: 'peer', event: /^link_(down|failed)$/, reason: /TLS|refused|altered/ }), [], `${t.node}: no link lost to an error`);
  }
}));
