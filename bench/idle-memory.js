'use strict';
// Memory per idle connection on one node, against the raw ws floor in the same run.
//   npm run build && node bench/idle-memory.js [--connections 10000] [--rounds 3]
//     [--targets nestjs-mesh,raw] [--warmup 500] [--snapshot <dir>] [--alloc-profile <dir>] [--cpu-profile <dir>]
//     [--spaces] [--no-gc]
// A private redis-server; per target and round, one server node in its own process (preloaded
// with idle-probe.js, run with --expose-gc) and a client process that opens the idle
// connections in batches of 100. Memory is read after a full GC, before and after connecting.
// With --snapshot the node writes heap snapshots before and after (summarise them with
// `node bench/heap-summary.js <before> <after> <connections>`).
const { spawn } = require('node:child_process');
const { join } = require('node:path');
const { mkdirSync } = require('node:fs');
const { cpuMicros, freePort, waitForPort, sleep, startRedis, stop, arg } = require('./common');

const SERVER = { 'nestjs-mesh': 'servers/mesh.js', 'nestjs-mesh-memory': 'servers/mesh.js', 'socket.io': 'servers/socketio.js', raw: 'servers/raw.js' };
// nestjs-mesh-memory: the same node without Redis (in-process state), which tells what the
// transport costs apart from the Redis round trips of a connect.
const CLIENT = { 'nestjs-mesh-memory': 'nestjs-mesh' };
const BATCH = 100;
const STEP_TIMEOUT_MS = 120_000;
// --no-gc: no forced GC at all, as `npm run bench` measures (with --warmup 0 and 2,500 connections,
// one of its two nodes); the readings then include garbage and the young generation's growth.
const noGc = process.argv.includes('--no-gc');

/** Request/reply over a child's IPC channel, bounded in time. */
function ipc(child) {
  let seq = 0;
  const waiting = new Map();
  child.on('message', (message) => {
    const done = waiting.get(message?.seq);
    if (done) {
      waiting.delete(message.seq);
      done(message);
    }
  });
  return (request, timeoutMs = STEP_TIMEOUT_MS) =>
    new Promise((resolve, reject) => {
      const id = ++seq;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error(`no answer to ${request.op} within ${timeoutMs} ms`));
      }, timeoutMs);
      waiting.set(id, (message) => {
        clearTimeout(timer);
        if (message.error) reject(new Error(message.error));
        else resolve(message);
      });
      child.send({ seq: id, ...request });
    });
}

