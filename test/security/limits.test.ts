import { Redis } from 'ioredis';
import { WebSocket } from 'ws';
import { ConnectionManager, MeshLimitError } from '../../lib';
import { MessageRouter } from '../../lib/delivery/message-router';
import { MESH_SHARED_STATE } from '../../lib/mesh.constants';
import type { SharedState } from '../../lib/state/shared-state/shared-state';
import { pausedClient } from '../support/paused-client';
import { RawClient } from '../support/raw-client';
import { redisUrl, startApp, uniquePrefix, waitFor, type TestApp } from '../support/test-app';

/** Sends `frames` at once and resolves with the reply to each id, in order. */
async function burst(client: RawClient, frames: Array<{ id: number; command: string; payload?: unknown }>): Promise<unknown[]> {
  const replies = frames.map((f) => client.waitFor((r) => r.id === f.id, 10_000, client.frames.length));
  for (const frame of frames) client.sendText(JSON.stringify(frame));
  return (await Promise.all(replies)).map((r) => r.payload);
}

describe.each([
  ['Redis', false],
  ['memory', true],
])('bounded cost per connection (%s)', (_label, memory) => {
  let t: TestApp;
  let client: RawClient;
  let bystander: RawClient;
  let release: () => void;
  let gate: Promise<void>;

  beforeAll(async () => {
    t = await startApp({ memory, mesh: { keyPrefix: uniquePrefix(), maxInFlight: 8, maxChannelsPerConnection: 3, maxRoomsPerConnection: 2, maxHistoryLimit: 4 } });
    t.mesh.registerCommand('echo', (ctx) => ctx.payload);
    t.mesh.registerCommand('wait', () => gate);
    t.mesh.exposeChannel(/^ch:.+$/);
    t.mesh.exposeRoom(/^room:.+$/);
  });

  beforeEach(async () => {
    gate = new Promise<void>((resolve) => (release = resolve));
    client = await RawClient.connect(t.url);
    bystander = await RawClient.connect(t.url);
  });

  afterEach(async () => {
    release();
    await client.close();
    await bystander.close();
  });

  afterAll(() => t.close());

  it('requests in flight past maxInFlight get ELIMIT at once; the others are answered when they finish', async () => {
    const waiting = Array.from({ length: 8 }, (_, i) => client.request('wait', {}, 100 + i));
    const refused = await client.request('wait', {}, 200);
    expect(refused.payload).toEqual({ error: expect.stringContaining('Too many requests in flight on this connection (limit 8)'), code: 'ELIMIT', name: 'LimitError' });
    expect(refused.command).toBe('wait');
    expect(await bystander.command('echo', 'unaffected')).toBe('unaffected');
    release();
    expect((await Promise.all(waiting)).map((f) => f.id)).toEqual([100, 101, 102, 103, 104, 105, 106, 107]);
    expect(await client.command('echo', 'room again')).toBe('room again');
  });

  it('channels past maxChannelsPerConnection get ELIMIT; unsubscribing makes room', async () => {
    for (const n of [1, 2, 3]) expect(await client.command('mesh/subscribe-channel', { channel: `ch:${n}` })).toEqual({ success: true, history: [] });
    expect(await client.command('mesh/subscribe-channel', { channel: 'ch:1' })).toEqual({ success: true, history: [] });
    expect(await client.command('mesh/subscribe-channel', { channel: 'ch:4' })).toMatchObject({ code: 'ELIMIT', name: 'LimitError', error: expect.stringContaining('maxChannelsPerConnection') });
    expect(await bystander.command('mesh/subscribe-channel', { channel: 'ch:4' })).toEqual({ success: true, history: [] });
    expect(await client.command('mesh/unsubscribe-channel', { channel: 'ch:1' })).toBe(true);
    expect(await client.command('mesh/subscribe-channel', { channel: 'ch:4' })).toEqual({ success: true, history: [] });
  });

  it('rooms past maxRoomsPerConnection: ELIMIT from join-room, MeshLimitError from addToRoom; joining a room again is fine', async () => {
    expect(await client.command('mesh/join-room', { roomName: 'room:1' })).toMatchObject({ success: true });
    expect(await client.command('mesh/join-room', { roomName: 'room:2' })).toMatchObject({ success: true });
    expect(await client.command('mesh/join-room', { roomName: 'room:2' })).toMatchObject({ success: true });
    expect(await client.command('mesh/join-room', { roomName: 'room:3' })).toMatchObject({ code: 'ELIMIT', error: expect.stringContaining('maxRoomsPerConnection') });
    await expect(t.mesh.addToRoom('room:3', client.connectionId!)).rejects.toBeInstanceOf(MeshLimitError);
    expect((await t.mesh.getRooms(client.connectionId!)).sort()).toEqual(['room:1', 'room:2']);
    await t.mesh.removeFromRoom('room:1', client.connectionId!);
    expect(await t.mesh.addToRoom('room:3', client.connectionId!)).toBe(true);
  });

  it('history reads are capped at maxHistoryLimit', async () => {
    for (let i = 1; i <= 6; i++) await t.mesh.publish('ch:history', `m${i}`, { history: 10 });
    expect(await client.command('mesh/subscribe-channel', { channel: 'ch:history', historyLimit: 1000 })).toEqual({ success: true, history: ['m6', 'm5', 'm4', 'm3'] });
    expect(await client.command('mesh/get-channel-history', { channel: 'ch:history', limit: 1e9 })).toEqual({ success: true, history: ['m6', 'm5', 'm4', 'm3'] });
    // Server code is not capped.
    expect(await t.mesh.getChannelHistory('ch:history', 10)).toHaveLength(6);
  });

  it('names longer than maxNameLength (256) are refused; the command name in an error reply is never echoed past it', async () => {
    expect(await client.command('mesh/subscribe-channel', { channel: `ch:${'x'.repeat(300)}` })).toEqual({ success: false, history: [] });
    expect(await client.command('mesh/join-room', { roomName: `room:${'x'.repeat(300)}` })).toEqual({ success: false });
    const long = 'c'.repeat(500_000);
    client.sendText(JSON.stringify({ id: 77, command: long, payload: {} }));
    const reply = await client.waitFor((f) => f.id === 77);
    expect(reply).toEqual({ id: 77, command: 'mesh/error', payload: { error: 'Command name of 500000 characters is over the limit of 256', code: 'EBADFRAME', name: 'ProtocolError' } });
  });
});

