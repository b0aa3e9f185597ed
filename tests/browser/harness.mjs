// Test harness for the cashier UI: a throwaway kassad with the demo catalog
// and known cashiers, and a headless Debian Chromium driven by
// playwright-core (which never downloads a browser of its own).
//
// Environment:
//   KASSA_BIN      directory with kassa and kassad (default: <repo>/build/bin)
//   CHROMIUM       browser binary (default: /usr/bin/chromium)
//   KASSA_BROWSER_BASE_URL  use an already running terminal instead of
//                  starting one (for debugging; the tests then assume it
//                  holds the demo catalog and the CASHIERS below)
//
// Card payments: withTerminalAndBrowser(name, fn, viewport, {paySims,
// payments}) starts the card reader and processor simulators
// (tests/lib/paysims.mjs) before the terminal, gives kassad their
// [payments] section (sims.kassadConfig(payments)), hands the test `sims`,
// and stops them after the terminal, whatever happened.

import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { REPO, freePort, readLog, setupCommands, sleep } from '../lib/kassad.mjs';
import { startPaySims } from '../lib/paysims.mjs';

export { REPO, freePort };
export const KASSA_BIN = path.resolve(REPO, process.env.KASSA_BIN || 'build/bin');
export const ARTIFACTS = path.join(REPO, 'build', 'artifacts');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

// Who can log in. C02 exists only to be locked out, so that test does not
// lock anybody another step needs.
export const CASHIERS = [
  { id: 'C01', name: 'Alice Cashier', role: 'cashier', pin: '1234' },
  { id: 'C02', name: 'Lena Lockout', role: 'cashier', pin: '2468' },
  { id: 'SUP1', name: 'Sam Supervisor', role: 'supervisor', pin: '9999' },
  { id: 'MGR1', name: 'Maria Manager', role: 'manager', pin: '5555' },
];

// Last resort: a test process that dies without running its cleanup (an
// uncaught error, Ctrl-C) still kills what it started, by PID.
const children = new Set();
const liveSims = new Set(); // their processes change when the processor restarts
process.on('exit', () => {
  const sims = [...liveSims].flatMap((s) => [s.processor, s.reader]).filter(Boolean).map((p) => p.child);
  for (const child of [...children, ...sims]) {
    if (child.exitCode === null && child.signalCode === null) {
      try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
});

function run(file, args, opts = {}) {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd: REPO, timeout: 60_000, ...opts }, (err, stdout, stderr) => {
      if (err) {
        err.message = `${path.basename(file)} ${args.join(' ')} failed: ${err.message}\n${stdout}${stderr}`;
        reject(err);
      } else resolve(stdout);
    });
  });
}

async function waitHealthy(url, child, logFile, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) {
      throw new Error(`kassad exited with ${child.exitCode} before /healthz answered:\n${readLog(logFile)}`);
    }
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok && (await res.json()).status === 'ok') return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`kassad did not answer ${url}/healthz within ${timeoutMs} ms:\n${readLog(logFile)}`);
}

/** {section: {key: value}} as an INI file for kassad --config. */
function iniText(config) {
  let ini = '';
  for (const [section, kv] of Object.entries(config)) {
    ini += `[${section}]\n`;
    for (const [k, v] of Object.entries(kv)) ini += `${k} = ${v}\n`;
  }
  return ini;
}

/**
 * Start a fresh terminal: temp data dir, `kassa init`, the demo catalog,
 * CASHIERS, then kassad on a free loopback port with cwd = repo root (its
 * default web root is `web` relative to the working directory).
 * config ({section: {key: value}}) is given to kassad as an INI file;
 * setup: more kassa CLI calls (the arguments after `--data DIR`, e.g.
 * ['currency', 'CHF', '--rounding', '5']) run before kassad starts.
 * Returns { url, data, stop() }: data is the data directory (for kassa CLI
 * calls while kassad runs); stop() kills kassad by its PID and removes it.
 */
