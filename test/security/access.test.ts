import { Redis } from 'ioredis';
import { RedisKeyLayout } from '../../lib/state/redis/key-layout';
import { MeshClient, MeshConnectionError } from '../../client';
import { MeshForbiddenError, MeshSessionTokens, sessionTokenOf, type MeshModuleOptions } from '../../lib';
import { resolveMeshOptions } from '../../lib/mesh-options';
import { RawClient } from '../support/raw-client';
import { redisUrl, startApp, uniquePrefix, waitFor, type TestApp } from '../support/test-app';

/** Connects with an Origin header; resolves with 'open' or the refusal's HTTP status. */
async function tryOrigin(url: string, origin?: string): Promise<'open' | number | undefined> {
  const client = new MeshClient(url, { shouldReconnect: false, headers: origin === undefined ? {} : { Origin: origin } });
  try {
    await client.connect();
    return 'open';
  } catch (error) {
    return (error as MeshConnectionError).status;
  } finally {
    await client.close();
  }
}

describe('allowedOrigins (cross-site WebSocket hijacking)', () => {
  const apps: TestApp[] = [];
  const start = async (mesh: MeshModuleOptions) => {
    const t = await startApp({ memory: true, mesh });
    apps.push(t);
    return t;
  };
  afterAll(() => Promise.all(apps.map((t) => t.close())));

  it('by default only pages from the same host connect; clients without an Origin (not browsers) do too', async () => {
    const t = await start({});
    const host = `127.0.0.1:${t.port}`;
    expect(await tryOrigin(t.url)).toBe('open');
    expect(await tryOrigin(t.url, `http://${host}`)).toBe('open');
    expect(await tryOrigin(t.url, `https://${host}`)).toBe('open');
    for (const origin of ['https://evil.example', 'null', 'file://', `http://127.0.0.1:${t.port + 1}`, 'http://127.0.0.1', 'garbage']) {
      expect([origin, await tryOrigin(t.url, origin)]).toEqual([origin, 403]);
    }
  });

  it('a list of exact origins and RegExps; "*" opens it to every page', async () => {
    const listed = await start({ allowedOrigins: ['https://app.example', /^https:\/\/[a-z]+\.app\.example$/] });
    expect(await tryOrigin(listed.url, 'https://app.example')).toBe('open');
    expect(await tryOrigin(listed.url, 'https://APP.example')).toBe('open');
    expect(await tryOrigin(listed.url, 'https://eu.app.example')).toBe('open');
    expect(await tryOrigin(listed.url, 'https://eu.app.example.evil')).toBe(403);
    expect(await tryOrigin(listed.url, `http://127.0.0.1:${listed.port}`)).toBe(403);
    expect(await tryOrigin(listed.url)).toBe('open');
    const any = await start({ allowedOrigins: '*' });
    expect(await tryOrigin(any.url, 'https://evil.example')).toBe('open');
    expect(await tryOrigin(any.url, 'null')).toBe('open');
  });

  it('a function decides (a throw refuses), before connect-time authentication runs', async () => {
    const authenticated: string[] = [];
    const t = await start({
      allowedOrigins: (origin) => {
        if (origin === 'https://boom.example') throw new Error('bug');
        return origin === 'https://ok.example';
      },
      authenticateConnection: (request) => {
        authenticated.push(String(request.headers.origin));
        return true;
      },
    });
    expect(await tryOrigin(t.url, 'https://ok.example')).toBe('open');
    expect(await tryOrigin(t.url, 'https://no.example')).toBe(403);
    expect(await tryOrigin(t.url, 'https://boom.example')).toBe(403);
    expect(await tryOrigin(t.url)).toBe(403);
    expect(authenticated).toEqual(['https://ok.example']);
  });

  // The upgrade runs synchronously unless a check returns a promise: both paths refuse alike.
  it('an async function decides as a synchronous one: false or a rejection refuses with 403, before authentication', async () => {
    const authenticated: string[] = [];
    const t = await start({
      allowedOrigins: async (origin) => {
        if (origin === 'https://boom.example') throw new Error('bug');
        return origin === 'https://ok.example';
      },
      authenticateConnection: async (request) => {
        authenticated.push(String(request.headers.origin));
        return request.headers['x-user'] === 'nobody' ? null : true;
      },
    });
    expect(await tryOrigin(t.url, 'https://ok.example')).toBe('open');
    expect(await tryOrigin(t.url, 'https://no.example')).toBe(403);
    expect(await tryOrigin(t.url, 'https://boom.example')).toBe(403);
    expect(authenticated).toEqual(['https://ok.example']);
  });

  it('a synchronous authenticateConnection refuses as an async one: null with 401, a throw with its status', async () => {
    const t = await start({
      authenticateConnection: (request) => {
        const who = request.headers['x-user'];
        if (who === 'teapot') throw Object.assign(new Error('I am a teapot'), { status: 418 });
        if (who === 'crash') throw new TypeError('boom');
        return who === 'alice' ? { userId: 'alice' } : null;
      },
    });
    const statusAs = async (user: string) => {
      try {
        await (await RawClient.connect(t.url, { headers: { 'x-user': user } })).close();
        return 101;
      } catch (error) {
        return (error as { status?: number }).status;
      }
    };
    expect(await statusAs('alice')).toBe(101);
    expect(await statusAs('mallory')).toBe(401);
    expect(await statusAs('teapot')).toBe(418);
    expect(await statusAs('crash')).toBe(401);
  });
});

