// Harness of the HTTP API integration tests (tests/api/*.test.mjs).
//
// Each test file starts its own kassad with startTerminal(): a fresh data
// directory set up through the kassa CLI (init, demo catalog, staff), a free
// port, cwd = the repository root (web root `web`), an optional INI config
// file. stop() kills it by PID and removes the directory.
//
// Every answer that goes through Terminal.api() is checked against
// docs/api/openapi.yaml: the status must be one the operation documents, a
// JSON body must match the documented schema (a small checker for the subset
// of JSON Schema the document uses), an error's code must be the one of its
// status. A request the document has no operation for (an unknown route, a
// wrong method) must answer 404/405 with the error shape. So the tests check
// that the running server and the document agree, not just the tests' own
// idea of the API.
//
// Environment: KASSA_BIN (directory of kassa and kassad, default
// build/bin), KASSA_API_LOG=1 prints the daemon's log when a file ends.

import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { CATALOG_CSV, REPO, freePort, readLog, setupCommands, sleep } from '../lib/kassad.mjs';

export { CATALOG_CSV, REPO, freePort };
export const BIN = process.env.KASSA_BIN || path.join(REPO, 'build', 'bin');
export const KASSA = path.join(BIN, 'kassa');
export const KASSAD = path.join(BIN, 'kassad');

// ---------------------------------------------------------------------------
// The contract

export const SPEC = YAML.parse(fs.readFileSync(path.join(REPO, 'docs', 'api', 'openapi.yaml'), 'utf8'));
export const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

/** Follows a local $ref ("#/components/...") until a non-$ref node. */
export function deref(node) {
  let seen = 0;
  while (node && typeof node === 'object' && typeof node.$ref === 'string') {
    assert.ok(node.$ref.startsWith('#/'), `only local $ref supported: ${node.$ref}`);
    let target = SPEC;
    for (const part of node.$ref.slice(2).split('/')) {
      target = target?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
    }
    assert.ok(target !== undefined, `unresolved $ref ${node.$ref}`);
    node = target;
    assert.ok(++seen < 32, '$ref loop');
  }
  return node;
}

