import { MeshClient } from '../../client';
import { TcpProxy } from '../support/tcp-proxy';
import { channelFrames, cutAndHold, recoveriesOf, roomFrames, watchedClient, type WatchedClient } from '../support/recovery';
import { RedisServer } from '../support/redis-server';
import { startApp, uniquePrefix, waitFor, type TestApp } from '../support/test-app';

// Each test runs its own redis-server (no persistence) and restarts it empty on the same port:
// every stream, position and registration is gone. The nodes find themselves unlisted, fence
// (their clients are closed with 1012 and reconnect) and rejoin. The suite does not use the
// shared topology, so it is the same test in both jest projects.

const RECOVER = { size: 100, ttl: 60_000 };
/** Heartbeats fast enough to notice the restart within a fraction of a second; a TTL loose enough for a loaded machine. */
const TIMINGS = { nodeHeartbeatInterval: 100, nodeTtl: 2000 };

describe('recovery: Redis restart', () => {
  let redis: RedisServer;
  const apps: TestApp[] = [];
  const clients: MeshClient[] = [];
  const proxies: TcpProxy[] = [];

  beforeEach(async () => {
    redis = await RedisServer.start();
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(proxies.splice(0).map((p) => p.close()));
    await Promise.all(apps.splice(0).map((t) => t.close().catch(() => undefined)));
    await redis.stop();
  });

  async function node(keyPrefix: string): Promise<TestApp> {
    const t = await startApp({ mesh: { redis: redis.url, keyPrefix, ...TIMINGS } });
    apps.push(t);
    t.mesh.exposeChannel(/^feed:.+$/, undefined, { recover: RECOVER });
    t.mesh.exposeRoom(/^lobby:.+$/, undefined, { recover: RECOVER });
    return t;
  }

  /** What a client's callbacks got on `feed:r` and in `lobby:r`. */
  async function member(w: WatchedClient) {
    const got = { channel: [] as string[], room: [] as unknown[] };
    w.c.on('tick', (e) => void got.room.push(e.detail));
    expect(await w.c.subscribe('feed:r', (m) => void got.channel.push(m))).toMatchObject({ success: true });
    expect(await w.c.joinRoom('lobby:r')).toMatchObject({ success: true });
    return got;
  }

  it('a restart that lost the streams gives a new epoch and recovered: false (channel and room), never a silent gap or a message twice', async () => {
    const keyPrefix = uniquePrefix();
    const a = await node(keyPrefix);
    const b = await node(keyPrefix);
    // `stay` is connected to A throughout (until A fences); `away` is kept off by a proxy across the restart.
    const stay = await watchedClient(a.url, clients);
    const proxy = await TcpProxy.start(a.port);
    proxies.push(proxy);
    const away = await watchedClient(proxy.url(), clients);
    const stayGot = await member(stay);
    const awayGot = await member(away);

    const publish = async (label: string) => {
      await b.mesh.publish('feed:r', label);
      await b.mesh.broadcastRoom('lobby:r', 'tick', label);
    };
    for (const label of ['pre-1', 'pre-2', 'pre-3']) await publish(label);
    await waitFor(() => [stayGot, awayGot].every((g) => g.channel.length === 3 && g.room.length === 3), 3000, 'the messages before the restart');

    // `away` misses two messages that only the old Redis had.
    const back = await cutAndHold(away.c, proxy);
    for (const label of ['lost-1', 'lost-2']) await publish(label);
    await waitFor(() => stayGot.channel.length === 5 && stayGot.room.length === 5, 3000, '`stay` getting the messages `away` missed');
    const oldEpoch = channelFrames(stay, 'feed:r')[0].epoch;
    expect(oldEpoch).toEqual(expect.any(String));
    const stayFirstId = stay.c.connectionId;

    await redis.stop();
    await redis.start(); // same port, empty

    // A fences: `stay` is closed with 1012, reconnects, renews with its old position and is told
    // recovered: false (its epoch is gone). Nothing is published meanwhile.
    await waitFor(
      () => recoveriesOf(stay, { channel: 'feed:r' }).length > 0 && recoveriesOf(stay, { room: 'lobby:r' }).length > 0,
      15_000,
      '`stay` renewing its subscriptions after the restart',
    );
    expect(stay.c.connectionId).not.toBe(stayFirstId);
    // `away` comes back only now, to A, which has rejoined (it fenced `stay`).
    await back(a.port);

    for (const label of ['post-1', 'post-2', 'post-3']) await publish(label);
    await waitFor(() => [stayGot, awayGot].every((g) => g.channel.includes('post-3') && g.room.includes('post-3')), 5000, 'the messages after the restart');

    for (const w of [stay, away]) {
      expect(recoveriesOf(w, { channel: 'feed:r' })).toEqual([{ channel: 'feed:r', recovered: false, missed: 0 }]);
      expect(recoveriesOf(w, { room: 'lobby:r' })).toEqual([{ room: 'lobby:r', recovered: false, missed: 0 }]);
      expect(w.errors).toEqual([]);
    }
    const post = ['post-1', 'post-2', 'post-3'];
    expect(stayGot.channel).toEqual(['pre-1', 'pre-2', 'pre-3', 'lost-1', 'lost-2', ...post]);
    expect(stayGot.room).toEqual(['pre-1', 'pre-2', 'pre-3', 'lost-1', 'lost-2', ...post]);
    // What only the old Redis had is not handed to `away` as if recovered: it was told recovered: false.
    expect(awayGot.channel).toEqual(['pre-1', 'pre-2', 'pre-3', ...post]);
    expect(awayGot.room).toEqual(['pre-1', 'pre-2', 'pre-3', ...post]);
    // On the wire: the new stream has a new epoch and starts again at offset 1.
    for (const w of [stay, away]) {
      const after = channelFrames(w, 'feed:r').filter((f) => post.includes(f.message));
      expect(after.map((f) => f.offset)).toEqual([1, 2, 3]);
      expect(new Set(after.map((f) => f.epoch)).size).toBe(1);
      expect(after[0].epoch).not.toBe(oldEpoch);
      const roomAfter = roomFrames(w, 'lobby:r').filter((f) => post.includes(f.payload as string));
      expect(roomAfter.map((f) => (f.position as { offset: number }).offset)).toEqual([1, 2, 3]);
    }
  });
});
