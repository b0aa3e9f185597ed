// What the API tests of card payments share (contract.test.mjs,
// validation.test.mjs): a terminal wired to the payment simulators of
// tests/lib/paysims.mjs, waiting for the forwarder, and the way to a review
// item: an offline card payment that the processor declines when it is
// forwarded (docs/PAYMENTS.md, "Forwarding" and "The review list").

import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { sleep } from '../lib/kassad.mjs';
import { CARDS, startPaySims } from '../lib/paysims.mjs';
import { startTerminal } from './harness.mjs';

export { CARDS };

/**
 * Stops one simulator (which: 'reader' or 'processor') by its PID, as
 * paysims' stopProcessor()/stopReader() do (SIGTERM, SIGKILL after 5 s),
 * but clears its 5 s timer once the process exited: paysims leaves that
 * timer armed, which keeps the test process alive 5 s after the last stop.
 */
async function stopSim(sims, which) {
  const p = sims[which];
  sims[which] = null;
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  let timer;
  await Promise.race([p.exited, new Promise((resolve) => { timer = setTimeout(resolve, 5000); })]);
  clearTimeout(timer);
  if (p.child.exitCode === null && p.child.signalCode === null) {
    p.child.kill('SIGKILL');
    await p.exited;
  }
}

/** sims.stopProcessor() without the lingering timer (see stopSim). */
export const stopProcessor = (sims) => stopSim(sims, 'processor');

/** sims.stopReader() without the lingering timer (see stopSim). */
export const stopReader = (sims) => stopSim(sims, 'reader');

/**
 * sims.startReader(), then waits until the reader accepts connections
 * (startReader returns once the socket file exists, which the reader
 * creates just before it listens).
 */
export async function startReader(sims) {
  await sims.startReader();
  await waitFor('the reader to listen', () => new Promise((resolve) => {
    const c = net.connect(sims.socket);
    c.on('connect', () => { c.destroy(); resolve(true); });
    c.on('error', () => resolve(false));
  }), 5000);
}

/** sims.stop() without the lingering timers (see stopSim). */
export async function stopSims(sims) {
  try {
    await stopSim(sims, 'reader');
  } finally {
    await stopSim(sims, 'processor');
  }
}

/**
 * Starts the simulators, then a terminal whose [payments] section points at
 * them (payments: overrides of sims.kassadConfig(); the other options go to
 * startTerminal). Returns {term, sims, stop}: stop() stops the terminal and
 * the simulators and removes their directory. When the start fails, what
 * was started is stopped before the error is thrown.
 */
export async function startCardTerminal({ payments = {}, config = {}, ...opts } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kassa-api-pay-'));
  let sims = null;
  let term = null;
  const stop = async () => {
    try {
      await term?.stop();
    } finally {
      try {
        if (sims) await stopSims(sims);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  };
  try {
    sims = await startPaySims({ dir });
    term = await startTerminal({ ...opts, config: { ...config, payments: sims.kassadConfig(payments) } });
  } catch (e) {
    await stop();
    throw e;
  }
  return { term, sims, stop };
}

/** Polls fn (async) every 50 ms until it returns something truthy. */
export async function waitFor(what, fn, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** Waits until nothing waits for the processor (captures, stored payments, refunds). */
export function waitForwarded(term, token) {
  return waitFor('the forwarder to send everything due', async () => {
    const r = await term.api('GET', '/api/v1/payments/pending', { token, expect: 200 });
    return r.json.due_count === 0 ? r.json : null;
  });
}

/** Opens a cart with lines ([{sku, qty}]); returns the Cart. */
export async function openCart(term, token, lines) {
  let cart = (await term.api('POST', '/api/v1/carts', { token, expect: 201 })).json;
  for (const line of lines) {
    cart = (await term.api('POST', `/api/v1/carts/${cart.cart_id}/lines`, { token, body: line, expect: 200 })).json;
  }
  return cart;
}

/**
 * A review item: with the processor stopped, a card checkout (the card
 * CARDS.insufficientFunds, for the whole total of `lines`) is accepted
 * offline (201, card.mode "offline"); whileOffline() then runs, if given;
 * the processor is started again (same port), POST /api/v1/payments/forward
 * forwards the stored payment, the processor declines it, and GET
 * /api/v1/payments/review (as reviewer, a supervisor's or manager's token)
 * lists it. Returns {sale, pending (GET /api/v1/payments/pending while
 * offline), forward (the 202 answer), item (the ReviewItem), after (GET
 * /api/v1/payments/pending once everything was forwarded)}.
 */
export async function declinedOffline(term, sims, { token, reviewer, lines = [{ sku: 'COF-250', qty: 1 }], whileOffline } = {}) {
  await stopProcessor(sims);
  let sale;
  let pending;
  try {
    const cart = await openCart(term, token, lines);
    sims.present(CARDS.insufficientFunds);
    sale = (await term.api('POST', `/api/v1/carts/${cart.cart_id}/checkout`, {
      token, body: { tendered_minor: 0, card_minor: cart.total_minor }, expect: 201,
    })).json;
    pending = (await term.api('GET', '/api/v1/payments/pending', { token, expect: 200 })).json;
    if (whileOffline) await whileOffline();
  } finally {
    await sims.startProcessor();
  }
  const forward = (await term.api('POST', '/api/v1/payments/forward', { token, expect: 202 })).json;
  const item = await waitFor(`review item ${sale.card.payment_id}`, async () => {
    const r = await term.api('GET', '/api/v1/payments/review', { token: reviewer, expect: 200 });
    return r.json.payments.find((p) => p.payment_id === sale.card.payment_id);
  });
  const after = await waitForwarded(term, token);
  return { sale, pending, forward, item, after };
}
