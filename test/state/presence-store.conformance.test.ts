import { MemoryBroker } from '../../lib/state/broker/memory-broker';
import type { MeshBroker } from '../../lib/state/broker/mesh-broker';
import { RedisBroker } from '../../lib/state/broker/redis-broker';
import { MemoryPresenceStore } from '../../lib/state/presence/memory-presence-store';
import type { PresenceStore } from '../../lib/state/presence/presence-store';
import { RedisPresenceStore } from '../../lib/state/presence/redis-presence-store';
import { RedisConnections } from '../../lib/state/redis/redis-connections';
import { redisOption, uniquePrefix, waitFor } from '../support/test-app';

interface PresenceStores {
  store: PresenceStore;
  broker: MeshBroker;
  /** Events heard on presence topics, as [room, parsed event]. */
  heard: Array<[string, any]>;
  close(): Promise<void>;
}

async function withBroker(broker: MeshBroker, store: PresenceStore, close: () => Promise<void>): Promise<PresenceStores> {
  const heard: Array<[string, any]> = [];
  await broker.start({ onNodeMessage: () => undefined, onChannelMessage: () => undefined, onTopicMessage: (topic, message) => void heard.push([topic.name, JSON.parse(message)]) });
  return { store, broker, heard, close };
}

const IMPLEMENTATIONS: Array<[string, () => Promise<PresenceStores>]> = [
  [
    'Redis',
    async () => {
      const redis = new RedisConnections(redisOption(), uniquePrefix());
      await redis.connect();
      const broker = new RedisBroker(redis);
      return withBroker(broker, new RedisPresenceStore(redis), async () => {
        await broker.stop();
        await redis.stop();
      });
    },
  ],
  [
    'memory',
    async () => {
      const broker = new MemoryBroker();
      return withBroker(broker, new MemoryPresenceStore((room, event) => void broker.publishTopic({ kind: 'presence', name: room }, event)), () => broker.stop());
    },
  ],
];

const enter = (room: string, connectionId: string, extra: Partial<Parameters<PresenceStore['enter']>[0]> = {}) => ({ room, connectionId, nodeId: 'n1', secretDigest: `digest-of-${connectionId}`, metadataText: '', ...extra });

