// Product recognition at the checkout (docs/AI.md, "In kassad"): the
// cashier takes a photo of an item without a readable barcode (a phone or
// tablet's camera, a file, or the terminal's own camera), the terminal
// suggests a product with its confidence and alternatives, and the cashier
// takes one (the line is added as any other) or scans instead. Below its
// threshold the terminal is not sure and says to scan the barcode; when it
// read a barcode in the same photo, that item is offered.
//
// Every recognition is a decision on record at the terminal, and what the
// cashier made of it is too (POST .../confirm): the product taken, or none
// when the dialog is closed, another photo is taken, or the answer comes
// after the cashier gave up waiting.

import { api, session, ApiError } from './api.js';
import { openDialog } from './dialogs.js';
import { $, h, describeError } from './dom.js';
import { addSku, message } from './checkout.js';
import { aiStatus } from './status.js';

// A PNG or JPEG up to this size goes as it is; a larger photo, or another
// format (HEIC, WebP…), is redrawn as a JPEG at most MAX_SIDE_PX wide.
const MAX_SEND_BYTES = 4 * 1024 * 1024;
const MAX_SIDE_PX = 1600;
const JPEG_QUALITY = 0.9;

let decision = null; // the decision_id waiting for the cashier's answer
let seq = 0; // a late answer (the dialog closed, another photo) is answered "none"
let offer = null; // the item "Add" takes: {sku, name}

const dlg = () => $('dlg-recognize');

// ────────────────────────────── the photo ──────────────────────────────

