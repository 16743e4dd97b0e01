'use strict';
// The load generator, in its own process: node load.js '<json: {target, workload, ports, pids}>'.
// Prints one JSON line with the workload's measurements.
const connectors = require('./clients');
const { cpuMicros, memory, summarize, sleep, reportAndExit, ECHO_PAYLOAD } = require('./common');
const { wallMs } = require('./servers/drive');
const { threadCpuMicros } = require('./rooms/proc');

const { target, workload, ports, pids, redisPid } = JSON.parse(process.argv[2]);
const connect = connectors[target];

const cpuOf = () => pids.reduce((sum, pid) => sum + cpuMicros(pid), 0);
/** Redis's CPU time (µs, from its threads' schedstat: /proc/<pid>/stat's 10 ms ticks are too coarse for it), when the runner passed its pid. */
const redisCpu = () => (redisPid ? threadCpuMicros(redisPid) : NaN);
const peakRss = () => Math.max(...pids.map((pid) => memory(pid).peak));

async function inBatches(count, size, make) {
  const out = [];
  for (let i = 0; i < count; i += size) out.push(...(await Promise.all(Array.from({ length: Math.min(size, count - i) }, (_, j) => make(i + j)))));
  return out;
}

async function rpc() {
  const clients = await inBatches(50, 50, () => connect(ports[0], undefined, {}));
  const loop = async (durationMs, record) => {
    const end = Date.now() + durationMs;
    await Promise.all(
      clients.map(async (c) => {
        while (Date.now() < end) {
          const started = performance.now();
          await c.call('echo', ECHO_PAYLOAD);
          record(performance.now() - started);
        }
      }),
    );
  };
  await loop(500, () => undefined);
  const { latencies, seconds, cpu } = await measured(loop);
  await Promise.all(clients.map((c) => c.close()));
  return { throughput: latencies.length / seconds, unit: 'cmd/s', ...summarize(latencies), delivered: 1, cpuPerOp: cpu / latencies.length, peakRss: peakRss() };
}

async function fanout() {
  const RECEIVERS = 500;
  const COUNT = 200;
  let phase = 'idle';
  const seen = Array.from({ length: RECEIVERS }, () => new Uint8Array(COUNT));
  let deliveries = 0;
  let duplicates = 0;
  let lastDelivery = 0;
  const latencies = [];
  const receivers = await inBatches(RECEIVERS, 100, (i) =>
    connect(ports[i % 2], undefined, {
      tick: (tick) => {
        if (phase === 'idle') return;
        if (seen[i][tick.seq]++) duplicates++;
        deliveries++;
        lastDelivery = performance.now();
        if (phase === 'paced') latencies.push(wallMs() - tick.ts);
      },
    }),
  );
  await Promise.all(receivers.map((r) => r.call('join', {})));
  const sender = await connect(ports[0], undefined, {});
  const run = async (name, intervalMs) => {
    phase = name;
    deliveries = 0;
    duplicates = 0;
    for (const s of seen) s.fill(0);
    const cpu0 = cpuOf();
    const started = performance.now();
    await sender.call('fanout', { count: COUNT, intervalMs });
    const deadline = Date.now() + 10_000;
    while (deliveries < RECEIVERS * COUNT && Date.now() < deadline) await sleep(10);
    await sleep(200);
    const cpu = cpuOf() - cpu0;
    phase = 'idle';
    return { deliveries, duplicates, seconds: (lastDelivery - started) / 1000, cpu };
  };
  const paced = await run('paced', 10);
  const burst = await run('burst', 0);
  await Promise.all([...receivers, sender].map((c) => c.close()));
  const expected = RECEIVERS * COUNT;
  return {
    throughput: burst.deliveries / burst.seconds,
    unit: 'deliveries/s (burst)',
    ...summarize(latencies),
    delivered: Math.min(paced.deliveries, burst.deliveries) / expected,
    duplicates: paced.duplicates + burst.duplicates,
    cpuPerOp: burst.cpu / burst.deliveries,
    peakRss: peakRss(),
  };
}

async function invoke() {
  const answering = await inBatches(50, 50, (i) => connect(ports[1], `c${i}`, { notify: async (data) => ({ received: data }) }));
  const driver = await connect(ports[0], undefined, {});
  await sleep(200);
  const targets = answering.map((c) => c.id);
  await driver.call('invoke-drive', { targets, concurrency: 20, durationMs: 500, timeoutMs: 5000 });
  const cpu0 = cpuOf();
  const result = await driver.call('invoke-drive', { targets, concurrency: 20, durationMs: 5000, timeoutMs: 5000 });
  const cpu = cpuOf() - cpu0;
  await Promise.all([...answering, driver].map((c) => c.close()));
  return { throughput: result.ops / 5, unit: 'invokes/s', p50: result.p50, p99: result.p99, max: result.max, delivered: result.ops / (result.ops + result.errors), cpuPerOp: cpu / result.ops, peakRss: peakRss() };
}

