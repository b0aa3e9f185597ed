// Who may join a store's replication, and what a peer can do to a
// terminal. The honest store is T1..T3 of S1 (T1 set up, T2 and T3
// receiving it). Their roster also names T4 (so the rogues (a) and (b)
// below, which call themselves T4, are refused for their certificate
// alone, not for the roster), T5 (the identity of the raw TLS clients) and
// T8 (a terminal revoked while linked).
//
// One at a time, a rogue kassad with sales of its own lists the honest
// terminals as static peers, and the honest terminals list its address,
// so both directions are tried:
//   (a) S1/T4 certified by another company CA,
//   (b) S1/T4 from the real CA, revoked (the honest terminals start with
//       the new crl.pem),
//   (c) S2/T4 from the real CA: another store,
//   (d) S1/T9 from the real CA: not in the roster.
// Every honest terminal must refuse the rogue's certificate when it dials
// the rogue, and when a client presenting that certificate dials it (a
// node:tls client that accepts any server, since rogues (a) and (c) refuse
// the honest terminals first), logging the reason; after several
// anti-entropy rounds no honest terminal may hold an operation of the
// rogue's origin nor the rogue one of theirs, and the honest terminals must
// still serve /healthz, be linked and converge.
//
// Also: kassad must refuse to start with a device key others (or the
// group) can read, a certificate of another node, or a node missing from
// its own roster. And a client with a VALID certificate that sends garbage,
// an oversized frame header, a frame before its Hello, a bad Hello or a
// truncated frame must only get its link closed, with the reason logged,
// while the terminal keeps serving and replicating.
//
// Revocation of a terminal that is linked (T8): once the honest terminals
// have the new crl.pem and get SIGHUP, they close its links at once and
// refuse its next handshakes; its later sales reach no one. A CRL that does
// not load keeps the old one in force.
//
// A malicious roster member (T5, raw client) sending a well-formed batch
// with its own operation and one forged under the name of T2, a terminal
// the receiver is linked with: its own is applied, the forged one is not,
// and T2's real operation with that sequence number is taken afterwards.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  CATALOG_CSV, Mesh, frame, fullSetup, helloPayload, kassaBare, kassaBuffer, opsBatchMessage, parseExport, sleep, tlsClient,
  waitConverged, waitFor, waitLinked, waitUnlinked, zstdFrame,
} from './harness.mjs';

const HONEST = ['T1', 'T2', 'T3'];
const ROSTER = 'T1 T2 T3 T4 T5 T8';
const ANTI_ENTROPY_MS = 200;

let mesh;
let honest;
let rogueAddr;
let t5cert; // valid S1/T5 certificate for the raw clients
const honestCert = {};
const rogueCert = {}; // case -> certificate directory
const ca = {};

before(async () => {
  mesh = new Mesh('security');
  await mesh.guard(async () => {
    ca.real = await mesh.caInit('CA');
    ca.other = await mesh.caInit('CA-other');
    const ports = await mesh.allocPorts(HONEST.length + 1);
    const addrs = ports.slice(0, 3).map((p) => `127.0.0.1:${p}`);
    rogueAddr = `127.0.0.1:${ports[3]}`;

    rogueCert.otherCa = await mesh.issue(ca.other, 'S1', 'T4');
    rogueCert.revoked = await mesh.issue(ca.real, 'S1', 'T4');
    rogueCert.otherStore = await mesh.issue(ca.real, 'S2', 'T4');
    rogueCert.notRoster = await mesh.issue(ca.real, 'S1', 'T9');
    t5cert = await mesh.issue(ca.real, 'S1', 'T5');
    for (const n of HONEST) honestCert[n] = await mesh.issue(ca.real, 'S1', n);
    const out = await kassaBare('ca', 'revoke', '--dir', ca.real, '--store', 'S1', '--node', 'T4');
    assert.match(out, /revoked 1 certificate/);
    // The honest terminals get the CRL that names it.
    for (const n of HONEST) fs.copyFileSync(path.join(ca.real, 'crl.pem'), path.join(honestCert[n], 'crl.pem'));

    honest = [];
    for (const [i, node] of HONEST.entries()) {
      honest.push(await mesh.terminal({
        node,
        setup: i === 0 ? fullSetup('S1', node) : undefined,
        peer: {
          listen: addrs[i],
          cert_dir: honestCert[node],
          roster: ROSTER,
          peers: [...addrs, rogueAddr],
          anti_entropy_ms: ANTI_ENTROPY_MS,
          reconnect_min_ms: 100,
          reconnect_max_ms: 400,
        },
      }));
    }
    await Promise.all(honest.map((t) => t.start()));
  });
});

