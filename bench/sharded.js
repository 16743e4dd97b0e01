'use strict';
// `npm run bench:sharded`: rooms whose members are on one or two of 4 nodes, the 4th node with
// no member of any busy room. What interest-based routing costs and saves, side by side for
// nestjs-mesh, socket.io's sharded adapter (dynamic mode) and socket.io's classic Redis adapter.
// Options: --target <name> (or mesh, sharded, classic), --seconds N (each of idle/busy/idle), --rate N (broadcasts/s in
// total), --rooms N, --clients-per-node N, --members-per-node N, --churn N, --cluster.
// See bench/README.md ("Rooms on some nodes").
const fs = require('node:fs');
const os = require('node:os');
const { spawn } = require('node:child_process');
const { join } = require('node:path');
const { freePort, waitForPort, sleep, startRedis, stop, arg, loadResult } = require('./common');
const { startRedisCluster } = require('./rooms/redis-cluster');

const NODES = 4;
const TARGETS = {
  'nestjs-mesh': { server: 'servers/rooms-mesh.js', client: 'nestjs-mesh', env: {} },
  'socket.io sharded-dynamic': { server: 'servers/rooms-socketio.js', client: 'socket.io', env: { SIO_ADAPTER: 'sharded-dynamic' } },
  'socket.io classic': { server: 'servers/rooms-socketio.js', client: 'socket.io', env: { SIO_ADAPTER: 'classic' } },
};

// --target takes a name above or one of these.
const ALIASES = { mesh: 'nestjs-mesh', sharded: 'socket.io sharded-dynamic', classic: 'socket.io classic' };

function number(name, fallback, min, max) {
  const raw = arg(name);
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`--${name} must be an integer from ${min} to ${max}, got ${raw}`);
  return value;
}

const options = {
  seconds: number('seconds', 8, 1, 30),
  rate: number('rate', 2000, 10, 20_000),
  rooms: number('rooms', 200, 6, 2000),
  clientsPerNode: number('clients-per-node', 40, 2, 500),
  membersPerNode: number('members-per-node', 2, 1, 20),
  quietRooms: 20,
  churn: number('churn', 100, 1, 1000),
};
const cluster = process.argv.includes('--cluster');
// Connect, join, 3 windows, drain and churn, with room to spare; the target is killed after it.
const TARGET_DEADLINE_MS = 60_000 + 3 * options.seconds * 1000;

/** A private Redis for one target: standalone, or a 3-master cluster with --cluster. */
async function startBackend() {
  if (cluster) {
    const c = await startRedisCluster();
    return { servers: c.servers, pids: c.pids, env: { REDIS_CLUSTER: JSON.stringify(c.servers) }, stop: c.stop };
  }
  const redis = await startRedis();
  const { hostname, port } = new URL(redis.url);
  return { servers: [{ host: hostname, port: Number(port) }], pids: [redis.child.pid], env: { REDIS_URL: redis.url }, stop: () => redis.child.kill('SIGKILL') };
}

/** A server node; its stderr is passed through, and its beginning kept for error messages. */
function startServer(file, env) {
  const child = spawn(process.execPath, [join(__dirname, file)], { env, stdio: ['ignore', 'inherit', 'pipe'] });
  child.errorText = '';
  child.stderr.on('data', (data) => {
    process.stderr.write(data);
    if (child.errorText.length < 500) child.errorText += data;
  });
  return child;
}

/** Resolves when the port accepts connections; rejects if the process exits first. */
function listening(child, port) {
  return new Promise((resolve, reject) => {
    const onExit = (code) => {
      const firstLine = child.errorText.trim().split('\n')[0];
      reject(new Error(`server exited with ${code} before listening${firstLine ? ` (${firstLine})` : ''}`));
    };
    child.once('exit', onExit);
    waitForPort(port)
      .then(resolve, reject)
      .finally(() => child.off('exit', onExit));
  });
}

