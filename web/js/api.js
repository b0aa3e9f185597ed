// Thin client for the kassad local HTTP API (docs/api/openapi.yaml).
// Every error becomes an ApiError carrying the API's {error:{code,message}},
// so views can show the server's own words. The session token lives in
// sessionStorage: it survives a reload of the tab but not closing it, which
// is what a shared till wants.

const TOKEN_KEY = 'kassa.token';
const CASHIER_KEY = 'kassa.cashier';

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status, 0 when the terminal did not answer
   * @param {string} code   the API's error code ("unauthorized", "locked", …)
   * @param {string} message the API's message, meant for people
   */
  constructor(status, code, message, { retryAfterS = null, supervisorRejected = false, reason = '', overridePossible = false } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfterS = retryAfterS;
    // True when a 401 came from a supervisor's PIN, not from our session.
    this.supervisorRejected = supervisorRejected;
    // Card payments (402 payment_declined, 502 payment_error): why, in the
    // API's words ("insufficient_funds", "timeout", …), and whether a
    // manager may allow it anyway (offline_limit).
    this.reason = reason;
    this.overridePossible = overridePossible;
  }
}

let unauthorizedHandler = () => {};

/** Called (once per failing request) when the session is no longer valid. */
export function onUnauthorized(fn) {
  unauthorizedHandler = fn;
}

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  get cashier() {
    try {
      return JSON.parse(sessionStorage.getItem(CASHIER_KEY) || 'null');
    } catch {
      return null;
    }
  },
  save(s) {
    sessionStorage.setItem(TOKEN_KEY, s.token);
    sessionStorage.setItem(CASHIER_KEY, JSON.stringify(s.cashier));
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(CASHIER_KEY);
  },
};

/**
 * How long a 423 says to wait. The contract has no field for it, so accept
 * what a server is likely to send: a Retry-After header, a retry_after_s /
 * retry_after_ms field next to code and message, or a number of seconds in
 * the message ("… try again in 30 s").
 */
function retryAfterSeconds(res, err) {
  const h = res.headers.get('Retry-After');
  if (h && /^\d+$/.test(h.trim())) return Number(h.trim());
  if (err && Number.isInteger(err.retry_after_s)) return err.retry_after_s;
  if (err && Number.isInteger(err.retry_after_ms)) return Math.ceil(err.retry_after_ms / 1000);
  const m = err && typeof err.message === 'string' && /(\d+)\s*(?:s\b|sec|second)/i.exec(err.message);
  return m ? Number(m[1]) : null;
}

async function readJson(res) {
  const type = res.headers.get('Content-Type') || '';
  if (res.status === 204 || !type.includes('json')) return null;
  try {
    return await res.json();
  } catch {
    return null;
  }
}

/**
 * One request. Options:
 *  - auth: send the bearer token and treat 401 as "session gone" (default true)
 *  - supervisor: the body carries a supervisor PIN, so a 401 may be that PIN
 *    being wrong; we then ask whether our own session is still valid before
 *    logging the cashier out (the contract uses 401 for both).
 *  - timeoutMs: abort after this long (status polling must not pile up)
 *  - contentType: send `body` (a Blob or bytes) as it is, with this type
 */
export async function request(method, path, body, {
  auth = true, supervisor = false, timeoutMs = 15000, contentType = null,
} = {}) {
  // The body is JSON, unless a content type says it goes as it is (a
  // photo, a recording: a Blob or bytes).
  const raw = contentType !== null;
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = raw ? contentType : 'application/json';
  if (auth && session.token) headers.Authorization = `Bearer ${session.token}`;

  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined || raw ? body : JSON.stringify(body),
      signal: ctl.signal,
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'unreachable', 'The terminal did not answer. Try again.');
  } finally {
    clearTimeout(timer);
  }

  const data = await readJson(res);
  if (res.ok) return data;

  const err = data && data.error ? data.error : null;
  const code = err && typeof err.code === 'string' ? err.code : `http_${res.status}`;
  const message = err && typeof err.message === 'string' && err.message
    ? err.message
    : `The terminal answered ${res.status} ${res.statusText}`.trim();
  const card = {
    reason: err && typeof err.reason === 'string' ? err.reason : '',
    overridePossible: !!(err && err.override_possible === true),
  };

  if (res.status === 401 && auth) {
    if (supervisor && (await sessionStillValid())) {
      throw new ApiError(401, code, message, { supervisorRejected: true, ...card });
    }
    session.clear();
    unauthorizedHandler();
  }
  throw new ApiError(res.status, code, message, { retryAfterS: retryAfterSeconds(res, err), ...card });
}

