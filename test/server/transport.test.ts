import { ForbiddenException, Injectable } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import { SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { Redis } from 'ioredis';
import { RedisKeyLayout } from '../../lib/state/redis/key-layout';
import { request as httpRequest } from 'node:http';
import { WebSocket } from 'ws';
import { ConnectionManager, MeshServer } from '../../lib';
import { RawClient } from '../support/raw-client';
import { redisUrl, startApp, uniquePrefix, waitFor, type TestApp } from '../support/test-app';

describe('transport: frames the server cannot answer normally', () => {
  let t: TestApp;
  let client: RawClient;
  let bystander: RawClient;

  beforeAll(async () => {
    t = await startApp({ mesh: { keyPrefix: uniquePrefix(), maxPayload: 1024, rateLimit: { limit: 5, windowMs: 60_000 } } });
    t.mesh.registerCommand('echo', (ctx) => ctx.payload);
  });

  beforeEach(async () => {
    client = await RawClient.connect(t.url);
    bystander = await RawClient.connect(t.url);
  });

  afterEach(async () => {
    await client.close();
    await bystander.close();
  });

  afterAll(() => t.close());

  /** The connection and its neighbour still work after the bad frame. */
  async function stillWorks(): Promise<void> {
    expect(await client.command('echo', 'after')).toBe('after');
    expect(await bystander.command('echo', 'neighbour')).toBe('neighbour');
  }

  it('pushes exactly one assign-id with the connection id', async () => {
    // A reply comes after the assign-id push on the same socket: by then any second one would be here.
    expect(await client.command('mesh/noop')).toBe(true);
    const assigns = client.frames.filter((f) => f.command === 'mesh/assign-id');
    expect(assigns).toHaveLength(1);
    expect(typeof assigns[0].payload).toBe('string');
    expect(assigns[0].payload).not.toBe(bystander.connectionId);
  });

  it('EBADFRAME push for text that is not JSON', async () => {
    client.sendText('this is not json');
    const frame = await client.waitFor((f) => f.command === 'mesh/error');
    expect(frame).toEqual({ command: 'mesh/error', payload: { error: 'Frame is not valid JSON', code: 'EBADFRAME', name: 'ProtocolError' } });
    await stillWorks();
  });

  it('EBADFRAME for JSON that is not an object', async () => {
    client.sendText('[1,2,3]');
    const frame = await client.waitFor((f) => f.command === 'mesh/error');
    expect(frame.payload).toMatchObject({ code: 'EBADFRAME', error: 'Frame is not a JSON object' });
    await stillWorks();
  });

  it('EBADFRAME reply carrying the id when the command is missing', async () => {
    client.sendText(JSON.stringify({ id: 99, payload: {} }));
    const frame = await client.waitFor((f) => f.id === 99);
    expect(frame).toEqual({ id: 99, command: 'mesh/error', payload: { error: 'Frame has no string "command"', code: 'EBADFRAME', name: 'ProtocolError' } });
    await stillWorks();
  });

  it('EBADFRAME for a request without an id (nothing runs)', async () => {
    client.sendText(JSON.stringify({ command: 'echo', payload: 'x' }));
    const frame = await client.waitFor((f) => f.command === 'mesh/error');
    expect(frame.payload).toMatchObject({ code: 'EBADFRAME', error: 'Request "echo" has no "id"' });
    expect(client.frames.some((f) => f.command === 'echo')).toBe(false);
    await stillWorks();
  });

  it('EBADFRAME for an id that is neither a number nor a string', async () => {
    client.sendText(JSON.stringify({ id: { nested: true }, command: 'echo' }));
    const frame = await client.waitFor((f) => f.command === 'mesh/error');
    expect(frame.payload).toMatchObject({ code: 'EBADFRAME', error: 'Frame "id" must be a number or a string of at most 200 characters' });
    await stillWorks();
  });

  it('EBADFRAME for a binary frame', async () => {
    client.sendText(Buffer.from(JSON.stringify({ id: 1, command: 'echo' })), true);
    const frame = await client.waitFor((f) => f.command === 'mesh/error');
    expect(frame.payload).toMatchObject({ code: 'EBADFRAME', error: expect.stringContaining('Binary frames are not supported') });
    await stillWorks();
  });

  it('ETOOLARGE reply (with the id) for a frame over maxPayload; the connection stays open', async () => {
    client.sendText(JSON.stringify({ id: 5, command: 'echo', payload: 'x'.repeat(2000) }));
    const frame = await client.waitFor((f) => f.id === 5);
    expect(frame.payload).toMatchObject({ code: 'ETOOLARGE', name: 'ProtocolError', error: expect.stringContaining('over the limit of 1024 bytes') });
    await stillWorks();
  });

  it('a frame over four times maxPayload closes only that socket, with 1009', async () => {
    const closed = new Promise<number>((resolve) => client.socket.once('close', (code) => resolve(code)));
    client.sendText(JSON.stringify({ id: 6, command: 'echo', payload: 'x'.repeat(5000) }));
    expect(await closed).toBe(1009);
    expect(await bystander.command('echo', 'neighbour')).toBe('neighbour');
  });

  it('ERATELIMIT past the per-connection rate limit; other connections are unaffected', async () => {
    const replies = await Promise.all(Array.from({ length: 7 }, (_, i) => client.command('echo', i)));
    expect(replies.slice(0, 5)).toEqual([0, 1, 2, 3, 4]);
    expect(replies[5]).toMatchObject({ code: 'ERATELIMIT', name: 'ProtocolError' });
    expect(replies[6]).toMatchObject({ code: 'ERATELIMIT' });
    expect(await bystander.command('echo', 'neighbour')).toBe('neighbour');
  });

  it('pong and latency:response get no reply', async () => {
    client.sendText(JSON.stringify({ id: 31, command: 'pong', payload: {} }));
    client.sendText(JSON.stringify({ id: 32, command: 'latency:response', payload: {} }));
    expect(await client.command('mesh/noop')).toBe(true);
    expect(client.frames.some((f) => f.id === 31 || f.id === 32)).toBe(false);
  });
});

describe('transport: frame lengths (frames are built as one buffer per message)', () => {
  let t: TestApp;
  let a: RawClient;
  let b: RawClient;

  beforeAll(async () => {
    t = await startApp({ mesh: { keyPrefix: uniquePrefix() } });
    t.mesh.registerCommand('echo', (ctx) => ctx.payload);
    t.mesh.registerCommand('shout', async (ctx) => {
      await t.mesh.broadcast('shouted', ctx.payload);
      return true;
    });
    a = await RawClient.connect(t.url);
    b = await RawClient.connect(t.url);
  });

  afterAll(async () => {
    await a.close();
    await b.close();
    await t.close();
  });

  // Around every header-size boundary of RFC 6455 (125/126 bytes, 65535/65536 bytes), in
  // one-byte and two-byte UTF-8 characters, so the byte length is not the string length.
  const sizes = [...Array.from({ length: 60 }, (_, i) => 80 + i), ...Array.from({ length: 70 }, (_, i) => 65_480 + i), 200_000];

  it('replies of every length around the header boundaries arrive intact', async () => {
    for (const n of sizes) {
      for (const text of ['x'.repeat(n), 'é'.repeat(Math.ceil(n / 2))]) {
        expect(await a.command('echo', text)).toBe(text);
      }
    }
  });

  it('a broadcast framed once arrives intact at every recipient, small and large', async () => {
    for (const text of ['short', 'é'.repeat(70), 'y'.repeat(65_530), 'ü'.repeat(40_000)]) {
      const seenA = a.waitFor((f) => f.command === 'shouted' && f.payload === text, 3000, a.frames.length);
      const seenB = b.waitFor((f) => f.command === 'shouted' && f.payload === text, 3000, b.frames.length);
      expect(await a.command('shout', text)).toBe(true);
      await Promise.all([seenA, seenB]);
    }
  });
});

describe('transport: connect-time authentication', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp({
      mesh: {
        keyPrefix: uniquePrefix(),
        authenticateConnection: async (req) => {
          const token = new URL(req.url ?? '/', 'http://x').searchParams.get('token');
          if (token === 'banned') throw new ForbiddenException('Banned');
          if (token === 'teapot') throw Object.assign(new Error('I am a teapot'), { status: 418 });
          if (token === 'crash') throw new TypeError('boom');
          if (!token) return null;
          return { userId: token, host: req.headers.host };
        },
      },
    });
    t.mesh.registerCommand('whoami', (ctx) => t.app.get(ConnectionManager).getMetadata(ctx.connection));
  });

  afterAll(() => t.close());

  async function statusOf(query: string): Promise<number | undefined> {
    try {
      const c = await RawClient.connect(`${t.url}${query}`);
      await c.close();
      return 101;
    } catch (error) {
      return (error as { status?: number }).status;
    }
  }

  it('accepted connections start with the returned metadata', async () => {
    const c = await RawClient.connect(`${t.url}?token=u1`);
    try {
      expect(await c.command('whoami')).toEqual({ userId: 'u1', host: `127.0.0.1:${t.port}` });
    } finally {
      await c.close();
    }
  });

  it('refuses with 401 before the handshake when it returns null', async () => {
    expect(await statusOf('')).toBe(401);
  });

  it("refuses with an HttpException's status", async () => {
    expect(await statusOf('?token=banned')).toBe(403);
  });

  it("refuses with an error's numeric status, and 401 otherwise", async () => {
    expect(await statusOf('?token=teapot')).toBe(418);
    expect(await statusOf('?token=crash')).toBe(401);
  });

  it('nothing is registered in Redis for a refused connection', async () => {
    const before = await t.mesh.totalConnectionCount();
    await statusOf('');
    expect(await t.mesh.totalConnectionCount()).toBe(before);
  });
});

