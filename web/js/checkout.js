// The checkout screen: the open cart, scanning, search, quantities,
// discounts and cash payment. The server computes every amount (docs/
// PRICING.md); this module only sends what the cashier did and renders the
// Cart it gets back, so the screen and the receipt can never disagree.

import { api, ApiError } from './api.js';
import { openDialog, confirmDialog, setDialogBusy, supervisorPrompt } from './dialogs.js';
import { $, h, describeError, keepFocus } from './dom.js';
import { formatMinor, parseMoney, normalizePercent, quickAmounts } from './money.js';
import { showReceipt } from './receipt.js';
import { cardFailureText, cardName, cardOutcome, isCardFailure } from './cards.js';
import { takesCards } from './status.js';
import { showChainStock } from './stock.js';

const CART_KEY = 'kassa.cart';

let cart = null; // the last Cart the API returned, or null before the first line

// Cart operations run one after another: two fast scans must not both open
// a cart, and a quantity change must apply to the cart the previous scan made.
let queue = Promise.resolve();
function serial(fn) {
  const run = queue.then(fn, fn);
  queue = run.catch(() => {});
  return run;
}

export function message(text, kind = 'info') {
  const el = $('msg');
  el.textContent = text;
  el.className = `msg msg-${kind}`;
}

function reportError(err, prefix = '') {
  // 401 already sent the cashier to the login screen.
  if (err instanceof ApiError && err.status === 401) return;
  message(prefix + describeError(err), 'error');
}

// ───────────────────────────── cart state ─────────────────────────────

function setCart(c) {
  cart = c;
  if (c) sessionStorage.setItem(CART_KEY, c.cart_id);
  else sessionStorage.removeItem(CART_KEY);
  render();
}

/** Forget the cart locally (after payment, cancel, logout or 401). */
export function forgetCart() {
  cart = null;
  sessionStorage.removeItem(CART_KEY);
  render();
}

/** After login or reload: pick up the cart this tab had open, if it still exists. */
export async function restoreCart() {
  const id = sessionStorage.getItem(CART_KEY);
  if (!id) return render();
  try {
    setCart(await api.getCart(id));
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) forgetCart();
    else reportError(err);
  }
}

async function ensureCart() {
  if (!cart) setCart(await api.openCart());
  return cart.cart_id;
}

/** Refuses a change while a card payment for the cart is in progress. */
function locked() {
  if (!payBusy) return false;
  message('A card payment is in progress: the sale cannot change until it ends.', 'error');
  return true;
}

/**
 * Add one unit of an item; reopens a cart that vanished (e.g. kassad
 * restarted). Resolves true when the line is in the cart; otherwise the
 * message line says why.
 */
export function addSku(sku, label) {
  if (locked()) return Promise.resolve(false);
  return serial(async () => {
    try {
      const id = await ensureCart();
      let c;
      try {
        c = await api.addLine(id, sku, 1);
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 404) || (await cartExists(id))) throw err;
        cart = null;
        c = await api.addLine(await ensureCart(), sku, 1);
      }
      setCart(c);
      const line = c.lines.find((l) => l.sku === sku);
      message(`Added ${line ? line.name : label || sku}${line ? ` — ${formatMinor(line.unit_price_minor)}` : ''}`, 'ok');
      return true;
    } catch (err) {
      reportError(err, `Could not add ${label || sku}: `);
      return false;
    }
  });
}

/**
 * A cart change made elsewhere (a confirmed voice order): `change(cartId)`
 * (null: no cart yet) resolves with the new Cart, which is shown. Runs in
 * turn with scans; rejects with the change's error.
 */
export function changeCart(change) {
  if (locked()) return Promise.reject(new Error('A card payment is in progress: the sale cannot change until it ends.'));
  return serial(async () => setCart(await change(cart ? cart.cart_id : null)));
}

async function cartExists(id) {
  try {
    await api.getCart(id);
    return true;
  } catch {
    return false;
  }
}

