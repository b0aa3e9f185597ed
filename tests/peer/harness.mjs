// Harness of the store replication tests (tests/peer/*.test.mjs).
//
// A Mesh is one test file's world: a fresh temporary directory holding a
// company CA (kassa ca init), the device certificates it issues, and the
// kassad terminals started in it, each with its own data directory, INI
// config file and log. Ports are free loopback ports; the API listens on
// port 0 and its real port is read from kassad's "start" log line. Every
// process the mesh starts is killed by its PID (never by name) when the
// mesh is destroyed or the test process exits, and the directory removed.
//
// HTTP calls go through the API harness (tests/api/harness.mjs), so every
// answer — /api/v1/status with its peers included — is checked against
// docs/api/openapi.yaml. The CLI (`kassa --data DIR ...`) reads the same
// database while kassad runs (SQLite WAL): state-hash, vv, sales list,
// stock show, status, log verify.
//
// Also here: FaultProxy, a TCP proxy (node:net) that can cut a link —
// reset its sockets and refuse new ones, or black-hole it (stop forwarding
// without closing anything, as a dead network does) — and heal it.
//
// Environment: KASSA_BIN (directory of kassa and kassad, default build/bin),
// KASSA_PEER_LOG=1 prints every daemon's log tail when its mesh is destroyed.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { KASSA, KASSAD, STAFF, Terminal } from '../api/harness.mjs';
import { CATALOG_CSV, REPO, freePort, setupCommands, sleep } from '../lib/kassad.mjs';

export { CATALOG_CSV, KASSA, KASSAD, REPO, STAFF, sleep };

const execFileP = promisify(execFile);

// ---------------------------------------------------------------------------
// Small tools

/**
 * Polls fn (sync or async) every intervalMs until it returns a truthy value,
 * which is returned. Throws after timeoutMs with `what` and the last value or
 * error seen, so a failure says what was still missing.
 */
