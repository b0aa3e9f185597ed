// Harness of the kassa-cloud tests (tests/cloud/*.test.mjs).
//
// A World is one test file's world: a temporary directory holding a
// company CA (`kassa ca init`), the cloud's certificate (`kassa ca issue
// --store CLOUD --node cloud-1`), the device certificates of the stores'
// terminals, an admin token file, terminals' data directories made with the
// real `kassa` CLI, databases (pg.mjs, in the cluster of KASSA_PG_DIR) and
// the kassa-cloud processes started on them. Each kassa-cloud listens on
// 127.0.0.1:0 and the port is read from its "start" log line; its log lines
// are kept (cloud.logLines()) so tests can check that refusals are logged.
// Every process is killed by its PID (never by name) when the world is
// destroyed or the test process exits; databases are dropped and the
// directory removed.
//
// Upload bodies are export files written by `kassa export` (content type
// application/x-kassa-export, which kassa-cloud accepts besides wire
// frames): tests sell with the CLI and upload what the terminal holds.
//
// Environment: KASSA_BIN (directory of kassa and kassa-cloud, default
// build/bin), KASSA_PG_DIR (the PostgreSQL cluster, scripts/pg-cluster.sh),
// KASSA_CLOUD_LOG=1 prints every kassa-cloud's log when its world ends.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { CATALOG_CSV, REPO, sleep } from '../lib/kassad.mjs';
import { frame, opsBatchMessage, parseExport, zstdFrame } from '../peer/harness.mjs';
import { pgDatabase } from './pg.mjs';

export { CATALOG_CSV, REPO, sleep };

export const BIN = process.env.KASSA_BIN || path.join(REPO, 'build', 'bin');
export const KASSA = path.join(BIN, 'kassa');
export const CLOUD = path.join(BIN, 'kassa-cloud');
export const EXPORT_TYPE = 'application/x-kassa-export';
export const TOKEN = 'test-admin-token-0123456789abcdef';