/** A barcode from the wedge or the scan field. */
export function scan(code) {
  const clean = code.trim();
  if (!clean || locked()) return Promise.resolve();
  return serial(async () => {
    try {
      const item = await api.itemByBarcode(clean);
      return item;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) message(`Unknown barcode ${clean}`, 'error');
      else reportError(err, `Barcode ${clean}: `);
      return null;
    }
  }).then((item) => item && addSku(item.sku, item.name));
}

function patchLine(sku, patch) {
  return serial(async () => {
    if (!cart) return;
    setCart(await api.patchLine(cart.cart_id, sku, patch));
  });
}

function removeLine(sku, name) {
  if (locked()) return Promise.resolve();
  return serial(async () => {
    if (!cart) return;
    try {
      setCart(await api.removeLine(cart.cart_id, sku));
      message(`Removed ${name}`, 'info');
    } catch (err) {
      reportError(err);
    }
  });
}

async function changeQty(line, qty) {
  if (!Number.isInteger(qty) || qty < 1 || qty > 1000000) {
    message('Quantity must be a whole number from 1 to 1000000. Use ✕ to remove a line.', 'error');
    render();
    return;
  }
  if (qty === line.qty) return;
  if (locked()) {
    render();
    return;
  }
  try {
    await patchLine(line.sku, { qty });
  } catch (err) {
    reportError(err, `${line.name}: `);
    render();
  }
}

// ────────────────────────────── rendering ──────────────────────────────

function lineRow(line) {
  const qtyInput = h('input', {
    type: 'number', min: 1, max: 1000000, step: 1, value: line.qty, inputmode: 'numeric',
    class: 'qty-input', 'aria-label': `Quantity of ${line.name}`, dataset: { focusKey: `qty:${line.sku}` },
  });
  const commit = () => changeQty(line, Number(qtyInput.value));
  qtyInput.addEventListener('change', commit);
  qtyInput.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      commit();
    }
  });

  return h('tr', { dataset: { sku: line.sku } },
    h('td', { class: 'name' },
      h('span', { class: 'item-name' }, line.name),
      h('span', { class: 'item-sku' }, line.sku + (line.price_overridden ? ' · price overridden' : ''))),
    h('td', { class: 'qty' },
      h('div', { class: 'qty-ctl' },
        h('button', {
          type: 'button', class: 'icon', 'aria-label': `One less ${line.name}`,
          dataset: { focusKey: `minus:${line.sku}` }, disabled: line.qty <= 1,
          onclick: () => changeQty(line, line.qty - 1),
        }, '−'),
        qtyInput,
        h('button', {
          type: 'button', class: 'icon', 'aria-label': `One more ${line.name}`,
          dataset: { focusKey: `plus:${line.sku}` }, onclick: () => changeQty(line, line.qty + 1),
        }, '+'))),
    h('td', { class: 'num' }, formatMinor(line.unit_price_minor)),
    h('td', { class: 'num' }, line.discount_minor ? `−${formatMinor(line.discount_minor)}` : ''),
    h('td', { class: 'num line-total' }, formatMinor(line.total_minor)),
    h('td', { class: 'act' },
      h('button', {
        type: 'button', class: 'icon', 'aria-label': `Discount on ${line.name}`,
        dataset: { focusKey: `disc:${line.sku}` }, onclick: () => discountDialog(line),
      }, '%'),
      h('button', {
        type: 'button', class: 'icon danger', 'aria-label': `Remove ${line.name}`,
        dataset: { focusKey: `del:${line.sku}` }, onclick: () => removeLine(line.sku, line.name),
      }, '✕')));
}

function render() {
  const lines = cart ? cart.lines : [];
  keepFocus($('cart-lines'), () => $('cart-lines').replaceChildren(...lines.map(lineRow)), () => $('scan-input').focus());
  $('cart-empty').hidden = lines.length > 0;
  $('cart-table').classList.toggle('empty', lines.length === 0);
  // The API gives subtotal (after discounts) and discount; the amount
  // before discounts is their sum (integers, docs/PRICING.md "A cart").
  $('t-gross').textContent = formatMinor(cart ? cart.subtotal_minor + cart.discount_minor : 0);
  $('t-subtotal').textContent = formatMinor(cart ? cart.subtotal_minor : 0);
  $('t-discount').textContent = cart && cart.discount_minor ? `−${formatMinor(cart.discount_minor)}` : '0.00';
  $('t-tax').textContent = formatMinor(cart ? cart.tax_minor : 0);
  $('t-total').textContent = formatMinor(cart ? cart.total_minor : 0);
  // Keep the newest line in view on a short screen.
  const last = $('cart-lines').lastElementChild;
  if (last && last.scrollIntoView) last.scrollIntoView({ block: 'nearest' });
}

