import { MeshClient } from '../../client';
import { MeshClientService } from '../../lib';
import { RedisKeyLayout } from '../../lib/state/redis/key-layout';
import { startOutageTarget, type OutageTarget } from '../support/outage-target';
import { startApp, uniquePrefix, waitFor, type TestApp } from '../support/test-app';

// The suite runs its own Redis (a redis-server, or a 3-master Redis Cluster in the cluster
// project, see outage-target.ts), so killing its connections or its processes touches no other
// suite. One per file: the tests are independent through their own key prefixes, and each test
// leaves it running (afterEach starts it again if a test stopped it).

const FAST = { nodeHeartbeatInterval: 100, nodeTtl: 500 };
const clientIdFromQuery = (connection: { id: string }, request: { url?: string }) =>
  new URL(request.url ?? '/', 'http://x').searchParams.get('clientId') ?? connection.id;

describe('Redis outages', () => {
  let redis: OutageTarget;
  const apps: TestApp[] = [];
  const clients: MeshClient[] = [];

  beforeAll(async () => {
    redis = await startOutageTarget();
  }, 60_000);

  afterAll(async () => {
    await redis?.teardown();
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(apps.splice(0).map((t) => t.close().catch(() => undefined)));
    await redis.start();
  }, 60_000);

  async function node(extra: Record<string, unknown> = {}): Promise<TestApp> {
    const t = await startApp({ mesh: { redis: redis.redisOption(), keyPrefix: uniquePrefix(), ...extra } });
    apps.push(t);
    return t;
  }

  /** A client that records every `tick` event payload it receives. */
  async function client(url: string, options: ConstructorParameters<typeof MeshClient>[1] = { shouldReconnect: false }) {
    const c = new MeshClient(url, options);
    clients.push(c);
    const ticks: unknown[] = [];
    c.on('tick', (e) => void ticks.push(e.detail));
    await c.connect();
    return { c, ticks };
  }

  it('health says the node is not listening while Redis is down (every shard, on a cluster), and listening again once it is back', async () => {
    const t = await node();
    expect(await t.mesh.health()).toMatchObject({ listening: true });
    await redis.stop();
    const down = await waitFor(async () => ((await t.mesh.health(300)).listening ? undefined : true), 10_000, 'listening to turn false');
    expect(down).toBe(true);
    expect((await t.mesh.health(300)).problems.join('\n')).toContain('The subscription connection is down');
    await redis.start();
    await waitFor(async () => (await t.mesh.health()).listening, 20_000, 'listening again');
  });

  it('health says the node is not listening while one subscription connection cannot come back (one shard, on a cluster), though the rest of Redis serves', async () => {
    const t = await node();
    expect(await t.mesh.health()).toMatchObject({ listening: true });
    const letIn = await redis.refuseSubscriptions();
    try {
      await waitFor(async () => ((await t.mesh.health(1000)).listening ? undefined : true), 10_000, 'listening to turn false');
      const health = await t.mesh.health(1000);
      // Degraded (or down, if the Cluster client also had to open a command connection to that shard meanwhile: it is refused too).
      expect([health.status, health.listening]).toEqual([expect.stringMatching(/^(degraded|down)$/), false]);
      expect(health.problems.join('\n')).toContain('The subscription connection is down');
    } finally {
      await letIn();
    }
    await waitFor(async () => (await t.mesh.health()).listening, 20_000, 'listening again');
  });

  it('a dropped subscription connection resynchronises the room index: membership changed meanwhile by another node is honoured', async () => {
    const keyPrefix = uniquePrefix();
    const a = await node({ keyPrefix });
    const b = await node({ keyPrefix });
    b.mesh.exposeChannel('news');
    const { c, ticks } = await client(b.url);
    const news: unknown[] = [];
    await c.subscribe('news', (message) => void news.push(message));
    expect(await a.mesh.addToRoom('old-room', c.connectionId!)).toBe(true);

    // Kill every subscriber connection; while they are down, node A changes the membership of
    // B's connection. The notices A publishes to B reach nobody. On one Redis that is one
    // connection per node; on the cluster each node holds one sharded subscriber per shard it
    // listens on, killed on every shard, so the total is at least 2 there too (usually more).
    // ioredis replaces the sharded subscribers and re-subscribes them; the node resynchronises
    // on its `subscribersReady` (RedisConnections.onResubscribed) as it does on `ready` on one Redis.
    expect(await redis.killPubsubConnections()).toBeGreaterThanOrEqual(2);
    expect(await a.mesh.addToRoom('new-room', c.connectionId!)).toBe(true);
    expect(await a.mesh.removeFromRoom('old-room', c.connectionId!)).toBe(true);

    // Once B listens again it reads its memberships from Redis: broadcasts from A follow them.
    let n = 0;
    await waitFor(
      async () => {
        await a.mesh.broadcastRoom('new-room', 'tick', { room: 'new', n: n++ });
        return ticks.length > 0;
      },
      5000,
      'a broadcast to the room joined during the outage',
    );
    await a.mesh.broadcastRoom('old-room', 'tick', { room: 'old' });
    await a.mesh.broadcastRoom('new-room', 'tick', { room: 'new', last: true });
    await waitFor(() => ticks.some((t) => (t as { last?: boolean }).last), 3000, 'the last broadcast');
    expect(ticks.some((t) => (t as { room: string }).room === 'old')).toBe(false);

    // User channel subscriptions came back too (ioredis re-subscribes them).
    await waitFor(
      async () => {
        await a.mesh.publish('news', 'after the outage');
        return news.length > 0;
      },
      3000,
      'a channel message after the outage',
    );
    expect(news[0]).toBe('after the outage');
  });

  it('a Redis restart that lost every key: nodes fence, take new ids, clients reconnect and are reachable across nodes again', async () => {
    const keyPrefix = uniquePrefix();
    const a = await node({ keyPrefix, resolveClientId: clientIdFromQuery, ...FAST });
    const b = await node({ keyPrefix, resolveClientId: clientIdFromQuery, ...FAST });
    const reconnecting = { reconnectInterval: 50, maxReconnectInterval: 200 };
    const onA = await client(`${a.url}?clientId=on-a`, reconnecting);
    const onB = await client(`${b.url}?clientId=on-b`, reconnecting);
    onB.c.handle('notify', async (data) => ({ received: data }));
    const before = { connA: onA.c.connectionId, connB: onB.c.connectionId };
    expect(await a.app.get(MeshClientService).invoke('on-b', 'notify', 1)).toEqual({ received: 1 });

    await redis.stop();
    await redis.start(); // same port(s), every key lost

    // Each node finds itself unlisted, closes its sockets (1012) and rejoins. The id counter
    // restarted with the data, so the new ids may equal the old ones, but never each other.
    await waitFor(
      () => onA.c.status === 'online' && onB.c.status === 'online' && onA.c.connectionId !== before.connA && onB.c.connectionId !== before.connB,
      10_000,
      'both clients reconnected',
    );
    await waitFor(async () => (await a.app.get(MeshClientService).getClient('on-b'))?.nodeId === b.mesh.nodeId, 5000, 'on-b registered again');

    expect(a.mesh.nodeId).not.toBe(b.mesh.nodeId);
    expect(await a.app.get(MeshClientService).invoke('on-b', 'notify', 2)).toEqual({ received: 2 });
    await a.mesh.broadcast('tick', { after: 'restart' });
    await waitFor(() => onA.ticks.length > 0 && onB.ticks.length > 0, 3000, 'a broadcast reaching both nodes');
    expect(await a.mesh.totalConnectionCount()).toBe(2);
  });

  it('a node whose id was taken by another process fences itself, and still hears its channel when it draws the same id again', async () => {
    const keyPrefix = uniquePrefix();
    const a = await node({ keyPrefix, resolveClientId: clientIdFromQuery, ...FAST });
    const b = await node({ keyPrefix, resolveClientId: clientIdFromQuery, ...FAST });
    const { c, ticks } = await client(`${a.url}?clientId=on-a`, { reconnectInterval: 50, maxReconnectInterval: 200 });
    c.handle('notify', async (data) => ({ received: data }));
    let closeCode: number | undefined;
    c.once('disconnect', (e) => void (closeCode = (e.detail as { code: number }).code));
    const id = a.mesh.nodeId;
    const firstConnection = c.connectionId;
    // What a Redis that lost its data leaves once another process drew this id: the token is not
    // ours. The counter is set so that A's rejoin draws the very same id again.
    const keys = new RedisKeyLayout(keyPrefix);
    await redis.admin.hset(keys.nodeInstances, id, 'another-process');
    await redis.admin.set(keys.nodeSequence, String(Number(id) - 1));
    expect(await waitFor(() => closeCode, 3000, 'node A closing its sockets')).toBe(1012);
    await waitFor(() => c.status === 'online' && c.connectionId !== firstConnection, 5000, 'the client reconnected');
    expect(a.mesh.nodeId).toBe(id);
    expect(await redis.admin.hget(keys.nodeInstances, id)).not.toBe('another-process');
    await waitFor(async () => (await b.app.get(MeshClientService).getClient('on-a'))?.nodeId === id, 3000, 'on-a registered again');
    // Node B reaches it through A's channel: an invoke and a direct push.
    expect(await b.app.get(MeshClientService).invoke('on-a', 'notify', 'hello')).toEqual({ received: 'hello' });
    await b.mesh.sendTo(c.connectionId!, 'tick', { from: 'b' });
    await waitFor(() => ticks.length === 1, 3000, 'the push from node B');
  });

  it('app.close() finishes while Redis is down (bounded by drainTimeout + 2 s + nodeTtl) instead of waiting for it', async () => {
    const t = await startApp({ mesh: { redis: redis.redisOption(), keyPrefix: uniquePrefix(), drainTimeout: 500, nodeHeartbeatInterval: 200, nodeTtl: 1000 } });
    const { c } = await client(t.url);
    await redis.stop();
    // Unbounded, close() would wait on ioredis's retries far past this test's timeout.
    await t.close();
    expect(c.status).toBe('offline');
    await redis.start();
  });
});
