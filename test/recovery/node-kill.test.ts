import { MeshClient } from '../../client';
import { TcpProxy } from '../support/tcp-proxy';
import { NodeProcess } from '../support/node-process';
import { exactSequence, recoveriesOf, sequenceReport, SequencePublisher, watchedClient, type WatchedClient } from '../support/recovery';
import { startApp, uniquePrefix, waitFor, type TestApp } from '../support/test-app';

// The doomed node is the sample app in its own OS process (dist/sample-app, built by `npm test`'s
// pretest), so it can be SIGKILLed: no shutdown hook, no close frames, what it had not sent yet is
// gone. The sample exposes `feed:*` and `lobby*` as recoverable with the window below; the
// survivor, an in-process node on the same Redis and key prefix, exposes them the same way and
// runs the publisher.

const SAMPLE_RECOVERY_WINDOW = { size: 1000, ttl: 5 * 60_000 };
const CLIENTS = 3;
/** One publish of each every 5 ms: about 200 a second, so the window holds seconds of being away. */
const PACE_MS = 5;
/** Published after the kill while the clients are kept away: what each must get back. */
const PUBLISHED_WHILE_AWAY = 40;

describe('recovery: node SIGKILL', () => {
  let survivor: TestApp | undefined;
  let doomed: NodeProcess | undefined;
  const clients: MeshClient[] = [];
  const proxies: TcpProxy[] = [];

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(proxies.splice(0).map((p) => p.close()));
    await doomed?.stop('SIGKILL');
    await survivor?.close();
    doomed = survivor = undefined;
  });

  it('clients of a node SIGKILLed under a steady publish lose nothing once they reconnect to the survivor (a channel and a room)', async () => {
    const keyPrefix = uniquePrefix();
    const node = await startApp({ mesh: { keyPrefix } });
    survivor = node;
    node.mesh.exposeChannel(/^feed:.+$/, undefined, { recover: SAMPLE_RECOVERY_WINDOW });
    node.mesh.exposeRoom(/^lobby(:.+)?$/, undefined, { recover: SAMPLE_RECOVERY_WINDOW });
    const victim = await NodeProcess.start({ keyPrefix });
    doomed = victim;

    const proxy = await TcpProxy.start(victim.port);
    proxies.push(proxy);
    const ws: WatchedClient[] = [];
    for (let i = 0; i < CLIENTS; i++) ws.push(await watchedClient(proxy.url(), clients));
    const received = ws.map((w) => {
      const got = { channel: [] as number[], room: [] as number[] };
      w.c.on('seq', (e) => void got.room.push(e.detail as number));
      return got;
    });
    for (const [i, w] of ws.entries()) {
      expect(await w.c.subscribe('feed:kill', (m) => void received[i].channel.push(Number(m)))).toMatchObject({ success: true, offset: 0 });
      expect(await w.c.joinRoom('lobby:kill')).toMatchObject({ success: true, offset: 0 });
    }
    const firstIds = ws.map((w) => w.c.connectionId);

    const publisher = new SequencePublisher((n) => Promise.all([node.mesh.publish('feed:kill', String(n)), node.mesh.broadcastRoom('lobby:kill', 'seq', n)]), PACE_MS);
    try {
      await waitFor(() => received.every((r) => r.channel.length >= 30 && r.room.length >= 30), 10_000, 'live messages through the doomed node');

      // SIGKILL with the publisher running. The proxy holds the clients' reconnect attempts until
      // the publisher has published PUBLISHED_WHILE_AWAY more, then sends them to the survivor
      // while it goes on publishing.
      const dropped = ws.map((w) => new Promise((resolve) => w.c.once('disconnect', resolve)));
      proxy.hold();
      await victim.stop('SIGKILL');
      await Promise.all(dropped);
      const atKill = publisher.sent;
      await publisher.until(atKill + PUBLISHED_WHILE_AWAY);
      const reconnected = ws.map((w) => new Promise((resolve) => w.c.once('reconnect', resolve)));
      proxy.retarget(node.port);
      proxy.release();
      await Promise.all(reconnected);
      await publisher.until(publisher.sent + 40);
    } finally {
      await publisher.stop();
    }

    const n = publisher.sent;
    await waitFor(() => received.every((r) => r.channel.at(-1) === n && r.room.at(-1) === n), 10_000, `every client's message ${n}`);
    for (const [i, w] of ws.entries()) {
      expect(w.c.connectionId).not.toBe(firstIds[i]);
      expect(sequenceReport(received[i].channel, n)).toEqual(exactSequence(n));
      expect(sequenceReport(received[i].room, n)).toEqual(exactSequence(n));
      const channelRecovery = recoveriesOf(w, { channel: 'feed:kill' });
      const roomRecovery = recoveriesOf(w, { room: 'lobby:kill' });
      expect(channelRecovery).toEqual([{ channel: 'feed:kill', recovered: true, missed: expect.any(Number) }]);
      expect(roomRecovery).toEqual([{ room: 'lobby:kill', recovered: true, missed: expect.any(Number) }]);
      // At least what was published while the proxy kept the client away came back by replay.
      expect(channelRecovery[0].missed).toBeGreaterThanOrEqual(PUBLISHED_WHILE_AWAY);
      expect(roomRecovery[0].missed).toBeGreaterThanOrEqual(PUBLISHED_WHILE_AWAY);
      expect(w.errors).toEqual([]);
    }
  });
});
