'use strict';
// `npm run bench` (all cells) or `npm run bench -- --target raw --workload rpc` (one cell; several targets or workloads comma-separated).
// Starts a private redis-server, then for each workload runs every target in turn: its server
// nodes in their own processes, the load generator in another, everything on loopback.
const { spawn } = require('node:child_process');
const { join } = require('node:path');
const os = require('node:os');
const { freePort, waitForPort, sleep, startRedis, stop, arg, loadResult } = require('./common');
const { corePlan, onCore } = require('./pinning');

const TARGETS = ['nestjs-mesh', 'socket.io', 'raw'];
const WORKLOADS = { rpc: 1, fanout: 2, invoke: 2, 'invoke-client': 2, connections: 2, channel: 2, 'channel-recoverable': 2, 'channel-pair': 2 };
/** Workloads only some targets implement (the others are skipped in a run of several targets). */
const ONLY = { channel: ['nestjs-mesh'], 'channel-recoverable': ['nestjs-mesh'], 'channel-pair': ['nestjs-mesh'] };
const supports = (target, workload) => !ONLY[workload] || ONLY[workload].includes(target);
const SERVER = { 'nestjs-mesh': 'servers/mesh.js', 'socket.io': 'servers/socketio.js', raw: 'servers/raw.js' };
const CELL_TIMEOUT_MS = 90_000;

// BENCH_PROF=<dir>: every server node and the load generator write a V8 CPU profile there.
const profFlags = () => (process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : []);

/** A node process running `file` on `cpu` (anywhere when undefined). */
function startNode(cpu, file, args, options) {
  const [command, argv] = onCore(cpu, process.execPath, [...profFlags(), join(__dirname, file), ...args]);
  return spawn(command, argv, options);
}

async function runCell(plan, redis, target, workload, index) {
  const ports = await Promise.all(Array.from({ length: WORKLOADS[workload] }, freePort));
  const keyPrefix = `bench${index}:`;
  const servers = ports.map((port) =>
    startNode(plan.cores?.servers, SERVER[target], [], { env: { ...process.env, PORT: String(port), REDIS_URL: redis.url, KEY_PREFIX: keyPrefix }, stdio: ['ignore', 'inherit', 'inherit'] }),
  );
  try {
    await Promise.all(ports.map((port) => waitForPort(port)));
    await sleep(300);
    // taskset execs the node binary (and redis-server), so these pids are the servers' own (load.js reads their /proc).
    const spec = JSON.stringify({ target, workload, ports, pids: servers.map((s) => s.pid), redisPid: redis.child.pid });
    return await loadResult(startNode(plan.cores?.load, 'load.js', [spec], { stdio: ['ignore', 'pipe', 'inherit'] }), CELL_TIMEOUT_MS);
  } finally {
    await Promise.all(servers.map(stop));
  }
}

const fmt = (value, digits = 0) => (value === null || value === undefined || Number.isNaN(value) ? '–' : Number(value).toFixed(digits));

function table(results) {
  const lines = [
    '| workload | target | throughput | p50 ms | p99 ms | max ms | delivered | server CPU µs/op | peak RSS MB | bytes/conn |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    if (r.error) {
      lines.push(`| ${r.workload} | ${r.target} | failed: ${r.error} | | | | | | | |`);
      continue;
    }
    const delivered = `${fmt(r.delivered * 100, 1)}%${r.duplicates ? ` (${r.duplicates} dup)` : ''}${r.failedRounds ? ` (${r.failedRounds} round(s) failed)` : ''}`;
    lines.push(
      `| ${r.workload} | ${r.target} | ${fmt(r.throughput)} ${r.unit} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${fmt(r.max, 2)} | ${delivered} | ${fmt(r.cpuPerOp, 1)} | ${fmt(r.peakRss / 2 ** 20)} | ${fmt(r.bytesPerConnection)} |`,
    );
  }
  return lines.join('\n');
}