export async function waitFor(what, fn, { timeoutMs = 10000, intervalMs = 50 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${detail})`);
    }
    await sleep(intervalMs);
  }
}

/** kassa --data DIR ARGS..., asynchronously; resolves to stdout. */
export async function kassa(dataDir, ...args) {
  try {
    const { stdout } = await execFileP(KASSA, ['--data', dataDir, ...args], { cwd: REPO, maxBuffer: 64 << 20 });
    return stdout;
  } catch (e) {
    throw new Error(`kassa --data ${dataDir} ${args.join(' ')} failed (${e.code}): ${e.stderr || e.message}`);
  }
}

/** kassa --data DIR ARGS... with binary stdout (export); resolves to a Buffer. */
export async function kassaBuffer(dataDir, ...args) {
  try {
    const { stdout } = await execFileP(KASSA, ['--data', dataDir, ...args], { cwd: REPO, encoding: 'buffer', maxBuffer: 64 << 20 });
    return stdout;
  } catch (e) {
    throw new Error(`kassa --data ${dataDir} ${args.join(' ')} failed (${e.code}): ${e.stderr || e.message}`);
  }
}

/** kassa ARGS... without --data (the ca commands). */
export async function kassaBare(...args) {
  try {
    const { stdout } = await execFileP(KASSA, args, { cwd: REPO });
    return stdout;
  } catch (e) {
    throw new Error(`kassa ${args.join(' ')} failed (${e.code}): ${e.stderr || e.message}`);
  }
}

/** A small deterministic generator (xorshift32), so a failing run repeats. */
export function rng(seed) {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x % n;
  };
}

/** SKUs the tests sell (demo catalog), each given plenty of stock at setup. */
export const SKUS = ['BAG-CL', 'MLK-1L', 'WAT-15', 'PST-500', 'COL-05', 'BER-05', 'CRS-BT', 'APL-1K'];
export const EXTRA_STOCK = Object.fromEntries(SKUS.map((s) => [s, 1000]));

/** 1..3 distinct SKUs of SKUS, 1..3 units each. */
export function randomLines(pick) {
  const n = 1 + pick(3);
  const skus = new Set();
  while (skus.size < n) skus.add(SKUS[pick(SKUS.length)]);
  return [...skus].map((sku) => ({ sku, qty: 1 + pick(3) }));
}

/** Units per SKU over sales [{lines: [{sku, qty}]}]. */
export function unitsSold(sales) {
  const out = {};
  for (const s of sales) for (const l of s.lines) out[l.sku] = (out[l.sku] || 0) + l.qty;
  return out;
}

/** Parses JSON log lines (others skipped). */
export function parseLog(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try { out.push(JSON.parse(line)); } catch { /* a line being written */ }
  }
  return out;
}

/** Distinct free loopback ports (a port can be handed out twice in a row). */
export async function freePorts(n, taken = new Set()) {
  const out = [];
  while (out.length < n) {
    const p = await freePort();
    if (!taken.has(p) && !out.includes(p)) out.push(p);
  }
  return out;
}

// ---------------------------------------------------------------------------
// The mesh

const live = new Set(); // child processes of every mesh, killed at exit
process.on('exit', () => {
  for (const child of live) {
    try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
  }
});

export class Mesh {
  constructor(name) {
    assert.ok(fs.existsSync(KASSAD), `${KASSAD} not built (set KASSA_BIN)`);
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), `kassa-peer-${name}-`));
    this.terms = [];
    this.proxies = [];
    this.ports = new Set();
  }

  /** A new CA directory (kassa ca init). */
  async caInit(name = 'CA') {
    const dir = path.join(this.tmp, name);
    await kassaBare('ca', 'init', '--dir', dir);
    return dir;
  }

  /** Issues store/node from ca into a new certificate directory; returns it. */
  async issue(ca, store, node, name = `cert-${path.basename(ca)}-${store}-${node}`) {
    const out = path.join(this.tmp, name);
    await kassaBare('ca', 'issue', '--dir', ca, '--store', store, '--node', node, '--out', out);
    return out;
  }

  /** n free loopback ports no other terminal or proxy of this mesh uses. */
  async allocPorts(n) {
    const ps = await freePorts(n, this.ports);
    for (const p of ps) this.ports.add(p);
    return ps;
  }

  /**
   * A terminal (not started): its data directory set up with `setup` (a list
   * of CLI argument lists, run in order), its config from `peer` ([peer]
   * settings; listen, cert_dir and roster required) and `extra` sections.
   */
  async terminal({ node, store = 'S1', setup, peer, extra = {} }) {
    const t = new PeerTerminal(this, { node, store, peer, extra });
    fs.mkdirSync(t.dir, { recursive: true });
    for (const args of setup ?? [['init', '--store', store, '--node', node]]) await kassa(t.dataDir, ...args);
    this.terms.push(t);
    return t;
  }

  /** A FaultProxy (not listening yet); its targetPort may be set later. */
  proxy(targetPort = null) {
    const p = new FaultProxy(targetPort);
    p.mesh = this;
    this.proxies.push(p);
    return p;
  }

  /** The last lines of every daemon's log, for a failure message. */
  logTails(chars = 3000) {
    return this.terms.map((t) => `--- ${t.node} (${t.logFile}):\n${t.logText().slice(-chars)}`).join('\n');
  }

  /** Kills every terminal by PID, closes the proxies, removes the directory. */
  async destroy() {
    if (process.env.KASSA_PEER_LOG) process.stderr.write(this.logTails() + '\n');
    await Promise.all(this.terms.map((t) => t.kill('SIGKILL')));
    await Promise.all(this.proxies.map((p) => p.close()));
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }

  /** Runs fn; when it throws, prints every daemon's log tail before rethrowing. */
  async guard(fn) {
    try {
      return await fn();
    } catch (e) {
      process.stderr.write(`\n=== test failed: ${e.message}\n${this.logTails()}\n=== end of logs\n`);
      throw e;
    }
  }
}

/**
 * Terminals `nodes` of store S1 in a static full mesh on loopback: each
 * lists every peer address, its own included (which it must notice and
 * skip), and the whole store as its roster. Only the first is set up
 * (fullSetup); the others start empty and get everything by replication.
 * peerExtra adds [peer] settings. Not started. Returns {terms, addrOf}.
 */
export async function fullMesh(mesh, nodes, peerExtra = {}) {
  const ca = await mesh.caInit();
  const ports = await mesh.allocPorts(nodes.length);
  const addrs = ports.map((p) => `127.0.0.1:${p}`);
  const addrOf = Object.fromEntries(nodes.map((n, i) => [n, addrs[i]]));
  const terms = [];
  for (const [i, node] of nodes.entries()) {
    const cert = await mesh.issue(ca, 'S1', node);
    terms.push(await mesh.terminal({
      node,
      setup: i === 0 ? fullSetup('S1', node) : undefined,
      peer: { listen: addrs[i], cert_dir: cert, roster: nodes.join(' '), peers: addrs.join(', '), ...peerExtra },
    }));
  }
  return { terms, addrOf };
}

/** INI text of {section: {key: value | [values]}} (an array repeats the key). */
export function iniText(sections) {
  let ini = '';
  for (const [section, kv] of Object.entries(sections)) {
    ini += `[${section}]\n`;
    for (const [k, v] of Object.entries(kv)) {
      for (const one of Array.isArray(v) ? v : [v]) ini += `${k} = ${one}\n`;
    }
  }
  return ini;
}

export class PeerTerminal {
  constructor(mesh, { node, store, peer, extra }) {
    this.mesh = mesh;
    this.node = node;
    this.store = store;
    this.dir = path.join(mesh.tmp, node + (mesh.terms.some((t) => t.node === node) ? `-${mesh.terms.length}` : ''));
    this.dataDir = path.join(this.dir, 'data');
    this.logFile = path.join(this.dir, 'kassad.log');
    this.configFile = path.join(this.dir, 'kassad.ini');
    this.peer = peer;
    this.extra = extra;
    this.child = null;
    this.exited = null;
    this.http = null;
    this.tokens = {};
  }

  /** Writes the config file: data dir, API on port 0, web root, [peer]. */
  writeConfig() {
    fs.writeFileSync(this.configFile, iniText({
      terminal: { data_dir: this.dataDir },
      api: { listen: '127.0.0.1:0', web_root: path.join(REPO, 'web') },
      peer: this.peer,
      ...this.extra,
    }));
  }

  get peerAddr() {
    return this.peer.listen;
  }

  get peerPort() {
    return Number(this.peer.listen.split(':').pop());
  }

  /** The log from byte offset `since` (a logMark()) on. */
  logText(since = 0) {
    try { return fs.readFileSync(this.logFile).subarray(since).toString('utf8'); } catch { return ''; }
  }

  /** Byte offset of the end of the log: pass to events() for what follows. */
  logMark() {
    try { return fs.statSync(this.logFile).size; } catch { return 0; }
  }

  /** The JSON log events after byte offset `since`, filtered by fields. */
  events(since = 0, filter = {}) {
    return parseLog(this.logText(since)).filter((e) => Object.entries(filter).every(([k, v]) =>
      (v instanceof RegExp ? v.test(String(e[k] ?? '')) : e[k] === v)));
  }

  get running() {
    return this.child !== null && this.exited === null;
  }

  /**
   * Starts kassad (config rewritten first). Resolves when /healthz answers;
   * rejects, with the log, if it exits or does not come up in 15 s. With
   * expectFailure, resolves to {code, signal, events} once it exits.
   */
  async start({ expectFailure = false } = {}) {
    assert.ok(!this.running, `${this.node} already running`);
    this.writeConfig();
    const mark = this.logMark();
    const fd = fs.openSync(this.logFile, 'a');
    const child = spawn(KASSAD, ['--config', this.configFile], { cwd: REPO, stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    live.add(child);
    this.child = child;
    this.exited = null;
    this.exitPromise = new Promise((resolve) => child.on('exit', (code, signal) => {
      live.delete(child);
      if (this.child === child) this.exited = { code, signal };
      resolve({ code, signal });
    }));
    if (expectFailure) {
      const t = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ } }, 10000);
      const ex = await this.exitPromise;
      clearTimeout(t);
      return { ...ex, events: this.events(mark), log: this.logText(mark) };
    }
    const deadline = Date.now() + 15000;
    let port = null;
    for (;;) {
      if (this.exited) throw new Error(`kassad ${this.node} exited during start (${JSON.stringify(this.exited)}):\n${this.logText(mark)}`);
      if (port === null) {
        const ev = this.events(mark, { component: 'kassad', event: 'start' })[0];
        if (ev) port = ev.port;
      }
      if (port !== null) {
        try {
          const r = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) });
          await r.arrayBuffer();
          if (r.status === 200) break;
        } catch { /* not yet */ }
      }
      if (Date.now() > deadline) {
        await this.kill('SIGKILL');
        throw new Error(`kassad ${this.node} did not come up within 15 s:\n${this.logText(mark)}`);
      }
      await sleep(25);
    }
    this.port = port;
    this.pid = child.pid;
    this.base = `http://127.0.0.1:${port}`;
    // The API harness's Terminal checks every answer against openapi.yaml;
    // only its api() and login() are used (never its stop(), which would
    // remove the directory).
    this.http = new Terminal({ tmp: this.dir, dataDir: this.dataDir, port, child, logFile: this.logFile, exitPromise: this.exitPromise, exitedRef: () => this.exited, args: [] });
    this.tokens = {};
    return this;
  }

  /** Kills this kassad by PID with sig (SIGTERM gets SIGKILL after 5 s). */
  async kill(sig = 'SIGTERM') {
    if (!this.running) return;
    const pid = this.child.pid;
    try { process.kill(pid, sig); } catch { /* gone */ }
    const t = setTimeout(() => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
    await this.exitPromise;
    clearTimeout(t);
  }

  api(method, urlPath, opts) {
    assert.ok(this.http, `${this.node} not started`);
    return this.http.api(method, urlPath, opts);
  }

  /** A session token for cashier id (logged in once per start). */
  async token(id = 'ann') {
    if (!this.tokens[id]) {
      const s = STAFF.find((x) => x.id === id);
      this.tokens[id] = await this.http.login(id, s.pin);
    }
    return this.tokens[id];
  }

  async status() {
    return (await this.api('GET', '/api/v1/status', { expect: 200 })).json;
  }

  async healthy() {
    try {
      const r = await fetch(`${this.base}/healthz`, { signal: AbortSignal.timeout(2000) });
      await r.arrayBuffer();
      return r.status === 200;
    } catch {
      return false;
    }
  }

  /**
   * One sale through the API: open a cart, add the lines, check out with
   * cash for the exact total. Resolves to {id, node, lines, total, ackedAt}
   * once the checkout is acknowledged (201).
   */
  async sell(lines, cashier = 'ann') {
    const token = await this.token(cashier);
    const cart = (await this.api('POST', '/api/v1/carts', { token, expect: 201 })).json.cart_id;
    let c;
    for (const l of lines) {
      c = (await this.api('POST', `/api/v1/carts/${cart}/lines`, { token, body: { sku: l.sku, qty: l.qty }, expect: 200 })).json;
    }
    const sale = (await this.api('POST', `/api/v1/carts/${cart}/checkout`, { token, body: { tendered_minor: c.total_minor }, expect: 201 })).json;
    const ackedAt = Date.now();
    assert.deepEqual(sale.lines.map(({ sku, qty }) => ({ sku, qty })).sort(bySku), [...lines].sort(bySku));
    return { id: sale.sale_id, node: this.node, lines: lines.map(({ sku, qty }) => ({ sku, qty })), total: sale.total_minor, ackedAt };
  }

  /** A sale's {sku, qty} lines as this terminal's API has them, or null (404). */
  async saleLines(id) {
    const r = await this.api('GET', `/api/v1/sales/${encodeURIComponent(id)}`, { token: await this.token(), expect: [200, 404] });
    return r.status === 404 ? null : r.json.lines.map(({ sku, qty }) => ({ sku, qty })).sort(bySku);
  }

  // --- through the CLI, on the data directory ---
  cli(...args) { return kassa(this.dataDir, ...args); }
  async stateHash() { return (await this.cli('state-hash')).trim(); }
  async vv() { return JSON.parse(await this.cli('--json', 'vv')); }
  async saleIds() { return JSON.parse(await this.cli('--json', 'sales', 'list')).map((s) => s.sale_id); }
  async stock() {
    return Object.fromEntries(JSON.parse(await this.cli('--json', 'stock', 'show')).map((s) => [s.sku, s.stock]));
  }
}

