// The risk review, for supervisors and managers (GET /api/v1/review,
// docs/FRAUD.md): sales the fraud check flagged or held, with their score
// and reasons, and SKUs whose stock went negative when the terminals'
// sales merged, with the sales that made it, ranked by risk. Each is
// resolved with a supervisor's PIN: accept, flag a sale, or (for stock)
// adjust to the units counted. Resolutions are operations: every terminal
// sees them.

import { api, ApiError } from './api.js';
import { openDialog, supervisorPrompt } from './dialogs.js';
import { $, h, describeError } from './dom.js';
import { timeText } from './sales.js';

const pct = (p) => (typeof p === 'number' ? `${Math.round(p * 100)}%` : '—');
const reasonsText = (reasons) => (reasons || []).slice(0, 3).map((r) => r.feature.replace(/_/g, ' ')).join(', ');

function resolvedText(item) {
  const r = item.resolution;
  return r ? `Resolved (${r.action}) by ${r.by}${r.note ? `: ${r.note}` : ''}` : '';
}

function decisionRow(d) {
  return h('tr', { dataset: { reviewId: d.id } },
    h('td', {}, d.sale_id || d.subject || '—'),
    h('td', {}, d.outcome),
    h('td', { class: 'num' }, pct(d.probability)),
    h('td', {}, reasonsText(d.reasons)),
    h('td', {}, `${d.cashier_id}${d.supervisor_id ? ` / ${d.supervisor_id}` : ''}`),
    h('td', {}, d.time_ms ? timeText(d.time_ms) : ''),
    h('td', { class: 'act' }, d.resolved ? h('span', { class: 'resolved' }, resolvedText(d))
      : h('span', {},
        h('button', { type: 'button', 'aria-label': `Accept ${d.id}`, onclick: () => resolve(d, 'accept') }, 'Accept'),
        ' ',
        h('button', { type: 'button', 'aria-label': `Flag ${d.id}`, onclick: () => resolve(d, 'flag') }, 'Flag'))));
}

function triageRow(t) {
  const sales = (t.sales || []).map((s) => `${s.sale_id} ×${s.qty} (${pct(s.risk)})`).join(', ');
  return h('tr', { dataset: { reviewId: t.id } },
    h('td', {}, `${t.name || t.sku} (${t.sku})`),
    h('td', { class: 'num' }, String(t.stock)),
    h('td', { class: 'num' }, String(t.shortfall)),
    h('td', {}, sales || '—'),
    h('td', { class: 'act' }, t.resolved ? h('span', { class: 'resolved' }, resolvedText(t))
      : h('span', {},
        h('button', { type: 'button', 'aria-label': `Accept ${t.id}`, onclick: () => resolve(t, 'accept') }, 'Accept'),
        ' ',
        h('button', { type: 'button', 'aria-label': `Adjust ${t.id}`, onclick: () => resolve(t, 'adjust') }, 'Adjust…'))));
}

async function refresh() {
  $('risk-error').textContent = '';
  try {
    const r = await api.riskReview($('risk-all').checked);
    $('risk-alerts').textContent = (r.alerts || []).map((a) => a.message).join(' ');
    $('risk-alerts').hidden = !(r.alerts || []).length;
    const none = (cols, text) => h('tr', {}, h('td', { colspan: cols, class: 'hint' }, text));
    $('risk-decisions').replaceChildren(...(r.decisions.length ? r.decisions.map(decisionRow) : [none(7, 'No flagged sales.')]));
    $('risk-triage').replaceChildren(...(r.triage.length ? r.triage.map(triageRow) : [none(5, 'No oversold items.')]));
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) $('risk-error').textContent = describeError(err);
  }
}

async function resolve(item, action) {
  $('risk-msg').textContent = '';
  let qty = null;
  if (action === 'adjust') {
    const text = window.prompt(`Units of ${item.sku} counted on the shelf`, '0');
    if (text === null) return;
    qty = Number.parseInt(text, 10);
    if (!Number.isInteger(qty) || qty < 0) {
      $('risk-error').textContent = 'Give the units counted as a whole number.';
      return;
    }
  }
  const done = await supervisorPrompt({
    title: `${action[0].toUpperCase()}${action.slice(1)} ${item.id}`,
    what: item.sku ? `Stock of ${item.sku}: ${item.stock} (short by ${item.shortfall}).`
      : `${item.outcome} sale ${item.sale_id || item.subject}, risk ${pct(item.probability)}: ${reasonsText(item.reasons)}.`,
    reasonLabel: 'Note',
    reasonMax: 160,
    action: (supervisor, note) => api.resolveRisk(item.id, { action, qty, note, supervisor }),
  });
  if (!done) return;
  $('risk-msg').textContent = `${item.id}: ${done.action} recorded.`;
  await refresh();
}

export async function openRisk() {
  $('risk-msg').textContent = '';
  const shown = openDialog($('dlg-risk'), $('risk-refresh'));
  await refresh();
  return shown;
}

export function initRisk() {
  $('btn-risk').addEventListener('click', openRisk);
  $('risk-refresh').addEventListener('click', refresh);
  $('risk-all').addEventListener('change', refresh);
}