after(async () => {
  await mesh?.destroy();
});


/** The honest terminals are linked to each other, converged and serving; a new sale reaches all. */
let honestSales = 0;
async function assertHonestHealthy(seller) {
  for (const t of honest) {
    assert.equal(t.running, true, `${t.node} still running`);
    assert.equal(await t.healthy(), true, `${t.node} serves /healthz`);
    await waitLinked(t, HONEST.filter((n) => n !== t.node), { timeoutMs: 10000 });
  }
  const sale = await seller.sell([{ sku: 'BAG-CL', qty: 1 }]);
  honestSales++;
  await waitConverged(honest, 'the honest terminals converged', { timeoutMs: 10000 });
  for (const t of honest) assert.ok((await t.saleIds()).includes(sale.id), `${t.node} has ${sale.id}`);
}

test('the honest terminals link and converge (the rogue address answers nothing yet)', () => mesh.guard(async () => {
  for (const t of honest) await waitLinked(t, HONEST.filter((n) => n !== t.node));
  await waitConverged(honest, 'setup replicated', { timeoutMs: 10000 });
  await assertHonestHealthy(honest[0]);
}));

const ROGUES = [
  { name: '(a) a certificate from another CA', key: 'otherCa', store: 'S1', node: 'T4', reason: 'not issued by our CA', refusesUs: 'not issued by our CA' },
  { name: '(b) a revoked certificate', key: 'revoked', store: 'S1', node: 'T4', reason: 'revoked', refusesUs: null },
  { name: '(c) a certificate of another store', key: 'otherStore', store: 'S2', node: 'T4', reason: 'another store', refusesUs: 'another store' },
  { name: '(d) a node missing from the roster', key: 'notRoster', store: 'S1', node: 'T9', reason: 'not in the store roster', refusesUs: null },
];