/**
 * Client-driven invoke: 20 callers on node 1 send `invoke-client {target}` one after another; each
 * node-1 handler invokes `notify` on one of 50 clients of node 2 (round-robin) and replies with its
 * answer: caller -> node 1 -> node 2 -> client, and back the same way.
 */
async function invokeClient() {
  const answering = await inBatches(50, 50, (i) => connect(ports[1], `c${i}`, { notify: async (data) => ({ received: data }) }));
  const callers = await inBatches(20, 20, () => connect(ports[0], undefined, {}));
  await sleep(200);
  const targets = answering.map((c) => c.id);
  let next = 0;
  let errors = 0;
  const loop = async (durationMs, record) => {
    const end = Date.now() + durationMs;
    await Promise.all(
      callers.map(async (c) => {
        while (Date.now() < end) {
          const target = targets[next++ % targets.length];
          const started = performance.now();
          const reply = await c.call('invoke-client', { target }).catch((error) => ({ error }));
          if (reply?.received?.n === 1) record(performance.now() - started);
          else errors++;
        }
      }),
    );
  };
  await loop(500, () => undefined);
  errors = 0;
  const { latencies, seconds, cpu } = await measured(loop);
  await Promise.all([...answering, ...callers].map((c) => c.close()));
  return {
    throughput: latencies.length / seconds,
    unit: 'invokes/s',
    ...summarize(latencies),
    delivered: latencies.length / (latencies.length + errors),
    cpuPerOp: cpu / latencies.length,
    peakRss: peakRss(),
  };
}

async function connections() {
  const COUNT = 5000;
  // A warm-up of 1,000 connections opened and closed, the same for every target: the connect
  // path is compiled and the young generation has grown to its working size, so what follows
  // measures what idle connections keep, not the heap's start-up growth (about 7 KB per
  // connection of a cold process, whatever the target).
  const warm = await inBatches(1000, 100, (i) => connect(ports[i % 2], undefined, {}));
  await inBatches(warm.length, 500, (i) => warm[i].close());
  await sleep(1000);
  const before = pids.reduce((sum, pid) => sum + memory(pid).rss, 0);
  const cpu0 = cpuOf();
  const started = performance.now();
  const clients = await inBatches(COUNT, 100, (i) => connect(ports[i % 2], undefined, {}));
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuOf() - cpu0;
  await sleep(1000);
  const after = pids.reduce((sum, pid) => sum + memory(pid).rss, 0);
  const result = { throughput: COUNT / seconds, unit: 'connects/s', p50: null, p99: null, max: null, delivered: clients.length / COUNT, cpuPerOp: cpu / COUNT, bytesPerConnection: (after - before) / COUNT, peakRss: peakRss() };
  await inBatches(clients.length, 500, (i) => clients[i].close());
  return result;
}

/** Subscribers per channel in the channel workloads (50 on each node). */
const CHANNEL_SUBSCRIBERS = 100;

/**
 * 100 subscribers, 50 per node, each subscribed to every channel of `names` (`checkReply` looks
 * at each subscribe reply), and a publisher on node 1. `run(phase, count, drive)` has node 1's
 * `publish-drive` send `count` messages (`drive`: its channel or channels and interval), waits
 * for every (subscriber, message) delivery, then a quiet 200 ms (a late duplicate would count),
 * and returns per channel the latency of every delivery, each message's first delivery by seq,
 * duplicates, and the CPU of the nodes, of Redis and of this process over the phase.
 */