// ─────────────────────────────── search ───────────────────────────────

let searchTimer = null;
let searchSeq = 0;

async function runSearch() {
  const q = $('search-input').value.trim();
  const seq = ++searchSeq;
  $('search-error').textContent = '';
  try {
    const { items } = await api.searchItems(q, 20);
    if (seq !== searchSeq) return; // an older answer arriving late
    const list = $('search-results');
    // Each result adds its item; beside it, the item's stock at the
    // chain's other stores (→ from the result, ← back).
    list.replaceChildren(...items.map((it, i) =>
      h('li', { class: 'result-row' },
        h('button', {
          type: 'button', class: 'result', dataset: { sku: it.sku, idx: i, focusKey: `result:${it.sku}` },
          onclick: () => pickResult(it),
        },
        h('span', { class: 'item-name' }, it.name),
        h('span', { class: 'item-meta' }, `${it.sku} · stock ${it.stock}`),
        h('span', { class: 'num' }, formatMinor(it.price_minor))),
        h('button', {
          type: 'button', class: 'chain-btn', 'aria-label': `Stock at other stores: ${it.name}`,
          dataset: { focusKey: `chain:${it.sku}` }, onclick: () => showChainStock(it),
        }, 'Stock at other stores'))));
    if (items.length === 0) list.append(h('li', { class: 'hint' }, `Nothing starts with “${q}”.`));
  } catch (err) {
    if (seq === searchSeq) $('search-error').textContent = describeError(err);
  }
}

async function pickResult(item) {
  $('dlg-search').close('picked');
  await addSku(item.sku, item.name);
}

export function openSearch() {
  $('search-input').value = '';
  $('search-results').replaceChildren();
  runSearch();
  return openDialog($('dlg-search'), $('search-input'));
}

function initSearch() {
  $('search-input').addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(runSearch, 150);
  });
  $('search-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    clearTimeout(searchTimer);
    await runSearch();
    $('search-results').querySelector('button.result')?.focus();
  });
  // Arrow keys walk the input and the results, like a list box; → and ←
  // move between a result and its "Stock at other stores".
  $('dlg-search').addEventListener('keydown', (e) => {
    const active = document.activeElement;
    const row = active && active.closest('#search-results li');
    if (row && (e.key === 'ArrowRight' || e.key === 'ArrowLeft')) {
      const to = row.querySelector(e.key === 'ArrowRight' ? 'button.chain-btn' : 'button.result');
      if (to && to !== active) {
        e.preventDefault();
        to.focus();
      }
      return;
    }
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    const buttons = [...$('search-results').querySelectorAll('button.result')];
    if (buttons.length === 0) return;
    const i = row ? buttons.indexOf(row.querySelector('button.result')) : -1;
    e.preventDefault();
    if (e.key === 'ArrowDown') buttons[Math.min(i + 1, buttons.length - 1)].focus();
    else if (i <= 0) $('search-input').focus();
    else buttons[i - 1].focus();
  });
}

// ────────────────────────────── discount ──────────────────────────────

let discountLine = null;

function discountMode() {
  return document.querySelector('input[name=dtype]:checked').value;
}

function discountDialog(line) {
  discountLine = line;
  $('discount-item').textContent = `${line.name}: ${line.qty} × ${formatMinor(line.unit_price_minor)}` +
    (line.discount_minor ? `, discount now ${formatMinor(line.discount_minor)}` : '');
  $('discount-value').value = '';
  $('discount-error').textContent = '';
  $('discount-remove').disabled = !line.discount_minor;
  syncDiscountLabel();
  return openDialog($('dlg-discount'), $('discount-value'));
}

