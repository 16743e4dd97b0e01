'use strict';
// `npm run build && node bench/stream-memory.js [--messages 10000] [--channels 100] [--per-channel 2000] [--size 1000] [--rounds 3]`
// What a recoverable channel's window costs in Redis, against the plain channel history list at
// the same size. Each case runs on its own private redis-server (no persistence) and publishes
// ~100-byte messages (the `channel` workloads' messages) through the library's own broker, the
// calls `mesh.publish` makes:
// - recoverable: RedisBroker.appendToStream (stream-append.lua: the `<prefix>{ch:<channel>}:log`
//   stream, MAXLEN size, and the `<prefix>{ch:<channel>}:position` hash), ttl 5 min;
// - history list: RedisBroker.publishChannel(channel, message, size, ttl) (push-history.lua: the
//   `<prefix>history:<channel>` list, LTRIM to size), what `publish(..., { history: size })` does.
// Per case: one channel that got --messages publishes (MEMORY USAGE ... SAMPLES 0 of its keys),
// and --channels channels that got --per-channel publishes each (the growth of used_memory, and of
// used_memory − mem_clients_normal, each reading the median of 5, so key, expiry and allocator
// overhead count), both per 1,000 messages kept. Also what a publish costs Redis, over the single
// channel's publishes: its CPU (all threads, /proc schedstat) ÷ publishes, over the first ones
// (200 in flight) and over the last SEQUENTIAL (one at a time, each awaited: also the round trip
// as the publisher sees it, and INFO commandstats' µs per call of what ran; a script's own figure
// includes the commands it called, listed beside it). A third case, a plain publish without
// history, is the baseline for that (it keeps nothing).
const { Redis } = require('ioredis');
const { startRedis, stop, arg } = require('./common');
const { channelMessage, wallMs, CHANNEL_MESSAGE_BYTES } = require('./servers/drive');
const { RedisConnections } = require('../dist/lib/state/redis/redis-connections');
const { RedisBroker } = require('../dist/lib/state/broker/redis-broker');
const { threadCpuMicros } = require('./rooms/proc');

const MESSAGES = Number(arg('messages') ?? 10_000);
const CHANNELS = Number(arg('channels') ?? 100);
const PER_CHANNEL = Number(arg('per-channel') ?? 2000);
const SIZE = Number(arg('size') ?? 1000);
const ROUNDS = Number(arg('rounds') ?? 3);
const TTL = 5 * 60 * 1000;
const PREFIX = 'mem:';
const CONCURRENCY = 200;
const SEQUENTIAL = Math.min(2000, MESSAGES);

const CASES = {
  recoverable: {
    publish: (broker, channel, text) => broker.appendToStream({ kind: 'channel', name: channel }, text, { size: SIZE, ttl: TTL }),
    keys: (keys, channel) => [keys.channelLog(channel), keys.channelPosition(channel)],
    kept: (redis, keys, channel) => redis.xlen(keys.channelLog(channel)),
  },
  'history list': {
    publish: (broker, channel, text) => broker.publishChannel(channel, text, SIZE, TTL),
    keys: (keys, channel) => [keys.history(channel)],
    kept: (redis, keys, channel) => redis.llen(keys.history(channel)),
  },
  'plain, no history': {
    publish: (broker, channel, text) => broker.publishChannel(channel, text),
    keys: () => [],
    kept: async () => 0,
  },
};

/** INFO commandstats as `name usec_per_call×calls per publish`, this script's own reads left out. */
function commandStats(info, publishes) {
  const out = [];
  for (const match of info.matchAll(/^cmdstat_(\S+?):calls=(\d+),usec=\d+,usec_per_call=([\d.]+)/gm)) {
    const [, name, calls, perCall] = match;
    if (/^(info|config|memory|xlen|llen|del|client|hello|ping|select|script)/.test(name)) continue;
    const each = Number(calls) / publishes;
    out.push(`${name} ${Number(perCall).toFixed(2)}${Math.abs(each - 1) > 0.01 ? `×${each.toFixed(1)}` : ''}`);
  }
  return out.join(', ');
}