describe.each([
  ['Redis', false],
  ['memory', true],
])('metadata clients write themselves stays bounded (%s)', (_label, memory) => {
  it('merges that would pass maxClientMetadataBytes are refused with ELIMIT and write nothing', async () => {
    const t = await startApp({ memory, mesh: { keyPrefix: uniquePrefix(), allowClientMetadataWrites: true, maxClientMetadataBytes: 1000 } });
    try {
      const client = await RawClient.connect(t.url);
      const chunk = 'v'.repeat(300);
      for (const key of ['a', 'b', 'c']) {
        expect(await client.command('mesh/set-my-connection-metadata', { metadata: { [key]: chunk }, options: { strategy: 'merge' } })).toEqual({ success: true });
      }
      expect(await client.command('mesh/set-my-connection-metadata', { metadata: { d: chunk }, options: { strategy: 'merge' } })).toEqual({
        error: 'Connection metadata would be over 1000 bytes (maxClientMetadataBytes)',
        code: 'ELIMIT',
        name: 'LimitError',
      });
      expect(Object.keys((await client.command('mesh/get-my-connection-metadata')).metadata)).toEqual(['a', 'b', 'c']);
      expect(await client.command('mesh/set-my-connection-metadata', { metadata: { small: true } })).toEqual({ success: true });
      await client.close();
    } finally {
      await t.close();
    }
  });
});