const bySku = (a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0);
export { bySku };

/** The setup of a store's first terminal: demo catalog, STAFF, extra stock. */
export function fullSetup(store, node, stock = EXTRA_STOCK) {
  return setupCommands(STAFF, stock, { store, node });
}

// ---------------------------------------------------------------------------
// Checks over several terminals

/** The state hashes of terms, read at about the same time. */
export async function stateHashes(terms) {
  return Promise.all(terms.map((t) => t.stateHash()));
}

/** Waits until terms all have the same state hash; resolves to it. */
export async function waitConverged(terms, what, opts = {}) {
  let last = [];
  try {
    return await waitFor(what ?? `state-hash identical on ${terms.map((t) => t.node).join(' ')}`, async () => {
      last = await stateHashes(terms);
      return last.every((h) => h === last[0]) ? last[0] : false;
    }, { intervalMs: 20, ...opts });
  } catch (e) {
    e.message += `\n  hashes: ${terms.map((t, i) => `${t.node}=${(last[i] || '?').slice(0, 12)}`).join(' ')}` +
      `\n  vv: ${(await Promise.all(terms.map(async (t) => `${t.node}=${JSON.stringify(await t.vv().catch(() => '?'))}`))).join(' ')}`;
    throw e;
  }
}

/** Waits until term's status lists each of nodes as connected. */
export function waitLinked(term, nodes, opts = {}) {
  return waitFor(`${term.node} linked to ${nodes.join(' ')}`, async () => {
    const st = await term.status();
    const up = new Set(st.peers.filter((p) => p.connected).map((p) => p.node));
    return nodes.every((n) => up.has(n)) ? st : false;
  }, { timeoutMs: 15000, ...opts });
}

