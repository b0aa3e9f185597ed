// One Yjs replica of the catch-up benchmark, run as a child process of
// bench/yjs_sync.mjs (one Node process per replica, like one kassad per
// terminal). It is driven over the fork IPC channel:
//
//   child  -> parent  {type:'ready', port, clientID}
//   parent -> child   {cmd:'sales', n, skus}
//   child  -> parent  {type:'sales-done', endMs}
//   parent -> child   {cmd:'connect', peerPorts, replicas, expectedSales}
//   child  -> parent  {type:'round', round, converged, convergedAtMs}
//   parent -> child   {cmd:'round', round}          (only if not converged)
//   parent -> child   {cmd:'finish'}
//   child  -> parent  {type:'stats', ...}
//
// Wire protocol between replicas (loopback TCP), each frame is
//   u32 big-endian payload length | u8 type | payload
// type 1 = state vector (Y.encodeStateVector), type 2 = update
// (Y.encodeStateAsUpdate(doc, peerStateVector)). Each side of a link sends
// its state vector when the link comes up (and again at the start of every
// further round); it answers every state vector with one update.
//
// Timestamps are process.hrtime in ms: on Linux that is CLOCK_MONOTONIC,
// which is one clock for every process on the machine, so the parent can
// compare them with its own start time.

import net from 'node:net';
import * as Y from 'yjs';

const FRAME_HEADER = 5;
const T_STATE_VECTOR = 1;
const T_UPDATE = 2;

const index = Number(process.argv[2]);
if (!Number.isInteger(index) || index < 0 || !process.send) {
  console.error('yjs_replica.mjs is started by bench/yjs_sync.mjs, not by hand');
  process.exit(2);
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

// Small seeded PRNG so every run makes the same sales (and the kassa side can
// be given the same SKU sequence if it wants to).
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// A fixed price per SKU, so sale records are not all alike.
const priceCents = (sku) => 100 + ((sku * 7919) % 9900);

const doc = new Y.Doc();
// Yjs picks a random 32-bit clientID. Keep one of the same size (it is
// written into every item and into every counter key, so its size shows in
// the byte count) but derive it from the replica index so runs repeat.
doc.clientID = (Math.floor(mulberry32(0x5eed0000 + index)() * 0xffffffff) >>> 0) || 1;
const stock = doc.getMap('stock'); // `${sku}/${clientID}` -> this replica's count (G-counter part)
const sales = doc.getArray('sales'); // one small record per sale

let expectedSales = 0; // replicas * N, set on 'connect'
let convergedAtMs = null;
let updatesReceived = 0; // over all links and rounds
let round = 0; // current round; round r ends once (replicas - 1) * r updates arrived
let reportedRound = 0;
let linkCount = 0; // links this replica will have: replicas - 1
const links = [];

function send(msg, done) {
  process.send(msg, done);
}

// ---- local sales, while disconnected -------------------------------------

function makeSales(n, skus) {
  const rand = mulberry32(index + 1);
  const counts = new Uint32Array(skus);
  const BATCH = 1000; // sales per doc.transact: amortises Yjs's per-transaction cleanup
  for (let start = 0; start < n; start += BATCH) {
    const end = Math.min(n, start + BATCH);
    doc.transact(() => {
      for (let i = start; i < end; i++) {
        const sku = Math.floor(rand() * skus);
        counts[sku] += 1;
        // Each sale is its own counter write and its own record, as a till
        // would do it; no coalescing of a batch into fewer map writes.
        stock.set(`${sku}/${doc.clientID}`, counts[sku]);
        // insert at the end rather than push(): in yjs 13.6 push() walks the
        // item list from the start on every call (it uses no search marker),
        // which is quadratic here because the records do not merge into one
        // item (a map write sits between every two of them). The items and
        // the bytes they encode to are the same either way.
        sales.insert(sales.length, [{ id: `${index}-${i}`, sku, qty: 1, cents: priceCents(sku) }]);
      }
    });
  }
  return counts;
}

// ---- convergence ----------------------------------------------------------

// Total per SKU: sum over every replica's own count for it.
function skuTotals(skus) {
  const totals = new Array(skus).fill(0);
  stock.forEach((value, key) => {
    totals[Number(key.slice(0, key.indexOf('/')))] += value;
  });
  return totals;
}

// Local view of convergence: every sale record and every counter increment
// is here. The parent then checks the per-SKU totals are the same everywhere.
function checkConverged() {
  if (convergedAtMs !== null) return;
  if (sales.length !== expectedSales) return;
  let sum = 0;
  stock.forEach((value) => {
    sum += value;
  });
  if (sum === expectedSales) convergedAtMs = nowMs();
}

function maybeEndRound() {
  if (round === 0 || reportedRound >= round) return;
  if (updatesReceived < linkCount * round) return;
  reportedRound = round;
  send({ type: 'round', round, converged: convergedAtMs !== null, convergedAtMs });
}

// ---- links ----------------------------------------------------------------

class Link {
  constructor(socket) {
    this.socket = socket;
    this.framedBytes = 0; // what we handed to socket.write, framing included
    this.chunks = [];
    this.buffered = 0;
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', (err) => {
      console.error(`replica ${index}: socket error: ${err.message}`);
      process.exit(1);
    });
  }

  write(type, payload) {
    const header = Buffer.allocUnsafe(FRAME_HEADER);
    header.writeUInt32BE(payload.byteLength, 0);
    header.writeUInt8(type, 4);
    this.socket.cork();
    this.socket.write(header);
    this.socket.write(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength));
    this.socket.uncork();
    this.framedBytes += FRAME_HEADER + payload.byteLength;
  }

  sendStateVector() {
    this.write(T_STATE_VECTOR, Y.encodeStateVector(doc));
  }

  // Updates run to megabytes: keep chunks in a list and join only once a
  // whole frame is there, instead of concatenating on every 64 KiB read.
  onData(chunk) {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.buffered < FRAME_HEADER) return;
      if (this.chunks[0].length < FRAME_HEADER) this.join();
      const len = this.chunks[0].readUInt32BE(0);
      if (this.buffered < FRAME_HEADER + len) return;
      this.join();
      const buf = this.chunks[0];
      const type = buf[4];
      const payload = buf.subarray(FRAME_HEADER, FRAME_HEADER + len);
      const rest = buf.subarray(FRAME_HEADER + len);
      this.chunks = rest.length ? [rest] : [];
      this.buffered = rest.length;
      this.onFrame(type, payload);
    }
  }

  join() {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.buffered)];
  }

  onFrame(type, payload) {
    if (type === T_STATE_VECTOR) {
      // Send the peer exactly what its state vector says it lacks. This may
      // include what we already got from a third replica; Yjs drops duplicates.
      this.write(T_UPDATE, Y.encodeStateAsUpdate(doc, payload));
    } else if (type === T_UPDATE) {
      Y.applyUpdate(doc, payload);
      updatesReceived += 1;
      checkConverged();
      maybeEndRound();
    } else {
      console.error(`replica ${index}: unknown frame type ${type}`);
      process.exit(1);
    }
  }
}

