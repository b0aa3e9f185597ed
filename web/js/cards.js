// Card payments in words: what the cashier reads when a card is declined or
// the reader fails, how a sale's card tender is described, and where a
// refund went. Pure functions (no DOM), so they can be tested in Node.
// The API's reasons are codes (docs/PAYMENTS.md, "A card checkout"); its
// messages are kept as the detail line.

import { formatMinor } from './money.js';

// 402 payment_declined: error.reason.
const DECLINED = {
  insufficient_funds: 'Declined: insufficient funds',
  stolen_card: 'Declined: card reported lost or stolen',
  expired_card: 'Card expired',
  invalid_card: 'Declined: the card is not valid',
  offline_limit: 'Card network unreachable: this payment is over the offline limit',
  offline_card_refused: 'Card not accepted offline (risk check): take cash or another card',
  declined: 'Declined by the card issuer',
};

// 502 payment_error: error.reason (the reader's own reasons, then kassad's).
const FAILED = {
  timeout: 'No card presented in time',
  unreadable: 'Card could not be read',
  cancelled: 'Card removed before the payment finished',
  busy: 'The card reader is busy with another payment',
  reader_timeout: 'The card reader did not answer in time',
  reader_disconnected: 'Reader disconnected',
  reader_error: 'The card reader sent an answer that makes no sense',
  processor_refused: 'The card processor refused the request',
};

const words = (code) => String(code).replace(/_/g, ' ');

/** True when a checkout error is a card payment that did not go through. */
export function isCardFailure(err) {
  return !!err && err.name === 'ApiError' && (err.status === 402 || err.status === 502);
}

/**
 * What to tell the cashier about a failed card checkout (an ApiError with
 * status 402 or 502), and what to offer next.
 * @returns {{title: string, detail: string, override: boolean, declined: boolean}}
 */
export function cardFailureText(err) {
  const reason = err.reason || '';
  const declined = err.status === 402;
  let title;
  if (declined) title = DECLINED[reason] || (reason ? `Declined: ${words(reason)}` : 'Card declined');
  // kassad answers a reader it cannot reach with a 502 without a reason.
  else if (!reason && /reader/i.test(err.message)) title = 'Card reader not reachable';
  else title = FAILED[reason] || (reason ? `Card payment failed: ${words(reason)}` : 'Card payment failed');
  const override = declined && err.overridePossible === true;
  // The API's own sentence says more (which limit, which expiry date),
  // unless it only repeats the code.
  const msg = (err.message || '').trim();
  const detail = msg && msg !== `Card declined: ${reason}` ? msg : '';
  return { title, detail, override, declined };
}

/** "VISA ****1111" */
export function cardName(card) {
  const last4 = `****${card.last4 || '????'}`;
  return card.brand ? `${card.brand.toUpperCase()} ${last4}` : last4;
}

/** What became of a sale's card tender (CardPayment). */
export function cardOutcome(card) {
  const auth = card.auth_code ? ` (auth ${card.auth_code})` : '';
  switch (card.status) {
    case 'approved':
      return card.mode === 'offline' ? `accepted offline, approved when forwarded${auth}` : `approved${auth}`;
    case 'stored':
      return 'accepted offline — will be forwarded';
    case 'declined':
      return 'accepted offline, declined when forwarded — in the review list';
    case 'expired':
      return 'accepted offline, expired before it was forwarded — in the review list';
    default:
      return card.status || '';
  }
}

/** "+0.03" / "−0.02": the cash rounding of a sale (docs/PAYMENTS.md). */
export function signedMinor(minor) {
  return minor < 0 ? `−${formatMinor(-minor)}` : `+${formatMinor(minor)}`;
}

/**
 * Where a void's or a return's refund went, from its answer
 * (refund_minor, refund_cash_minor, refund_card_minor, card_last4) and the
 * sale's card brand when known:
 *   "1.80 in cash", "6.85 back to card VISA ****1111",
 *   "3.84 back to card VISA ****1111, 8.15 cash"
 */
export function refundText(done, brand = '') {
  const cash = Number.isInteger(done.refund_cash_minor) ? done.refund_cash_minor : done.refund_minor;
  const card = Number.isInteger(done.refund_card_minor) ? done.refund_card_minor : 0;
  const parts = [];
  if (card > 0) parts.push(`${formatMinor(card)} back to card ${cardName({ brand, last4: done.card_last4 })}`);
  if (cash > 0 || card <= 0) parts.push(card > 0 ? `${formatMinor(cash)} cash` : `${formatMinor(cash)} in cash`);
  let text = parts.join(', ');
  // The cash part is rounded like a sale's (refund_minor is before rounding).
  const unrounded = done.refund_minor - card;
  if (Number.isInteger(done.refund_minor) && unrounded !== cash && cash > 0) {
    text += ` (cash rounded from ${formatMinor(unrounded)})`;
  }
  return text;
}

/** Why a review item (ReviewItem) is in the review list, in words. */
export function reviewReasonText(item) {
  const reason = item.reason || '';
  if (item.outcome === 'expired') return 'Expired: not forwarded in time';
  if (item.outcome === 'refund_declined') return `Card refund refused${reason ? `: ${words(reason)}` : ''}`;
  return DECLINED[reason] || (reason ? `Declined: ${words(reason)}` : 'Declined');
}
