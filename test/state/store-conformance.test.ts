import { MemoryMeshStore, RedisMeshStore, type MeshStore } from '../../lib/state';
import { redisUrl, uniquePrefix, waitFor } from '../support/test-app';

interface Received {
  node: string[];
  channel: Array<[string, string]>;
}

async function started(store: MeshStore): Promise<{ store: MeshStore; received: Received }> {
  const received: Received = { node: [], channel: [] };
  await store.start({
    onNodeMessage: (message) => received.node.push(message),
    onChannelMessage: (channel, message) => received.channel.push([channel, message]),
  });
  return { store, received };
}

/** The same contract, checked against both implementations of the storage/bus seam. */
describe.each([
  ['RedisMeshStore', () => new RedisMeshStore({ redis: redisUrl(), keyPrefix: uniquePrefix() })],
  ['MemoryMeshStore', () => new MemoryMeshStore()],
])('%s conformance', (_name, create) => {
  let store: MeshStore;
  let received: Received;

  beforeEach(async () => {
    ({ store, received } = await started(create()));
  });

  afterEach(async () => {
    await store.removeNode(store.nodeId);
    await store.stop();
  });

  it('registers connections with metadata and removes them with their rooms', async () => {
    await store.addConnection('c1', { name: 'a' });
    await store.addConnection('c2');
    expect(await store.countConnections()).toBe(2);
    expect(await store.getConnectionNodes(['c1', 'c2', 'nope'])).toEqual(new Map([['c1', store.nodeId], ['c2', store.nodeId]]));
    expect((await store.getNodeConnections(store.nodeId)).sort()).toEqual(['c1', 'c2']);
    expect(await store.getMetadata('c1')).toEqual({ name: 'a' });
    expect(await store.getMetadata('c2')).toBeNull();
    await store.addToRoom('r1', 'c1');
    await store.addToRoom('r2', 'c1');
    expect((await store.removeConnection('c1')).sort()).toEqual(['r1', 'r2']);
    expect(await store.getMetadata('c1')).toBeNull();
    expect(await store.getRoomMembers('r1')).toEqual([]);
    expect(await store.countConnections()).toBe(1);
    expect(await store.removeConnection('c1')).toEqual([]);
  });

  it('updates metadata atomically and never for unknown connections', async () => {
    await store.addConnection('c1');
    expect(await store.updateMetadata('c1', () => ({ n: 1 }))).toBe(true);
    expect(await store.updateMetadata('c1', (current) => ({ ...(current as object), m: 2 }))).toBe(true);
    expect(await store.getMetadata('c1')).toEqual({ n: 1, m: 2 });
    expect(await store.updateMetadata('ghost', () => ({ x: 1 }))).toBe(false);
    expect(await store.getMetadata('ghost')).toBeNull();
    expect(await store.getAllMetadata(['ghost'])).toEqual([]);
  });

  it('keeps metadata exactly as JSON', async () => {
    const value = { empty: [], deep: { list: [[], {}] }, big: 9007199254740991, text: 'a/b Zoë ✓', nothing: null };
    await store.addConnection('c1', value);
    expect(await store.getMetadata('c1')).toEqual(value);
    await store.updateMetadata('c1', () => null);
    expect(await store.getMetadata('c1')).toBeNull();
  });

  it('lists metadata of all or of given connections', async () => {
    await store.addConnection('c1', { a: 1 });
    await store.addConnection('c2');
    expect((await store.getAllMetadata()).sort()).toEqual([
      ['c1', { a: 1 }],
      ['c2', null],
    ]);
    expect(await store.getAllMetadata(['c2', 'unknown'])).toEqual([['c2', null]]);
    expect(await store.getAllMetadata([])).toEqual([]);
  });

  it('rooms: membership needs a registered connection and reports its node; clear keeps room metadata', async () => {
    await store.addConnection('c1');
    await store.addConnection('c2');
    expect(await store.addToRoom('r', 'ghost')).toBeNull();
    expect(await store.addToRoom('r', 'c1')).toBe(store.nodeId);
    expect(await store.addToRoom('r', 'c2')).toBe(store.nodeId);
    expect(await store.isInRoom('r', 'c1')).toBe(true);
    expect((await store.getRoomMembers('r')).sort()).toEqual(['c1', 'c2']);
    expect(await store.getRooms('c1')).toEqual(['r']);
    expect(await store.removeFromRoom('r', 'c1')).toBe(store.nodeId);
    expect(await store.removeFromRoom('r', 'c1')).toBeNull();
    await store.setRoomMetadata('r', { topic: 't' });
    await store.clearRoom('r');
    expect(await store.getRoomMembers('r')).toEqual([]);
    expect(await store.getRooms('c2')).toEqual([]);
    expect(await store.getRoomMetadata('r')).toEqual({ topic: 't' });
    await store.setRoomMetadata('r', null);
    expect(await store.getRoomMetadata('r')).toBeNull();
  });

  it('channel history is newest first, trimmed to N, limited on read', async () => {
    for (let i = 1; i <= 5; i++) await store.publishChannel('ch', `m${i}`, 3);
    expect(await store.getChannelHistory('ch', 10)).toEqual(['m5', 'm4', 'm3']);
    expect(await store.getChannelHistory('ch', 2)).toEqual(['m5', 'm4']);
    expect(await store.getChannelHistory('ch', 0)).toEqual([]);
    await store.publishChannel('ch', 'no-history');
    expect(await store.getChannelHistory('ch', 10)).toEqual(['m5', 'm4', 'm3']);
  });

  it('delivers channel messages only while subscribed', async () => {
    await store.subscribeChannel('news');
    await store.publishChannel('news', 'one');
    await waitFor(() => received.channel.length === 1, 3000, 'channel message');
    expect(received.channel).toEqual([['news', 'one']]);
    await store.unsubscribeChannel('news');
    await store.publishChannel('news', 'two');
    await store.publishToAll('marker');
    await waitFor(() => received.node.includes('marker'), 3000, 'marker');
    expect(received.channel).toEqual([['news', 'one']]);
  });

  it('node messages reach this node; publishToNode reports receivers', async () => {
    expect(await store.publishToNode(store.nodeId, 'to-me')).toBe(1);
    expect(await store.publishToNode('424242', 'to-nobody')).toBe(0);
    await store.publishToAll('to-all');
    await waitFor(() => received.node.length === 2, 3000, 'node messages');
    expect(received.node).toEqual(['to-me', 'to-all']);
  });

  it('membership: a live node heartbeats and leads; removeNode clears its connections', async () => {
    expect(await store.heartbeat(1000)).toBe(true);
    expect(await store.lead(1000)).toBe(true);
    expect(await store.findDeadNodes()).toEqual([]);
    await store.addConnection('c1', { a: 1 });
    await store.addToRoom('r', 'c1');
    expect(await store.removeNode(store.nodeId)).toEqual(['c1']);
    expect(await store.countConnections()).toBe(0);
    expect(await store.getRoomMembers('r')).toEqual([]);
  });
});

