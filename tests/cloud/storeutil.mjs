// The store side of the cloud with real processes (tests/cloud/uplink.test.mjs):
// kassad terminals of tests/peer/harness.mjs (a Mesh: data directories,
// configs, logs, processes killed by PID) whose device certificates come
// from the CA of a tests/cloud/harness.mjs World, the CA that also issued
// the cloud's certificate (--store CLOUD), and whose [cloud] section names
// one kassa-cloud of that World.
//
//   const world = await World.create('uplink');            // CA, cloud cert, token
//   const mesh = new Mesh('uplink');                       // terminals' directory
//   const cloud = await world.cloud(await world.database('main'));
//   const s1 = await makeStore(mesh, world, { store: 'S1', nodes: ['T1', 'T2', 'T3'], cloud: cloudConfig(cloud.port) });
//   await s1.start();
//
// Also: a fast seller through the HTTP API (keep-alive, several carts at
// once, so that the daemon's group commit takes many checkouts per fsync:
// thousands of real sales in seconds) and background sellers that go on
// through kills; the cloud's view of a store read with psql, and its log's
// ingest lines; a kassa-cloud restarted on the port it had (restartCloud);
// the cloud's heads rows locked from psql so that an upload waits inside
// kassa-cloud (lockHeads); a terminal's database read with sqlite3
// -readonly (sqliteValue: cloud_acked, cloud_state, settings).

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Cloud, kassa } from './harness.mjs';
import { STAFF, fullSetup, parseExport, sleep, waitFor } from '../peer/harness.mjs';

/** [cloud] settings for a kassa-cloud on 127.0.0.1:port, quick enough for tests. */
export function cloudConfig(port, extra = {}) {
  return {
    url: `127.0.0.1:${port}`,
    timeout_ms: 5000,
    upload_interval_s: 1,
    probe_min_ms: 100,
    probe_max_ms: 1000,
    ...extra,
  };
}

/** [peer] timings of the peer tests: quick reconnects, quick anti-entropy. */
export const PEER_QUICK = { anti_entropy_ms: 250, reconnect_min_ms: 50, reconnect_max_ms: 500, idle_timeout_ms: 2000 };

/**
 * A store's terminals (not started): `nodes` of `store`, their certificates
 * issued by world's CA. linked: a static full mesh of peer links (the first
 * terminal set up with the demo catalog, staff and stock, the others start
 * empty and get it by replication); else each is a lone terminal (no peer
 * links, no Raft: set up each). cloud: the [cloud] section.
 */
export async function makeStore(mesh, world, { store, nodes, cloud, linked = true, peer = {}, extra = {} }) {
  const ports = linked ? await mesh.allocPorts(nodes.length) : [];
  const addrs = ports.map((p) => `127.0.0.1:${p}`);
  const terms = [];
  for (const [i, node] of nodes.entries()) {
    const cert = await mesh.issue(world.caDir, store, node, `cert-${store}-${node}`);
    const peerCfg = linked
      ? { listen: addrs[i], cert_dir: cert, roster: nodes.join(' '), peers: addrs.join(', '), ...PEER_QUICK, ...peer }
      : { cert_dir: cert, ...peer };
    terms.push(await mesh.terminal({
      node,
      store,
      setup: i === 0 || !linked ? fullSetup(store, node) : [['init', '--store', store, '--node', node]],
      peer: peerCfg,
      extra: { cloud, ...extra },
    }));
  }
  return new Store(store, terms);
}

export class Store {
  constructor(id, terms) {
    this.id = id;
    this.terms = terms;
  }

  start() {
    return Promise.all(this.terms.map((t) => t.start()));
  }

  running() {
    return this.terms.filter((t) => t.running);
  }

  node(id) {
    return this.terms.find((t) => t.node === id);
  }

  /** {node: status.cloud} of the running terminals. */
  async cloudViews(ts = this.running()) {
    const out = {};
    await Promise.all(ts.map(async (t) => { out[t.node] = (await t.status()).cloud; }));
    return out;
  }