/**
 * Waits until every pair of terms has exactly the link both ends keep when
 * they dialled each other: each sees the other connected, and the link is
 * the one the smaller node id dialled (out on its side, in on the other).
 * Holds after a fresh start, where every terminal dials every address; not
 * after a reconnect, where a terminal does not dial a node it is already
 * linked with. Resolves to {node: status}.
 */
export function waitSettled(terms, opts = {}) {
  return waitFor('one link per pair, dialled by the smaller node id', async () => {
    const st = {};
    for (const t of terms) st[t.node] = await t.status();
    for (const a of terms) {
      for (const b of terms) {
        if (a.node >= b.node) continue;
        const ab = st[a.node].peers.find((p) => p.node === b.node);
        const ba = st[b.node].peers.find((p) => p.node === a.node);
        if (!ab?.connected || !ba?.connected || ab.direction !== 'out' || ba.direction !== 'in') return false;
      }
    }
    return st;
  }, { timeoutMs: 15000, intervalMs: 100, ...opts });
}

/** Waits until term's status shows none of nodes connected. */
export function waitUnlinked(term, nodes, opts = {}) {
  return waitFor(`${term.node} no longer linked to ${nodes.join(' ')}`, async () => {
    const st = await term.status();
    return st.peers.every((p) => !nodes.includes(p.node) || !p.connected) ? st : false;
  }, { timeoutMs: 15000, ...opts });
}

