import { Controller, Injectable, UseGuards, type CanActivate } from '@nestjs/common';
import { MeshClient } from '../../client';
import { MeshCommand, MeshConfigurationError, MeshContext, MeshError, MeshPayload, MeshServer, type MeshCommandContext, type MeshModuleOptions } from '../../lib';
import type { Frame } from '../../lib/protocol';
import { RawClient } from '../support/raw-client';
import { TcpProxy } from '../support/tcp-proxy';
import { adminRedis, scanKeys, startApp, uniquePrefix, waitFor, type TestApp } from '../support/test-app';

/** What the test commands ran, on whichever node: the suite's nodes share this process. */
const runs: Array<{ command: string; node: string; key?: string }> = [];
const counters = new Map<string, number>();
/** `slow` waits for this to open. */
let gate: Promise<void> = Promise.resolve();
let openGate: () => void = () => undefined;
const closeGate = () => (gate = new Promise<void>((resolve) => (openGate = resolve)));

@Injectable()
class AllowAll implements CanActivate {
  canActivate(): boolean {
    return true;
  }
}

@Controller()
class CounterController {
  constructor(private readonly mesh: MeshServer) {}

  private ran(command: string, context: MeshCommandContext): void {
    runs.push({ command, node: this.mesh.nodeId, key: context.idempotencyKey });
  }

  @MeshCommand('increment', { idempotent: true })
  increment(@MeshPayload('key') key: string, @MeshContext() context: MeshCommandContext) {
    this.ran('increment', context);
    const value = (counters.get(key) ?? 0) + 1;
    counters.set(key, value);
    return { value, node: this.mesh.nodeId };
  }

  /** The same, through Nest's pipeline (a guard): the claim wraps it too. */
  @MeshCommand('guarded-increment', { idempotent: true })
  @UseGuards(AllowAll)
  guarded(@MeshPayload('key') key: string, @MeshContext() context: MeshCommandContext) {
    return this.increment(key, context);
  }

  @MeshCommand('slow', { idempotent: true })
  async slow(@MeshContext() context: MeshCommandContext) {
    this.ran('slow', context);
    await gate;
    return { node: this.mesh.nodeId, at: runs.length };
  }

  @MeshCommand('refuses', { idempotent: true })
  refuses(@MeshContext() context: MeshCommandContext) {
    this.ran('refuses', context);
    throw new MeshError('Out of stock', 'ESTOCK');
  }

  @MeshCommand('crashes', { idempotent: true })
  crashes(@MeshContext() context: MeshCommandContext) {
    this.ran('crashes', context);
    throw new Error('The database went away');
  }

  @MeshCommand('nothing', { idempotent: true })
  nothing(@MeshContext() context: MeshCommandContext): void {
    this.ran('nothing', context);
  }

  @MeshCommand('big', { idempotent: true })
  big(@MeshContext() context: MeshCommandContext) {
    this.ran('big', context);
    return 'x'.repeat(2000);
  }

  @MeshCommand('plain')
  plain(@MeshContext() context: MeshCommandContext) {
    this.ran('plain', context);
    return true;
  }
}

/** Connections may name their client id in the URL here (never do that outside a test): `?clientId=alice`. */
const clientIdFromQuery = (connection: { id: string }, request: { url?: string }) => new URL(request.url ?? '/', 'http://x').searchParams.get('clientId') ?? connection.id;

const MESH: MeshModuleOptions = { resolveClientId: clientIdFromQuery, maxIdempotentResultBytes: 1000, idempotencyWaitTimeout: 2000 };

const BEARER_KEY = () => `key-${Math.random().toString(36).slice(2)}-${Date.now()}`;

let nextId = 1;
/** Sends a request with an idempotency key by hand and resolves with its reply frame. */
async function keyed(client: RawClient, command: string, payload: unknown, idempotencyKey: unknown): Promise<Frame> {
  const id = nextId++;
  const reply = client.waitFor((f) => f.id === id, 10_000, client.frames.length);
  client.sendText(JSON.stringify({ id, command, payload, idempotencyKey }));
  return reply;
}

const runsOf = (command: string) => runs.filter((r) => r.command === command);