export async function startTerminal(name, { config = null, setup = [] } = {}) {
  if (process.env.KASSA_BROWSER_BASE_URL) {
    const url = process.env.KASSA_BROWSER_BASE_URL.replace(/\/$/, '');
    await waitHealthy(url, null, null, 5000);
    return { url, data: null, stop: async () => {} };
  }
  const kassa = path.join(KASSA_BIN, 'kassa');
  const kassad = path.join(KASSA_BIN, 'kassad');
  for (const bin of [kassa, kassad]) {
    if (!fs.existsSync(bin)) throw new Error(`${bin} not found: build first (cmake --build build) or set KASSA_BIN`);
  }

  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), `kassa-browser-${name}-`));
  const data = path.join(tmp, 'data');
  const k = (...args) => run(kassa, ['--data', data, ...args]);
  for (const args of [...setupCommands(CASHIERS), ...setup]) await k(...args);

  const args = ['--data', data];
  if (config) {
    const file = path.join(tmp, 'kassad.ini');
    await fsp.writeFile(file, iniText(config));
    args.push('--config', file);
  }
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logFile = path.join(tmp, 'kassad.log');
  const log = fs.openSync(logFile, 'w');
  const child = spawn(kassad, [...args, '--api-listen', `127.0.0.1:${port}`], {
    cwd: REPO,
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  children.add(child);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.once('exit', () => children.delete(child));

  // SIGTERM must stop kassad cleanly (exit 0) within a few seconds; under
  // the sanitizers a leak or a fault at shutdown shows up here.
  let killedHard = false;
  async function stop() {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid, 'SIGTERM');
      const t = setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) {
          killedHard = true;
          process.kill(child.pid, 'SIGKILL');
        }
      }, 10_000);
      await exited;
      clearTimeout(t);
    }
    // Keep kassad's log next to the screenshots: it is what explains a failure.
    await fsp.mkdir(path.join(ARTIFACTS, 'logs'), { recursive: true });
    await fsp.copyFile(logFile, path.join(ARTIFACTS, 'logs', `${name}.kassad.log`)).catch(() => {});
    const log = readLog(logFile);
    await fsp.rm(tmp, { recursive: true, force: true });
    if (killedHard || child.exitCode !== 0) {
      throw new Error(`kassad did not stop cleanly on SIGTERM (exit ${child.exitCode}, signal ${child.signalCode}${killedHard ? ', killed after 10 s' : ''}):\n${log}`);
    }
  }

  try {
    await waitHealthy(url, child, logFile);
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
  return { url, data, stop };
}

/**
 * Debian's Chromium, headless, with a fresh profile directory. Playwright is
 * told exactly which binary to run, so it never looks for (or fetches) one.
 * `args`: more Chromium flags (e.g. a fake microphone), after the usual ones.
 * Returns { context, page, close() }.
 */
export async function launchBrowser({ width = 1024, height = 768 } = {}, args = []) {
  const profile = await fsp.mkdtemp(path.join(os.tmpdir(), 'kassa-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ...args,
    ],
    viewport: { width, height },
    deviceScaleFactor: 1,
    timeout: 30_000,
  });
  context.setDefaultTimeout(10_000);
  const page = context.pages()[0] || (await context.newPage());
  // A page error is a bug in web/: fail loudly rather than time out later.
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e));
  page.on('console', (m) => {
    // Chromium logs every 4xx answer as "Failed to load resource"; the tests
    // provoke those on purpose (wrong PINs, unknown barcodes).
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) {
      pageErrors.push(new Error(`console: ${m.text()}`));
    }
  });
  return {
    context,
    page,
    pageErrors,
    async close() {
      await context.close().catch(() => {});
      await fsp.rm(profile, { recursive: true, force: true });
    },
  };
}

/**
 * The terminal's audit operations (`kassa --data DIR --json audit`) whose
 * action starts with `prefix`, once there are at least `n` of them (some
 * are recorded by requests the page sends in the background) or after 5 s.
 */
export async function auditOps(data, prefix, n = 0) {
  assert.ok(data, 'the terminal data directory is needed (not with KASSA_BROWSER_BASE_URL)');
  const deadline = Date.now() + 5000;
  for (;;) {
    const ops = JSON.parse(await run(path.join(KASSA_BIN, 'kassa'), ['--data', data, '--json', 'audit']))
      .filter((a) => a.action.startsWith(prefix));
    if (ops.length >= n || Date.now() > deadline) return ops;
    await sleep(100);
  }
}

