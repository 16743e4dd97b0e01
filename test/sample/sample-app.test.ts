import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import { MeshClient, MeshConnectionError } from '../../client';
import { MeshServer, MeshSessionTokens } from '../../lib';
import { AppModule } from '../../sample-app/app.module';
import { configFromEnv, type SampleConfig } from '../../sample-app/config';
import { clusterNodesText, onCluster, redisUrl, uniquePrefix, waitFor } from '../support/test-app';
import { parseClusterNodes } from '../../lib';

/** The sample's Redis settings on the suite's topology (REDIS_URL, or REDIS_CLUSTER_NODES in the cluster project). */
const sharedState = (): Partial<SampleConfig> => (onCluster() ? { redisClusterNodes: parseClusterNodes(clusterNodesText()) } : { redisUrl: redisUrl() });

const SECRET = 'a test secret of at least thirty-two bytes';

interface Sample {
  app: INestApplication;
  /** ws://.../mesh */
  url: string;
  /** http://... */
  http: string;
}

async function startSample(overrides: Partial<SampleConfig> = {}): Promise<Sample> {
  const config: SampleConfig = { port: 0, prefix: 'mesh', keyPrefix: uniquePrefix(), premiumUsers: ['alice'], ...overrides };
  const app = await NestFactory.create(AppModule.forConfig(config), { logger: false });
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as AddressInfo).port;
  return { app, url: `ws://127.0.0.1:${port}/mesh`, http: `http://127.0.0.1:${port}` };
}

