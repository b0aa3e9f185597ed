// The two payment simulators for the Node tests (tests/api, tests/pay,
// tests/browser): a throwaway processor (kassa-processor-sim, keys made with
// its keygen, port 0 so it picks a free one) and card reader
// (kassa-reader-sim on a Unix socket), each stopped by its PID.
//
//   const sims = await startPaySims({ dir, defaultCard: '4111111111111111' });
//   config.payments = sims.kassadConfig();      // [payments] for kassad
//   await sims.present('4000000000009995', '12/30');  // the next card tapped
//   await sims.ledger();                        // what the processor charged
//   await sims.control('error500');             // processor fault modes
//   await sims.stopProcessor(); await sims.startProcessor();
//   await sims.stop();
//
// Environment: KASSA_BIN (directory of the binaries, default build/bin).

import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO, sleep } from './kassad.mjs';

export const BIN = process.env.KASSA_BIN || path.join(REPO, 'build', 'bin');
export const READER_SIM = path.join(BIN, 'kassa-reader-sim');
export const PROCESSOR_SIM = path.join(BIN, 'kassa-processor-sim');

/** The test cards of docs/PAYMENTS.md. */
export const CARDS = {
  visa: '4111111111111111',
  visa2: '4242424242424242',
  mastercard: '5555555555554444',
  amex: '378282246310005',
  insufficientFunds: '4000000000009995',
  stolen: '4000000000009979',
  expiredByProcessor: '4000000000000069',
  networkTimeout: '4000000000000119',
  badCheckDigit: '4111111111111112',
};
export const FUTURE_EXPIRY = '12/39';

function startProcess(bin, args, logFile) {
  const fd = fs.openSync(logFile, 'a');
  const child = spawn(bin, args, { stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited };
}

async function stopProcess(p, signal = 'SIGTERM') {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill(signal);
  let timer;
  const late = new Promise((resolve) => { timer = setTimeout(resolve, 5000); });
  await Promise.race([p.exited, late]);
  clearTimeout(timer); /* a pending timer would keep the test process alive */
  if (p.child.exitCode === null && p.child.signalCode === null) {
    p.child.kill('SIGKILL');
    await p.exited;
  }
}

/** Resolves once something accepts connections on the Unix socket path. */
async function socketAccepts(file, deadlineMs) {
  const net = await import('node:net');
  for (;;) {
    const ok = await new Promise((resolve) => {
      const c = net.createConnection(file, () => { c.destroy(); resolve(true); });
      c.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadlineMs) throw new Error(`nothing accepts connections on ${file}`);
    await sleep(20);
  }
}

/**
 * Starts both simulators under dir. timeoutHoldMs: how long the processor
 * holds the answer for the "network timeout" test card. defaultCard: what
 * the reader answers with when no card was presented (null: it waits for a
 * present() until the read's timeout).
 */
export async function startPaySims({ dir, defaultCard = CARDS.visa, expiry = FUTURE_EXPIRY, timeoutHoldMs = 3000, slowMs = 0 } = {}) {
  fs.mkdirSync(dir, { recursive: true });
  const keys = path.join(dir, 'processor-keys');
  execFileSync(PROCESSOR_SIM, ['keygen', '--out', keys], { stdio: 'ignore' });
  const sims = {
    dir,
    keys,
    socket: path.join(dir, 'reader.sock'),
    processorLog: path.join(dir, 'processor.log'),
    readerLog: path.join(dir, 'reader.log'),
    port: 0,
    processor: null,
    reader: null,

    /** Starts (or restarts, on the same port once known) the processor. */
    async startProcessor() {
      const listen = `127.0.0.1:${this.port}`;
      const before = fs.existsSync(this.processorLog) ? fs.readFileSync(this.processorLog, 'utf8').length : 0;
      this.processor = startProcess(PROCESSOR_SIM, ['--listen', listen, '--key-dir', keys,
        '--timeout-hold-ms', String(timeoutHoldMs), '--slow-ms', String(slowMs)], this.processorLog);
      const deadline = Date.now() + 10000;
      for (;;) {
        const text = fs.existsSync(this.processorLog) ? fs.readFileSync(this.processorLog, 'utf8').slice(before) : '';
        const m = text.match(/"event":"start"[^\n]*"port":(\d+)/);
        if (m) {
          this.port = Number(m[1]);
          break;
        }
        if (Date.now() > deadline) throw new Error(`processor sim did not start: ${text}`);
        await sleep(20);
      }
      return this.port;
    },
    async stopProcessor(signal = 'SIGTERM') {
      await stopProcess(this.processor, signal);
      this.processor = null;
    },
    async startReader() {
      const args = ['--socket', this.socket, '--processor-key', path.join(keys, 'processor.pub'),
        '--token-key', path.join(dir, 'token.key')];
      if (defaultCard) args.push('--card', defaultCard, '--expiry', expiry);
      this.reader = startProcess(READER_SIM, args, this.readerLog);
      await socketAccepts(this.socket, Date.now() + 10000);
    },
    async stopReader(signal = 'SIGTERM') {
      await stopProcess(this.reader, signal);
      this.reader = null;
    },
    /** The processor's base URL. */
    get url() {
      return `http://127.0.0.1:${this.port}`;
    },
    /** kassad's [payments] section for these simulators (extra overrides). */
    kassadConfig(extra = {}) {
      return {
        reader_socket: this.socket,
        processor: `127.0.0.1:${this.port}`,
        processor_timeout_ms: 1000,
        reader_timeout_ms: 5000,
        forward_retry_min_ms: 100,
        forward_retry_max_ms: 500,
        ...extra,
      };
    },
    /** Queues what the next read gets: a card, or {behaviour}. */
    present(number, exp = expiry) {
      const args = ['present', '--socket', this.socket];
      if (typeof number === 'object') args.push(`--${number.behaviour}`);
      else args.push(number, exp);
      execFileSync(READER_SIM, args, { stdio: 'ignore' });
    },
    async ledger() {
      const r = await fetch(`${this.url}/v1/ledger`);
      return r.json();
    },
    async payment(id, store = 'S1') {
      const r = await fetch(`${this.url}/v1/payments/${encodeURIComponent(id)}?store=${store}`);
      return { status: r.status, body: r.status === 200 ? await r.json() : null };
    },
    /** normal | error500 | garbage | hang */
    async control(mode) {
      const r = await fetch(`${this.url}/control`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mode }),
      });
      if (r.status !== 200) throw new Error(`control ${mode}: ${r.status}`);
      await r.arrayBuffer();
    },
    logs() {
      const read = (f) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '');
      return read(this.processorLog) + read(this.readerLog);
    },
    async stop() {
      await this.stopReader();
      await this.stopProcessor();
    },
  };
  try {
    await sims.startProcessor();
    await sims.startReader();
  } catch (e) {
    await sims.stop(); /* nothing left running when the start fails */
    throw e;
  }
  return sims;
}
