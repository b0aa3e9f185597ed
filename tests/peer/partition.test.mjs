// Store replication across network faults: five terminals T1..T5 whose
// every peer link runs through a fault-injecting TCP proxy (one per
// dialler and target: terminal i reaches terminal j only through proxy
// i->j), so the test can cut any link and heal it.
//
// Partition: {T1 T2 T3} | {T4 T5}. The proxies from the big side to the
// small one black-hole (live links go silent, new ones hang in the
// handshake: only idle_timeout_ms notices), those the other way reset
// (live links get an RST, new ones are closed at once). Both sides sell
// while partitioned; each side must converge on its own, and hold none of
// the other side's sales. After the heal, within a few seconds every
// acknowledged sale must be on every terminal with its lines, the stock
// must add up exactly and the state hashes must be equal.
//
// Crash: while all five sell, T3 is killed with SIGKILL in the middle of
// its sales, the others go on selling, then T3 restarts. Every sale T3
// acknowledged before the kill must end up on every terminal (it was
// committed before the answer, so it survived the kill and is sent after
// the restart), and the hash chains must still verify.
//
// Relay: with only the T1-T4 link cut, T1's and T4's sales must still reach
// each other, relayed by the terminals linked with both.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  Mesh, assertStoreConsistent, baseline, fullSetup, randomLines, rng, sleep, waitConverged, waitLinked, waitSettled, waitUnlinked,
} from './harness.mjs';

const NODES = ['T1', 'T2', 'T3', 'T4', 'T5'];
const SIDE_A = ['T1', 'T2', 'T3'];
const SIDE_B = ['T4', 'T5'];
const SALES_WHILE_PARTITIONED = 8; // per terminal
const HEAL_BUDGET_MS = 5000;
const IDLE_TIMEOUT_MS = 1500;

let mesh;
let terms;
let byNode;
const proxy = {}; // proxy[i][j]: how i reaches j
let base;
const sales = []; // every acknowledged sale since base

before(async () => {
  mesh = new Mesh('partition');
  await mesh.guard(async () => {
    const ca = await mesh.caInit();
    // The proxies listen first, so no terminal's peer port can be one of theirs.
    for (const a of NODES) {
      proxy[a] = {};
      for (const b of NODES) if (a !== b) proxy[a][b] = await mesh.proxy().listen();
    }
    const ports = await mesh.allocPorts(NODES.length);
    for (const [i, a] of NODES.entries()) {
      for (const [j, b] of NODES.entries()) if (i !== j) proxy[a][b].targetPort = ports[j];
    }
    terms = [];
    for (const [i, node] of NODES.entries()) {
      const cert = await mesh.issue(ca, 'S1', node);
      const own = `127.0.0.1:${ports[i]}`;
      terms.push(await mesh.terminal({
        node,
        setup: i === 0 ? fullSetup('S1', node) : undefined,
        peer: {
          listen: own,
          cert_dir: cert,
          roster: NODES.join(' '),
          // One address a line: its own (skipped) and a proxy per other terminal.
          peers: [own, ...NODES.filter((n) => n !== node).map((n) => proxy[node][n].addr)],
          anti_entropy_ms: 200,
          reconnect_min_ms: 100,
          reconnect_max_ms: 500,
          idle_timeout_ms: IDLE_TIMEOUT_MS,
        },
      }));
    }
    byNode = Object.fromEntries(terms.map((t) => [t.node, t]));
    await Promise.all(terms.map((t) => t.start()));
  });
});

after(async () => {
  await mesh?.destroy();
});

const side = (nodes) => nodes.map((n) => byNode[n]);

/** Sells `count` sales on each of ts at once; the acknowledged ones are recorded. */
async function sellOn(ts, count, seed) {
  const done = await Promise.all(ts.map(async (t, ti) => {
    const pick = rng(seed + ti);
    const out = [];
    for (let k = 0; k < count; k++) out.push(await t.sell(randomLines(pick)));
    return out;
  }));
  sales.push(...done.flat());
  return done.flat();
}

test('all five link through the proxies and receive T1\'s setup', () => mesh.guard(async () => {
  // Settled: each pair's link is the one the smaller id dialled, so the
  // links between the sides all run through side A's proxies.
  await waitSettled(terms);
  await waitConverged(terms, 'setup replicated', { timeoutMs: 10000 });
  base = await baseline(byNode.T1);
  // Every link really goes through a proxy: nobody dialled a real port but its own.
  const used = NODES.flatMap((a) => NODES.filter((b) => b !== a).map((b) => proxy[a][b].accepted));
  assert.ok(used.every((n) => n > 0), `every proxy carried a connection: ${used}`);
}));

