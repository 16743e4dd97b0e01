import type { MeshClient } from '../../client';
import { TcpProxy } from '../support/tcp-proxy';
import { channelFrames, cutAndHold, recoveriesOf, roomFrames, watchedClient } from '../support/recovery';
import { startApp, waitFor, type TestApp } from '../support/test-app';

// One node with the in-process store (no Redis): the streams live in the node's memory, and a
// client that drops and comes back to the same node recovers from there. The suite needs no
// Redis, so it runs the same in both jest projects.

const RECOVER = { size: 5, ttl: 60_000 };

describe('recovery: in-memory mode', () => {
  let node: TestApp;
  const clients: MeshClient[] = [];
  const proxies: TcpProxy[] = [];

  beforeAll(async () => {
    node = await startApp({ memory: true, mesh: {} });
    node.mesh.exposeChannel(/^feed:.+$/, undefined, { recover: RECOVER });
    node.mesh.exposeRoom(/^lobby:.+$/, undefined, { recover: RECOVER });
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(proxies.splice(0).map((p) => p.close()));
  });

  afterAll(async () => {
    await node.close();
  });

  async function viaProxy() {
    const proxy = await TcpProxy.start(node.port);
    proxies.push(proxy);
    return { proxy, w: await watchedClient(proxy.url(), clients) };
  }

  it('a channel subscriber and a room member cut off get what they missed, once and in order, from the same node', async () => {
    const { proxy, w } = await viaProxy();
    const messages: string[] = [];
    const ticks: unknown[] = [];
    w.c.on('tick', (e) => void ticks.push(e.detail));
    expect(await w.c.subscribe('feed:mem', (m) => void messages.push(m))).toMatchObject({ success: true, offset: 0 });
    expect(await w.c.joinRoom('lobby:mem')).toMatchObject({ success: true, offset: 0 });
    await node.mesh.publish('feed:mem', 'one');
    await node.mesh.broadcastRoom('lobby:mem', 'tick', 1);
    await waitFor(() => messages.length === 1 && ticks.length === 1, 3000, 'the first message and tick live');

    const back = await cutAndHold(w.c, proxy);
    await node.mesh.publish('feed:mem', 'two');
    await node.mesh.publish('feed:mem', 'three');
    await node.mesh.broadcastRoom('lobby:mem', 'tick', 2);
    await back(node.port);
    await node.mesh.publish('feed:mem', 'four');
    await node.mesh.broadcastRoom('lobby:mem', 'tick', 3);
    await waitFor(() => messages.length >= 4 && ticks.length >= 3, 3000, 'the messages published after the reconnect');

    expect(messages).toEqual(['one', 'two', 'three', 'four']);
    expect(ticks).toEqual([1, 2, 3]);
    expect(recoveriesOf(w, { channel: 'feed:mem' })).toEqual([{ channel: 'feed:mem', recovered: true, missed: 2 }]);
    expect(recoveriesOf(w, { room: 'lobby:mem' })).toEqual([{ room: 'lobby:mem', recovered: true, missed: 1 }]);
    // On the wire too, each offset came once: the replay and the live messages did not overlap.
    expect(channelFrames(w, 'feed:mem').map((f) => f.offset)).toEqual([1, 2, 3, 4]);
    expect(roomFrames(w, 'lobby:mem').map((f) => (f.position as { offset: number }).offset)).toEqual([1, 2, 3]);
  });

  it('more missed than the window holds: recovered: false for the channel and the room, nothing replayed, live messages go on', async () => {
    const { proxy, w } = await viaProxy();
    const messages: string[] = [];
    const ticks: unknown[] = [];
    w.c.on('tick', (e) => void ticks.push(e.detail));
    await w.c.subscribe('feed:over', (m) => void messages.push(m));
    await w.c.joinRoom('lobby:over');

    const back = await cutAndHold(w.c, proxy);
    for (let i = 0; i < RECOVER.size + 1; i++) {
      await node.mesh.publish('feed:over', `m${i}`);
      await node.mesh.broadcastRoom('lobby:over', 'tick', i);
    }
    await back(node.port);
    expect(recoveriesOf(w, { channel: 'feed:over' })).toEqual([{ channel: 'feed:over', recovered: false, missed: 0 }]);
    expect(recoveriesOf(w, { room: 'lobby:over' })).toEqual([{ room: 'lobby:over', recovered: false, missed: 0 }]);
    expect(messages).toEqual([]);
    expect(ticks).toEqual([]);

    await node.mesh.publish('feed:over', 'live');
    await node.mesh.broadcastRoom('lobby:over', 'tick', 'live');
    await waitFor(() => messages.length >= 1 && ticks.length >= 1, 3000, 'the next live message and tick');
    expect(messages).toEqual(['live']);
    expect(ticks).toEqual(['live']);
  });
});