/** 'image/png' or 'image/jpeg' from the first bytes, else null. */
async function sniff(blob) {
  const b = new Uint8Array(await blob.slice(0, 4).arrayBuffer());
  if (b.length >= 4 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'image/png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  return null;
}

/**
 * The photo as the terminal takes it: {body, type}, or {error} when it is
 * no picture at all. A PNG or JPEG goes unchanged (the terminal says what
 * is wrong with a damaged one).
 */
async function preparePhoto(file) {
  const type = await sniff(file);
  if (type && file.size <= MAX_SEND_BYTES) return { body: file, type };
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    if (type) return { body: file, type }; // too large: the terminal says so
    return { error: `“${file.name}” is not a photo this terminal can read: choose a PNG or JPEG picture.` };
  }
  const scale = Math.min(1, MAX_SIDE_PX / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  const jpeg = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', JPEG_QUALITY));
  return jpeg ? { body: jpeg, type: 'image/jpeg' } : { error: `“${file.name}” could not be converted to a JPEG picture.` };
}

// ───────────────────────────── the dialog ─────────────────────────────

const STEPS = ['source', 'busy', 'suggestion', 'fallback'];

/** Show one step of the dialog: source, busy, suggestion or fallback. */
function step(name) {
  for (const s of STEPS) $(`recog-${s}`).hidden = s !== name;
  $('recog-again').hidden = name !== 'suggestion' && name !== 'fallback';
  if (name !== 'source') $('recog-error').textContent = '';
}

function firstSource() {
  return $('recog-camera').hidden ? $('recog-photo') : $('recog-camera');
}

function showSource(error = '') {
  const st = aiStatus();
  $('recog-camera').hidden = !(st && st.camera);
  $('recog-source-hint').textContent = st && !st.model && st.on
    ? 'No recognition model on this terminal: only a barcode in the photo can be read.'
    : 'Take a photo of the item, or choose one.';
  step('source');
  $('recog-error').textContent = error;
  if (dlg().open) firstSource().focus();
}

const percent = (c) => {
  const p = Math.round(Number(c) * 100);
  return p < 1 ? 'under 1%' : `${Math.min(p, 100)}%`;
};

function showSuggestion(r) {
  const name = r.name || r.sku;
  offer = { sku: r.sku, name };
  $('recog-name').textContent = name;
  $('recog-confidence').textContent = `${percent(r.confidence)} sure`;
  $('recog-add').textContent = `Add ${name}`;
  // Alternatives not in the catalog (no name) cannot be sold.
  const alts = (Array.isArray(r.alternatives) ? r.alternatives : []).filter((a) => a && a.sku && a.name);
  $('recog-alts').replaceChildren(...alts.map((a) =>
    h('button', {
      type: 'button', class: 'alt-btn', dataset: { sku: a.sku },
      'aria-label': `Add ${a.name} (${percent(a.confidence)} sure)`,
      onclick: () => take(a.sku, a.name),
    }, a.name, h('span', { class: 'recog-conf' }, ` ${percent(a.confidence)}`))));
  $('recog-alts-box').hidden = alts.length === 0;
  step('suggestion');
  $('recog-add').focus();
}

async function showFallback(r, mine) {
  offer = null;
  const bc = r.barcode && typeof r.barcode.data === 'string' ? r.barcode : null;
  const text = [];
  if (r.reason === 'model_error') {
    text.push(r.model ? `The recognition model failed${r.error ? `: ${r.error}` : ''}.` : 'No recognition model on this terminal.');
  }
  if (bc && bc.sku) {
    // The item is named by its barcode: the catalog has its name.
    let name = bc.sku;
    try {
      name = (await api.itemByBarcode(bc.data)).name || bc.sku;
    } catch {
      // the SKU will do
    }
    if (mine !== seq) return;
    offer = { sku: bc.sku, name };
    text.push(`The photo shows barcode ${bc.data}: ${name}.`);
  } else if (bc) {
    text.push(`The photo shows barcode ${bc.data}, which is not in the catalog.`);
  }
  $('recog-barcode-text').textContent = text.join(' ');
  $('recog-barcode-add').hidden = !offer;
  if (offer) $('recog-barcode-add').textContent = `Add ${offer.name}`;
  step('fallback');
  (offer ? $('recog-barcode-add') : $('recog-close')).focus();
}

function errorText(err) {
  if (err instanceof ApiError) {
    if (err.status === 400) return `The terminal could not read that photo: ${describeError(err)}`;
    if (err.status === 413) return `That photo is too large: ${describeError(err)}`;
    if (err.status === 503) return `The terminal camera gave no picture: ${describeError(err)}`;
  }
  return `Recognition failed: ${describeError(err)}`;
}

/** Tell the terminal what the cashier made of a decision (a SKU, or none). */
async function answer(id, sku) {
  try {
    await api.confirmRecognition(id, sku);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return;
    const now = $('msg').textContent;
    message(`${now ? `${now} ` : ''}(The answer to recognition ${id} was not recorded: ${describeError(err)})`, 'error');
  }
}

/** The previous decision, if still unanswered, is answered "none". */
function dropDecision() {
  const id = decision;
  decision = null;
  offer = null;
  if (id && session.token) answer(id, null); // not after the session ended
}

/**
 * Recognise a frame: `image` {body, type}, or null for the terminal's
 * camera. The dialog shows the suggestion or the fallback.
 */
async function recognize(image) {
  dropDecision();
  const mine = ++seq;
  step('busy');
  $('recog-busy').focus();
  let r;
  try {
    r = image ? await api.recognize(image.body, image.type) : await api.recognize();
  } catch (err) {
    if (mine !== seq) return;
    if (err instanceof ApiError && err.status === 401) return; // back to login
    showSource(errorText(err));
    return;
  }
  if (mine !== seq || !dlg().open) {
    answer(r.decision_id, null); // nobody is looking at it any more
    return;
  }
  decision = r.decision_id;
  if (r.fallback || !r.sku) await showFallback(r, mine);
  else showSuggestion(r);
}

/** The cashier takes an item: the line is added, then the answer recorded. */
async function take(sku, name) {
  const id = decision;
  decision = null;
  offer = null;
  dlg().close('added');
  const added = await addSku(sku, name);
  if (id) await answer(id, added ? sku : null);
}

async function photoChosen() {
  const input = $('recog-file');
  const file = input.files && input.files[0];
  if (!file) return;
  if (!dlg().open) openRecognize(); // a photo handed over without the dialog
  const mine = seq;
  const image = await preparePhoto(file);
  input.value = ''; // the same photo again is a new choice
  if (mine !== seq || !dlg().open) return;
  if (image.error) {
    dropDecision();
    showSource(image.error);
    return;
  }
  await recognize(image);
}

/** F6 / "Camera": the dialog, at the choice of a photo or the terminal camera. */
export function openRecognize() {
  const st = aiStatus();
  if (st && !st.on) {
    message('Product recognition is off on this terminal: scan the barcode.', 'error');
    return Promise.resolve('');
  }
  dropDecision();
  seq++;
  showSource();
  return openDialog(dlg(), firstSource());
}

export function initRecognize() {
  $('btn-camera').addEventListener('click', openRecognize);
  $('recog-photo').addEventListener('click', () => $('recog-file').click());
  $('recog-file').addEventListener('change', photoChosen);
  $('recog-camera').addEventListener('click', () => recognize(null));
  $('recog-add').addEventListener('click', () => offer && take(offer.sku, offer.name));
  $('recog-barcode-add').addEventListener('click', () => offer && take(offer.sku, offer.name));
  $('recog-again').addEventListener('click', () => {
    dropDecision();
    seq++;
    showSource();
  });
  $('recog-close').addEventListener('click', () => {
    dlg().close('scan');
    $('scan-input').focus();
  });
  // However it closes (Scan instead, Esc, logout), an open decision is
  // answered "none", and a request still running is answered so when it ends.
  dlg().addEventListener('close', () => {
    if (dlg().open) return; // an earlier closing, delivered after it opened again
    seq++;
    dropDecision();
  });
}
