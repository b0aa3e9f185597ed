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
      b.addEventListener('click', () => dlg.close('cancel'));
    }
    // Esc closes, whatever has focus: some controls would otherwise keep
    // the key for themselves (a search field clears itself on Esc), and
    // Chromium ignores a second Esc in a row unless "cancel" is handled.
    dlg.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && !e.defaultPrevented) {
        e.preventDefault();
        dlg.close('cancel');
      }
    });
    dlg.addEventListener('cancel', (e) => {
      e.preventDefault();
      dlg.close('cancel');
    });
  }
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
  dlg.returnValue = '';
  dlg.showModal();
  const target = focusEl || dlg.querySelector('[data-autofocus]') || focusables(dlg)[0];
  if (target) target.focus();
  return new Promise((resolve) => {
    dlg.addEventListener(
      'close',
      () => {
        restoreFocus(opener, openerKey);
        resolve(dlg.returnValue);
      },
      { once: true },
    );
  });
}

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

let supervisorsCache = null;

async function supervisors() {
  if (!supervisorsCache) {
    const { cashiers } = await api.cashiers();
    supervisorsCache = cashiers.filter((c) => c.role === 'supervisor' || c.role === 'manager');
  }
  return supervisorsCache;
}

/**
 * Ask a supervisor to approve an action. `action(supervisor, reason)` runs
 * the API call; while it fails with a wrong PIN, a lockout or a refusal the
 * dialog stays open with the API's message, so the supervisor can try again.
 * Resolves with the action's result, or null when cancelled.
 *
 * @param {object} o
 * @param {string} o.title
 * @param {string} o.what          one line saying what is being approved
 * @param {boolean} o.reasonRequired
 * @param {(sup: {id: string, pin: string}, reason: string) => Promise<any>} o.action
 */
export async function supervisorPrompt({ title, what, reasonRequired, action }) {
  const dlg = document.getElementById('dlg-supervisor');
  const form = document.getElementById('supervisor-form');
  const sel = document.getElementById('supervisor-id');
  const pin = document.getElementById('supervisor-pin');
  const reason = document.getElementById('supervisor-reason');
  const error = document.getElementById('supervisor-error');
  const ok = document.getElementById('supervisor-ok');

  document.getElementById('dlg-supervisor-title').textContent = title;
  document.getElementById('supervisor-what').textContent = what;
  document.getElementById('supervisor-reason-label').textContent = reasonRequired ? 'Reason (required)' : 'Reason (optional)';
  reason.required = reasonRequired;
  pin.value = '';
  reason.value = '';
  error.textContent = '';

  sel.replaceChildren();
  try {
    for (const s of await supervisors()) {
      sel.add(new Option(`${s.name} (${s.id}, ${s.role})`, s.id));
    }
  } catch (e) {
    error.textContent = describeError(e);
  }
  if (sel.options.length === 0) sel.add(new Option('No supervisor is set up on this terminal', ''));

  let result = null;
  async function onSubmit(e) {
    e.preventDefault();
    error.textContent = '';
    if (!sel.value) {
      error.textContent = 'Choose a supervisor.';
      sel.focus();
      return;
    }
    if (!pin.value) {
      error.textContent = 'Enter the supervisor PIN.';
      pin.focus();
      return;
    }
    const why = reason.value.trim();
    if (reasonRequired && !why) {
      error.textContent = 'A reason is required.';
      reason.focus();
      return;
    }
    ok.disabled = true;
    try {
      result = await action({ id: sel.value, pin: pin.value }, why);
      dlg.close('ok');
    } catch (err) {
      pin.value = '';
      error.textContent = supervisorErrorText(err);
      if (dlg.open) pin.focus();
    } finally {
      ok.disabled = false;
    }
  }
  form.addEventListener('submit', onSubmit);
  try {
    const rv = await openDialog(dlg, sel.options.length > 1 ? sel : pin);
    return rv === 'ok' ? result : null;
  } finally {
    form.removeEventListener('submit', onSubmit);
  }
}

function supervisorErrorText(err) {
  if (err instanceof ApiError) {
    if (err.status === 401 && err.supervisorRejected) return `Wrong supervisor PIN. (${err.message})`;
    if (err.status === 423) {
      return err.retryAfterS != null
        ? `Supervisor locked, try again in ${err.retryAfterS} s. (${err.message})`
        : `Supervisor locked: ${err.message}`;
    }
    if (err.status === 403) return `Not allowed: ${err.message}`;
  }
  return describeError(err);
}
