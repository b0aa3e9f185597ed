// The status bar: GET /api/v1/status every 2 s, whatever screen is shown.
// A cashier must see at a glance that the till still records sales (it
// always does, offline or not) and whether its sales are leaving the till.
// Polls are chained with setTimeout, not setInterval, so a slow terminal
// never gets a second poll while the first is still waiting.
//
// The cloud (head office): nothing when this terminal has none, else one
// item, e.g. "Cloud: online · last upload 12:03" or "Cloud: offline for
// 5 min · 1,234 operations waiting".
//
// Product recognition: the model in use, or that there is none.
//
// Card payments: the processor's state, the payments accepted offline and
// not yet forwarded (count and amount), the review list's size, and a
// "Forward now" button while anything waits for the processor.

import { api, session, ApiError } from './api.js';
import { $, describeError, timeText } from './dom.js';
import { formatMinor } from './money.js';

const PERIOD_MS = 2000;

// Update text only when it changes: fewer repaints, and assistive
// technology is not told the same thing every 2 s.
function set(el, text, cls) {
  if (el.textContent !== text) el.textContent = text;
  const want = `st-item ${cls || ''}`.trim();
  if (el.className !== want) el.className = want;
}

function render(s) {
  $('st-unreachable').hidden = true;
  $('status-bar').classList.remove('stale');
  set($('st-terminal'), `${s.store} · ${s.node}`);
  set($('st-net'), s.online ? 'Online' : 'Offline', s.online ? 'st-ok' : 'st-warn');
  const pending = Number.isInteger(s.pending_ops) ? s.pending_ops : 0;
  set($('st-sync'), pending === 0 ? 'Sync: up to date' : `Sync: ${pending} pending`, pending === 0 ? 'st-ok' : 'st-warn');
  // Store coordination (cloud upload, roster and settings) needs a leader a
  // majority follows; selling never does, so the bar says both.
  const raft = s.raft && typeof s.raft === 'object' ? s.raft : null;
  const paused = raft && raft.coordination === 'paused';
  let leader = s.leader && s.leader.node
    ? `Leader: ${s.leader.node}${Number.isInteger(s.leader.term) ? ` (term ${s.leader.term})` : ''}`
    : 'No leader';
  if (paused) leader = `${leader}: store coordination paused (${raft.why || 'no quorum'}); sales go on`;
  set($('st-leader'), leader, s.leader && s.leader.node && !paused ? '' : 'st-warn');
  storeId = typeof s.store === 'string' ? s.store : null;
  renderCloud(s.cloud && typeof s.cloud === 'object' ? s.cloud : null);
  renderPayments(s.payments && typeof s.payments === 'object' ? s.payments : null);
  renderAi(s.ai && typeof s.ai === 'object' ? s.ai : null);
  // Voice ordering: the push-to-talk button, once the terminal takes orders.
  const voice = s.voice && typeof s.voice === 'object' ? s.voice : null;
  $('btn-talk').hidden = !voice || voice.state === 'off';
}

let ai = null; // from the last status: {state, model, camera}, or null

/**
 * Product recognition on this terminal: null before the first status,
 * else {on: recognition answers at all, model: "product v1" or null,
 * camera: the terminal has a camera of its own}.
 */
export function aiStatus() {
  return ai;
}

// "AI: model product v1", or "AI: no model (barcode only)": without a
// model a photo can still be read for its barcode. Nothing when off.
function renderAi(a) {
  const state = a && typeof a.state === 'string' ? a.state : 'off';
  const m = a && a.model && typeof a.model === 'object' ? a.model : null;
  const model = state === 'ready' && m && typeof m.name === 'string'
    ? `${m.name}${Number.isInteger(m.version) ? ` v${m.version}` : ''}`
    : null;
  ai = { on: state !== 'off', model, camera: !!(a && a.camera === true) };
  const el = $('st-ai');
  if (ai.on) set(el, model ? `AI: model ${model}` : 'AI: no model (barcode only)', model ? '' : 'st-warn');
  el.hidden = !ai.on;
  $('btn-camera').hidden = !ai.on;
}

let storeId = null; // from the last status

/** This terminal's store, or null before the first status. */
export function currentStore() {
  return storeId;
}

const grouped = (n) => n.toLocaleString('en');