@WebSocketGateway({ path: '/other' })
class OtherGateway {
  @SubscribeMessage('ping-other')
  handle(_client: unknown, data: unknown) {
    return { event: 'pong-other', data };
  }
}

describe('transport: coexistence and placement', () => {
  it('a WsAdapter gateway on another path of the same server keeps working', async () => {
    const t = await startApp({
      mesh: { keyPrefix: uniquePrefix() },
      providers: [OtherGateway],
      configure: (app) => app.useWebSocketAdapter(new WsAdapter(app)),
    });
    try {
      const mesh = await RawClient.connect(t.url);
      expect(await mesh.command('mesh/noop')).toBe(true);
      const other = new WebSocket(`ws://127.0.0.1:${t.port}/other`);
      await new Promise((resolve, reject) => {
        other.once('open', resolve);
        other.once('error', reject);
      });
      const reply = new Promise<string>((resolve) => other.once('message', (d) => resolve(d.toString())));
      other.send(JSON.stringify({ event: 'ping-other', data: 42 }));
      expect(JSON.parse(await reply)).toEqual({ event: 'pong-other', data: 42 });
      other.close();
      await mesh.close();
    } finally {
      await t.close();
    }
  });

  it('upgrades on an unknown path are refused with 404 when no other adapter handles them', async () => {
    const t = await startApp({ mesh: { keyPrefix: uniquePrefix() } });
    try {
      await expect(RawClient.connect(`ws://127.0.0.1:${t.port}/elsewhere`)).rejects.toMatchObject({ status: 404 });
    } finally {
      await t.close();
    }
  });
});

