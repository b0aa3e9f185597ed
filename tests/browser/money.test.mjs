// web/js/money.js without a browser: the UI's money text must follow the
// same rules as the C side (docs/PRICING.md, "Text forms").

import test from 'node:test';
import assert from 'node:assert/strict';
import { formatMinor, parseMoney, normalizePercent, quickAmounts, roundUpTo, AMOUNT_MAX } from '../../web/js/money.js';

test('formatMinor: two decimals from integer minor units', () => {
  assert.equal(formatMinor(0), '0.00');
  assert.equal(formatMinor(5), '0.05');
  assert.equal(formatMinor(50), '0.50');
  assert.equal(formatMinor(1234), '12.34');
  assert.equal(formatMinor(-1234), '-12.34');
  assert.equal(formatMinor(-5), '-0.05');
  assert.equal(formatMinor(AMOUNT_MAX), '100000000000.00');
  assert.equal(formatMinor(Number.MAX_SAFE_INTEGER), '90071992547409.91');
  assert.equal(formatMinor(1.5), '—', 'a non-integer is not money');
  assert.equal(formatMinor(undefined), '—');
});

test('parseMoney: what money_parse accepts', () => {
  for (const [text, minor] of [['0', 0], ['12', 1200], ['12.3', 1230], ['12.34', 1234], ['007.10', 710], ['100000000000', AMOUNT_MAX], [' 5 ', 500]]) {
    assert.equal(parseMoney(text), minor, text);
  }
});

test('parseMoney: what money_parse rejects', () => {
  for (const text of ['', '-1', '+1', '1e3', '1,5', '.5', '12.', '12.345', '12.340', 'abc', '100000000000.01', '99999999999999999999']) {
    assert.equal(parseMoney(text), null, JSON.stringify(text));
  }
});

test('normalizePercent: 0..100 with at most two decimals', () => {
  for (const [text, out] of [['0', '0'], ['10', '10'], ['12.5', '12.5'], ['12.55', '12.55'], ['100', '100'], ['007', '7']]) {
    assert.equal(normalizePercent(text), out, text);
  }
  for (const text of ['100.01', '101', '', '-1', '12.345', '1,5', '.5']) {
    assert.equal(normalizePercent(text), null, JSON.stringify(text));
  }
});

test('quick amounts: exact, then round notes above the total, integers only', () => {
  assert.equal(roundUpTo(2431, 500), 2500);
  assert.equal(roundUpTo(2500, 500), 2500);
  assert.deepEqual(quickAmounts(2431), [2431, 2500, 3000, 4000, 5000]);
  assert.deepEqual(quickAmounts(5000), [5000, 6000, 10000]); // 50 + 10, or a 100 note
  assert.deepEqual(quickAmounts(180), [180, 200, 500, 1000, 2000]);
});