async function channelSubscribers(names, checkReply) {
  let tag = 'idle';
  let seen = [];
  let deliveries = 0;
  let duplicates = 0;
  let lastDelivery = 0;
  let latencies = [];
  let first = new Float64Array(0);
  const subscribers = await inBatches(CHANNEL_SUBSCRIBERS, 50, (i) => connect(ports[i % 2], undefined, {}));
  await Promise.all(
    subscribers.flatMap((s, i) =>
      names.map(async (name, k) => {
        const reply = await s.subscribe(name, (text) => {
          const m = JSON.parse(text);
          if (m.tag !== tag) return;
          if (seen[i][m.seq]++) duplicates++;
          deliveries++;
          lastDelivery = performance.now();
          const ms = wallMs() - m.ts;
          latencies[k].push(ms);
          if (ms < first[m.seq]) first[m.seq] = ms;
        });
        if (!reply?.success) throw new Error(`subscribe ${name} refused`);
        checkReply(name, reply);
      }),
    ),
  );
  const publisher = await connect(ports[0], undefined, {});
  const run = async (phase, count, drive) => {
    tag = phase;
    seen = Array.from({ length: CHANNEL_SUBSCRIBERS }, () => new Uint8Array(count));
    deliveries = 0;
    duplicates = 0;
    latencies = names.map(() => []);
    first = new Float64Array(count).fill(Infinity);
    const cpu0 = cpuOf();
    const redis0 = redisCpu();
    const own0 = process.cpuUsage();
    const started = performance.now();
    const driven = await publisher.call('publish-drive', { ...drive, tag: phase, count });
    const deadline = Date.now() + 15_000;
    while (deliveries < CHANNEL_SUBSCRIBERS * count && Date.now() < deadline) await sleep(10);
    const seconds = (lastDelivery - started) / 1000;
    await sleep(200);
    const own = process.cpuUsage(own0);
    tag = 'idle';
    return { count, deliveries, duplicates, seconds, cpu: cpuOf() - cpu0, redisCpu: redisCpu() - redis0, loadCpu: own.user + own.system, latencies, first, ...driven };
  };
  const close = () => Promise.all([...subscribers, publisher].map((c) => c.close()));
  return { run, close };
}

/**
 * A channel with 100 subscribers, 50 on each node, and a publisher: `publish-drive` on node 1
 * (`mesh.publish` in a server-side loop, ~100-byte messages). Run on a plain channel and on a
 * recoverable one (`channel-recoverable`: size 1000, ttl 5 min), the same way:
 * - warm-up: 1,000 messages as fast as they go (fills the recoverable window, so the measured
 *   phases trim the stream as a busy channel does), not counted;
 * - paced: 200 messages/s for 5 s: latency = receive time − the publisher's time just before
 *   `publish` (same clock), and server CPU (both nodes, the publishing loop included) ÷ messages;
 * - burst: 2,000 messages, each published when the one before resolved: messages/s from the
 *   first publish to the last delivery, and server CPU ÷ messages.
 * Every (subscriber, seq) pair is counted, so losses and duplicates show in "delivered".
 */
async function channel(recoverable) {
  const RATE = 200;
  const PACED = RATE * 5;
  const BURST = 2000;
  const name = recoverable ? 'bench-recoverable' : 'bench-plain';
  const { run, close } = await channelSubscribers([name], (_name, reply) => {
    if (recoverable !== (typeof reply.epoch === 'string')) throw new Error(`${name}: the subscribe reply ${recoverable ? 'has no' : 'has an'} epoch`);
  });
  await run('warm', 1000, { channel: name, intervalMs: 0 });
  await sleep(300);
  const paced = await run('paced', PACED, { channel: name, intervalMs: 1000 / RATE });
  const burst = await run('burst', BURST, { channel: name, intervalMs: 0 });
  await close();
  const pacedFirst = paced.first.filter(Number.isFinite);
  return {
    throughput: burst.count / burst.seconds,
    unit: 'msg/s (burst)',
    ...summarize(paced.latencies[0]),
    delivered: Math.min(paced.deliveries / (CHANNEL_SUBSCRIBERS * PACED), burst.deliveries / (CHANNEL_SUBSCRIBERS * BURST)),
    duplicates: paced.duplicates + burst.duplicates,
    cpuPerOp: paced.cpu / PACED,
    burstCpuPerOp: burst.cpu / BURST,
    redisCpuPerOp: paced.redisCpu / PACED,
    burstRedisCpuPerOp: burst.redisCpu / BURST,
    loadCpuPerOp: paced.loadCpu / PACED,
    publishP50: paced.publishP50,
    publishP99: paced.publishP99,
    // The first subscriber to get each message: publish → Redis → node → socket, without the
    // wait behind the other 99 subscribers' frames that one load generator reads in turn.
    firstP50: summarize(pacedFirst).p50,
    firstP99: summarize(pacedFirst).p99,
    peakRss: peakRss(),
  };
}

/**
 * The plain and the recoverable channel side by side in one run (`channel-pair`): each of 100
 * subscribers (50 per node) subscribes to both, and `publish-drive` on node 1 alternates between
 * them (a b, b a, …), so both kinds of message meet the same machine, the same moment and the
 * same sockets; separate runs of `channel` and `channel-recoverable` differ by more than the
 * channels do on a busy 2-core machine. After a 1,000-message warm-up, 6,000 messages at 200/s
 * (3,000 each), latencies as in `channel`. Then CPU (server nodes, Redis) per message, from
 * blocks of 200 messages on one channel at a time, the channels alternating, 5 blocks each,
 * paced (200/s) and burst (each publish awaited). Every (channel, subscriber, seq) is counted.
 */