async function runTarget(name) {
  const target = TARGETS[name];
  const backend = await startBackend();
  const servers = [];
  try {
    const ports = await Promise.all(Array.from({ length: NODES }, freePort));
    const serversStartedAt = Date.now();
    for (const port of ports) {
      const env = { ...process.env, ...backend.env, ...target.env, PORT: String(port), KEY_PREFIX: 'bench:' };
      servers.push(startServer(target.server, env));
    }
    await Promise.all(servers.map((child, i) => listening(child, ports[i])));
    await sleep(500);
    const spec = {
      serversStartedAt,
      client: target.client,
      ports,
      pids: servers.map((s) => s.pid),
      redisPids: backend.pids,
      redisServers: backend.servers,
      options,
      deadlineMs: TARGET_DEADLINE_MS,
    };
    const load = spawn(process.execPath, [join(__dirname, 'rooms/load.js'), JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'] });
    return await loadResult(load, TARGET_DEADLINE_MS + 5000);
  } finally {
    await Promise.all(servers.map(stop));
    backend.stop();
  }
}

const fmt = (value, digits = 0) => (value === null || value === undefined || !Number.isFinite(value) ? '–' : Number(value).toFixed(digits));
const pct = (value) => `${fmt(value * 100, 1)}%`;

/** Node 4 during the busy phase against its idle windows (bench/rooms/like-idle.js). */
function idleVerdict(n4) {
  const amount = `${n4.excess >= 0 ? '+' : ''}${fmt(n4.excess / 1000, 2)} ± ${fmt(n4.margin / 1000, 2)} ms/s`;
  return n4.likeIdle ? `yes (${amount})` : `no (${amount}; ${fmt(n4.excessPerBroadcast, 1)} µs/broadcast)`;
}

function mainTable(results) {
  const lines = [
    '| target | broadcasts/s | deliveries/s | p50 ms | p99 ms | delivered | CPU µs/delivery, nodes 1–3 | node 4 CPU ms/s: idle · busy · idle | node 4 busy ÷ idle | node 4 like idle? | node 4 read KB/s: idle · busy | Redis per broadcast: publishes · bytes out · CPU µs |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const [name, r] of results) {
    if (r.error) {
      lines.push(`| ${name} | failed: ${r.error} ||||||||||`);
      continue;
    }
    const losses = [r.duplicates && `${r.duplicates} dup`, r.stray && `${r.stray} stray`, r.failedSends && `${r.failedSends} failed sends`].filter(Boolean).join(', ');
    const n4 = r.idleNode;
    const cells = [
      name,
      fmt(r.broadcasts / r.driveSeconds),
      fmt(r.deliveriesPerSecond),
      fmt(r.p50, 2),
      fmt(r.p99, 2),
      `${pct(r.delivered)}${losses ? ` (${losses})` : ''}`,
      fmt(r.cpuPerDelivery, 1),
      `${fmt(n4.idleBefore / 1000, 2)} · ${fmt(n4.busy / 1000, 2)} · ${fmt(n4.idleAfter / 1000, 2)}`,
      fmt(n4.busy / n4.idle, 2),
      idleVerdict(n4),
      `${fmt(n4.readIdle / 1024, 1)} · ${fmt(n4.readBusy / 1024, 1)}`,
      `${fmt(r.redisPerBroadcast.publishes, 2)} · ${fmt(r.redisPerBroadcast.outBytes)} · ${fmt(r.redisPerBroadcast.cpuMicros, 1)}`,
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

const OPERATIONS = [
  ['placement', null, 'join (initial placement, all memberships)'],
  ['first', 'join', "join: node 4's first member of a busy room"],
  ['first', 'leave', "leave: node 4's last member"],
  ['again', 'join', 'join: node 1 already has members'],
  ['again', 'leave', 'leave: node 1 keeps members'],
];

function operationTable(results) {
  const lines = ['| target | operation | Redis commands | publishes | (un)subscribe calls | commands by name |', '|---|---|---|---|---|---|'];
  for (const [name, r] of results) {
    if (r.error) continue;
    for (const [kind, op, label] of OPERATIONS) {
      const o = op ? r.churn[kind][op] : r[kind];
      const byName = o.calls.map(([command, n]) => `${command} ${fmt(n, 2)}`).join(', ') || '–';
      lines.push(`| ${name} | ${label} (${o.count}) | ${fmt(o.commands, 2)} | ${fmt(o.publishes, 2)} | ${fmt(o.subscriptionChanges, 2)} | ${byName} |`);
    }
  }
  return lines.join('\n');
}

function roomTable(results) {
  const lines = ['| target | Redis memory per room | pub/sub channels | shard channels | patterns | subscriptions of nodes 1 · 2 · 3 · 4 | Redis commands/s idle |', '|---|---|---|---|---|---|---|'];
  for (const [name, r] of results) {
    if (r.error) continue;
    const p = r.perRoom;
    lines.push(`| ${name} | ${fmt(p.memoryBytes)} B | ${p.channels} | ${p.shardChannels} | ${p.patterns} | ${p.subscriptionsByNode.join(' · ')} | ${fmt(r.background.commandsPerSecond, 1)} |`);
  }
  return lines.join('\n');
}

async function main() {
  if (!fs.existsSync(join(__dirname, '../dist/lib/index.js'))) throw new Error('dist/ is missing: run npm run build (npm run bench:sharded does)');
  const names = arg('target') ? [ALIASES[arg('target')] ?? arg('target')] : Object.keys(TARGETS);
  for (const name of names) if (!TARGETS[name]) throw new Error(`unknown target ${name} (${Object.keys(TARGETS).join(', ')}; or ${Object.keys(ALIASES).join(', ')})`);
  const started = Date.now();
  const results = [];
  for (const name of names) {
    process.stderr.write(`running ${name}${cluster ? ' on a 3-master cluster' : ''}...\n`);
    try {
      results.push([name, await runTarget(name)]);
    } catch (error) {
      results.push([name, { error: error.message.split('\n')[0] }]);
    }
  }
  const cpus = os.cpus();
  const ok = results.find(([, r]) => !r.error)?.[1];
  console.log(
    `Machine: ${cpus.length} × ${cpus[0].model.trim()}, Node ${process.version}; Redis: ${cluster ? '3-master cluster' : 'standalone'}; ` +
      `${NODES} nodes, ${options.rooms} busy rooms (members on nodes 1–3, ${options.membersPerNode} per node, on one or two nodes), ` +
      `${options.clientsPerNode} clients per node, node 4 only in ${options.quietRooms} quiet rooms; ${options.rate} broadcasts/s for ${options.seconds} s` +
      `${ok ? ` (${ok.broadcasts} broadcasts, ${ok.expected} deliveries expected)` : ''}; run took ${fmt((Date.now() - started) / 1000)} s.\n`,
  );
  console.log(mainTable(results));
  console.log('\nPer join / leave (Redis, background subtracted):\n');
  console.log(operationTable(results));
  console.log('\nPer room (with every busy room joined):\n');
  console.log(roomTable(results));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
