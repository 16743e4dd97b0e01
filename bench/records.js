'use strict';
// `npm run bench:records` (or `node bench/records.js [--target nestjs-mesh,@prsm/realtime]
// [--rounds N] [--rates 100,200,500] [--writers 8] [--subscribers 100] [--seconds 5] [--load-nice 10] [--pin off]`):
// one hot record written from two nodes, nestjs-mesh against @prsm/realtime 1.8.1 (the peer that
// has records). Per target, in its own cell: a private Redis (shared by the run, flushed between
// cells), two server nodes in their own processes, and a subscriber process, pinned as run.js pins.
// - burst: `writers` closed-loop writers per node on both nodes at once, no subscribers:
//   committed writes/s, and the record's version checked against the writes that changed it;
// - paced: for each of `rates` writes/s split over both nodes (open loop), `subscribers`
//   subscribers (half on each node, half full and half patch mode): write-to-deliver latency and
//   what was delivered. By default 100/s (both targets sustain it), 200/s and 500/s.
const { spawn } = require('node:child_process');
const { join } = require('node:path');
const os = require('node:os');
const { Redis } = require('ioredis');
const { cpuMicros, memory, freePort, waitForPort, sleep, startRedis, stop, arg } = require('./common');
const { corePlan, onCore } = require('./pinning');
const { threadCpuMicros } = require('./rooms/proc');

const TARGETS = ['nestjs-mesh', '@prsm/realtime'];
const SERVER = { 'nestjs-mesh': 'servers/records-mesh.js', '@prsm/realtime': 'servers/records-realtime.mjs' };
const CELL_TIMEOUT_MS = 90_000;
const IPC_TIMEOUT_MS = 30_000;
const WARMUP_MS = 1000;
const IDLE_MS = 2000;
/** The record's body besides the fields each write changes: a full update carries it, a patch does not. */
const BODY = { title: 'hot record', body: 'x'.repeat(400), tags: ['a', 'b', 'c'] };

const options = {
  targets: arg('target') ? arg('target').split(',') : TARGETS,
  rounds: Number(arg('rounds') ?? 1),
  rates: (arg('rates') ?? '100,200,500').split(',').map(Number),
  writers: Number(arg('writers') ?? 8),
  subscribers: Number(arg('subscribers') ?? 100),
  seconds: Number(arg('seconds') ?? 5),
  loadNice: Number(arg('load-nice') ?? 10),
};