async function login(sample: Sample, userId: unknown): Promise<Response> {
  return fetch(`${sample.http}/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ userId }) });
}

async function tokenFor(sample: Sample, userId: string): Promise<string> {
  const response = await login(sample, userId);
  expect(response.status).toBe(200);
  return ((await response.json()) as { token: string }).token;
}

async function connectAs(sample: Sample, userId?: string): Promise<MeshClient> {
  const client = new MeshClient(userId ? `${sample.url}?token=${encodeURIComponent(await tokenFor(sample, userId))}` : sample.url);
  await client.connect();
  return client;
}

/** The HTTP status a refused upgrade answered with. */
async function refusal(url: string): Promise<number | undefined> {
  const client = new MeshClient(url, { shouldReconnect: false });
  try {
    await client.connect();
    await client.close();
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(MeshConnectionError);
    return (error as MeshConnectionError).status;
  }
}

describe.each([
  ['on Redis', true],
  ['in one process without Redis', false],
])('sample app %s, driven by MeshClient', (_label, withRedis) => {
  let sample: Sample;
  let client: MeshClient;

  beforeAll(async () => {
    sample = await startSample({ ...(withRedis ? sharedState() : {}), sessionSecret: SECRET });
  });

  beforeEach(async () => {
    client = await connectAs(sample);
  });

  afterEach(() => client.close());
  afterAll(() => sample.app.close());

  it('GET /health reports the node up', async () => {
    const response = await fetch(`${sample.http}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'up', store: withRedis ? 'redis' : 'memory', accepting: true });
  });

  it('echo', async () => {
    expect(await client.command('echo', 'Hello, World!')).toBe('echo: Hello, World!');
    expect(await client.command('echo', { hi: [1, 2] })).toBe('echo: {"hi":[1,2]}');
  });

  it('this-command-throws resolves with the error payload', async () => {
    expect(await client.command('this-command-throws')).toEqual({ error: 'Something went wrong', code: 'ESERVER', name: 'Error' });
  });

  it('POST /login issues a token for a valid user id and refuses anything else with 400', async () => {
    expect(typeof (await tokenFor(sample, 'ada'))).toBe('string');
    for (const bad of ['', 'x'.repeat(65), 'a b', { $ne: 1 }, 42, undefined]) expect((await login(sample, bad)).status).toBe(400);
  });

  it('whoami is forbidden for an anonymous connection; a token makes the connection its user (premium decided by the server)', async () => {
    expect(await client.command('whoami')).toMatchObject({ code: 'EFORBIDDEN' });
    const ada = await connectAs(sample, 'ada');
    const alice = await connectAs(sample, 'alice');
    try {
      expect(await ada.command('whoami')).toEqual({ userId: 'ada', premium: false });
      expect(await alice.command('whoami')).toEqual({ userId: 'alice', premium: true });
    } finally {
      await ada.close();
      await alice.close();
    }
  });

  it('a forged, expired or foreign token is refused with 401 at the upgrade; ?clientId= gives no identity', async () => {
    const genuine = await tokenFor(sample, 'bob');
    const [version, claims, mac] = genuine.split('.');
    const forgedClaims = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(claims, 'base64url').toString()), sub: 'alice' })).toString('base64url');
    const foreign = new MeshSessionTokens({ secret: 'another app entirely, another secret!!', audience: 'nestjs-mesh-sample' }).issue('bob');
    // Signed with the app's own secret and audience, but long expired.
    const expired = new MeshSessionTokens({ secret: SECRET, audience: 'nestjs-mesh-sample' }).issue('bob', 1000, Date.now() - 2000);
    expect(await refusal(`${sample.url}?token=${encodeURIComponent(new MeshSessionTokens({ secret: SECRET, audience: 'nestjs-mesh-sample' }).issue('bob'))}`)).toBeUndefined();
    for (const token of [`${version}.${forgedClaims}.${mac}`, foreign, expired, 'garbage', 'v1..', 'x'.repeat(5000)]) {
      expect(await refusal(`${sample.url}?token=${encodeURIComponent(token)}`)).toBe(401);
    }
    // The old way of choosing an identity is ignored: this is an anonymous connection.
    const claimer = new MeshClient(`${sample.url}?clientId=bob`);
    await claimer.connect();
    try {
      expect(await claimer.command('whoami')).toMatchObject({ code: 'EFORBIDDEN' });
      const listed = (await claimer.command('clients')) as Array<{ clientId: string }>;
      expect(listed.map((c) => c.clientId)).toContain(claimer.connectionId);
      expect(listed.map((c) => c.clientId)).not.toContain('bob');
    } finally {
      await claimer.close();
    }
  });

  it('update-profile is validated by its middleware; other members see the name, never the e-mail', async () => {
    const bob = await connectAs(sample, 'bob');
    try {
      const bad = await bob.command('update-profile', { name: '', email: 'nope' });
      expect(bad).toEqual({ error: 'Invalid profile', code: 'EINVALID', name: 'ValidationError', details: ['name must be a non-empty string', 'email must contain "@"'] });
      expect(await bob.command('update-profile', { name: 'n'.repeat(65), email: 'a@b' })).toMatchObject({ code: 'EINVALID', details: ['name must be at most 64 characters'] });
      expect(await bob.command('update-profile', { name: 'Bob', email: `${'e'.repeat(255)}@x` })).toMatchObject({ code: 'EINVALID', details: ['email must be at most 254 characters'] });
      expect(await bob.command('update-profile', { name: 'Bob', email: 'bob@example.com' })).toEqual({ success: true, profile: { name: 'Bob', email: 'bob@example.com' } });
      expect(await bob.command('whoami')).toMatchObject({ userId: 'bob', profile: { name: 'Bob', email: 'bob@example.com' } });
      const room = `lobby:${Math.random().toString(36).slice(2)}`;
      await bob.joinRoom(room);
      const joined = await client.joinRoom(room);
      expect(joined.present).toEqual(expect.arrayContaining([{ id: bob.connectionId, metadata: { userId: 'bob', name: 'Bob' } }, { id: client.connectionId }]));
      expect(JSON.stringify(joined)).not.toContain('bob@example.com');
    } finally {
      await bob.close();
    }
  });

  it('join-room joins exposed rooms only and broadcasts user-joined to members (event.detail)', async () => {
    const other = await connectAs(sample);
    try {
      const joined: unknown[] = [];
      other.on('user-joined', (e) => joined.push(e.detail));
      expect(await other.command('join-room', { roomName: 'lobby' })).toEqual({ success: true });
      expect(await client.command('join-room', { roomName: 'lobby' })).toEqual({ success: true });
      await waitFor(() => joined.length === 2, 3000, 'two user-joined events');
      expect(joined[1]).toEqual({ roomName: 'lobby', id: client.connectionId, userId: null });
      expect(await client.command('join-room', { roomName: 'admins' })).toEqual({ success: false });
      expect(await sample.app.get(MeshServer).getRooms(client.connectionId!)).toEqual(['lobby']);
      // Leaving a room one is not in tells nobody anything.
      const left: unknown[] = [];
      other.on('user-left', (e) => left.push(e.detail));
      expect(await client.command('leave-room', { roomName: 'lobby:elsewhere' })).toEqual({ success: true });
      expect(await client.command('leave-room', { roomName: 'lobby' })).toEqual({ success: true });
      await waitFor(() => left.length === 1, 3000, 'user-left');
      expect(left).toEqual([{ roomName: 'lobby', id: client.connectionId, userId: null }]);
    } finally {
      await other.close();
    }
  });

  it('broadcast needs a signed-in user and says who sent it', async () => {
    expect(await client.command('broadcast', { text: 'hi all' })).toMatchObject({ code: 'EFORBIDDEN' });
    const ada = await connectAs(sample, 'ada');
    try {
      const announcements: unknown[] = [];
      client.on('announcement', (e) => announcements.push(e.detail));
      expect(await ada.command('broadcast', { text: 'hi all' })).toEqual({ sent: true });
      expect(await ada.command('broadcast', { text: 'x'.repeat(5000) })).toMatchObject({ code: 'EINVALID' });
      await waitFor(() => announcements.length === 1, 3000, 'announcement');
      expect(announcements[0]).toEqual({ text: 'hi all', from: 'ada' });
    } finally {
      await ada.close();
    }
  });

  it('publish keeps history where the user may read; subscribe gets it newest first and live messages after', async () => {
    const channel = `chat:${Math.random().toString(36).slice(2)}`;
    const ada = await connectAs(sample, 'ada');
    try {
      expect(await client.command('publish', { channel, message: 'anonymous' })).toMatchObject({ code: 'EFORBIDDEN' });
      for (const message of ['msg1', 'msg2', 'msg3']) expect(await ada.command('publish', { channel, message })).toEqual({ success: true });
      const received: string[] = [];
      const result = await client.subscribe(channel, (message) => received.push(message), { historyLimit: 10 });
      // The server stamps who wrote each message from the connection's verified identity.
      expect(result).toEqual({ success: true, history: ['msg3', 'msg2', 'msg1'].map((text) => JSON.stringify({ from: 'ada', text })) });
      await ada.command('publish', { channel, message: 'live' });
      await waitFor(() => received.includes(JSON.stringify({ from: 'ada', text: 'live' })), 3000, 'live message');
      expect(await client.unsubscribe(channel)).toBe(true);
      // Nowhere else: not internal channels, not unexposed names, not premium channels for a non-premium user.
      for (const target of ['mesh:{cluster}:broadcast', 'mesh:{n:1}:inbox', 'mesh:{r:lobby}:messages', 'elsewhere', 'private:chat:vip', 42, { toString: 1 }, null]) {
        expect(await ada.command('publish', { channel: target, message: 'x' })).toMatchObject({ code: 'EFORBIDDEN' });
      }
      expect(await ada.command('publish', { channel, message: 'x'.repeat(5000) })).toMatchObject({ code: 'EINVALID' });
    } finally {
      await ada.close();
    }
  });

  it('private chat channels need a premium user', async () => {
    expect(await client.subscribe('private:chat:vip', () => undefined)).toEqual({ success: false, history: [] });
    const alice = await connectAs(sample, 'alice');
    try {
      expect(await alice.subscribe('private:chat:vip', () => undefined)).toEqual({ success: true, history: [] });
      expect(await alice.command('publish', { channel: 'private:chat:vip', message: 'for premium eyes' })).toEqual({ success: true });
      expect(await alice.subscribe('not-exposed', () => undefined)).toEqual({ success: false, history: [] });
    } finally {
      await alice.close();
    }
  });

  it('invoke calls a signed-in client by its user id, and clients lists it with its node', async () => {
    const user = `demo-${withRedis ? 'r' : 'm'}`;
    const demo = new MeshClient(`${sample.url}?token=${encodeURIComponent(await tokenFor(sample, user))}`);
    demo.handle('notify', async (data) => ({ received: data }));
    await demo.connect();
    const caller = await connectAs(sample, 'caller');
    try {
      expect(await client.command('invoke', { clientId: user, type: 'notify', data: {} })).toMatchObject({ code: 'EFORBIDDEN' });
      expect(await caller.command('invoke', { clientId: user, type: 'notify', data: { text: 'hi' } })).toEqual({ result: { received: { text: 'hi' } } });
      expect(await caller.command('invoke', { clientId: user, type: 'steal-secrets', data: {} })).toMatchObject({ code: 'EINVALID' });
      expect(await caller.command('invoke', { clientId: 'nobody', type: 'notify', data: {} })).toEqual({
        error: 'Client not found: nobody',
        code: 'ECLIENTNOTFOUND',
        name: 'ClientNotFoundError',
      });
      const listed = (await client.command('clients')) as Array<{ clientId: string; nodeId: string }>;
      expect(listed).toEqual(expect.arrayContaining([expect.objectContaining({ clientId: user, nodeId: expect.any(String) })]));
    } finally {
      await demo.close();
      await caller.close();
    }
  });

  it('documents: anyone reads doc:*, signed-in users write them, the docs collection lists those that exist', async () => {
    const name = `doc:t${Date.now()}`;
    const seen: unknown[] = [];
    expect(await client.subscribeRecord(name, (u) => void seen.push(u.value), { mode: 'patch' })).toEqual({ success: true, record: null, version: 0 });
    await expect(client.writeRecord(name, { text: 'anonymous' })).rejects.toMatchObject({ code: 'EFORBIDDEN' });
    const ada = await connectAs(sample, 'ada');
    try {
      const listed: string[][] = [];
      await ada.subscribeCollection('docs', { onDiff: (d) => void listed.push(d.added.map((m) => m.id)) });
      expect(await ada.writeRecord(name, { text: 'hello', by: 'ada' })).toBe(1);
      await waitFor(() => seen.length === 2 && listed.some((ids) => ids.includes(name)), 5000, 'the write and the collection diff');
      expect(seen[1]).toEqual({ text: 'hello', by: 'ada' });
      await expect(ada.writeRecord('doc:Not A Name', 1)).rejects.toMatchObject({ code: 'EFORBIDDEN' });
      await expect(ada.writeRecord(name, 'x'.repeat(70 * 1024))).rejects.toMatchObject({ code: 'ELIMIT' });
      expect(await sample.app.get(MeshServer).getRecord(name)).toEqual({ text: 'hello', by: 'ada' });
    } finally {
      await ada.close();
    }
  });

  it('stats reports the node and the connection', async () => {
    expect(await client.command('stats')).toEqual({ nodeId: expect.any(String), connectionId: client.connectionId, latency: expect.any(Number), localConnections: expect.any(Number) });
  });
});

