// Modal dialogs are native <dialog> elements opened with showModal(): the
// browser makes the page behind them inert and Esc fires "cancel". On top of
// that we keep Tab cycling inside the dialog (otherwise Tab from the last
// control escapes to the browser's own UI), and give focus back to whatever
// had it before the dialog opened.

import { api, ApiError } from './api.js';
import { describeError } from './dom.js';

const FOCUSABLE = [
  'a[href]', 'button:not([disabled])', 'input:not([disabled]):not([type=hidden])',
  'select:not([disabled])', 'textarea:not([disabled])', '[tabindex]:not([tabindex="-1"])',
].join(',');

function focusables(dlg) {
  return [...dlg.querySelectorAll(FOCUSABLE)].filter(
    (el) => el.tabIndex >= 0 && !el.closest('[hidden]') && el.getClientRects().length > 0,
  );
}

function trapTab(e) {
  if (e.key !== 'Tab') return;
  const dlg = e.currentTarget;
  const list = focusables(dlg);
  if (list.length === 0) {
    e.preventDefault();
    return;
  }
  const first = list[0];
  const lastEl = list[list.length - 1];
  const active = document.activeElement;
  if (e.shiftKey && (active === first || !dlg.contains(active))) {
    e.preventDefault();
    lastEl.focus();
  } else if (!e.shiftKey && (active === lastEl || !dlg.contains(active))) {
    e.preventDefault();
    first.focus();
  }
}

/** Wire every dialog once: focus trap, [data-close] buttons, Esc. */
export function initDialogs() {
  for (const dlg of document.querySelectorAll('dialog')) {
    dlg.addEventListener('keydown', trapTab);
    for (const b of dlg.querySelectorAll('[data-close]')) {
      b.addEventListener('click', () => {
        if (!isBusy(dlg)) dlg.close('cancel');
      });
    }
    // Esc closes, whatever has focus: some controls would otherwise keep
    // the key for themselves (a search field clears itself on Esc), and
    // Chromium ignores a second Esc in a row unless "cancel" is handled.
    // A busy dialog (a card payment waiting for the customer) stays open.
    dlg.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && !e.defaultPrevented) {
        e.preventDefault();
        if (!isBusy(dlg)) dlg.close('cancel');
      }
    });
    dlg.addEventListener('cancel', (e) => {
      // A file chooser closed without a choice fires a "cancel" too, at its
      // <input type=file>, and it bubbles: that one is not for the dialog.
      if (e.target !== dlg) return;
      e.preventDefault();
      if (!isBusy(dlg)) dlg.close('cancel');
    });
  }
}

function isBusy(dlg) {
  return dlg.dataset.busy === '1';
}

/**
 * While busy, a dialog cannot be closed by Esc or its [data-close]
 * buttons (they are disabled): used while a request that must not be
 * abandoned is running, such as a card payment.
 */
export function setDialogBusy(dlg, busy) {
  if (busy) dlg.dataset.busy = '1';
  else delete dlg.dataset.busy;
  dlg.setAttribute('aria-busy', busy ? 'true' : 'false');
  for (const b of dlg.querySelectorAll('[data-close]')) b.disabled = busy;
}

/**
 * Show a dialog modally. Resolves with its returnValue when it closes.
 * @param {HTMLDialogElement} dlg
 * @param {HTMLElement} [focusEl] what to focus first (else [data-autofocus]
 *   or the first focusable control)
 */
export function openDialog(dlg, focusEl) {
  const opener = document.activeElement;
  const openerKey = opener && opener.dataset ? opener.dataset.focusKey : undefined;
  // "close" comes a task after close(), so a dialog closed and opened again
  // at once (a fast key) gets the earlier opening's "close" while open: it
  // ends that opening, with the value it was closed with, not this one.
  const before = openings.get(dlg);
  if (before && !dlg.open) before.closedWith = dlg.returnValue;
  const mine = { closedWith: null };
  openings.set(dlg, mine);
  dlg.returnValue = '';
  dlg.showModal();
  const target = focusEl || dlg.querySelector('[data-autofocus]') || focusables(dlg)[0];
  if (target) target.focus();
  return new Promise((resolve) => {
    const onClose = () => {
      const reopened = openings.get(dlg) !== mine;
      if (dlg.open && !reopened) return; // an earlier opening's "close"
      dlg.removeEventListener('close', onClose);
      if (reopened) {
        resolve(mine.closedWith ?? '');
        return;
      }
      // The browser has put focus back on the opener already if it could,
      // and a key pressed since (← after Esc) may have moved it on. Only a
      // lost focus is restored.
      const now = document.activeElement;
      if (!now || now === document.body || dlg.contains(now)) restoreFocus(opener, openerKey);
      resolve(dlg.returnValue);
    };
    dlg.addEventListener('close', onClose);
  });
}

// The latest opening of each dialog: {closedWith} (see openDialog).
const openings = new WeakMap();

let fallbackFocus = () => {};

/** Where focus goes when a dialog's opener no longer exists. */
export function setFallbackFocus(fn) {
  fallbackFocus = fn;
}

// Give focus back to the control that opened the dialog. The page behind
// may have been re-rendered meanwhile (a cart line, a sales row), so look
// for its replacement by data-focus-key before falling back.
function restoreFocus(opener, key) {
  if (opener && opener.isConnected && opener !== document.body && typeof opener.focus === 'function' && !opener.disabled) {
    opener.focus();
    return;
  }
  const again = key && document.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
  if (again && !again.disabled) {
    again.focus();
    return;
  }
  const top = [...document.querySelectorAll('dialog[open]')].pop();
  const first = top && focusables(top)[0];
  if (first) first.focus();
  else fallbackFocus();
}