/**
 * Asserts the end state of a converged store: every sale of `sales` is
 * listed on every terminal, with the same lines; the stock of each SKU is
 * initial − the units of every sale the terminal holds; state hashes are
 * equal. base is baseline(): the stock and sale ids at the start of the
 * phase. `sales` are the sales acknowledged since; the terminals may hold
 * more (a sale committed but not acknowledged before a kill): those count
 * in the stock through the lines the terminal reports for them.
 */
export async function assertStoreConsistent(terms, base, sales) {
  const hashes = await stateHashes(terms);
  assert.ok(hashes.every((h) => h === hashes[0]), `state hashes differ: ${terms.map((t, i) => `${t.node}=${hashes[i]}`).join(' ')}`);
  const acked = new Map(sales.map((s) => [s.id, s]));
  assert.equal(acked.size, sales.length, 'every acknowledged sale has its own id');
  let reference = null;
  for (const t of terms) {
    const ids = await t.saleIds();
    const have = new Set(ids);
    const missing = sales.filter((s) => !have.has(s.id)).map((s) => s.id);
    assert.deepEqual(missing, [], `${t.node} lacks acknowledged sales`);
    if (reference === null) reference = [...have].sort();
    else assert.deepEqual([...have].sort(), reference, `${t.node} lists other sales than ${terms[0].node}`);
    // Lines as recorded at the checkout, for every acknowledged sale.
    const present = [];
    await Promise.all(ids.map(async (id) => {
      const lines = await t.saleLines(id);
      assert.ok(lines, `${t.node}: ${id} listed but not found`);
      if (acked.has(id)) assert.deepEqual(lines, [...acked.get(id).lines].sort(bySku), `${t.node}: lines of ${id}`);
      present.push({ id, lines });
    }));
    const sold = unitsSold(present.filter((s) => !base.sales.has(s.id)));
    const stock = await t.stock();
    assert.deepEqual(Object.keys(stock).sort(), Object.keys(base.items).sort(), `${t.node}: SKUs with stock`);
    for (const sku of Object.keys(base.items)) {
      assert.equal(stock[sku], base.items[sku] - (sold[sku] || 0),
        `${t.node}: stock of ${sku} = ${base.items[sku]} at the start - ${sold[sku] || 0} sold since`);
    }
  }
  return reference;
}