async function sessionStillValid() {
  try {
    const res = await fetch('/api/v1/sessions/current', {
      headers: { Authorization: `Bearer ${session.token}`, Accept: 'application/json' },
      cache: 'no-store',
    });
    return res.ok;
  } catch {
    return false;
  }
}

const enc = encodeURIComponent;

// The longest a card checkout can take: the customer has up to the
// terminal's reader timeout (at most 600 s) to present a card, then the
// processor up to its own timeout (at most 120 s). kassad always answers
// within that; the UI must not give up first.
const CARD_TIMEOUT_MS = 15 * 60 * 1000;

// Stock at the chain's stores is asked of the cloud while the request
// waits; kassad answers within its cloud timeout (at most 600 s) either way.
const CHAIN_TIMEOUT_MS = 11 * 60 * 1000;

// Recognising a frame takes milliseconds; grabbing one from the terminal's
// camera, or sending a large photo over a slow link, a little longer.
const RECOGNIZE_TIMEOUT_MS = 30 * 1000;

// Decoding a spoken order (at most 15 s of audio) takes seconds on a slow
// terminal.
const VOICE_TIMEOUT_MS = 60 * 1000;

// The endpoints the UI uses, one function each, named after the contract.
export const api = {
  status: () => request('GET', '/api/v1/status', undefined, { auth: false, timeoutMs: 1800 }),
  cashiers: () => request('GET', '/api/v1/cashiers', undefined, { auth: false }),
  login: (cashierId, pin) =>
    request('POST', '/api/v1/sessions', { cashier_id: cashierId, pin }, { auth: false }),
  currentSession: () => request('GET', '/api/v1/sessions/current'),
  logout: () => request('DELETE', '/api/v1/sessions/current'),

  searchItems: (q, limit = 20) =>
    request('GET', `/api/v1/catalog?q=${enc(q)}&limit=${limit}`),
  itemByBarcode: (code) => request('GET', `/api/v1/catalog/barcode/${enc(code)}`),
  chainStock: (sku) => request('GET', `/api/v1/stock/chain?sku=${enc(sku)}`, undefined, { timeoutMs: CHAIN_TIMEOUT_MS }),

  openCart: () => request('POST', '/api/v1/carts'),
  getCart: (id) => request('GET', `/api/v1/carts/${enc(id)}`),
  abandonCart: (id) => request('DELETE', `/api/v1/carts/${enc(id)}`),
  addLine: (id, sku, qty = 1) => request('POST', `/api/v1/carts/${enc(id)}/lines`, { sku, qty }),
  patchLine: (id, sku, patch) => request('PATCH', `/api/v1/carts/${enc(id)}/lines/${enc(sku)}`, patch),
  removeLine: (id, sku) => request('DELETE', `/api/v1/carts/${enc(id)}/lines/${enc(sku)}`),
  /**
   * Pay a cart: cash only, or with `cardMinor` the card pays that much (the
   * reader waits for the customer, so the answer can take as long as the
   * terminal's reader timeout: the request is not cut short here, since
   * giving up would not stop the payment). `manager` ({id, pin}) allows an
   * offline card payment beyond the limits; its PIN being wrong is a 401
   * that must not log the cashier out.
   */
  /** The risk review (docs/FRAUD.md): flagged sales, oversold items, alerts. */
  riskReview: (all) => request('GET', `/api/v1/review${all ? '?all=1' : ''}`),
  /** Resolves a risk review item: accept, flag or adjust (qty counted). */
  resolveRisk: (id, { action, qty = null, note = '', supervisor }) => {
    const body = { action, supervisor };
    if (qty !== null) body.qty = qty;
    if (note) body.note = note;
    return request('POST', `/api/v1/review/${enc(id)}/resolve`, body, { supervisor: true });
  },

  checkout: (id, tenderedMinor, { cardMinor = 0, manager = null, supervisor = null } = {}) => {
    const body = { tendered_minor: tenderedMinor };
    if (cardMinor > 0) body.card_minor = cardMinor;
    if (manager) body.manager = manager;
    // A supervisor approving a sale the fraud check held (403
    // supervisor_required): a wrong PIN must not log the cashier out.
    if (supervisor) body.supervisor = supervisor;
    const approver = !!manager || !!supervisor;
    return request('POST', `/api/v1/carts/${enc(id)}/checkout`, body,
      cardMinor > 0 ? { supervisor: approver, timeoutMs: CARD_TIMEOUT_MS } : { supervisor: approver });
  },

  /**
   * The product in a photo: `image` a Blob (or bytes) of type `type`
   * (image/png or image/jpeg); without an image the terminal's own camera
   * takes the frame.
   */
  recognize: (image = undefined, type = null) =>
    request('POST', '/api/v1/recognize', image, { contentType: image === undefined ? null : type, timeoutMs: RECOGNIZE_TIMEOUT_MS }),
  /** What the cashier took for a recognition: a SKU, or none (null). */
  confirmRecognition: (decisionId, sku = null) =>
    request('POST', `/api/v1/recognize/${enc(decisionId)}/confirm`, sku ? { sku } : {}),

  /**
   * A spoken order (a 16 kHz mono 16-bit WAV, web/js/wav.js) to proposed
   * changes. Nothing changes until the proposal is confirmed, for a cart.
   */
  voice: (wav) => request('POST', '/api/v1/voice', wav, { contentType: 'audio/wav', timeoutMs: VOICE_TIMEOUT_MS }),
  /** Apply a proposal to the cart (none yet: the terminal opens one); the Cart. */
  voiceConfirm: (proposalId, cartId) =>
    request('POST', `/api/v1/voice/${enc(proposalId)}/confirm`, cartId ? { cart_id: cartId } : {}),
  voiceCancel: (proposalId) => request('POST', `/api/v1/voice/${enc(proposalId)}/cancel`),

  sales: (limit = 20) => request('GET', `/api/v1/sales?limit=${limit}`),
  sale: (id) => request('GET', `/api/v1/sales/${enc(id)}`),
  voidSale: (id, supervisor, reason) =>
    request('POST', `/api/v1/sales/${enc(id)}/void`, withReason({ supervisor }, reason), { supervisor: true }),
  returnLines: (id, lines, supervisor, reason) =>
    request('POST', `/api/v1/sales/${enc(id)}/returns`, withReason({ lines, supervisor }, reason), { supervisor: true }),
  openDrawer: (supervisor, reason) =>
    request('POST', '/api/v1/drawer/open', { supervisor, reason }, { supervisor: true }),

  drawer: () => request('GET', '/api/v1/drawer'),
  drawerFloat: (amountMinor) => request('POST', '/api/v1/drawer/float', { amount_minor: amountMinor }),
  drawerDrop: (amountMinor) => request('POST', '/api/v1/drawer/drop', { amount_minor: amountMinor }),
  drawerCount: (countedMinor) => request('POST', '/api/v1/drawer/count', { counted_minor: countedMinor }),

  pendingPayments: () => request('GET', '/api/v1/payments/pending'),
  forwardPayments: () => request('POST', '/api/v1/payments/forward'),
  reviewList: (all = false) => request('GET', `/api/v1/payments/review${all ? '?all=1' : ''}`),
  resolveReview: (paymentId, manager, note) =>
    request('POST', `/api/v1/payments/review/${enc(paymentId)}/resolve`, { manager, note }, { supervisor: true }),
};

// reason is optional for void and return: send it only when given, since the
// API rejects unknown or malformed fields.
function withReason(body, reason) {
  if (reason) body.reason = reason;
  return body;
}
