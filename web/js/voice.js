// Voice ordering, push to talk (docs/VOICE.md): while the cashier holds the
// button (pointer, Space on it, or F7 anywhere on the checkout screen) the
// microphone records; on release the recording goes to the terminal as a
// 16 kHz mono 16-bit WAV (js/wav.js), which answers with proposed changes
// ("add 2 × coffee, add 1 × muffin"). Nothing changes until the cashier
// confirms; an order the terminal did not understand is "please repeat".
//
// The microphone is opened on press and closed on release: no sound is
// taken while the button is up. Recording runs in an AudioWorklet
// (js/capture-worklet.js) at the device's rate, resampled here.

import { api, session, ApiError } from './api.js';
import { openDialog, anyDialogOpen } from './dialogs.js';
import { $, h, describeError } from './dom.js';
import { changeCart, message } from './checkout.js';
import { concatSamples, voiceWav } from './wav.js';

// The terminal refuses orders over 15 s (VOICE_AUDIO_MAX_MS): recording
// stops there by itself. Under MIN_RECORD_MS it was a tap, not an order.
const MAX_RECORD_MS = 15000;
const MIN_RECORD_MS = 300;
const WORKLET_URL = 'js/capture-worklet.js';
const TALK_KEY = 'F7';

let rec = null; // the recording: {ctx, stream, node, src, blocks, startedMs, timer, released}
let sending = false;
let proposal = null; // the proposal shown: {proposal_id, changes, …}

function setTalk(state) {
  const b = $('btn-talk');
  b.classList.toggle('listening', state === 'listening');
  b.classList.toggle('starting', state === 'starting');
  b.disabled = state === 'sending';
  b.setAttribute('aria-pressed', state === 'listening' || state === 'starting' ? 'true' : 'false');
  const text = {
    idle: 'Hold to talk', starting: 'Opening the microphone…', listening: 'Listening… release to send', sending: 'Working…',
  }[state];
  b.firstChild.textContent = `${text} `;
}

function micErrorText(err) {
  const name = err && err.name;
  if (name === 'NotAllowedError' || name === 'SecurityError') return 'The microphone is not allowed for this page: allow it in the browser to order by voice.';
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return 'No microphone found on this device.';
  if (name === 'NotReadableError') return 'The microphone is in use by something else, or not working.';
  return `The microphone could not be opened: ${describeError(err)}`;
}

function release(r) {
  clearTimeout(r.timer);
  if (r.src) r.src.disconnect();
  if (r.node) {
    r.node.port.onmessage = null;
    r.node.disconnect();
  }
  if (r.stream) for (const t of r.stream.getTracks()) t.stop();
  if (r.ctx) r.ctx.close().catch(() => {});
}

/** Press: open the microphone and record until release. */
async function startTalking() {
  if (rec || sending || anyDialogOpen()) return;
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || typeof AudioWorkletNode === 'undefined') {
    message('No microphone on this page: voice orders need the terminal’s own screen or a secure (https) connection.', 'error');
    return;
  }
  const r = { blocks: [], released: false };
  rec = r;
  setTalk('starting');
  try {
    r.ctx = new AudioContext();
    await r.ctx.audioWorklet.addModule(WORKLET_URL);
    // The raw microphone: the browser's echo, noise and gain processing
    // changes speech in ways the recognizer was not made for.
    r.stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
    r.node = new AudioWorkletNode(r.ctx, 'kassa-capture', { numberOfInputs: 1, numberOfOutputs: 0 });
    r.node.port.onmessage = (e) => r.blocks.push(e.data);
    r.src = r.ctx.createMediaStreamSource(r.stream);
    r.src.connect(r.node);
    if (r.ctx.state === 'suspended') await r.ctx.resume();
  } catch (err) {
    release(r);
    rec = null;
    setTalk('idle');
    message(micErrorText(err), 'error');
    return;
  }
  r.startedMs = performance.now();
  if (r.released) {
    // Let go before the microphone was ready.
    stopTalking();
    return;
  }
  r.timer = setTimeout(stopTalking, MAX_RECORD_MS);
  setTalk('listening');
  message('Listening… release to send.', 'info');
}

/** Release: stop recording and send what was said. */
async function stopTalking() {
  const r = rec;
  if (!r) return;
  r.released = true;
  if (r.startedMs === undefined) return; // still opening: it stops when ready
  rec = null;
  const heldMs = performance.now() - r.startedMs;
  const rate = r.ctx.sampleRate;
  const samples = concatSamples(r.blocks);
  release(r);
  if (heldMs < MIN_RECORD_MS || samples.length < (rate * MIN_RECORD_MS) / 1000) {
    setTalk('idle');
    message('Too short: hold the button (or F7) for as long as you speak.', 'error');
    return;
  }
  await send(voiceWav(samples, rate));
}

