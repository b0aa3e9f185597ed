// Recent sales, and the actions that need a supervisor: void a sale, return
// units of it, open the drawer without a sale. Each asks for a supervisor's
// id and PIN in a modal (dialogs.js supervisorPrompt), which the API checks
// and audits; the cashier's own session is not enough.

import { api, ApiError } from './api.js';
import { openDialog, supervisorPrompt } from './dialogs.js';
import { $, h, describeError, keepFocus, timeText } from './dom.js';
import { formatMinor } from './money.js';
import { showReceipt } from './receipt.js';
import { message } from './checkout.js';
import { refundText } from './cards.js';

export { timeText }; // review.js and drawer.js take it from here

function stateText(s) {
  if (s.voided) return 'Voided';
  const parts = [];
  if (s.refunded_minor > 0) parts.push(`Refunded ${formatMinor(s.refunded_minor)}`);
  if (s.conflict) parts.push('Conflict');
  return parts.length ? parts.join(', ') : 'Paid';
}

function salesMsg(text) {
  $('sales-msg').textContent = text;
}

function saleRow(s) {
  return h('tr', { dataset: { saleId: s.sale_id } },
    h('td', {}, s.sale_id),
    h('td', {}, timeText(s.time_ms)),
    h('td', { class: 'num' }, formatMinor(s.total_minor)),
    h('td', { class: s.voided ? 'state-voided' : '' }, stateText(s)),
    h('td', { class: 'act' },
      h('button', {
        type: 'button', 'aria-label': `Receipt of sale ${s.sale_id}`, dataset: { focusKey: `rcpt:${s.sale_id}` },
        onclick: () => openReceipt(s.sale_id),
      }, 'Receipt'),
      h('button', {
        type: 'button', 'aria-label': `Void sale ${s.sale_id}`, dataset: { focusKey: `void:${s.sale_id}` },
        disabled: s.voided, onclick: () => voidSale(s),
      }, 'Void'),
      h('button', {
        type: 'button', 'aria-label': `Return items of sale ${s.sale_id}`, dataset: { focusKey: `ret:${s.sale_id}` },
        disabled: s.voided, onclick: () => openReturn(s),
      }, 'Return')));
}

async function refresh() {
  $('sales-error').textContent = '';
  try {
    const { sales } = await api.sales(20);
    const body = $('sales-rows');
    keepFocus(body, () => {
      body.replaceChildren(...sales.map(saleRow));
      if (sales.length === 0) body.append(h('tr', {}, h('td', { colspan: 5, class: 'hint' }, 'No sales yet.')));
    }, () => $('sales-refresh').focus());
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) $('sales-error').textContent = describeError(err);
  }
}

export async function openSales() {
  salesMsg('');
  $('sales-rows').replaceChildren();
  const shown = openDialog($('dlg-sales'), $('sales-refresh'));
  await refresh();
  // Put the keyboard on the newest sale's first action.
  $('sales-rows').querySelector('button')?.focus();
  return shown;
}

async function openReceipt(id) {
  try {
    await showReceipt(await api.sale(id));
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) $('sales-error').textContent = describeError(err);
  }
}

async function voidSale(s) {
  const done = await supervisorPrompt({
    title: `Void sale ${s.sale_id}`,
    what: `Void the whole sale ${s.sale_id} (total ${formatMinor(s.total_minor)}).`,
    reasonRequired: false,
    action: (sup, reason) => api.voidSale(s.sale_id, sup, reason),
  });
  if (!done) return;
  // The answer names the card by its last four digits; the sale has its brand.
  let brand = '';
  if (done.refund_card_minor > 0) {
    try {
      brand = ((await api.sale(done.sale_id)).card || {}).brand || '';
    } catch {
      // the last four digits say enough
    }
  }
  const text = `Sale ${done.sale_id} voided. Refund ${refundText(done, brand)}.`;
  salesMsg(text);
  message(text, 'ok');
  await refresh();
}

// ─────────────────────────────── returns ───────────────────────────────

let returning = null; // the Sale being returned from

async function openReturn(s) {
  $('sales-error').textContent = '';
  let sale;
  try {
    sale = await api.sale(s.sale_id);
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) $('sales-error').textContent = describeError(err);
    return;
  }
  returning = sale;
  $('dlg-return-title').textContent = `Return items of sale ${sale.sale_id}`;
  $('return-error').textContent = '';
  $('return-rows').replaceChildren(...sale.lines.map((l) =>
    h('tr', {},
      h('td', {}, l.name || l.sku),
      h('td', { class: 'num' }, String(l.qty)),
      h('td', { class: 'num' }, formatMinor(l.total_minor)),
      h('td', {},
        h('input', {
          type: 'number', min: 0, max: l.qty, step: 1, value: 0, inputmode: 'numeric', class: 'qty-input',
          'aria-label': `Units of ${l.name || l.sku} to return (sold ${l.qty})`, dataset: { sku: l.sku },
        })))));
  await openDialog($('dlg-return'), $('return-rows').querySelector('input'));
}

function initReturn() {
  $('return-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    $('return-error').textContent = '';
    const lines = [];
    for (const input of $('return-rows').querySelectorAll('input')) {
      const qty = Number(input.value);
      if (!Number.isInteger(qty) || qty < 0 || qty > Number(input.max)) {
        $('return-error').textContent = `Return 0 to ${input.max} units of ${input.dataset.sku}.`;
        input.focus();
        return;
      }
      if (qty > 0) lines.push({ sku: input.dataset.sku, qty });
    }
    if (lines.length === 0) {
      $('return-error').textContent = 'Set how many units come back on at least one line.';
      $('return-rows').querySelector('input')?.focus();
      return;
    }
    const units = lines.reduce((n, l) => n + l.qty, 0);
    const sale = returning;
    const done = await supervisorPrompt({
      title: `Return from sale ${sale.sale_id}`,
      what: `Return ${units} unit(s): ${lines.map((l) => `${l.sku} × ${l.qty}`).join(', ')}.`,
      reasonRequired: false,
      action: (sup, reason) => api.returnLines(sale.sale_id, lines, sup, reason),
    });
    if (!done) return;
    $('dlg-return').close('ok');
    const text = `Return ${done.return_id} on sale ${done.sale_id}: refund ${refundText(done, sale.card ? sale.card.brand : '')}.`;
    salesMsg(text);
    message(text, 'ok');
    await refresh();
  });
}

// ──────────────────────────────── drawer ────────────────────────────────

export async function openDrawer() {
  const done = await supervisorPrompt({
    title: 'Open drawer without a sale',
    what: 'The drawer opening is recorded in the audit log with the supervisor and the reason.',
    reasonRequired: true,
    action: (sup, reason) => api.openDrawer(sup, reason),
  });
  if (done) message(done.opened ? 'Drawer opened.' : 'The terminal did not open the drawer.', done.opened ? 'ok' : 'error');
}

export function initSales() {
  $('btn-sales').addEventListener('click', openSales);
  $('btn-drawer').addEventListener('click', openDrawer);
  $('sales-refresh').addEventListener('click', refresh);
  initReturn();
}