function addLink(socket) {
  const link = new Link(socket);
  links.push(link);
  link.sendStateVector(); // round 1 starts for this link as soon as it is up
}

const server = net.createServer({ noDelay: true }, (socket) => addLink(socket));
server.on('error', (err) => {
  console.error(`replica ${index}: server error: ${err.message}`);
  process.exit(1);
});

// ---- parent commands ------------------------------------------------------

process.on('message', (msg) => {
  switch (msg.cmd) {
    case 'sales': {
      const counts = makeSales(msg.n, msg.skus);
      send({ type: 'sales-done', endMs: nowMs(), counts: Array.from(counts) });
      break;
    }
    case 'connect': {
      expectedSales = msg.expectedSales;
      linkCount = msg.replicas - 1;
      round = 1;
      // Every pair connects once: the lower index dials the higher one.
      for (const port of msg.peerPorts) {
        const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
        socket.once('connect', () => addLink(socket));
        socket.on('error', (err) => {
          console.error(`replica ${index}: connect to ${port}: ${err.message}`);
          process.exit(1);
        });
      }
      break;
    }
    case 'round': {
      round = msg.round;
      for (const link of links) link.sendStateVector();
      break;
    }
    case 'finish': {
      let socketBytes = 0;
      let framedBytes = 0;
      for (const link of links) {
        socketBytes += link.socket.bytesWritten;
        framedBytes += link.framedBytes;
      }
      send({
        type: 'stats',
        clientID: doc.clientID,
        salesLength: sales.length,
        totals: skuTotals(msg.skus),
        socketBytes,
        framedBytes,
        maxRssKb: process.resourceUsage().maxRSS,
      }, () => {
        // Exit only once the stats are handed to the IPC channel.
        for (const link of links) link.socket.destroy();
        server.close();
        process.exit(0);
      });
      break;
    }
    default:
      console.error(`replica ${index}: unknown command ${JSON.stringify(msg)}`);
      process.exit(1);
  }
});

// The parent going away (crash, timeout kill) must not leave us running.
process.on('disconnect', () => process.exit(0));

server.listen(0, '127.0.0.1', () => {
  send({ type: 'ready', port: server.address().port, clientID: doc.clientID });
});
