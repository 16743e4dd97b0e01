import { Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { MeshClient } from '../../client';
import {
  ClientDisconnectedError,
  ClientInvocationError,
  ClientNotFoundError,
  MeshClientMemoryRegistry,
  MeshClientRedisRegistry,
  MeshClientService,
  MeshNodeUnreachableError,
  MeshRequestTimeoutError,
  type MeshClientRegistryBackend,
  type RegisteredClient,
} from '../../lib';
import { NodeBus } from '../../lib/cluster/node-bus';
import { decodeNodeMessage, encodeNodeMessage } from '../../lib/cluster/node-message';
import { NodeProcess } from '../support/node-process';
import { RawClient } from '../support/raw-client';
import { RedisKeyLayout } from '../../lib/state/redis/key-layout';
import { adminRedis, listNodes, publishFromOutside, startApp, subscribeFromOutside, uniquePrefix, waitFor, type TestApp } from '../support/test-app';

const FAST = { nodeHeartbeatInterval: 100, nodeTtl: 500 };
const clientIdFromQuery = (connection: { id: string }, request: { url?: string }) =>
  new URL(request.url ?? '/', 'http://x').searchParams.get('clientId') ?? connection.id;

/** Redis connections the tests opened, closed after each test. */
const opened: Redis[] = [];
const openRedis = (): Redis => {
  const redis = adminRedis();
  opened.push(redis);
  return redis;
};
/** Outside subscribers the tests opened, closed after each test. */
const closers: Array<() => void> = [];
afterEach(() => {
  for (const redis of opened.splice(0)) redis.disconnect();
  for (const close of closers.splice(0)) close();
});

describe.each([
  [
    'Redis',
    async () => {
      const redis = openRedis();
      const keyPrefix = uniquePrefix();
      await listNodes(redis, keyPrefix, ['1', '2']);
      return new MeshClientRedisRegistry(redis, keyPrefix);
    },
  ],
  ['memory', async () => new MeshClientMemoryRegistry()],
])('client registry backend (%s)', (_name, create) => {
  let backend: MeshClientRegistryBackend<unknown>;

  beforeEach(async () => {
    backend = await create();
  });

  it('register records connectedAt and metadata; a move reports the superseded node', async () => {
    expect(await backend.register('c1', '1', { role: 'admin' }, 1000)).toEqual({ supersededNodeId: null, epoch: expect.any(Number) });
    expect(await backend.getClient('c1')).toMatchObject({ clientId: 'c1', nodeId: '1', connectedAt: 1000, metadata: { role: 'admin' } });
    const moved = await backend.register('c1', '2', null, 2000);
    expect(moved.supersededNodeId).toBe('1');
    expect(await backend.listClientsForNode('1')).toEqual([]);
    expect((await backend.listClientsForNode('2')).map((c) => c.clientId)).toEqual(['c1']);
    expect((await backend.register('c1', '2', null, 3000)).supersededNodeId).toBeNull();
  });

  it('only the owner may unregister or update metadata; an old epoch cannot unregister a newer registration', async () => {
    const first = await backend.register('c2', '1', null, 1);
    expect(await backend.unregister('c2', '2')).toBe(false);
    expect(await backend.updateMetadata('c2', '2', { x: 1 })).toBe(false);
    expect(await backend.updateMetadata('c2', '1', { x: 1 })).toBe(true);
    const second = await backend.register('c2', '1', null, 2);
    expect(second.epoch).toBeGreaterThan(first.epoch);
    expect(await backend.unregister('c2', '1', first.epoch)).toBe(false);
    expect(await backend.getClient('c2')).not.toBeNull();
    expect(await backend.unregister('c2', '1', second.epoch)).toBe(true);
    expect(await backend.getClient('c2')).toBeNull();
  });

  it('metadata survives as JSON: empty arrays, large numbers, slashes, unicode', async () => {
    const metadata = { tags: [], nested: { list: [[], {}] }, id: 9007199254740991, float: 0.1234567890123456, path: 'a/b', name: 'Zoë ✓' };
    await backend.register('c3', '1', metadata, 1);
    expect((await backend.getClient('c3'))?.metadata).toEqual(metadata);
    expect((await backend.listClients()).find((c) => c.clientId === 'c3')?.metadata).toEqual(metadata);
  });

  it('cleanupNode returns only the clients still owned by the node, again until acknowledged', async () => {
    await backend.register('a', '7', { n: 1 }, 1);
    await backend.register('b', '7', null, 1);
    await backend.register('b', '8', null, 2);
    const orphans = await backend.cleanupNode('7');
    expect(orphans.map((c: RegisteredClient) => [c.clientId, c.nodeId, c.metadata])).toEqual([['a', '7', { n: 1 }]]);
    expect(await backend.getClient('a')).toBeNull();
    expect(await backend.getClient('b')).toMatchObject({ nodeId: '8' });
    expect((await backend.cleanupNode('7')).map((c) => c.clientId)).toEqual(['a']);
    await backend.acknowledgeCleanup('7');
    expect(await backend.cleanupNode('7')).toEqual([]);
  });

  it('concurrent registrations of one client from two nodes leave exactly one owner, listed once', async () => {
    await Promise.all(Array.from({ length: 40 }, (_, i) => backend.register('race', i % 2 ? '1' : '2', null, i)));
    const owner = (await backend.getClient('race'))!.nodeId;
    expect(['1', '2']).toContain(owner);
    const listed = [...(await backend.listClientsForNode('1')), ...(await backend.listClientsForNode('2'))].filter((c) => c.clientId === 'race');
    expect(listed).toHaveLength(1);
    expect(listed[0].nodeId).toBe(owner);
  });
});

describe('MeshClientService across two nodes', () => {
  let keyPrefix: string;
  let a: TestApp;
  let b: TestApp;
  const clients: MeshClient[] = [];

  beforeEach(async () => {
    keyPrefix = uniquePrefix();
    a = await startApp({ mesh: { keyPrefix, resolveClientId: clientIdFromQuery, ...FAST } });
    b = await startApp({ mesh: { keyPrefix, resolveClientId: clientIdFromQuery, ...FAST } });
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await a.close();
    await b.close();
  });

  async function connect(app: TestApp, clientId: string, handle = true): Promise<MeshClient> {
    const c = new MeshClient(`${app.url}?clientId=${clientId}`, { shouldReconnect: false });
    clients.push(c);
    if (handle) {
      c.handle('notify', async (data) => ({ received: data }));
      c.handle('fail', async () => {
        throw Object.assign(new Error('nope'), { code: 'ENOPE' });
      });
    }
    await c.connect();
    return c;
  }

  type Broadcasts = { 'cache:flush': { key: string } };
  const service = (app: TestApp) => app.app.get<MeshClientService<unknown, Broadcasts>>(MeshClientService);

  it('invokes a client on the other node and on this node, with the same result', async () => {
    await connect(b, 'bob');
    expect(await service(a).invoke('bob', 'notify', { n: 1 })).toEqual({ received: { n: 1 } });
    expect(await service(b).invoke('bob', 'notify', { n: 2 })).toEqual({ received: { n: 2 } });
    expect(await service(a).getClient('bob')).toMatchObject({ clientId: 'bob', nodeId: b.mesh.nodeId });
  });

  it('the same error classes and fields locally and remotely', async () => {
    await connect(b, 'bob');
    for (const caller of [a, b]) {
      await expect(service(caller).invoke('nobody', 'notify', {})).rejects.toBeInstanceOf(ClientNotFoundError);
      const failure = await service(caller).invoke('bob', 'fail', {}).catch((e) => e);
      expect(failure).toBeInstanceOf(ClientInvocationError);
      expect(failure).toMatchObject({ message: 'nope', code: 'ENOPE' });
      const missing = (await service(caller).invoke('bob', 'no-such-handler', {}).catch((e) => e)) as ClientInvocationError;
      expect(missing).toBeInstanceOf(ClientInvocationError);
      expect(missing.code).toBe('ENOTFOUND');
    }
    // Registered on B with no socket there: B answers "disconnected".
    await service(b).registry.register('ghost', null);
    for (const caller of [a, b]) await expect(service(caller).invoke('ghost', 'notify', {})).rejects.toBeInstanceOf(ClientDisconnectedError);
  });

  it('bad arguments, and data JSON cannot carry, reject the invoke (never throw), locally and remotely', async () => {
    await connect(b, 'bob');
    expect(await service(a).invoke('bob', 'notify', 1)).toEqual({ received: 1 }); // A now remembers B as bob's node
    const attempt = (run: () => Promise<unknown>): Promise<unknown> | string => {
      try {
        return run();
      } catch (error) {
        return `threw ${String(error)}`;
      }
    };
    for (const caller of [a, b]) {
      await expect(attempt(() => service(caller).invoke('bob', 'notify', { big: 1n }))).rejects.toBeInstanceOf(TypeError);
      await expect(attempt(() => service(caller).invoke('', 'notify', {}))).rejects.toBeInstanceOf(TypeError);
      await expect(attempt(() => service(caller).invoke('bob', 'notify', {}, 0))).rejects.toBeInstanceOf(TypeError);
    }
    expect(await service(a).invoke('bob', 'notify', 2)).toEqual({ received: 2 });
  });

  it('a client that never answers times out, locally and remotely, and nothing hangs', async () => {
    const silent = await RawClient.connect(`${b.url}?clientId=silent`);
    try {
      for (const caller of [a, b]) {
        const error = await service(caller).invoke('silent', 'notify', {}, 300).catch((e) => e);
        expect(error).toBeInstanceOf(MeshRequestTimeoutError);
      }
      const invokes = silent.frames.filter((f) => f.command === 'mesh/invoke');
      expect(invokes).toHaveLength(2);
      expect(typeof invokes[0].id).toBe('string');
      expect(invokes[0].payload).toEqual({ type: 'notify', data: {} });
    } finally {
      await silent.close();
    }
  });

  it('a client reconnecting on the other node supersedes the old socket; only a real departure counts as disconnected', async () => {
    const left: string[] = [];
    service(a).onClientDisconnected((clientId) => void left.push(`a:${clientId}`));
    service(b).onClientDisconnected((clientId) => void left.push(`b:${clientId}`));
    const first = await connect(a, 'mover');
    const closed = new Promise<number>((resolve) => first.once('close', () => resolve(1)));
    await connect(b, 'mover');
    await closed;
    await waitFor(async () => (await service(a).getClient('mover'))?.nodeId === b.mesh.nodeId, 3000, 'registry move');
    expect(await service(a).invoke('mover', 'notify', 'hi')).toEqual({ received: 'hi' });
    expect(left).toEqual([]);
  });

  it('a superseded client is closed with 4001 and does not reconnect to take its id back', async () => {
    const first = new MeshClient(`${a.url}?clientId=dup`, { reconnectInterval: 20, maxReconnectInterval: 50 });
    clients.push(first);
    await first.connect();
    // A control client with the same backoff, dropped at the same moment, shows when a reconnect would have happened.
    const control = new MeshClient(`${a.url}?clientId=control-dup`, { reconnectInterval: 20, maxReconnectInterval: 50 });
    clients.push(control);
    await control.connect();
    const closed = new Promise<unknown>((resolve) => first.once('close', (e) => resolve(e.detail)));
    await connect(b, 'dup');
    expect(await closed).toMatchObject({ code: 4001 });
    const controlBack = new Promise((resolve) => control.once('reconnect', resolve));
    a.mesh.getConnection(control.connectionId!)!.terminate();
    await controlBack;
    expect(first.status).toBe('offline');
    expect(await service(a).getClient('dup')).toMatchObject({ nodeId: b.mesh.nodeId });
  });

  it('a late kick carrying an older epoch never closes a newer connection', async () => {
    const c = await connect(b, 'flap');
    const current = (await service(b).getClient('flap'))!;
    const bus = a.app.get(NodeBus);
    expect(await bus.request(b.mesh.nodeId, 'mesh:kick', { clientId: 'flap', epoch: current.epoch - 1 }, 2000)).toBe(false);
    expect(await service(a).invoke('flap', 'notify', 1)).toEqual({ received: 1 });
    expect(c.status).toBe('online');
  });

  it('a reply published by anyone but the node asked is ignored', async () => {
    b.app.get(NodeBus).registerHandler('slow-echo', async (data: unknown) => {
      await new Promise((resolve) => setTimeout(resolve, 200));
      return data;
    });
    const bus = a.app.get(NodeBus);
    // Read the request on B's channel, as anything that can subscribe there could, to learn its id.
    const keys = new RedisKeyLayout(keyPrefix);
    let seen!: (requestId: string) => void;
    const requestSeen = new Promise<string>((resolve) => (seen = resolve));
    const unsubscribe = await subscribeFromOutside(keys.nodeChannel(b.mesh.nodeId), (text) => {
      const message = decodeNodeMessage(text);
      if ('kind' in message && message.kind === 'request') seen(message.requestId);
    });
    closers.push(unsubscribe);
    const answer = bus.request(b.mesh.nodeId, 'slow-echo', 'from B', 3000);
    const requestId = await requestSeen;
    // A forged reply to that request id on A's channel, claiming to come from node 999 and from
    // a node that was not asked (A itself).
    const redis = openRedis();
    for (const origin of ['999', a.mesh.nodeId]) {
      const forged = encodeNodeMessage({ kind: 'reply', origin, requestId, body: JSON.stringify({ data: 'forged' }) });
      await publishFromOutside(redis, keys.nodeChannel(a.mesh.nodeId), forged);
    }
    expect(await answer).toBe('from B');
  });

  it('invokes that leave a node in one turn share a publish, and each gets its own answer', async () => {
    for (const id of ['p0', 'p1', 'p2', 'p3']) await connect(b, id);
    for (const id of ['p0', 'p1', 'p2', 'p3']) await service(a).invoke(id, 'notify', 'warm'); // A now remembers B for each
    const published: string[] = [];
    closers.push(await subscribeFromOutside(new RedisKeyLayout(keyPrefix).nodeChannel(b.mesh.nodeId), (text) => published.push(text)));
    const answers = await Promise.all(['p0', 'p1', 'p2', 'p3', 'p0', 'p1'].map((id, n) => service(a).invoke(id, 'notify', { id, n })));
    expect(answers).toEqual(['p0', 'p1', 'p2', 'p3', 'p0', 'p1'].map((id, n) => ({ received: { id, n } })));
    await waitFor(() => published.length > 0, 2000, 'the publish to B');
    expect(published).toHaveLength(1);
    const batch = decodeNodeMessage(published[0]);
    expect(batch).toMatchObject({ kind: 'batch', origin: a.mesh.nodeId });
    expect('messages' in batch && batch.messages.map((m) => m.kind)).toEqual(Array(6).fill('request'));
  });

  it('requests batched to a node nobody holds all fail as unreachable', async () => {
    const bus = a.app.get(NodeBus);
    const results = await Promise.all([1, 2, 3].map((n) => bus.request('424242', 'mesh:kick', { clientId: `x${n}`, epoch: 1 }, 2000).catch((e) => e)));
    for (const result of results) expect(result).toBeInstanceOf(MeshNodeUnreachableError);
  });

  it('updateClientMetadata works from any node, written by the owner only', async () => {
    await connect(b, 'meta');
    expect(await service(a).updateClientMetadata('meta', { plan: 'pro', tags: [] })).toBe(true);
    expect((await service(b).getClient('meta'))?.metadata).toEqual({ plan: 'pro', tags: [] });
    expect(await service(a).registry.updateMetadata('meta', { plan: 'hacked' })).toBe(false);
    expect(await service(a).updateClientMetadata('nobody', {})).toBe(false);
  });

  it('node broadcasts reach typed handlers on every node, skipSelf skips the sender', async () => {
    const got: string[] = [];
    service(a).registerBroadcastHandler('cache:flush', (data: { key: string }, from) => void got.push(`a:${data.key}:${from}`));
    service(b).registerBroadcastHandler('cache:flush', (data: { key: string }) => void got.push(`b:${data.key}`));
    await service(a).broadcast('cache:flush', { key: 'k1' });
    await service(a).broadcast('cache:flush', { key: 'k2' }, { skipSelf: true });
    await waitFor(() => got.length === 3, 3000, 'broadcasts');
    expect(got.sort()).toEqual([`a:k1:${a.mesh.nodeId}`, 'b:k1', 'b:k2']);
  });
});

describe('orphaned clients of a dead node', () => {
  it('the leader reports exactly once the clients that did not reconnect elsewhere', async () => {
    const keyPrefix = uniquePrefix();
    const survivor = await startApp({ mesh: { keyPrefix, resolveClientId: clientIdFromQuery, ...FAST } });
    const doomed = await NodeProcess.start({ keyPrefix, env: { MESH_NODE_HEARTBEAT_INTERVAL: '100', MESH_NODE_TTL: '500' } });
    const reports: Array<[string, string[]]> = [];
    survivor.app.get(MeshClientService).onNodeClientsOrphaned((nodeId, orphans) => void reports.push([nodeId, orphans.map((o) => o.clientId).sort()]));
    const stay = new MeshClient(await doomed.urlAs('stays-behind'), { shouldReconnect: false });
    const move = new MeshClient(await doomed.urlAs('moves-on'), { shouldReconnect: false });
    let moved: MeshClient | undefined;
    try {
      await stay.connect();
      await move.connect();
      const { nodeId } = (await stay.command('stats')) as { nodeId: string };
      await doomed.stop('SIGKILL');
      moved = new MeshClient(`${survivor.url}?clientId=moves-on`, { shouldReconnect: false });
      await moved.connect();
      await waitFor(() => reports.length > 0, 5000, 'orphan report');
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(reports).toEqual([[nodeId, ['stays-behind']]]);
      expect(await survivor.app.get(MeshClientService).getClient('moves-on')).toMatchObject({ nodeId: survivor.mesh.nodeId });
      expect(await survivor.app.get(MeshClientService).getClient('stays-behind')).toBeNull();
    } finally {
      await Promise.all([stay.close(), move.close(), moved?.close()]);
      await doomed.stop();
      await survivor.close();
    }
  });
});

describe('cleanup interrupted by a leader crash', () => {
  it('the next leader finds the pending dead node and reports its orphans once', async () => {
    const keyPrefix = uniquePrefix();
    const redis = adminRedis();
    const keys = new RedisKeyLayout(keyPrefix);
    // The state a leader leaves when it dies after removing node 999's connections but before
    // reporting its clients: the node is pending in dead-nodes and its clients are still registered.
    const registry = new MeshClientRedisRegistry(redis, keyPrefix);
    await registry.register('left-behind', '999', { n: 1 }, 1);
    await redis.sadd(keys.deadNodes, '999');
    const reports: Array<[string, string[]]> = [];
    @Injectable()
    class OrphanWatcher {
      constructor(clients: MeshClientService) {
        // Registered before the node's first heartbeat, as an app would in a provider.
        clients.onNodeClientsOrphaned((nodeId, orphans) => void reports.push([nodeId, orphans.map((o) => o.clientId)]));
      }
    }
    const t = await startApp({ mesh: { keyPrefix, ...FAST }, providers: [OrphanWatcher] });
    try {
      await waitFor(async () => (await redis.scard(keys.deadNodes)) === 0, 5000, 'pending cleanup finished');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(reports).toEqual([['999', ['left-behind']]]);
      expect(await registry.getClient('left-behind')).toBeNull();
      expect(await redis.exists(keys.nodeOrphans('999'))).toBe(0);
    } finally {
      await t.close();
      redis.disconnect();
    }
  });
});

describe('custom delivery', () => {
  it('clientInvokeFn delivers invokes to clients on this node instead of the wire', async () => {
    const keyPrefix = uniquePrefix();
    const calls: unknown[] = [];
    const t = await startApp({
      mesh: {
        keyPrefix,
        resolveClientId: clientIdFromQuery,
        clientInvokeFn: async (clientId, type, data, timeoutMs) => {
          calls.push([clientId, type, data, timeoutMs]);
          return { via: 'custom' };
        },
      },
    });
    const c = await RawClient.connect(`${t.url}?clientId=custom`);
    try {
      expect(await t.app.get(MeshClientService).invoke('custom', 'notify', { a: 1 }, 1234)).toEqual({ via: 'custom' });
      expect(calls).toEqual([['custom', 'notify', { a: 1 }, 1234]]);
      expect(c.frames.some((f) => f.command === 'mesh/invoke')).toBe(false);
    } finally {
      await c.close();
      await t.close();
    }
  });
});

/** The Redis registry, counting its client lookups (what a remembered route saves). */
class CountingRegistry extends MeshClientRedisRegistry<unknown> {
  reads = 0;
  override getClient(clientId: string): Promise<RegisteredClient<unknown> | null> {
    this.reads++;
    return super.getClient(clientId);
  }
}

describe('invoke routes (remembered owner nodes)', () => {
  let keyPrefix: string;
  const apps: TestApp[] = [];
  const clients: MeshClient[] = [];

  async function node(extra: Record<string, unknown> = {}): Promise<{ app: TestApp; registry: CountingRegistry }> {
    const registry = new CountingRegistry(openRedis(), keyPrefix);
    const app = await startApp({ mesh: { keyPrefix, resolveClientId: clientIdFromQuery, registryBackend: registry, ...FAST, ...extra } });
    apps.push(app);
    return { app, registry };
  }

  async function connect(app: TestApp, clientId: string, handlers: Record<string, (data: unknown) => unknown> = {}): Promise<MeshClient> {
    const c = new MeshClient(`${app.url}?clientId=${clientId}`, { shouldReconnect: false });
    clients.push(c);
    c.handle('notify', async (data) => ({ received: data, at: app.mesh.nodeId }));
    for (const [type, fn] of Object.entries(handlers)) c.handle(type, async (data) => fn(data));
    await c.connect();
    return c;
  }

  const service = (app: TestApp) => app.app.get(MeshClientService);
  const ownerIs = (from: TestApp, clientId: string, owner: TestApp | null) =>
    waitFor(async () => ((await service(from).getClient(clientId))?.nodeId ?? null) === (owner ? owner.mesh.nodeId : null), 3000, `${clientId} registered on ${owner?.mesh.nodeId ?? 'no node'}`);

  beforeEach(() => {
    keyPrefix = uniquePrefix();
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(apps.splice(0).map((t) => t.close().catch(() => undefined)));

  });

  it('repeated invokes of a remote client read the registry once; local clients never', async () => {
    const a = await node();
    const b = await node();
    await connect(b.app, 'bob');
    for (let i = 0; i < 5; i++) expect(await service(a.app).invoke('bob', 'notify', i)).toEqual({ received: i, at: b.app.mesh.nodeId });
    expect(a.registry.reads).toBe(1);
    const readsOnB = b.registry.reads;
    expect(await service(b.app).invoke('bob', 'notify', 'local')).toEqual({ received: 'local', at: b.app.mesh.nodeId });
    expect(b.registry.reads).toBe(readsOnB);
  });

  it('a client that moved to a third node is found again through the registry, within one invoke', async () => {
    const a = await node();
    const b = await node();
    const c = await node();
    const first = await connect(b.app, 'hopper');
    expect(await service(a.app).invoke('hopper', 'notify', 1)).toMatchObject({ at: b.app.mesh.nodeId });
    await first.close();
    await ownerIs(a.app, 'hopper', null);
    await connect(c.app, 'hopper');
    await ownerIs(a.app, 'hopper', c.app);
    const before = a.registry.reads;
    expect(await service(a.app).invoke('hopper', 'notify', 2)).toMatchObject({ received: 2, at: c.app.mesh.nodeId });
    expect(a.registry.reads).toBe(before + 1);
    // The new route is remembered: no further reads.
    expect(await service(a.app).invoke('hopper', 'notify', 3)).toMatchObject({ at: c.app.mesh.nodeId });
    expect(a.registry.reads).toBe(before + 1);
  });

  it('a route to a node that is gone is dropped; the client is reached where it reconnected', async () => {
    const a = await node();
    const b = await node();
    const c = await node();
    await connect(b.app, 'survivor');
    expect(await service(a.app).invoke('survivor', 'notify', 1)).toMatchObject({ at: b.app.mesh.nodeId });
    await b.app.close();
    await connect(c.app, 'survivor');
    await ownerIs(a.app, 'survivor', c.app);
    expect(await service(a.app).invoke('survivor', 'notify', 2)).toMatchObject({ received: 2, at: c.app.mesh.nodeId });
  });

  it('a client that left for good is ClientNotFoundError, as without a remembered route', async () => {
    const a = await node();
    const b = await node();
    const gone = await connect(b.app, 'leaver');
    await service(a.app).invoke('leaver', 'notify', 1);
    await gone.close();
    await ownerIs(a.app, 'leaver', null);
    await expect(service(a.app).invoke('leaver', 'notify', 2)).rejects.toBeInstanceOf(ClientNotFoundError);
  });

  it('a client whose socket closes during the call fails it once: its handler is not called again on its new node', async () => {
    const a = await node();
    const b = await node();
    const c = await node();
    const calls: string[] = [];
    let started!: () => void;
    const handlerStarted = new Promise<void>((resolve) => (started = resolve));
    await connect(b.app, 'dropper', {
      work: () => {
        calls.push('b');
        started();
        return new Promise(() => undefined); // never answers: the socket is superseded first
      },
    });
    expect(await service(a.app).invoke('dropper', 'notify', 0)).toMatchObject({ at: b.app.mesh.nodeId });
    const pending = service(a.app).invoke('dropper', 'work', {}, 3000).catch((error) => error);
    await handlerStarted;
    await connect(c.app, 'dropper', { work: () => void calls.push('c') });
    const error = await pending;
    expect(error).toBeInstanceOf(ClientDisconnectedError);
    expect(calls).toEqual(['b']);
  });

  it('an invoke that arrives while the client is registering (the registry already names its node) waits for it', async () => {
    const a = await node();
    // B's registry writes at once but answers 300 ms later: the window between "the registry
    // names B" and "B knows the socket", made wide.
    class SlowRegistry extends MeshClientRedisRegistry<unknown> {
      override async register(...args: Parameters<MeshClientRedisRegistry<unknown>['register']>) {
        const result = await super.register(...args);
        await new Promise((resolve) => setTimeout(resolve, 300));
        return result;
      }
    }
    const slow = new SlowRegistry(openRedis(), keyPrefix);
    const b = await startApp({ mesh: { keyPrefix, resolveClientId: clientIdFromQuery, registryBackend: slow, ...FAST } });
    apps.push(b);
    const connecting = connect(b, 'late');
    await ownerIs(a.app, 'late', b);
    expect(await service(a.app).invoke('late', 'notify', 'early')).toEqual({ received: 'early', at: b.mesh.nodeId });
    await connecting;
  });

  it('with clientInvokeFn, ClientDisconnectedError from a stale route sends the invoke to the new owner', async () => {
    // Clients delivered by a custom transport: each node knows which are present on it.
    const present = new Map<string, Set<string>>();
    const custom = (name: string) => ({
      clientInvokeFn: async (clientId: string, type: string, data: unknown) => {
        if (!present.get(name)?.has(clientId)) throw new ClientDisconnectedError(clientId);
        return { via: name, type, data };
      },
    });
    const a = await node(custom('a'));
    const b = await node(custom('b'));
    const c = await node(custom('c'));
    present.set('b', new Set(['roamer']));
    await service(b.app).registry.register('roamer');
    expect(await service(a.app).invoke('roamer', 'notify', 1)).toEqual({ via: 'b', type: 'notify', data: 1 });
    present.set('b', new Set());
    present.set('c', new Set(['roamer']));
    await service(c.app).registry.register('roamer');
    expect(await service(a.app).invoke('roamer', 'notify', 2)).toEqual({ via: 'c', type: 'notify', data: 2 });
    present.set('c', new Set());
    await expect(service(a.app).invoke('roamer', 'notify', 3)).rejects.toBeInstanceOf(ClientDisconnectedError);
  });

  it('clientRouteCacheSize bounds the remembered routes; 0 reads the registry every time', async () => {
    const small = await node({ clientRouteCacheSize: 1 });
    const none = await node({ clientRouteCacheSize: 0 });
    const b = await node();
    await connect(b.app, 'x');
    await connect(b.app, 'y');
    for (const id of ['x', 'y', 'x', 'x']) await service(small.app).invoke(id, 'notify', id);
    expect(small.registry.reads).toBe(3);
    for (const id of ['x', 'x', 'x']) await service(none.app).invoke(id, 'notify', id);
    expect(none.registry.reads).toBe(3);
  });

  it('rejects a negative clientRouteCacheSize at start-up', async () => {
    await expect(startApp({ mesh: { keyPrefix, clientRouteCacheSize: -1 } })).rejects.toThrow('"clientRouteCacheSize" must be a non-negative integer');
  });
});