function verdicts(results) {
  const get = (workload, target) => results.find((r) => r.workload === workload && r.target === target && !r.error);
  const ratio = (a, b) => (a && b ? a / b : NaN);
  const checks = [];
  const add = (label, value, ok) => {
    if (!Number.isNaN(value)) checks.push(`- ${label}: ${fmt(value, 2)} → ${ok(value) ? 'met' : 'MISSED'}`);
  };
  const m = (w) => get(w, 'nestjs-mesh');
  const s = (w) => get(w, 'socket.io');
  const f = (w) => get(w, 'raw');
  add('rpc CPU/cmd vs raw (≤ 1.05)', ratio(m('rpc')?.cpuPerOp, f('rpc')?.cpuPerOp), (v) => v <= 1.05);
  add('rpc CPU/cmd vs socket.io (< 1)', ratio(m('rpc')?.cpuPerOp, s('rpc')?.cpuPerOp), (v) => v < 1);
  add('fanout burst deliveries/s vs raw (≥ 0.9)', ratio(m('fanout')?.throughput, f('fanout')?.throughput), (v) => v >= 0.9);
  add('fanout burst deliveries/s vs socket.io (≥ 1)', ratio(m('fanout')?.throughput, s('fanout')?.throughput), (v) => v >= 1);
  add('fanout paced p99 vs socket.io (≤ 1)', ratio(m('fanout')?.p99, s('fanout')?.p99), (v) => v <= 1);
  add('invoke throughput vs socket.io (≥ 2)', ratio(m('invoke')?.throughput, s('invoke')?.throughput), (v) => v >= 2);
  add('invoke throughput vs raw (≥ 0.8)', ratio(m('invoke')?.throughput, f('invoke')?.throughput), (v) => v >= 0.8);
  add('invoke p99 vs socket.io (< 1)', ratio(m('invoke')?.p99, s('invoke')?.p99), (v) => v < 1);
  add('invoke-client throughput vs socket.io (≥ 2)', ratio(m('invoke-client')?.throughput, s('invoke-client')?.throughput), (v) => v >= 2);
  add('invoke-client throughput vs raw (≥ 0.9)', ratio(m('invoke-client')?.throughput, f('invoke-client')?.throughput), (v) => v >= 0.9);
  add('invoke-client p99 vs socket.io (< 1)', ratio(m('invoke-client')?.p99, s('invoke-client')?.p99), (v) => v < 1);
  add('connect rate vs raw (≥ 0.8)', ratio(m('connections')?.throughput, f('connections')?.throughput), (v) => v >= 0.8);
  add('memory per idle connection vs socket.io (≤ 1)', ratio(m('connections')?.bytesPerConnection, s('connections')?.bytesPerConnection), (v) => v <= 1);
  const exact = m('fanout');
  for (const w of ['channel', 'channel-recoverable', 'channel-pair']) {
    const r = m(w);
    if (r) checks.push(`- ${w} exactly once: ${r.delivered === 1 && !r.duplicates ? 'met' : 'MISSED'} (delivered ${fmt(r.delivered * 100, 1)}%, ${r.duplicates} duplicates)`);
  }
  if (exact) checks.push(`- fanout exactly once: ${exact.delivered === 1 && !exact.duplicates ? 'met' : 'MISSED'} (delivered ${fmt(exact.delivered * 100, 1)}%, ${exact.duplicates} duplicates)`);
  return checks.join('\n');
}