function syncDiscountLabel() {
  const pct = discountMode() === 'percent';
  $('discount-value-label').textContent = pct ? 'Percent (e.g. 10 or 12.5)' : 'Amount off the whole line (e.g. 1.50)';
}

async function applyDiscount(discount) {
  try {
    await patchLine(discountLine.sku, { discount });
    $('dlg-discount').close('ok');
    message(Object.keys(discount).length ? `Discount set on ${discountLine.name}` : `Discount removed from ${discountLine.name}`, 'ok');
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return;
    $('discount-error').textContent = describeError(err);
  }
}

function initDiscount() {
  for (const r of document.querySelectorAll('input[name=dtype]')) r.addEventListener('change', syncDiscountLabel);
  $('discount-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const raw = $('discount-value').value;
    if (discountMode() === 'percent') {
      const pct = normalizePercent(raw);
      if (pct === null) {
        $('discount-error').textContent = 'Enter a percent from 0 to 100 with at most two decimals, e.g. 10 or 12.5.';
        return;
      }
      applyDiscount({ percent: pct });
    } else {
      const amount = parseMoney(raw);
      if (amount === null) {
        $('discount-error').textContent = 'Enter an amount like 1.50 (digits, a point, at most two decimals).';
        return;
      }
      applyDiscount({ amount_minor: amount });
    }
  });
  $('discount-remove').addEventListener('click', () => applyDiscount({}));
}

// ─────────────────────────────── paying ───────────────────────────────
//
// Cash, card (the whole total) or split (a cash part typed, the rest by
// card). A card checkout is one request that stays open while the customer
// presents the card and the processor answers (docs/PAYMENTS.md); the
// terminal keeps the cart locked meanwhile, and so does this screen: the
// dialog cannot be closed and nothing can be scanned. Whatever fails, the
// cart is left as it was, ready for another try or another tender.

// The cash part of a payment may be rounded (cash_rounding, at most to
// 1.00, halves up), and the Cart does not say by how much: a cash amount
// this little below the total is left for the terminal to judge.
const MAX_ROUND_DOWN = 49;

let payBusy = false; // a card payment is waiting for the customer
let lastPlan = null; // the payment last sent, for "Try again" and the override

const TITLES = { cash: 'Pay cash', card: 'Pay by card', split: 'Split payment: cash + card' };

function tender() {
  return document.querySelector('input[name=tender]:checked').value;
}

function setTender(t) {
  for (const r of document.querySelectorAll('input[name=tender]')) r.checked = r.value === t;
  syncTender();
}

function syncTender() {
  const t = tender();
  $('dlg-pay-title').textContent = TITLES[t];
  $('pay-cash-fields').hidden = t === 'card';
  $('pay-quick').hidden = t !== 'cash';
  $('pay-received-row').hidden = t !== 'split';
  $('pay-tendered-label').textContent = t === 'split' ? 'Cash part' : 'Cash tendered';
  $('pay-card-line').hidden = t === 'cash';
  $('pay-change-line').hidden = t === 'card';
  $('pay-confirm').textContent = t === 'cash' ? 'Confirm payment' : 'Charge card';
  updateChange();
}

function tenderedMinor() {
  return parseMoney($('pay-tendered').value);
}

/** Split tender: the cash received, or the cash part when left empty (null: unreadable). */
function receivedMinor(cashPart) {
  const raw = $('pay-received').value.trim();
  return raw === '' ? cashPart : parseMoney(raw);
}

function updateChange() {
  const t = tenderedMinor();
  const label = $('pay-change-label');
  const out = $('pay-change');
  const cardOut = $('pay-card-amount');
  if (!cart) {
    out.textContent = '—';
    cardOut.textContent = '—';
    return;
  }
  const total = cart.total_minor;
  const mode = tender();
  if (mode === 'card') {
    cardOut.textContent = formatMinor(total);
    return;
  }
  if (mode === 'split') {
    const ok = t !== null && t > 0 && t < total;
    cardOut.textContent = ok ? formatMinor(total - t) : '—';
    const received = ok ? receivedMinor(t) : null;
    label.textContent = 'Change due';
    out.textContent = received !== null && received >= t ? formatMinor(received - t) : '—';
    return;
  }
  if (t === null) {
    label.textContent = 'Change due';
    out.textContent = '—';
  } else if (t >= total) {
    label.textContent = 'Change due';
    out.textContent = formatMinor(t - total);
  } else {
    label.textContent = 'Still due';
    out.textContent = formatMinor(total - t);
  }
}