/** One contract, checked against both implementations of the presence store. */
describe.each(IMPLEMENTATIONS)('PresenceStore (%s)', (_name, create) => {
  let s: PresenceStores;

  beforeEach(async () => {
    s = await create();
    await s.broker.listenTopic({ kind: 'presence', name: 'r' });
  });

  afterEach(() => s.close());

  const types = () => s.heard.map(([room, e]) => `${room}:${e.type}:${e.connectionId}${e.type === 'state' ? `=${JSON.stringify(e.state)}` : ''}`);

  it('enter, enter again, states (silent, cleared, expired) and leave, each change published in order', async () => {
    const { store } = s;
    expect(await store.enter(enter('r', 'a', { metadataText: '{"name":"A"}' }))).toEqual({ outcome: 'joined', id: 'a' });
    expect(await store.enter(enter('r', 'a', { held: 'a' }))).toEqual({ outcome: 'present', id: 'a' });
    expect(await store.identities('a')).toEqual(new Map([['r', 'a']]));
    expect(await store.setState('r', 'a', 'a', '{"x":[]}', 0, false)).toBe(true);
    expect(await store.setState('r', 'a', 'other', '{"x":1}', 0, false)).toBe(false); // not the holder
    expect(await store.setState('r', 'a', 'a', '{"quiet":true}', 0, true)).toBe(true);
    const snapshot = await store.read('r');
    expect([...snapshot.members]).toEqual([['a', { connectionId: 'a', metadataText: '{"name":"A"}' }]]);
    expect([...snapshot.states]).toEqual([['a', { text: '{"quiet":true}', expiresAt: 0 }]]);
    expect(await store.clearState('r', 'a', 'a')).toBe(true);
    const expiresAt = Date.now() + 60_000;
    expect(await store.setState('r', 'a', 'a', '{"brief":1}', expiresAt, false)).toBe(true);
    expect(await store.expireState('r', 'a', expiresAt + 1)).toBe(false); // a state published since is kept
    expect(await store.expireState('r', 'a', expiresAt)).toBe(true);
    expect(await store.leave('r', 'a', 'other')).toBe(false);
    expect(await store.leave('r', 'a', 'a')).toBe(true);
    expect(await store.leave('r', 'a', 'a')).toBe(false);
    await waitFor(() => s.heard.length === 6, 3000, 'six events');
    expect(types()).toEqual(['r:join:a', 'r:state:a={"x":[]}', 'r:state:a=null', 'r:state:a={"brief":1}', 'r:state:a=null', 'r:leave:a']);
    expect(s.heard[0][1]).toEqual({ type: 'join', connectionId: 'a', roomName: 'r', timestamp: expect.any(Number) });
  });

  it('refreshMetadata rewrites what others see of a member, only for the connection holding it', async () => {
    await s.store.enter(enter('r', 'a', { metadataText: '{"v":1}' }));
    expect(await s.store.refreshMetadata('r', 'a', 'other', '{"v":9}')).toBe(false);
    expect(await s.store.refreshMetadata('r', 'a', 'a', '{"v":2}')).toBe(true);
    expect(await s.store.refreshMetadata('r', 'missing', 'missing', '{"v":2}')).toBe(false);
    expect((await s.store.read('r')).members.get('a')).toEqual({ connectionId: 'a', metadataText: '{"v":2}' });
  });

  it('reads hide states that expired before their timer cleared them', async () => {
    await s.store.enter(enter('r', 'a'));
    await s.store.setState('r', 'a', 'a', '{"old":1}', Date.now() - 1, true);
    expect((await s.store.read('r')).states.size).toBe(0);
  });

  it('a takeover needs the right secret digest, publishes nothing and keeps the state; the old holder can no longer leave it', async () => {
    const { store } = s;
    await store.enter(enter('r', 'a'));
    await store.setState('r', 'a', 'a', '{"kept":1}', 123, true);
    expect(await store.enter(enter('r', 'b', { claim: { id: 'a', secretDigest: 'wrong' } }))).toEqual({ outcome: 'joined', id: 'b' });
    expect(await store.identities('b')).toEqual(new Map([['r', 'b']]));
    expect(await store.enter(enter('r', 'c', { claim: { id: 'a', secretDigest: 'digest-of-a' } }))).toEqual({ outcome: 'resumed', id: 'a', stateExpiresAt: 123 });
    expect(await store.identities('c')).toEqual(new Map([['r', 'a']]));
    expect(await store.enter(enter('r', 'c', { held: 'a' }))).toEqual({ outcome: 'present', id: 'a' });
    expect(await store.leave('r', 'a', 'a')).toBe(false);
    await store.removeConnection('a', 'n1');
    expect([...(await store.read('r')).members.keys()].sort()).toEqual(['a', 'b']);
    expect((await store.read('r')).members.get('a')).toEqual({ connectionId: 'c', metadataText: '' });
    await store.removeConnection('c', 'n1');
    await waitFor(() => s.heard.length === 3, 3000, 'three events');
    expect(types()).toEqual(['r:join:a', 'r:join:b', 'r:leave:a']);
    expect(await store.identities('c')).toEqual(new Map());
  });

  it('clearRoom publishes a leave per member; removeNodePresence takes a dead node in bounded steps', async () => {
    const { store } = s;
    for (const id of ['a', 'b']) await store.enter(enter('r', id));
    await store.clearRoom('r');
    expect((await store.read('r')).members.size).toBe(0);
    for (const id of ['c1', 'c2', 'c3', 'c4', 'c5']) await store.enter(enter('r', id, { nodeId: 'dead' }));
    await store.enter(enter('r', 'alive', { nodeId: 'n2' }));
    expect(await store.removeNodePresence('dead', 2)).toEqual({ removed: 2, left: 3 });
    expect(await store.removeNodePresence('dead', 2)).toEqual({ removed: 2, left: 1 });
    expect(await store.removeNodePresence('dead', 2)).toEqual({ removed: 1, left: 0 });
    expect(await store.removeNodePresence('dead', 2)).toEqual({ removed: 0, left: 0 });
    expect([...(await store.read('r')).members.keys()]).toEqual(['alive']);
    await waitFor(() => s.heard.length === 2 + 2 + 6 + 5, 3000, 'every event');
    expect(s.heard.filter(([, e]) => e.type === 'leave').map(([, e]) => e.connectionId).sort()).toEqual(['a', 'b', 'c1', 'c2', 'c3', 'c4', 'c5']);
  });
});
