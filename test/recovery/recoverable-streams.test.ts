import { MeshClient } from '../../client';
import { cutAndHold, RECONNECT_FAST } from '../support/recovery';
import { TcpProxy } from '../support/tcp-proxy';
import { startApp, uniquePrefix, waitFor, type TestApp } from '../support/test-app';

const RECOVER = { size: 5, ttl: 60_000 };

describe('recoverable channels and rooms', () => {
  let a: TestApp;
  let b: TestApp;
  const clients: MeshClient[] = [];
  const proxies: TcpProxy[] = [];

  beforeAll(async () => {
    const keyPrefix = uniquePrefix();
    a = await startApp({ mesh: { keyPrefix } });
    b = await startApp({ mesh: { keyPrefix } });
    for (const node of [a, b]) {
      node.mesh.exposeChannel(/^feed:.+$/, undefined, { recover: RECOVER });
      node.mesh.exposeRoom(/^lobby(:.+)?$/, undefined, { recover: RECOVER });
    }
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(proxies.splice(0).map((p) => p.close()));
  });

  afterAll(async () => {
    await a.close();
    await b.close();
  });

  /** A client on node A through a proxy, recording recoveries. */
  async function clientViaProxy() {
    const proxy = await TcpProxy.start(a.port);
    proxies.push(proxy);
    const c = new MeshClient(proxy.url(), RECONNECT_FAST);
    clients.push(c);
    await c.connect();
    const recovered: unknown[] = [];
    c.on('subscription-recovered', (e) => void recovered.push(e.detail));
    return { c, proxy, recovered };
  }

  /** Cuts the client off and keeps it away until `back()`, which sends it to node B. */
  async function away(c: MeshClient, proxy: TcpProxy) {
    const back = await cutAndHold(c, proxy);
    return () => back(b.port);
  }

  it('replays what a channel subscriber missed, on the other node, once and in order', async () => {
    const { c, proxy, recovered } = await clientViaProxy();
    const got: string[] = [];
    expect(await c.subscribe('feed:x', (m) => void got.push(m))).toMatchObject({ success: true, offset: 0 });
    await b.mesh.publish('feed:x', 'one');
    await waitFor(() => got.length === 1, 3000, 'one');
    const back = await away(c, proxy);
    await b.mesh.publish('feed:x', 'two');
    await a.mesh.publish('feed:x', 'three');
    await back();
    await a.mesh.publish('feed:x', 'four');
    await waitFor(() => got.length === 4, 3000, 'four');
    expect(got).toEqual(['one', 'two', 'three', 'four']);
    expect(recovered).toEqual([{ channel: 'feed:x', recovered: true, missed: 2 }]);
  });

  it('replays the broadcasts a room member missed', async () => {
    const { c, proxy, recovered } = await clientViaProxy();
    const got: unknown[] = [];
    c.on('tick', (e) => void got.push(e.detail));
    expect(await c.joinRoom('lobby')).toMatchObject({ success: true });
    await b.mesh.broadcastRoom('lobby', 'tick', 1);
    await waitFor(() => got.length === 1, 3000, 'tick 1');
    const back = await away(c, proxy);
    await b.mesh.broadcastRoom('lobby', 'tick', 2);
    await back();
    await a.mesh.broadcastRoom('lobby', 'tick', 3);
    await waitFor(() => got.length === 3, 3000, 'tick 3');
    expect(got).toEqual([1, 2, 3]);
    expect(recovered).toEqual([{ room: 'lobby', recovered: true, missed: 1 }]);
  });

  it('says recovered: false when more was missed than the window holds', async () => {
    const { c, proxy, recovered } = await clientViaProxy();
    const got: string[] = [];
    await c.subscribe('feed:window', (m) => void got.push(m));
    const back = await away(c, proxy);
    for (let i = 0; i < RECOVER.size + 1; i++) await a.mesh.publish('feed:window', `m${i}`);
    await back();
    expect(recovered).toEqual([{ channel: 'feed:window', recovered: false, missed: 0 }]);
    expect(got).toEqual([]);
    await a.mesh.publish('feed:window', 'live');
    await waitFor(() => got.length === 1, 3000, 'the next live message');
    expect(got).toEqual(['live']);
  });
});
