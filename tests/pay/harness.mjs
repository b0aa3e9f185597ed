// Harness of the card payment integration tests (tests/pay/*.test.mjs).
//
// A PayWorld is one test's world: a Mesh of the peer harness (a fresh
// temporary directory; every kassad it starts is killed by its PID and the
// directory removed when the world is destroyed) with the two payment
// simulators of tests/lib/paysims.mjs in it, and one or more terminals
// (PeerTerminal) whose [payments] section points at the simulators. A Till
// wraps a terminal with the card-path calls the tests make: carts, card
// checkouts, the payments status, the review list, the drawer, the sales
// with their card tenders, the audit log (CLI), restarts and kill -9.
//
// Every HTTP answer goes through the API harness's Terminal.api(), so it is
// also checked against docs/api/openapi.yaml.
//
// Also here: the card number scanner of the PCI test (scanPans, findNumbers)
// and small helpers (Luhn, processor log parsing, test scale).
//
// Environment: KASSA_BIN (binaries, default build/bin), KASSA_TEST_SCALE=asan
// (iteration counts scaled down to a third), KASSA_PAY_LOG=1 (print every
// daemon's log tail when a world is destroyed).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { CARDS, FUTURE_EXPIRY, startPaySims } from '../lib/paysims.mjs';
import {
  Mesh, STAFF, fullSetup, kassa, kassaBuffer, parseLog, rng, sleep, waitFor,
} from '../peer/harness.mjs';

export { CARDS, FUTURE_EXPIRY, STAFF, kassa, kassaBuffer, parseLog, rng, sleep, waitFor };

/** 1 in the release build, 1/3 under ASan (KASSA_TEST_SCALE=asan). */
export const SCALE = process.env.KASSA_TEST_SCALE === 'asan' ? 1 / 3 : 1;
export const scaled = (n, min = 1) => Math.max(min, Math.round(n * SCALE));
export const ASAN = SCALE < 1;

/** The approving test cards. */
export const APPROVING = [CARDS.visa, CARDS.visa2, CARDS.mastercard, CARDS.amex];
export const BRAND = {
  [CARDS.visa]: 'visa', [CARDS.visa2]: 'visa', [CARDS.mastercard]: 'mastercard', [CARDS.amex]: 'amex',
  [CARDS.insufficientFunds]: 'visa', [CARDS.stolen]: 'visa', [CARDS.expiredByProcessor]: 'visa', [CARDS.networkTimeout]: 'visa',
};
export const PAST_EXPIRY = '01/20';

// ---------------------------------------------------------------------------
// Luhn and card numbers

