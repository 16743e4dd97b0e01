import type { Redis } from 'ioredis';
import { MeshClient } from '../../client';
import { RedisKeyLayout } from '../../lib/state/redis/key-layout';
import { RawClient } from '../support/raw-client';
import { adminRedis, startApp, uniquePrefix, waitFor, type TestApp } from '../support/test-app';

// A client that writes the wire by hand and sends `recover` values no MeshClient would: each is a
// normal reply (a fresh subscription when the value is not a position), nothing is replayed that
// the client may not read, and the node keeps serving.

const RECOVER = { size: 50, ttl: 60_000 };

/** `recover` values that are not a position: each must be read as "none". */
const NOT_POSITIONS: Array<[string, unknown]> = [
  ['a string', 'recover-me'],
  ['a number', 42],
  ['true', true],
  ['null', null],
  ['an array', [{ epoch: 'e', offset: 1 }]],
  ['an empty object', {}],
  ['an epoch of 10,000 characters', { epoch: 'e'.repeat(10_000), offset: 0 }],
  ['an empty epoch', { epoch: '', offset: 0 }],
  ['a numeric epoch', { epoch: 12345, offset: 1 }],
  ['a nested-object epoch', { epoch: { a: { b: { c: ['d'] } } }, offset: 1 }],
  ['a string offset', { epoch: 'e', offset: '1' }],
  ['a negative offset', { epoch: 'e', offset: -1 }],
  ['a fractional offset', { epoch: 'e', offset: 1.5 }],
  ['an offset past 2^53', { epoch: 'e', offset: 2 ** 60 }],
  ['an offset of 1e308', { epoch: 'e', offset: 1e308 }],
  ['a nested-object offset', { epoch: 'e', offset: { valueOf: 1, toString: 'x' } }],
  ['a deeply nested epoch and offset', { epoch: JSON.parse('['.repeat(30) + ']'.repeat(30)), offset: JSON.parse('{"a":'.repeat(20) + '1' + '}'.repeat(20)) }],
];

