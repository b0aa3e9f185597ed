// The review list, for supervisors and managers (GET /api/v1/payments/
// review): card payments accepted offline that the processor declined or
// that expired before they were forwarded, and card refunds it refused. The
// customer did not pay what the sale says, so a manager looks into each and
// closes it with a note (POST …/resolve, with the manager's id and PIN).

import { api, ApiError } from './api.js';
import { openDialog, supervisorPrompt } from './dialogs.js';
import { $, h, describeError, keepFocus } from './dom.js';
import { formatMinor } from './money.js';
import { cardName, reviewReasonText } from './cards.js';
import { timeText } from './sales.js';
import { refreshStatus } from './status.js';

const NOTE_MAX_BYTES = 256;

function reviewRow(item) {
  const what = item.kind === 'refund' ? `refund ${item.payment_id}` : `payment ${item.payment_id}`;
  return h('tr', { dataset: { paymentId: item.payment_id, saleId: item.sale_id } },
    h('td', {}, item.sale_id || '—'),
    h('td', { class: 'num' }, formatMinor(item.amount_minor)),
    h('td', {}, cardName(item) + (item.kind === 'refund' ? ' (refund)' : '')),
    h('td', {}, reviewReasonText(item)),
    h('td', {}, item.decided_ms ? timeText(item.decided_ms) : ''),
    h('td', { class: 'act' }, item.resolved
      ? h('span', { class: 'resolved' }, `Resolved by ${item.resolved_by}: ${item.resolution_note}`)
      : h('button', {
        type: 'button', 'aria-label': `Resolve ${what}${item.sale_id ? ` of sale ${item.sale_id}` : ''}`,
        dataset: { focusKey: `resolve:${item.payment_id}` }, onclick: () => resolve(item),
      }, 'Resolve')));
}

async function refresh() {
  $('review-error').textContent = '';
  try {
    const { payments } = await api.reviewList($('review-all').checked);
    const body = $('review-rows');
    keepFocus(body, () => {
      body.replaceChildren(...payments.map(reviewRow));
      if (payments.length === 0) body.append(h('tr', {}, h('td', { colspan: 6, class: 'hint' }, 'Nothing to review.')));
    }, () => $('review-refresh').focus());
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) $('review-error').textContent = describeError(err);
  }
}

async function resolve(item) {
  $('review-msg').textContent = '';
  const done = await supervisorPrompt({
    title: `Resolve ${item.kind === 'refund' ? 'card refund' : 'card payment'} ${item.payment_id}`,
    what: `${formatMinor(item.amount_minor)} on ${cardName(item)}: ${reviewReasonText(item)}` +
      `${item.sale_id ? ` (sale ${item.sale_id})` : ''}. A manager closes it with a note.`,
    level: 'manager',
    reasonLabel: 'Note',
    reasonRequired: true,
    reasonMax: NOTE_MAX_BYTES,
    action: (manager, note) => {
      if (new TextEncoder().encode(note).length > NOTE_MAX_BYTES) {
        throw new Error(`The note is too long: at most ${NOTE_MAX_BYTES} bytes (accented letters count double).`);
      }
      return api.resolveReview(item.payment_id, manager, note);
    },
  });
  if (!done) return;
  $('review-msg').textContent = `Resolved ${done.payment_id}${done.sale_id ? ` (sale ${done.sale_id})` : ''} by ${done.resolved_by}.`;
  await refresh();
  refreshStatus();
}

export async function openReview() {
  $('review-msg').textContent = '';
  $('review-rows').replaceChildren();
  const shown = openDialog($('dlg-review'), $('review-refresh'));
  await refresh();
  $('review-rows').querySelector('button')?.focus();
  return shown;
}

export function initReview() {
  $('btn-review').addEventListener('click', openReview);
  $('review-refresh').addEventListener('click', refresh);
  $('review-all').addEventListener('change', refresh);
}