/** Issue #14: a recoverable channel against a plain one, for subscribers that never disconnect. */
function recoverableVsPlain(results) {
  const get = (workload) => results.find((r) => r.workload === workload && r.target === 'nestjs-mesh' && !r.error);
  const plain = get('channel');
  const rec = get('channel-recoverable');
  if (!plain || !rec) return undefined;
  const line = (label, key, digits = 1, unit = '') =>
    `- ${label}: ${fmt(plain[key], digits)}${unit} plain, ${fmt(rec[key], digits)}${unit} recoverable → ${fmt(rec[key] / plain[key], 2)}×`;
  return [
    line('paced p50', 'p50', 2, ' ms'),
    line('paced p99', 'p99', 2, ' ms'),
    line('paced p50 of the first delivery of each message', 'firstP50', 2, ' ms'),
    line('paced p99 of the first delivery of each message', 'firstP99', 2, ' ms'),
    line('server CPU per message, paced (both nodes)', 'cpuPerOp', 1, ' µs'),
    line('server CPU per message, burst (both nodes)', 'burstCpuPerOp', 1, ' µs'),
    line('Redis CPU per message, paced', 'redisCpuPerOp', 1, ' µs'),
    line('Redis CPU per message, burst', 'burstRedisCpuPerOp', 1, ' µs'),
    line('load generator CPU per message, paced (100 clients)', 'loadCpuPerOp', 1, ' µs'),
    line('publish resolved after, paced p50', 'publishP50', 3, ' ms'),
    line('publish resolved after, paced p99', 'publishP99', 3, ' ms'),
    line('burst messages/s (each publish awaited)', 'throughput', 0),
  ].join('\n');
}

/** `channel-pair`'s measurements, plain and recoverable: `pairPlain<Name>` and `pairRec<Name>`. */
const PAIR_NAMES = ['P50', 'P99', 'FirstP50', 'FirstP99', 'PublishP50', 'PublishP99', 'CpuPaced', 'CpuBurst', 'RedisPaced', 'RedisBurst'];
const PAIR_KEYS = PAIR_NAMES.flatMap((name) => [`pairPlain${name}`, `pairRec${name}`]);

/** Issue #14, `channel-pair`: both channels in one run; each ratio with its lowest and highest round. */
function pairedChannels(results) {
  const row = results.find((r) => r.workload === 'channel-pair' && !r.error);
  if (!row) return undefined;
  const line = (label, name, unit = 'ms', digits = 3) => {
    const perRound = row.rounds.map((r) => r[`pairRec${name}`] / r[`pairPlain${name}`]);
    const range = perRound.length > 1 ? ` (rounds ${fmt(Math.min(...perRound), 2)}–${fmt(Math.max(...perRound), 2)}×)` : '';
    return `- ${label}: ${fmt(row[`pairPlain${name}`], digits)} ${unit} plain, ${fmt(row[`pairRec${name}`], digits)} ${unit} recoverable → ${fmt(median(perRound), 2)}×${range}`;
  };
  return [
    line('p50, every delivery', 'P50'),
    line('p99, every delivery', 'P99'),
    line('p50 of the first delivery of each message', 'FirstP50'),
    line('p99 of the first delivery of each message', 'FirstP99'),
    line('publish resolved after, p50', 'PublishP50'),
    line('publish resolved after, p99', 'PublishP99'),
    line('server CPU per message, paced (both nodes)', 'CpuPaced', 'µs', 1),
    line('server CPU per message, burst (both nodes)', 'CpuBurst', 'µs', 1),
    line('Redis CPU per message, paced', 'RedisPaced', 'µs', 1),
    line('Redis CPU per message, burst', 'RedisBurst', 'µs', 1),
  ].join('\n');
}

const SPREAD_KEYS = ['throughput', 'p50', 'p99', 'max', 'cpuPerOp', 'burstCpuPerOp', 'redisCpuPerOp', 'burstRedisCpuPerOp', 'loadCpuPerOp', 'publishP50', 'publishP99', 'firstP50', 'firstP99'];

/** `--spread`: per cell, the lowest and highest of every measurement over the rounds. */
function spread(cells) {
  const lines = [`| workload | target | rounds | ${SPREAD_KEYS.join(' | ')} |`, `|---|---|---|${SPREAD_KEYS.map(() => '---|').join('')}`];
  for (const rounds of cells) {
    const ok = rounds.filter((r) => !r.error);
    if (ok.length === 0) continue;
    const range = (key) => {
      const values = ok.map((r) => r[key]).filter((v) => typeof v === 'number' && !Number.isNaN(v));
      if (values.length === 0) return '–';
      const digits = key === 'throughput' ? 0 : key.startsWith('publish') ? 3 : key.startsWith('p') || key.startsWith('first') || key === 'max' ? 2 : 1;
      return `${fmt(Math.min(...values), digits)}–${fmt(Math.max(...values), digits)}`;
    };
    lines.push(`| ${ok[0].workload} | ${ok[0].target} | ${ok.length} | ${SPREAD_KEYS.map(range).join(' | ')} |`);
  }
  return lines.join('\n');
}