async function send(wav) {
  sending = true;
  setTalk('sending');
  message('Working out the order…', 'info');
  let p = null;
  try {
    p = await api.voice(wav);
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) message(`Voice order: ${describeError(err)}`, 'error');
  } finally {
    sending = false;
    setTalk('idle');
  }
  if (p) showProposal(p);
}

// ───────────────────────────── the proposal ─────────────────────────────

function changeText(c) {
  const name = c.name || c.sku;
  if (c.op === 'add') return `Add ${c.qty} × ${name}`;
  if (c.op === 'remove') return c.qty > 0 ? `Remove ${c.qty} × ${name}` : `Remove ${name} (the whole line)`;
  return `${c.op} ${c.qty} × ${name}`;
}

function showProposal(p) {
  if (p.status !== 'heard') {
    // Not understood: nothing to confirm (the terminal keeps no proposal,
    // and what it half heard is no guide); the cashier holds again.
    message('Please repeat: the order was not understood. Hold the button (or F7) and say it again.', 'error');
    return;
  }
  proposal = p;
  const changes = Array.isArray(p.changes) ? p.changes : [];
  $('voice-heard').textContent = p.heard || '';
  $('voice-changes').replaceChildren(...(changes.length
    ? changes.map((c) => h('li', { class: `change-${c.op}`, dataset: { sku: c.sku, op: c.op } }, changeText(c)))
    : [h('li', { class: 'hint' }, 'Nothing to change.')]));
  $('voice-error').textContent = '';
  $('voice-confirm').hidden = changes.length === 0;
  $('voice-confirm').disabled = false;
  message('');
  openDialog($('dlg-voice'), changes.length ? $('voice-confirm') : $('voice-cancel'));
}

async function confirm() {
  const p = proposal;
  if (!p) return;
  const b = $('voice-confirm');
  b.disabled = true;
  $('voice-error').textContent = '';
  try {
    await changeCart((cartId) => api.voiceConfirm(p.proposal_id, cartId));
  } catch (err) {
    b.disabled = false;
    if (err instanceof ApiError && err.status === 401) return;
    $('voice-error').textContent = describeError(err);
    return;
  }
  proposal = null;
  $('dlg-voice').close('confirmed');
  message(`Voice order: ${p.changes.map(changeText).join(', ')}.`, 'ok');
}

// ──────────────────────────────── wiring ────────────────────────────────

export function initVoice({ enabled }) {
  const b = $('btn-talk');
  b.addEventListener('pointerdown', (e) => {
    if (e.button !== 0) return;
    e.preventDefault(); // no focus change, no text selection on a long press
    b.setPointerCapture(e.pointerId);
    startTalking();
  });
  for (const ev of ['pointerup', 'pointercancel', 'lostpointercapture']) b.addEventListener(ev, stopTalking);
  b.addEventListener('contextmenu', (e) => e.preventDefault()); // a long touch
  // Space held on the button; F7 held anywhere on the checkout screen.
  b.addEventListener('keydown', (e) => {
    if (e.key !== ' ') return;
    e.preventDefault();
    if (!e.repeat) startTalking();
  });
  b.addEventListener('keyup', (e) => {
    if (e.key === ' ') stopTalking();
  });
  window.addEventListener('keydown', (e) => {
    if (e.key !== TALK_KEY || e.ctrlKey || e.altKey || e.metaKey || !enabled()) return;
    e.preventDefault(); // F7 is the browser's caret browsing
    if (!e.repeat && !b.hidden) startTalking();
  });
  window.addEventListener('keyup', (e) => {
    if (e.key === TALK_KEY) stopTalking();
  });
  window.addEventListener('blur', stopTalking); // a release we will not see

  $('voice-confirm').addEventListener('click', confirm);
  $('voice-cancel').addEventListener('click', () => $('dlg-voice').close('cancel'));
  // However the proposal is left (Cancel, Esc, logout) it is cancelled.
  $('dlg-voice').addEventListener('close', () => {
    if ($('dlg-voice').open || !proposal) return;
    const id = proposal.proposal_id;
    proposal = null;
    if (session.token) api.voiceCancel(id).catch(() => {}); // not after the session ended
  });
}