describe('global middlewares guard built-in commands too', () => {
  it('an "authenticate first" middleware refuses subscriptions and joins; it sees the built-in name; heartbeat answers bypass it', async () => {
    const t = await startApp({ memory: true });
    try {
      const seen: string[] = [];
      t.mesh.exposeChannel('news');
      t.mesh.exposeRoom('lobby');
      t.mesh.addMiddleware((ctx) => {
        seen.push(ctx.command);
        if (ctx.command !== 'mesh/noop') throw new MeshForbiddenError('Authenticate first');
      });
      const client = await RawClient.connect(t.url);
      expect(await client.command('mesh/noop')).toBe(true);
      expect(await client.command('mesh/subscribe-channel', { channel: 'news' })).toEqual({ error: 'Authenticate first', code: 'EFORBIDDEN', name: 'ForbiddenError' });
      expect(await client.command('mesh/join-room', { roomName: 'lobby' })).toMatchObject({ code: 'EFORBIDDEN' });
      expect(await client.command('mesh/get-channel-history', { channel: 'news' })).toMatchObject({ code: 'EFORBIDDEN' });
      client.sendText(JSON.stringify({ id: 90, command: 'pong', payload: {} }));
      client.sendText(JSON.stringify({ id: 91, command: 'latency:response', payload: {} }));
      expect(await client.command('mesh/noop')).toBe(true);
      expect(seen).toEqual(['mesh/noop', 'mesh/subscribe-channel', 'mesh/join-room', 'mesh/get-channel-history', 'mesh/noop']);
      expect(await t.mesh.getRooms(client.connectionId!)).toEqual([]);
      await client.close();
    } finally {
      await t.close();
    }
  });
});