const live = new Set(); // child processes to kill on exit
process.on('exit', () => {
  for (const child of live) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/**
 * kassa ARGS... from the repository root; resolves to its stdout (a Buffer
 * when binary), rejects with its stderr.
 */
export function kassa(args, { binary = false } = {}) {
  const opts = { cwd: REPO, encoding: binary ? 'buffer' : 'utf8', maxBuffer: 256 << 20 };
  return new Promise((resolve, reject) => {
    execFile(KASSA, args, opts, (e, stdout, stderr) => {
      if (!e) resolve(stdout);
      else reject(new Error(`kassa ${args.join(' ')}: exit ${e.code}: ${String(stderr).trim() || e.message}`));
    });
  });
}

/** Runs a program to its end; resolves to {code, stdout, stderr} (code 0 on success). */
export function runProgram(file, args, { binary = false } = {}) {
  const opts = { cwd: REPO, encoding: binary ? 'buffer' : 'utf8', maxBuffer: 256 << 20 };
  return new Promise((resolve) => {
    execFile(file, args, opts, (e, stdout, stderr) => resolve({ code: e ? e.code : 0, stdout, stderr: String(stderr) }));
  });
}

// ---------------------------------------------------------------------------
// Terminals: a data directory driven by the kassa CLI

export class Terminal {
  constructor(dir, store, node) {
    this.dir = dir;
    this.store = store;
    this.node = node;
  }

  run(...args) {
    return kassa(['--data', this.dir, ...args]);
  }

  async json(...args) {
    return JSON.parse(await kassa(['--data', this.dir, '--json', ...args]));
  }

  /** Sells lines [{sku, qty}] for cash; resolves to the sale id. */
  async sell(lines) {
    const args = ['sale'];
    for (const l of lines) args.push('--line', `${l.sku}:${l.qty}`);
    args.push('--pay', 'cash:100000');
    return (await this.json(...args)).sale_id;
  }

  /** The export file of everything it holds, or above the version vector since ({origin: seq}). */
  async exportOps(since) {
    const args = ['--data', this.dir, 'export'];
    if (since) {
      const file = path.join(this.dir, `since-${process.hrtime.bigint()}.vv`);
      fs.writeFileSync(file, Object.entries(since).map(([o, s]) => `${o} ${s}\n`).join(''));
      args.push('--since', file);
    }
    return kassa(args, { binary: true });
  }

  /** Applies another terminal's export file. */
  async importOps(buf) {
    const file = path.join(this.dir, `import-${process.hrtime.bigint()}.ops`);
    fs.writeFileSync(file, buf);
    return this.run('import', file);
  }

  async vv() {
    return this.json('vv');
  }

  /** {sku: stock} as this terminal sees it. */
  async stock() {
    const rows = await this.json('stock', 'show');
    return Object.fromEntries(rows.map((r) => [r.sku, r.stock]));
  }
}

// ---------------------------------------------------------------------------
// HTTPS clients

/**
 * A client of one kassa-cloud: with a device certificate directory (the
 * store's identity), or none (admin routes, or to be refused).
 */
export class Client {
  constructor(cloud, certDir, { token } = {}) {
    this.cloud = cloud;
    this.token = token;
    const opts = {
      keepAlive: true,
      ca: fs.readFileSync(path.join(cloud.world.caDir, 'ca.crt')),
      // the cloud's certificate names urn:kassa:store:CLOUD:node:cloud-1, not 127.0.0.1
      checkServerIdentity: () => undefined,
      rejectUnauthorized: true,
    };
    if (certDir) {
      opts.key = fs.readFileSync(path.join(certDir, 'device.key'));
      opts.cert = fs.readFileSync(path.join(certDir, 'device.crt'));
    }
    this.agent = new https.Agent(opts);
  }

  /**
   * One request; resolves to {status, headers, text, json}. body: a Buffer
   * (sent as is, with contentType, default the wire type) or an object
   * (JSON).
   */
  request(method, urlPath, { body, contentType, headers = {}, token = this.token } = {}) {
    const h = { ...headers };
    let data;
    if (Buffer.isBuffer(body)) {
      data = body;
      if (contentType !== null) h['Content-Type'] = contentType ?? 'application/octet-stream';
    } else if (body !== undefined) {
      data = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
      h['Content-Type'] = contentType ?? 'application/json';
    }
    if (data) h['Content-Length'] = data.length;
    if (token) h.Authorization = `Bearer ${token}`;
    return new Promise((resolve, reject) => {
      const req = https.request(
        { host: '127.0.0.1', port: this.cloud.port, method, path: urlPath, headers: h, agent: this.agent },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json;
            try {
              json = JSON.parse(text);
            } catch {
              json = undefined;
            }
            resolve({ status: res.statusCode, headers: res.headers, text, json });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.setTimeout(60000, () => req.destroy(new Error(`${method} ${urlPath}: no answer in 60 s`)));
      if (data) req.write(data);
      req.end();
    });
  }

  get(p, opts) {
    return this.request('GET', p, opts);
  }

  put(p, body, opts) {
    return this.request('PUT', p, { ...opts, body });
  }

  /** POST /v1/stores/{store}/ops with an export file. */
  upload(store, exportFile, opts = {}) {
    return this.request('POST', `/v1/stores/${store}/ops`, { body: exportFile, contentType: EXPORT_TYPE, ...opts });
  }

  close() {
    this.agent.destroy();
  }
}

/** Asserts an error answer: status, the contract's shape, and the message matching re. */
export function assertError(res, status, re) {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text}`);
  assert.ok(res.json && res.json.error, `error shape: ${res.text}`);
  assert.equal(typeof res.json.error.code, 'string');
  assert.equal(typeof res.json.error.message, 'string');
  if (re) assert.match(res.json.error.message, re);
}

// ---------------------------------------------------------------------------
// kassa-cloud processes

function parseLine(line) {
  try {
    return JSON.parse(line);
  } catch {
    return { unparsed: line };
  }
}

export class Cloud {
  constructor(world, db, args) {
    this.world = world;
    this.db = db;
    this.args = args;
    this.lines = [];
    this.clients = [];
    this.events = new EventEmitter(); // 'line' (parsed), 'exit'
  }

  async start() {
    const child = spawn(CLOUD, this.args, { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    live.add(child);
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        live.delete(child);
        resolve({ code, signal });
      });
    });
    child.on('exit', () => this.events.emit('exit'));
    const rl = readline.createInterface({ input: child.stderr });
    rl.on('line', (line) => {
      this.lines.push(line);
      this.events.emit('line', parseLine(line));
    });
    const started = await this.waitLog('"start"', (l) => l.event === 'start', 20000);
    this.port = started.port;
    return this;
  }

  /**
   * The first log line (parsed) for which pred is true, logged already or
   * to come; rejects after timeoutMs or when the process exits first.
   */
  waitLog(what, pred, timeoutMs = 10000) {
    const seen = this.logLines().find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const finish = (err, line) => {
        clearTimeout(timer);
        this.events.off('line', onLine);
        this.events.off('exit', onExit);
        if (err) reject(new Error(`${err}; its log:\n${this.lines.join('\n')}`));
        else resolve(line);
      };
      const onLine = (line) => pred(line) && finish(null, line);
      const onExit = () => finish(`kassa-cloud exited before logging ${what}`);
      const timer = setTimeout(() => finish(`no ${what} in kassa-cloud's log after ${timeoutMs} ms`), timeoutMs);
      this.events.on('line', onLine);
      this.events.on('exit', onExit);
    });
  }

  /** The log as parsed JSON lines. */
  logLines() {
    return this.lines.map(parseLine);
  }

  /** A client with the device certificate of store/node (issued on first use), or none (null). */
  async client(store, node, opts) {
    const dir = store ? await this.world.issue(store, node) : null;
    const c = new Client(this, dir, opts);
    this.clients.push(c);
    return c;
  }

  /** A client holding the admin token and no certificate. */
  admin() {
    const c = new Client(this, null, { token: TOKEN });
    this.clients.push(c);
    return c;
  }

  /** SIGTERM and wait: resolves to the exit {code, signal}. */
  async stop(signal = 'SIGTERM') {
    if (this.child.exitCode === null && this.child.signalCode === null) process.kill(this.child.pid, signal);
    const e = await this.exited;
    for (const c of this.clients) c.close();
    return e;
  }

  signal(sig) {
    process.kill(this.child.pid, sig);
  }
}