/** True when any modal dialog is open (global shortcuts stand down). */
export function anyDialogOpen() {
  return document.querySelector('dialog[open]') !== null;
}

/** Yes/No question; resolves true for yes. */
export async function confirmDialog(title, text) {
  const dlg = document.getElementById('dlg-confirm');
  document.getElementById('dlg-confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  return (await openDialog(dlg)) === 'yes';
}

let approversCache = null;

/** Staff who may approve: supervisors and managers, or managers only. */
async function approvers(level) {
  if (!approversCache) {
    const { cashiers } = await api.cashiers();
    approversCache = cashiers.filter((c) => c.role === 'supervisor' || c.role === 'manager');
  }
  return level === 'manager' ? approversCache.filter((c) => c.role === 'manager') : approversCache;
}

/**
 * Ask a supervisor (or a manager) to approve an action. `action(approver,
 * reason)` runs the API call; while it fails with a wrong PIN, a lockout or
 * a refusal the dialog stays open with the API's message, so the approver
 * can try again. Resolves with the action's result, or null when cancelled.
 *
 * @param {object} o
 * @param {string} o.title
 * @param {string} o.what          one line saying what is being approved
 * @param {boolean} [o.reasonRequired]
 * @param {'supervisor'|'manager'} [o.level]  who may approve (default: supervisors and managers)
 * @param {string|null} [o.reasonLabel] the text field's name ("Reason", "Note"); null: no text field
 * @param {number} [o.reasonMax]   the text field's maximum length
 * @param {string} [o.busyText]    shown while the action runs (it cannot be cancelled then)
 * @param {(sup: {id: string, pin: string}, reason: string) => Promise<any>} o.action
 */
export async function supervisorPrompt({
  title, what, reasonRequired = false, level = 'supervisor', reasonLabel = 'Reason', reasonMax = 200, busyText = '', action,
}) {
  const dlg = document.getElementById('dlg-supervisor');
  const form = document.getElementById('supervisor-form');
  const sel = document.getElementById('supervisor-id');
  const pin = document.getElementById('supervisor-pin');
  const reason = document.getElementById('supervisor-reason');
  const error = document.getElementById('supervisor-error');
  const ok = document.getElementById('supervisor-ok');
  const busy = document.getElementById('supervisor-busy');
  const who = level === 'manager' ? 'Manager' : 'Supervisor';

  document.getElementById('dlg-supervisor-title').textContent = title;
  document.getElementById('supervisor-what').textContent = what;
  document.getElementById('supervisor-id-label').textContent = who;
  document.getElementById('supervisor-pin-label').textContent = `${who} PIN`;
  const withText = reasonLabel !== null;
  document.getElementById('supervisor-reason-row').hidden = !withText;
  if (withText) {
    document.getElementById('supervisor-reason-label').textContent = `${reasonLabel} (${reasonRequired ? 'required' : 'optional'})`;
  }
  reason.required = withText && reasonRequired;
  reason.maxLength = reasonMax;
  pin.value = '';
  reason.value = '';
  error.textContent = '';
  busy.textContent = '';
  busy.hidden = true;

  sel.replaceChildren();
  try {
    for (const s of await approvers(level)) {
      sel.add(new Option(`${s.name} (${s.id}, ${s.role})`, s.id));
    }
  } catch (e) {
    error.textContent = describeError(e);
  }
  if (sel.options.length === 0) sel.add(new Option(`No ${who.toLowerCase()} is set up on this terminal`, ''));

  let result = null;
  function setWorking(on) {
    ok.disabled = on;
    if (busyText) {
      // A long wait (the customer presenting a card): nothing in the
      // prompt can change or close it meanwhile.
      sel.disabled = on;
      pin.disabled = on;
      reason.disabled = on;
      setDialogBusy(dlg, on);
      busy.textContent = on ? busyText : '';
      busy.hidden = !on;
      if (on) busy.focus();
    }
  }
  async function onSubmit(e) {
    e.preventDefault();
    if (ok.disabled) return;
    error.textContent = '';
    if (!sel.value) {
      error.textContent = `Choose a ${who.toLowerCase()}.`;
      sel.focus();
      return;
    }
    if (!pin.value) {
      error.textContent = `Enter the ${who.toLowerCase()} PIN.`;
      pin.focus();
      return;
    }
    const why = withText ? reason.value.trim() : '';
    if (withText && reasonRequired && !why) {
      error.textContent = `A ${reasonLabel.toLowerCase()} is required.`;
      reason.focus();
      return;
    }
    setWorking(true);
    let failed = false;
    try {
      result = await action({ id: sel.value, pin: pin.value }, why);
    } catch (err) {
      failed = true;
      pin.value = '';
      error.textContent = approverErrorText(err, who);
    } finally {
      setWorking(false);
    }
    if (!failed) dlg.close('ok');
    else if (dlg.open) pin.focus();
  }
  form.addEventListener('submit', onSubmit);
  try {
    const rv = await openDialog(dlg, sel.options.length > 1 ? sel : pin);
    return rv === 'ok' ? result : null;
  } finally {
    form.removeEventListener('submit', onSubmit);
    setDialogBusy(dlg, false);
  }
}

function approverErrorText(err, who) {
  if (err instanceof ApiError) {
    if (err.status === 401 && err.supervisorRejected) return `Wrong ${who.toLowerCase()} PIN. (${err.message})`;
    if (err.status === 423) {
      return err.retryAfterS != null
        ? `${who} locked, try again in ${err.retryAfterS} s. (${err.message})`
        : `${who} locked: ${err.message}`;
    }
    if (err.status === 403) return `Not allowed: ${err.message}`;
  }
  return describeError(err);
}