for (const [ri, r] of ROGUES.entries()) {
  test(`rogue ${r.name} (${r.store}/${r.node}) is refused both ways and gets nothing in or out`, () => mesh.guard(async () => {
    const marks = honest.map((t) => t.logMark());
    const refused0 = await Promise.all(honest.map((t) => t.http.metric('kassa_peer_links_refused_total')));
    const refusal = new RegExp(`^refused its certificate: ${r.reason}: `);
    const claim = `${r.store}/${r.node}`; // logged as claimed, unverified
    const rogue = await mesh.terminal({
      node: r.node,
      store: r.store,
      setup: [
        ['init', '--store', r.store, '--node', r.node],
        ['catalog', 'import', CATALOG_CSV],
        ['sale', '--line', 'BAG-CL:1', '--pay', 'cash:10.00'],
        ['sale', '--line', 'MLK-1L:2', '--line', 'WAT-15:1', '--pay', 'cash:10.00'],
        ['sale', '--line', 'COL-05:3', '--pay', 'cash:10.00'],
      ],
      peer: {
        listen: rogueAddr,
        cert_dir: rogueCert[r.key],
        roster: `T1 T2 T3 ${r.node}`,
        peers: honest.map((t) => t.peerAddr),
        anti_entropy_ms: ANTI_ENTROPY_MS,
        reconnect_min_ms: 100,
        reconnect_max_ms: 400,
      },
    });
    const rogueVv = await rogue.vv();
    assert.deepEqual(Object.keys(rogueVv), [r.node]);
    await rogue.start();
    try {
      // Honest -> rogue: each honest terminal dials the rogue and refuses
      // the certificate it presents as a server.
      for (const [i, t] of honest.entries()) {
        await waitFor(`${t.node} refusing the rogue it dialled (${r.reason})`, () =>
          t.events(marks[i], { component: 'peer', event: 'link_refused', direction: 'out', address: rogueAddr, reason: refusal, claimed: claim }).length > 0,
        { timeoutMs: 5000 });
      }
      // Rogue -> honest: a client presenting the rogue's certificate is
      // refused by each honest terminal as a server.
      for (const [i, t] of honest.entries()) {
        const c = await tlsClient(t.peerPort, rogueCert[r.key], { verify: false });
        if (c.secure) c.sock.write(frame(1, helloPayload(r.store, r.node)));
        await c.waitClosed();
        assert.equal(c.rx().length, 0, `${t.node} sent nothing to a refused client`);
        await waitFor(`${t.node} refusing an inbound client with the rogue's certificate`, () =>
          t.events(marks[i], { component: 'peer', event: 'link_refused', direction: 'in', reason: refusal, claimed: claim }).length > 0,
        { timeoutMs: 3000 });
      }
      // The rogue kassad's own dials: refused by the honest terminals when
      // it trusts them, or it refuses them first.
      if (r.refusesUs) {
        await waitFor(`the rogue refusing the honest terminals (${r.refusesUs})`, () =>
          rogue.events(0, { component: 'peer', event: 'link_refused', direction: 'out', reason: new RegExp(`^refused its certificate: ${r.refusesUs}`), claimed: /^S1\/T[123]$/ }).length > 0,
        { timeoutMs: 5000 });
      } else {
        await waitFor('an honest terminal refusing the rogue kassad\'s own dial', () =>
          honest.some((t, i) => t.events(marks[i], { component: 'peer', event: 'link_refused', direction: 'in', reason: refusal, claimed: claim }).length >= 2),
        { timeoutMs: 5000 });
      }

      // A few anti-entropy rounds with the rogue up and dialling.
      await sleep(5 * ANTI_ENTROPY_MS);
      for (const [i, t] of honest.entries()) {
        const vv = await t.vv();
        assert.equal(vv[r.node], undefined, `${t.node} holds operations of the rogue's origin ${r.node}: ${JSON.stringify(vv)}`);
        const ups = t.events(marks[i], { component: 'peer', event: 'link_up' }).filter((e) => !HONEST.includes(e.node));
        assert.deepEqual(ups, [], `${t.node}: a link came up with a non-honest node`);
        const st = await t.status();
        assert.ok(!st.peers.some((p) => p.node === r.node && p.connected), `${t.node} shows ${r.node} connected`);
      }
      assert.deepEqual(await rogue.vv(), rogueVv, 'the rogue received nothing from the honest store');
      assert.deepEqual(rogue.events(0, { component: 'peer', event: 'link_up' }), [], 'the rogue never had a link up');
      assert.equal(rogue.running, true, 'the rogue itself keeps running');
      for (const [i, t] of honest.entries()) {
        const refused = await t.http.metric('kassa_peer_links_refused_total');
        assert.ok(refused >= refused0[i] + 2, `${t.node}: kassa_peer_links_refused_total ${refused0[i]} -> ${refused}`);
      }
    } finally {
      await rogue.kill();
    }
    await assertHonestHealthy(honest[ri % honest.length]);
  }));
}

test('kassad refuses to start with a readable key, another node\'s certificate, or a node outside its roster', () => mesh.guard(async () => {
  const cert = await mesh.issue(ca.real, 'S1', 'T6');
  const other = await mesh.issue(ca.real, 'S1', 'T7');
  const [port] = await mesh.allocPorts(1);
  const t = await mesh.terminal({
    node: 'T6',
    peer: { listen: `127.0.0.1:${port}`, cert_dir: cert, roster: 'T1 T6' },
  });
  const key = path.join(cert, 'device.key');
  const cases = [
    { what: 'device.key mode 0644', prep: () => fs.chmodSync(key, 0o644), want: /device\.key.*(readable|others).*0644/ },
    { what: 'device.key mode 0640', prep: () => fs.chmodSync(key, 0o640), want: /device\.key.*0640/ },
    { what: 'the certificate of T7', prep: () => { fs.chmodSync(key, 0o600); t.peer.cert_dir = other; }, want: /store S1 node T7.*store S1 node T6/ },
    { what: 'T6 not in its roster', prep: () => { t.peer.cert_dir = cert; t.peer.roster = 'T1 T2'; }, want: /\(T6\) is not in the roster/ },
  ];
  for (const c of cases) {
    c.prep();
    const r = await t.start({ expectFailure: true });
    assert.equal(r.code, 1, `${c.what}: exit code (log: ${r.log})`);
    const failed = r.events.filter((e) => e.event === 'start_failed');
    assert.equal(failed.length, 1, `${c.what}: one start_failed line (log: ${r.log})`);
    assert.match(failed[0].error, c.want, `${c.what}: reason`);
    assert.equal(r.events.filter((e) => e.event === 'start').length, 0, `${c.what}: never started`);
  }
  // With everything right it starts (the checks above were the only problem).
  t.peer.roster = 'T1 T6';
  await t.start();
  await t.kill();
}));