export class World {
  static async create(name) {
    const w = new World();
    w.name = name;
    w.dir = fs.mkdtempSync(path.join(os.tmpdir(), `kassa-cloud-${name}-`));
    w.caDir = path.join(w.dir, 'ca');
    w.certs = new Map();
    w.clouds = [];
    w.dbs = [];
    await kassa(['ca', 'init', '--dir', w.caDir]);
    w.cloudDir = path.join(w.dir, 'cloud-tls');
    await kassa(['ca', 'issue', '--dir', w.caDir, '--store', 'CLOUD', '--node', 'cloud-1', '--out', w.cloudDir]);
    w.tokenFile = path.join(w.dir, 'admin.token');
    fs.writeFileSync(w.tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    return w;
  }

  /** The device certificate directory of store/node (issued once). */
  async issue(store, node) {
    const key = `${store}/${node}`;
    if (!this.certs.has(key)) {
      const out = path.join(this.dir, 'certs', `${store}-${node}`);
      fs.mkdirSync(path.dirname(out), { recursive: true });
      await kassa(['ca', 'issue', '--dir', this.caDir, '--store', store, '--node', node, '--out', out]);
      this.certs.set(key, out);
    }
    return this.certs.get(key);
  }

  /** A fresh database (dropped with the world). */
  async database(name) {
    const db = await pgDatabase(`cloud_${this.name}_${name}`);
    this.dbs.push(db);
    return db;
  }

  /** The arguments kassa-cloud is started with (opts.args appended). */
  cloudArgs(db, { crl = false, maxBodyBytes, args = [] } = {}) {
    const a = ['--listen', '127.0.0.1:0', '--pg', db.conninfo, '--tls-dir', this.cloudDir,
      '--ca-cert', path.join(this.caDir, 'ca.crt'), '--admin-token-file', this.tokenFile];
    if (crl) a.push('--crl', path.join(this.caDir, 'crl.pem'));
    if (maxBodyBytes) a.push('--max-body-bytes', String(maxBodyBytes));
    return [...a, ...args];
  }

  /** Starts kassa-cloud on db. */
  async cloud(db, opts = {}) {
    const c = new Cloud(this, db, this.cloudArgs(db, opts));
    this.clouds.push(c);
    return c.start();
  }

  /** A terminal of store/node: initialised, the demo catalog imported (which receives its stock). */
  async terminal(store, node, { catalog = true } = {}) {
    const dir = path.join(this.dir, 'terminals', `${store}-${node}-${this.clouds.length}-${process.hrtime.bigint()}`);
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    const t = new Terminal(dir, store, node);
    await t.run('init', '--store', store, '--node', node);
    if (catalog) await t.run('catalog', 'import', CATALOG_CSV);
    return t;
  }

  /**
   * Stops every kassa-cloud, drops the databases, removes the directory;
   * then fails if a kassa-cloud did not exit 0 on SIGTERM or its log holds a
   * sanitizer report (a leak found at exit, say).
   */
  async destroy() {
    const problems = [];
    for (const c of this.clouds) {
      const e = await c.stop();
      const log = c.lines.join('\n');
      if (process.env.KASSA_CLOUD_LOG) process.stderr.write(`--- kassa-cloud log (${e.code ?? e.signal}):\n${log}\n`);
      if (e.code !== 0 || /Sanitizer|runtime error:/.test(log)) problems.push(`kassa-cloud exited ${e.code ?? e.signal}:\n${log.slice(-4000)}`);
    }
    for (const db of this.dbs) db.drop();
    fs.rmSync(this.dir, { recursive: true, force: true });
    assert.deepEqual(problems, []);
  }
}

// ---------------------------------------------------------------------------
// Wire frames (src/wire/wire.h) from export files, so the store side's
// format is tested with real operations too. The peer tests' helpers parse
// the export file and encode the OpsBatch; here the hashes inside each run
// are left out (an empty hash field), as the real encoder does, so the
// decoder's chain recomputation is what the cloud stores.

export { parseExport };

const follows = (a, b) => a && b && a.origin === b.origin && a.seq + 1n === b.seq;

/** One OpsBatch frame of ops (as parseExport gives them). */
export async function wireFrame(ops, dir) {
  const sent = ops.map((op, i) => (follows(ops[i - 1], op) && follows(op, ops[i + 1]) ? { ...op, hash: Buffer.alloc(0) } : op));
  return frame(2, await zstdFrame(opsBatchMessage(sent), dir)); // 2: WIRE_OPS_BATCH
}

/** One value of psql -A -t output (first column of the first row), as a string. */
export function scalar(db, sql) {
  return db.psql(sql).trim();
}
