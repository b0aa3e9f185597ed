// Login: pick yourself from the terminal's cashiers, type your PIN.
// Wrong PINs answer 401; after too many the API answers 423 for a while,
// and we count the wait down so the cashier knows when to try again.

import { api, session, ApiError } from './api.js';
import { $, h, describeError } from './dom.js';

let onLoggedIn = () => {};
let countdown = null;
let cashiersLoaded = false;

export function initLogin(loggedIn) {
  onLoggedIn = loggedIn;
  $('login-form').addEventListener('submit', submit);
  $('login-keypad').addEventListener('click', (e) => {
    const key = e.target.closest('button')?.dataset.key;
    if (!key) return;
    const pin = $('login-pin');
    if (key === 'clear') pin.value = '';
    else if (key === 'back') pin.value = pin.value.slice(0, -1);
    else if (pin.value.length < pin.maxLength) pin.value += key;
    pin.focus();
  });
}

/** Show the login screen (fresh: no PIN, no stale error). */
export async function showLogin(message = '') {
  $('login-pin').value = '';
  setError(message);
  if (!cashiersLoaded) await loadCashiers();
  const checked = document.querySelector('input[name=cashier]:checked');
  (checked ? $('login-pin') : document.querySelector('input[name=cashier]') || $('login-pin')).focus();
}

async function loadCashiers() {
  const box = $('login-cashiers');
  try {
    const { cashiers } = await api.cashiers();
    const tiles = cashiers.map((c, i) =>
      h('label', { class: 'cashier-tile' },
        h('input', { type: 'radio', name: 'cashier', value: c.id, checked: i === 0 && cashiers.length === 1 }),
        h('span', { class: 'cashier-name' }, c.name),
        h('span', { class: 'cashier-meta' }, `${c.id} · ${c.role}`)));
    box.replaceChildren(box.querySelector('legend'), ...tiles);
    if (cashiers.length === 0) box.append(h('p', { class: 'error' }, 'No cashier is set up on this terminal.'));
    // Picking a cashier moves on to the PIN, as a person would expect.
    for (const r of box.querySelectorAll('input[name=cashier]')) {
      r.addEventListener('change', () => setError(''));
    }
    cashiersLoaded = true;
  } catch (e) {
    setError(`Cannot load cashiers: ${describeError(e)} Retrying…`);
    setTimeout(() => showLogin(), 2000);
  }
}

function setError(text) {
  $('login-error').textContent = text;
}

function stopCountdown() {
  if (countdown) clearInterval(countdown);
  countdown = null;
}

function showLocked(err) {
  stopCountdown();
  let left = err.retryAfterS;
  if (left == null) {
    setError(`Locked: ${err.message}`);
    return;
  }
  const tick = () => {
    if (left <= 0) {
      stopCountdown();
      setError('You can try your PIN again now.');
      return;
    }
    setError(`Locked, try again in ${left} s.`);
    left -= 1;
  };
  tick();
  countdown = setInterval(tick, 1000);
}

async function submit(e) {
  e.preventDefault();
  const chosen = document.querySelector('input[name=cashier]:checked');
  const pin = $('login-pin');
  if (!chosen) {
    setError('Choose your name first.');
    document.querySelector('input[name=cashier]')?.focus();
    return;
  }
  if (!pin.value) {
    setError('Type your PIN.');
    pin.focus();
    return;
  }
  stopCountdown();
  const button = $('login-submit');
  button.disabled = true;
  try {
    const s = await api.login(chosen.value, pin.value);
    session.save(s);
    setError('');
    pin.value = '';
    onLoggedIn(s);
  } catch (err) {
    pin.value = '';
    if (err instanceof ApiError && err.status === 401) setError(`Wrong PIN. (${err.message})`);
    else if (err instanceof ApiError && err.status === 423) showLocked(err);
    else setError(describeError(err));
    pin.focus();
  } finally {
    button.disabled = false;
  }
}
