// Entry point: wires the modules together, switches between the login and
// checkout screens, and owns the global keys (shortcuts and the scanner).

import { api, session, onUnauthorized, ApiError } from './api.js';
import { initDialogs, anyDialogOpen, setFallbackFocus } from './dialogs.js';
import { $ } from './dom.js';
import { initLogin, showLogin } from './login.js';
import {
  initCheckout, restoreCart, forgetCart, scan, openSearch, openPay, cancelSale, hasOpenLines, message,
} from './checkout.js';
import { initSales, openSales, openDrawer } from './sales.js';
import { initDrawer } from './drawer.js';
import { initReview } from './review.js';
import { initRisk } from './risk.js';
import { initReceipt } from './receipt.js';
import { initChainStock } from './stock.js';
import { initRecognize, openRecognize } from './recognize.js';
import { initVoice } from './voice.js';
import { installScanner } from './scanner.js';
import { startStatusPolling, refreshStatus } from './status.js';

const checkoutVisible = () => !$('view-checkout').hidden;

function closeAllDialogs() {
  for (const d of document.querySelectorAll('dialog[open]')) d.close('cancel');
}

function toLogin(msg) {
  closeAllDialogs();
  $('view-checkout').hidden = true;
  $('view-login').hidden = false;
  showLogin(msg);
}

async function toCheckout(s) {
  $('view-login').hidden = true;
  $('view-checkout').hidden = false;
  const c = s.cashier;
  $('who').textContent = `${c.name} · ${c.role}`;
  // The card payment review list is for supervisors and managers.
  $('btn-review').hidden = c.role !== 'supervisor' && c.role !== 'manager';
  $('btn-risk').hidden = $('btn-review').hidden;
  message('');
  refreshStatus(); // the status bar's "Forward now" needs a session
  await restoreCart();
  $('scan-input').focus();
}

async function logout() {
  // An open cart is abandoned on the terminal (after asking, if it has
  // lines) so it does not linger until the terminal's idle timeout.
  if (!(await cancelSale({ ask: hasOpenLines() }))) return;
  try {
    await api.logout();
  } catch {
    // Logged out locally whatever the terminal says: the token is dropped.
  }
  session.clear();
  toLogin('');
  refreshStatus();
}

// Function keys work from anywhere on the checkout screen, including from
// inside text fields (they type nothing), but not behind an open dialog.
const SHORTCUTS = {
  F2: openSearch,
  F3: () => $('scan-input').focus(),
  F4: openPay,
  F6: openRecognize,
  F8: openSales,
  F9: openDrawer,
};

function onShortcut(e) {
  const action = SHORTCUTS[e.key];
  if (!action || !checkoutVisible() || e.ctrlKey || e.altKey || e.metaKey) return;
  e.preventDefault(); // F3 would open the browser's find bar
  if (anyDialogOpen()) return;
  action();
}

async function boot() {
  initDialogs();
  setFallbackFocus(() => {
    if (checkoutVisible()) $('scan-input').focus();
  });
  initLogin(toCheckout);
  initCheckout();
  initSales();
  initDrawer();
  initReview();
  initRisk();
  initReceipt();
  initChainStock();
  initRecognize();
  initVoice({ enabled: checkoutVisible });
  startStatusPolling();
  $('btn-logout').addEventListener('click', logout);
  window.addEventListener('keydown', onShortcut);
  installScanner({ onScan: scan, enabled: checkoutVisible });

  onUnauthorized(() => {
    forgetCart();
    toLogin('Your session has ended. Please log in again.');
  });

  // A reload keeps the tab's session (sessionStorage): check it is still good.
  if (session.token) {
    try {
      const s = await api.currentSession();
      session.save({ token: session.token, cashier: s.cashier });
      await toCheckout(s);
      return;
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) {
        toLogin(`Could not check the session: ${err.message}`);
        return;
      }
      return; // the 401 handler already showed the login screen
    }
  }
  toLogin('');
}

boot();
