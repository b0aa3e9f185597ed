// Who may call what: store routes need a device certificate of the path's
// store, chained to the company CA and not revoked; admin routes need the
// bearer token. Refusals are answered in JSON with the reason and logged.
//
// Without a client certificate a store route is 401 (the TLS handshake
// succeeds: admin routes take no certificate); any certificate that is
// presented but refused (another store, another CA, revoked) is 403.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, test } from 'node:test';
import { CLOUD, Client, TOKEN, World, assertError, kassa, runProgram } from './harness.mjs';

let world, db, cloud;

before(async () => {
  world = await World.create('auth');
  db = await world.database('main');
  cloud = await world.cloud(db, { crl: true });
});

after(async () => {
  await world?.destroy();
});

test('no client certificate on a store route is 401', async () => {
  const anon = await cloud.client(null);
  const t = await world.terminal('S1', 'T1');
  const file = await t.exportOps();
  for (const res of [
    await anon.upload('S1', file),
    await anon.get('/v1/stores/S1/vv'),
    await anon.get('/v1/stores/S1/changes'),
    await anon.get('/v1/stock?sku=MLK-1L'),
  ]) assertError(res, 401, /client certificate/);
  assert.equal(db.psql('SELECT count(*) FROM ops').trim(), '0');
  // the open routes need nothing
  assert.equal((await anon.get('/healthz')).status, 200);
  assert.equal((await anon.get('/metrics')).status, 200);
});

test("another store's certificate is 403 on every store route of the path's store", async () => {
  const s2 = await cloud.client('S2', 'T1');
  const t = await world.terminal('S1', 'T1');
  const res = await s2.upload('S1', await t.exportOps());
  assertError(res, 403, /certificate is of store S2, not S1/);
  assertError(await s2.get('/v1/stores/S1/vv'), 403, /store S2, not S1/);
  assertError(await s2.get('/v1/stores/S1/changes?after=0'), 403, /store S2, not S1/);
  assert.equal(db.psql("SELECT count(*) FROM ops WHERE store_id = 'S1'").trim(), '0');
  // its own store is fine
  assert.equal((await s2.get('/v1/stores/S2/vv')).status, 200);
  const line = cloud.logLines().find((l) => l.event === 'refused' && l.status === 403 && l.client_store === 'S2');
  assert.ok(line, 'the refusal is logged with the certificate it came with');
  assert.equal(line.client_node, 'T1');
});

test('a certificate of another CA is 403', async () => {
  const otherCa = path.join(world.dir, 'other-ca');
  await kassa(['ca', 'init', '--dir', otherCa]);
  const out = path.join(world.dir, 'other-S1-T1');
  await kassa(['ca', 'issue', '--dir', otherCa, '--store', 'S1', '--node', 'T1', '--out', out]);
  const c = new Client(cloud, out);
  try {
    assertError(await c.get('/v1/stores/S1/vv'), 403, /not issued by our CA/);
  } finally {
    c.close();
  }
});

test('a revoked certificate is refused (--crl at start, and again after SIGHUP)', async () => {
  // revoked before the start: a second cloud reads the CRL
  await world.issue('S1', 'BAD');
  await kassa(['ca', 'revoke', '--dir', world.caDir, '--store', 'S1', '--node', 'BAD']);
  await kassa(['ca', 'crl', '--dir', world.caDir]);
  const db2 = await world.database('crl');
  const cloud2 = await world.cloud(db2, { crl: true });
  const bad = await cloud2.client('S1', 'BAD');
  const t = await world.terminal('S1', 'BAD');
  assertError(await bad.upload('S1', await t.exportOps()), 403, /revoked/);
  assertError(await bad.get('/v1/stores/S1/vv'), 403, /revoked/);
  assert.equal(db2.psql('SELECT count(*) FROM ops').trim(), '0');
  const good = await cloud2.client('S1', 'GOOD');
  assert.equal((await good.get('/v1/stores/S1/vv')).status, 200);
  // revoked while running: refused once the CRL is read again (SIGHUP)
  const later = await cloud2.client('S1', 'LATER');
  assert.equal((await later.get('/v1/stores/S1/vv')).status, 200);
  await kassa(['ca', 'revoke', '--dir', world.caDir, '--store', 'S1', '--node', 'LATER']);
  cloud2.signal('SIGHUP');
  await cloud2.waitLog('"crl_reloaded"', (l) => l.event === 'crl_reloaded');
  const again = await cloud2.client('S1', 'LATER');
  assertError(await again.get('/v1/stores/S1/vv'), 403, /revoked/);
});

test('admin routes refuse a missing or wrong token, with or without a certificate', async () => {
  const anon = await cloud.client(null);
  const store = await cloud.client('S1', 'T1');
  const body = { name: 'Milk', price_minor: 119, tax_class: 'reduced' };
  for (const [c, token] of [[anon, undefined], [anon, 'wrong-token-wrong-token'], [store, undefined], [anon, TOKEN.slice(0, -1)], [anon, `${TOKEN}x`]]) {
    const res = await c.put('/v1/admin/catalog/MLK-1L', body, { token });
    assertError(res, 401, token ? /wrong admin token/ : /Authorization: Bearer/);
    assert.equal(res.headers['www-authenticate'], 'Bearer');
    assertError(await c.get('/v1/admin/stores/S1/stock', { token }), 401);
  }
  // "Basic" is not a bearer token
  assertError(await anon.get('/v1/admin/stores/S1/stock', { headers: { Authorization: `Basic ${TOKEN}` }, token: null }), 401);
  assert.equal(db.psql('SELECT count(*) FROM changes').trim(), '0');
  const admin = cloud.admin();
  const ok = await admin.put('/v1/admin/catalog/MLK-1L', body);
  assert.equal(ok.status, 200, ok.text);
  assert.equal((await admin.get('/v1/admin/stores/S1/stock')).status, 200);
  // the token never reaches the log
  assert.ok(!cloud.lines.some((l) => l.includes(TOKEN)));
});

test('TLS 1.3 only: a TLS 1.2 client cannot connect', async () => {
  const err = await new Promise((resolve) => {
    const sock = tls.connect({ host: '127.0.0.1', port: cloud.port, maxVersion: 'TLSv1.2', rejectUnauthorized: false });
    sock.on('secureConnect', () => {
      sock.destroy();
      resolve(null);
    });
    sock.on('error', resolve);
  });
  assert.ok(err, 'the TLS 1.2 handshake failed');
  assert.match(String(err.code || err.message), /VERSION|PROTOCOL|ALERT/i);
});

test('a token file readable by others is refused at start', async () => {
  const loose = path.join(world.dir, 'loose.token');
  fs.writeFileSync(loose, `${TOKEN}\n`, { mode: 0o644 });
  fs.chmodSync(loose, 0o644);
  const args = world.cloudArgs(db).map((a) => (a === world.tokenFile ? loose : a));
  const res = await runProgram(CLOUD, args);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /group or others may read it/);
});