/** What the form asks for: {tendered, card} in minor units, or {error, focus}. */
function payPlan() {
  const total = cart.total_minor;
  const mode = tender();
  if (mode === 'card') return { tendered: 0, card: total };
  const cash = tenderedMinor();
  if (mode === 'cash') {
    if (cash === null) return { error: 'Enter the cash received, e.g. 20 or 20.50.', focus: 'pay-tendered' };
    if (total - cash > MAX_ROUND_DOWN) return { error: `Not enough: ${formatMinor(total - cash)} still due.`, focus: 'pay-tendered' };
    return { tendered: cash, card: 0 };
  }
  if (cash === null) return { error: 'Enter the cash part, e.g. 10 or 10.50; the card pays the rest.', focus: 'pay-tendered' };
  if (cash <= 0 || cash >= total) {
    return { error: `The cash part must be more than 0.00 and less than the total ${formatMinor(total)}; the card pays the rest.`, focus: 'pay-tendered' };
  }
  const received = receivedMinor(cash);
  if (received === null) return { error: 'Enter the cash received like 20 or 20.50, or leave it empty.', focus: 'pay-received' };
  if (received < cash) {
    return { error: `Cash received ${formatMinor(received)} is less than the cash part ${formatMinor(cash)}.`, focus: 'pay-received' };
  }
  return { tendered: received, card: total - cash };
}

export async function openPay(mode = 'cash') {
  await queue; // let a scan in flight land first
  if (!cart || cart.lines.length === 0) {
    message('Nothing to pay: the sale has no items yet.', 'error');
    return;
  }
  $('pay-total').textContent = formatMinor(cart.total_minor);
  $('pay-tendered').value = '';
  $('pay-received').value = '';
  $('pay-error').textContent = '';
  clearFailure();
  $('pay-quick').replaceChildren(...quickAmounts(cart.total_minor).map((v, i) =>
    h('button', {
      type: 'button', class: 'quick-btn', 'aria-label': i === 0 ? `Exact amount ${formatMinor(v)}` : `Tendered ${formatMinor(v)}`,
      onclick: () => {
        $('pay-tendered').value = formatMinor(v);
        updateChange();
        $('pay-confirm').focus();
      },
    }, i === 0 ? `Exact ${formatMinor(v)}` : formatMinor(v))));
  // Without a card reader only cash is offered.
  const cards = takesCards() !== false;
  for (const r of document.querySelectorAll('input[name=tender]')) r.disabled = r.value !== 'cash' && !cards;
  setTender(cards ? mode : 'cash');
  return openDialog($('dlg-pay'), mode === 'card' ? $('pay-confirm') : $('pay-tendered'));
}

// While a card payment waits for the customer, nothing in the dialog can
// change and the dialog cannot be closed (the request cannot be taken back).
function setPaying(on, plan) {
  payBusy = on;
  const dlg = $('dlg-pay');
  for (const el of $('pay-form').querySelectorAll('input, button:not([data-close])')) {
    el.disabled = on || (el.name === 'tender' && el.value !== 'cash' && takesCards() === false);
  }
  setDialogBusy(dlg, on);
  dlg.classList.toggle('paying', on);
  const progress = $('pay-progress');
  progress.hidden = !on;
  progress.textContent = on ? `Present card on the reader… The card pays ${formatMinor(plan.card)}.` : '';
  if (on) progress.focus();
}

function clearFailure() {
  $('pay-failure').hidden = true;
  $('pay-failure-title').textContent = '';
  $('pay-failure-detail').textContent = '';
}

