import type { Redis } from 'ioredis';
import { MeshClient } from '../../client';
import { RedisKeyLayout } from '../../lib/state/redis/key-layout';
import { TcpProxy } from '../support/tcp-proxy';
import { channelFrames, cutAndHold, recoveriesOf, roomFrames, watchedClient, type WatchedClient } from '../support/recovery';
import { adminRedis, startApp, uniquePrefix, waitFor, type TestApp } from '../support/test-app';

// What a Redis that lost a stream's keys leaves (a flush, an eviction, a failover to an empty
// replica), on the suite's topology: the nodes stay up and listed, only the streams' log and
// position are gone. The next publish starts a new epoch. This is the Redis-restart case of
// redis-restart.test.ts for the cluster project, where a suite cannot restart the shared cluster.

const RECOVER = { size: 100, ttl: 60_000 };

describe('recovery: stream keys lost', () => {
  let a: TestApp;
  let b: TestApp;
  let admin: Redis;
  let keys: RedisKeyLayout;
  const clients: MeshClient[] = [];
  const proxies: TcpProxy[] = [];

  beforeAll(async () => {
    const keyPrefix = uniquePrefix();
    keys = new RedisKeyLayout(keyPrefix);
    admin = adminRedis();
    a = await startApp({ mesh: { keyPrefix } });
    b = await startApp({ mesh: { keyPrefix } });
    for (const node of [a, b]) {
      node.mesh.exposeChannel(/^feed:.+$/, undefined, { recover: RECOVER });
      node.mesh.exposeRoom(/^lobby:.+$/, undefined, { recover: RECOVER });
    }
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(proxies.splice(0).map((p) => p.close()));
  });

  afterAll(async () => {
    await a.close();
    await b.close();
    admin.disconnect();
  });

  async function member(w: WatchedClient) {
    const got = { channel: [] as string[], room: [] as unknown[] };
    w.c.on('tick', (e) => void got.room.push(e.detail));
    expect(await w.c.subscribe('feed:lost', (m) => void got.channel.push(m))).toMatchObject({ success: true });
    expect(await w.c.joinRoom('lobby:lost')).toMatchObject({ success: true });
    return got;
  }

  it('a new epoch under a connected client and a client that was away: recovered: false for both, the lost messages never replayed, none twice', async () => {
    const stay = await watchedClient(a.url, clients);
    const proxy = await TcpProxy.start(a.port);
    proxies.push(proxy);
    const away = await watchedClient(proxy.url(), clients);
    const stayGot = await member(stay);
    const awayGot = await member(away);
    const publish = async (label: string) => {
      await b.mesh.publish('feed:lost', label);
      await b.mesh.broadcastRoom('lobby:lost', 'tick', label);
    };

    await publish('pre');
    await waitFor(() => [stayGot, awayGot].every((g) => g.channel.length === 1 && g.room.length === 1), 3000, 'the first message');
    const back = await cutAndHold(away.c, proxy);
    await publish('lost');
    await waitFor(() => stayGot.channel.length === 2 && stayGot.room.length === 2, 3000, '`stay` getting what `away` missed');
    const oldEpoch = channelFrames(stay, 'feed:lost')[0].epoch;

    // Separate DELs: on a cluster each stream's keys share a slot, the channel's and the room's do not.
    for (const key of [keys.channelLog('feed:lost'), keys.channelPosition('feed:lost'), keys.roomLog('lobby:lost'), keys.roomPosition('lobby:lost')]) {
      expect(await admin.del(key)).toBe(1);
    }

    // `stay` hears the new epoch with the next message and is told so; it keeps the message.
    await publish('post-1');
    await waitFor(() => stayGot.channel.length === 3 && stayGot.room.length === 3, 3000, '`stay` getting the first message of the new epoch');
    expect(recoveriesOf(stay, { channel: 'feed:lost' })).toEqual([{ channel: 'feed:lost', recovered: false, missed: 0 }]);
    expect(recoveriesOf(stay, { room: 'lobby:lost' })).toEqual([{ room: 'lobby:lost', recovered: false, missed: 0 }]);

    // `away` comes back with a position of the lost epoch: recovered: false, nothing replayed
    // (not even post-1, which the new stream has: it cannot tell what it missed before it).
    await back(b.port);
    expect(recoveriesOf(away, { channel: 'feed:lost' })).toEqual([{ channel: 'feed:lost', recovered: false, missed: 0 }]);
    expect(recoveriesOf(away, { room: 'lobby:lost' })).toEqual([{ room: 'lobby:lost', recovered: false, missed: 0 }]);

    await publish('post-2');
    await waitFor(() => [stayGot, awayGot].every((g) => g.channel.includes('post-2') && g.room.includes('post-2')), 3000, 'post-2');
    expect(stayGot.channel).toEqual(['pre', 'lost', 'post-1', 'post-2']);
    expect(stayGot.room).toEqual(['pre', 'lost', 'post-1', 'post-2']);
    expect(awayGot.channel).toEqual(['pre', 'post-2']);
    expect(awayGot.room).toEqual(['pre', 'post-2']);
    // No further recovery events, and the new epoch's offsets start at 1.
    expect(stay.recovered).toHaveLength(2);
    expect(away.recovered).toHaveLength(2);
    const newFrames = channelFrames(stay, 'feed:lost').slice(2);
    expect(newFrames.map((f) => f.offset)).toEqual([1, 2]);
    expect(newFrames[0].epoch).not.toBe(oldEpoch);
    expect(roomFrames(away, 'lobby:lost').map((f) => (f.position as { offset: number }).offset)).toEqual([1, 2]);
  });
});