/** A child process answering `{ reqId, op }` requests over IPC (records-drive.js, records-load.js). */
function rpc(child, name) {
  let next = 0;
  const pending = new Map();
  child.on('message', ({ reqId, result, error }) => {
    const p = pending.get(reqId);
    pending.delete(reqId);
    if (!p) return;
    clearTimeout(p.timer);
    if (error) p.reject(new Error(`${name}: ${error}`));
    else p.resolve(result);
  });
  child.once('exit', (code, signal) => {
    for (const p of pending.values()) p.reject(new Error(`${name} exited (${code ?? signal})`));
    pending.clear();
  });
  return (op, payload = {}, timeoutMs = IPC_TIMEOUT_MS) =>
    new Promise((resolve, reject) => {
      const reqId = ++next;
      const timer = setTimeout(() => {
        pending.delete(reqId);
        reject(new Error(`${name}: ${op} took over ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(reqId, { resolve, reject, timer });
      child.send({ reqId, op, ...payload });
    });
}

function startNode(cpu, file, env, nice) {
  let [command, argv] = onCore(cpu, process.execPath, [join(__dirname, file)]);
  if (nice) [command, argv] = ['nice', ['-n', String(nice), command, ...argv]];
  return spawn(command, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

/** INFO commandstats: calls and µs per command. */
async function commandStats(admin) {
  const stats = {};
  for (const m of (await admin.info('commandstats')).matchAll(/^cmdstat_(\S+?):calls=(\d+),usec=(\d+)/gm)) stats[m[1]] = { calls: Number(m[2]), usec: Number(m[3]) };
  return stats;
}

/** Per command, calls and Redis µs between two readings (this runner's own reads left out). */
function statsDelta(before, after) {
  const out = {};
  for (const [name, { calls, usec }] of Object.entries(after)) {
    if (/^(info|config|flushall|get|hget|ping|client\|.*)$/.test(name)) continue;
    const d = { calls: calls - (before[name]?.calls ?? 0), usec: usec - (before[name]?.usec ?? 0) };
    if (d.calls > 0) out[name] = d;
  }
  return out;
}

async function runCell(plan, redis, admin, target, index, children) {
  await admin.flushall();
  // @prsm/realtime turns on expiry events (notify-keyspace-events Ex) at start; off for the next target.
  await admin.config('SET', 'notify-keyspace-events', '');
  const ports = await Promise.all([freePort(), freePort()]);
  const names = ['a', 'b'];
  const servers = ports.map((port, i) =>
    startNode(plan.cores?.servers, SERVER[target], { PORT: String(port), REDIS_URL: redis.url, KEY_PREFIX: `recbench${index}:`, NODE_NAME: names[i] }),
  );
  children.push(...servers);
  const calls = servers.map((s, i) => rpc(s, `${target} node ${names[i]}`));
  const pids = servers.map((s) => s.pid);
  const serverCpu = () => pids.reduce((sum, pid) => sum + cpuMicros(pid), 0);
  const redisCpu = () => threadCpuMicros(redis.child.pid);
  let load;
  try {
    await Promise.all(ports.map((port) => waitForPort(port)));
    await sleep(300);
    const id = `bench:doc:${index}`;
    const version = () => calls[0]('version', { id });
    await calls[0]('init', { id, value: { ...BODY, n: 0, t: 0, from: '', phase: 'init' } });

    // Burst: no subscribers; a short warm-up (JIT, connection pools), then the measured run.
    const durationMs = options.seconds * 1000;
    await Promise.all(calls.map((call) => call('burst', { id, writers: options.writers, durationMs: 500 })));
    const v0 = await version();
    const stats0 = await commandStats(admin);
    const cpu0 = serverCpu();
    const rcpu0 = redisCpu();
    const started = performance.now();
    const bursts = await Promise.all(calls.map((call) => call('burst', { id, writers: options.writers, durationMs, keepVersions: target === 'nestjs-mesh' })));
    const seconds = (performance.now() - started) / 1000;
    const cpu = serverCpu() - cpu0;
    const rcpu = redisCpu() - rcpu0;
    const stats = statsDelta(stats0, await commandStats(admin));
    const v1 = await version();
    const ok = bursts.reduce((sum, b) => sum + b.ok, 0);
    const burst = {
      writes: ok,
      errors: bursts.reduce((sum, b) => sum + b.errors, 0),
      firstError: bursts.find((b) => b.firstError)?.firstError,
      throughput: ok / seconds,
      perNode: bursts.map((b) => b.ok),
      versionDelta: v1 - v0,
      writeP50: Math.max(...bursts.map((b) => b.writeP50 ?? 0)),
      writeP99: Math.max(...bursts.map((b) => b.writeP99 ?? 0)),
      cpuPerOp: cpu / ok,
      redisCpuPerOp: rcpu / ok,
      stats,
    };
    // Versions returned to the writers (nestjs-mesh returns them): every one in (v0, v1] exactly once.
    if (target === 'nestjs-mesh') {
      const all = bursts.flatMap((b) => b.versions);
      const distinct = new Set(all);
      const outside = all.filter((v) => v <= v0 || v > v1).length;
      burst.versionCheck = { returned: all.length, distinct: distinct.size, outside, missing: v1 - v0 - [...distinct].filter((v) => v > v0 && v <= v1).length };
    }

    // Paced: subscribers on both nodes; per rate a warm-up at that rate, then the measured run.
    // Niced: on 2 cores Redis shares the subscribers' core, and 100 subscribers at 500 updates/s
    // keep that core busy; un-niced they starved Redis and every nestjs-mesh write (two round
    // trips, one at a time per node and record) fell behind at 300/s (p50 0.5 s), which measured
    // the load generator, not the target. Niced, it yields the core to Redis.
    load = startNode(plan.cores?.load, 'records-load.js', {}, options.loadNice);
    children.push(load);
    const loadCall = rpc(load, `${target} subscribers`);
    await loadCall('init', { target, ports, recordId: id, count: options.subscribers });
    // What the nodes burn with the subscribers connected and nothing written (timers, heartbeats),
    // from schedstat (finer than /proc/<pid>/stat's 10 ms ticks): it is in every paced CPU figure.
    const idle0 = pids.reduce((sum, pid) => sum + threadCpuMicros(pid), 0);
    await sleep(IDLE_MS);
    const idleCpuPercent = ((pids.reduce((sum, pid) => sum + threadCpuMicros(pid), 0) - idle0) / (IDLE_MS * 1000)) * 100;
    const paced = [];
    for (const rate of options.rates) {
      const perNode = rate / 2;
      const expectedWrites = Math.round((perNode * durationMs) / 1000) * 2;
      await loadCall('start', { base: await version(), count: expectedWrites });
      await Promise.all(calls.map((call) => call('paced', { id, rate: perNode, durationMs: WARMUP_MS }, IPC_TIMEOUT_MS)));
      await loadCall('report', { end: await version() });
      const p0 = await version();
      await loadCall('start', { base: p0, count: expectedWrites + 100 });
      const stats0 = await commandStats(admin);
      const cpu0 = serverCpu();
      const rcpu0 = redisCpu();
      const lcpu0 = cpuMicros(load.pid);
      const runs = await Promise.all(calls.map((call) => call('paced', { id, rate: perNode, durationMs }, IPC_TIMEOUT_MS)));
      const p1 = await version();
      const delivery = await loadCall('report', { end: p1 });
      const cpu = serverCpu() - cpu0;
      const rcpu = redisCpu() - rcpu0;
      const lcpu = cpuMicros(load.pid) - lcpu0;
      const stats = statsDelta(stats0, await commandStats(admin));
      const writes = runs.reduce((sum, p) => sum + p.ok, 0);
      paced.push({
        rate,
        writes,
        errors: runs.reduce((sum, p) => sum + p.errors, 0),
        skipped: runs.reduce((sum, p) => sum + p.skipped, 0),
        maxInFlight: Math.max(...runs.map((p) => p.maxInFlight)),
        // Committed writes per second of the phase, to the last write's end (below the rate when a node fell behind).
        achieved: writes / (Math.max(...runs.map((p) => p.elapsedMs)) / 1000),
        firstError: runs.find((p) => p.firstError)?.firstError,
        versionDelta: p1 - p0,
        writeP99: Math.max(...runs.map((p) => p.writeP99 ?? 0)),
        cpuPerOp: cpu / writes,
        redisCpuPerOp: rcpu / writes,
        loadCpuPerDelivery: lcpu / Math.max(1, delivery.delivered),
        stats,
        ...delivery,
      });
    }
    await loadCall('close').catch(() => undefined);
    return {
      burst,
      paced,
      idleCpuPercent,
      peakRss: Math.max(...pids.map((pid) => memory(pid).peak)),
    };
  } finally {
    if (load) await stop(load);
    await Promise.all(servers.map(stop));
  }
}

const fmt = (value, digits = 0) => (value === null || value === undefined || Number.isNaN(value) ? '–' : Number(value).toFixed(digits));
const perWrite = (stats, name, writes) => (stats[name] ? stats[name].calls / writes : 0);

/** What Redis ran per committed write: the commands that came to at least 0.05 per write. */
function redisCalls(stats, writes) {
  return Object.entries(stats)
    .filter(([, d]) => d.calls / writes >= 0.05)
    .sort((a, b) => b[1].calls - a[1].calls)
    .map(([name, d]) => `${name} ${fmt(d.calls / writes, 2)}`)
    .join(', ');
}

function table(results) {
  const lines = [
    '| workload | target | throughput | p50 ms | p99 ms | max ms | delivered | server CPU µs/write | Redis CPU µs/write | peak RSS MB | checks |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    if (r.error) {
      lines.push(`| – | ${r.target} | failed: ${r.error} | | | | | | | | |`);
      continue;
    }
    const b = r.burst;
    const vc = b.versionCheck;
    const versionOk = b.versionDelta === b.writes && (!vc || (vc.distinct === vc.returned && vc.outside === 0 && vc.missing === 0));
    const bChecks = [
      `version +${b.versionDelta} for ${b.writes} writes${versionOk ? ' ✓' : ' ✗'}`,
      vc && !versionOk ? `returned ${vc.returned}, distinct ${vc.distinct}, outside ${vc.outside}, missing ${vc.missing}` : '',
      b.errors ? `${b.errors} failed (${b.firstError})` : '',
      `write p50/p99 ${fmt(b.writeP50, 2)}/${fmt(b.writeP99, 2)} ms`,
    ].filter(Boolean);
    lines.push(
      `| burst, ${options.writers} writers × 2 nodes | ${r.target} | ${fmt(b.throughput)} writes/s | – | – | – | – | ${fmt(b.cpuPerOp, 1)} | ${fmt(b.redisCpuPerOp, 1)} | ${fmt(r.peakRss / 2 ** 20)} | ${bChecks.join('; ')} |`,
    );
    for (const p of r.paced) {
      const delivered = `${fmt((p.delivered / p.expected) * 100, 2)}%${p.duplicates ? ` (${p.duplicates} dup)` : ''}`;
      const pChecks = [
        `${p.writes} writes, version +${p.versionDelta}${p.versionDelta === p.writes ? ' ✓' : ' ✗'}`,
        `gaps ${p.gaps}, resyncs ${p.resyncs}, backwards ${p.backwards}${p.stale ? `, ${p.stale} subscribers left on an older version` : ''}${p.behind ? `, ${p.behind} never reached the last` : ''}`,
        p.errors || p.skipped ? `${p.errors} failed, ${p.skipped} not launched${p.firstError ? ` (${p.firstError})` : ''}` : '',
        `full p99 ${fmt(p.byMode.full.p99, 2)}, patch p99 ${fmt(p.byMode.patch.p99, 2)} ms`,
        `write p99 ${fmt(p.writeP99, 2)} ms`,
      ].filter(Boolean);
      lines.push(
        `| paced ${p.rate}/s, ${options.subscribers} subscribers | ${r.target} | ${fmt(p.achieved)} writes/s | ${fmt(p.p50, 2)} | ${fmt(p.p99, 2)} | ${fmt(p.max, 2)} | ${delivered} | ${fmt(p.cpuPerOp, 1)} | ${fmt(p.redisCpuPerOp, 1)} | | ${pChecks.join('; ')} |`,
      );
    }
  }
  return lines.join('\n');
}

function details(results) {
  const lines = ['Redis commands per committed write (INFO commandstats), and retries seen from outside:'];
  for (const r of results.filter((x) => !x.error)) {
    const b = r.burst;
    const paced = (f) => r.paced.map((p) => `${fmt(f(p), 2)} at ${p.rate}/s`).join(', ');
    let retries = '';
    if (r.target === 'nestjs-mesh') {
      // One HMGET per write, then one EVALSHA per compare-and-set attempt: attempts beyond the first are retries.
      retries = `compare-and-set retries per write ${fmt(perWrite(b.stats, 'evalsha', b.writes) - 1, 2)} burst, ${paced((p) => perWrite(p.stats, 'evalsha', p.writes) - 1)}`;
    } else {
      // EVAL: lock acquire attempts + commit + release (+ a renewal every 3.3 s of a held lock): attempts beyond 3 per write are polls of a held lock (25 ms apart).
      retries = `lock polls per write (EVAL − 3) ${fmt(perWrite(b.stats, 'eval', b.writes) - 3, 2)} burst, ${paced((p) => perWrite(p.stats, 'eval', p.writes) - 3)}`;
    }
    lines.push(`- ${r.target}: ${retries}; burst writes per node ${b.perNode.join(' + ')}; both nodes idle with the subscribers connected: ${fmt(r.idleCpuPercent, 1)} % of a core`);
    lines.push(`  - burst: ${redisCalls(b.stats, b.writes)}`);
    for (const p of r.paced) {
      lines.push(`  - paced ${p.rate}/s: ${redisCalls(p.stats, p.writes)}; subscriber process CPU ${fmt(p.loadCpuPerDelivery, 1)} µs/delivery; writes in flight at most ${p.maxInFlight} per node`);
    }
  }
  return lines.join('\n');
}

function ratios(results) {
  const m = results.find((r) => r.target === 'nestjs-mesh' && !r.error);
  const s = results.find((r) => r.target === '@prsm/realtime' && !r.error);
  if (!m || !s) return '';
  const line = (label, a, b, digits = 2) => `- ${label}: ${fmt(a / b, digits)}`;
  return [
    'nestjs-mesh ÷ @prsm/realtime (this run):',
    line('burst writes/s', m.burst.throughput, s.burst.throughput),
    line('burst server CPU µs/write', m.burst.cpuPerOp, s.burst.cpuPerOp),
    line('burst Redis CPU µs/write', m.burst.redisCpuPerOp, s.burst.redisCpuPerOp),
    ...m.paced.flatMap((mp) => {
      const sp = s.paced.find((p) => p.rate === mp.rate);
      if (!sp) return [];
      const collapsed = sp.errors || sp.skipped ? ` (@prsm/realtime: ${sp.errors} of its writes failed, ${sp.skipped} not launched)` : '';
      return [
        line(`paced ${mp.rate}/s p50`, mp.p50, sp.p50),
        line(`paced ${mp.rate}/s p99${collapsed}`, mp.p99, sp.p99),
        line(`paced ${mp.rate}/s server CPU µs/write (delivery to subscribers included)`, mp.cpuPerOp, sp.cpuPerOp),
        line(`paced ${mp.rate}/s Redis CPU µs/write`, mp.redisCpuPerOp, sp.redisCpuPerOp),
      ];
    }),
    line('peak RSS', m.peakRss, s.peakRss),
  ].join('\n');
}

const median = (values) => {
  const sorted = values.filter((v) => typeof v === 'number' && !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function main() {
  for (const t of options.targets) if (!SERVER[t]) throw new Error(`unknown target ${t} (${TARGETS.join(', ')})`);
  for (const [key, value] of Object.entries(options)) if (![].concat(value).every((v) => key === 'targets' || (Number.isFinite(v) && (v > 0 || (key === 'loadNice' && v === 0))))) throw new Error(`--${key} must be a positive number`);
  if (!Number.isInteger(options.rounds) || options.rounds > 9) throw new Error('--rounds must be an integer from 1 to 9');
  const plan = corePlan(arg('pin') ?? 'auto');
  process.stderr.write(`cores: ${plan.note}\n`);
  const redis = await startRedis((command, args) => onCore(plan.cores?.redis, command, args));
  const admin = new Redis(redis.url, { maxRetriesPerRequest: 2 });
  const rounds = [];
  const started = Date.now();
  let index = 0;
  try {
    for (let round = 1; round <= options.rounds; round++) {
      const results = [];
      for (const target of options.targets) {
        process.stderr.write(`${options.rounds > 1 ? `round ${round}/${options.rounds}: ` : ''}records on ${target}...\n`);
        let timer;
        const children = [];
        try {
          const timeout = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`cell over ${CELL_TIMEOUT_MS / 1000} s`)), CELL_TIMEOUT_MS)));
          results.push({ target, ...(await Promise.race([runCell(plan, redis, admin, target, index++, children), timeout])) });
        } catch (error) {
          // A cell that overran: its processes are killed here (runCell's own cleanup may be stuck).
          for (const child of children) child.kill('SIGKILL');
          results.push({ target, error: error.message });
        } finally {
          clearTimeout(timer);
        }
      }
      rounds.push(results);
    }
  } finally {
    admin.disconnect();
    redis.child.kill('SIGKILL');
  }
  const cpus = os.cpus();
  console.log(
    `Machine: ${cpus.length} × ${cpus[0].model.trim()}, Node ${process.version}; ${plan.note}; one hot record (~${JSON.stringify(BODY).length + 60} bytes of JSON), ` +
      `merge writes {n, t, from, phase} from both nodes; ${options.seconds} s per phase; run took ${fmt((Date.now() - started) / 1000)} s.\n`,
  );
  rounds.forEach((results, i) => {
    if (options.rounds > 1) console.log(`\nRound ${i + 1}:\n`);
    console.log(table(results));
    console.log(`\n${details(results)}`);
    const r = ratios(results);
    if (r) console.log(`\n${r}`);
  });
  if (options.rounds > 1) {
    console.log('\nMedian over the rounds:');
    for (const target of options.targets) {
      const ok = rounds.map((results) => results.find((r) => r.target === target)).filter((r) => r && !r.error);
      if (ok.length === 0) continue;
      const m = (f) => fmt(median(ok.map(f)), 2);
      const paced = options.rates.map((rate, i) => `paced ${rate}/s p50 ${m((r) => r.paced[i].p50)} / p99 ${m((r) => r.paced[i].p99)} ms`).join(', ');
      console.log(`- ${target}: burst ${m((r) => r.burst.throughput)} writes/s, burst server CPU ${m((r) => r.burst.cpuPerOp)} µs/write, ${paced}`);
    }
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
