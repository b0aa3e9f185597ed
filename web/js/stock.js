// Stock at the chain's other stores: GET /api/v1/stock/chain, which asks the
// cloud there and then. Offline, or without a cloud, the terminal says the
// figures are unavailable and why; then the dialog shows exactly that and
// never a number (an old figure shown as current would send a customer to
// a store that sold out since). The figures are not kept: every opening,
// and "Ask again", asks anew.

import { api, ApiError } from './api.js';
import { openDialog } from './dialogs.js';
import { $, h, describeError, timeText } from './dom.js';
import { currentStore } from './status.js';

let shown = null; // the item the dialog is for: {sku, name, stock}
let seq = 0; // answers for an item no longer shown are dropped
let inflight = null; // {sku, promise}: the question already on its way

function setStatus(text, kind) {
  const el = $('chain-status');
  el.textContent = text;
  el.className = `chain-status${kind ? ` chain-${kind}` : ''}`;
}

function showList(rows) {
  $('chain-rows').replaceChildren(...rows);
  $('chain-list').hidden = rows.length === 0;
}

function unavailable(why) {
  showList([]);
  setStatus(`Unavailable: ${why || 'the terminal gave no reason'}`, 'unavailable');
}

function storeRow(st, here) {
  const mine = here !== null && st.store_id === here;
  return h('tr', { dataset: { store: st.store_id }, class: mine ? 'chain-here' : '' },
    h('td', {}, mine ? `${st.store_id} (this store)` : st.store_id),
    h('td', { class: 'num' }, String(st.qty)),
    h('td', {}, Number.isSafeInteger(st.as_of_ms) && st.as_of_ms > 0 ? timeText(st.as_of_ms) : '—'));
}

function render(r) {
  if (!r || r.available !== true || !Array.isArray(r.stores)) {
    unavailable(r && typeof r.why === 'string' ? r.why : '');
    return;
  }
  const stores = r.stores.filter((st) => st && typeof st.store_id === 'string' && Number.isSafeInteger(st.qty));
  const here = currentStore();
  // Other stores first (that is what was asked), alphabetically; this one last.
  stores.sort((a, b) => (a.store_id === here) - (b.store_id === here) || a.store_id.localeCompare(b.store_id));
  showList(stores.map((st) => storeRow(st, here)));
  const asked = Number.isSafeInteger(r.as_of_ms) && r.as_of_ms > 0 ? `Asked at ${timeText(r.as_of_ms)}` : 'Asked just now';
  const n = stores.length;
  setStatus(n === 0
    ? `${asked}: no store has reported stock of this item yet.`
    : `${asked}: ${n} ${n === 1 ? 'store' : 'stores'}.`, 'ok');
}

function lookup(sku) {
  if (!inflight || inflight.sku !== sku) {
    const promise = api.chainStock(sku).finally(() => {
      if (inflight && inflight.promise === promise) inflight = null;
    });
    inflight = { sku, promise };
  }
  return inflight.promise;
}

async function ask() {
  if (!shown) return;
  const mine = ++seq;
  const again = $('chain-again');
  showList([]);
  setStatus('Asking the cloud…', 'busy');
  again.disabled = true;
  try {
    const r = await lookup(shown.sku);
    if (mine === seq) render(r);
  } catch (err) {
    if (mine !== seq) return;
    if (err instanceof ApiError && err.status === 401) return; // back to login
    unavailable(describeError(err));
  } finally {
    if (mine === seq) {
      again.disabled = false;
      // Focus was on "Ask again" while it was disabled: keep it in the dialog.
      if ($('dlg-chain').open && !$('dlg-chain').contains(document.activeElement)) again.focus();
    }
  }
}

/** Show an item's stock at the chain's stores: {sku, name, stock (here)}. */
export function showChainStock(item) {
  shown = item;
  $('chain-item').textContent = `${item.name} (${item.sku})` +
    (Number.isSafeInteger(item.stock) ? ` · here: ${item.stock}` : '');
  const done = openDialog($('dlg-chain'));
  ask();
  return done.then((rv) => {
    seq++; // a late answer is for nobody
    shown = null;
    return rv;
  });
}

export function initChainStock() {
  $('chain-again').addEventListener('click', ask);
}
