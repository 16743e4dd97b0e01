import { MeshClient, type PresenceUpdate } from '../../client';
import { PresenceManager } from '../../lib/presence/presence-manager';
import { cutAndHold, RECONNECT_FAST } from '../support/recovery';
import { TcpProxy } from '../support/tcp-proxy';
import { startApp, uniquePrefix, waitFor, type TestApp } from '../support/test-app';

const TTL = 1500;

/**
 * A member's connection is lost (the TCP proxy cuts it). Coming back within the room's ttl, a
 * MeshClient takes its presence over: nobody sees it leave and join. Not coming back, it leaves
 * after the ttl. Either way the client's presence subscriptions and its own state come back.
 */
describe('presence across a lost connection (MeshClient, two nodes)', () => {
  let a: TestApp;
  let b: TestApp;
  const clients: MeshClient[] = [];
  const proxies: TcpProxy[] = [];

  beforeAll(async () => {
    const keyPrefix = uniquePrefix();
    a = await startApp({ mesh: { keyPrefix } });
    b = await startApp({ mesh: { keyPrefix } });
    for (const node of [a, b]) {
      node.mesh.exposeRoom(/^(lobby|quick):.+$/);
      node.mesh.exposeRoom(/^kept:.+$/, undefined, { recover: { size: 100, ttl: 60_000 } });
      node.mesh.trackPresence(/^(lobby|kept):.+$/, { ttl: TTL });
      node.mesh.trackPresence(/^quick:.+$/, { ttl: 0 });
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

  async function client(url: string): Promise<MeshClient> {
    const c = new MeshClient(url, RECONNECT_FAST);
    clients.push(c);
    await c.connect();
    return c;
  }

  async function proxied(node: TestApp): Promise<{ c: MeshClient; proxy: TcpProxy }> {
    const proxy = await TcpProxy.start(node.port);
    proxies.push(proxy);
    return { c: await client(proxy.url()), proxy };
  }

  const waiting = (node: TestApp) => node.app.get(PresenceManager).lostConnectionsWaiting;

  it.each([
    ['a plain room', 'lobby:takeover'],
    ['a recoverable room', 'kept:takeover'],
  ])('a client that reconnects within the ttl (to the other node) keeps its presence in %s: no leave, no join, its state kept', async (_kind, room) => {
    const watcher = await client(a.url);
    const updates: PresenceUpdate[] = [];
    await watcher.subscribePresence(room, (u) => void updates.push(u));
    const { c: member, proxy } = await proxied(b);
    const first = await member.joinRoom(room);
    const presenceId = member.connectionId!;
    expect(first.presence).toEqual({ id: presenceId, secret: expect.any(String) });
    await member.publishPresenceState(room, { state: { mood: 'ok' } });
    await waitFor(() => updates.length === 2, 5000, 'join and state');

    const rejoined = new Promise<void>((resolve) => member.on('reconnect', () => resolve()));
    const sendTo = await cutAndHold(member, proxy);
    await waitFor(() => waiting(b) === 1, 5000, 'node b to notice the lost connection');
    await sendTo(a.port);
    await rejoined;
    expect(member.connectionId).not.toBe(presenceId);
    // The lost connection's ttl runs out on node b: its presence was taken over, so nothing leaves.
    await waitFor(() => waiting(b) === 0, TTL + 5000, 'the ttl of the lost connection to run out');
    expect(updates.map((u) => u.type)).toEqual(['join', 'state']);
    expect(await a.mesh.getPresence(room)).toEqual({ present: [{ id: presenceId }], states: { [presenceId]: { mood: 'ok' } } });

    // The new connection acts under the identity it took over.
    expect(await member.publishPresenceState(room, { state: { mood: 'back' } })).toBe(true);
    await member.leaveRoom(room);
    await waitFor(() => updates.length === 4, 5000, 'state and leave');
    expect(updates.slice(2)).toEqual([
      expect.objectContaining({ type: 'state', connectionId: presenceId, state: { mood: 'back' } }),
      expect.objectContaining({ type: 'leave', connectionId: presenceId }),
    ]);
  });

  it('a client that does not come back within the ttl leaves when it runs out', async () => {
    const watcher = await client(a.url);
    const updates: PresenceUpdate[] = [];
    await watcher.subscribePresence('lobby:gone', (u) => void updates.push(u));
    const { c: member, proxy } = await proxied(b);
    await member.joinRoom('lobby:gone');
    const id = member.connectionId;
    await waitFor(() => updates.length === 1, 5000, 'join');
    await cutAndHold(member, proxy); // held: it never gets through again
    const lostAt = Date.now();
    await waitFor(() => updates.length === 2, TTL + 5000, 'leave');
    expect(updates[1]).toMatchObject({ type: 'leave', connectionId: id });
    // Not before the ttl: the leave waited for it (timers never fire early).
    expect(updates[1].type === 'leave' && updates[1].timestamp - lostAt).toBeGreaterThanOrEqual(TTL - 50);
    expect((await a.mesh.getPresence('lobby:gone')).present).toEqual([]);
  });

  it('after a reconnect the presence subscription is renewed (a snapshot) and a state the server lost is published again', async () => {
    const { c: watcher, proxy: watcherProxy } = await proxied(a);
    const updates: PresenceUpdate[] = [];
    await watcher.subscribePresence('quick:restore', (u) => void updates.push(u));
    const { c: member, proxy } = await proxied(b);
    await member.joinRoom('quick:restore');
    await member.publishPresenceState('quick:restore', { state: { seat: 7 } });
    await waitFor(() => updates.length === 2, 5000, 'join and state');

    // Both lose their connection; the room's ttl is 0, so the member leaves at once and rejoins as new.
    const sendWatcher = await cutAndHold(watcher, watcherProxy);
    const sendMember = await cutAndHold(member, proxy);
    await sendMember(a.port);
    const newId = member.connectionId!;
    await waitFor(async () => (await b.mesh.getPresence('quick:restore')).states[newId], 5000, 'the state published again');
    await sendWatcher(b.port);
    const snapshot = await waitFor(() => updates.find((u) => u.type === 'snapshot'), 5000, 'the snapshot of the renewed subscription');
    expect(snapshot).toEqual({ type: 'snapshot', roomName: 'quick:restore', present: [{ id: newId }], states: { [newId]: { seat: 7 } } });
    // And it is live again.
    await member.publishPresenceState('quick:restore', { state: { seat: 8 } });
    await waitFor(() => updates.some((u) => u.type === 'state' && (u.state as { seat?: number })?.seat === 8), 5000, 'a live update after the renewal');
  });
});