function showFailure(err) {
  const f = cardFailureText(err);
  $('pay-failure-title').textContent = f.title;
  const sentence = (t) => (t && !/[.!?]$/.test(t) ? `${t}.` : t);
  const detail = [sentence(f.detail)];
  detail.push(f.override
    ? 'Nothing was charged. After a manager’s approval the customer presents the card again.'
    : 'Nothing was charged and the sale is still open.');
  $('pay-failure-detail').textContent = detail.filter(Boolean).join(' ');
  $('pay-override').hidden = !f.override;
  $('pay-retry').textContent = f.declined && !f.override ? 'Try another card' : 'Try again';
  $('pay-failure').hidden = false;
  message(`${f.title}. The sale is still open.`, 'error');
  (f.override ? $('pay-override') : $('pay-retry')).focus();
}

function paidText(sale) {
  const card = sale.card;
  if (!card) return `Sale ${sale.sale_id} paid. Change ${formatMinor(sale.change_minor)}.`;
  let text = `Sale ${sale.sale_id} paid by card ${cardName(card)}: ${cardOutcome(card)}.`;
  if (sale.tendered_minor > 0) text += ` Cash ${formatMinor(sale.tendered_minor)}, change ${formatMinor(sale.change_minor)}.`;
  return text;
}

function paid(sale) {
  $('dlg-pay').close('paid');
  forgetCart();
  message(paidText(sale), 'ok');
  showReceipt(sale);
}

// A card checkout whose answer never came (the terminal went away): the
// payment may have completed. The cart tells: a paid cart is gone.
async function unknownOutcome(err, cartId) {
  try {
    await api.getCart(cartId);
    $('pay-error').textContent = `${describeError(err)} Nothing was sold: the sale is still open.`;
  } catch (e2) {
    if (e2 instanceof ApiError && e2.status === 404) {
      $('dlg-pay').close('unknown');
      forgetCart();
      message('The terminal did not answer the card payment, and the sale is no longer open: it was most likely paid. ' +
        'Check Recent sales (F8) before charging the customer again.', 'error');
    } else {
      $('pay-error').textContent = describeError(err);
    }
  }
}

function checkoutFailed(err, plan, cartId) {
  if (err instanceof ApiError && err.status === 401 && !err.supervisorRejected) return; // back to login
  if (err instanceof ApiError && err.status === 403 && err.reason === 'supervisor_required') {
    supervisorApproval(err, plan, cartId);
    return;
  }
  if (isCardFailure(err)) {
    showFailure(err);
    return;
  }
  if (plan.card > 0 && err instanceof ApiError && err.status === 0) unknownOutcome(err, cartId);
  else $('pay-error').textContent = describeError(err);
  // The progress line that had focus is gone: back to the form.
  if ($('dlg-pay').open && !$('dlg-pay').contains(document.activeElement)) {
    (tender() === 'card' ? $('pay-confirm') : $('pay-tendered')).focus();
  }
}

function pay(plan) {
  lastPlan = plan;
  $('pay-error').textContent = '';
  clearFailure();
  return serial(async () => {
    if (!cart) return; // the session ended meanwhile
    const cartId = cart.cart_id;
    if (plan.card > 0) setPaying(true, plan);
    else $('pay-confirm').disabled = true;
    let sale = null;
    let failure = null;
    try {
      sale = await api.checkout(cartId, plan.tendered, { cardMinor: plan.card });
    } catch (err) {
      failure = err;
    } finally {
      if (plan.card > 0) setPaying(false);
      else $('pay-confirm').disabled = false;
    }
    if (sale) paid(sale);
    else checkoutFailed(failure, plan, cartId);
  });
}

function submitPay() {
  if (payBusy || !cart) return;
  const plan = payPlan();
  if (plan.error) {
    $('pay-error').textContent = plan.error;
    $(plan.focus).focus();
    return;
  }
  pay(plan);
}

