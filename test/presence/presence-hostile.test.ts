import { PresenceManager } from '../../lib/presence/presence-manager';
import { RawClient } from '../support/raw-client';
import { RedisKeyLayout } from '../../lib/state/redis/key-layout';
import { adminRedis, publishFromOutside, startApp, uniquePrefix, waitFor, type TestApp } from '../support/test-app';

const MAX_NAME = 64;
const MAX_STATE = 200;

/** Every byte from a client is hostile: each bad presence request gets a clear refusal and breaks nothing. */
describe('presence: hostile payloads', () => {
  let t: TestApp;
  const keyPrefix = uniquePrefix();
  const clients: RawClient[] = [];

  beforeAll(async () => {
    t = await startApp({ mesh: { keyPrefix, maxNameLength: MAX_NAME, maxRoomsPerConnection: 3 } });
    t.mesh.exposeRoom(/^room:.+$/);
    t.mesh.trackPresence(/^room:.+$/, { ttl: 0, maxStateBytes: MAX_STATE });
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  afterAll(() => t.close());

  async function raw(): Promise<RawClient> {
    const c = await RawClient.connect(t.url);
    clients.push(c);
    return c;
  }

  it('room names that are not strings, empty, too long or untracked: refused, nothing subscribed', async () => {
    const c = await raw();
    for (const roomName of [123, null, '', {}, ['room:a'], 'x'.repeat(MAX_NAME + 1), `room:${'x'.repeat(MAX_NAME)}`, 'other']) {
      expect(await c.command('mesh/subscribe-presence', { roomName })).toEqual({ success: false, present: [] });
      expect(await c.command('mesh/publish-presence-state', { roomName, state: { a: 1 } })).toBe(false);
      expect(await c.command('mesh/clear-presence-state', { roomName })).toBe(false);
      expect(await c.command('mesh/get-presence-state', { roomName })).toEqual({ success: false, present: [], states: {} });
      expect(await c.command('mesh/unsubscribe-presence', { roomName })).toBe(false);
    }
    for (const payload of [null, 'room:a', 42, []]) expect(await c.command('mesh/subscribe-presence', payload)).toEqual({ success: false, present: [] });
  });

  it('a state over maxStateBytes, a bad expireAfter or silent: an error naming the problem, nothing stored or published', async () => {
    const watcher = await raw();
    await watcher.command('mesh/subscribe-presence', { roomName: 'room:s' });
    const c = await raw();
    await c.command('mesh/join-room', { roomName: 'room:s' });
    expect(await c.command('mesh/publish-presence-state', { roomName: 'room:s', state: { blob: 'x'.repeat(MAX_STATE) } })).toMatchObject({ code: 'ELIMIT', error: expect.stringContaining('maxStateBytes') });
    for (const expireAfter of [-1, 0, 1.5, 'soon', 2 ** 31, {}]) {
      expect(await c.command('mesh/publish-presence-state', { roomName: 'room:s', state: { a: 1 }, expireAfter })).toMatchObject({ code: 'EINVALID', error: expect.stringContaining('expireAfter') });
    }
    expect(await c.command('mesh/publish-presence-state', { roomName: 'room:s', state: { a: 1 }, silent: 'yes' })).toMatchObject({ code: 'EINVALID' });
    for (const state of [0, '', false, null, undefined]) expect(await c.command('mesh/publish-presence-state', { roomName: 'room:s', state })).toBe(false);
    expect((await t.mesh.getPresence('room:s')).states).toEqual({});
    expect(watcher.frames.filter((f) => f.command === 'mesh/presence-update' && (f.payload as { type: string }).type === 'state')).toEqual([]);
    // And the connection still works.
    expect(await c.command('mesh/publish-presence-state', { roomName: 'room:s', state: { ok: true } })).toBe(true);
  });

  it("a known id with a wrong or malformed secret does not take someone's presence over", async () => {
    const victim = await raw();
    const joined = await victim.command('mesh/join-room', { roomName: 'room:t' });
    const victimId = joined.presence.id as string;
    expect(joined.presence.secret).toEqual(expect.any(String));
    await victim.command('mesh/publish-presence-state', { roomName: 'room:t', state: { mine: true } });
    for (const presence of [{ id: victimId, secret: 'guess' }, { id: victimId }, { id: victimId, secret: 'x'.repeat(5000) }, 'x', { id: 5, secret: joined.presence.secret }]) {
      const attacker = await raw();
      const reply = await attacker.command('mesh/join-room', { roomName: 'room:t', presence });
      expect(reply.success).toBe(true);
      const attackerId = (await attacker.waitFor((f) => f.command === 'mesh/assign-id')).payload;
      expect(reply.presence).toEqual({ id: attackerId, secret: expect.any(String) });
      // Its state lands under its own id; the victim's stays.
      expect(await attacker.command('mesh/publish-presence-state', { roomName: 'room:t', state: { mine: false } })).toBe(true);
      await attacker.close();
    }
    // The attackers' own presence ends as their connections close (ttl 0).
    await waitFor(async () => (await t.mesh.getPresence('room:t')).present.length === 1, 5000, 'the attackers to leave');
    expect(await t.mesh.getPresence('room:t')).toEqual({ present: [{ id: victimId }], states: { [victimId]: { mine: true } } });
  });

  it('a stray message published on a presence topic from outside is dropped, the next update still arrives', async () => {
    const watcher = await raw();
    await watcher.command('mesh/subscribe-presence', { roomName: 'room:stray' });
    const channel = new RedisKeyLayout(keyPrefix).topicChannel({ kind: 'presence', name: 'room:stray' });
    const redis = adminRedis();
    try {
      for (const junk of ['not json', '{"type":"join","roomName":"other","connectionId":"x","timestamp":1}', '{"type":"boom","roomName":"room:stray","connectionId":"x","timestamp":1}', '[]']) {
        await publishFromOutside(redis, channel, junk);
      }
    } finally {
      redis.disconnect();
    }
    const member = await raw();
    await member.command('mesh/join-room', { roomName: 'room:stray' });
    const update = await watcher.waitFor((f) => f.command === 'mesh/presence-update');
    expect(update.payload).toMatchObject({ type: 'join', roomName: 'room:stray' });
    expect(watcher.frames.filter((f) => f.command === 'mesh/presence-update')).toHaveLength(1);
  });

  it('presence subscriptions per connection are capped (maxRoomsPerConnection); a closed connection leaves nothing behind', async () => {
    const c = await raw();
    const id = (await c.waitFor((f) => f.command === 'mesh/assign-id')).payload as string;
    for (const n of [1, 2, 3]) expect((await c.command('mesh/subscribe-presence', { roomName: `room:cap${n}` })).success).toBe(true);
    expect(await c.command('mesh/subscribe-presence', { roomName: 'room:cap4' })).toMatchObject({ code: 'ELIMIT' });
    expect((await c.command('mesh/subscribe-presence', { roomName: 'room:cap1' })).success).toBe(true); // again: not a new one
    expect(await c.command('mesh/unsubscribe-presence', { roomName: 'room:cap1' })).toBe(true);
    expect((await c.command('mesh/subscribe-presence', { roomName: 'room:cap4' })).success).toBe(true);
    await c.command('mesh/join-room', { roomName: 'room:cap4' });
    await c.close();
    const presence = t.app.get(PresenceManager);
    await waitFor(async () => (await t.mesh.getPresence('room:cap4')).present.length === 0, 5000, 'the closed member to leave');
    expect(['room:cap2', 'room:cap3', 'room:cap4'].some((room) => presence.isSubscribed(room, id))).toBe(false);
    const keys = new RedisKeyLayout(keyPrefix);
    const redis = adminRedis();
    try {
      await waitFor(async () => (await redis.exists(keys.connectionPresence(id))) === 0, 5000, 'its presence index to go');
      expect(await redis.sismember(keys.nodePresence(t.mesh.nodeId), id)).toBe(0);
    } finally {
      redis.disconnect();
    }
  });
});