describe('rate limit (token bucket, every frame counts)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp({ memory: true, mesh: { rateLimit: { limit: 10, windowMs: 60_000 } } });
    t.mesh.registerCommand('echo', (ctx) => ctx.payload);
  });

  afterAll(() => t.close());

  it('heartbeat answers, invoke results, binary and malformed frames all count; over the limit requests get ERATELIMIT with their command', async () => {
    const client = await RawClient.connect(t.url);
    try {
      client.sendText(JSON.stringify({ id: 1, command: 'pong', payload: {} }));
      client.sendText(JSON.stringify({ id: 2, command: 'latency:response', payload: {} }));
      client.sendText(JSON.stringify({ id: 'x', command: 'mesh/invoke-result', payload: {} }));
      client.sendText(Buffer.from('{"id":3,"command":"echo"}'), true);
      client.sendText('not json');
      await client.waitFor((f) => f.command === 'mesh/error' && (f.payload as { error: string }).error === 'Frame is not valid JSON');
      // Five counted so far: five requests fit, the sixth does not.
      const replies = await burst(client, Array.from({ length: 6 }, (_, i) => ({ id: 10 + i, command: 'echo', payload: i })));
      expect(replies.slice(0, 5)).toEqual([0, 1, 2, 3, 4]);
      expect(replies[5]).toEqual({ error: 'Rate limit of 10 frames per 60000 ms exceeded', code: 'ERATELIMIT', name: 'ProtocolError' });
      expect(client.frames.find((f) => f.id === 15)?.command).toBe('echo');
    } finally {
      await client.close();
    }
  });

  it('a client that keeps sending far over the limit is closed with 1008; others go on', async () => {
    const flooder = await RawClient.connect(t.url);
    const other = await RawClient.connect(t.url);
    const closed = new Promise<number>((resolve) => flooder.socket.once('close', (code) => resolve(code)));
    for (let i = 0; i < 25; i++) flooder.sendText(JSON.stringify({ id: i, command: 'echo', payload: i }));
    expect(await closed).toBe(1008);
    expect(await other.command('echo', 'fine')).toBe('fine');
    await other.close();
  });
});