describe('transport: standalone port', () => {
  it('serves on its own port with the app on another', async () => {
    const t = await startApp({ mesh: { keyPrefix: uniquePrefix(), port: 0, host: '127.0.0.1' } });
    try {
      const address = t.mesh.address();
      expect(address?.port).toBeGreaterThan(0);
      expect(address?.port).not.toBe(t.port);
      const c = await RawClient.connect(`ws://127.0.0.1:${address!.port}/mesh`);
      expect(await c.command('mesh/noop')).toBe(true);
      await c.close();
      const status = await new Promise<number | undefined>((resolve) => {
        httpRequest({ host: '127.0.0.1', port: address!.port, path: '/' }, (res) => {
          res.resume();
          resolve(res.statusCode);
        }).end();
      });
      expect(status).toBe(426);
    } finally {
      await t.close();
    }
  });
});

describe('transport: heartbeat and cleanup', () => {
  it('closes a connection that stops answering pings and removes it from Redis; answering ones stay', async () => {
    const keyPrefix = uniquePrefix();
    const t = await startApp({ mesh: { keyPrefix, pingInterval: 100, latencyInterval: 50, maxMissedPongs: 1 } });
    const redis = new Redis(redisUrl());
    try {
      const silent = await RawClient.connect(t.url);
      const polite = await RawClient.connect(t.url);
      polite.socket.on('message', (data) => {
        const frame = JSON.parse(data.toString());
        if (frame.command === 'ping') polite.sendText(JSON.stringify({ id: 1, command: 'pong', payload: {} }));
        if (frame.command === 'latency:request') polite.sendText(JSON.stringify({ id: 2, command: 'latency:response', payload: frame.payload }));
      });
      await t.mesh.addToRoom('lobby', silent.connectionId!);
      await t.app.get(ConnectionManager).setMetadata(silent.connectionId!, { name: 'silent' });
      const closed = new Promise<void>((resolve) => silent.socket.once('close', () => resolve()));
      await closed;
      const keys = new RedisKeyLayout(keyPrefix);
      await waitFor(async () => (await redis.exists(keys.connection(silent.connectionId!))) === 0, 5000, 'registry cleanup');
      expect(await redis.sismember(keys.roomMembers('lobby'), silent.connectionId!)).toBe(0);
      expect(await redis.exists(keys.connectionRooms(silent.connectionId!))).toBe(0);
      expect(polite.socket.readyState).toBe(WebSocket.OPEN);
      expect(polite.frames.filter((f) => f.command === 'ping').length).toBeGreaterThanOrEqual(2);
      const latency = polite.frames.filter((f) => f.command === 'latency');
      expect(latency.length).toBeGreaterThan(0);
      expect(typeof latency[latency.length - 1].payload).toBe('number');
      const conn = t.mesh.getConnection(polite.connectionId!);
      expect(conn?.latency).toEqual(expect.any(Number));
      await polite.close();
    } finally {
      redis.disconnect();
      await t.close();
    }
  });

  it('runs its scripts on a borrowed client with auto-pipelining (the first run of a script shares a queued pipeline)', async () => {
    const keyPrefix = uniquePrefix();
    const borrowed = new Redis(redisUrl(), { enableAutoPipelining: true });
    const t = await startApp({ mesh: { keyPrefix, redis: borrowed } });
    try {
      const c = await RawClient.connect(t.url);
      // A command of the app queues an auto-pipeline; the join's script is first run in the same turn.
      const [, joined] = await Promise.all([borrowed.get(`${keyPrefix}unrelated`), t.mesh.addToRoom('r', c.connectionId!)]);
      expect(joined).toBe(true);
      expect(await t.mesh.getRoomMembers('r')).toEqual([c.connectionId]);
      // After SCRIPT FLUSH (a restart, a failover) the scripts are sent again.
      await borrowed.script('FLUSH');
      await t.mesh.removeFromRoom('r', c.connectionId!);
      expect(await t.mesh.getRoomMembers('r')).toEqual([]);
      c.socket.close();
    } finally {
      await t.close();
      borrowed.disconnect();
    }
  });

  it('app.close() closes sockets with 1001 and leaves none of the node connection keys in Redis', async () => {
    const keyPrefix = uniquePrefix();
    const t = await startApp({ mesh: { keyPrefix } });
    const redis = new Redis(redisUrl());
    try {
      const c = await RawClient.connect(t.url);
      await t.mesh.addToRoom('r', c.connectionId!);
      const code = new Promise<number>((resolve) => c.socket.once('close', (n) => resolve(n)));
      const nodeId = t.mesh.nodeId;
      await t.close();
      expect(await code).toBe(1001);
      const keys = new RedisKeyLayout(keyPrefix);
      expect(await redis.exists(keys.connection(c.connectionId!), keys.nodeConnections(nodeId), keys.roomMembers('r'), keys.connectionRooms(c.connectionId!))).toBe(0);
    } finally {
      redis.disconnect();
    }
  });
});

describe('MeshServer injection', () => {
  it('MeshServer and ConnectionManager are injectable into user providers', async () => {
    @Injectable()
    class UsesMesh {
      constructor(
        readonly mesh: MeshServer,
        readonly connections: ConnectionManager,
      ) {}
    }
    const t = await startApp({ mesh: { keyPrefix: uniquePrefix() }, providers: [UsesMesh] });
    try {
      const user = t.app.get(UsesMesh);
      expect(user.mesh).toBe(t.mesh);
      expect(user.connections).toBeInstanceOf(ConnectionManager);
    } finally {
      await t.close();
    }
  });
});