/** The stock and the sales of a converged terminal, as the baseline of a phase. */
export async function baseline(term) {
  return { items: await term.stock(), sales: new Set(await term.saleIds()) };
}

// ---------------------------------------------------------------------------
// A fault-injecting TCP proxy

/**
 * Listens on a free loopback port and forwards each connection to
 * 127.0.0.1:targetPort. cut('reset') destroys the live connections and
 * closes new ones at once (a peer that is down or a firewall's RST);
 * cut('blackhole') stops forwarding on live connections without closing
 * them, lets no close through either, and accepts new connections
 * without connecting them anywhere (a dead network: only timeouts notice). heal() destroys whatever the cut left
 * hanging and forwards new connections again.
 */
export class FaultProxy {
  constructor(targetPort) {
    this.targetPort = targetPort;
    this.mode = 'open';
    this.pairs = new Set(); // {a, b, holes: bool}
    this.stalled = new Set();
    this.accepted = 0;
    this.refused = 0;
    this.server = net.createServer((c) => this.onConnection(c));
  }

  listen() {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => {
        this.port = this.server.address().port;
        this.mesh?.ports.add(this.port);
        resolve(this);
      });
    });
  }

  get addr() {
    return `127.0.0.1:${this.port}`;
  }

  onConnection(c) {
    this.accepted++;
    c.on('error', () => {});
    if (this.mode === 'reset') {
      this.refused++;
      c.resetAndDestroy();
      return;
    }
    if (this.mode === 'blackhole') {
      this.stalled.add(c);
      c.on('data', () => {}); // read and drop
      c.on('close', () => this.stalled.delete(c));
      return;
    }
    const up = net.connect(this.targetPort, '127.0.0.1');
    up.on('error', () => {});
    const pair = { a: c, b: up, blackholed: false };
    this.pairs.add(pair);
    const forward = (from, to) => from.on('data', (d) => { if (!pair.blackholed) to.write(d); });
    forward(c, up);
    forward(up, c);
    // A close crosses the proxy, unless the link is black-holed: then the
    // other end is left hanging (nothing gets through a dead network)
    // until heal() destroys it.
    const end = () => {
      if (pair.blackholed) return;
      this.pairs.delete(pair);
      c.destroy();
      up.destroy();
    };
    c.on('close', end);
    up.on('close', end);
  }

  cut(mode = 'reset') {
    assert.ok(mode === 'reset' || mode === 'blackhole');
    this.mode = mode;
    for (const p of [...this.pairs]) {
      if (mode === 'reset') {
        p.a.resetAndDestroy();
        p.b.resetAndDestroy();
      } else {
        p.blackholed = true;
      }
    }
  }

  heal() {
    this.mode = 'open';
    for (const p of [...this.pairs]) {
      if (p.blackholed) {
        this.pairs.delete(p);
        p.a.destroy();
        p.b.destroy();
      }
    }
    for (const s of this.stalled) s.destroy();
    this.stalled.clear();
  }

  close() {
    for (const p of this.pairs) { p.a.destroy(); p.b.destroy(); }
    for (const s of this.stalled) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

// ---------------------------------------------------------------------------
// Raw peer-link clients (node:tls) and hand-made frames

/** One frame: u32 big-endian payload length, u8 type, payload. */
export function frame(type, payload = Buffer.alloc(0)) {
  const p = Buffer.from(payload);
  const h = Buffer.alloc(5);
  h.writeUInt32BE(p.length, 0);
  h[4] = type;
  return Buffer.concat([h, p]);
}

function pbBytes(field, bytes) {
  const b = Buffer.from(bytes);
  assert.ok(b.length < 128);
  return Buffer.concat([Buffer.from([(field << 3) | 2, b.length]), b]);
}

/** The payload of a Hello (proto/kassa_peer.proto) with an empty version vector. */
export function helloPayload(store, node, version = 1) {
  return Buffer.concat([Buffer.from([0x08, version]), pbBytes(2, store), pbBytes(3, node)]);
}

/**
 * A TLS 1.3 connection to a peer port presenting the device certificate of
 * certDir. verify: check the server's certificate against certDir/ca.crt
 * (its name is a URI, not a host name, so only the chain is checked).
 * Resolves once the client's side of the handshake is done, or the
 * connection failed; the result collects what arrives.
 */
export function tlsClient(port, certDir, { verify = true } = {}) {
  return new Promise((resolve) => {
    const rx = [];
    const c = {
      error: null,
      secure: false,
      closed: null,
      rx: () => Buffer.concat(rx),
      /** The first frame received: {type, length}, once it is whole. */
      firstFrame: (timeoutMs = 5000) => waitFor('the first frame from the peer', () => {
        const b = c.rx();
        if (b.length < 5) return false;
        const n = b.readUInt32BE(0);
        return b.length >= 5 + n ? { type: b[4], length: n } : false;
      }, { timeoutMs, intervalMs: 10 }),
      /** Resolves when the connection is closed; rejects after timeoutMs. */
      waitClosed: (timeoutMs = 5000) => Promise.race([
        c.closed,
        sleep(timeoutMs).then(() => { throw new Error(`the peer did not close the connection within ${timeoutMs} ms`); }),
      ]),
    };
    const sock = tls.connect({
      host: '127.0.0.1',
      port,
      key: fs.readFileSync(path.join(certDir, 'device.key')),
      cert: fs.readFileSync(path.join(certDir, 'device.crt')),
      ca: fs.readFileSync(path.join(certDir, 'ca.crt')),
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      rejectUnauthorized: verify,
      checkServerIdentity: () => undefined,
    });
    c.sock = sock;
    c.closed = new Promise((r) => sock.on('close', r));
    sock.on('data', (d) => rx.push(d));
    sock.on('error', (e) => { c.error = e; resolve(c); });
    sock.on('close', () => resolve(c));
    sock.once('secureConnect', () => { c.secure = true; resolve(c); });
  });
}

// ---------------------------------------------------------------------------
// Operations on the wire, built from `kassa export` files

function readUvarint(buf, pos) {
  let v = 0n;
  let shift = 0n;
  for (;;) {
    const b = buf[pos++];
    v |= BigInt(b & 0x7f) << shift;
    if (!(b & 0x80)) return [v, pos];
    shift += 7n;
  }
}

function uvarint(v) {
  let x = BigInt(v);
  const out = [];
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x) b |= 0x80;
    out.push(b);
  } while (x);
  return Buffer.from(out);
}

