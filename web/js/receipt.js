// The receipt dialog and printing. The API renders the receipt text
// (receipt_text), so the UI never re-computes a total: it shows the text in
// a <pre> and prints exactly that. Printing copies the text into
// #print-receipt, the only element the print stylesheet lets through.

import { openDialog } from './dialogs.js';
import { $, h } from './dom.js';
import { formatMinor } from './money.js';
import { cardName, cardOutcome, signedMinor } from './cards.js';

export function initReceipt() {
  $('receipt-print').addEventListener('click', () => {
    $('print-receipt').textContent = $('receipt-text').textContent;
    window.print();
  });
}

/** How a sale was paid, one line per tender, for the receipt dialog. */
function tenderLines(sale) {
  const lines = [];
  const card = sale.card;
  if (card) {
    lines.push(h('li', { class: `tender tender-card card-${card.status}` },
      `Card ${cardName(card)} · ${formatMinor(card.amount_minor)} · ${cardOutcome(card)}`));
  }
  const cashDue = Number.isInteger(sale.cash_due_minor) ? sale.cash_due_minor : sale.total_minor;
  if (sale.tendered_minor > 0 || (!card && cashDue > 0)) {
    lines.push(h('li', { class: 'tender tender-cash' },
      `Cash ${formatMinor(sale.tendered_minor)} · due ${formatMinor(cashDue)} · change ${formatMinor(sale.change_minor)}`));
  }
  if (Number.isInteger(sale.rounding_minor) && sale.rounding_minor !== 0) {
    lines.push(h('li', { class: 'tender tender-rounding' }, `Cash rounding ${signedMinor(sale.rounding_minor)}`));
  }
  return lines;
}

/** Show a Sale (from checkout or GET /sales/{id}); resolves when closed. */
export function showReceipt(sale) {
  const parts = [`Sale ${sale.sale_id}`, `total ${formatMinor(sale.total_minor)}`];
  if (sale.card) parts.push(`card ${formatMinor(sale.card.amount_minor)}`);
  if (Number.isInteger(sale.tendered_minor) && sale.tendered_minor > 0) {
    parts.push(`cash ${formatMinor(sale.tendered_minor)}`, `change ${formatMinor(sale.change_minor)}`);
  }
  if (sale.voided) parts.push('VOIDED');
  else if (sale.refunded_minor > 0) parts.push(`refunded ${formatMinor(sale.refunded_minor)}`);
  $('receipt-summary').textContent = parts.join(' · ');
  $('receipt-tenders').replaceChildren(...tenderLines(sale));
  $('receipt-text').textContent = sale.receipt_text || '(no receipt text)';
  $('print-receipt').textContent = sale.receipt_text || '';
  return openDialog($('dlg-receipt'));
}