  /**
   * Waits until exactly one running terminal says it uploads, it is the one
   * every running terminal names as Raft leader (a store of linked
   * terminals), and returns it.
   */
  async waitUploader(what = `${this.id}: one uploader, the Raft leader`, opts = {}) {
    let last;
    return waitFor(what, async () => {
      const ts = this.running();
      const sts = await Promise.all(ts.map((t) => t.status()));
      last = sts.map((s, i) => ({ node: ts[i].node, uploader: s.cloud.uploader, role: s.raft?.role, leader: s.raft?.leader }));
      const up = last.filter((v) => v.uploader);
      if (up.length !== 1) return false;
      const node = up[0].node;
      if (sts.some((s) => s.raft && s.raft.leader !== node)) return false;
      return ts.find((t) => t.node === node);
    }, { timeoutMs: 15000, intervalMs: 50, ...opts }).catch((e) => {
      e.message += `\n  views: ${JSON.stringify(last)}`;
      throw e;
    });
  }

  /** The union of the running terminals' version vectors (each reads its own database). */
  async vv(ts = this.running()) {
    const out = {};
    for (const v of await Promise.all(ts.map((t) => t.vv()))) {
      for (const [o, s] of Object.entries(v)) out[o] = Math.max(out[o] ?? 0, s);
    }
    return out;
  }

  /** Waits until the running terminals hold the same version vector; returns it. */
  async waitSameVv(what, opts = {}) {
    let last;
    return waitFor(what ?? `${this.id}: the same version vector everywhere`, async () => {
      const ts = this.running();
      last = await Promise.all(ts.map((t) => t.vv()));
      const a = JSON.stringify(sortKeys(last[0]));
      return last.every((v) => JSON.stringify(sortKeys(v)) === a) ? last[0] : false;
    }, { timeoutMs: 20000, intervalMs: 100, ...opts }).catch((e) => {
      e.message += `\n  vvs: ${JSON.stringify(last)}`;
      throw e;
    });
  }

  /** Waits until every running terminal's status says nothing is pending upload. */
  async waitNothingPending(what, opts = {}) {
    let last;
    return waitFor(what ?? `${this.id}: pending_upload_ops 0 on every terminal`, async () => {
      last = await this.cloudViews();
      return Object.values(last).every((c) => c.pending_upload_ops === 0) ? last : false;
    }, { timeoutMs: 20000, intervalMs: 100, ...opts }).catch((e) => {
      e.message += `\n  cloud views: ${JSON.stringify(last)}`;
      throw e;
    });
  }
}

