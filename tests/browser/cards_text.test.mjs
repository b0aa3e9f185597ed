// web/js/cards.js without a browser: what the cashier reads about a card
// payment that failed, a sale's card tender and where a refund went
// (docs/PAYMENTS.md; the reasons are the API's error.reason codes).

import test from 'node:test';
import assert from 'node:assert/strict';
import { cardFailureText, cardName, cardOutcome, refundText, reviewReasonText, signedMinor, isCardFailure } from '../../web/js/cards.js';

const apiError = (status, reason, message, overridePossible = false) =>
  ({ name: 'ApiError', status, code: status === 402 ? 'payment_declined' : 'payment_error', reason, message, overridePossible });

test('declines (402) in words, the API sentence kept unless it only repeats the code', () => {
  const d = cardFailureText(apiError(402, 'insufficient_funds', 'Card declined: insufficient_funds'));
  assert.deepEqual(d, { title: 'Declined: insufficient funds', detail: '', override: false, declined: true });
  const e = cardFailureText(apiError(402, 'expired_card', 'Card declined: the card expired at the end of 01/2020'));
  assert.equal(e.title, 'Card expired');
  assert.equal(e.detail, 'Card declined: the card expired at the end of 01/2020');
  assert.equal(cardFailureText(apiError(402, 'stolen_card', '')).title, 'Declined: card reported lost or stolen');
  assert.equal(cardFailureText(apiError(402, 'do_not_honour', '')).title, 'Declined: do not honour');
  const limit = cardFailureText(apiError(402, 'offline_limit', 'The card network is unreachable and …', true));
  assert.equal(limit.override, true);
  assert.match(limit.title, /over the offline limit/);
  // override_possible only counts on a decline.
  assert.equal(cardFailureText(apiError(502, 'timeout', '', true)).override, false);
});

test('reader and processor failures (502) in words', () => {
  const title = (reason, message = '') => cardFailureText(apiError(502, reason, message)).title;
  assert.equal(title('timeout'), 'No card presented in time');
  assert.equal(title('unreadable'), 'Card could not be read');
  assert.equal(title('reader_disconnected'), 'Reader disconnected');
  assert.equal(title('cancelled'), 'Card removed before the payment finished');
  assert.equal(title('processor_refused'), 'The card processor refused the request');
  assert.equal(title('', 'the card reader is not reachable (No such file or directory)'), 'Card reader not reachable');
  assert.equal(title('something_new'), 'Card payment failed: something new');
  assert.equal(isCardFailure(apiError(502, 'timeout', '')), true);
  assert.equal(isCardFailure({ name: 'ApiError', status: 409 }), false);
});

test('a sale\'s card tender', () => {
  const card = { brand: 'visa', last4: '1111', mode: 'online', auth_code: 'A1B2C3', status: 'approved' };
  assert.equal(cardName(card), 'VISA ****1111');
  assert.equal(cardName({ last4: '1111' }), '****1111');
  assert.equal(cardOutcome(card), 'approved (auth A1B2C3)');
  assert.equal(cardOutcome({ ...card, mode: 'offline', auth_code: '', status: 'stored' }), 'accepted offline — will be forwarded');
  assert.match(cardOutcome({ ...card, mode: 'offline', status: 'approved' }), /^accepted offline, approved when forwarded/);
  assert.match(cardOutcome({ ...card, mode: 'offline', status: 'declined' }), /review list/);
  assert.equal(signedMinor(-2), '−0.02');
  assert.equal(signedMinor(3), '+0.03');
});

test('where a refund went', () => {
  assert.equal(refundText({ refund_minor: 180, refund_cash_minor: 180, refund_card_minor: 0, card_last4: '' }), '1.80 in cash');
  assert.equal(refundText({ refund_minor: 685, refund_cash_minor: 0, refund_card_minor: 685, card_last4: '1111' }, 'visa'),
    '6.85 back to card VISA ****1111');
  assert.equal(refundText({ refund_minor: 1500, refund_cash_minor: 300, refund_card_minor: 1200, card_last4: '1111' }, 'visa'),
    '12.00 back to card VISA ****1111, 3.00 cash');
  // The cash part is rounded like a sale's.
  assert.equal(refundText({ refund_minor: 126, refund_cash_minor: 125, refund_card_minor: 0, card_last4: '' }),
    '1.25 in cash (cash rounded from 1.26)');
});

test('review items', () => {
  assert.equal(reviewReasonText({ outcome: 'declined', reason: 'insufficient_funds' }), 'Declined: insufficient funds');
  assert.equal(reviewReasonText({ outcome: 'expired', reason: '' }), 'Expired: not forwarded in time');
  assert.equal(reviewReasonText({ outcome: 'refund_declined', reason: 'invalid_card' }), 'Card refund refused: invalid card');
});
