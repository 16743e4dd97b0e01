import type { Redis } from 'ioredis';
import { ConnectionManager } from '../../lib';
import { RedisKeyLayout } from '../../lib/state/redis/key-layout';
import { NodeMessageDispatcher } from '../../lib/cluster/node-message-dispatcher';
import { MessageRouter } from '../../lib/delivery/message-router';
import { RawClient } from '../support/raw-client';
import { adminRedis, channelSubscribers, publishFromOutside, scanKeys, startApp, uniquePrefix, waitFor, type TestApp } from '../support/test-app';

/** Two real nodes on one Redis, raw clients on each, frames counted on the wire. */
describe('rooms, broadcasts, metadata and channels across two nodes', () => {
  let keyPrefix: string;
  let a: TestApp;
  let b: TestApp;
  let redis: Redis;
  let onA: RawClient[];
  let onB: RawClient[];

  beforeAll(async () => {
    keyPrefix = uniquePrefix();
    redis = adminRedis();
    a = await startApp({ mesh: { keyPrefix } });
    b = await startApp({ mesh: { keyPrefix } });
    for (const node of [a, b]) {
      node.mesh.exposeChannel(/^chat:.+$/);
      node.mesh.exposeChannel(/^vip:.+$/, async (conn) => (await node.app.get(ConnectionManager).getMetadata(conn))?.vip === true);
      node.mesh.exposeChannel(/^broken:.+$/, () => {
        throw new Error('guard bug');
      });
      node.mesh.exposeRoom(/^open:.+$/);
    }
  });

  beforeEach(async () => {
    onA = [await RawClient.connect(a.url), await RawClient.connect(a.url)];
    onB = [await RawClient.connect(b.url), await RawClient.connect(b.url)];
  });

  afterEach(async () => {
    await Promise.all([...onA, ...onB].map((c) => c.close()));
  });

  afterAll(async () => {
    await a.close();
    await b.close();
    redis.disconnect();
  });

  const count = (client: RawClient, command: string) => client.frames.filter((f) => f.command === command).length;
  const all = () => [...onA, ...onB];
  /**
   * A broadcast from both nodes, waited for on every connection: deliveries from one node to one
   * socket keep their order, so whatever was sent before it has arrived by then (nothing more will).
   */
  async function settled(): Promise<void> {
    const marker = `marker-${Math.random().toString(36).slice(2)}`;
    await a.mesh.broadcast(marker);
    await b.mesh.broadcast(marker);
    await Promise.all(all().map((c) => c.waitFor((f) => f.command === marker && count(c, marker) === 2)));
  }

  it('broadcastRoom from A reaches members on A and B exactly once each, and nobody else', async () => {
    const [a1, a2] = onA;
    const [b1, b2] = onB;
    for (const member of [a1, b1, b2]) await a.mesh.addToRoom('lobby', member.connectionId!);
    await a.mesh.broadcastRoom('lobby', 'notice', { n: 1 });
    await settled();
    expect([a1, b1, b2].map((c) => count(c, 'notice'))).toEqual([1, 1, 1]);
    expect(count(a2, 'notice')).toBe(0);
    expect(b1.frames.find((f) => f.command === 'notice')).toEqual({ command: 'notice', payload: { n: 1 } });
  });

  it('exclude leaves out the given connections, wherever they are', async () => {
    const [a1] = onA;
    const [b1, b2] = onB;
    for (const member of [a1, b1, b2]) await b.mesh.addToRoom('ex', member.connectionId!);
    await a.mesh.broadcastRoom('ex', 'ping-room', null, { exclude: [b1.connectionId!] });
    await settled();
    expect([a1, b1, b2].map((c) => count(c, 'ping-room'))).toEqual([1, 0, 1]);
  });

  it('leaving and clearing a room, from either node, stop deliveries on both', async () => {
    const [a1] = onA;
    const [b1, b2] = onB;
    for (const member of [a1, b1, b2]) await a.mesh.addToRoom('churn', member.connectionId!);
    expect(await a.mesh.removeFromRoom('churn', b1.connectionId!)).toBe(true);
    expect(await b.mesh.removeFromRoom('churn', a1.connectionId!)).toBe(true);
    await b.mesh.broadcastRoom('churn', 'after-leave');
    await b2.waitFor((f) => f.command === 'after-leave');
    await b.mesh.clearRoom('churn');
    await a.mesh.broadcastRoom('churn', 'after-clear');
    await a.mesh.broadcast('marker');
    await Promise.all(all().map((c) => c.waitFor((f) => f.command === 'marker')));
    expect([a1, b1, b2].map((c) => count(c, 'after-leave'))).toEqual([0, 0, 1]);
    expect(all().map((c) => count(c, 'after-clear'))).toEqual([0, 0, 0, 0]);
    expect(await a.mesh.getRoomMembers('churn')).toEqual([]);
  });

  it('broadcast reaches every connection of both nodes exactly once', async () => {
    await b.mesh.broadcast('everyone', 'hello');
    await settled();
    expect(all().map((c) => count(c, 'everyone'))).toEqual([1, 1, 1, 1]);
  });

  it('sendTo reaches a connection on the other node only', async () => {
    await a.mesh.sendTo(onB[1].connectionId!, 'dm', { text: 'psst' });
    expect((await onB[1].waitFor((f) => f.command === 'dm')).payload).toEqual({ text: 'psst' });
    await settled();
    expect([onA[0], onA[1], onB[0]].map((c) => count(c, 'dm'))).toEqual([0, 0, 0]);
  });

  it('disconnect closes a connection on the other node with the given code', async () => {
    const closed = new Promise<number>((resolve) => onB[1].socket.once('close', (code) => resolve(code)));
    await a.mesh.disconnect(onB[1].connectionId!, 4100);
    expect(await closed).toBe(4100);
    expect(onB[0].socket.readyState).toBe(1);
  });

  it('rooms and metadata written on one node are read on the other', async () => {
    const remote = onB[0].connectionId!;
    expect(await a.mesh.addToRoom('shared', remote)).toBe(true);
    expect(await b.mesh.isInRoom('shared', remote)).toBe(true);
    expect(await b.mesh.getRooms(remote)).toEqual(['shared']);
    const onNodeA = a.app.get(ConnectionManager);
    const onNodeB = b.app.get(ConnectionManager);
    expect(await onNodeA.setMetadata(remote, { user: { name: 'Ada', langs: ['en'] }, plan: 'free' })).toBe(true);
    expect(await onNodeA.setMetadata(remote, { plan: 'pro' }, { strategy: 'merge' })).toBe(true);
    expect(await onNodeA.setMetadata(remote, { user: { age: 36 } }, { strategy: 'deepMerge' })).toBe(true);
    expect(await onNodeB.getMetadata(remote)).toEqual({ user: { name: 'Ada', langs: ['en'], age: 36 }, plan: 'pro' });
    expect(await onNodeA.getAllMetadataForRoom('shared')).toEqual([{ [remote]: { user: { name: 'Ada', langs: ['en'], age: 36 }, plan: 'pro' } }]);
    const everyone = await onNodeB.getAllMetadata();
    expect(everyone.map((entry) => Object.keys(entry)[0]).sort()).toEqual(all().map((c) => c.connectionId!).sort());
    expect(await a.mesh.removeFromRoom('shared', remote)).toBe(true);
    expect(await b.mesh.getRoomMembers('shared')).toEqual([]);
    expect(await onNodeA.setMetadata('no-such-connection', { x: 1 })).toBe(false);
    expect(await redis.exists(new RedisKeyLayout(keyPrefix).connection('no-such-connection'))).toBe(0);
  });

  it('merged metadata never pollutes prototypes, and dangerous keys are dropped at any depth', async () => {
    const id = onA[0].connectionId!;
    const manager = b.app.get(ConnectionManager);
    const hostile = () => JSON.parse('{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":2}},"safe":{"__proto__":{"polluted":3},"extra":1}}');
    const results: Record<string, unknown> = {};
    for (const strategy of ['replace', 'merge', 'deepMerge'] as const) {
      await manager.setMetadata(id, { safe: { ok: true }, keep: 1 });
      await manager.setMetadata(id, hostile(), { strategy });
      results[strategy] = await manager.getMetadata(id);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
    expect(results).toEqual({
      replace: { safe: { extra: 1 } },
      merge: { safe: { extra: 1 }, keep: 1 },
      deepMerge: { safe: { ok: true, extra: 1 }, keep: 1 },
    });
    expect(JSON.stringify(results)).not.toMatch(/__proto__|constructor|prototype|polluted/);
  });

  it('a message PUBLISHed by a plain Redis client reaches subscribers on both nodes, once', async () => {
    const [a1] = onA;
    const [b1] = onB;
    expect(await a1.command('mesh/subscribe-channel', { channel: 'chat:room1' })).toEqual({ success: true, history: [] });
    expect(await b1.command('mesh/subscribe-channel', { channel: 'chat:room1' })).toEqual({ success: true, history: [] });
    await publishFromOutside(redis, 'chat:room1', 'hi from redis-cli');
    for (const c of [a1, b1]) {
      expect((await c.waitFor((f) => f.command === 'mesh/subscription-message')).payload).toEqual({ channel: 'chat:room1', message: 'hi from redis-cli' });
    }
    // A second message on the same channel: once it is in, the first was not delivered twice.
    await publishFromOutside(redis, 'chat:room1', 'second');
    for (const c of [a1, b1]) await c.waitFor((f) => f.command === 'mesh/subscription-message' && (f.payload as { message: string }).message === 'second');
    expect([a1, b1].map((c) => count(c, 'mesh/subscription-message'))).toEqual([2, 2]);
  });

  it('history is newest first and limited; non-strings are published as JSON', async () => {
    for (let i = 1; i <= 5; i++) await a.mesh.publish('chat:history', `msg${i}`, { history: 3 });
    await a.mesh.publish('chat:history', { obj: true }, { history: 3 });
    expect(await onB[0].command('mesh/subscribe-channel', { channel: 'chat:history', historyLimit: 10 })).toEqual({
      success: true,
      history: ['{"obj":true}', 'msg5', 'msg4'],
    });
    expect(await onB[0].command('mesh/get-channel-history', { channel: 'chat:history', limit: 1 })).toEqual({ success: true, history: ['{"obj":true}'] });
    expect(await redis.llen(new RedisKeyLayout(keyPrefix).history('chat:history'))).toBe(3);
  });

  it('a node listens to a Redis channel only while it has a local subscriber', async () => {
    const channel = 'chat:lifecycle';
    const subscribers = () => channelSubscribers(redis, channel);
    expect(await subscribers()).toBe(0);
    await onA[0].command('mesh/subscribe-channel', { channel });
    await onA[1].command('mesh/subscribe-channel', { channel });
    await onB[0].command('mesh/subscribe-channel', { channel });
    expect(await subscribers()).toBe(2);
    expect(await onA[0].command('mesh/unsubscribe-channel', { channel })).toBe(true);
    expect(await onA[0].command('mesh/unsubscribe-channel', { channel })).toBe(false);
    expect(await subscribers()).toBe(2);
    await onA[1].close();
    await waitFor(async () => (await subscribers()) === 1, 3000, 'node A unsubscribing');
    expect(await onB[0].command('mesh/unsubscribe-channel', { channel })).toBe(true);
    expect(await subscribers()).toBe(0);
  });

  it('unexposed, guarded, throwing-guard and internal channels are refused', async () => {
    const [c] = onA;
    const refused = { success: false, history: [] };
    expect(await c.command('mesh/subscribe-channel', { channel: 'secret' })).toEqual(refused);
    expect(await c.command('mesh/subscribe-channel', { channel: 'vip:lounge' })).toEqual(refused);
    expect(await c.command('mesh/subscribe-channel', { channel: 'broken:x' })).toEqual(refused);
    expect(await c.command('mesh/subscribe-channel', { channel: `${keyPrefix}broadcast` })).toEqual(refused);
    expect(await c.command('mesh/subscribe-channel', { channel: 42 })).toEqual(refused);
    expect(await c.command('mesh/get-channel-history', { channel: 'secret' })).toEqual(refused);
    await a.app.get(ConnectionManager).setMetadata(c.connectionId!, { vip: true });
    expect(await c.command('mesh/subscribe-channel', { channel: 'vip:lounge' })).toEqual({ success: true, history: [] });
  });

  it('clients join only exposed rooms; join lists who is present, by id only (metadata is not shown by default)', async () => {
    const [a1] = onA;
    const [b1] = onB;
    await b.app.get(ConnectionManager).setMetadata(b1.connectionId!, { name: 'bee', token: 'secret' });
    expect(await a1.command('mesh/join-room', { roomName: 'private' })).toEqual({ success: false });
    expect(await b1.command('mesh/join-room', { roomName: 'open:1' })).toEqual({ success: true, present: [{ id: b1.connectionId }] });
    const joined = await a1.command('mesh/join-room', { roomName: 'open:1' });
    expect(joined.success).toBe(true);
    expect(joined.present).toEqual(expect.arrayContaining([{ id: b1.connectionId }, { id: a1.connectionId }]));
    expect(JSON.stringify(joined)).not.toContain('secret');
    await a.mesh.setRoomMetadata('open:1', { topic: 'general' });
    expect(await b1.command('mesh/get-room-metadata', { roomName: 'open:1' })).toEqual({ metadata: { topic: 'general' } });
    expect(await b1.command('mesh/get-room-metadata', { roomName: 'private' })).toMatchObject({ code: 'EFORBIDDEN' });
    expect(await a1.command('mesh/leave-room', { roomName: 'open:1' })).toEqual({ success: true });
    expect(await b.mesh.getRoomMembers('open:1')).toEqual([b1.connectionId]);
  });

  it('client metadata commands are refused unless allowed', async () => {
    expect(await onA[0].command('mesh/set-my-connection-metadata', { metadata: { admin: true } })).toMatchObject({ code: 'EFORBIDDEN' });
    expect(await onA[0].command('mesh/get-connection-metadata', { connectionId: onB[0].connectionId })).toMatchObject({ code: 'EFORBIDDEN' });
    expect(await onA[0].command('mesh/get-my-connection-metadata')).toEqual({ metadata: null });
  });

  it('a node listens to a room only while it has a member of it: a node without members hears nothing of its traffic', async () => {
    const room = 'interest';
    const channel = new RedisKeyLayout(keyPrefix).roomChannel(room);
    const listeners = () => channelSubscribers(redis, channel);
    const routerOf = (node: TestApp) => node.app.get(MessageRouter);
    const heardOnB = jest.spyOn(b.app.get(NodeMessageDispatcher), 'handle');
    try {
      expect(await listeners()).toBe(0);
      await a.mesh.addToRoom(room, onA[0].connectionId!);
      expect([routerOf(a).listensToRoom(room), routerOf(b).listensToRoom(room), await listeners()]).toEqual([true, false, 1]);
      for (let i = 0; i < 20; i++) await a.mesh.broadcastRoom(room, 'busy', { i });
      await onA[0].waitFor((f) => f.command === 'busy' && (f.payload as { i: number }).i === 19);
      await settled();
      // Node B received the markers' broadcasts and nothing of the room's 20 messages.
      expect(heardOnB.mock.calls.filter(([text]) => String(text).includes('busy'))).toEqual([]);
      // A member on B, joined from A: B listens before addToRoom resolves, so the next broadcast reaches it.
      await a.mesh.addToRoom(room, onB[0].connectionId!);
      expect([routerOf(b).listensToRoom(room), await listeners()]).toEqual([true, 2]);
      await a.mesh.broadcastRoom(room, 'both');
      await Promise.all([onA[0], onB[0]].map((c) => c.waitFor((f) => f.command === 'both')));
      // The last local member leaving (or closing) stops the node listening.
      expect(await a.mesh.removeFromRoom(room, onB[0].connectionId!)).toBe(true);
      expect([routerOf(b).listensToRoom(room), await listeners()]).toEqual([false, 1]);
      await onA[0].close();
      await waitFor(async () => !routerOf(a).listensToRoom(room) && (await listeners()) === 0, 3000, 'node A to stop listening');
    } finally {
      heardOnB.mockRestore();
    }
  });

  it("after a client closes, no key or field of that connection is left in Redis", async () => {
    const c = onB[0];
    const id = c.connectionId!;
    await a.mesh.addToRoom('gone', id);
    await a.app.get(ConnectionManager).setMetadata(id, { x: 1 });
    await c.command('mesh/subscribe-channel', { channel: 'chat:gone' });
    await c.close();
    await waitFor(async () => (await redis.exists(new RedisKeyLayout(keyPrefix).connection(id))) === 0, 3000, 'cleanup');
    const keys = await scanKeys(redis, `${keyPrefix}*`);
    expect(keys.filter((k) => k.includes(id))).toEqual([]);
    for (const key of keys) {
      const type = await redis.type(key);
      if (type === 'hash') expect(await redis.hexists(key, id)).toBe(0);
      if (type === 'set') expect(await redis.sismember(key, id)).toBe(0);
    }
  });
});