export function sortKeys(o) {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

// ---------------------------------------------------------------------------
// What the cloud holds (psql on its database)

/**
 * Per origin of store: {count, min, max, distinct} of the rows in ops, as
 * numbers; and heads: {origin: seq}.
 */
export function cloudOps(db, store) {
  const rows = db.psql(`SELECT origin, count(*), min(seq), max(seq), count(DISTINCT seq) FROM ops WHERE store_id = '${store}' GROUP BY origin ORDER BY origin`);
  const ops = {};
  for (const line of rows.split('\n').filter(Boolean)) {
    const [origin, count, min, max, distinct] = line.split('|');
    ops[origin] = { count: Number(count), min: Number(min), max: Number(max), distinct: Number(distinct) };
  }
  const heads = {};
  for (const line of db.psql(`SELECT origin, seq FROM heads WHERE store_id = '${store}' ORDER BY origin`).split('\n').filter(Boolean)) {
    const [origin, seq] = line.split('|');
    heads[origin] = Number(seq);
  }
  return { ops, heads };
}

/**
 * Asserts that the cloud holds exactly the operations of vv for store: per
 * origin seq 1..vv[origin], each once, the heads at vv (no other origin).
 */
export function assertCloudHoldsExactly(db, store, vv, what = store) {
  const { ops, heads } = cloudOps(db, store);
  assert.deepEqual(Object.keys(ops).sort(), Object.keys(vv).sort(), `${what}: origins in the cloud`);
  for (const [origin, seq] of Object.entries(vv)) {
    const r = ops[origin];
    assert.deepEqual(r, { count: seq, min: 1, max: seq, distinct: seq }, `${what}: ${origin}'s operations in the cloud (count, min, max, distinct seqs) vs the terminals' vv ${seq}`);
    assert.equal(heads[origin], seq, `${what}: the cloud's head of ${origin}`);
  }
}

/**
 * Asserts that the operations the cloud holds for store are byte for byte
 * (hash for hash) the ones of the terminal's export file: the same history,
 * not just the same counts.
 */
export async function assertCloudSameHistory(db, store, term) {
  const file = await kassa(['--data', term.dataDir, 'export'], { binary: true });
  const mine = parseExport(file).ops.map((o) => `${o.origin}|${o.seq}|${o.hash.toString('hex')}`).sort();
  const theirs = db.psql(`SELECT origin || '|' || seq || '|' || encode(hash, 'hex') FROM ops WHERE store_id = '${store}'`).split('\n').filter(Boolean).sort();
  assert.equal(theirs.length, mine.length, `${store}: as many operations in the cloud as ${term.node} holds`);
  const differ = mine.filter((x, i) => x !== theirs[i]);
  assert.deepEqual(differ.slice(0, 5), [], `${store}: the cloud's operations are ${term.node}'s, hash for hash`);
}

/** Sums of the cloud's "ingested" log lines for store: {batches, stored, duplicates, nodes: {node: batches}}. */
export function ingestLog(cloud, store, since = 0) {
  const out = { batches: 0, stored: 0, duplicates: 0, nodes: {} };
  for (const l of cloud.logLines().slice(since)) {
    if (l.event !== 'ingested' || l.store !== store) continue;
    out.batches++;
    out.stored += l.stored;
    out.duplicates += l.duplicates;
    out.nodes[l.node] = (out.nodes[l.node] || 0) + 1;
  }
  return out;
}

// ---------------------------------------------------------------------------
// kassa-cloud restarted where it was

/**
 * A new kassa-cloud on db listening on the port `port` (what the terminals'
 * [cloud] url names), registered with world so it is stopped at the end.
 * Retries for a while if the port is not free yet.
 */
export async function restartCloud(world, db, port) {
  const args = world.cloudArgs(db);
  args[args.indexOf('--listen') + 1] = `127.0.0.1:${port}`;
  let lastErr;
  for (let i = 0; i < 20; i++) {
    const c = new Cloud(world, db, args);
    try {
      await c.start();
      world.clouds.push(c);
      return c;
    } catch (e) {
      lastErr = e;
      if (c.child.exitCode === null && c.child.signalCode === null) process.kill(c.child.pid, 'SIGKILL');
      await c.exited;
      await sleep(250);
    }
  }
  throw lastErr;
}

// ---------------------------------------------------------------------------
// Selling fast through the API (no openapi checks: the volume is the point)

/**
 * A raw API client of one started PeerTerminal: keep-alive connections,
 * bodies as JSON. request() resolves to {status, json}.
 */
export class FastApi {
  constructor(term, { sockets = 16 } = {}) {
    this.term = term;
    this.port = term.port;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  }

  request(method, p, body, token) {
    const data = body === undefined ? null : Buffer.from(JSON.stringify(body));
    const headers = {};
    if (data) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = data.length;
    }
    if (token) headers.Authorization = `Bearer ${token}`;
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: this.port, method, path: p, headers, agent: this.agent }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json;
          try { json = JSON.parse(text); } catch { json = undefined; }
          resolve({ status: res.statusCode, json, text });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.setTimeout(30000, () => req.destroy(new Error(`${this.term.node}: ${method} ${p}: no answer in 30 s`)));
      if (data) req.write(data);
      req.end();
    });
  }

  async expect(status, method, p, body, token) {
    const r = await this.request(method, p, body, token);
    if (r.status !== status) throw new Error(`${this.term.node}: ${method} ${p}: expected ${status}, got ${r.status}: ${r.text}`);
    return r.json;
  }

  async login(id = 'ann') {
    const s = STAFF.find((x) => x.id === id);
    return (await this.expect(201, 'POST', '/api/v1/sessions', { cashier_id: id, pin: s.pin })).token;
  }

  /** One sale of lines [{sku, qty}], cash for the exact total; resolves to the sale id. */
  async sell(token, lines) {
    const cart = (await this.expect(201, 'POST', '/api/v1/carts', undefined, token)).cart_id;
    let c;
    for (const l of lines) c = await this.expect(200, 'POST', `/api/v1/carts/${cart}/lines`, { sku: l.sku, qty: l.qty }, token);
    return (await this.expect(201, 'POST', `/api/v1/carts/${cart}/checkout`, { tendered_minor: c.total_minor }, token)).sale_id;
  }

  close() {
    this.agent.destroy();
  }
}

/**
 * n one-line sales on term through the API, `concurrency` carts at a time;
 * resolves to the sale ids. linesOf(i) gives the lines of sale i.
 */