// A client with a valid certificate of the store (T5, in the roster) that
// misbehaves on the wire. helloFirst: it sends a correct Hello first, so
// the link is up when the bad bytes come.
const RAW = [
  { what: 'garbage (an HTTP request)', bytes: Buffer.from('GET / HTTP/1.1\r\nHost: kassa\r\n\r\n'), reason: /^frame of 1195725856 bytes exceeds the maximum of 1048576$/ },
  { what: 'a frame of unknown type', bytes: Buffer.from([0, 0, 0, 3, 0x7f, 1, 2, 3]), reason: /^frame of unknown type 127$/ },
  { what: 'an oversized frame header (1 MiB + 1)', bytes: Buffer.from([0x00, 0x10, 0x00, 0x01, 2]), reason: /^frame of 1048577 bytes exceeds the maximum of 1048576$/ },
  { what: 'an Ack before its Hello', bytes: frame(3), reason: /before Hello/ },
  { what: 'an undecodable Hello', bytes: frame(1, [0xff, 0xff, 0xff]), reason: /^hello: undecodable/ },
  { what: 'a Hello naming another node', bytes: frame(1, helloPayload('S1', 'T2')), reason: /Hello names node T2, its certificate T5/ },
  { what: 'a Hello naming another store', bytes: frame(1, helloPayload('S2', 'T5')), reason: /Hello names store S2, ours is S1/ },
  { what: 'a Hello of another protocol version', bytes: frame(1, helloPayload('S1', 'T5', 9)), reason: /protocol version 9/ },
  { what: 'a truncated frame, then close', bytes: frame(1, helloPayload('S1', 'T5')).subarray(0, 8), end: true, reason: /^closed by the peer/ },
  { what: 'after its Hello: an oversized frame header', helloFirst: true, bytes: Buffer.from([0x7f, 0xff, 0xff, 0xff, 2]), reason: /exceeds the maximum of 1048576$/ },
  { what: 'after its Hello: an ops batch that is not zstd', helloFirst: true, bytes: frame(2, Buffer.from('not compressed at all')), reason: /^ops batch: / },
  { what: 'after its Hello: a truncated ops batch, then close', helloFirst: true, bytes: frame(2, Buffer.alloc(600, 7)).subarray(0, 300), end: true, reason: /^closed by the peer/ },
];

test('a client with a valid certificate sending bad frames only gets its link closed, with the reason logged', () => mesh.guard(async () => {
  for (const [k, c] of RAW.entries()) {
    const t = honest[k % honest.length];
    const mark = t.logMark();
    const client = await tlsClient(t.peerPort, t5cert);
    assert.ok(client.secure, `${c.what}: TLS with a valid certificate: ${client.error?.message}`);
    const first = await client.firstFrame();
    assert.equal(first.type, 1, `${c.what}: ${t.node} speaks first with its Hello`);
    if (c.helloFirst) {
      client.sock.write(frame(1, helloPayload('S1', 'T5')));
      await waitFor(`${t.node}: link_up of T5`, () => t.events(mark, { event: 'link_up', node: 'T5' }).length === 1, { timeoutMs: 3000 });
      const st = await t.status();
      assert.equal(st.peers.find((p) => p.node === 'T5').connected, true, 'T5 shown connected');
    }
    client.sock.write(c.bytes);
    if (c.end) client.sock.end();
    await client.waitClosed(5000).catch((e) => { throw new Error(`${c.what}: ${e.message}`); });
    const ev = await waitFor(`${t.node} logging why T5's link closed`, () =>
      t.events(mark, { component: 'peer', event: c.helloFirst ? 'link_down' : 'link_failed', node: 'T5', direction: 'in' })[0], { timeoutMs: 3000 });
    assert.match(ev.reason, c.reason, `${c.what}: reason logged by ${t.node}`);
    if (c.helloFirst) {
      const st = await t.status();
      const p = st.peers.find((x) => x.node === 'T5');
      assert.equal(p.connected, false, `${c.what}: T5 no longer connected`);
      assert.match(p.last_error, c.reason, `${c.what}: T5's last_error in the status`);
    }
    assert.equal(t.running, true, `${t.node} still running after ${c.what}`);
  }
  // T5 never applied anything anywhere, and the store still works.
  for (const t of honest) assert.equal((await t.vv()).T5, undefined);
  await assertHonestHealthy(honest[1]);
}));

