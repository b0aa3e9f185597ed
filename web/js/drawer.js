// The cash drawer: what this terminal's drawer should hold (GET
// /api/v1/drawer), cash put in (the float), cash taken to the safe (a
// drop), and the end-of-shift count, which records what was over or short
// and from then on the drawer holds what was counted (docs/PAYMENTS.md,
// "The drawer"). Any cashier may record these; each is an operation naming
// the cashier, listed newest first.

import { api, ApiError } from './api.js';
import { openDialog } from './dialogs.js';
import { $, h, describeError } from './dom.js';
import { formatMinor, parseMoney } from './money.js';
import { message } from './checkout.js';
import { timeText } from './sales.js';

const ACTIONS = {
  float: { label: 'Amount put in', button: 'Record float', name: 'Float in', done: 'Float', call: (v) => api.drawerFloat(v) },
  drop: { label: 'Amount taken to the safe', button: 'Record drop', name: 'Cash drop', done: 'Cash drop', call: (v) => api.drawerDrop(v) },
  count: { label: 'Cash counted in the drawer', button: 'Record count', name: 'Count', done: 'Count', call: (v) => api.drawerCount(v) },
};

function chosen() {
  return document.querySelector('input[name=drawer-action]:checked').value;
}

function syncAction() {
  const a = ACTIONS[chosen()];
  $('drawer-amount-label').textContent = a.label;
  $('drawer-submit').textContent = a.button;
  $('drawer-error').textContent = '';
}

/** "over 2.00", "short 1.80", "no difference" */
export function overShortText(delta) {
  if (delta > 0) return `over ${formatMinor(delta)}`;
  if (delta < 0) return `short ${formatMinor(-delta)}`;
  return 'no difference';
}

function eventRow(e) {
  const a = ACTIONS[e.action];
  return h('tr', { dataset: { action: e.action } },
    h('td', {}, timeText(e.time_ms)),
    h('td', {}, a ? a.name : e.action),
    h('td', { class: 'num' }, formatMinor(e.amount_minor)),
    h('td', { class: `num${e.over_short_minor < 0 ? ' short' : e.over_short_minor > 0 ? ' over' : ''}` },
      e.action === 'count' ? overShortText(e.over_short_minor) : ''),
    h('td', {}, e.cashier_id));
}

function render(d) {
  $('drawer-expected').textContent = formatMinor(d.cash_minor);
  const events = Array.isArray(d.events) ? d.events : [];
  $('drawer-events').replaceChildren(...events.map(eventRow));
  if (events.length === 0) {
    $('drawer-events').append(h('tr', {}, h('td', { colspan: 5, class: 'hint' }, 'No float, drop or count yet.')));
  }
}

async function load() {
  try {
    render(await api.drawer());
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) $('drawer-error').textContent = describeError(err);
  }
}

export async function openCashDrawer() {
  for (const r of document.querySelectorAll('input[name=drawer-action]')) r.checked = r.value === 'float';
  syncAction();
  $('drawer-amount').value = '';
  $('drawer-result').textContent = '';
  $('drawer-result').className = 'drawer-result';
  $('drawer-expected').textContent = '…';
  $('drawer-events').replaceChildren();
  const shown = openDialog($('dlg-drawer'), $('drawer-amount'));
  await load();
  return shown;
}

function resultText(action, amount, d) {
  if (action === 'count') {
    return `Counted ${formatMinor(d.counted_minor)}, expected ${formatMinor(d.expected_minor)}: ${overShortText(d.over_short_minor)}.`;
  }
  return `${ACTIONS[action].done} of ${formatMinor(amount)} recorded. The drawer should now hold ${formatMinor(d.cash_minor)}.`;
}

async function submit(e) {
  e.preventDefault();
  const action = chosen();
  const input = $('drawer-amount');
  const amount = parseMoney(input.value);
  $('drawer-error').textContent = '';
  if (amount === null || (action !== 'count' && amount === 0)) {
    $('drawer-error').textContent = action === 'count'
      ? 'Enter the cash counted, e.g. 152.30.'
      : 'Enter an amount above 0.00, e.g. 100 or 52.30.';
    input.focus();
    return;
  }
  const button = $('drawer-submit');
  button.disabled = true;
  try {
    const d = await ACTIONS[action].call(amount);
    const text = resultText(action, amount, d);
    const result = $('drawer-result');
    result.textContent = text;
    const off = action === 'count' && d.over_short_minor !== 0;
    result.className = `drawer-result ${off ? 'msg-error' : 'msg-ok'}`;
    message(text, off ? 'error' : 'ok');
    input.value = '';
    await load();
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) $('drawer-error').textContent = describeError(err);
  } finally {
    button.disabled = false;
    if ($('dlg-drawer').open) input.focus();
  }
}

export function initDrawer() {
  $('btn-cash-drawer').addEventListener('click', openCashDrawer);
  $('drawer-form').addEventListener('submit', submit);
  for (const r of document.querySelectorAll('input[name=drawer-action]')) r.addEventListener('change', syncAction);
}
