import type { Redis } from 'ioredis';
import { MeshClient, MeshConnectionLostError } from '../../client';
import { ConnectionManager } from '../../lib';
import { NodeProcess } from '../support/node-process';
import { RawClient } from '../support/raw-client';
import { RedisKeyLayout } from '../../lib/state/redis/key-layout';
import { adminRedis, scanKeys, sleep, startApp, uniquePrefix, waitFor, type TestApp } from '../support/test-app';

/** Short cluster timings so dead nodes are found within about a second. */
const FAST = { nodeHeartbeatInterval: 100, nodeTtl: 500 };
const FAST_ENV = { MESH_NODE_HEARTBEAT_INTERVAL: '100', MESH_NODE_TTL: '500' };

describe('liveness across nodes', () => {
  let redis: Redis;
  const apps: TestApp[] = [];
  const nodes: NodeProcess[] = [];
  const clients: MeshClient[] = [];

  beforeAll(() => {
    redis = adminRedis();
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(nodes.splice(0).map((n) => n.stop()));
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });

  afterAll(() => redis.disconnect());

  async function app(keyPrefix: string, extra: Record<string, unknown> = {}): Promise<TestApp> {
    const t = await startApp({ mesh: { keyPrefix, ...FAST, ...extra } });
    apps.push(t);
    return t;
  }

  async function node(keyPrefix: string, port?: number): Promise<NodeProcess> {
    const n = await NodeProcess.start({ keyPrefix, port, env: FAST_ENV });
    nodes.push(n);
    return n;
  }

  function client(url: string, shouldReconnect = true): MeshClient {
    const c = new MeshClient(url, { reconnectInterval: 50, maxReconnectInterval: 200, shouldReconnect });
    clients.push(c);
    return c;
  }

  it("a SIGKILLed node's connections, rooms and metadata are removed by the survivors", async () => {
    const keyPrefix = uniquePrefix();
    const survivor = await app(keyPrefix);
    const doomed = await node(keyPrefix);
    const c = client(await doomed.urlAs('u1'), false);
    await c.connect();
    const id = c.connectionId!;
    await c.command('join-room', { roomName: 'lobby' });
    const { nodeId } = (await c.command('stats')) as { nodeId: string };
    expect(await survivor.mesh.getRoomMembers('lobby')).toEqual([id]);
    expect(await survivor.app.get(ConnectionManager).getMetadata(id)).toMatchObject({ userId: 'u1' });

    await doomed.stop('SIGKILL');
    const keys = new RedisKeyLayout(keyPrefix);
    await waitFor(async () => (await redis.exists(keys.connection(id))) === 0, 5000, 'dead node cleanup');
    expect(await survivor.mesh.getRoomMembers('lobby')).toEqual([]);
    expect(await survivor.app.get(ConnectionManager).getMetadata(id)).toBeNull();
    expect(await redis.zscore(keys.nodes, nodeId)).toBeNull();
    expect(await redis.exists(keys.nodeConnections(nodeId))).toBe(0);
    expect(await redis.exists(keys.connectionRooms(id))).toBe(0);
  });

  it('a client whose node is killed reconnects to the restarted node, gets its channel back and the next message', async () => {
    const keyPrefix = uniquePrefix();
    const publisher = await app(keyPrefix);
    const first = await node(keyPrefix);
    const c = client(first.url);
    await c.connect();
    const oldId = c.connectionId;
    const received: string[] = [];
    expect(await c.subscribe('chat:general', (m) => received.push(m), { historyLimit: 5 })).toMatchObject({ success: true });
    await publisher.mesh.publish('chat:general', 'before');
    await waitFor(() => received.includes('before'), 3000, 'first message');

    const reconnected = new Promise<void>((resolve) => c.once('reconnect', () => resolve()));
    const port = first.port;
    await first.stop('SIGKILL');
    await node(keyPrefix, port);
    await reconnected;
    expect(c.connectionId).not.toBe(oldId);
    await publisher.mesh.publish('chat:general', 'after');
    await waitFor(() => received.includes('after'), 5000, 'message after reconnect');
    expect(received.filter((m) => m === 'after')).toHaveLength(1);
  });

  it('a node paused past the node TTL fences itself: its clients are told to reconnect and it rejoins under a new id', async () => {
    const keyPrefix = uniquePrefix();
    await app(keyPrefix);
    const paused = await node(keyPrefix);
    const c = client(paused.url);
    await c.connect();
    const before = (await c.command('stats')) as { nodeId: string; connectionId: string };
    const reconnected = new Promise<void>((resolve) => c.once('reconnect', () => resolve()));

    paused.signal('SIGSTOP');
    const keys = new RedisKeyLayout(keyPrefix);
    await waitFor(async () => (await redis.zscore(keys.nodes, before.nodeId)) === null, 5000, 'the leader declaring the node dead');
    paused.signal('SIGCONT');
    await reconnected;

    const after = (await c.command('stats')) as { nodeId: string; connectionId: string };
    expect(after.nodeId).not.toBe(before.nodeId);
    expect(Number(after.nodeId)).toBeGreaterThan(Number(before.nodeId));
    expect(after.connectionId).not.toBe(before.connectionId);
    expect(await redis.hget(keys.connection(after.connectionId), 'node')).toBe(after.nodeId);
    expect(await redis.exists(keys.connection(before.connectionId))).toBe(0);
  });

  it('a client that stops answering pings is closed and its state is gone as seen from the other node', async () => {
    const keyPrefix = uniquePrefix();
    const a = await app(keyPrefix);
    const b = await app(keyPrefix, { pingInterval: 100, latencyInterval: 1000 });
    const silent = await RawClient.connect(b.url);
    await b.mesh.addToRoom('lobby', silent.connectionId!);
    await b.app.get(ConnectionManager).setMetadata(silent.connectionId!, { x: 1 });
    expect(await a.mesh.getRoomMembers('lobby')).toEqual([silent.connectionId]);
    await new Promise((resolve) => silent.socket.once('close', resolve));
    await waitFor(async () => (await a.mesh.getRoomMembers('lobby')).length === 0, 3000, 'room cleanup');
    expect(await a.app.get(ConnectionManager).getMetadata(silent.connectionId!)).toBeNull();
    expect(await a.mesh.totalConnectionCount()).toBe(0);
  });

  it('commands in flight when the socket drops are rejected at once with ECONNLOST, not at their timeout', async () => {
    const t = await app(uniquePrefix(), { drainTimeout: 100 });
    t.mesh.registerCommand('slow', () => new Promise(() => undefined));
    const c = client(t.url, false);
    await c.connect();
    // The command's own timeout is far beyond the test's: only the drop can settle it in time.
    const running = new Promise<void>((resolve) => t.mesh.addMiddleware((ctx) => void (ctx.command === 'slow' && resolve())));
    const pending = c.command('slow', {}, { timeoutMs: 120_000 });
    await running;
    t.mesh.getConnection(c.connectionId!)!.terminate();
    await expect(pending).rejects.toBeInstanceOf(MeshConnectionLostError);
    await expect(pending).rejects.toMatchObject({ code: 'ECONNLOST' });
  });

  it('graceful shutdown answers commands in flight, refuses new ones clearly, closes with 1001 and leaves no keys of the node', async () => {
    const keyPrefix = uniquePrefix();
    const t = await startApp({ mesh: { keyPrefix, ...FAST } });
    t.mesh.registerCommand('slow', () => sleep(400).then(() => 'finished'));
    const raw = await RawClient.connect(t.url);
    await t.mesh.addToRoom('lobby', raw.connectionId!);
    const nodeId = t.mesh.nodeId;
    const closeCode = new Promise<number>((resolve) => raw.socket.once('close', (code) => resolve(code)));

    const started = new Promise<void>((resolve) => t.mesh.addMiddleware((ctx) => void (ctx.command === 'slow' && resolve())));
    const inFlight = raw.request('slow', {}, 1);
    await started;
    const closing = t.close();
    // Once the node says it no longer accepts, it is draining: a new request is refused.
    await waitFor(async () => !(await t.mesh.health()).accepting, 3000, 'the node to start draining');
    const late = raw.request('slow', {}, 2);
    expect((await inFlight).payload).toBe('finished');
    expect((await late).payload).toMatchObject({ code: 'ESERVER', name: 'ShutdownError' });
    await closing;
    expect(await closeCode).toBe(1001);
    const layout = new RedisKeyLayout(keyPrefix);
    const keys = await scanKeys(redis, `${keyPrefix}*`);
    expect(keys.filter((k) => k.includes(`{n:${nodeId}}`) || k.includes(raw.connectionId!) || k === layout.roomMembers('lobby'))).toEqual([]);
    expect(await redis.zscore(layout.nodes, nodeId)).toBeNull();
  });
});
