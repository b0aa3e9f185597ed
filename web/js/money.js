// Money in the UI is what the API sends: integers in minor units (cents).
// Nothing here uses floating-point arithmetic on amounts: formatting is
// integer division and modulo, parsing reads the digits as text. The rules
// mirror docs/PRICING.md (money_parse / percent_parse / money_format).

// The largest amount kassa accepts anywhere (PRICING_AMOUNT_MAX): 10^13 minor
// units, well inside the range where JS numbers are exact integers.
export const AMOUNT_MAX = 10_000_000_000_000;

const DECIMAL = /^(\d+)(?:\.(\d{1,2}))?$/;

/** 1234 → "12.34", -5 → "-0.05", 0 → "0.00". */
export function formatMinor(minor) {
  if (!Number.isSafeInteger(minor)) return '—';
  const neg = minor < 0;
  const abs = neg ? -minor : minor;
  const whole = (abs - (abs % 100)) / 100; // exact: abs - abs%100 is a multiple of 100
  const cents = abs % 100;
  return `${neg ? '-' : ''}${whole}.${cents < 10 ? '0' : ''}${cents}`;
}

/**
 * "12" → 1200, "12.3" → 1230, "12.34" → 1234, "007.10" → 710.
 * Returns null for anything money_parse would reject (sign, blanks, comma,
 * more than two decimals, a point without digits on both sides, too large).
 */
export function parseMoney(text) {
  const m = DECIMAL.exec(String(text).trim());
  if (!m) return null;
  const digits = m[1].replace(/^0+(?=\d)/, '');
  if (digits.length > 12) return null; // over 10^11 whole units is over AMOUNT_MAX anyway
  const cents = m[2] === undefined ? 0 : Number(m[2].padEnd(2, '0'));
  const minor = Number(digits) * 100 + cents;
  return minor <= AMOUNT_MAX ? minor : null;
}

/**
 * A percent discount as the API wants it: a decimal string with at most two
 * decimals, 0 to 100 ("10", "12.5"). Returns the normalised string or null.
 */
export function normalizePercent(text) {
  const m = DECIMAL.exec(String(text).trim());
  if (!m) return null;
  const digits = m[1].replace(/^0+(?=\d)/, '');
  if (digits.length > 3) return null;
  const bp = Number(digits) * 100 + (m[2] === undefined ? 0 : Number(m[2].padEnd(2, '0')));
  if (bp > 10000) return null;
  return m[2] === undefined ? digits : `${digits}.${m[2]}`;
}

/**
 * Round an amount up to the next multiple of step (both minor units), for
 * the quick-amount buttons: 2431 with step 500 → 2500. Integer-only.
 */
export function roundUpTo(minor, step) {
  const r = minor % step;
  return r === 0 ? minor : minor + (step - r);
}

/**
 * Quick cash amounts for a total: exact, then the next round note values,
 * without duplicates, at most `max` of them.
 */
export function quickAmounts(totalMinor, max = 5) {
  const out = [totalMinor];
  for (const step of [100, 500, 1000, 2000, 5000, 10000]) {
    const v = roundUpTo(totalMinor, step);
    if (v > 0 && !out.includes(v)) out.push(v);
    if (out.length >= max) break;
  }
  return out;
}