/** "less than a minute", "5 min", "2 h 5 min", "3 d 4 h". */
function durationText(ms) {
  const min = Math.floor(Math.max(0, ms) / 60000);
  if (min < 1) return 'less than a minute';
  if (min < 60) return `${min} min`;
  const hours = Math.floor(min / 60);
  if (hours < 24) return min % 60 ? `${hours} h ${min % 60} min` : `${hours} h`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days} d ${hours % 24} h` : `${days} d`;
}

/**
 * The cloud (head office) the store uploads its operations to, in one item:
 * none at all without a cloud; online with its last upload; otherwise for
 * how long it has been out of reach and how much waits for it. Selling
 * never depends on it.
 */
function cloudText(c, nowMs = Date.now()) {
  const state = c && typeof c.state === 'string' ? c.state : 'unknown';
  if (state === 'not_configured') return null;
  const int = (v) => (Number.isSafeInteger(v) && v > 0 ? v : 0);
  const pending = int(c && c.pending_upload_ops);
  const waiting = pending > 0 ? `${grouped(pending)} ${pending === 1 ? 'operation' : 'operations'} waiting` : '';
  const parts = [];
  let cls = '';
  if (state === 'online') {
    const last = int(c.last_upload_ms);
    // Between upload passes (minutes apart) operations wait as a matter of
    // course: the last upload says enough. A terminal that does not upload
    // itself (not the leader) has none of its own, so it shows what waits.
    parts.push('Cloud: online', last ? `last upload ${timeText(last, { seconds: false })}` : waiting);
    cls = 'st-ok';
  } else if (state === 'offline') {
    const since = int(c.offline_since_ms);
    parts.push(since ? `Cloud: offline for ${durationText(nowMs - since)}` : 'Cloud: offline', waiting);
    cls = 'st-warn';
  } else if (state === 'unknown') {
    parts.push('Cloud: not reached yet', waiting);
  } else {
    parts.push(`Cloud: ${state}`, waiting);
  }
  return { text: parts.filter(Boolean).join(' · '), cls };
}

function renderCloud(c) {
  const el = $('st-cloud');
  const t = cloudText(c);
  if (t) set(el, t.text, t.cls);
  el.hidden = !t;
}

const PROCESSOR = {
  online: ['Card processor: online', 'st-ok'],
  offline: ['Card processor: offline (cards accepted offline)', 'st-warn'],
  unknown: ['Card processor: not contacted yet', ''],
  none: ['No card processor (cards accepted offline)', 'st-warn'],
};

const count = (n, one, many) => `${n} ${n === 1 ? one : many}`;

let cardReader = null; // from the last status: is a card reader configured?

/** Whether this terminal takes cards: true, false, or null before the first status. */
export function takesCards() {
  return cardReader;
}

function renderPayments(p) {
  if (p && typeof p.reader === 'boolean' && p.reader !== cardReader) {
    cardReader = p.reader;
    // No reader, no card tender (the terminal would refuse it).
    $('btn-pay-card').hidden = !cardReader;
  }
  const cardEl = $('st-card');
  const pendingEl = $('st-card-pending');
  const reviewEl = $('st-review');
  const forward = $('st-forward');
  const int = (v) => (Number.isInteger(v) ? v : 0);
  if (!p || (!p.reader && (!p.processor || p.processor === 'none'))) {
    cardEl.hidden = pendingEl.hidden = reviewEl.hidden = forward.hidden = true;
    return;
  }
  const [text, cls] = PROCESSOR[p.processor] || [`Card processor: ${p.processor}`, ''];
  set(cardEl, text, cls);
  cardEl.hidden = false;

  const pending = int(p.pending_count);
  if (pending > 0) {
    set(pendingEl, `${count(pending, 'card payment', 'card payments')} pending: ${formatMinor(int(p.pending_amount_minor))}`, 'st-warn');
  }
  pendingEl.hidden = pending === 0;

  const review = int(p.review_count);
  if (review > 0) set(reviewEl, `${count(review, 'card payment', 'card payments')} to review`, 'st-warn');
  reviewEl.hidden = review === 0;

  // Forwarding needs a session; anything due (stored payments, captures,
  // reversals, refunds) can be sent now instead of at the next retry.
  forward.hidden = !session.token || (pending === 0 && int(p.due_count) === 0);
}

async function forwardNow() {
  const b = $('st-forward');
  b.disabled = true;
  b.textContent = 'Forwarding…';
  b.removeAttribute('title');
  try {
    await api.forwardPayments();
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) {
      b.title = `Could not forward: ${describeError(err)}`;
    }
  } finally {
    b.disabled = false;
    b.textContent = 'Forward now';
  }
  // The forwarder answers in the background: look again soon.
  refreshStatus();
  setTimeout(refreshStatus, 400);
  setTimeout(refreshStatus, 1200);
}

// Keep the last known values, greyed out: they are no longer current.
function renderUnreachable() {
  $('st-unreachable').hidden = false;
  $('status-bar').classList.add('stale');
}

let timer = null;
let polling = false;
let again = false;

async function tick() {
  if (polling) {
    again = true; // asked for while a poll runs: poll once more after it
    return;
  }
  polling = true;
  clearTimeout(timer);
  try {
    render(await api.status());
  } catch {
    renderUnreachable();
  }
  polling = false;
  if (again) {
    again = false;
    tick();
    return;
  }
  timer = setTimeout(tick, PERIOD_MS);
}

/** Poll now (after something that changes the status), then every 2 s again. */
export function refreshStatus() {
  tick();
}

export function startStatusPolling() {
  $('st-forward').addEventListener('click', forwardNow);
  tick();
}
