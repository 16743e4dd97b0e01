'use strict';
// The load generator of bench/sharded.js for one target, in its own process:
// node bench/rooms/load.js '<json spec>'. Prints one JSON line with the measurements.
// Phases: connect, join (memory per room), warm-up, idle, busy (rooms publish at a fixed rate),
// idle again, churn (joins and leaves, Redis commands per operation); a cool-down before each
// idle window.
const connectors = require('../clients');
const { summarize, sleep, reportAndExit } = require('../common');
const { wallMs } = require('../servers/drive');
const { makeLayout } = require('./layout');
const { threadCpuMicros, bytesRead, connectionsTo, sliceSampler } = require('./proc');
const { sliceRates, compareToIdle, mean } = require('./like-idle');
const { RedisStats, diff } = require('./redis-stats');

const spec = JSON.parse(process.argv[2]);
const { ports, pids, redisPids, redisServers, options } = spec;
const connect = connectors[spec.client];
const layout = makeLayout({ nodes: ports.length, ...options });
const { idleNode, memberNodes } = layout;
const SETTLE_MS = 500; // lets fire-and-forget subscriptions and sockets' buffers settle
const DRAIN_MS = 3000;
const WARMUP_SECONDS = 2;
const COOL_DOWN_MS = 3000;
// A nestjs-mesh node collects garbage ~8 s after its last traffic (100-150 ms of CPU, by the
// timing V8's memory reducer); the first idle window starts after it, the warm-up being traffic.
const WARMUP_COOL_DOWN_MS = 10_000;
const SLICE_MS = 1000; // node 4's CPU is read in slices of this length
// A nestjs-mesh node spent ~100 ms of CPU some 8 s after it started; idle windows begin later.
const MIN_NODE_AGE_MS = 15_000;

async function inBatches(items, size, run) {
  const out = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(run))));
  return out;
}

// Deliveries of the busy phase, by (client, room, seq).
let counting = false;
const received = new Map();
let duplicates = 0;
let stray = 0;
const latencies = [];
function onTick(client, tick) {
  if (!counting) return;
  if (!client.rooms.has(tick.room)) return void stray++;
  const key = `${client.index}|${tick.room}|${tick.seq}`;
  if (received.has(key)) duplicates++;
  else latencies.push(wallMs() - tick.ts);
  received.set(key, (received.get(key) ?? 0) + 1);
}

const cpuOf = (list) => list.reduce((sum, pid) => sum + threadCpuMicros(pid), 0);
const nodeCpu = () => pids.map((pid) => threadCpuMicros(pid));

/** A diff without the background: the idle window's counts scaled to the diff's length. */
function minusBackground(d, background) {
  const scale = d.ms / background.ms;
  const calls = {};
  for (const name of new Set([...Object.keys(d.calls), ...Object.keys(background.calls)])) {
    calls[name] = (d.calls[name] ?? 0) - (background.calls[name] ?? 0) * scale;
  }
  const net = (key) => d[key] - background[key] * scale;
  return { calls, commands: net('commands'), publishes: net('publishes'), subscriptionChanges: net('subscriptionChanges'), netOut: net('netOut') };
}

function perOperation(d, background, count) {
  const clean = minusBackground(d, background);
  const calls = Object.entries(clean.calls)
    .map(([name, n]) => [name, n / count])
    .filter(([, n]) => Math.abs(n) >= 0.05)
    .sort((a, b) => b[1] - a[1]);
  return { count, commands: clean.commands / count, publishes: clean.publishes / count, subscriptionChanges: clean.subscriptionChanges / count, calls };
}

// SHARDED_TRACE=1: node 4's CPU slices of each window on stderr, to see its noise.
function trace(name, slices) {
  if (!process.env.SHARDED_TRACE) return;
  const ms = slices.reduce((a, x) => a + x.ms, 0);
  const age = ((Date.now() - ms - spec.serversStartedAt) / 1000).toFixed(1);
  process.stderr.write(`node 4 ${name} from ${age} s after start, ms CPU per ${SLICE_MS} ms: ${slices.map((x) => (x.cpu / 1000).toFixed(2)).join(' ')}\n`);
}