describe('sample app sessions across nodes', () => {
  it('without MESH_SESSION_SECRET, nodes share one random secret through Redis: a token from node A is valid on node B', async () => {
    const keyPrefix = uniquePrefix();
    const a = await startSample({ ...sharedState(), keyPrefix });
    const b = await startSample({ ...sharedState(), keyPrefix });
    try {
      const token = await tokenFor(a, 'ada');
      const onB = new MeshClient(`${b.url}?token=${encodeURIComponent(token)}`);
      await onB.connect();
      expect(await onB.command('whoami')).toEqual({ userId: 'ada', premium: false });
      await onB.close();
      // Another deployment (another key prefix, so another secret) does not accept it.
      const elsewhere = await startSample(sharedState());
      try {
        expect(await refusal(`${elsewhere.url}?token=${encodeURIComponent(token)}`)).toBe(401);
      } finally {
        await elsewhere.app.close();
      }
    } finally {
      await a.app.close();
      await b.app.close();
    }
  });

  it('connecting again as the same user supersedes the older socket (4001); nobody else can take the id', async () => {
    const sample = await startSample();
    try {
      const first = await connectAs(sample, 'carol');
      const closed = new Promise<number>((resolve) => first.once('close', (e) => resolve((e.detail as { code: number }).code)));
      const second = await connectAs(sample, 'carol');
      expect(await closed).toBe(4001);
      expect(await second.command('whoami')).toMatchObject({ userId: 'carol' });
      await second.close();
    } finally {
      await sample.app.close();
    }
  });
});