export function luhnOk(digits) {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** prefix + the check digit that makes it Luhn-valid. */
export function luhnComplete(prefix) {
  for (let d = 0; d < 10; d++) if (luhnOk(prefix + d)) return prefix + d;
  throw new Error('unreachable');
}

/** n distinct Luhn-valid 16-digit visa numbers (not test cards), deterministic by seed. */
export function extraCards(n, seed = 7) {
  const pick = rng(seed);
  const out = new Set();
  while (out.size < n) {
    let p = '4916';
    while (p.length < 15) p += String(pick(10));
    out.add(luhnComplete(p));
  }
  return [...out];
}

// ---------------------------------------------------------------------------
// The scanner of the PCI test

/**
 * Card numbers in raw bytes. A run is a sequence of ASCII digits where a
 * single ' ' or '-' between two digits is read through (so
 * "4111 1111 1111 1111" and "4111-1111-1111-1111" are runs of 16 digits).
 * A run of 13..19 digits that passes Luhn and starts with a payment-card
 * major industry identifier (first digit 2..6: ISO/IEC 7812 banking and
 * financial, travel and entertainment, merchandising) is a hit. Inside a
 * longer run (or one failing Luhn as a whole) every window of 13, 15, 16
 * or 19 digits that passes Luhn and starts like a brand issuing that
 * length (visa 4: 13, 16, 19; mastercard 51-55, 2221-2720: 16; amex 34,
 * 37: 15; discover 6011, 644-649, 65: 16, 19) is a hit, so a card number
 * glued to an unrelated digit of a binary page is still found (the rules
 * of pay_scan_pans in src/pay/pan.c, which this does not call).
 *
 * The first-digit filter keeps millisecond timestamps and HLC values
 * (which start with 1) out; without it one 13-digit timestamp in ten
 * would be a "card". A run inside a long identifier (a hex hash or token:
 * at least 20 letters and digits in a row, letters included) is reported
 * in `identifiers`, not in `hits`: a keyed hash is not a card number. The
 * direct search (findNumbers) for the test cards does not have these
 * exceptions.
 *
 * Returns {hits: [{offset, digits, context}], identifiers: [...]}.
 */
export function scanPans(buf) {
  const hits = [];
  const identifiers = [];
  const n = buf.length;
  const isDigit = (c) => c >= 48 && c <= 57;
  const isAlnum = (c) => isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
  const cardLike = (d) => d.length >= 13 && d.length <= 19 && d[0] >= '2' && d[0] <= '6' && luhnOk(d);
  const brandLen = (d) => {
    const p2 = Number(d.slice(0, 2));
    const p3 = Number(d.slice(0, 3));
    const p4 = Number(d.slice(0, 4));
    const n = d.length;
    if (d[0] === '4') return n === 13 || n === 16 || n === 19;
    if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return n === 16;
    if (p2 === 34 || p2 === 37) return n === 15;
    if (p4 === 6011 || p2 === 65 || (p3 >= 644 && p3 <= 649)) return n === 16 || n === 19;
    return false;
  };
  const report = (digits, startOff, endOff) => {
    // The alphanumeric word around the run.
    let a = startOff;
    while (a > 0 && isAlnum(buf[a - 1])) a--;
    let b = endOff;
    while (b < n && isAlnum(buf[b])) b++;
    const word = buf.subarray(a, b).toString('latin1');
    const hit = {
      offset: startOff,
      digits,
      context: buf.subarray(Math.max(0, startOff - 40), Math.min(n, endOff + 40)).toString('latin1').replace(/[^\x20-\x7e]/g, '.'),
    };
    if (b - a >= 20 && /[A-Za-z]/.test(word) && b - a > endOff - startOff) identifiers.push(hit);
    else hits.push(hit);
  };
  let i = 0;
  while (i < n) {
    if (!isDigit(buf[i])) {
      i++;
      continue;
    }
    // A run: digits, single separators between digits.
    const digits = [];
    const offs = [];
    let j = i;
    while (j < n) {
      if (isDigit(buf[j])) {
        digits.push(String.fromCharCode(buf[j]));
        offs.push(j);
        j++;
      } else if ((buf[j] === 32 || buf[j] === 45) && j + 1 < n && isDigit(buf[j + 1])) {
        j++;
      } else {
        break;
      }
    }
    const run = digits.join('');
    if (cardLike(run)) {
      report(run, offs[0], offs[offs.length - 1] + 1);
    } else if (run.length >= 13) {
      for (const w of [19, 16, 15, 13]) {
        if (w >= run.length) continue;
        for (let s = 0; s + w <= run.length; s++) {
          const d = run.slice(s, s + w);
          if (luhnOk(d) && brandLen(d)) report(d, offs[s], offs[s + w - 1] + 1);
        }
      }
    }
    i = j;
  }
  return { hits, identifiers };
}

/** The written forms of a card number searched for directly. */
export function numberForms(number) {
  const forms = new Set([number]);
  const groups = number.length === 15 ? [4, 6, 5] : [4, 4, 4, 4, 4].slice(0, Math.ceil(number.length / 4));
  for (const sep of [' ', '-']) {
    const parts = [];
    let p = 0;
    for (const g of groups) {
      if (p >= number.length) break;
      parts.push(number.slice(p, p + g));
      p += g;
    }
    forms.add(parts.join(sep));
  }
  return [...forms];
}

/** Offsets of each form of each number in buf: [{number, form, offset}]. */
export function findNumbers(buf, numbers) {
  const out = [];
  for (const number of numbers) {
    for (const form of numberForms(number)) {
      const needle = Buffer.from(form, 'latin1');
      for (let at = buf.indexOf(needle); at >= 0; at = buf.indexOf(needle, at + 1)) out.push({ number, form, offset: at });
    }
  }
  return out;
}

/** Every regular file under dir, recursively. */
export function filesUnder(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

// ---------------------------------------------------------------------------
// The processor's log

/** The processor simulator's request log lines: [{method, path, payment_id, http_status, status, reason}]. */
export function processorRequests(sims) {
  const text = fs.existsSync(sims.processorLog) ? fs.readFileSync(sims.processorLog, 'utf8') : '';
  return parseLog(text).filter((e) => e.event === 'request');
}

/** The numeric part of a payment id NODE.TAG.Pn. */
export function paymentSeq(id) {
  const m = /\.P(\d+)$/.exec(id);
  assert.ok(m, `payment id ${id} ends with .Pn`);
  return Number(m[1]);
}

// ---------------------------------------------------------------------------
// Worlds and tills

export class PayWorld {
  /**
   * A mesh directory with the simulators (sims options: defaultCard,
   * slowMs, timeoutHoldMs; sims: false for none).
   */
  static async create(name, { sims = {} } = {}) {
    const w = new PayWorld();
    w.mesh = new Mesh(`pay-${name}`);
    w.tills = [];
    w.sims = null;
    if (sims) {
      try {
        w.sims = await startPaySims({ dir: path.join(w.mesh.tmp, 'sims'), ...sims });
      } catch (e) {
        await w.mesh.destroy();
        throw e;
      }
    }
    return w;
  }

  /**
   * A terminal of this world, set up (demo catalog, staff, stock) unless
   * setup is given, started unless start is false. payments: [payments]
   * overrides on top of the simulators' section (payments: null for none);
   * peer: [peer] settings; extra: other sections.
   */
  async till({ node = 'T1', payments = {}, peer = {}, extra = {}, setup, start = true, logLevel = 'info' } = {}) {
    const paySection = payments === null ? null : this.sims ? this.sims.kassadConfig(payments) : payments;
    const sections = { log: { level: logLevel }, ...extra };
    if (paySection) sections.payments = paySection;
    const t = await this.mesh.terminal({ node, setup: setup === undefined ? fullSetup('S1', node) : setup, peer, extra: sections });
    const till = new Till(this, t);
    this.tills.push(till);
    if (start) await till.start();
    return till;
  }

  logTails(chars = 3000) {
    const sims = this.sims ? `--- processor:\n${readTail(this.sims.processorLog, chars)}\n--- reader:\n${readTail(this.sims.readerLog, chars)}\n` : '';
    return this.mesh.logTails(chars) + '\n' + sims;
  }

  /** Runs fn; when it throws, prints the logs' tails before rethrowing. */
  async guard(fn) {
    try {
      return await fn();
    } catch (e) {
      process.stderr.write(`\n=== test failed: ${e.message}\n${this.logTails()}\n=== end of logs\n`);
      throw e;
    }
  }

  /**
   * Stops the simulators and every terminal (by PID: SIGTERM, so a
   * sanitizer build reports leaks at exit; SIGKILL after 5 s) and removes
   * the directory. Throws when a log holds a sanitizer report (ASan,
   * LeakSanitizer, UBSan "runtime error:").
   */
  async destroy() {
    if (process.env.KASSA_PAY_LOG) process.stderr.write(this.logTails() + '\n');
    let reports = [];
    try {
      if (this.sims) await this.sims.stop();
      await Promise.all(this.mesh.terms.map((t) => t.kill('SIGTERM')));
      reports = sanitizerReports(this.mesh.tmp);
    } finally {
      await this.mesh.destroy();
    }
    if (reports.length) throw new Error(`sanitizer reports in the logs:\n${reports.join('\n')}`);
  }
}

/** Sanitizer reports in the .log files under dir: ["file: line", ...]. */
export function sanitizerReports(dir) {
  const out = [];
  for (const f of filesUnder(dir).filter((x) => x.endsWith('.log'))) {
    const text = fs.readFileSync(f, 'utf8');
    const re = /^.*(?:ERROR: (?:Address|Leak|Thread|Memory)Sanitizer|runtime error:|SUMMARY: \w+Sanitizer).*$/gm;
    for (const m of text.matchAll(re)) out.push(`${path.basename(path.dirname(f))}/${path.basename(f)}: ${m[0].slice(0, 300)}`);
  }
  return out;
}

function readTail(file, chars) {
  try {
    return fs.readFileSync(file, 'utf8').slice(-chars);
  } catch {
    return '(none)';
  }
}

export class Till {
  constructor(world, term) {
    this.world = world;
    this.t = term;
    this.node = term.node;
    this.dataDir = term.dataDir;
  }

  get sims() {
    return this.world.sims;
  }

  async start() {
    await this.t.start();
    return this;
  }

  /** Kills this kassad by PID (SIGKILL: no shutdown at all). */
  kill9() {
    return this.t.kill('SIGKILL');
  }

  stop() {
    return this.t.kill('SIGTERM');
  }

  /** Restarts on the same data directory, with [payments] overrides merged in. */
  async restart(payments = null) {
    if (this.t.running) await this.t.kill('SIGTERM');
    if (payments) this.t.extra.payments = { ...this.t.extra.payments, ...payments };
    await this.t.start();
    return this;
  }

  get pid() {
    return this.t.child?.pid;
  }

  api(method, urlPath, opts) {
    return this.t.api(method, urlPath, opts);
  }

  /** A request NOT checked against the API document (for answers it does not list). */
  async raw(method, urlPath, { token, body } = {}) {
    const headers = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(this.t.base + urlPath, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: r.status, text, json };
  }

  token(id = 'ann') {
    return this.t.token(id);
  }

  /** A new cart with lines [{sku, qty}]; resolves to the cart (total_minor). */
  async cart(lines, cashier = 'ann') {
    const token = await this.token(cashier);
    const id = (await this.api('POST', '/api/v1/carts', { token, expect: 201 })).json.cart_id;
    let c = (await this.api('GET', `/api/v1/carts/${id}`, { token, expect: 200 })).json;
    for (const l of lines) {
      c = (await this.api('POST', `/api/v1/carts/${id}/lines`, { token, body: { sku: l.sku, qty: l.qty ?? 1 }, expect: 200 })).json;
    }
    return c;
  }

  /** POST checkout; body {tendered_minor, card_minor?, manager?}. The answer, whatever its status. */
  async checkout(cartId, body, { cashier = 'ann', expect } = {}) {
    const token = await this.token(cashier);
    return this.api('POST', `/api/v1/carts/${cartId}/checkout`, { token, body, expect });
  }

  /**
   * One card sale: a cart of lines, the card presented to the reader
   * (card: a number, or null for the reader's default card; expiry),
   * checked out with cardMinor (default: the total) and cash (default:
   * what is left). Resolves to {cart, res, sale (201 only)}.
   */
  async cardSale(lines, { card = null, expiry = FUTURE_EXPIRY, cardMinor, cash, manager, cashier = 'ann', expect } = {}) {
    const cart = await this.cart(lines, cashier);
    const amount = cardMinor ?? cart.total_minor;
    if (card) this.sims.present(card, expiry);
    const body = { tendered_minor: cash ?? cart.total_minor - amount, card_minor: amount };
    if (manager) body.manager = manager;
    const res = await this.checkout(cart.cart_id, body, { cashier, expect });
    return { cart, res, sale: res.status === 201 ? res.json : null };
  }

  async status() {
    return (await this.api('GET', '/api/v1/status', { expect: 200 })).json;
  }

  async payStatus() {
    return (await this.status()).payments;
  }

  async pending() {
    return (await this.api('GET', '/api/v1/payments/pending', { token: await this.token(), expect: 200 })).json;
  }

  async forward() {
    return (await this.api('POST', '/api/v1/payments/forward', { token: await this.token(), expect: 202 })).json;
  }

  async review({ all = false, as = 'sue' } = {}) {
    return (await this.api('GET', `/api/v1/payments/review${all ? '?all=1' : ''}`, { token: await this.token(as), expect: 200 })).json.payments;
  }

  async drawer() {
    return (await this.api('GET', '/api/v1/drawer', { token: await this.token(), expect: 200 })).json;
  }

  async sale(id) {
    return (await this.api('GET', `/api/v1/sales/${encodeURIComponent(id)}`, { token: await this.token(), expect: 200 })).json;
  }

  async saleSummaries() {
    return (await this.api('GET', '/api/v1/sales?limit=500', { token: await this.token(), expect: 200 })).json.sales;
  }

  /** Every sale in full, newest first. */
  async sales() {
    const out = [];
    for (const s of await this.saleSummaries()) out.push(await this.sale(s.sale_id));
    return out;
  }

  /** payment id -> sale, for the sales paid (in part) by card. */
  async salesByPayment() {
    const m = new Map();
    for (const s of await this.sales()) if (s.card) m.set(s.card.payment_id, s);
    return m;
  }

  /** Waits until nothing waits for the processor (due_count 0); resolves to the payments status. */
  waitSettled(what = 'nothing due for the processor', timeoutMs = 15000) {
    return waitFor(`${this.node}: ${what}`, async () => {
      const p = await this.payStatus();
      return p.due_count === 0 ? p : false;
    }, { timeoutMs, intervalMs: 50 });
  }

  /**
   * Like waitSettled, but when the forwarder leaves rows due for
   * graceMs without trying them (the lost wake-up of kd_pay_kick, see
   * flows.test.mjs), asks for "Forward now" (POST /payments/forward) and
   * waits again. Resolves to {status, stuck: [pending rows seen stuck]}.
   */
  async settle({ graceMs = 3000, timeoutMs = 20000 } = {}) {
    try {
      return { status: await this.waitSettled('nothing due', graceMs), stuck: [] };
    } catch {
      const stuck = (await this.pending()).payments;
      await this.forward();
      return { status: await this.waitSettled('nothing due after POST /payments/forward', timeoutMs), stuck };
    }
  }

  /** The audit log through the CLI: [{id, time_ms, action, cashier, supervisor, subject, detail}]. */
  async audit() {
    return JSON.parse(await kassa(this.dataDir, '--json', 'audit'));
  }

  /** The kassad log as JSON events. */
  events(filter = {}) {
    return this.t.events(0, filter);
  }

  logText() {
    return this.t.logText();
  }

  async metricsText() {
    return (await this.api('GET', '/metrics', { expect: 200 })).text;
  }

  async exportOps() {
    return kassaBuffer(this.dataDir, 'export');
  }
}

/** A manager's / supervisor's / cashier's approval object. */
export const approval = (id) => {
  const s = STAFF.find((x) => x.id === id);
  return { id: s.id, pin: s.pin };
};