/** Every operation of the document: {method (upper case), template, op, re}. */
export const OPERATIONS = [];
for (const [template, item] of Object.entries(SPEC.paths)) {
  const re = new RegExp('^' + template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+') + '$');
  for (const m of METHODS) {
    if (item[m]) OPERATIONS.push({ method: m.toUpperCase(), template, op: item[m], item, re });
  }
}
export const PATH_TEMPLATES = Object.keys(SPEC.paths).map((template) => ({
  template,
  re: new RegExp('^' + template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+') + '$'),
}));

/** The path template a request path belongs to (query string ignored), or null. */
export function templateOf(urlPath) {
  const p = urlPath.split('?')[0];
  // A literal segment wins over a parameter (/sessions/current style).
  const hits = PATH_TEMPLATES.filter((t) => t.re.test(p));
  hits.sort((a, b) => (a.template.match(/\{/g) || []).length - (b.template.match(/\{/g) || []).length);
  return hits.length ? hits[0].template : null;
}

export function operationOf(method, urlPath) {
  const template = templateOf(urlPath);
  if (!template) return null;
  return OPERATIONS.find((o) => o.template === template && o.method === method) || null;
}

export function needsBearer(o) {
  const sec = o.op.security ?? SPEC.security ?? [];
  return sec.some((s) => Object.prototype.hasOwnProperty.call(s, 'bearer'));
}

/** The JSON schema of an operation's request body, or null. */
export function requestSchema(o) {
  const rb = deref(o.op.requestBody);
  if (!rb) return null;
  return deref(rb.content?.['application/json']?.schema) || null;
}

// Keywords the checker below understands. Anything else in a schema of the
// document makes the "checker covers the document" test fail, so a new
// keyword cannot be silently ignored.
export const SUPPORTED_KEYWORDS = new Set([
  '$ref', 'type', 'nullable', 'enum', 'required', 'properties', 'additionalProperties',
  'items', 'minimum', 'maximum', 'minLength', 'maxLength', 'minItems', 'default', 'description',
]);

/** Every schema object in the document (components and inline), with where it is. */
export function allSchemas() {
  const out = [];
  const visit = (s, where) => {
    if (!s || typeof s !== 'object') return;
    out.push({ schema: s, where });
    for (const [k, v] of Object.entries(s.properties || {})) visit(v, `${where}.properties.${k}`);
    if (s.items) visit(s.items, `${where}.items`);
    if (s.additionalProperties && typeof s.additionalProperties === 'object') {
      visit(s.additionalProperties, `${where}.additionalProperties`);
    }
  };
  for (const [name, s] of Object.entries(SPEC.components?.schemas || {})) visit(s, `#/components/schemas/${name}`);
  const visitContent = (content, where) => {
    for (const [type, media] of Object.entries(content || {})) visit(media.schema, `${where} ${type}`);
  };
  for (const o of OPERATIONS) {
    const where = `${o.method} ${o.template}`;
    for (const p of [...(o.item.parameters || []), ...(o.op.parameters || [])]) visit(p.schema, `${where} param ${p.name}`);
    const rb = deref(o.op.requestBody);
    if (rb) visitContent(rb.content, `${where} request`);
    for (const [status, r] of Object.entries(o.op.responses || {})) visitContent(deref(r).content, `${where} ${status}`);
  }
  return out;
}

/**
 * Checks value against schema (the subset of OpenAPI 3.0 schema objects in
 * SUPPORTED_KEYWORDS). Returns a list of "path: problem" strings, empty when
 * the value conforms.
 */
export function validate(schema, value, where = '$', errs = []) {
  schema = deref(schema);
  if (!schema || typeof schema !== 'object') return errs;
  if (value === null) {
    if (!schema.nullable) errs.push(`${where}: null, but the schema is not nullable`);
    return errs;
  }
  const t = schema.type;
  const jsType = Array.isArray(value) ? 'array' : typeof value;
  if (t) {
    const ok = {
      object: jsType === 'object',
      array: jsType === 'array',
      string: jsType === 'string',
      boolean: jsType === 'boolean',
      number: jsType === 'number' && Number.isFinite(value),
      integer: jsType === 'number' && Number.isInteger(value),
    }[t];
    assert.ok(ok !== undefined, `schema type ${t} not supported by the checker`);
    if (!ok) {
      errs.push(`${where}: expected ${t}, got ${jsType === 'number' ? `number ${value}` : jsType}`);
      return errs;
    }
  }
  if (schema.enum && !schema.enum.includes(value)) {
    errs.push(`${where}: ${JSON.stringify(value)} not one of ${JSON.stringify(schema.enum)}`);
  }
  if (jsType === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) errs.push(`${where}: shorter than ${schema.minLength}`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength) errs.push(`${where}: longer than ${schema.maxLength}`);
  }
  if (jsType === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) errs.push(`${where}: ${value} < minimum ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) errs.push(`${where}: ${value} > maximum ${schema.maximum}`);
  }
  if (jsType === 'array') {
    if (schema.minItems !== undefined && value.length < schema.minItems) errs.push(`${where}: fewer than ${schema.minItems} items`);
    if (schema.items) value.forEach((v, i) => validate(schema.items, v, `${where}[${i}]`, errs));
  }
  if (jsType === 'object') {
    for (const k of schema.required || []) {
      if (!Object.prototype.hasOwnProperty.call(value, k)) errs.push(`${where}: missing required field "${k}"`);
    }
    const props = schema.properties || {};
    for (const [k, v] of Object.entries(value)) {
      if (Object.prototype.hasOwnProperty.call(props, k)) validate(props[k], v, `${where}.${k}`, errs);
      else if (schema.additionalProperties === false) errs.push(`${where}: unknown field "${k}"`);
      else if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
        validate(schema.additionalProperties, v, `${where}.${k}`, errs);
      }
    }
  }
  return errs;
}

/** The error code the document's Error enum names for each status. */
export const ERROR_CODE_OF_STATUS = {
  400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found',
  405: 'method_not_allowed', 409: 'conflict', 413: 'payload_too_large', 423: 'locked',
  500: 'internal', 507: 'storage_full', 402: 'payment_declined', 502: 'payment_error',
  503: 'unavailable',
};

// ---------------------------------------------------------------------------
// Coverage: which operations answered, and which answered with a success
// (validated) body. Per process, i.e. per test file.

export const coverage = { answered: new Set(), succeeded: new Set() };

export function uncovered(set) {
  return OPERATIONS.map((o) => `${o.method} ${o.template}`).filter((k) => !set.has(k));
}

// ---------------------------------------------------------------------------
// Checking one answer against the document

function describe(req, res) {
  const body = req.rawBody !== undefined ? String(req.rawBody) : req.body !== undefined ? JSON.stringify(req.body) : '';
  return `${req.method} ${req.path}${body ? ` body ${body.length > 300 ? body.slice(0, 300) + '…' : body}` : ''}` +
    ` -> ${res.status} ${res.text.length > 500 ? res.text.slice(0, 500) + '…' : res.text}`;
}

function checkErrorBody(req, res) {
  const errs = validate({ $ref: '#/components/schemas/Error' }, res.json);
  assert.deepEqual(errs, [], `error body does not match Error: ${describe(req, res)}`);
  const want = ERROR_CODE_OF_STATUS[res.status];
  if (want) assert.equal(res.json.error.code, want, `error code for ${res.status}: ${describe(req, res)}`);
}

/** Query parameters of a request the operation does not declare, or repeats. */
export function queryProblems(o, urlPath) {
  const q = urlPath.includes('?') ? urlPath.slice(urlPath.indexOf('?') + 1) : '';
  if (!q) return [];
  const declared = new Set([...(o.item.parameters || []), ...(o.op.parameters || [])]
    .map(deref).filter((p) => p.in === 'query').map((p) => p.name));
  const seen = new Set();
  const problems = [];
  for (const [name] of new URLSearchParams(q)) {
    if (!declared.has(name)) problems.push(`unknown query parameter ${name}`);
    else if (seen.has(name)) problems.push(`repeated query parameter ${name}`);
    seen.add(name);
  }
  return problems;
}

function checkHeaders(req, res, resp, key) {
  for (const [name, h] of Object.entries(resp.headers || {})) {
    const v = res.headers.get(name);
    assert.ok(v !== null, `${key} ${res.status} documents a ${name} header; none sent: ${describe(req, res)}`);
    const hs = deref(h.schema || {});
    if (hs.type === 'integer') assert.match(v, /^\d+$/, `${name} header "${v}" is not an integer: ${describe(req, res)}`);
  }
}

/** The methods of a path template, upper case, sorted. */
export function methodsOf(template) {
  return METHODS.filter((m) => SPEC.paths[template][m]).map((m) => m.toUpperCase()).sort();
}

/**
 * Throws an AssertionError naming the request when res disagrees with the
 * document. The statuses an operation may answer are those it documents,
 * plus what the document's description says of every route: 400 for an
 * unknown or repeated query parameter, 413 for a body over the limit.
 */
export function checkAgainstContract(req, res) {
  const o = operationOf(req.method, req.path);
  const ctype = res.headers.get('content-type') || '';
  if (!o) {
    // No operation: an unknown route (404) or a known path with another
    // method (405, with an Allow header naming the path's methods), with
    // the error shape.
    const template = templateOf(req.path);
    assert.equal(res.status, template ? 405 : 404, `no operation in the document for this request: ${describe(req, res)}`);
    assert.match(ctype, /application\/json/, `content-type of an error: ${describe(req, res)}`);
    checkErrorBody(req, res);
    if (template) {
      const allow = (res.headers.get('allow') || '').split(',').map((m) => m.trim().toUpperCase()).filter(Boolean).sort();
      assert.deepEqual(allow, methodsOf(template), `Allow header of a 405: ${describe(req, res)}`);
    }
    return null;
  }
  const key = `${o.method} ${o.template}`;
  let documented = o.op.responses?.[String(res.status)];
  if (!documented && res.status === 400 && queryProblems(o, req.path).length) documented = { $ref: '#/components/responses/BadRequest' };
  if (!documented && res.status === 413 && req.rawBody !== undefined) documented = { $ref: '#/components/responses/TooLarge' };
  assert.ok(documented, `status ${res.status} is not documented for ${key} (documented: ${Object.keys(o.op.responses || {}).join(', ')}): ${describe(req, res)}`);
  coverage.answered.add(key);
  const resp = deref(documented);
  const content = resp.content || null;
  if (!content) {
    assert.equal(res.text, '', `${key} ${res.status} is documented without a body: ${describe(req, res)}`);
  } else if (content['application/json']) {
    assert.match(ctype, /^application\/json/, `content-type: ${describe(req, res)}`);
    assert.ok(res.json !== undefined, `body is not JSON: ${describe(req, res)}`);
    const errs = validate(content['application/json'].schema, res.json);
    assert.deepEqual(errs, [], `body does not match the schema of ${key} ${res.status}: ${describe(req, res)}`);
    if (res.status >= 400) checkErrorBody(req, res);
  } else if (content['text/plain']) {
    assert.match(ctype, /^text\/plain/, `content-type: ${describe(req, res)}`);
  }
  checkHeaders(req, res, resp, key);
  if (res.status >= 200 && res.status < 300) coverage.succeeded.add(key);
  return o;
}

// ---------------------------------------------------------------------------
// Processes and ports

export function kassa(dataDir, ...args) {
  try {
    return execFileSync(KASSA, ['--data', dataDir, ...args], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`kassa ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

export const STAFF = [
  { id: 'ann', name: 'Ann Keller', role: 'cashier', pin: '1111' },
  { id: 'bob', name: 'Bob Brandt', role: 'cashier', pin: '2222' },
  { id: 'sue', name: 'Sue Wagner', role: 'supervisor', pin: '9999' },
  { id: 'max', name: 'Max Meyer', role: 'manager', pin: '8888' },
];

const running = new Set();
process.on('exit', () => {
  for (const child of running) {
    try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
  }
});

/**
 * Starts a kassad on a fresh terminal. Options:
 *   staff:   extra [{id, name, role, pin}] besides STAFF
 *   stock:   {SKU: qty} received through the CLI before the start
 *   config:  {section: {key: value}} written as an INI file for --config
 *   setup:   [[kassa args...]] more kassa CLI calls on the data directory
 *            after the usual ones, before the start (e.g.
 *            ['currency', 'CHF', '--rounding', '5'])
 */
export async function startTerminal({ staff = [], stock = {}, config = null, setup = [] } = {}) {
  assert.ok(fs.existsSync(KASSAD), `${KASSAD} not built (cmake --build build)`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kassa-api-'));
  try {
    const dataDir = path.join(tmp, 'data');
    for (const args of [...setupCommands([...STAFF, ...staff], stock), ...setup]) kassa(dataDir, ...args);
    const args = ['--data', dataDir];
    if (config) {
      const file = path.join(tmp, 'kassad.ini');
      let ini = '';
      for (const [section, kv] of Object.entries(config)) {
        ini += `[${section}]\n`;
        for (const [k, v] of Object.entries(kv)) ini += `${k} = ${v}\n`;
      }
      fs.writeFileSync(file, ini);
      args.push('--config', file);
    }
    // The free port can be taken by someone else before kassad binds it:
    // then kassad exits at once, and another port is tried.
    for (let attempt = 1; ; attempt++) {
      const term = await spawnKassad(tmp, dataDir, [...args, '--api-listen', `127.0.0.1:${await freePort()}`]);
      if (term.ok) return term.term;
      if (attempt === 3 || !/in use/i.test(term.log)) throw new Error(term.error);
    }
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Starts kassad again on a stopped terminal's data directory (a new port). */
export async function restartTerminal(term) {
  const args = term.args.slice(0, -2);
  const again = await spawnKassad(term.tmp, term.dataDir, [...args, '--api-listen', `127.0.0.1:${await freePort()}`]);
  if (!again.ok) throw new Error(again.error);
  return again.term;
}

async function spawnKassad(tmp, dataDir, args) {
  const port = Number(args.at(-1).split(':')[1]);
  const logFile = path.join(tmp, 'kassad.log');
  fs.writeFileSync(logFile, '');
  const logFd = fs.openSync(logFile, 'a');
  const child = spawn(KASSAD, args, { cwd: REPO, stdio: ['ignore', logFd, logFd] });
  fs.closeSync(logFd);
  running.add(child);
  let exited = null;
  const exitPromise = new Promise((resolve) => child.on('exit', (code, signal) => {
    exited = { code, signal };
    running.delete(child);
    resolve(exited);
  }));
  const term = new Terminal({ tmp, dataDir, port, child, logFile, exitPromise, exitedRef: () => exited, args });
  const deadline = Date.now() + 15000;
  for (;;) {
    if (exited) {
      return { ok: false, log: term.log(), error: `kassad exited during start (${JSON.stringify(exited)}): ${term.log()}` };
    }
    try {
      const r = await fetch(`${term.base}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (r.status === 200) { await r.arrayBuffer(); return { ok: true, term }; }
    } catch { /* not yet */ }
    if (Date.now() > deadline) {
      await term.kill();
      return { ok: false, log: term.log(), error: `kassad did not answer /healthz within 15 s: ${term.log()}` };
    }
    await sleep(30);
  }
}

export class Terminal {
  constructor(o) {
    Object.assign(this, o);
    this.base = `http://127.0.0.1:${o.port}`;
    this.pid = o.child.pid;
  }

  log() {
    return readLog(this.logFile);
  }

  /** Kills kassad by PID: SIGTERM, then SIGKILL after 5 s. */
  async kill() {
    if (!this.exitedRef()) {
      try { process.kill(this.pid, 'SIGTERM'); } catch { /* gone */ }
      const t = setTimeout(() => { try { process.kill(this.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
      await this.exitPromise;
      clearTimeout(t);
    }
  }

  /** Kills kassad and removes its directory. */
  async stop() {
    await this.kill();
    if (process.env.KASSA_API_LOG) process.stderr.write(`--- kassad log (${this.args.join(' ')}):\n${this.log()}\n`);
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }

  /**
   * One request, checked against the document. opts: token, body (JSON
   * value), rawBody (string/Buffer/stream sent as is), headers, expect
   * (status the test requires; the message then shows the exchange).
   */
  async api(method, urlPath, { token, body, rawBody, headers = {}, expect } = {}) {
    const h = { ...headers };
    if (token !== undefined) h.authorization = `Bearer ${token}`;
    let payload;
    if (rawBody !== undefined) payload = rawBody;
    else if (body !== undefined) payload = JSON.stringify(body);
    if (payload !== undefined && !Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['content-type'] = 'application/json';
    const init = { method, headers: h, body: payload };
    if (payload && typeof payload.getReader === 'function') init.duplex = 'half';
    const res = await fetch(this.base + urlPath, init);
    const text = await res.text();
    let json;
    try { json = text === '' ? undefined : JSON.parse(text); } catch { json = undefined; }
    const out = { status: res.status, headers: res.headers, text, json, body: json };
    const req = { method, path: urlPath, body, rawBody: payload === undefined ? undefined : typeof payload === 'string' ? payload : '(raw bytes or stream)' };
    checkAgainstContract(req, out);
    if (expect !== undefined) {
      const want = Array.isArray(expect) ? expect : [expect];
      assert.ok(want.includes(res.status), `expected ${want.join(' or ')}: ${describe(req, out)}`);
    }
    return out;
  }

  async login(id, pin) {
    const r = await this.api('POST', '/api/v1/sessions', { body: { cashier_id: id, pin }, expect: 201 });
    return r.json.token;
  }

  /** The terminal state a rejected request must leave alone. */
  async snapshot(token, { carts = [] } = {}) {
    const st = (await this.api('GET', '/api/v1/status', { expect: 200 })).json;
    const sales = (await this.api('GET', '/api/v1/sales?limit=500', { token, expect: 200 })).json;
    const stock = (await this.api('GET', '/api/v1/stock', { token, expect: 200 })).json;
    const cartBodies = [];
    for (const { id, token: t } of carts) cartBodies.push((await this.api('GET', `/api/v1/carts/${id}`, { token: t ?? token })).json);
    return { ops: st.ops, pending_ops: st.pending_ops, sales_count: st.sales, sales, stock, carts: cartBodies };
  }

  /** Value of an unlabelled metric in /metrics. */
  async metric(name) {
    const r = await this.api('GET', '/metrics', { expect: 200 });
    const m = new RegExp(`^${name}(?:\\{\\})? (\\S+)$`, 'm').exec(r.text);
    return m ? Number(m[1]) : undefined;
  }
}

/** A raw HTTP/1.1 exchange, for request targets fetch would normalize (dot segments). */
export function rawHttp(port, requestText, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks = [];
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`raw request timed out: ${requestText.split('\r\n')[0]}`)); }, timeoutMs);
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
    sock.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      const split = text.indexOf('\r\n\r\n');
      resolve({ status: m ? Number(m[1]) : 0, head: split >= 0 ? text.slice(0, split) : text, body: split >= 0 ? text.slice(split + 4) : '' });
    });
    sock.write(requestText);
  });
}

/** Strips fields of a snapshot that change without any request (time, size). */
export function assertUnchanged(before, after, what) {
  assert.deepEqual(after, before, `state changed after ${what}`);
}

// ---------------------------------------------------------------------------
// Invalid request bodies, derived from the document

const clone = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

function setAt(obj, where, value) {
  const out = clone(obj);
  let o = out;
  for (let i = 0; i < where.length - 1; i++) o = o[where[i]];
  const last = where[where.length - 1];
  if (value === DELETE) delete o[last];
  else o[last] = value;
  return out;
}
const DELETE = Symbol('delete');

/** Values of the wrong type (or out of the documented range) for a schema. */
function wrongValues(schema) {
  schema = deref(schema);
  const out = [];
  const add = (label, v) => out.push({ label, value: v });
  if (!schema.nullable) add('null', null);
  switch (schema.type) {
    case 'integer':
      add('a string', '1');
      add('a float', 1.5);
      add('a boolean', true);
      add('an array', [1]);
      add('an object', { n: 1 });
      if (schema.minimum !== undefined) add(`below minimum ${schema.minimum}`, schema.minimum - 1);
      if (schema.maximum !== undefined) add(`above maximum ${schema.maximum}`, schema.maximum + 1);
      break;
    case 'string':
      add('a number', 5);
      add('a boolean', false);
      add('an array', ['x']);
      add('an object', { s: 'x' });
      if (schema.minLength) add(`shorter than ${schema.minLength}`, '');
      if (schema.maxLength !== undefined) add(`longer than ${schema.maxLength}`, 'x'.repeat(schema.maxLength + 1));
      break;
    case 'boolean':
      add('a string', 'true');
      add('a number', 1);
      break;
    case 'object':
      add('a string', 'x');
      add('a number', 1);
      add('an array', []);
      break;
    case 'array':
      add('a string', 'x');
      add('an object', {});
      if (schema.minItems) add(`fewer than ${schema.minItems} items`, []);
      break;
    default:
      break;
  }
  return out;
}

/**
 * Bodies the document makes invalid, derived from a valid one: each
 * property (present or not) of the wrong type or out of range, each
 * required property missing, an unknown property where additionalProperties
 * is false; recursively into objects and array items present in `valid`.
 * Returns [{label, body}] where body is a JSON value.
 */
export function invalidBodies(schema, root, where = []) {
  schema = deref(schema);
  const out = [];
  const name = where.length ? `body.${where.join('.')}` : 'body';
  const here = where.reduce((o, k) => o[k], root);
  if (schema.type === 'object') {
    for (const [prop, ps] of Object.entries(schema.properties || {})) {
      for (const w of wrongValues(ps)) out.push({ label: `${name}.${prop} ${w.label}`, body: setAt(root, [...where, prop], w.value) });
      const sub = deref(ps);
      if (here[prop] !== undefined && (sub.type === 'object' || sub.type === 'array')) {
        out.push(...invalidBodies(sub, root, [...where, prop]));
      }
    }
    for (const r of schema.required || []) {
      out.push({ label: `${name}.${r} missing`, body: setAt(root, [...where, r], DELETE) });
    }
    if (schema.additionalProperties === false) {
      out.push({ label: `${name} with an unknown field`, body: setAt(root, [...where, 'unexpected_field'], 1) });
    }
  } else if (schema.type === 'array' && here.length > 0) {
    for (const w of wrongValues(schema.items)) out.push({ label: `${name}[0] ${w.label}`, body: setAt(root, [...where, 0], w.value) });
    if (deref(schema.items).type === 'object') out.push(...invalidBodies(schema.items, root, [...where, 0]));
  }
  return out;
}

/** invalidBodies() of a request body schema plus whole-body type errors. */
export function invalidRequestBodies(schema, validBody) {
  const out = [
    { label: 'body null', body: null },
    { label: 'body an array', body: [validBody] },
    { label: 'body a string', body: 'x' },
    { label: 'body a number', body: 1 },
  ];
  out.push(...invalidBodies(schema, validBody));
  // Each must really be invalid by the document (guards the generator).
  for (const m of out) assert.ok(validate(schema, m.body).length > 0, `generated body is valid: ${m.label}`);
  return out;
}

/** Malformed JSON texts (as raw bodies). */
export const MALFORMED_JSON = [
  ['empty body', ''],
  ['truncated object', '{"a": 1'],
  ['not JSON', 'hello'],
  ['single quotes', "{'a': 1}"],
  ['trailing comma', '{"a": 1,}'],
  ['trailing garbage', '{} x'],
  ['two documents', '{}{}'],
  ['unquoted key', '{a: 1}'],
  ['bad escape', '{"a": "\\q"}'],
  ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])],
  ['NaN', '{"a": NaN}'],
  ['lone surrogate escape', '{"a": "\\ud800"}'],
];
