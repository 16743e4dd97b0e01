import { MeshClient, type PresenceUpdate } from '../../client';
import { ConnectionManager } from '../../lib';
import { startApp, uniquePrefix, waitFor, type TestApp } from '../support/test-app';

/** Two real nodes on one Redis; MeshClients on each, watching and publishing presence. */
describe('presence across two nodes (MeshClient)', () => {
  let a: TestApp;
  let b: TestApp;
  const clients: MeshClient[] = [];

  const sharedPrefix = uniquePrefix();

  beforeAll(async () => {
    const keyPrefix = sharedPrefix;
    a = await startApp({ mesh: { keyPrefix, visibleMetadata: (m) => ({ name: (m as { name?: string }).name }) } });
    b = await startApp({ mesh: { keyPrefix, visibleMetadata: (m) => ({ name: (m as { name?: string }).name }) } });
    for (const node of [a, b]) {
      node.mesh.exposeRoom(/^(lobby|plain|vip):.+$/);
      node.mesh.trackPresence(/^lobby:.+$/, { ttl: 0 });
      node.mesh.trackPresence(/^vip:.+$/, { guard: () => false, ttl: 0 });
    }
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  afterAll(async () => {
    await a.close();
    await b.close();
  });

  async function client(node: TestApp): Promise<MeshClient> {
    const c = new MeshClient(node.url);
    clients.push(c);
    await c.connect();
    return c;
  }

  function watch(updates: PresenceUpdate[]) {
    return (u: PresenceUpdate) => void updates.push(u);
  }

  it('a member joining, publishing state and leaving on one node is seen by a subscriber on the other, in order', async () => {
    const watcher = await client(a);
    const updates: PresenceUpdate[] = [];
    expect(await watcher.subscribePresence('lobby:1', watch(updates))).toEqual({ success: true, present: [], states: {} });

    const member = await client(b);
    const joined = await member.joinRoom('lobby:1');
    expect(joined.presence).toEqual({ id: member.connectionId, secret: expect.any(String) });
    expect(await member.publishPresenceState('lobby:1', { state: { typing: true } })).toBe(true);
    await waitFor(() => updates.length === 2, 5000, 'join and state');
    expect(await member.clearPresenceState('lobby:1')).toBe(true);
    await member.leaveRoom('lobby:1');
    await waitFor(() => updates.length === 4, 5000, 'cleared state and leave');
    const id = member.connectionId;
    expect(updates).toEqual([
      { type: 'join', connectionId: id, roomName: 'lobby:1', timestamp: expect.any(Number) },
      { type: 'state', connectionId: id, roomName: 'lobby:1', state: { typing: true }, timestamp: expect.any(Number) },
      { type: 'state', connectionId: id, roomName: 'lobby:1', state: null, timestamp: expect.any(Number) },
      { type: 'leave', connectionId: id, roomName: 'lobby:1', timestamp: expect.any(Number) },
    ]);
  });

  it('the subscribe reply lists members with what visibleMetadata shows (e-mail hidden, none without metadata) and states; get-presence-state lists ids', async () => {
    const m1 = await client(a);
    const m2 = await client(b);
    await a.app.get(ConnectionManager).setMetadata(m1.connectionId!, { name: 'Ann', email: 'ann@example.com' });
    await m1.joinRoom('lobby:2');
    await m2.joinRoom('lobby:2');
    expect(await m2.publishPresenceState('lobby:2', { state: { cursor: [1, 2] } })).toBe(true);
    const watcher = await client(b);
    const reply = await watcher.subscribePresence('lobby:2', () => undefined);
    expect(reply.success).toBe(true);
    expect(reply.present).toEqual(expect.arrayContaining([{ id: m1.connectionId, metadata: { name: 'Ann' } }, { id: m2.connectionId }]));
    expect(reply.present).toHaveLength(2);
    expect(reply.states).toEqual({ [m2.connectionId!]: { cursor: [1, 2] } });
    const ids = await watcher.getPresenceState('lobby:2');
    expect(ids.success).toBe(true);
    expect(ids.present.sort()).toEqual([m1.connectionId, m2.connectionId].sort());
    expect(await a.mesh.getPresence('lobby:2')).toEqual({ present: expect.arrayContaining(reply.present), states: reply.states });

    // Metadata written later (here from the other node) shows in presence reads from then on.
    await b.app.get(ConnectionManager).setMetadata(m1.connectionId!, { name: 'Anna' }, { strategy: 'merge' });
    expect((await watcher.subscribePresence('lobby:2', () => undefined)).present).toContainEqual({ id: m1.connectionId, metadata: { name: 'Anna' } });
  });

  it('silent states are stored without an update; expireAfter clears a state with state:null', async () => {
    const watcher = await client(a);
    const updates: PresenceUpdate[] = [];
    await watcher.subscribePresence('lobby:3', watch(updates));
    const member = await client(b);
    await member.joinRoom('lobby:3');
    await waitFor(() => updates.length === 1, 5000, 'join');
    expect(await member.publishPresenceState('lobby:3', { state: { quiet: 1 }, silent: true })).toBe(true);
    expect((await watcher.getPresenceState('lobby:3')).states).toEqual({ [member.connectionId!]: { quiet: 1 } });
    expect(await member.publishPresenceState('lobby:3', { state: { brief: 1 }, expireAfter: 200 })).toBe(true);
    await waitFor(() => updates.length === 3, 5000, 'state then its expiry');
    expect(updates.slice(1).map((u) => (u as { state?: unknown }).state)).toEqual([{ brief: 1 }, null]);
    expect((await watcher.getPresenceState('lobby:3')).states).toEqual({});
  });

  it('refuses: an untracked room, a guard that says no, a non-member publishing, a falsy state', async () => {
    const c = await client(a);
    expect(await c.subscribePresence('plain:x', () => undefined)).toEqual({ success: false, present: [], states: {} });
    expect(await c.subscribePresence('vip:x', () => undefined)).toEqual({ success: false, present: [], states: {} });
    expect(await c.publishPresenceState('lobby:4', { state: { hi: 1 } })).toBe(false);
    await c.joinRoom('lobby:4');
    expect(await c.publishPresenceState('lobby:4', { state: 0 })).toBe(false);
    expect(await c.publishPresenceState('plain:x', { state: { hi: 1 } })).toBe(false);
    expect(await c.getPresenceState('vip:x')).toEqual({ success: false, present: [], states: {} });
  });

  it('a member that disconnects leaves (ttl 0), its state with it', async () => {
    const watcher = await client(a);
    const updates: PresenceUpdate[] = [];
    await watcher.subscribePresence('lobby:5', watch(updates));
    const member = await client(b);
    await member.joinRoom('lobby:5');
    await member.publishPresenceState('lobby:5', { state: { x: 1 } });
    const id = member.connectionId;
    await member.close();
    await waitFor(() => updates.some((u) => u.type === 'leave'), 5000, 'leave');
    expect(updates.map((u) => u.type)).toEqual(['join', 'state', 'leave']);
    expect(await a.mesh.getPresence('lobby:5')).toEqual({ present: [], states: {} });
    expect(updates[2]).toMatchObject({ connectionId: id });
  });

  it('a node shut down gracefully ends the presence its lost connections were keeping for their ttl (no node would later)', async () => {
    const watcher = await client(a);
    const updates: PresenceUpdate[] = [];
    await watcher.subscribePresence('lobby:shutdown', watch(updates));
    const c = await startApp({ mesh: { keyPrefix: sharedPrefix } });
    c.mesh.exposeRoom(/^lobby:.+$/);
    c.mesh.trackPresence(/^lobby:.+$/, { ttl: 60_000 });
    const member = new MeshClient(c.url, { shouldReconnect: false });
    clients.push(member);
    await member.connect();
    await member.joinRoom('lobby:shutdown');
    const id = member.connectionId;
    await waitFor(() => updates.length === 1, 5000, 'join');
    await c.close();
    await waitFor(() => updates.length === 2, 5000, 'leave at shutdown');
    expect(updates[1]).toMatchObject({ type: 'leave', connectionId: id });
  });
});