describe('sample app configuration', () => {
  it('reads its environment with documented defaults', () => {
    expect(configFromEnv({})).toMatchObject({ port: 3000, redisUrl: undefined, prefix: 'mesh', keyPrefix: undefined, pingInterval: undefined, nodeTtl: undefined, sessionSecret: undefined, allowedOrigins: undefined, premiumUsers: ['alice'] });
    expect(configFromEnv({ MESH_NODE_TTL: '500' }).nodeTtl).toBe(500);
    expect(() => configFromEnv({ MESH_PING_INTERVAL: '-1' })).toThrow('MESH_PING_INTERVAL must be a positive integer');
    expect(configFromEnv({ PORT: '4000', REDIS_URL: 'redis://r:6379', MESH_PREFIX: 'rt' })).toMatchObject({ port: 4000, redisUrl: 'redis://r:6379', prefix: 'rt' });
    expect(configFromEnv({ REDIS_CLUSTER_NODES: '10.0.0.1:7000, 10.0.0.2:7001' })).toMatchObject({ redisUrl: undefined, redisClusterNodes: [{ host: '10.0.0.1', port: 7000 }, { host: '10.0.0.2', port: 7001 }] });
    expect(() => configFromEnv({ REDIS_CLUSTER_NODES: '10.0.0.1' })).toThrow('Cluster node "10.0.0.1" is not host:port');
    expect(() => configFromEnv({ REDIS_CLUSTER_NODES: '10.0.0.1:7000', REDIS_URL: 'redis://r' })).toThrow('not both');
    expect(() => configFromEnv({ PORT: 'abc' })).toThrow('PORT must be a port number');
    expect(() => configFromEnv({ MESH_SESSION_SECRET: 'short' })).toThrow('MESH_SESSION_SECRET must be at least 32 bytes');
    expect(configFromEnv({ MESH_ALLOWED_ORIGINS: 'https://a.example, https://b.example', MESH_PREMIUM_USERS: 'x,y' })).toMatchObject({
      allowedOrigins: ['https://a.example', 'https://b.example'],
      premiumUsers: ['x', 'y'],
    });
  });

  it('MESH_PREFIX=rt serves the rt/ built-ins', async () => {
    const sample = await startSample({ prefix: 'rt' });
    const client = new MeshClient(sample.url, { prefix: 'rt' });
    try {
      await client.connect();
      expect(await client.command('rt/noop')).toBe(true);
      expect(await client.command('mesh/noop')).toMatchObject({ code: 'ENOTFOUND' });
    } finally {
      await client.close();
      await sample.app.close();
    }
  });

  it('MESH_ALLOWED_ORIGINS decides which pages may connect (same host only when unset)', async () => {
    const open = await startSample();
    const listed = await startSample({ allowedOrigins: ['https://app.example'] });
    const withOrigin = (url: string, origin: string) => new MeshClient(url, { shouldReconnect: false, headers: { Origin: origin } });
    try {
      const host = new URL(open.http).host;
      for (const [url, origin, allowed] of [
        [open.url, `http://${host}`, true],
        [open.url, 'https://evil.example', false],
        [open.url, 'null', false],
        [listed.url, 'https://app.example', true],
        [listed.url, `http://${new URL(listed.http).host}`, false],
      ] as const) {
        const c = withOrigin(url, origin);
        const outcome = await c.connect().then(
          () => 'connected',
          (error: MeshConnectionError) => error.status,
        );
        await c.close();
        expect([origin, outcome]).toEqual([origin, allowed ? 'connected' : 403]);
      }
    } finally {
      await open.app.close();
      await listed.app.close();
    }
  });
});