/** Save build/artifacts/screenshots/<name>.png. */
export async function screenshot(page, name) {
  const dir = path.join(ARTIFACTS, 'screenshots');
  await fsp.mkdir(dir, { recursive: true });
  const file = path.join(dir, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

/**
 * The card reader and processor simulators in a temp directory. Returns
 * the sims (tests/lib/paysims.mjs) with stop() also saving their logs to
 * build/artifacts/logs and removing the directory.
 */
export async function startSims(name, options = {}) {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'kassa-paysims-'));
  let sims;
  try {
    sims = await startPaySims({ dir, ...options });
  } catch (err) {
    await fsp.rm(dir, { recursive: true, force: true });
    throw err;
  }
  liveSims.add(sims);
  // Stopping as paysims does (SIGTERM, SIGKILL after 5 s), but with a
  // timer that is cleared: paysims' own leaves one running, which keeps the
  // test file's process alive for 5 s after its last test.
  async function stopOne(p, signal = 'SIGTERM') {
    if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
    p.child.kill(signal);
    let timer;
    const late = new Promise((resolve) => {
      timer = setTimeout(() => {
        p.child.kill('SIGKILL');
        resolve();
      }, 5000);
    });
    await Promise.race([p.exited, late]);
    clearTimeout(timer);
    await p.exited;
  }
  sims.stopProcessor = async (signal) => {
    await stopOne(sims.processor, signal);
    sims.processor = null;
  };
  sims.stopReader = async (signal) => {
    await stopOne(sims.reader, signal);
    sims.reader = null;
  };
  sims.stop = async () => {
    try {
      await sims.stopReader();
      await sims.stopProcessor();
    } finally {
      liveSims.delete(sims);
      await fsp.mkdir(path.join(ARTIFACTS, 'logs'), { recursive: true });
      await fsp.writeFile(path.join(ARTIFACTS, 'logs', `${name}.paysims.log`), sims.logs()).catch(() => {});
      await fsp.rm(dir, { recursive: true, force: true });
    }
  };
  return sims;
}

/**
 * Everything one test needs, with cleanup that always runs and a screenshot
 * that is always taken (a failing test's screen is the most useful one).
 *
 * options.paySims: start the payment simulators (true, or the options of
 * startPaySims, e.g. {defaultCard: null}); options.payments: overrides of
 * their [payments] section for kassad (e.g. {offline_max_amount_minor: 500});
 * options.setup: more kassa CLI calls before kassad starts (startTerminal);
 * options.config: more kassad configuration ({section: {key: value}});
 * options.browserArgs: more Chromium flags (launchBrowser).
 * fn gets {url, data, page, context, pageErrors, sims} (sims null without
 * them; data the terminal's data directory, null with KASSA_BROWSER_BASE_URL).
 */
export async function withTerminalAndBrowser(name, fn, viewport, {
  paySims = null, payments = {}, setup = [], config = {}, browserArgs = [],
} = {}) {
  const sims = paySims ? await startSims(name, paySims === true ? {} : paySims) : null;
  let terminal;
  try {
    const all = { ...config, ...(sims ? { payments: sims.kassadConfig(payments) } : {}) };
    terminal = await startTerminal(name, { setup, config: Object.keys(all).length ? all : null });
  } catch (err) {
    if (sims) await sims.stop().catch((e) => console.error(e.message));
    throw err;
  }
  let browser;
  let failure = null;
  try {
    browser = await launchBrowser(viewport, browserArgs);
    try {
      await fn({ url: terminal.url, data: terminal.data, page: browser.page, context: browser.context, pageErrors: browser.pageErrors, sims });
    } finally {
      await screenshot(browser.page, name).catch(() => {});
    }
  } catch (err) {
    failure = err;
  }
  if (browser) await browser.close();
  try {
    await terminal.stop();
  } catch (err) {
    // The test's own failure is the one to report; a bad shutdown after it
    // still goes to the output.
    if (failure) console.error(err.message);
    else failure = err;
  }
  if (sims) {
    try {
      await sims.stop();
    } catch (err) {
      if (failure) console.error(err.message);
      else failure = err;
    }
  }
  if (failure) throw failure;
}

// ───────────────────────── UI steps shared by the tests ─────────────────────────

/** Log in by clicking the cashier tile and typing the PIN. */
export async function login(page, url, cashierId, pin) {
  await page.goto(url);
  await page.locator(`#login-cashiers input[value="${cashierId}"]`).check();
  await page.locator('#login-pin').fill(pin);
  await page.locator('#login-submit').click();
}

/**
 * A barcode scanner: digits typed fast, then Enter, with focus on nothing in
 * particular (the body), exactly like a USB keyboard-wedge scanner.
 */
export async function wedgeScan(page, code) {
  await page.keyboard.type(code);
  await page.keyboard.press('Enter');
}

/** "12.34" from 1234: the test's own formatting, independent of web/js/money.js. */
export function fmt(minor) {
  const sign = minor < 0 ? '-' : '';
  const a = Math.abs(minor);
  return `${sign}${Math.floor(a / 100)}.${String(a % 100).padStart(2, '0')}`;
}
