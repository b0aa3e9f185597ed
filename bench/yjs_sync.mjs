#!/usr/bin/env node
// Catch-up benchmark, Yjs side: the same workload as kassa's peer
// replication benchmark, run with npm yjs so the two figures can be printed
// side by side.
//
// 5 replicas (one Y.Doc per Node process, bench/yjs_replica.mjs, as kassa
// runs one daemon per terminal) each make N sales while disconnected: a
// G-counter per SKU (Y.Map "stock", key `${sku}/${clientID}` -> that
// replica's own count; the total is the sum over replicas) and one record per
// sale (Y.Array "sales"). Then every pair of replicas connects once over
// loopback TCP and syncs by state vectors, all pairs at once. We time from
// the "connect" command until the last replica has everything, and count the
// bytes written to the sockets (all links, both directions, framing
// included).
//
//   node bench/yjs_sync.mjs [--sales N] [--skus K] [--replicas R] [--timeout-ms T]
//
// Human-readable lines go to stdout, then ONE final line of JSON, which the
// C benchmark parses. Failures go to stderr and exit non-zero.

import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const REPLICA_SCRIPT = path.join(here, 'yjs_replica.mjs');
const MAX_ROUNDS = 10;

function usage(msg) {
  console.error(`yjs_sync: ${msg}`);
  console.error('usage: node bench/yjs_sync.mjs [--sales N] [--skus K] [--replicas R] [--timeout-ms T]');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { sales: 100000, skus: 1000, replicas: 5, timeoutMs: 120000 };
  const names = { '--sales': 'sales', '--skus': 'skus', '--replicas': 'replicas', '--timeout-ms': 'timeoutMs' };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let value;
    const eq = arg.indexOf('=');
    if (eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    if (arg === '-h' || arg === '--help') usage('help');
    const key = names[arg];
    if (!key) usage(`unknown argument ${arg}`);
    if (value === undefined) value = argv[++i];
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) usage(`${arg} wants a positive integer, got ${value}`);
    opts[key] = n;
  }
  if (opts.replicas < 2) usage('--replicas must be at least 2');
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const yjsVersion = createRequire(import.meta.url)('yjs/package.json').version;
const nowMs = () => Number(process.hrtime.bigint()) / 1e6; // same clock as the children

// ---- children ---------------------------------------------------------------

const children = [];
let failing = false;

function fail(msg) {
  if (failing) return;
  failing = true;
  console.error(`yjs_sync: FAILED: ${msg}`);
  // Only the processes we forked, by their handles.
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  process.exit(1);
}

// Resolves with the next message of `type` from every child, in index order.
function fromAll(type) {
  return Promise.all(
    children.map(
      (c) =>
        new Promise((resolve) => {
          const on = (msg) => {
            if (msg.type === type) {
              c.off('message', on);
              resolve(msg);
            }
          };
          c.on('message', on);
        }),
    ),
  );
}