// The fraud check held the sale (403 supervisor_required, docs/FRAUD.md): a
// supervisor looks at the reasons and approves it with their PIN, which is
// the same checkout again with the supervisor; or the cashier cancels.
async function supervisorApproval(held, plan, cartId) {
  $('pay-error').textContent = `A supervisor must approve this sale: ${held.message}`;
  const outcome = await supervisorPrompt({
    title: 'Supervisor approval',
    what: `The risk check held this sale: ${held.message}`,
    reasonLabel: null,
    action: (supervisor) => serial(async () => {
      try {
        return { sale: await api.checkout(cartId, plan.tendered, { cardMinor: plan.card, supervisor }) };
      } catch (err) {
        if (err instanceof ApiError && (err.status === 401 || err.status === 423 ||
            (err.status === 403 && err.reason !== 'supervisor_required'))) throw err;
        return { err };
      }
    }),
  });
  if (!outcome) return;
  if (outcome.sale) paid(outcome.sale);
  else checkoutFailed(outcome.err, plan, cartId);
}

// Beyond the offline limits a manager may allow the payment: the same
// checkout again with the manager's id and PIN, the card presented again.
async function managerOverride() {
  const plan = lastPlan;
  if (!plan || !cart) return;
  const cartId = cart.cart_id;
  const outcome = await supervisorPrompt({
    title: 'Manager override',
    what: `Allow the card payment of ${formatMinor(plan.card)} offline, beyond the limit. ` +
      'The customer presents the card again after the approval.',
    level: 'manager',
    reasonLabel: null,
    busyText: `Present card on the reader… The card pays ${formatMinor(plan.card)}.`,
    action: (manager) => serial(async () => {
      payBusy = true;
      try {
        return { sale: await api.checkout(cartId, plan.tendered, { cardMinor: plan.card, manager }) };
      } catch (err) {
        // A wrong PIN, a lockout or a cashier who is no manager: the prompt
        // says so and stays open. Anything else ends the attempt.
        if (err instanceof ApiError && (err.status === 401 || err.status === 403 || err.status === 423)) throw err;
        return { err };
      } finally {
        payBusy = false;
      }
    }),
  });
  if (!outcome) return;
  if (outcome.sale) paid(outcome.sale);
  else checkoutFailed(outcome.err, plan, cartId);
}

function payCashInstead() {
  clearFailure();
  $('pay-error').textContent = '';
  $('pay-tendered').value = '';
  setTender('cash');
  $('pay-tendered').focus();
}

function initPay() {
  $('pay-tendered').addEventListener('input', updateChange);
  $('pay-received').addEventListener('input', updateChange);
  for (const r of document.querySelectorAll('input[name=tender]')) {
    r.addEventListener('change', () => {
      clearFailure();
      $('pay-error').textContent = '';
      syncTender();
    });
  }
  $('pay-form').addEventListener('submit', (e) => {
    e.preventDefault();
    submitPay();
  });
  $('pay-retry').addEventListener('click', submitPay);
  $('pay-cash-instead').addEventListener('click', payCashInstead);
  $('pay-override').addEventListener('click', managerOverride);
}

/** True while a card payment waits for the customer (the cart is locked). */
export function paymentInProgress() {
  return payBusy;
}

// ───────────────────────────── cancel sale ─────────────────────────────

export async function cancelSale({ ask = true } = {}) {
  if (locked()) return false;
  await queue;
  if (!cart) return true;
  if (ask && cart.lines.length > 0 &&
      !(await confirmDialog('Cancel this sale?', `The ${cart.lines.length} line(s) in the current sale will be dropped.`))) {
    return false;
  }
  try {
    await api.abandonCart(cart.cart_id);
  } catch (err) {
    // A cart the terminal no longer knows is as good as abandoned.
    if (!(err instanceof ApiError && err.status === 404)) {
      reportError(err);
      return false;
    }
  }
  forgetCart();
  message('Sale cancelled.', 'info');
  return true;
}

export function hasOpenLines() {
  return !!cart && cart.lines.length > 0;
}

// ───────────────────────────────── init ─────────────────────────────────

export function initCheckout() {
  $('scan-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = $('scan-input');
    const code = input.value;
    input.value = '';
    scan(code);
  });
  $('btn-search').addEventListener('click', openSearch);
  $('btn-pay').addEventListener('click', () => openPay('cash'));
  $('btn-pay-card').addEventListener('click', () => openPay('card'));
  $('btn-cancel-sale').addEventListener('click', () => cancelSale());
  initSearch();
  initDiscount();
  initPay();
  render();
}