test('SIGHUP with a new CRL closes the links of a revoked terminal at once; its next handshakes are refused', () => mesh.guard(async () => {
  const cert = await mesh.issue(ca.real, 'S1', 'T8');
  // T8 listens where the rogues did: the honest terminals dial it too.
  const t8 = await mesh.terminal({
    node: 'T8',
    peer: {
      listen: rogueAddr,
      cert_dir: cert,
      roster: ROSTER,
      peers: honest.map((t) => t.peerAddr),
      anti_entropy_ms: ANTI_ENTROPY_MS,
      reconnect_min_ms: 100,
      reconnect_max_ms: 400,
    },
  });
  await t8.start();
  try {
    await waitLinked(t8, HONEST);
    for (const t of honest) await waitLinked(t, ['T8']);
    await waitConverged([...honest, t8], 'T8 received the store', { timeoutMs: 10000 });
    const before = await t8.sell([{ sku: 'MLK-1L', qty: 2 }]);
    await waitConverged([...honest, t8], 'T8\'s sale replicated', { timeoutMs: 10000 });
    const seqAtRevoke = (await honest[0].vv()).T8;
    assert.ok(seqAtRevoke >= 1, `the honest terminals hold T8's sale ${before.id}`);

    assert.match(await kassaBare('ca', 'revoke', '--dir', ca.real, '--store', 'S1', '--node', 'T8'), /revoked 1 certificate/);
    const marks = honest.map((t) => t.logMark());
    for (const t of honest) {
      fs.copyFileSync(path.join(ca.real, 'crl.pem'), path.join(honestCert[t.node], 'crl.pem'));
      process.kill(t.pid, 'SIGHUP');
    }
    for (const [i, t] of honest.entries()) {
      const reload = await waitFor(`${t.node}: crl_reloaded`, () => t.events(marks[i], { component: 'peer', event: 'crl_reloaded' })[0], { timeoutMs: 3000 });
      assert.ok(reload.links_closed >= 1, `${t.node} closed its link with T8 on reload: ${JSON.stringify(reload)}`);
      const down = t.events(marks[i], { component: 'peer', event: 'link_down', node: 'T8' });
      assert.ok(down.length >= 1 && down.every((e) => /^certificate no longer accepted: revoked/.test(e.reason)), `${t.node}: ${JSON.stringify(down)}`);
      await waitUnlinked(t, ['T8'], { timeoutMs: 3000 });
      // The status says why T8 is out: the reload's closing, or (once T8
      // has dialled again) the refused handshake, both naming the revocation.
      const p = (await t.status()).peers.find((x) => x.node === 'T8');
      assert.match(p.last_error, /^(certificate no longer accepted|refused its certificate): revoked/);
    }
    // T8 goes on dialling and being dialled: every handshake is refused now.
    for (const [i, t] of honest.entries()) {
      await waitFor(`${t.node} refusing T8's handshakes (revoked)`, () =>
        t.events(marks[i], { component: 'peer', event: 'link_refused', claimed: 'S1/T8', reason: /^refused its certificate: revoked/ }).length >= 2,
      { timeoutMs: 5000 });
    }
    const after = await t8.sell([{ sku: 'MLK-1L', qty: 1 }]);
    await sleep(5 * ANTI_ENTROPY_MS);
    for (const [i, t] of honest.entries()) {
      assert.equal((await t.vv()).T8, seqAtRevoke, `${t.node} took nothing from T8 after the revocation`);
      assert.ok(!(await t.saleIds()).includes(after.id));
      assert.deepEqual(t.events(marks[i], { component: 'peer', event: 'link_up', node: 'T8' }), [], `${t.node}: no link with T8 came up again`);
    }

    // A CRL that does not load: a warning, and the old one stays in force.
    const t1 = honest[0];
    const mark = t1.logMark();
    const crlFile = path.join(honestCert.T1, 'crl.pem');
    const good = fs.readFileSync(crlFile);
    fs.writeFileSync(crlFile, 'not a CRL\n');
    process.kill(t1.pid, 'SIGHUP');
    await waitFor('T1: crl_reload_failed', () => t1.events(mark, { component: 'peer', event: 'crl_reload_failed' }).length === 1, { timeoutMs: 3000 });
    await waitFor('T1 still refusing T8 (revoked) with the old CRL', () =>
      t1.events(mark, { component: 'peer', event: 'link_refused', claimed: 'S1/T8', reason: /revoked/ }).length >= 1, { timeoutMs: 5000 });
    assert.deepEqual(t1.events(mark, { component: 'peer', event: 'link_up', node: 'T8' }), []);
    fs.writeFileSync(crlFile, good);
  } finally {
    await t8.kill();
  }
  await assertHonestHealthy(honest[2]);
}));

