'use strict';
// `node bench/cleanup.js [--connections 100000] [--cluster]`: how a dead node with many
// connections, room memberships and client registrations is cleaned up. Fills a private Redis
// (standalone, or a 3-master cluster with --cluster) through the library's own stores as a node
// would, then runs the leader's cleanup (SharedState.removeNodeConnections in steps, then the
// registry's cleanupNode) and reports the total time, the slowest step, and the slowest single
// command Redis ran (its SLOWLOG, every command over 0.2 ms, on every master): no step may block
// Redis for long, however many connections the node held.
const { Redis } = require('ioredis');
const { startRedis, stop, arg } = require('./common');
const { startRedisCluster } = require('./rooms/redis-cluster');
const { RedisConnections } = require('../dist/lib/state/redis/redis-connections');
const { RedisSharedState } = require('../dist/lib/state/shared-state/redis-shared-state');
const { MeshClientRedisRegistry } = require('../dist/lib/registry/mesh-client-redis-registry');

const COUNT = Number(arg('connections') ?? 100_000);
const ROOMS = 1000;
const ROOMS_PER_CONNECTION = 2;
const NODE = '42';
const PREFIX = 'cleanup:';

async function inBatches(total, size, fn) {
  for (let i = 0; i < total; i += size) await Promise.all(Array.from({ length: Math.min(size, total - i) }, (_, j) => fn(i + j)));
}

async function main() {
  const onCluster = process.argv.includes('--cluster');
  const server = onCluster ? await startRedisCluster() : await startRedis();
  const option = onCluster ? { cluster: server.servers } : server.url;
  const masters = onCluster ? server.servers.map(({ port }) => new Redis({ port })) : [new Redis(server.url)];
  const redis = new RedisConnections(option, PREFIX);
  try {
    await redis.connect();
    const state = new RedisSharedState(redis);
    const registry = new MeshClientRedisRegistry(redis.commands, PREFIX);
    // Filled in three phases, Redis's used_memory read between them (summed over the masters):
    // what a connection, a room membership and a client registration cost in Redis.
    const usedMemory = async () => (await Promise.all(masters.map(async (m) => Number(/used_memory:(\d+)/.exec(await m.info('memory'))[1])))).reduce((a, b) => a + b, 0);
    const filled = Date.now();
    const m0 = await usedMemory();
    await inBatches(COUNT, 2000, (i) => state.addConnection(NODE, `conn-${i}`, { i }));
    const m1 = await usedMemory();
    await inBatches(COUNT, 1000, async (i) => {
      for (let r = 0; r < ROOMS_PER_CONNECTION; r++) await state.addToRoom(`room-${(i * 7 + r * 13) % ROOMS}`, `conn-${i}`);
    });
    const m2 = await usedMemory();
    await inBatches(COUNT, 2000, (i) => registry.register(`client-${i}`, NODE, null, Date.now()));
    const m3 = await usedMemory();
    const fillSeconds = (Date.now() - filled) / 1000;
    const redisBytes = { perConnection: Math.round((m1 - m0) / COUNT), perMembership: Math.round((m2 - m1) / (COUNT * ROOMS_PER_CONNECTION)), perRegistration: Math.round((m3 - m2) / COUNT) };
    for (const m of masters) await m.config('SET', 'slowlog-log-slower-than', '200').then(() => m.slowlog('RESET')).then(() => m.config('SET', 'slowlog-max-len', '10000'));

    const steps = [];
    const started = Date.now();
    for (;;) {
      const t = process.hrtime.bigint();
      const { left } = await state.removeNodeConnections(NODE);
      steps.push(Number(process.hrtime.bigint() - t) / 1e6);
      if (left === 0) break;
    }
    const t = process.hrtime.bigint();
    const orphans = await registry.cleanupNode(NODE);
    await registry.acknowledgeCleanup(NODE);
    const registryMs = Number(process.hrtime.bigint() - t) / 1e6;
    const totalSeconds = (Date.now() - started) / 1000;

    const slow = (await Promise.all(masters.map((m) => m.slowlog('GET', 10000)))).flat();
    const longest = slow.reduce((max, entry) => (Number(entry[2]) > Number(max?.[2] ?? -1) ? entry : max), undefined);
    const left = await Promise.all([redis.commands.scard(redis.keys.nodeConnections(NODE)), redis.commands.scard(redis.keys.nodeClients(NODE))]);
    console.log(
      JSON.stringify(
        {
          topology: onCluster ? 'cluster (3 masters)' : 'standalone',
          connections: COUNT,
          memberships: COUNT * ROOMS_PER_CONNECTION,
          registrations: COUNT,
          fillSeconds,
          redisBytes,
          cleanupSeconds: totalSeconds,
          steps: steps.length,
          slowestStepMs: Math.max(...steps).toFixed(1),
          registryCleanupMs: registryMs.toFixed(0),
          orphans: orphans.length,
          leftAfter: left,
          commandsOver200us: slow.length,
          longestCommandUs: longest ? Number(longest[2]) : '< 200',
          longestCommand: longest ? longest[3].slice(0, 3).join(' ') : null,
          slowest: slow
            .sort((x, y) => Number(y[2]) - Number(x[2]))
            .slice(0, 5)
            .map((entry) => `${entry[2]} µs ${entry[3].slice(0, 2).join(' ')}`),
        },
        null,
        2,
      ),
    );
  } finally {
    await redis.stop();
    for (const m of masters) m.disconnect();
    if (onCluster) server.stop();
    else await stop(server.child);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
