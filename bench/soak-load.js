'use strict';
// One soak load generator (forked by bench/soak.js, which talks to it over IPC): holds its share
// of the MeshClient connections, sends each client's steady echo, and records every room
// broadcast each client receives, so that losses and duplicates are counted per (client, room, seq).
const { WebSocket } = require('ws');
const { monitorEventLoopDelay } = require('node:perf_hooks');
const { MeshClient, MeshTimeoutError, isErrorPayload } = require('../dist/client');
const { Histogram, ECHO_PAYLOAD } = require('./common');
const { wallMs } = require('./servers/drive');

/** The sequence numbers one client received in one room, as a growable bit set. */
class SeqSet {
  constructor() {
    this.bits = new Uint8Array(64);
    this.contiguous = 0; // every seq below this one has been received
  }

  /** False if `seq` was there already (a duplicate). */
  add(seq) {
    const byte = seq >> 3;
    if (byte >= this.bits.length) {
      const grown = new Uint8Array(Math.max(this.bits.length * 2, byte + 1));
      grown.set(this.bits);
      this.bits = grown;
    }
    const mask = 1 << (seq & 7);
    if (this.bits[byte] & mask) return false;
    this.bits[byte] |= mask;
    while (this.has(this.contiguous)) this.contiguous++;
    return true;
  }

  has(seq) {
    const byte = seq >> 3;
    return byte < this.bits.length && (this.bits[byte] & (1 << (seq & 7))) !== 0;
  }
}

const counters = { echoes: 0, commandErrors: 0, timeouts: 0, disconnects: 0, reconnects: 0, clientErrors: 0, strays: 0, duplicates: 0, deliveries: 0 };
let commandLatency = new Histogram();
let deliveryLatency = new Histogram();
const LOOP_RESOLUTION_MS = 10; // the event-loop monitor's readings include its timer period
const loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
loopDelay.enable();
const clients = []; // { client, rooms: Map<room, SeqSet>, index }
let closing = false;
let echoTimers = [];
let inFlight = 0;
let echoSeq = 0;
const firstErrors = {}; // the first error of each kind, as text, for the report

function note(kind, detail) {
  counters[kind]++;
  if (!(kind in firstErrors)) firstErrors[kind] = String(detail).slice(0, 300);
}

function onTick(entry, tick) {
  const seen = entry.rooms.get(tick?.room);
  if (!seen || !Number.isInteger(tick.seq)) return note('strays', `tick ${JSON.stringify(tick)} for client ${entry.index}`);
  if (!seen.add(tick.seq)) return note('duplicates', `client ${entry.index} ${tick.room} seq ${tick.seq}`);
  counters.deliveries++;
  deliveryLatency.record(wallMs() - tick.ts);
}

async function open(spec, options) {
  const url = `ws://127.0.0.1:${spec.port}/mesh`;
  const client = new MeshClient(url, { WebSocket, commandTimeoutMs: options.timeoutMs });
  const entry = { client, index: spec.index, rooms: new Map(spec.rooms.map((room) => [room, new SeqSet()])) };
  client.on('tick', (event) => onTick(entry, event.detail));
  client.on('disconnect', (event) => closing || note('disconnects', `client ${spec.index}: code ${event.detail.code} ${event.detail.reason}`));
  client.on('reconnect', () => closing || note('reconnects', `client ${spec.index}`));
  client.on('error', (event) => closing || note('clientErrors', `client ${spec.index}: ${event.detail?.message ?? event.detail}`));
  await client.connect();
  for (const room of spec.rooms) {
    const reply = await client.joinRoom(room);
    if (!reply.success) throw new Error(`client ${spec.index} could not join ${room}`);
  }
  return entry;
}

/** Opens the connections `batch` at a time; the first failure fails the whole start. */
async function start({ specs, batch, timeoutMs }) {
  for (let i = 0; i < specs.length; i += batch) {
    clients.push(...(await Promise.all(specs.slice(i, i + batch).map((spec) => open(spec, { timeoutMs })))));
  }
  return { connected: clients.length };
}

