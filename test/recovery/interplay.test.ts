import type { Redis } from 'ioredis';
import { MeshClient, MeshResubscribeError } from '../../client';
import { TcpProxy } from '../support/tcp-proxy';
import {
  channelFrames,
  cutAndHold,
  exactSequence,
  recoveriesOf,
  roomFrames,
  sequenceReport,
  SequencePublisher,
  watchedClient,
  type WatchedClient,
} from '../support/recovery';
import { adminRedis, publishFromOutside, startApp, uniquePrefix, waitFor, type TestApp } from '../support/test-app';

// How recovery meets the rest of the library, on two nodes sharing the suite's Redis (standalone,
// or the cluster in the cluster project). Clients start on node A through a fault proxy and come
// back on node B (or A).

const RECOVER = { size: 5, ttl: 60_000 };
/** Wide enough for everything a fast publisher sends while a client is away. */
const SEAM_RECOVER = { size: 10_000, ttl: 60_000 };

describe('recovery: interplay', () => {
  let a: TestApp;
  let b: TestApp;
  let admin: Redis;
  /** Names the guards refuse from now on (each test uses its own names). */
  const refused = new Set<string>();
  const clients: MeshClient[] = [];
  const proxies: TcpProxy[] = [];

  beforeAll(async () => {
    const keyPrefix = uniquePrefix();
    admin = adminRedis();
    a = await startApp({ mesh: { keyPrefix } });
    b = await startApp({ mesh: { keyPrefix } });
    for (const node of [a, b]) {
      node.mesh.exposeChannel(/^seam:.+$/, undefined, { recover: SEAM_RECOVER });
      node.mesh.exposeRoom(/^seam-room:.+$/, undefined, { recover: SEAM_RECOVER });
      node.mesh.exposeChannel(/^guarded:.+$/, (_connection, channel) => !refused.has(channel), { recover: RECOVER });
      node.mesh.exposeRoom(/^guarded-room:.+$/, (_connection, room) => !refused.has(room), { recover: RECOVER });
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

  async function proxyTo(node: TestApp): Promise<TcpProxy> {
    const proxy = await TcpProxy.start(node.port);
    proxies.push(proxy);
    return proxy;
  }

  function ticksOf(w: WatchedClient, event = 'tick'): unknown[] {
    const ticks: unknown[] = [];
    w.c.on(event, (e) => void ticks.push(e.detail));
    return ticks;
  }

  it('a subscription whose guard now refuses it is not replayed: MeshResubscribeError for the channel and the room, nothing sent', async () => {
    const proxy = await proxyTo(a);
    const w = await watchedClient(proxy.url(), clients);
    const messages: string[] = [];
    const ticks = ticksOf(w);
    await w.c.subscribe('guarded:g1', (m) => void messages.push(m));
    expect(await w.c.joinRoom('guarded-room:g1')).toMatchObject({ success: true });
    await b.mesh.publish('guarded:g1', 'before');
    await b.mesh.broadcastRoom('guarded-room:g1', 'tick', 'before');
    await waitFor(() => messages.length === 1 && ticks.length === 1, 3000, 'the live message and tick before the cut');

    const back = await cutAndHold(w.c, proxy);
    refused.add('guarded:g1');
    refused.add('guarded-room:g1');
    await b.mesh.publish('guarded:g1', 'missed');
    await b.mesh.broadcastRoom('guarded-room:g1', 'tick', 'missed');
    await back(b.port);

    // The client's `reconnect` comes after both renewals were answered; a replay would have been
    // sent before the answers, so everything it could have sent is in by now.
    const refusals = w.errors.filter((e): e is MeshResubscribeError => e instanceof MeshResubscribeError).map((e) => ({ kind: e.kind, target: e.target }));
    expect(refusals).toEqual(expect.arrayContaining([{ kind: 'channel', target: 'guarded:g1' }, { kind: 'room', target: 'guarded-room:g1' }]));
    expect(refusals).toHaveLength(2);
    expect(channelFrames(w, 'guarded:g1').map((f) => f.message)).toEqual(['before']);
    expect(roomFrames(w, 'guarded-room:g1').map((f) => f.payload)).toEqual(['before']);
    expect(messages).toEqual(['before']);
    expect(ticks).toEqual(['before']);
    expect(w.recovered).toEqual([]);

    // Nor is it subscribed any more: a later message does not come, while one on a channel it
    // subscribes to now does (published after, through the same node).
    const later: string[] = [];
    await w.c.subscribe('feed:g1-marker', (m) => void later.push(m));
    await b.mesh.publish('guarded:g1', 'after');
    await b.mesh.broadcastRoom('guarded-room:g1', 'tick', 'after');
    await b.mesh.publish('feed:g1-marker', 'marker');
    await waitFor(() => later.length === 1, 3000, 'the marker message');
    expect(channelFrames(w, 'guarded:g1').map((f) => f.message)).toEqual(['before']);
    expect(roomFrames(w, 'guarded-room:g1').map((f) => f.payload)).toEqual(['before']);
  });

  it('a plain Redis PUBLISH on the raw channel name is delivered live but not kept: after a cut it is not replayed', async () => {
    const proxy = await proxyTo(a);
    const w = await watchedClient(proxy.url(), clients);
    const messages: string[] = [];
    await w.c.subscribe('feed:raw', (m) => void messages.push(m));
    await a.mesh.publish('feed:raw', 'api-1');
    await waitFor(() => messages.length === 1, 3000, 'api-1');
    await publishFromOutside(admin, 'feed:raw', 'outside-live');
    await waitFor(() => messages.length === 2, 3000, 'the outside message, live');
    // Live, without a position: it is not one of the stream's offsets.
    expect(channelFrames(w, 'feed:raw')[1]).toEqual({ channel: 'feed:raw', message: 'outside-live' });

    const back = await cutAndHold(w.c, proxy);
    await publishFromOutside(admin, 'feed:raw', 'outside-missed');
    await b.mesh.publish('feed:raw', 'api-2');
    await back(b.port);
    expect(recoveriesOf(w, { channel: 'feed:raw' })).toEqual([{ channel: 'feed:raw', recovered: true, missed: 1 }]);
    await b.mesh.publish('feed:raw', 'api-3');
    await waitFor(() => messages.includes('api-3'), 3000, 'api-3');

    expect(messages).toEqual(['api-1', 'outside-live', 'api-2', 'api-3']);
    expect(channelFrames(w, 'feed:raw').map((f) => f.offset)).toEqual([1, undefined, 2, 3]);
    // The stream (what history and recovery read) holds the server API's messages only.
    expect(await b.mesh.getChannelHistory('feed:raw', 10)).toEqual(['api-3', 'api-2', 'api-1']);
  });

  it('history on subscribe comes from the stream recovery reads: the newest messages, newest first, at the offset the reply gives', async () => {
    for (let i = 1; i <= 4; i++) await (i % 2 ? a : b).mesh.publish('feed:hist', `h${i}`);
    // `history` is ignored on a recoverable channel: the stream is the history.
    await a.mesh.publish('feed:hist', 'h5', { history: 50 });
    const proxy = await proxyTo(a);
    const w = await watchedClient(proxy.url(), clients);
    const messages: string[] = [];
    const reply = await w.c.subscribe('feed:hist', (m) => void messages.push(m), { historyLimit: 3 });
    expect(reply).toMatchObject({ success: true, history: ['h5', 'h4', 'h3'], offset: 5 });
    expect(await w.c.getChannelHistory('feed:hist', { limit: 3 })).toMatchObject({ success: true, history: ['h5', 'h4', 'h3'] });
    expect(await b.mesh.getChannelHistory('feed:hist', 3)).toEqual(['h5', 'h4', 'h3']);
    // History is not delivered to the callback.
    expect(messages).toEqual([]);

    // Recovery continues from the reply's offset: what came after it is replayed, the history is not.
    const back = await cutAndHold(w.c, proxy);
    await b.mesh.publish('feed:hist', 'h6');
    await back(b.port);
    expect(recoveriesOf(w, { channel: 'feed:hist' })).toEqual([{ channel: 'feed:hist', recovered: true, missed: 1 }]);
    expect(messages).toEqual(['h6']);
    expect(channelFrames(w, 'feed:hist').map((f) => f.offset)).toEqual([6]);
  });

  it('history never reaches past the recovery window: at most `size` messages however many are asked for', async () => {
    const published = Array.from({ length: RECOVER.size + 3 }, (_, i) => `w${i + 1}`);
    for (const message of published) await a.mesh.publish('feed:hist-window', message);
    const w = await watchedClient(a.url, clients);
    const reply = await w.c.subscribe('feed:hist-window', () => undefined, { historyLimit: 50 });
    const window = published.slice(-RECOVER.size).reverse();
    expect(reply).toMatchObject({ success: true, offset: published.length });
    expect(reply.history).toEqual(window);
    expect(await b.mesh.getChannelHistory('feed:hist-window', 50)).toEqual(window);
  });

  it('a room broadcast that excluded the client is not replayed to it after a reconnect; other members get it', async () => {
    const proxy = await proxyTo(a);
    const excluded = await watchedClient(proxy.url(), clients);
    const other = await watchedClient(proxy.url(), clients);
    const excludedTicks = ticksOf(excluded);
    const otherTicks = ticksOf(other);
    await excluded.c.joinRoom('lobby:ex');
    await other.c.joinRoom('lobby:ex');

    await b.mesh.broadcastRoom('lobby:ex', 'tick', 'live-excluded', { exclude: excluded.c.connectionId! });
    await b.mesh.broadcastRoom('lobby:ex', 'tick', 'live-all');
    await waitFor(() => excludedTicks.length >= 1 && otherTicks.length >= 2, 3000, 'the live broadcasts');

    const oldId = excluded.c.connectionId!;
    const back = await cutAndHold([excluded.c, other.c], proxy);
    await b.mesh.broadcastRoom('lobby:ex', 'tick', 'away-excluded', { exclude: oldId });
    await b.mesh.broadcastRoom('lobby:ex', 'tick', 'away-all');
    await back(b.port);
    expect(excluded.c.connectionId).not.toBe(oldId);

    expect(recoveriesOf(excluded, { room: 'lobby:ex' })).toEqual([{ room: 'lobby:ex', recovered: true, missed: 1 }]);
    expect(recoveriesOf(other, { room: 'lobby:ex' })).toEqual([{ room: 'lobby:ex', recovered: true, missed: 2 }]);
    expect(excludedTicks).toEqual(['live-all', 'away-all']);
    expect(otherTicks).toEqual(['live-excluded', 'live-all', 'away-excluded', 'away-all']);
    expect(roomFrames(excluded, 'lobby:ex').map((f) => f.payload)).toEqual(['live-all', 'away-all']);
  });

  it('messages published while clients reconnect arrive exactly once and in order at the seam (channel and room, three reconnects)', async () => {
    const proxy = await proxyTo(a);
    const ws = await Promise.all([0, 1].map(() => watchedClient(proxy.url(), clients)));
    const received = ws.map((w) => {
      const got = { channel: [] as number[], room: [] as number[] };
      w.c.on('seq', (e) => void got.room.push(e.detail as number));
      return got;
    });
    for (const [i, w] of ws.entries()) {
      expect(await w.c.subscribe('seam:s', (m) => void received[i].channel.push(Number(m)))).toMatchObject({ success: true });
      expect(await w.c.joinRoom('seam-room:s')).toMatchObject({ success: true });
    }
    const publisher = new SequencePublisher((n) => Promise.all([b.mesh.publish('seam:s', String(n)), b.mesh.broadcastRoom('seam-room:s', 'seq', n)]), 2);
    try {
      await waitFor(() => received.every((r) => r.channel.length >= 20 && r.room.length >= 20), 10_000, 'the first live messages');
      // Each cycle: cut while the publisher runs, let it publish more while the clients are away,
      // bring them back (to B, then A, then B) while it still runs, and let it publish on.
      for (const [cycle, port] of [b.port, a.port, b.port].entries()) {
        const back = await cutAndHold(ws.map((w) => w.c), proxy);
        await publisher.until(publisher.sent + 20);
        await back(port);
        await publisher.until(publisher.sent + 20);
        for (const w of ws) {
          expect(recoveriesOf(w, { channel: 'seam:s' })).toHaveLength(cycle + 1);
          expect(recoveriesOf(w, { room: 'seam-room:s' })).toHaveLength(cycle + 1);
        }
      }
    } finally {
      await publisher.stop();
    }
    const n = publisher.sent;
    await waitFor(() => received.every((r) => r.channel.at(-1) === n && r.room.at(-1) === n), 10_000, `every client's message ${n}`);
    for (const [i, w] of ws.entries()) {
      expect(sequenceReport(received[i].channel, n)).toEqual(exactSequence(n));
      expect(sequenceReport(received[i].room, n)).toEqual(exactSequence(n));
      for (const r of w.recovered) expect(r).toMatchObject({ recovered: true });
      // Each time at least the 20 messages published while the client was away were replayed.
      for (const r of w.recovered) expect(r.missed).toBeGreaterThanOrEqual(20);
    }
  });
});