async function main() {
  const stats = new RedisStats(redisServers);
  const clients = layout.clients.map((c) => ({ ...c }));
  const sessions = await inBatches(clients, 50, (c) => connect(ports[c.node], undefined, { tick: (tick) => onTick(c, tick) }));
  const control = await Promise.all(ports.map((port) => connect(port, undefined, {})));
  const call = (client, command, payload) => sessions[client].call(command, payload);
  // Joins and leaves, each of which must answer true (a member added or removed).
  const membership = async (command, list, batch) => {
    const answers = await inBatches(list, batch, (j) => call(j.client, command, { room: j.room }));
    const refused = answers.filter((a) => a !== true).length;
    if (refused) throw new Error(`${refused} of ${list.length} ${command}s did not answer true`);
  };

  // Quiet rooms first: the idle node's own rooms are part of the baseline.
  await membership('join', layout.quiet.flatMap((room) => room.members.map((client) => ({ client, room: room.name }))), 100);
  await sleep(SETTLE_MS * 2);
  const memoryBefore = await stats.memory();
  const beforeJoins = await stats.snapshot();

  // Busy rooms: every membership of the layout.
  const joins = layout.rooms.flatMap((room) => room.members.map((client) => ({ client, room: room.name })));
  await membership('join', joins, 100);
  await sleep(SETTLE_MS);
  const afterJoins = await stats.snapshot();
  await sleep(SETTLE_MS * 2);
  const memoryWithRooms = await stats.memory();
  const pubsub = await stats.pubsub();
  const redisPorts = redisServers.map((s) => s.port);
  const subscriptionsOf = (node) =>
    connectionsTo(pids[node], redisPorts).reduce((sum, key) => {
      const c = pubsub.clients.get(key);
      return sum + (c ? c.sub + c.psub + c.ssub : 0);
    }, 0);

  // A window of `seconds` with nothing but the background (heartbeats, pings).
  const idleWindow = async () => {
    const cpu0 = nodeCpu();
    const sampler = sliceSampler(pids[idleNode], SLICE_MS);
    const read0 = bytesRead(pids[idleNode]);
    const s0 = await stats.snapshot();
    const t0 = performance.now();
    await sleep(options.seconds * 1000);
    const seconds = (performance.now() - t0) / 1000;
    const slices = sampler.stop();
    trace('idle', slices);
    const cpu = nodeCpu().map((v, i) => v - cpu0[i]);
    return { seconds, cpu, idleRates: sliceRates(slices), idleMean: cpu[idleNode] / seconds, idleReadPerSecond: (bytesRead(pids[idleNode]) - read0) / seconds, redis: diff(s0, await stats.snapshot()) };
  };

  // Each member node publishes to the rooms it is the publisher of, the rates adding up to
  // options.rate broadcasts/s, every room at the same rate.
  const perRoom = options.rate / layout.rooms.length;
  const drive = (seconds) =>
    Promise.all(
      memberNodes.map((node) => {
        const rooms = layout.rooms.filter((r) => r.publisherNode === node).map((r) => r.name);
        return control[node].call('drive', { rooms, ratePerSecond: perRoom * rooms.length, durationMs: seconds * 1000 });
      }),
    );

  // Warm-up (not counted): the delivery paths get compiled, and the nodes are past their
  // start-up work before the first idle window.
  await drive(WARMUP_SECONDS);
  await sleep(Math.max(WARMUP_COOL_DOWN_MS, spec.serversStartedAt + MIN_NODE_AGE_MS - Date.now()));

  const idle1 = await idleWindow();
  const background = idle1.redis;

  // Busy.
  const cpu0 = nodeCpu();
  const redisCpu0 = cpuOf(redisPids);
  const read0 = bytesRead(pids[idleNode]);
  const s0 = await stats.snapshot();
  counting = true;
  const sampler = sliceSampler(pids[idleNode], SLICE_MS);
  const t0 = performance.now();
  const drives = await drive(options.seconds);
  const driveSeconds = (performance.now() - t0) / 1000;
  const busySlices = sampler.stop();
  trace('busy', busySlices);
  const idleBusyCpu = threadCpuMicros(pids[idleNode]) - cpu0[idleNode];
  const idleBusyRead = bytesRead(pids[idleNode]) - read0;
  const sent = Object.assign({}, ...drives.map((d) => d.sent));
  const broadcasts = drives.reduce((sum, d) => sum + d.total, 0);
  const expected = layout.rooms.reduce((sum, r) => sum + (sent[r.name] ?? 0) * r.members.length, 0);
  const drainUntil = Date.now() + DRAIN_MS;
  while (received.size < expected && Date.now() < drainUntil) await sleep(10);
  const busySeconds = (performance.now() - t0) / 1000;
  const busyCpu = nodeCpu().map((v, i) => v - cpu0[i]);
  const redisCpu = cpuOf(redisPids) - redisCpu0;
  const busyRedis = minusBackground(diff(s0, await stats.snapshot()), background);
  counting = false;

  // The busy phase's aftermath (a node that received its traffic collects its garbage within
  // a second or two) belongs to neither window.
  await sleep(COOL_DOWN_MS);
  const idle2 = await idleWindow();

  // Churn: a batch of joins, then the same leaves, each measured on its own.
  const churn = {};
  for (const [kind, list] of Object.entries(layout.churn)) {
    const measure = async (command) => {
      const a = await stats.snapshot();
      await membership(command, list, 50);
      await sleep(SETTLE_MS);
      return perOperation(diff(a, await stats.snapshot()), background, list.length);
    };
    churn[kind] = { join: await measure('join'), leave: await measure('leave') };
  }

  await Promise.all([...sessions, ...control].map((s) => s.close()));
  stats.close();

  const memberCpu = memberNodes.reduce((sum, n) => sum + busyCpu[n], 0);
  const n4 = compareToIdle([...idle1.idleRates, ...idle2.idleRates], sliceRates(busySlices));
  return {
    rooms: layout.rooms.length,
    broadcasts,
    failedSends: drives.reduce((sum, d) => sum + d.failed, 0),
    driveSeconds,
    deliveriesPerSecond: received.size / driveSeconds,
    ...summarize(latencies),
    expected,
    delivered: expected ? received.size / expected : null,
    duplicates,
    stray,
    cpuPerDelivery: memberCpu / received.size,
    busySeconds,
    idleNode: {
      // µs of CPU per second, from 1-second slices without each window's busiest one
      idleBefore: mean(idle1.idleRates),
      idleAfter: mean(idle2.idleRates),
      ...n4,
      excessPerBroadcast: (n4.excess * driveSeconds) / broadcasts,
      // plain means over whole windows, every slice included
      means: { idleBefore: idle1.idleMean, busy: idleBusyCpu / driveSeconds, idleAfter: idle2.idleMean },
      readIdle: (idle1.idleReadPerSecond + idle2.idleReadPerSecond) / 2,
      readBusy: idleBusyRead / driveSeconds,
    },
    redisPerBroadcast: {
      publishes: busyRedis.publishes / broadcasts,
      commands: busyRedis.commands / broadcasts,
      outBytes: busyRedis.netOut / broadcasts,
      cpuMicros: redisCpu / broadcasts,
    },
    placement: perOperation(diff(beforeJoins, afterJoins), background, joins.length),
    churn,
    perRoom: {
      memoryBytes: (memoryWithRooms - memoryBefore) / layout.rooms.length,
      channels: pubsub.channels,
      shardChannels: pubsub.shardChannels,
      patterns: pubsub.patterns,
      subscriptionsByNode: pids.map((_, node) => subscriptionsOf(node)),
    },
    background: { commandsPerSecond: (background.commands / background.ms) * 1000 },
  };
}

const hardStop = setTimeout(() => {
  console.error('load generator overran its deadline');
  process.exit(2);
}, spec.deadlineMs);
hardStop.unref();

reportAndExit(main());