async function channelPair() {
  const RATE = 200;
  const PACED = 6000;
  const CPU_BLOCKS = 5;
  const CPU_BLOCK = 200;
  const names = ['bench-plain', 'bench-recoverable'];
  const { run, close } = await channelSubscribers(names, () => undefined);
  await run('warm', 1000, { channels: names, intervalMs: 0 });
  await sleep(300);
  const paced = await run('paced', PACED, { channels: names, intervalMs: 1000 / RATE });
  // CPU: blocks of one channel at a time, alternating (plain, recoverable, recoverable, plain, …),
  // paced (200 messages at 200/s) and burst (200 as fast as each publish resolves).
  const cpu = { paced: [0, 0], burst: [0, 0], redisPaced: [0, 0], redisBurst: [0, 0], messages: [0, 0] };
  let delivered = paced.deliveries / (CHANNEL_SUBSCRIBERS * PACED);
  let duplicates = paced.duplicates;
  for (let block = 0; block < CPU_BLOCKS * 2; block++) {
    const k = (block + Math.floor(block / 2)) % 2;
    for (const [phase, intervalMs] of [['paced', 1000 / RATE], ['burst', 0]]) {
      const measured = await run(`cpu-${phase}-${block}`, CPU_BLOCK, { channel: names[k], intervalMs });
      cpu[phase][k] += measured.cpu;
      cpu[phase === 'paced' ? 'redisPaced' : 'redisBurst'][k] += measured.redisCpu;
      delivered = Math.min(delivered, measured.deliveries / (CHANNEL_SUBSCRIBERS * CPU_BLOCK));
      duplicates += measured.duplicates;
    }
    cpu.messages[k] += CPU_BLOCK;
  }
  await close();
  const perMessage = (key, k) => cpu[key][k] / cpu.messages[k];
  // Message seq's channel, as publishDrive alternates: 0 plain, 1 recoverable.
  const kindOf = (seq) => (seq + Math.floor(seq / 2)) % 2;
  const firsts = [[], []];
  paced.first.forEach((ms, seq) => Number.isFinite(ms) && firsts[kindOf(seq)].push(ms));
  const [plain, rec] = [0, 1].map((k) => ({ all: summarize(paced.latencies[k]), first: summarize(firsts[k]), publish: paced.byChannel[names[k]] }));
  return {
    throughput: RATE,
    unit: 'msg/s (paced, both channels)',
    ...rec.all,
    delivered,
    duplicates,
    pairPlainP50: plain.all.p50,
    pairRecP50: rec.all.p50,
    pairPlainP99: plain.all.p99,
    pairRecP99: rec.all.p99,
    pairPlainFirstP50: plain.first.p50,
    pairRecFirstP50: rec.first.p50,
    pairPlainFirstP99: plain.first.p99,
    pairRecFirstP99: rec.first.p99,
    pairPlainPublishP50: plain.publish.p50,
    pairRecPublishP50: rec.publish.p50,
    pairPlainPublishP99: plain.publish.p99,
    pairRecPublishP99: rec.publish.p99,
    pairPlainCpuPaced: perMessage('paced', 0),
    pairRecCpuPaced: perMessage('paced', 1),
    pairPlainCpuBurst: perMessage('burst', 0),
    pairRecCpuBurst: perMessage('burst', 1),
    pairPlainRedisPaced: perMessage('redisPaced', 0),
    pairRecRedisPaced: perMessage('redisPaced', 1),
    pairPlainRedisBurst: perMessage('redisBurst', 0),
    pairRecRedisBurst: perMessage('redisBurst', 1),
    peakRss: peakRss(),
  };
}

/** The measured phase of a request loop: 5 s of `loop(ms, record)`, its latencies, wall time and server CPU. */
async function measured(loop) {
  const latencies = [];
  const cpu0 = cpuOf();
  const started = performance.now();
  await loop(5000, (ms) => latencies.push(ms));
  return { latencies, seconds: (performance.now() - started) / 1000, cpu: cpuOf() - cpu0 };
}

const workloads = { rpc, fanout, invoke, 'invoke-client': invokeClient, connections, channel: () => channel(false), 'channel-recoverable': () => channel(true), 'channel-pair': channelPair };
reportAndExit(workloads[workload]());