/**
 * The operations of an export file (src/oplog/oplog.h: "KASSAOPS" | u8
 * version | store | u32le count | ops | checksum; an op is origin, uvarint
 * seq, uvarint hlc, u8 kind, bytes payload, 32-byte hash; strings and bytes
 * are uvarint length + bytes).
 */
export function parseExport(buf) {
  assert.equal(buf.subarray(0, 8).toString('latin1'), 'KASSAOPS');
  let pos = 9;
  const bytes = () => {
    let n;
    [n, pos] = readUvarint(buf, pos);
    const b = buf.subarray(pos, pos + Number(n));
    pos += Number(n);
    return b;
  };
  const store = bytes().toString();
  const count = buf.readUInt32LE(pos);
  pos += 4;
  const ops = [];
  for (let i = 0; i < count; i++) {
    const origin = bytes().toString();
    let seq, hlc;
    [seq, pos] = readUvarint(buf, pos);
    [hlc, pos] = readUvarint(buf, pos);
    const kind = buf[pos++];
    const payload = bytes();
    const hash = buf.subarray(pos, pos + 32);
    pos += 32;
    ops.push({ origin, seq, hlc, kind, payload, hash });
  }
  assert.equal(pos + 32, buf.length, 'export file: checksum after the ops');
  return { store, ops };
}

const pbField = (field, wire) => uvarint((field << 3) | wire);
const pbLen = (field, b) => Buffer.concat([pbField(field, 2), uvarint(b.length), b]);
const pbInt = (field, v) => Buffer.concat([pbField(field, 0), uvarint(v)]);

/** An OpsBatch message (proto/kassa_peer.proto), not yet compressed. */
export function opsBatchMessage(ops) {
  return Buffer.concat(ops.map((o) => pbLen(1, Buffer.concat([
    pbLen(1, Buffer.from(o.origin)), pbInt(2, o.seq), pbInt(3, o.hlc), pbInt(4, o.kind),
    pbLen(5, o.payload), pbLen(6, o.hash),
  ]))));
}

/**
 * data compressed as one zstd frame with its content size (the zstd
 * command, which scripts/deps.sh installs).
 */
export async function zstdFrame(data, dir) {
  const file = path.join(dir, `zstd-${process.pid}-${Date.now()}.bin`);
  fs.writeFileSync(file, data);
  try {
    const { stdout } = await execFileP('zstd', ['-q', '-c', file], { encoding: 'buffer' });
    return stdout;
  } finally {
    fs.rmSync(file, { force: true });
  }
}