async function echo(entry) {
  const n = echoSeq++;
  const started = performance.now();
  inFlight++;
  try {
    const reply = await entry.client.command('echo', { ...ECHO_PAYLOAD, n });
    if (isErrorPayload(reply) || reply?.n !== n) note('commandErrors', `client ${entry.index}: ${JSON.stringify(reply).slice(0, 200)}`);
    else {
      counters.echoes++;
      commandLatency.record(performance.now() - started);
    }
  } catch (error) {
    if (closing) return;
    note(error instanceof MeshTimeoutError ? 'timeouts' : 'commandErrors', `client ${entry.index}: ${error.message}`);
  } finally {
    inFlight--;
  }
}

/** Each client echoes every `intervalMs`, its first one at its own offset so the rate is even. */
function go({ intervalMs, total }) {
  loopDelay.reset(); // the connects are not part of the soak
  for (const entry of clients) {
    const offset = (entry.index / total) * intervalMs;
    const first = setTimeout(() => {
      void echo(entry);
      echoTimers.push(setInterval(() => void echo(entry), intervalMs));
    }, offset);
    echoTimers.push(first);
  }
  return {};
}

/** Stops the echoes and waits for those in flight (each bounded by its command timeout). */
async function stopLoad({ deadlineMs }) {
  for (const timer of echoTimers) clearTimeout(timer); // clearTimeout clears intervals too
  echoTimers = [];
  const deadline = Date.now() + deadlineMs;
  while (inFlight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  return { inFlight };
}

/**
 * Counts, for every client and each of its rooms, the seqs below `due[room]` (the driver's
 * acknowledged broadcasts) that it has not received; `failed[room]` lists seqs whose broadcast
 * failed (already counted as errors by the driver), which are not expected.
 */
function countLost(due, failed) {
  let lost = 0;
  const examples = [];
  for (const entry of clients) {
    for (const [room, seen] of entry.rooms) {
      const skip = failed[room] ? new Set(failed[room]) : undefined;
      for (let seq = seen.contiguous; seq < (due[room] ?? 0); seq++) {
        if (seen.has(seq) || skip?.has(seq)) continue;
        lost++;
        if (examples.length < 5) examples.push(`client ${entry.index} (${entry.client.connectionId ?? 'offline'}) ${room} seq ${seq}`);
      }
    }
  }
  return { lost, examples };
}

/** The counters, and the latencies since the previous snapshot. */
function snapshot({ due, failed }) {
  const online = clients.filter((entry) => entry.client.status === 'online').length;
  const result = {
    online,
    counters: { ...counters },
    firstErrors,
    ...countLost(due, failed),
    commandLatency: commandLatency.toJSON(),
    deliveryLatency: deliveryLatency.toJSON(),
    loopMaxMs: loopDelay.max / 1e6 - LOOP_RESOLUTION_MS,
  };
  commandLatency = new Histogram();
  deliveryLatency = new Histogram();
  loopDelay.reset();
  return result;
}

/** After the load stopped: waits (bounded) until every acknowledged broadcast has arrived. */
async function drain({ due, failed, deadlineMs }) {
  const deadline = Date.now() + deadlineMs;
  while (countLost(due, failed).lost > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  return snapshot({ due, failed });
}

async function closeAll({ batch }) {
  closing = true;
  for (let i = 0; i < clients.length; i += batch) await Promise.all(clients.slice(i, i + batch).map((entry) => entry.client.close()));
  return {};
}

const handlers = { start, go, stopLoad, snapshot, drain, closeAll };

process.on('message', async ({ id, type, ...body }) => {
  try {
    process.send({ id, ok: true, result: await handlers[type](body) });
  } catch (error) {
    process.send({ id, ok: false, error: error.stack ?? String(error) });
  }
});
process.on('disconnect', () => process.exit(0)); // the soak runner went away
process.on('SIGTERM', () => process.exit(0)); // exit normally, so that --cpu-prof writes its profile