export async function sellMany(term, n, { concurrency = 8, linesOf = (i) => [{ sku: SELL_SKUS[i % SELL_SKUS.length], qty: 1 }] } = {}) {
  const api = new FastApi(term, { sockets: concurrency });
  try {
    const token = await api.login();
    const ids = new Array(n);
    let next = 0;
    const worker = async () => {
      for (;;) {
        const i = next++;
        if (i >= n) return;
        ids[i] = await api.sell(token, linesOf(i));
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
    return ids;
  } finally {
    api.close();
  }
}

export const SELL_SKUS = ['BAG-CL', 'MLK-1L', 'WAT-15', 'PST-500', 'COL-05', 'BER-05', 'CRS-BT', 'APL-1K'];

/**
 * Sellers that keep selling on every terminal of terms that is running
 * (one cart at a time each, a pause between sales), through kills and
 * restarts: a request that fails (its terminal killed) is given up, and a
 * restarted terminal (new API port) is logged in again. stop() resolves to
 * the number of sales acknowledged (201).
 */
export class BackgroundSellers {
  constructor(terms, { pauseMs = 10 } = {}) {
    this.terms = terms;
    this.pauseMs = pauseMs;
    this.stopped = false;
    this.acked = 0;
    this.failed = 0;
    this.loops = terms.map((t, i) => this.loop(t, i));
  }

  async loop(t, i) {
    let api = null;
    let token = null;
    let n = i;
    while (!this.stopped) {
      if (!t.running || !t.port) {
        await sleep(20);
        continue;
      }
      try {
        if (!api || api.port !== t.port) {
          api?.close();
          api = new FastApi(t, { sockets: 1 });
          token = await api.login();
        }
        await api.sell(token, [{ sku: SELL_SKUS[n++ % SELL_SKUS.length], qty: 1 }]);
        this.acked++;
      } catch {
        this.failed++;
        api?.close();
        api = null;
      }
      await sleep(this.pauseMs);
    }
    api?.close();
  }

  async stop() {
    this.stopped = true;
    await Promise.all(this.loops);
    return this.acked;
  }
}


/** One value of a read-only sqlite3 query on a terminal's database (kassa.db in its data directory), as text. */
export function sqliteValue(term, sql) {
  return execFileSync('sqlite3', ['-readonly', path.join(term.dataDir, 'kassa.db'), sql], { encoding: 'utf8' }).trim();
}

const PSQL = existsSync('/usr/lib/postgresql/15/bin/psql') ? '/usr/lib/postgresql/15/bin/psql' : 'psql';

/**
 * Locks the cloud's heads rows of store (SELECT ... FOR UPDATE in an open
 * transaction of a psql of our own), so that an upload of the store waits
 * inside kassa-cloud: a request the cloud has, not answered yet. Resolves
 * once locked to {release(), waiting()}: release() commits (the upload goes
 * on) and waits for psql to exit; waiting() counts the sessions of the
 * database waiting for a lock.
 */
export async function lockHeads(db, store) {
  const child = spawn(PSQL, ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-d', db.conninfo], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const kill = () => { try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ } };
  process.once('exit', kill);
  child.stdin.write(`BEGIN;\nSELECT origin FROM heads WHERE store_id = '${store}' FOR UPDATE;\nSELECT 'lock' || 'ed';\n`);
  try {
    await waitFor(`the heads of ${store} locked`, () => out.includes('locked'), { timeoutMs: 10000, intervalMs: 20 });
  } catch (e) {
    kill();
    throw new Error(`${e.message}: psql said ${err}`);
  }
  return {
    waiting: () => Number(db.psql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'").trim()),
    release: async () => {
      child.stdin.end('COMMIT;\n');
      const t = setTimeout(kill, 10000);
      const code = await exited;
      clearTimeout(t);
      process.off('exit', kill);
      return code;
    },
    kill,
  };
}

/**
 * The next line (parsed) of cloud's log, from now on, for which pred is
 * true; rejects after timeoutMs.
 */
export function nextLogLine(cloud, what, pred, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      cloud.events.off('line', on);
    };
    const on = (l) => {
      if (pred(l)) {
        cleanup();
        resolve(l);
      }
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no ${what} in kassa-cloud's log within ${timeoutMs} ms`));
    }, timeoutMs);
    cloud.events.on('line', on);
  });
}

/**
 * Ends a test file's terminals and world, then fails if a sanitizer report
 * (a leak found at a SIGTERM exit, say) is in any kassad log.
 */
export async function destroyChecked(mesh, world) {
  const reports = (mesh?.terms ?? []).filter((t) => /Sanitizer|runtime error:/.test(t.logText()))
    .map((t) => `${t.store}/${t.node}: ${t.logText().slice(-3000)}`);
  try {
    await mesh?.destroy();
  } finally {
    await world?.destroy();
  }
  assert.deepEqual(reports, [], 'no sanitizer report in any kassad log');
}
