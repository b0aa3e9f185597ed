// Barcode scanners at a till are "keyboard wedges": they type the code's
// digits very fast and press Enter. The cashier should not have to put the
// cursor anywhere first, so we listen on the whole window and buffer digits.
//
// What we must not do is eat keys that belong to something else:
//  - while a text field has focus (quantity, search, PIN…) the keys are the
//    field's; the dedicated scan field handles Enter itself (a form submit);
//  - while a dialog is open the page behind it is not taking scans;
//  - digits typed slowly by a person are not a scan: a gap longer than
//    maxGapMs between keys starts the buffer afresh.
// Only the final Enter of a real scan is swallowed (preventDefault), so a
// focused button is not "clicked" by the scanner's Enter.

const TEXT_TYPES = new Set([
  'text', 'search', 'number', 'password', 'tel', 'email', 'url',
  'date', 'datetime-local', 'month', 'time', 'week',
]);

/** True when keys typed now belong to a text-entry control. */
export function isTextEntry(el) {
  if (!el || el === document.body) return false;
  if (el.isContentEditable) return true;
  const tag = el.tagName;
  if (tag === 'TEXTAREA' || tag === 'SELECT') return true;
  return tag === 'INPUT' && TEXT_TYPES.has((el.type || 'text').toLowerCase());
}

/**
 * @param {object} opts
 * @param {(code: string) => void} opts.onScan called with the digits
 * @param {() => boolean} opts.enabled  whether scans are taken right now
 * @param {number} [opts.maxGapMs]  longest pause between two keys of a scan
 * @param {number} [opts.minLength] shortest code we treat as a scan
 * @returns {() => void} removes the listener
 */
export function installScanner({ onScan, enabled, maxGapMs = 100, minLength = 4 }) {
  let buffer = '';
  let last = 0;

  function onKeyDown(e) {
    if (!enabled() || e.ctrlKey || e.altKey || e.metaKey) {
      buffer = '';
      return;
    }
    if (isTextEntry(e.target) || document.querySelector('dialog[open]')) {
      buffer = '';
      return;
    }
    const now = performance.now();
    if (e.key.length === 1 && e.key >= '0' && e.key <= '9') {
      if (now - last > maxGapMs) buffer = '';
      buffer += e.key;
      last = now;
      return;
    }
    if (e.key === 'Enter' && buffer.length >= minLength && now - last <= maxGapMs) {
      // A scan: keep its Enter from activating whatever has focus.
      e.preventDefault();
      e.stopPropagation();
      const code = buffer;
      buffer = '';
      onScan(code);
      return;
    }
    if (e.key !== 'Shift') buffer = '';
  }

  // Capture phase, so we see the Enter before a focused button acts on it.
  window.addEventListener('keydown', onKeyDown, true);
  return () => window.removeEventListener('keydown', onKeyDown, true);
}
