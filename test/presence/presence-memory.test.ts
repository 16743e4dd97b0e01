import { MeshClient, type PresenceUpdate } from '../../client';
import { PresenceManager } from '../../lib/presence/presence-manager';
import { cutAndHold, RECONNECT_FAST } from '../support/recovery';
import { TcpProxy } from '../support/tcp-proxy';
import { startApp, waitFor, type TestApp } from '../support/test-app';

/** Without Redis: one process, the same presence rules and events. */
describe('presence in memory mode', () => {
  let t: TestApp;
  const clients: MeshClient[] = [];
  const proxies: TcpProxy[] = [];

  beforeAll(async () => {
    t = await startApp({ memory: true });
    t.mesh.exposeRoom(/^room:.+$/);
    t.mesh.trackPresence(/^room:.+$/, { ttl: 1000 });
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(proxies.splice(0).map((p) => p.close()));
  });

  afterAll(() => t.close());

  async function client(url = t.url): Promise<MeshClient> {
    const c = new MeshClient(url, RECONNECT_FAST);
    clients.push(c);
    await c.connect();
    return c;
  }

  it('server-side joins, states with expiry, leaves and a cleared room reach subscribers', async () => {
    const watcher = await client();
    const updates: PresenceUpdate[] = [];
    await watcher.subscribePresence('room:m', (u) => void updates.push(u));
    const member = await client();
    const id = member.connectionId!;
    expect(await t.mesh.addToRoom('room:m', id)).toBe(true);
    expect(await t.mesh.publishPresenceState(id, 'room:m', { at: 1 }, { expireAfter: 100 })).toBe(true);
    await waitFor(() => updates.length === 3, 5000, 'join, state, expiry');
    expect(await t.mesh.publishPresenceState(watcher.connectionId!, 'room:m', { at: 2 })).toBe(false); // not a member
    await t.mesh.addToRoom('room:m', watcher.connectionId!);
    await t.mesh.removeFromRoom('room:m', id);
    await t.mesh.clearRoom('room:m');
    await waitFor(() => updates.length === 6, 5000, 'join, leave, leave of the cleared room');
    expect(updates.map((u) => [u.type, u.type === 'snapshot' ? '' : u.connectionId, u.type === 'state' ? u.state : undefined])).toEqual([
      ['join', id, undefined],
      ['state', id, { at: 1 }],
      ['state', id, null],
      ['join', watcher.connectionId, undefined],
      ['leave', id, undefined],
      ['leave', watcher.connectionId, undefined],
    ]);
    expect(await t.mesh.getPresence('room:m')).toEqual({ present: [], states: {} });
  });

  it('a client that reconnects within the ttl keeps its presence', async () => {
    const watcher = await client();
    const updates: PresenceUpdate[] = [];
    await watcher.subscribePresence('room:back', (u) => void updates.push(u));
    const proxy = await TcpProxy.start(t.port);
    proxies.push(proxy);
    const member = await client(proxy.url());
    const first = (await member.joinRoom('room:back')).presence!.id;
    await member.publishPresenceState('room:back', { state: { here: true } });
    const sendTo = await cutAndHold(member, proxy);
    await sendTo(t.port);
    await member.publishPresenceState('room:back', { state: { here: 'again' } });
    await waitFor(() => updates.length === 3, 5000, 'join and two states');
    await waitFor(() => t.app.get(PresenceManager).lostConnectionsWaiting === 0, 5000, 'the ttl of the lost connection to run out');
    expect(updates.map((u) => (u.type === 'snapshot' ? u.type : [u.type, u.connectionId]))).toEqual([
      ['join', first],
      ['state', first],
      ['state', first],
    ]);
  });
});
