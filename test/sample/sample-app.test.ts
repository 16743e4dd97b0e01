import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import { MeshClient } from '../../client';
import { AppModule } from '../../sample-app/app.module';
import { configFromEnv } from '../../sample-app/config';
import { redisUrl, uniquePrefix, waitFor } from '../support/test-app';

async function startSample(redis: boolean, prefix = 'mesh'): Promise<{ app: INestApplication; url: string }> {
  const app = await NestFactory.create(
    AppModule.forConfig({ port: 0, prefix, redisUrl: redis ? redisUrl() : undefined, keyPrefix: uniquePrefix() }),
    { logger: false },
  );
  await app.listen(0, '127.0.0.1');
  return { app, url: `ws://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}/mesh` };
}

describe.each([
  ['on Redis', true],
  ['in one process without Redis', false],
])('sample app %s, driven by MeshClient', (_label, withRedis) => {
  let app: INestApplication;
  let url: string;
  let client: MeshClient;

  beforeAll(async () => {
    ({ app, url } = await startSample(withRedis));
  });

  beforeEach(async () => {
    client = new MeshClient(url);
    await client.connect();
  });

  afterEach(() => client.close());
  afterAll(() => app.close());

  it('GET /health reports the node up', async () => {
    const response = await fetch(url.replace('ws://', 'http://').replace('/mesh', '/health'));
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

  it('whoami is forbidden until authenticate, then returns the metadata', async () => {
    expect(await client.command('whoami')).toMatchObject({ code: 'EFORBIDDEN' });
    expect(await client.command('authenticate', { userId: 'ada' })).toEqual({ success: true });
    expect(await client.command('whoami')).toEqual({ userId: 'ada', token: expect.any(String), premium: false });
  });

  it('update-profile is validated by its middleware', async () => {
    await client.command('authenticate', { userId: 'bob' });
    const bad = await client.command('update-profile', { name: '', email: 'nope' });
    expect(bad).toEqual({ error: 'Invalid profile', code: 'EINVALID', name: 'ValidationError', details: ['name must be a non-empty string', 'email must contain "@"'] });
    expect(await client.command('update-profile', { name: 'Bob', email: 'bob@example.com' })).toEqual({ success: true, profile: { name: 'Bob', email: 'bob@example.com' } });
    expect(await client.command('whoami')).toMatchObject({ userId: 'bob', profile: { name: 'Bob', email: 'bob@example.com' } });
  });

  it('join-room broadcasts user-joined to members (event.detail), broadcast sends announcement to all', async () => {
    const other = new MeshClient(url);
    await other.connect();
    try {
      const joined: unknown[] = [];
      other.on('user-joined', (e) => joined.push(e.detail));
      expect(await other.command('join-room', { roomName: 'lobby' })).toEqual({ success: true });
      expect(await client.command('join-room', { roomName: 'lobby' })).toEqual({ success: true });
      await waitFor(() => joined.length === 2, 3000, 'two user-joined events');
      expect(joined[1]).toEqual({ roomName: 'lobby', id: client.connectionId });
      const announcements: unknown[] = [];
      other.on('announcement', (e) => announcements.push(e.detail));
      expect(await client.command('broadcast', { text: 'hi all' })).toEqual({ sent: true });
      await waitFor(() => announcements.length === 1, 3000, 'announcement');
      expect(announcements[0]).toEqual({ text: 'hi all' });
    } finally {
      await other.close();
    }
  });

  it('publish keeps history; subscribe gets it newest first and live messages after', async () => {
    const channel = `chat:${Math.random().toString(36).slice(2)}`;
    for (const message of ['msg1', 'msg2', 'msg3']) await client.command('publish', { channel, message });
    const received: string[] = [];
    const result = await client.subscribe(channel, (message) => received.push(message), { historyLimit: 10 });
    expect(result).toEqual({ success: true, history: ['msg3', 'msg2', 'msg1'] });
    await client.command('publish', { channel, message: 'live' });
    await waitFor(() => received.includes('live'), 3000, 'live message');
    expect(await client.unsubscribe(channel)).toBe(true);
  });

  it('private chat channels need premium metadata', async () => {
    expect(await client.subscribe('private:chat:vip', () => undefined)).toEqual({ success: false, history: [] });
    await client.command('authenticate', { userId: 'carol', premium: true });
    expect(await client.subscribe('private:chat:vip', () => undefined)).toEqual({ success: true, history: [] });
    expect(await client.subscribe('not-exposed', () => undefined)).toEqual({ success: false, history: [] });
  });

  it('invoke calls a demo client by its ?clientId, and clients lists it with its node', async () => {
    const demo = new MeshClient(`${url}?clientId=demo-${withRedis ? 'r' : 'm'}`);
    demo.handle('notify', async (data) => ({ received: data }));
    await demo.connect();
    try {
      const id = `demo-${withRedis ? 'r' : 'm'}`;
      expect(await client.command('invoke', { clientId: id, type: 'notify', data: { text: 'hi' } })).toEqual({ result: { received: { text: 'hi' } } });
      expect(await client.command('invoke', { clientId: 'nobody', type: 'notify', data: {} })).toEqual({
        error: 'Client not found: nobody',
        code: 'ECLIENTNOTFOUND',
        name: 'ClientNotFoundError',
      });
      const listed = (await client.command('clients')) as Array<{ clientId: string; nodeId: string }>;
      expect(listed).toEqual(expect.arrayContaining([expect.objectContaining({ clientId: id, nodeId: expect.any(String) })]));
    } finally {
      await demo.close();
    }
  });

  it('stats reports the node and the connection', async () => {
    expect(await client.command('stats')).toEqual({ nodeId: expect.any(String), connectionId: client.connectionId, latency: expect.any(Number), localConnections: expect.any(Number) });
  });
});

describe('sample app configuration', () => {
  it('reads PORT, REDIS_URL and MESH_PREFIX with documented defaults', () => {
    expect(configFromEnv({})).toMatchObject({ port: 3000, redisUrl: undefined, prefix: 'mesh', keyPrefix: undefined, pingInterval: undefined, nodeTtl: undefined });
    expect(configFromEnv({ MESH_NODE_TTL: '500' }).nodeTtl).toBe(500);
    expect(() => configFromEnv({ MESH_PING_INTERVAL: '-1' })).toThrow('MESH_PING_INTERVAL must be a positive integer');
    expect(configFromEnv({ PORT: '4000', REDIS_URL: 'redis://r:6379', MESH_PREFIX: 'rt' })).toMatchObject({ port: 4000, redisUrl: 'redis://r:6379', prefix: 'rt' });
    expect(() => configFromEnv({ PORT: 'abc' })).toThrow('PORT must be a port number');
  });

  it('MESH_PREFIX=rt serves the rt/ built-ins', async () => {
    const { app, url } = await startSample(false, 'rt');
    const client = new MeshClient(url, { prefix: 'rt' });
    try {
      await client.connect();
      expect(await client.command('rt/noop')).toBe(true);
      expect(await client.command('mesh/noop')).toMatchObject({ code: 'ENOTFOUND' });
    } finally {
      await client.close();
      await app.close();
    }
  });
});