function startServer(target, port, redisUrl, keyPrefix) {
  const child = spawn(process.execPath, ['--expose-gc', '-r', join(__dirname, 'idle-probe.js'), join(__dirname, SERVER[target])], {
    env: { ...process.env, PORT: String(port), REDIS_URL: target === 'nestjs-mesh-memory' ? '' : redisUrl, KEY_PREFIX: keyPrefix },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return { child, ask: ipc(child) };
}

function startClients(target, port) {
  const child = spawn(process.execPath, [__filename, '--client', JSON.stringify({ target, port })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return { child, ask: ipc(child) };
}

async function runOne(redisUrl, target, count, warmup, { snapshotDir, allocDir, cpuDir }, index) {
  const port = await freePort();
  const server = startServer(target, port, redisUrl, `idle${index}:`);
  const clients = startClients(target, port);
  try {
    await waitForPort(port);
    await sleep(300);
    // A warm-up round compiles the connect path and grows what grows once (maps, pools).
    if (warmup > 0) {
      await clients.ask({ op: 'open', count: warmup });
      await clients.ask({ op: 'close' });
      await sleep(500);
    }
    const before = await server.ask({ op: 'measure', gc: !noGc });
    if (snapshotDir) await server.ask({ op: 'snapshot', file: join(snapshotDir, `${target}-${index}-before.heapsnapshot`) });
    if (allocDir) await server.ask({ op: 'alloc-start' });
    if (cpuDir) await server.ask({ op: 'cpu-start' });
    const cpu0 = cpuMicros(server.child.pid);
    const opened = await clients.ask({ op: 'open', count });
    const cpu = cpuMicros(server.child.pid) - cpu0;
    if (cpuDir) await server.ask({ op: 'cpu-stop', file: join(cpuDir, `${target}-${index}.cpuprofile`) });
    if (allocDir) await server.ask({ op: 'alloc-stop', file: join(allocDir, `${target}-${index}.heapprofile`) });
    // As `npm run bench` reads it: 1 s after the last connect, garbage included.
    await sleep(1000);
    const settled = await server.ask({ op: 'measure', gc: false });
    const after = noGc ? settled : await server.ask({ op: 'measure' });
    if (snapshotDir) await server.ask({ op: 'snapshot', file: join(snapshotDir, `${target}-${index}-after.heapsnapshot`) });
    await clients.ask({ op: 'close' });
    const per = (key) => (after[key] - before[key]) / opened.connected;
    const spaces = Object.fromEntries(Object.keys(after.spaces).map((k) => [k, (after.spaces[k] - (before.spaces[k] ?? 0)) / opened.connected]));
    const spacesUsed = Object.fromEntries(Object.keys(after.spacesUsed).map((k) => [k, (after.spacesUsed[k] - (before.spacesUsed[k] ?? 0)) / opened.connected]));
    return {
      target,
      connected: opened.connected,
      rssNoGc: (settled.rss - before.rss) / opened.connected,
      rss: per('rss'),
      heapTotal: per('heapTotal'),
      heap: per('heapUsed'),
      external: per('external'),
      spaces,
      spacesUsed,
      connectsPerSecond: opened.connected / opened.seconds,
      cpuPerConnect: cpu / opened.connected,
    };
  } finally {
    clients.child.kill('SIGKILL');
    await stop(server.child);
  }
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function main() {
  const count = Number(arg('connections') ?? 10_000);
  const rounds = Number(arg('rounds') ?? 1);
  const warmup = Number(arg('warmup') ?? 500);
  const targets = (arg('targets') ?? 'nestjs-mesh,raw').split(',');
  const snapshotDir = arg('snapshot');
  const allocDir = arg('alloc-profile');
  const cpuDir = arg('cpu-profile');
  for (const t of targets) if (!SERVER[t]) throw new Error(`unknown target ${t} (${Object.keys(SERVER).join(', ')})`);
  if (!Number.isInteger(count) || count < BATCH) throw new Error(`--connections must be an integer of at least ${BATCH}`);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 9) throw new Error('--rounds must be an integer from 1 to 9');
  for (const dir of [snapshotDir, allocDir, cpuDir]) if (dir) mkdirSync(dir, { recursive: true });
  const redis = await startRedis();
  const results = new Map(targets.map((t) => [t, []]));
  let index = 0;
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const target of targets) {
        process.stderr.write(`round ${round}/${rounds}: ${count} idle connections on ${target}...\n`);
        results.get(target).push(await runOne(redis.url, target, count, warmup, { snapshotDir, allocDir, cpuDir }, index++));
      }
    }
  } finally {
    redis.child.kill('SIGKILL');
  }
  const fmt = (v, digits = 0) => Number(v).toFixed(digits);
  console.log(`${count} idle connections on one node, ${rounds} round(s), medians; bytes are growth after a full GC ÷ connections.\n`);
  console.log('| target | RSS bytes/conn, 1 s after (no GC) | RSS bytes/conn | heap committed bytes/conn | heap used bytes/conn | external bytes/conn | connects/s | server CPU µs/connect |');
  console.log('|---|---|---|---|---|---|---|---|');
  const rows = new Map();
  for (const [target, runs] of results) {
    const row = Object.fromEntries(['rssNoGc', 'rss', 'heapTotal', 'heap', 'external', 'connectsPerSecond', 'cpuPerConnect'].map((k) => [k, median(runs.map((r) => r[k]))]));
    rows.set(target, row);
    console.log(`| ${target} | ${fmt(row.rssNoGc)} | ${fmt(row.rss)} | ${fmt(row.heapTotal)} | ${fmt(row.heap)} | ${fmt(row.external)} | ${fmt(row.connectsPerSecond)} | ${fmt(row.cpuPerConnect, 1)} |`);
  }
  if (process.argv.includes('--spaces')) {
    console.log('\nBytes/conn per V8 space, committed / used (median; spaces that did not move left out):');
    for (const [target, runs] of results) {
      const names = Object.keys(runs[0].spaces).filter((n) => runs.some((r) => r.spaces[n] || r.spacesUsed[n]));
      console.log(`- ${target}: ${names.map((n) => `${n} ${fmt(median(runs.map((r) => r.spaces[n])))} / ${fmt(median(runs.map((r) => r.spacesUsed[n])))}`).join(', ')}`);
    }
  }
  const mesh = rows.get('nestjs-mesh');
  const raw = rows.get('raw');
  if (mesh && raw) console.log(`\nnestjs-mesh ÷ raw: RSS ${fmt(mesh.rss / raw.rss, 2)}, heap ${fmt(mesh.heap / raw.heap, 2)}, CPU per connect ${fmt(mesh.cpuPerConnect / raw.cpuPerConnect, 2)}`);
}

/** The client process: opens and closes idle connections when the runner asks. */
function clientMain(spec) {
  const connect = require('./clients')[CLIENT[spec.target] ?? spec.target];
  let open = [];
  process.on('message', async (request) => {
    try {
      if (request.op === 'open') {
        const started = performance.now();
        for (let i = 0; i < request.count; i += BATCH) {
          const batch = Array.from({ length: Math.min(BATCH, request.count - i) }, () => connect(spec.port, undefined, {}));
          open.push(...(await Promise.all(batch)));
        }
        process.send({ seq: request.seq, connected: open.length, seconds: (performance.now() - started) / 1000 });
      } else if (request.op === 'close') {
        const closing = open;
        open = [];
        for (let i = 0; i < closing.length; i += 500) await Promise.all(closing.slice(i, i + 500).map((c) => c.close()));
        process.send({ seq: request.seq });
      }
    } catch (error) {
      process.send({ seq: request.seq, error: error.message });
    }
  });
  process.on('disconnect', () => process.exit(0));
}

if (arg('client')) clientMain(JSON.parse(arg('client')));
else
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