describe('recovery: hostile input', () => {
  let a: TestApp;
  let admin: Redis;
  let keys: RedisKeyLayout;
  const raws: RawClient[] = [];
  const clients: MeshClient[] = [];

  beforeAll(async () => {
    const keyPrefix = uniquePrefix();
    keys = new RedisKeyLayout(keyPrefix);
    admin = adminRedis();
    a = await startApp({ mesh: { keyPrefix } });
    a.mesh.exposeChannel(/^secret:.+$/, () => false, { recover: RECOVER });
    a.mesh.exposeRoom(/^secret-room:.+$/, () => false, { recover: RECOVER });
    a.mesh.exposeChannel(/^feed:.+$/, undefined, { recover: RECOVER });
    a.mesh.exposeRoom(/^lobby:.+$/, undefined, { recover: RECOVER });
  });

  afterEach(async () => {
    await Promise.all(raws.splice(0).map((r) => r.close()));
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  afterAll(async () => {
    await a.close();
    admin.disconnect();
  });

  async function raw(): Promise<RawClient> {
    const r = await RawClient.connect(a.url);
    raws.push(r);
    return r;
  }

  /** The stream's epoch and last offset as Redis has them. */
  async function positionOf(kind: 'channel' | 'room', name: string): Promise<{ epoch: string; offset: number }> {
    const key = kind === 'channel' ? keys.channelPosition(name) : keys.roomPosition(name);
    const [epoch, top] = await admin.hmget(key, 'epoch', 'top');
    return { epoch: epoch!, offset: Number(top) };
  }

  /** Frames the raw client got that carry a channel's messages or a room's broadcasts. */
  function deliveries(r: RawClient, target: string): unknown[] {
    return r.frames.filter(
      (f) => (f.command === 'mesh/subscription-message' && (f.payload as { channel?: string })?.channel === target) || (f.position as { room?: string } | undefined)?.room === target,
    );
  }

  /** Proves the node still serves: a fresh MeshClient subscribes and gets a message. */
  async function nodeStillServes(channel: string): Promise<void> {
    const c = new MeshClient(a.url, { shouldReconnect: false });
    clients.push(c);
    await c.connect();
    const got: string[] = [];
    expect(await c.subscribe(channel, (m) => void got.push(m))).toMatchObject({ success: true });
    await a.mesh.publish(channel, 'still-serving');
    await waitFor(() => got.length === 1, 3000, 'a message to a fresh client after the hostile frames');
    expect(got).toEqual(['still-serving']);
  }

  it('subscribe-channel with garbage `recover`: a normal reply, read as a fresh subscription, nothing replayed; the node keeps serving', async () => {
    for (let i = 1; i <= 3; i++) await a.mesh.publish('feed:garbage', `m${i}`);
    const { epoch } = await positionOf('channel', 'feed:garbage');
    for (const [what, recover] of NOT_POSITIONS) {
      const r = await raw();
      const reply = await r.command('mesh/subscribe-channel', { channel: 'feed:garbage', recover });
      expect({ what, reply }).toEqual({ what, reply: { success: true, history: [], epoch, offset: 3 } });
      expect({ what, replayed: deliveries(r, 'feed:garbage') }).toEqual({ what, replayed: [] });
      expect({ what, open: r.socket.readyState }).toEqual({ what, open: r.socket.OPEN });
    }
    // A position that is one but says nothing true is answered recovered: false, with nothing sent.
    const badPositions: Array<[string, unknown]> = [
      ['a guessed epoch', { epoch: 'feedfacefeedface', offset: 0 }],
      ['an offset past the top', { epoch, offset: Number.MAX_SAFE_INTEGER }],
      ['the right epoch, an extra nested field', { epoch, offset: 99, connectionId: { nested: [1, 2, 3] } }],
    ];
    for (const [what, recover] of badPositions) {
      const r = await raw();
      const reply = await r.command('mesh/subscribe-channel', { channel: 'feed:garbage', recover });
      expect({ what, reply }).toEqual({ what, reply: { success: true, history: [], epoch, offset: 3, recovered: false, missed: 0 } });
      expect({ what, replayed: deliveries(r, 'feed:garbage') }).toEqual({ what, replayed: [] });
    }
    await nodeStillServes('feed:garbage-after');
  });

  it('join-room with garbage `recover` (and garbage connection ids): a normal reply, read as a fresh join, nothing replayed; the node keeps serving', async () => {
    for (let i = 1; i <= 3; i++) await a.mesh.broadcastRoom('lobby:garbage', 'tick', i);
    const { epoch } = await positionOf('room', 'lobby:garbage');
    const garbage: Array<[string, unknown]> = [
      ...NOT_POSITIONS,
      ['a nested-object connection id', { epoch: 'e'.repeat(10_000), offset: 0, connectionId: { $ne: null } }],
      ['a 10,000-character connection id', { epoch: 'x', offset: -5, connectionId: 'c'.repeat(10_000) }],
    ];
    for (const [what, recover] of garbage) {
      const r = await raw();
      const reply = await r.command('mesh/join-room', { roomName: 'lobby:garbage', recover });
      expect({ what, reply }).toEqual({ what, reply: { success: true, present: expect.arrayContaining([{ id: r.connectionId }]), epoch, offset: 3 } });
      expect({ what, replayed: deliveries(r, 'lobby:garbage') }).toEqual({ what, replayed: [] });
      // Leave again, so the next reply's member list stays small.
      expect(await r.command('mesh/leave-room', { roomName: 'lobby:garbage' })).toMatchObject({ success: true });
    }
    const r = await raw();
    const reply = await r.command('mesh/join-room', { roomName: 'lobby:garbage', recover: { epoch: 'feedfacefeedface', offset: 0, connectionId: 'c'.repeat(10_000) } });
    expect(reply).toMatchObject({ success: true, epoch, offset: 3, recovered: false, missed: 0 });
    expect(deliveries(r, 'lobby:garbage')).toEqual([]);
    await nodeStillServes('feed:garbage-room-after');
  });

  it('a recover with the right epoch and offset 0 on a channel or room the client may not access: { success: false }, nothing replayed', async () => {
    for (let i = 1; i <= 3; i++) {
      await a.mesh.publish('secret:s', `secret-${i}`);
      await a.mesh.broadcastRoom('secret-room:s', 'tick', `secret-${i}`);
    }
    // Better than guessed: the very epoch Redis has.
    const channelAt = await positionOf('channel', 'secret:s');
    const roomAt = await positionOf('room', 'secret-room:s');
    expect(channelAt.offset).toBe(3);
    expect(roomAt.offset).toBe(3);

    const r = await raw();
    expect(await r.command('mesh/subscribe-channel', { channel: 'secret:s', historyLimit: 10, recover: { epoch: channelAt.epoch, offset: 0 } })).toEqual({ success: false, history: [] });
    expect(await r.command('mesh/join-room', { roomName: 'secret-room:s', recover: { epoch: roomAt.epoch, offset: 0 } })).toEqual({ success: false });
    // A replay would have come before the replies.
    expect(deliveries(r, 'secret:s')).toEqual([]);
    expect(deliveries(r, 'secret-room:s')).toEqual([]);
    // Not subscribed or joined either: the room does not list it, and history stays unread.
    expect(await a.mesh.getRoomMembers('secret-room:s')).not.toContain(r.connectionId);
    expect(await r.command('mesh/get-channel-history', { channel: 'secret:s', limit: 10 })).toMatchObject({ success: false, history: [] });
    // A name that is not exposed at all, with a position: refused the same way.
    expect(await r.command('mesh/subscribe-channel', { channel: 'unexposed:s', recover: { epoch: channelAt.epoch, offset: 0 } })).toEqual({ success: false, history: [] });
    expect(r.socket.readyState).toBe(r.socket.OPEN);
  });
});
