// card_declined review items from real payment operations: a terminal
// (kassad with the card reader and processor simulators, tests/pay's
// harness) takes a card offline that the processor declines when the
// payment is forwarded; the uploaded `payment` operation makes a review
// item, and the manager's resolution, uploaded later, marks it resolved.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CARDS, PayWorld } from '../pay/harness.mjs';
import { World, kassa } from './harness.mjs';

let world, pay, cloud;

before(async () => {
  world = await World.create('cards');
  cloud = await world.cloud(await world.database('main'));
  pay = await PayWorld.create('cloud');
});

after(async () => {
  await pay?.destroy();
  await world?.destroy();
});

test('a declined offline card payment is a card_declined review item, resolved later', () => pay.guard(async () => {
  await pay.sims.stopProcessor();
  const till = await pay.till();
  const { sale } = await till.cardSale([{ sku: 'MLK-1L', qty: 1 }], { card: CARDS.insufficientFunds, expect: 201 });
  assert.equal(sale.card.mode, 'offline');
  const paymentId = sale.card.payment_id;
  await pay.sims.startProcessor();
  await till.waitSettled('the stored payment forwarded and declined');
  const client = await cloud.client('S1', 'T1');
  const admin = cloud.admin();
  const up = await client.upload('S1', await till.exportOps());
  assert.equal(up.status, 200, up.text);
  const review = (await admin.get('/v1/admin/stores/S1/review')).json.items.filter((i) => i.kind === 'card_declined');
  assert.equal(review.length, 1, JSON.stringify(review));
  assert.equal(review[0].ref, paymentId);
  assert.equal(review[0].detail.outcome, 'declined');
  assert.ok(review[0].detail.reason, 'a decline says why');
  assert.equal(review[0].detail.resolved, undefined);
  // the manager resolves it on the terminal; the next upload says so
  await kassa(['--data', till.dataDir, 'payments', 'resolve', paymentId, '--note', 'customer paid cash']);
  const again = await client.upload('S1', await till.exportOps());
  assert.equal(again.status, 200, again.text);
  assert.ok(again.json.stored >= 1);
  const resolved = (await admin.get('/v1/admin/stores/S1/review')).json.items.find((i) => i.ref === paymentId);
  assert.equal(resolved.detail.resolved, true);
  assert.equal(resolved.detail.outcome, 'declined');
}));
