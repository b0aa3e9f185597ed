// What the Node harnesses (tests/api/harness.mjs, tests/browser/harness.mjs)
// share to start a throwaway kassad: the repository root (kassad's cwd, so
// its default web root `web` resolves), a free loopback port, the kassa CLI
// calls that set up a fresh terminal, and the tail of the daemon's log.

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CATALOG_CSV = path.join(REPO, 'data', 'demo', 'catalog.csv');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Binds port on loopback and closes it: the port, or null when taken. */
function tryPort(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', () => resolve(null));
    srv.listen(port, '127.0.0.1', () => {
      const got = srv.address().port;
      srv.close(() => resolve(got));
    });
  });
}

/**
 * A TCP port that was free a moment ago. Drawn below Linux's ephemeral range
 * (32768-60999 by default): a port bind(0) hands out is from that range,
 * and the outgoing connections of the daemons already running take their
 * source ports from it too, so a port picked there can be taken by one
 * before the daemon it was meant for binds it.
 */
export async function freePort() {
  for (let i = 0; i < 200; i++) {
    const got = await tryPort(20000 + Math.floor(Math.random() * 12768));
    if (got !== null) return got;
  }
  const got = await tryPort(0);
  if (got === null) throw new Error('no free loopback port');
  return got;
}

/**
 * The kassa CLI calls (the arguments after `--data DIR`) that set up a fresh
 * terminal: init as store S1, node T1 (or the store and node given); the
 * demo catalog; each of staff ({id, name, role, pin}) as a cashier; stock
 * ({SKU: qty}) received.
 */
export function setupCommands(staff, stock = {}, { store = 'S1', node = 'T1' } = {}) {
  const cmds = [
    ['init', '--store', store, '--node', node],
    ['catalog', 'import', CATALOG_CSV],
  ];
  for (const s of staff) cmds.push(['cashier', 'add', s.id, '--name', s.name, '--role', s.role, '--pin', s.pin]);
  for (const [sku, qty] of Object.entries(stock)) cmds.push(['stock', 'receive', `${sku}:${qty}`]);
  return cmds;
}

/** The last 4000 characters of a log file, or '(no log)'. */
export function readLog(file) {
  try {
    return fs.readFileSync(file, 'utf8').slice(-4000);
  } catch {
    return '(no log)';
  }
}