test('a roster member cannot inject operations under the name of a terminal the receiver is linked with', async (t) => mesh.guard(async () => {
  const [t1, t2] = honest;
  await t2.sell([{ sku: 'BAG-CL', qty: 1 }]);
  await waitConverged(honest, 'T2\'s sale everywhere', { timeoutMs: 5000 });
  const k = (await t2.vv()).T2;

  // A copy of the store's log under T2's name, and one more sale on it:
  // T2/k+1, a valid continuation of T2's hash chain that T2 never made.
  const dir = path.join(mesh.tmp, 'forge');
  fs.mkdirSync(dir);
  const all = path.join(dir, 'all.ops');
  fs.writeFileSync(all, await kassaBuffer(t2.dataDir, 'export'));
  const fakeT2 = path.join(dir, 'fake-t2');
  const fakeT5 = path.join(dir, 'fake-t5');
  for (const [d, node] of [[fakeT2, 'T2'], [fakeT5, 'T5']]) {
    await kassaBuffer(d, 'init', '--store', 'S1', '--node', node);
    await kassaBuffer(d, 'import', all);
    await kassaBuffer(d, 'sale', '--line', 'BAG-CL:5', '--pay', 'cash:100.00');
  }
  const vvFile = path.join(dir, 'store.vv');
  fs.writeFileSync(vvFile, await t2.cli('vv'));
  const forged = parseExport(await kassaBuffer(fakeT2, 'export', '--since', vvFile)).ops;
  const own = parseExport(await kassaBuffer(fakeT5, 'export', '--since', vvFile)).ops;
  assert.deepEqual(forged.map((o) => `${o.origin}/${o.seq}`), [`T2/${k + 1}`]);
  assert.deepEqual(own.map((o) => `${o.origin}/${o.seq}`), ['T5/1']);
  const batch = await zstdFrame(opsBatchMessage([...forged, ...own]), dir);

  const mark = t1.logMark();
  const client = await tlsClient(t1.peerPort, t5cert);
  assert.ok(client.secure);
  client.sock.write(frame(1, helloPayload('S1', 'T5')));
  await waitFor('T1: link_up of T5', () => t1.events(mark, { event: 'link_up', node: 'T5' }).length === 1, { timeoutMs: 3000 });
  client.sock.write(frame(2, batch));
  // T5's own operation is applied (so the batch was well formed)...
  await waitFor('T1 applying T5/1', async () => (await t1.vv()).T5 === 1, { timeoutMs: 3000 });
  // ...the one under T2's name is not, and the link stays up.
  assert.equal((await t1.vv()).T2, k, 'T1 took an operation of T2 from T5');
  assert.ok(!(await t1.saleIds()).includes(`T2-${k + 1}`));
  assert.equal((await t1.status()).peers.find((p) => p.node === 'T5').connected, true);
  client.sock.end();
  await client.waitClosed();

  // T2's real T2/k+1 is taken everywhere; it is not the forged sale.
  const real = await t2.sell([{ sku: 'MLK-1L', qty: 1 }]);
  assert.equal(real.id, `T2-${k + 1}`);
  await waitConverged(honest, 'T2\'s real sale everywhere', { timeoutMs: 5000 });
  for (const h of honest) {
    assert.deepEqual(await h.saleLines(real.id), [{ sku: 'MLK-1L', qty: 1 }], `${h.node}: lines of ${real.id}`);
    assert.equal((await h.vv()).T5, 1, `${h.node} holds T5's own operation`);
  }
  for (const h of honest) {
    const bad = h.events(mark, { component: 'peer', reason: /history altered/ });
    assert.deepEqual(bad, [], `${h.node}: no history conflict`);
  }
}));