async function inBatches(total, size, fn) {
  for (let i = 0; i < total; i += size) await Promise.all(Array.from({ length: Math.min(size, total - i) }, (_, j) => fn(i + j)));
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** used_memory and used_memory − mem_clients_normal, each the median of 5 readings. */
async function usedMemory(redis) {
  const readings = [];
  for (let i = 0; i < 5; i++) {
    const info = await redis.info('memory');
    const field = (name) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)[1]);
    readings.push({ used: field('used_memory'), data: field('used_memory') - field('mem_clients_normal') });
  }
  return { used: median(readings.map((r) => r.used)), data: median(readings.map((r) => r.data)) };
}

/** One case on a fresh redis-server: the single busy channel, then the many channels. */
async function measure(name) {
  const { publish, keys: keysOf, kept } = CASES[name];
  const server = await startRedis();
  const admin = new Redis(server.url);
  const connections = new RedisConnections(server.url, PREFIX);
  try {
    await connections.connect();
    const broker = new RedisBroker(connections);
    const keys = connections.keys;
    let seq = 0;
    const message = () => channelMessage('m', { seq: seq++, ts: wallMs() });
    // Compile the scripts and warm the connections on a channel of its own, deleted after.
    await inBatches(100, 100, () => publish(broker, 'warm', message()));
    if (keysOf(keys, 'warm').length > 0) await admin.del(...keysOf(keys, 'warm'));

    const one = 'bench-one';
    const cpu0 = threadCpuMicros(server.child.pid);
    await inBatches(MESSAGES - SEQUENTIAL, CONCURRENCY, () => publish(broker, one, message()));
    const redisCpuPerPublish = (threadCpuMicros(server.child.pid) - cpu0) / (MESSAGES - SEQUENTIAL);
    await admin.config('RESETSTAT');
    const cpu1 = threadCpuMicros(server.child.pid);
    const trips = [];
    for (let i = 0; i < SEQUENTIAL; i++) {
      const started = performance.now();
      await publish(broker, one, message());
      trips.push(performance.now() - started);
    }
    const redisCpuPerSequential = (threadCpuMicros(server.child.pid) - cpu1) / SEQUENTIAL;
    const roundTripUs = median(trips) * 1000;
    const commands = commandStats(await admin.info('commandstats'), SEQUENTIAL);
    const oneKept = await kept(admin, keys, one);
    const oneBytes = (await Promise.all(keysOf(keys, one).map((key) => admin.memory('USAGE', key, 'SAMPLES', '0')))).map(Number);
    const perKept = (bytes, kept) => (kept > 0 ? (bytes / kept) * 1000 : NaN);

    const before = await usedMemory(admin);
    const channels = Array.from({ length: CHANNELS }, (_, i) => `bench-many-${i}`);
    await inBatches(CHANNELS * PER_CHANNEL, CONCURRENCY, (i) => publish(broker, channels[i % CHANNELS], message()));
    const after = await usedMemory(admin);
    let manyKept = 0;
    let manyUsage = 0;
    for (const channel of channels) {
      manyKept += await kept(admin, keys, channel);
      for (const key of keysOf(keys, channel)) manyUsage += Number(await admin.memory('USAGE', key, 'SAMPLES', '0'));
    }
    return {
      redisCpuPerPublish,
      redisCpuPerSequential,
      roundTripUs,
      commands,
      oneKept,
      oneKeyBytes: oneBytes,
      onePer1000: perKept(oneBytes.reduce((a, b) => a + b, 0), oneKept),
      manyKept,
      manyUsagePer1000: perKept(manyUsage, manyKept),
      manyUsedPer1000: perKept(after.used - before.used, manyKept),
      manyDataPer1000: perKept(after.data - before.data, manyKept),
    };
  } finally {
    await connections.stop();
    admin.disconnect();
    await stop(server.child);
  }
}