describe('internal channels cannot be reached from user channel names', () => {
  let keyPrefix: string;
  let t: TestApp;
  let redis: Redis;

  beforeAll(async () => {
    keyPrefix = uniquePrefix();
    t = await startApp({ mesh: { keyPrefix } });
    t.mesh.exposeChannel(/.*/);
    redis = new Redis(redisUrl());
  });

  afterAll(async () => {
    redis.disconnect();
    await t.close();
  });

  it('publish refuses names under the key prefix with MeshForbiddenError; nothing reaches the node channels', async () => {
    const victim = await RawClient.connect(t.url);
    const keys = new RedisKeyLayout(keyPrefix);
    for (const channel of [keys.broadcastChannel, keys.nodeChannel(t.mesh.nodeId), keys.roomChannel('lobby'), keyPrefix]) {
      await expect(t.mesh.publish(channel, `x\n${t.mesh.nodeId}\n${victim.connectionId}\n4001`)).rejects.toThrow(MeshForbiddenError);
    }
    expect(await victim.command('mesh/noop')).toBe(true);
    await victim.close();
  });

  it('even with a pattern that exposes everything, clients cannot subscribe to (or unsubscribe the node from) its own channels', async () => {
    const c = await RawClient.connect(t.url);
    const { broadcastChannel } = new RedisKeyLayout(keyPrefix);
    expect(await c.command('mesh/subscribe-channel', { channel: broadcastChannel })).toEqual({ success: false, history: [] });
    expect(await c.command('mesh/unsubscribe-channel', { channel: broadcastChannel })).toBe(false);
    // The node still hears broadcasts from other nodes.
    const other = await startApp({ mesh: { keyPrefix } });
    try {
      await other.mesh.broadcast('hello', 1);
      await c.waitFor((f) => f.command === 'hello');
    } finally {
      await other.close();
    }
    await c.close();
  });

  it('keyPrefix "" is refused at start-up (internal and user channels would overlap)', () => {
    expect(() => resolveMeshOptions({ keyPrefix: '' })).toThrow('MeshModule option "keyPrefix" must be a non-empty string');
  });

  it('a message published with plain Redis on an exposed channel still reaches subscribers', async () => {
    const c = await RawClient.connect(t.url);
    await c.command('mesh/subscribe-channel', { channel: 'chat:raw' });
    await waitFor(async () => (await redis.publish('chat:raw', 'from redis-cli')) > 0, 3000, 'a subscriber');
    expect((await c.waitFor((f) => f.command === 'mesh/subscription-message')).payload).toEqual({ channel: 'chat:raw', message: 'from redis-cli' });
    await c.close();
  });
});

describe('MeshSessionTokens', () => {
  const secret = 'k'.repeat(32);
  const tokens = new MeshSessionTokens({ secret, ttlMs: 60_000, audience: 'app' });

  it('verifies what it issued, until it expires', () => {
    const token = tokens.issue('alice', 60_000, 1_000);
    expect(tokens.verify(token, 2_000)).toEqual({ sub: 'alice', aud: 'app', iat: 1_000, exp: 61_000 });
    expect(tokens.verify(token, 61_000)).toBeNull();
  });

  it('refuses forged, foreign, tampered and malformed tokens without throwing', () => {
    const token = tokens.issue('alice');
    const [v, claims, mac] = token.split('.');
    const evil = Buffer.from(JSON.stringify({ sub: 'admin', aud: 'app', iat: 0, exp: Number.MAX_SAFE_INTEGER })).toString('base64url');
    const otherAudience = new MeshSessionTokens({ secret, audience: 'other' }).issue('alice');
    const otherSecret = new MeshSessionTokens({ secret: 'z'.repeat(32), audience: 'app' }).issue('alice');
    for (const bad of [`${v}.${evil}.${mac}`, `${v}.${claims}.${mac.slice(0, -2)}`, `v2.${claims}.${mac}`, otherAudience, otherSecret, '', '..', 'a.b.c', 'x'.repeat(3000), 42, null, undefined, {}]) {
      expect(tokens.verify(bad)).toBeNull();
    }
  });

  it('needs a secret of 32 bytes or more; reads ?token= or a Bearer header from an upgrade request', () => {
    expect(() => new MeshSessionTokens({ secret: 'short' })).toThrow('at least 32 bytes');
    expect(() => tokens.issue('')).toThrow(TypeError);
    const request = (url: string, authorization?: string) => ({ url, headers: authorization ? { authorization } : {} }) as never;
    expect(sessionTokenOf(request('/mesh?token=abc'))).toBe('abc');
    expect(sessionTokenOf(request('/mesh', 'Bearer xyz'))).toBe('xyz');
    expect(sessionTokenOf(request('/mesh'))).toBeUndefined();
  });
});