test('partition {T1 T2 T3} | {T4 T5}: each side converges on its own sales, the other side gets none', () => mesh.guard(async () => {
  const vvBefore = await byNode.T1.vv();
  const cutMark = Object.fromEntries(terms.map((t) => [t.node, t.logMark()]));
  const cutAt = Date.now();
  for (const a of SIDE_A) {
    for (const b of SIDE_B) {
      proxy[a][b].cut('blackhole');
      proxy[b][a].cut('reset');
    }
  }
  await Promise.all([
    ...side(SIDE_A).map((t) => waitUnlinked(t, SIDE_B)),
    ...side(SIDE_B).map((t) => waitUnlinked(t, SIDE_A)),
  ]);
  console.log(`partition noticed by all five ${Date.now() - cutAt} ms after the cut (idle_timeout_ms ${IDLE_TIMEOUT_MS})`);
  // Within each side the links stay up.
  for (const t of side(SIDE_A)) await waitLinked(t, SIDE_A.filter((n) => n !== t.node), { timeoutMs: 3000 });
  for (const t of side(SIDE_B)) await waitLinked(t, SIDE_B.filter((n) => n !== t.node), { timeoutMs: 3000 });

  const sold = await sellOn(terms, SALES_WHILE_PARTITIONED, 500);
  const soldA = sold.filter((s) => SIDE_A.includes(s.node)).map((s) => s.id);
  const soldB = sold.filter((s) => SIDE_B.includes(s.node)).map((s) => s.id);

  const hashA = await waitConverged(side(SIDE_A), 'side A converged', { timeoutMs: 5000 });
  const hashB = await waitConverged(side(SIDE_B), 'side B converged', { timeoutMs: 5000 });
  assert.notEqual(hashA, hashB, 'the two sides sold different things');
  // A few anti-entropy rounds (200 ms) with nothing crossing the cut.
  await sleep(1000);
  for (const [mine, theirs, theirIds] of [[SIDE_A, SIDE_B, soldB], [SIDE_B, SIDE_A, soldA]]) {
    for (const t of side(mine)) {
      const ids = new Set(await t.saleIds());
      const leaked = theirIds.filter((id) => ids.has(id));
      assert.deepEqual(leaked, [], `${t.node} holds sales of the other side`);
      const vv = await t.vv();
      for (const n of theirs) assert.equal(vv[n], vvBefore[n], `${t.node}'s vv of ${n} unchanged by the partition`);
      for (const n of mine) assert.ok(vv[n] >= (vvBefore[n] || 0) + SALES_WHILE_PARTITIONED, `${t.node} holds its side's sales of ${n}`);
      assert.equal(await t.stateHash(), mine === SIDE_A ? hashA : hashB);
      const st = await t.status();
      for (const p of st.peers.filter((x) => theirs.includes(x.node))) {
        assert.equal(p.connected, false);
        assert.notEqual(p.last_error, '', `${t.node}: why the link to ${p.node} went`);
      }
    }
  }
  // The links that went silent were closed by the idle timeout, on both
  // ends (each pair's link is the one the side-A terminal dialled, through
  // a black-holed proxy).
  for (const t of terms) {
    const idle = t.events(cutMark[t.node], { component: 'peer', event: 'link_down', reason: 'no frame within idle_timeout_ms' });
    const expect = SIDE_A.includes(t.node) ? SIDE_B : SIDE_A;
    assert.deepEqual([...new Set(idle.map((e) => e.node))].sort(), expect, `${t.node}: links closed for their idle timeout`);
  }
}));

test(`heal: every sale on every terminal within ${HEAL_BUDGET_MS} ms, stock adds up`, () => mesh.guard(async () => {
  const healedAt = Date.now();
  for (const a of NODES) for (const b of NODES) if (a !== b) proxy[a][b].heal();
  await waitConverged(terms, 'all five converged after the heal', { timeoutMs: 15000, intervalMs: 20 });
  const healMs = Date.now() - healedAt;
  console.log(`converged ${healMs} ms after the heal (reconnect_max_ms 500)`);
  assert.ok(healMs <= HEAL_BUDGET_MS, `converged ${healMs} ms after the heal, budget ${HEAL_BUDGET_MS} ms`);
  await assertStoreConsistent(terms, base, sales);
  for (const t of terms) await waitLinked(t, NODES.filter((n) => n !== t.node), { timeoutMs: 5000 });
}));