describe('slow consumers and large replies', () => {
  it('a reply over maxBufferedAmount gets ETOOLARGE; a connection whose backlog passes it is dropped at once, not after the backlog drains', async () => {
    const t = await startApp({ memory: true, mesh: { maxBufferedAmount: 256 * 1024, rateLimit: false } });
    t.mesh.registerCommand('blob', (ctx) => 'x'.repeat(Number(ctx.payload)));
    try {
      const client = await RawClient.connect(t.url);
      expect(await client.command('blob', 300 * 1024)).toEqual({
        error: expect.stringMatching(/^The reply of \d+ bytes is over the connection's limit of 262144 bytes$/),
        code: 'ETOOLARGE',
        name: 'ProtocolError',
      });
      expect(await client.command('blob', 10)).toBe('x'.repeat(10));
      // A client that stops reading: its kernel buffers fill, then the server's queue.
      const slow = await pausedClient(t.url);
      const connection = t.mesh.getConnection(slow.connectionId)!;
      let sent = 0;
      while (connection.isOpen && sent < 2000) {
        connection.send('bulk', 'y'.repeat(200 * 1024));
        sent++;
      }
      expect(connection.isOpen).toBe(false);
      expect(sent).toBeLessThan(2000);
      // The server side closes while the client still reads nothing: no waiting for the backlog.
      await new Promise((resolve) => (connection.socket.readyState === WebSocket.CLOSED ? resolve(undefined) : connection.socket.once('close', resolve)));
      slow.socket.resume();
      await slow.closed;
      expect(await client.command('blob', 3)).toBe('xxx');
      await client.close();
    } finally {
      await t.close();
    }
  });
});

describe.each([
  ['Redis', false],
  ['memory', true],
])('a join or subscription whose reply would be too large changes nothing (%s)', (_label, memory) => {
  it('ETOOLARGE, and the client is neither a member nor a subscriber', async () => {
    const t = await startApp({ memory, mesh: { keyPrefix: uniquePrefix(), maxBufferedAmount: 64 * 1024, visibleMetadata: (m) => m } });
    try {
      t.mesh.exposeRoom('crowd');
      t.mesh.exposeChannel('long-history');
      const members = await Promise.all(Array.from({ length: 5 }, () => RawClient.connect(t.url)));
      for (const m of members) {
        await t.app.get(ConnectionManager).setMetadata(m.connectionId!, { bio: 'b'.repeat(20_000) });
        await t.mesh.addToRoom('crowd', m.connectionId!);
      }
      for (let i = 0; i < 10; i++) await t.mesh.publish('long-history', 'h'.repeat(10_000), { history: 10 });
      const client = await RawClient.connect(t.url);
      const joined = await client.command('mesh/join-room', { roomName: 'crowd' });
      expect(joined).toEqual({ error: expect.stringMatching(/over the connection's limit of 65536 bytes; nothing was changed$/), code: 'ETOOLARGE', name: 'ProtocolError' });
      expect(await t.mesh.isInRoom('crowd', client.connectionId!)).toBe(false);
      const subscribed = await client.command('mesh/subscribe-channel', { channel: 'long-history', historyLimit: 10 });
      expect(subscribed).toMatchObject({ code: 'ETOOLARGE' });
      await t.mesh.publish('long-history', 'live');
      expect(await client.command('mesh/noop')).toBe(true);
      expect(client.frames.some((f) => f.command === 'mesh/subscription-message')).toBe(false);
      // With a smaller history the same subscription goes through.
      expect(await client.command('mesh/subscribe-channel', { channel: 'long-history', historyLimit: 1 })).toMatchObject({ success: true });
      // Asking again for what it already has, with a reply too large, takes nothing away.
      expect(await client.command('mesh/subscribe-channel', { channel: 'long-history', historyLimit: 10 })).toMatchObject({ code: 'ETOOLARGE' });
      await t.mesh.publish('long-history', 'still subscribed');
      await client.waitFor((f) => f.command === 'mesh/subscription-message' && (f.payload as { message?: string }).message === 'still subscribed');
      await t.mesh.addToRoom('crowd', client.connectionId!);
      expect(await client.command('mesh/join-room', { roomName: 'crowd' })).toMatchObject({ code: 'ETOOLARGE' });
      expect(await t.mesh.isInRoom('crowd', client.connectionId!)).toBe(true);
      await Promise.all([...members, client].map((c) => c.close()));
    } finally {
      await t.close();
    }
  });
});

describe.each([
  ['Redis', false],
  ['memory', true],
])('a join whose member list cannot be read is undone (%s)', (_label, memory) => {
  it('a new member is taken out again; one that was in already stays in', async () => {
    // visibleMetadata throws for one member: the list of who is there cannot be built.
    const visibleMetadata = (metadata: unknown) => {
      if ((metadata as { poison?: boolean }).poison) throw new Error('cannot show this member');
      return metadata;
    };
    const t = await startApp({ memory, mesh: { keyPrefix: uniquePrefix(), visibleMetadata } });
    try {
      t.mesh.exposeRoom('crowd');
      const poisoned = await RawClient.connect(t.url);
      await t.app.get(ConnectionManager).setMetadata(poisoned.connectionId!, { poison: true });
      await t.mesh.addToRoom('crowd', poisoned.connectionId!);
      const newcomer = await RawClient.connect(t.url);
      expect(await newcomer.command('mesh/join-room', { roomName: 'crowd' })).toMatchObject({ code: 'ESERVER' });
      expect(await t.mesh.isInRoom('crowd', newcomer.connectionId!)).toBe(false);
      const member = await RawClient.connect(t.url);
      await t.mesh.addToRoom('crowd', member.connectionId!);
      expect(await member.command('mesh/join-room', { roomName: 'crowd' })).toMatchObject({ code: 'ESERVER' });
      expect(await t.mesh.isInRoom('crowd', member.connectionId!)).toBe(true);
      await Promise.all([poisoned, newcomer, member].map((c) => c.close()));
    } finally {
      await t.close();
    }
  });
});

describe('history keys that clients can create do not outlive historyTtl', () => {
  it('Redis: each history key gets the TTL; publish options override the module default', async () => {
    const keyPrefix = uniquePrefix();
    const t = await startApp({ mesh: { keyPrefix, historyTtl: 60_000 } });
    const redis = new Redis(redisUrl());
    try {
      await t.mesh.publish('ch:a', 'one', { history: 5 });
      await t.mesh.publish('ch:b', 'one', { history: 5, historyTtl: 5_000 });
      const ttlA = await redis.pttl(`${keyPrefix}history:ch:a`);
      const ttlB = await redis.pttl(`${keyPrefix}history:ch:b`);
      expect(ttlA).toBeGreaterThan(50_000);
      expect(ttlB).toBeGreaterThan(0);
      expect(ttlB).toBeLessThanOrEqual(5_000);
      await t.mesh.publish('ch:c', 'gone soon', { history: 5, historyTtl: 50 });
      await waitFor(async () => (await redis.exists(`${keyPrefix}history:ch:c`)) === 0, 3000, 'history key to expire');
      expect(await t.mesh.getChannelHistory('ch:c')).toEqual([]);
    } finally {
      redis.disconnect();
      await t.close();
    }
  });

  it('memory: an expired history is gone', async () => {
    const t = await startApp({ memory: true, mesh: { historyTtl: 50 } });
    try {
      await t.mesh.publish('ch:m', 'kept briefly', { history: 5 });
      expect(await t.mesh.getChannelHistory('ch:m')).toEqual(['kept briefly']);
      await waitFor(async () => (await t.mesh.getChannelHistory('ch:m')).length === 0, 3000, 'memory history to expire');
    } finally {
      await t.close();
    }
  });
});

describe.each([
  ['Redis', false],
  ['memory', true],
])('a join racing a socket close leaves no dead member in the local room index (%s)', (_label, memory) => {
  it('1,000 tries', async () => {
    const t = await startApp({ memory, mesh: { keyPrefix: uniquePrefix(), rateLimit: false } });
    const router = t.app.get(MessageRouter);
    try {
      for (let round = 0; round < 10; round++) {
        const clients = await Promise.all(Array.from({ length: 100 }, () => RawClient.connect(t.url)));
        const joins = clients.map((c) => t.mesh.addToRoom('race', c.connectionId!).catch(() => false));
        for (const c of clients) c.socket.terminate();
        await Promise.all(joins);
        await waitFor(() => t.mesh.connectionCount === 0, 5000, 'every socket closed');
        await waitFor(async () => (await t.mesh.getRoomMembers('race')).length === 0, 5000, 'stored memberships cleaned');
        expect(router.localMembers('race')).toEqual([]);
      }
    } finally {
      await t.close();
    }
  });
});

describe('metadata others may see', () => {
  it('visibleMetadata chooses what join-room and get-connection-metadata show; allowClientMetadataReads shows all', async () => {
    const keyPrefix = uniquePrefix();
    const chosen = await startApp({ mesh: { keyPrefix, visibleMetadata: (m) => ({ name: (m as { name?: string }).name }) } });
    const open = await startApp({ memory: true, mesh: { allowClientMetadataReads: true } });
    try {
      for (const t of [chosen, open]) t.mesh.exposeRoom('lobby');
      const a = await RawClient.connect(chosen.url);
      const b = await RawClient.connect(chosen.url);
      await chosen.app.get(ConnectionManager).setMetadata(a.connectionId!, { name: 'Ann', email: 'ann@example.com', token: 't0k' });
      await a.command('mesh/join-room', { roomName: 'lobby' });
      const joined = await b.command('mesh/join-room', { roomName: 'lobby' });
      expect(joined.present).toEqual(expect.arrayContaining([{ id: a.connectionId, metadata: { name: 'Ann' } }, { id: b.connectionId }]));
      expect(await b.command('mesh/get-connection-metadata', { connectionId: a.connectionId })).toEqual({ metadata: { name: 'Ann' } });
      expect(await b.command('mesh/get-connection-metadata', { connectionId: 'nobody' })).toEqual({ metadata: null });
      const c = await RawClient.connect(open.url);
      await open.app.get(ConnectionManager).setMetadata(c.connectionId!, { name: 'Cy', email: 'cy@example.com' });
      expect(await c.command('mesh/join-room', { roomName: 'lobby' })).toEqual({ success: true, present: [{ id: c.connectionId, metadata: { name: 'Cy', email: 'cy@example.com' } }] });
      await Promise.all([a.close(), b.close(), c.close()]);
    } finally {
      await chosen.close();
      await open.close();
    }
  });
});

describe.each([
  ['Redis', false],
  ['memory', true],
])('rooms with 20,000 members (%s)', (_label, memory) => {
  it('getAllMetadataForRoom and join-room work past Lua unpack limits', async () => {
    const keyPrefix = uniquePrefix();
    const t = await startApp({ memory, mesh: { keyPrefix } });
    const redis = new Redis(redisUrl());
    try {
      t.mesh.exposeRoom('crowd');
      const client = await RawClient.connect(t.url);
      // The members are written straight into the store: 20,000 sockets are not the point here.
      const store = t.app.get<SharedState>(MESH_SHARED_STATE);
      const ids = Array.from({ length: 20_000 }, (_, i) => `member-${i}`);
      for (let i = 0; i < ids.length; i += 1000) {
        await Promise.all(ids.slice(i, i + 1000).map(async (id) => {
          await store.addConnection(t.mesh.nodeId, id, { n: id });
          await store.addToRoom('crowd', id);
        }));
      }
      const metadata = await t.app.get(ConnectionManager).getAllMetadataForRoom('crowd');
      expect(metadata).toHaveLength(20_000);
      expect(metadata).toContainEqual({ 'member-19999': { n: 'member-19999' } });
      const joined = await client.command('mesh/join-room', { roomName: 'crowd' });
      expect(joined.success).toBe(true);
      expect(joined.present).toHaveLength(20_001);
      await client.close();
    } finally {
      redis.disconnect();
      await t.close();
    }
  }, 60_000);
});