describe('RedisMeshStore: two nodes on one prefix', () => {
  it('see each other, deliver to each other, and never lose concurrent metadata merges', async () => {
    const keyPrefix = uniquePrefix();
    const one = await started(new RedisMeshStore({ redis: redisUrl(), keyPrefix }));
    const two = await started(new RedisMeshStore({ redis: redisUrl(), keyPrefix }));
    try {
      expect(one.store.nodeId).not.toBe(two.store.nodeId);
      await one.store.addConnection('x', {});
      await two.store.addConnection('y');
      expect(await two.store.getConnectionNodes(['x', 'y'])).toEqual(new Map([['x', one.store.nodeId], ['y', two.store.nodeId]]));
      expect(await two.store.addToRoom('r', 'x')).toBe(one.store.nodeId);
      expect(await one.store.addToRoom('r', 'y')).toBe(two.store.nodeId);
      expect((await one.store.getRoomMembers('r')).sort()).toEqual(['x', 'y']);
      await one.store.publishToNode(two.store.nodeId, 'hello two');
      await waitFor(() => two.received.node.includes('hello two'), 3000, 'node message');
      expect(one.received.node).not.toContain('hello two');

      await Promise.all(
        Array.from({ length: 50 }, (_, i) => (i % 2 ? one : two).store.updateMetadata('x', (current) => ({ ...(current as object), [`k${i}`]: i }))),
      );
      expect(Object.keys((await one.store.getMetadata('x')) as object)).toHaveLength(50);

      // A node whose heartbeat lapsed is found dead by the other; removing it records the cleanup as pending.
      await two.store.heartbeat(100);
      await one.store.heartbeat(10_000);
      await waitFor(async () => (await one.store.findDeadNodes()).includes(two.store.nodeId), 3000, 'expired heartbeat');
      expect(await one.store.removeNode(two.store.nodeId, { dead: true })).toEqual(['y']);
      expect(await one.store.pendingDeadNodes()).toEqual([two.store.nodeId]);
      expect(await two.store.heartbeat(1000)).toBe(false);
      await one.store.acknowledgeDeadNode(two.store.nodeId);
      expect(await one.store.pendingDeadNodes()).toEqual([]);
    } finally {
      await one.store.removeNode(one.store.nodeId);
      await one.store.stop();
      await two.store.stop();
    }
  });

  it('a node is never listed without a heartbeat: a leader running at the moment it joins does not find it dead', async () => {
    const keyPrefix = uniquePrefix();
    const leader = await started(new RedisMeshStore({ redis: redisUrl(), keyPrefix }));
    const joining = new RedisMeshStore({ redis: redisUrl(), keyPrefix, nodeTtl: 5000 });
    let sawDead = false;
    let running = true;
    // The leader checks for dead nodes as fast as it can while the other node starts.
    const watching = (async () => {
      while (running) if ((await leader.store.findDeadNodes()).length > 0) sawDead = true;
    })();
    try {
      await joining.start({ onNodeMessage: () => undefined, onChannelMessage: () => undefined });
      running = false;
      await watching;
      expect(sawDead).toBe(false);
      expect(await leader.store.findDeadNodes()).toEqual([]);
    } finally {
      running = false;
      await joining.removeNode(joining.nodeId).catch(() => undefined);
      await joining.stop();
      await leader.store.removeNode(leader.store.nodeId);
      await leader.store.stop();
    }
  });
});