describe.each([
  ['two nodes on Redis', false],
  ['one process without Redis (memory store)', true],
])('idempotent commands, %s', (_label, memory) => {
  let a: TestApp;
  let b: TestApp;
  let proxy: TcpProxy;
  const keyPrefix = uniquePrefix();
  const clients: MeshClient[] = [];
  const raws: RawClient[] = [];
  const raw = async (app: TestApp, query = '') => {
    const client = await RawClient.connect(`${app.url}${query}`);
    raws.push(client);
    return client;
  };

  beforeAll(async () => {
    a = await startApp({ memory, controllers: [CounterController], mesh: { ...MESH, ...(memory ? {} : { keyPrefix }) } });
    // Without Redis the "other node" is the same process: the reconnect lands where it left.
    b = memory ? a : await startApp({ controllers: [CounterController], mesh: { ...MESH, keyPrefix } });
  });

  afterAll(async () => {
    await a.close();
    if (b !== a) await b.close();
  });

  beforeEach(async () => {
    runs.length = 0;
    openGate();
    proxy = await TcpProxy.start(a.port);
  });

  afterEach(async () => {
    openGate();
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(raws.splice(0).map((c) => c.close()));
    await proxy.close();
  });

  it('a reply black-holed, then retried after a reconnect to the other node, ran once and the retry gets the first reply', async () => {
    const client = new MeshClient(proxy.url(), { reconnectInterval: 20, maxReconnectInterval: 50 });
    clients.push(client);
    await client.connect();
    const firstConnection = client.connectionId!;
    const counter = `c-${Date.now()}`;
    proxy.blackHole('to-client');
    const reply = client.command('increment', { key: counter }, { retry: true, timeoutMs: 10_000 });
    await waitFor(() => runsOf('increment').length === 1, 5000, 'the first run');
    proxy.retarget(b.port);
    proxy.blackHole('none');
    proxy.cut();
    expect(await reply).toEqual({ value: 1, node: a.mesh.nodeId });
    expect(runsOf('increment')).toHaveLength(1);
    expect(counters.get(counter)).toBe(1);
    // The retry went out on a new connection, to the other node.
    expect(client.connectionId).not.toBe(firstConnection);
    expect(b.mesh.getConnection(client.connectionId!)).toBeDefined();
    expect(proxy.connectionsAccepted).toBe(2);
  });

  it('a retry sent while the first run is still going waits for it and gets its reply', async () => {
    closeGate();
    const first = await raw(a);
    const second = await raw(b);
    const key = BEARER_KEY();
    const firstReply = keyed(first, 'slow', {}, key);
    await waitFor(() => runsOf('slow').length === 1, 5000, 'the first run');
    const secondReply = keyed(second, 'slow', {}, key);
    // Frames of one connection are read in order: once this is answered, the retry is being handled.
    await second.command('mesh/noop');
    openGate();
    const [one, two] = await Promise.all([firstReply, secondReply]);
    expect(one.payload).toEqual({ node: a.mesh.nodeId, at: 1 });
    expect(two.payload).toEqual(one.payload);
    expect(two.command).toBe('slow');
    expect(runsOf('slow')).toHaveLength(1);
  });

  it('a retry that waits longer than idempotencyWaitTimeout gets EINPROGRESS, and the command ran once', async () => {
    closeGate();
    const first = await raw(a);
    const second = await raw(b);
    const key = BEARER_KEY();
    const firstReply = keyed(first, 'slow', {}, key);
    await waitFor(() => runsOf('slow').length === 1, 5000, 'the first run');
    const waited = await keyed(second, 'slow', {}, key);
    expect(waited.payload).toMatchObject({ code: 'EINPROGRESS', name: 'IdempotencyError' });
    expect((waited.payload as { error: string }).error).toContain('still going');
    openGate();
    const done = await firstReply;
    expect((await keyed(second, 'slow', {}, key)).payload).toEqual(done.payload);
    expect(runsOf('slow')).toHaveLength(1);
  });

  it('keys are scoped by client id: the same key from another client id runs its own command and never reads the first reply', async () => {
    const alice = await raw(a, '?clientId=alice');
    const bob = await raw(b, '?clientId=bob');
    const counter = `scoped-${Date.now()}`;
    const key = 'order-42'; // short keys are fine where a connection has a client id of its own
    expect((await keyed(alice, 'increment', { key: counter }, key)).payload).toMatchObject({ value: 1 });
    expect((await keyed(bob, 'increment', { key: counter }, key)).payload).toMatchObject({ value: 2 });
    // Alice's retry, from a new connection on the other node, gets her first reply.
    await alice.close();
    const aliceAgain = await raw(b, '?clientId=alice');
    expect((await keyed(aliceAgain, 'increment', { key: counter }, key)).payload).toMatchObject({ value: 1 });
    expect(runsOf('increment')).toHaveLength(2);
  });

  it('without a client id of its own a key is a bearer secret: shorter than 16 characters is refused', async () => {
    const anonymous = await raw(a);
    const reply = await keyed(anonymous, 'increment', { key: 'k' }, 'order-42');
    expect(reply.payload).toMatchObject({ code: 'EIDEMPOTENCY', name: 'IdempotencyError' });
    expect((reply.payload as { error: string }).error).toContain('at least 16 characters');
    expect(runsOf('increment')).toHaveLength(0);
  });

  it('refuses a key over 128 characters, or one that is not a string, with EBADFRAME; the connection stays usable', async () => {
    const client = await raw(a);
    for (const bad of ['k'.repeat(129), 42, '', 'has space', null]) {
      const reply = await keyed(client, 'increment', { key: 'k' }, bad);
      expect(reply.payload).toMatchObject({ code: 'EBADFRAME', name: 'ProtocolError' });
      expect((reply.payload as { error: string }).error).toContain('"idempotencyKey" must be a string of 1 to 128 visible ASCII characters');
    }
    expect(runsOf('increment')).toHaveLength(0);
    expect(await client.command('mesh/noop')).toBe(true);
    expect((await keyed(client, 'increment', { key: `ok-${Date.now()}` }, 'k'.repeat(128))).payload).toMatchObject({ value: 1 });
  });

  it('refuses a key on a command that is not idempotent, or on a built-in, without running it', async () => {
    const client = await raw(a);
    const key = BEARER_KEY();
    const plain = await keyed(client, 'plain', {}, key);
    expect(plain.payload).toMatchObject({ code: 'EIDEMPOTENCY', name: 'IdempotencyError' });
    expect((plain.payload as { error: string }).error).toContain('Command "plain" is not idempotent');
    expect((await keyed(client, 'mesh/noop', {}, key)).payload).toMatchObject({ code: 'EIDEMPOTENCY' });
    expect((await keyed(client, 'no-such-command', {}, key)).payload).toMatchObject({ code: 'ENOTFOUND' });
    expect(runsOf('plain')).toHaveLength(0);
  });

  it('refuses a key reused with another payload', async () => {
    const client = await raw(a);
    const key = BEARER_KEY();
    const counter = `reuse-${Date.now()}`;
    expect((await keyed(client, 'increment', { key: counter }, key)).payload).toMatchObject({ value: 1 });
    const reused = await keyed(client, 'increment', { key: `${counter}-other` }, key);
    expect(reused.payload).toMatchObject({ code: 'EIDEMPOTENCY' });
    expect((reused.payload as { error: string }).error).toContain('different payload');
    expect(runsOf('increment')).toHaveLength(1);
  });

  it('keeps an error the command chose, and lets a retry run again after an unexpected one', async () => {
    const client = await raw(a);
    const other = await raw(b);
    const refusedKey = BEARER_KEY();
    const refused = await keyed(client, 'refuses', {}, refusedKey);
    expect(refused.payload).toEqual({ error: 'Out of stock', code: 'ESTOCK', name: 'MeshError' });
    expect((await keyed(other, 'refuses', {}, refusedKey)).payload).toEqual(refused.payload);
    expect(runsOf('refuses')).toHaveLength(1);

    const crashKey = BEARER_KEY();
    expect((await keyed(client, 'crashes', {}, crashKey)).payload).toMatchObject({ code: 'ESERVER', error: 'The database went away' });
    expect((await keyed(other, 'crashes', {}, crashKey)).payload).toMatchObject({ code: 'ESERVER' });
    expect(runsOf('crashes')).toHaveLength(2);
  });

  it('keeps a reply without payload as one', async () => {
    const client = await raw(a);
    const key = BEARER_KEY();
    const first = await keyed(client, 'nothing', {}, key);
    const retry = await keyed(client, 'nothing', {}, key);
    expect('payload' in first).toBe(false);
    expect('payload' in retry).toBe(false);
    expect(runsOf('nothing')).toHaveLength(1);
  });

  it('sends a reply over maxIdempotentResultBytes without keeping it: a retry gets EIDEMPOTENCY and does not run it again', async () => {
    const client = await raw(a);
    const key = BEARER_KEY();
    expect((await keyed(client, 'big', {}, key)).payload).toBe('x'.repeat(2000));
    const retry = await keyed(client, 'big', {}, key);
    expect(retry.payload).toMatchObject({ code: 'EIDEMPOTENCY' });
    expect((retry.payload as { error: string }).error).toContain('its reply was not kept');
    expect(runsOf('big')).toHaveLength(1);
  });

  it('runs through Nest guards inside the claim, and gives the handler its key', async () => {
    const client = await raw(a);
    const key = BEARER_KEY();
    const counter = `guarded-${Date.now()}`;
    const first = await keyed(client, 'guarded-increment', { key: counter }, key);
    expect((await keyed(client, 'guarded-increment', { key: counter }, key)).payload).toEqual(first.payload);
    expect(runsOf('increment')).toEqual([{ command: 'increment', node: a.mesh.nodeId, key }]);
  });

  it('leaves requests without a key as they were: each one runs', async () => {
    const client = new MeshClient(a.url);
    clients.push(client);
    await client.connect();
    const counter = `unkeyed-${Date.now()}`;
    expect(await client.command('increment', { key: counter })).toMatchObject({ value: 1 });
    expect(await client.command('increment', { key: counter })).toMatchObject({ value: 2 });
    expect(runsOf('increment').map((r) => r.key)).toEqual([undefined, undefined]);
  });

  it('registerCommand takes { idempotent: { ttl } }: within the ttl a retry gets the first reply, after it the command runs again', async () => {
    let count = 0;
    const name = `registered-${memory ? 'memory' : 'redis'}`;
    for (const app of new Set([a, b])) app.mesh.registerCommand(name, () => ++count, { idempotent: { ttl: 300 } });
    const client = await raw(a);
    const key = BEARER_KEY();
    expect((await keyed(client, name, {}, key)).payload).toBe(1);
    expect((await keyed(client, name, {}, key)).payload).toBe(1);
    // Once the window has passed, the same key is a new request.
    await waitFor(async () => (await keyed(client, name, {}, key)).payload === 2, 5000, 'the key to expire');
    expect(() => a.mesh.registerCommand(`${name}-bad`, () => 1, { idempotent: { ttl: -1 } })).toThrow(MeshConfigurationError);
    expect(() => a.mesh.registerCommand(`${name}-bad2`, () => 1, { idempotent: 'yes' as never })).toThrow(/must be true, false or \{ ttl \}/);
  });

  if (!memory) {
    it('keeps each key in one hash under the key prefix with its own {ik:...} tag, with no trace of the key or the client id', async () => {
      const client = await raw(a, '?clientId=carol');
      const key = 'carols-key';
      const redis = adminRedis();
      try {
        const before = new Set(await scanKeys(redis, `${keyPrefix}{ik:*}`));
        await keyed(client, 'increment', { key: `tagged-${Date.now()}` }, key);
        const found = (await scanKeys(redis, `${keyPrefix}{ik:*}`)).filter((k) => !before.has(k));
        expect(found).toHaveLength(1);
        expect(found[0]).toMatch(/^t[0-9a-f]{8}:\{ik:[A-Za-z0-9_-]{43}\}$/);
        expect(found[0]).not.toContain('carol');
        const ttl = await redis.pttl(found[0]);
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(300_000);
      } finally {
        redis.disconnect();
      }
    });
  }
});

describe('idempotent commands: limits per connection', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startApp({ memory: true, controllers: [CounterController], mesh: { maxIdempotencyKeysPerConnection: 3 } });
  });

  afterAll(() => app.close());

  it('answers ELIMIT past maxIdempotencyKeysPerConnection keyed requests in the window, and still serves requests without a key', async () => {
    const client = await RawClient.connect(app.url);
    try {
      const counter = `limit-${Date.now()}`;
      for (let i = 0; i < 3; i++) expect((await keyed(client, 'increment', { key: counter }, BEARER_KEY())).payload).toMatchObject({ value: i + 1 });
      const over = await keyed(client, 'increment', { key: counter }, BEARER_KEY());
      expect(over.payload).toMatchObject({ code: 'ELIMIT', name: 'LimitError' });
      expect((over.payload as { error: string }).error).toContain('maxIdempotencyKeysPerConnection');
      expect(await client.command('increment', { key: counter })).toMatchObject({ value: 4 });
    } finally {
      await client.close();
    }
  });
});