async function main() {
  const probe = await startRedis();
  const probeClient = new Redis(probe.url);
  const version = /redis_version:(\S+)/.exec(await probeClient.info('server'))[1];
  const config = Object.fromEntries(
    (await probeClient.config('GET', 'stream-node-max-*')).concat(await probeClient.config('GET', 'list-max-listpack-size'), await probeClient.config('GET', 'list-compress-depth')).reduce((pairs, v, i, all) => (i % 2 ? pairs : [...pairs, [v, all[i + 1]]]), []),
  );
  probeClient.disconnect();
  await stop(probe.child);

  const results = Object.fromEntries(Object.keys(CASES).map((name) => [name, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const name of Object.keys(CASES)) {
      process.stderr.write(`round ${round}/${ROUNDS}: ${name}...\n`);
      results[name].push(await measure(name));
    }
  }

  const fmt = (v, digits = 0) => (Number.isNaN(v) ? '–' : v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }));
  const cell = (rows, key, digits = 0) => {
    const values = rows.map((r) => r[key]);
    if (values.some(Number.isNaN)) return '–';
    const lo = Math.min(...values);
    const hi = Math.max(...values);
    return lo === hi ? fmt(lo, digits) : `${fmt(median(values), digits)} (${fmt(lo, digits)}–${fmt(hi, digits)})`;
  };
  console.log(
    `Redis ${version} (${Object.entries(config).map(([k, v]) => `${k} ${v}`).join(', ')}); ${CHANNEL_MESSAGE_BYTES}-byte messages, ` +
      `window ${SIZE} messages, ttl ${TTL / 60000} min; ${ROUNDS} round(s), each case on a fresh redis-server; median (lowest–highest).\n`,
  );
  console.log(
    `| bytes per 1,000 messages kept | one channel, ${fmt(MESSAGES)} published: MEMORY USAGE of its keys | ${CHANNELS} channels, ${fmt(PER_CHANNEL)} published each: MEMORY USAGE | used_memory growth | used_memory − mem_clients_normal growth |`,
  );
  console.log('|---|---|---|---|---|');
  for (const [name, rows] of Object.entries(results)) {
    if (rows[0].oneKeyBytes.length === 0) continue;
    const keysNote = name === 'recoverable' ? `log + position: ${rows[0].oneKeyBytes.map((v) => fmt(v)).join(' + ')}` : `list: ${fmt(rows[0].oneKeyBytes[0])}`;
    console.log(`| ${name} (${fmt(rows[0].oneKept)} kept; ${keysNote}) | ${cell(rows, 'onePer1000')} | ${cell(rows, 'manyUsagePer1000')} | ${cell(rows, 'manyUsedPer1000')} | ${cell(rows, 'manyDataPer1000')} |`);
  }
  console.log(
    `\n| what a publish costs Redis (one channel, no subscribers) | Redis CPU µs/publish, ${fmt(MESSAGES - SEQUENTIAL)} with ${CONCURRENCY} in flight | Redis CPU µs/publish, ${fmt(SEQUENTIAL)} one at a time | round trip µs (p50), one at a time | INFO commandstats µs per call (×calls per publish), one at a time |`,
  );
  console.log('|---|---|---|---|---|');
  for (const [name, rows] of Object.entries(results)) {
    console.log(`| ${name} | ${cell(rows, 'redisCpuPerPublish', 1)} | ${cell(rows, 'redisCpuPerSequential', 1)} | ${cell(rows, 'roundTripUs')} | ${rows[Math.floor(rows.length / 2)].commands} |`);
  }
  const ratio = (key) => median(results.recoverable.map((r) => r[key])) / median(results['history list'].map((r) => r[key]));
  console.log(`\nrecoverable ÷ history list: ${ratio('onePer1000').toFixed(2)}× (one channel, MEMORY USAGE), ${ratio('manyUsedPer1000').toFixed(2)}× (${CHANNELS} channels, used_memory)`);
  console.log(`per message kept: recoverable ${fmt(median(results.recoverable.map((r) => r.manyUsedPer1000)) / 1000)} B, history list ${fmt(median(results['history list'].map((r) => r.manyUsedPer1000)) / 1000)} B (used_memory, ${CHANNELS} channels; the message itself is ${CHANNEL_MESSAGE_BYTES} B)`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
