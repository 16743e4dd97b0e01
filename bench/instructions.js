'use strict';
// Instructions per operation of the server nodes, counted by callgrind: stable where wall-clock CPU
// on a shared machine is not (±20 % between runs). User-space only: the kernel's share of a
// socket write (the same for every target) is not counted.
//
//   node bench/instructions.js [--target nestjs-mesh|socket.io|raw|all] [--workload rpc|invoke-client|connections] [--ops 20000]
//
// The node (servers/<target>.js) runs under `valgrind --tool=callgrind` with V8 single-threaded
// (no concurrent compiler or GC threads adding their own counts); the load runs here. After a
// warm-up (so that the hot code is optimized), the counters are zeroed, `--ops` operations run,
// and the counters are dumped: instructions ÷ operations answered in between. For invoke-client
// both nodes run under callgrind and their counts are added.
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const { join } = require('node:path');
const connectors = require('./clients');
const { freePort, waitForPort, startRedis, stop, arg, sleep, cpuMicros, ECHO_PAYLOAD } = require('./common');

const SERVER = { 'nestjs-mesh': 'servers/mesh.js', 'socket.io': 'servers/socketio.js', raw: 'servers/raw.js' };
const CLIENTS = 50;

function startUnderCallgrind(file, env, outDir) {
  const child = spawn(
    'valgrind',
    ['--tool=callgrind', `--callgrind-out-file=${join(outDir, 'callgrind.%p')}`, process.execPath, '--single-threaded', join(__dirname, file)],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  // Kept for a failure's report: valgrind's banner and whatever the node printed (the last 8 KB).
  child.log = '';
  child.stderr.on('data', (d) => (child.log = (child.log + d).slice(-8192)));
  return child;
}

/** Total instructions in the first dump of `pid` (`callgrind_control -d` writes `<out>.1`). */
function dumpedInstructions(outDir, pid) {
  const text = fs.readFileSync(join(outDir, `callgrind.${pid}.1`), 'utf8');
  const m = /^(?:summary|totals):\s*(\d+)/m.exec(text);
  if (!m) throw new Error(`no instruction total in the callgrind dump of pid ${pid}`);
  return Number(m[1]);
}

const control = (flag, pids) => {
  for (const pid of pids) execFileSync('callgrind_control', [flag, String(pid)], { stdio: 'ignore', timeout: 120_000 });
};

/** Resolves once the processes used no CPU for `quietMs` in a row (or after 30 s, said on stderr). */
async function untilQuiet(pids, quietMs) {
  const used = () => pids.reduce((sum, pid) => sum + cpuMicros(pid), 0);
  const giveUpAt = Date.now() + 30_000;
  let last = used();
  let quietSince = Date.now();
  while (Date.now() - quietSince < quietMs) {
    if (Date.now() > giveUpAt) return void process.stderr.write('servers never went quiet after the warm-up; counting anyway\n');
    await sleep(50);
    const now = used();
    if (now !== last) quietSince = Date.now();
    last = now;
  }
}

/** Each client sends `send(client)` one after another until `stop()` (or a send fails). */
function closedLoop(clients, send) {
  let count = 0;
  let running = true;
  let failure;
  const done = Promise.all(
    clients.map(async (c) => {
      while (running) {
        await send(c);
        count++;
      }
    }),
  ).catch((error) => {
    running = false;
    failure = error;
  });
  return {
    count: () => count,
    /** Resolves once `n` operations were answered in all; rejects if one failed. */
    async reach(n) {
      while (count < n) {
        if (failure) throw failure;
        await sleep(10);
      }
    },
    stop: () => ((running = false), done),
  };
}

async function measure(target, workload, ops, redisUrl) {
  const outDir = fs.mkdtempSync(join(os.tmpdir(), 'mesh-callgrind-'));
  const nodes = workload === 'invoke-client' ? 2 : 1;
  const ports = await Promise.all(Array.from({ length: nodes }, freePort));
  const servers = ports.map((port) => startUnderCallgrind(SERVER[target], { PORT: String(port), REDIS_URL: redisUrl, KEY_PREFIX: `ir${ports[0]}:` }, outDir));
  try {
    await Promise.all(ports.map((port) => waitForPort(port, 180_000)));
    await sleep(1000);
    const connect = connectors[target];
    let clients;
    let load;
    if (workload === 'connections') {
      // As load.js's connections: idle connections opened in batches, after a warm-up of connects.
      const open = async (n) => {
        const opened = [];
        for (let i = 0; i < n; i += 50) opened.push(...(await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => connect(ports[0], undefined, {})))));
        return opened;
      };
      const warm = await open(Math.min(ops, 1000));
      await Promise.all(warm.map((c) => c.close()));
      const pids = servers.map((s) => s.pid);
      // The warm-up's closes are cleaned up on the server after the clients saw them: count from
      // when the nodes went quiet (no CPU for 300 ms), not after a guessed delay.
      await untilQuiet(pids, 300);
      control('-z', pids);
      clients = await open(ops);
      // Every connect's writes were answered: a client is told its id after them.
      control('-d', pids);
      await Promise.all(clients.map((c) => c.close()));
      const instructions = pids.reduce((sum, pid) => sum + dumpedInstructions(outDir, pid), 0);
      return { target, workload, ops, instructionsPerOp: instructions / ops };
    }
    if (workload === 'rpc') {
      clients = await Promise.all(Array.from({ length: CLIENTS }, () => connect(ports[0], undefined, {})));
      load = () => closedLoop(clients, (c) => c.call('echo', ECHO_PAYLOAD));
    } else {
      // As load.js's invoke-client: 20 callers on node 1, 50 answering clients on node 2.
      const answering = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => connect(ports[1], `a${i}`, { notify: async (data) => ({ received: data }) })));
      const callers = await Promise.all(Array.from({ length: 20 }, () => connect(ports[0], undefined, {})));
      clients = [...answering, ...callers];
      // Registrations run at valgrind's pace: give them time (raw remembers an owner it read too early).
      await sleep(5000);
      const targets = answering.map((c) => c.id);
      let next = 0;
      load = () =>
        closedLoop(callers, async (c) => {
          const reply = await c.call('invoke-client', { target: targets[next++ % targets.length] });
          if (reply?.received?.n !== 1) throw new Error(`invoke-client answered ${JSON.stringify(reply)}`);
        });
    }
    const warm = load();
    await warm.reach(Math.min(ops, 5000));
    await warm.stop();
    const pids = servers.map((s) => s.pid);
    const run = load();
    await run.reach(200);
    control('-z', pids);
    const from = run.count();
    await run.reach(from + ops);
    control('-d', pids);
    const answered = run.count() - from;
    await run.stop();
    await Promise.all(clients.map((c) => c.close()));
    const instructions = pids.reduce((sum, pid) => sum + dumpedInstructions(outDir, pid), 0);
    return { target, workload, ops: answered, instructionsPerOp: instructions / answered };
  } catch (error) {
    for (const s of servers) process.stderr.write(`--- node ${s.pid}:\n${s.log}\n`);
    throw error;
  } finally {
    await Promise.all(servers.map(stop));
    if (!process.argv.includes('--keep')) fs.rmSync(outDir, { recursive: true, force: true });
    else process.stderr.write(`callgrind dumps kept in ${outDir}\n`);
  }
}

async function main() {
  const targets = !arg('target') || arg('target') === 'all' ? Object.keys(SERVER) : [arg('target')];
  const workload = arg('workload') ?? 'rpc';
  const ops = Number(arg('ops') ?? 20_000);
  const redis = await startRedis();
  try {
    const rows = [];
    for (const target of targets) {
      process.stderr.write(`callgrind: ${workload} on ${target}...\n`);
      rows.push(await measure(target, workload, ops, redis.url));
    }
    const floor = rows.find((r) => r.target === 'raw');
    for (const r of rows) {
      console.log(`${r.workload} ${r.target}: ${Math.round(r.instructionsPerOp)} instructions/op over ${r.ops} ops${floor ? ` (${(r.instructionsPerOp / floor.instructionsPerOp).toFixed(2)}x raw)` : ''}`);
    }
  } finally {
    redis.child.kill('SIGKILL');
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