test('kill -9 of T3 while it sells: every sale it acknowledged reaches every terminal after its restart', () => mesh.guard(async () => {
  const victim = byNode.T3;
  const others = terms.filter((t) => t !== victim);
  await Promise.all(terms.flatMap((t) => ['ann', 'bob'].map((c) => t.token(c))));
  let killed = false;
  let stop = false;
  const ackedByVictim = [];
  const afterKill = new Map(others.map((t) => [t.node, 0]));
  const lane = async (t, cashier, seed) => {
    const pick = rng(seed);
    while (!stop) {
      try {
        const s = await t.sell(randomLines(pick), cashier);
        sales.push(s);
        if (t === victim) ackedByVictim.push(s);
        else if (killed) afterKill.set(t.node, afterKill.get(t.node) + 1);
      } catch (e) {
        if (t === victim && killed) return; // the kill cut this sale off: not acknowledged
        throw e;
      }
    }
  };
  // Two cashiers on the victim, so a sale is in flight when it dies.
  const lanes = [
    lane(victim, 'ann', 900), lane(victim, 'bob', 901),
    ...others.map((t, i) => lane(t, 'ann', 910 + i)),
  ];
  const killer = (async () => {
    await waitUntil(() => ackedByVictim.length >= 6);
    killed = true;
    await victim.kill('SIGKILL');
    // The others go on selling while T3 is down.
    await waitUntil(() => [...afterKill.values()].every((n) => n >= 5));
    stop = true;
  })();
  await Promise.all([...lanes, killer]);
  assert.equal(victim.exited.signal, 'SIGKILL');
  const beforeKill = [...ackedByVictim];
  console.log(`T3 killed after ${beforeKill.length} acknowledged sales; the others sold ${[...afterKill.values()].join('/')} more while it was down`);

  await victim.start();
  await waitLinked(victim, NODES.filter((n) => n !== 'T3'));
  for (let k = 0; k < 3; k++) sales.push(await victim.sell([{ sku: 'BAG-CL', qty: 1 }]));
  await waitConverged(terms, 'all five converged after the restart', { timeoutMs: 10000 });
  const t3Sales = (await byNode.T1.saleIds()).filter((id) => id.startsWith('T3-'));
  const t3Acked = sales.filter((s) => s.node === 'T3').length;
  console.log(`T3's sales on T1: ${t3Sales.length}, ${t3Acked} acknowledged (${t3Sales.length - t3Acked} committed but cut off by the kill before their answer)`);
  assert.ok(t3Sales.length >= t3Acked);

  // What T3 acknowledged before the kill is everywhere, with its lines.
  for (const t of terms) {
    const ids = new Set(await t.saleIds());
    assert.deepEqual(beforeKill.filter((s) => !ids.has(s.id)).map((s) => s.id), [], `${t.node} lacks sales T3 acknowledged before the kill`);
  }
  await assertStoreConsistent(terms, base, sales);
  for (const t of terms) assert.match(await t.cli('log', 'verify'), /^log ok: \d+ operations from 5 origins/);
}));

async function waitUntil(cond) {
  const deadline = Date.now() + 20000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(10);
  }
}

test('T1 and T4 cut from each other only: their sales still reach each other through the others', () => mesh.guard(async () => {
  proxy.T1.T4.cut('reset');
  proxy.T4.T1.cut('reset');
  await waitUnlinked(byNode.T1, ['T4']);
  await waitUnlinked(byNode.T4, ['T1']);
  for (const t of terms) {
    await waitLinked(t, NODES.filter((n) => n !== t.node && !(t.node === 'T1' && n === 'T4') && !(t.node === 'T4' && n === 'T1')), { timeoutMs: 5000 });
  }
  const cutAt = Date.now();
  const sold = await sellOn([byNode.T1, byNode.T4], 5, 700);
  const lastAck = Math.max(...sold.map((s) => s.ackedAt));
  await waitConverged(terms, 'all five converged with T1-T4 cut', { timeoutMs: 10000 });
  console.log(`converged ${Date.now() - lastAck} ms after the last sale with the T1-T4 link cut (relayed)`);
  for (const [t, other] of [[byNode.T1, 'T4'], [byNode.T4, 'T1']]) {
    const ids = new Set(await t.saleIds());
    assert.deepEqual(sold.filter((s) => s.node === other && !ids.has(s.id)).map((s) => s.id), [], `${t.node} lacks ${other}'s sales`);
    const st = await t.status();
    assert.equal(st.peers.find((p) => p.node === other).connected, false, `${t.node} and ${other} stayed cut (${Date.now() - cutAt} ms)`);
  }
  await assertStoreConsistent(terms, base, sales);
  proxy.T1.T4.heal();
  proxy.T4.T1.heal();
  await waitLinked(byNode.T1, ['T4'], { timeoutMs: 5000 });
  await waitLinked(byNode.T4, ['T1'], { timeoutMs: 5000 });
}));