const median = (values) => {
  const sorted = values.filter((v) => typeof v === 'number' && !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** One row per cell from several rounds: the median of every measurement, the worst delivery. */
function combine(rounds) {
  const ok = rounds.filter((r) => !r.error);
  if (ok.length === 0) return rounds[0];
  const row = { ...ok[0] };
  for (const key of ['throughput', 'p50', 'p99', 'max', 'cpuPerOp', 'peakRss', 'bytesPerConnection', ...SPREAD_KEYS.slice(5), ...PAIR_KEYS]) row[key] = median(ok.map((r) => r[key]));
  row.rounds = ok;
  row.delivered = Math.min(...ok.map((r) => r.delivered));
  row.duplicates = Math.max(...ok.map((r) => r.duplicates ?? 0));
  row.failedRounds = rounds.length - ok.length;
  return row;
}

async function main() {
  const targets = arg('target') ? arg('target').split(',') : TARGETS;
  const workloads = arg('workload') ? arg('workload').split(',') : Object.keys(WORKLOADS);
  const rounds = Number(arg('rounds') ?? 1);
  for (const t of targets) if (!SERVER[t]) throw new Error(`unknown target ${t} (${TARGETS.join(', ')})`);
  for (const w of workloads) if (!WORKLOADS[w]) throw new Error(`unknown workload ${w} (${Object.keys(WORKLOADS).join(', ')})`);
  for (const w of workloads) {
    if (!targets.some((t) => supports(t, w))) throw new Error(`workload ${w} runs only on ${ONLY[w].join(', ')}`);
  }
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 9) throw new Error(`--rounds must be an integer from 1 to 9, got ${arg('rounds')}`);
  const plan = corePlan(arg('pin') ?? 'auto');
  process.stderr.write(`cores: ${plan.note}\n`);
  const redis = await startRedis((command, args) => onCore(plan.cores?.redis, command, args));
  const cells = new Map();
  const started = Date.now();
  let index = 0;
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const workload of workloads) {
        for (const target of targets.filter((t) => supports(t, workload))) {
          process.stderr.write(`${rounds > 1 ? `round ${round}/${rounds}: ` : ''}running ${workload} on ${target}...\n`);
          const key = `${workload}|${target}`;
          if (!cells.has(key)) cells.set(key, []);
          try {
            cells.get(key).push({ workload, target, ...(await runCell(plan, redis, target, workload, index++)) });
          } catch (error) {
            cells.get(key).push({ workload, target, error: error.message });
          }
        }
      }
    }
  } finally {
    redis.child.kill('SIGKILL');
  }
  const results = [...cells.values()].map(combine);
  const cpus = os.cpus();
  console.log(
    `Machine: ${cpus.length} × ${cpus[0].model.trim()}, ${fmt(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.type()} ${os.release()}; ` +
      `${plan.note}; ${rounds > 1 ? `${rounds} rounds, each cell the median of its rounds (delivered: the worst round); ` : ''}run took ${fmt((Date.now() - started) / 1000)} s.\n`,
  );
  console.log(table(results));
  if (targets.length > 1) console.log(`\nTargets (nestjs-mesh ÷ peer, this run):\n${verdicts(results)}`);
  else if (results.some((r) => r.workload.startsWith('channel'))) console.log(`\n${verdicts(results)}`);
  if (process.argv.includes('--spread')) console.log(`\nSpread over the rounds (lowest–highest):\n${spread([...cells.values()])}`);
  const channels = recoverableVsPlain(results);
  if (channels) console.log(`\nRecoverable channel ÷ plain channel (nestjs-mesh, this run; CPU: user + system time, /proc):\n${channels}`);
  const paired = pairedChannels(results);
  if (paired) console.log(`\nRecoverable ÷ plain in one run (channel-pair: both channels, the same subscribers, messages alternating; median of the rounds' ratios):\n${paired}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