function withTimeout(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${opts.timeoutMs} ms (--timeout-ms)`)), opts.timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function broadcast(msg) {
  for (const c of children) c.send(msg);
}

async function main() {
  const { sales: n, skus, replicas } = opts;
  const total = replicas * n;

  for (let i = 0; i < replicas; i++) {
    const c = fork(REPLICA_SCRIPT, [String(i)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    c.on('exit', (code, signal) => {
      if (!c.finished) fail(`replica ${i} exited early (code ${code}, signal ${signal})`);
    });
    children.push(c);
  }
  const ready = await withTimeout(fromAll('ready'), 'starting the replicas');
  const ids = new Set(ready.map((r) => r.clientID));
  if (ids.size !== replicas) fail('two replicas got the same Yjs clientID');

  console.log(`yjs ${yjsVersion}: ${replicas} replicas (one process each), ${n} sales each over ${skus} SKUs`);

  // Local sales, all replicas at once, disconnected. Not part of catch-up.
  const salesStart = nowMs();
  const salesDone = fromAll('sales-done');
  broadcast({ cmd: 'sales', n, skus });
  const salesReports = await withTimeout(salesDone, 'local sales');
  const localMs = Math.max(...salesReports.map((m) => m.endMs)) - salesStart;
  console.log(`local sales: ${localMs.toFixed(1)} ms (slowest replica, all running at once)`);

  // What every replica must end up with: per SKU, the sum of what each
  // replica sold locally (counted outside Yjs, by the replica itself).
  const expected = new Array(skus).fill(0);
  for (const m of salesReports) m.counts.forEach((c, sku) => (expected[sku] += c));

  // Catch-up. Replica i dials every j > i, so each pair has exactly one link.
  const catchupStart = nowMs();
  let rounds = 0;
  let reports;
  const catchup = (async () => {
    for (;;) {
      rounds += 1;
      if (rounds > MAX_ROUNDS) throw new Error(`not converged after ${MAX_ROUNDS} state-vector rounds`);
      const roundDone = fromAll('round');
      if (rounds === 1) {
        children.forEach((c, i) =>
          c.send({
            cmd: 'connect',
            replicas,
            expectedSales: total,
            peerPorts: ready.slice(i + 1).map((r) => r.port),
          }),
        );
      } else {
        // Some replica is still missing operations (e.g. held back as pending
        // by Yjs for lack of a dependency): exchange state vectors again.
        broadcast({ cmd: 'round', round: rounds });
      }
      reports = await roundDone;
      if (reports.every((r) => r.converged)) return;
    }
  })();
  await withTimeout(catchup, 'catch-up');
  const catchupMs = Math.max(...reports.map((r) => r.convergedAtMs)) - catchupStart;

  // Collect stats and check the replicas really agree.
  const statsDone = fromAll('stats');
  for (const c of children) c.finished = true;
  broadcast({ cmd: 'finish', skus });
  const stats = await withTimeout(statsDone, 'collecting stats');

  let wireBytes = 0;
  stats.forEach((s, i) => {
    if (s.socketBytes !== s.framedBytes)
      fail(`replica ${i}: socket counted ${s.socketBytes} bytes written, frames add up to ${s.framedBytes}`);
    if (s.salesLength !== total) fail(`replica ${i}: ${s.salesLength} sale records, want ${total}`);
    for (let sku = 0; sku < skus; sku++)
      if (s.totals[sku] !== expected[sku])
        fail(`replica ${i}: SKU ${sku} counts ${s.totals[sku]}, want ${expected[sku]}`);
    wireBytes += s.socketBytes;
  });
  const rssMaxMb = Math.max(...stats.map((s) => s.maxRssKb)) / 1024;
  const delivered = total * (replicas - 1); // every sale must reach every other replica

  console.log(`catch-up: ${catchupMs.toFixed(1)} ms to full convergence, ${rounds} state-vector round(s)`);
  console.log(
    `wire: ${wireBytes} bytes, ${(wireBytes / total).toFixed(2)} bytes/sale, ` +
      `${(wireBytes / delivered).toFixed(2)} bytes/delivered sale`,
  );
  console.log(`peak RSS: ${rssMaxMb.toFixed(1)} MB largest replica, ${(stats.reduce((a, s) => a + s.maxRssKb, 0) / 1024).toFixed(1)} MB all`);
  console.log(
    JSON.stringify({
      peer: 'yjs',
      version: yjsVersion,
      replicas,
      sales_per_replica: n,
      local_ms: round(localMs, 1),
      catchup_ms: round(catchupMs, 1),
      rounds,
      wire_bytes: wireBytes,
      bytes_per_sale: round(wireBytes / total, 3),
      bytes_per_delivered_sale: round(wireBytes / delivered, 3),
      rss_max_mb: round(rssMaxMb, 1),
    }),
  );
}

function round(x, digits) {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

main().catch((err) => fail(err.message));
