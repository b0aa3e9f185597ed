// The receipt dialog and printing. The API renders the receipt text
// (receipt_text), so the UI never re-computes a total: it shows the text in
// a <pre> and prints exactly that. Printing copies the text into
// #print-receipt, the only element the print stylesheet lets through.

import { openDialog } from './dialogs.js';
import { $ } from './dom.js';
import { formatMinor } from './money.js';

export function initReceipt() {
  $('receipt-print').addEventListener('click', () => {
    $('print-receipt').textContent = $('receipt-text').textContent;
    window.print();
  });
}

/** Show a Sale (from checkout or GET /sales/{id}); resolves when closed. */
export function showReceipt(sale) {
  const parts = [`Sale ${sale.sale_id}`, `total ${formatMinor(sale.total_minor)}`];
  if (Number.isInteger(sale.tendered_minor) && sale.tendered_minor > 0) {
    parts.push(`cash ${formatMinor(sale.tendered_minor)}`, `change ${formatMinor(sale.change_minor)}`);
  }
  if (sale.voided) parts.push('VOIDED');
  else if (sale.refunded_minor > 0) parts.push(`refunded ${formatMinor(sale.refunded_minor)}`);
  $('receipt-summary').textContent = parts.join(' · ');
  $('receipt-text').textContent = sale.receipt_text || '(no receipt text)';
  $('print-receipt').textContent = sale.receipt_text || '';
  return openDialog($('dlg-receipt'));
}
