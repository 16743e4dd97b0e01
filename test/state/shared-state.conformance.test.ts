import { MeshLimitError } from '../../lib';
import { uniquePrefix } from '../support/test-app';
import { IMPLEMENTATIONS, redisStores, type NodeStores } from './stores';

/** One contract, checked against both implementations of the shared state. */
describe.each(IMPLEMENTATIONS)('SharedState (%s)', (_name, create) => {
  let stores: NodeStores;
  const node = '7';

  beforeEach(async () => {
    stores = await create();
    await stores.listNodes(node, '8');
  });

  afterEach(() => stores.close());

  it('registers connections with metadata and removes them with their rooms', async () => {
    const { state } = stores;
    await state.addConnection(node, 'c1', { name: 'a' });
    await state.addConnection(node, 'c2');
    expect(await state.countConnections()).toBe(2);
    expect(await state.getConnectionNodes(['c1', 'c2', 'nope'])).toEqual(new Map([['c1', node], ['c2', node]]));
    expect((await state.getNodeConnections(node)).sort()).toEqual(['c1', 'c2']);
    expect(await state.getMetadata('c1')).toEqual({ name: 'a' });
    expect(await state.getMetadata('c2')).toBeNull();
    await state.addToRoom('r1', 'c1');
    await state.addToRoom('r2', 'c1');
    expect((await state.removeConnection('c1')).sort()).toEqual(['r1', 'r2']);
    expect(await state.getMetadata('c1')).toBeNull();
    expect(await state.getRoomMembers('r1')).toEqual([]);
    expect(await state.countConnections()).toBe(1);
    expect(await state.removeConnection('c1')).toEqual([]);
    await expect(state.ping()).resolves.toBeUndefined();
  });

  it('updates metadata atomically, never for unknown connections, and an updater that throws writes nothing', async () => {
    const { state } = stores;
    await state.addConnection(node, 'c1');
    expect(await state.updateMetadata('c1', () => ({ n: 1 }))).toBe(true);
    expect(await state.updateMetadata('c1', (current) => ({ ...(current as object), m: 2 }))).toBe(true);
    expect(await state.getMetadata('c1')).toEqual({ n: 1, m: 2 });
    await expect(
      state.updateMetadata('c1', () => {
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    expect(await state.getMetadata('c1')).toEqual({ n: 1, m: 2 });
    expect(await state.updateMetadata('ghost', () => ({ x: 1 }))).toBe(false);
    expect(await state.getMetadata('ghost')).toBeNull();
    expect(await state.getAllMetadata(['ghost'])).toEqual([]);
  });

  it('keeps metadata exactly as JSON', async () => {
    const { state } = stores;
    const value = { empty: [], deep: { list: [[], {}] }, big: 9007199254740991, text: 'a/b Zoë ✓', nothing: null };
    await state.addConnection(node, 'c1', value);
    expect(await state.getMetadata('c1')).toEqual(value);
    await state.updateMetadata('c1', () => null);
    expect(await state.getMetadata('c1')).toBeNull();
  });

  it('lists metadata of all or of given connections', async () => {
    const { state } = stores;
    await state.addConnection(node, 'c1', { a: 1 });
    await state.addConnection(node, 'c2');
    expect((await state.getAllMetadata()).sort()).toEqual([
      ['c1', { a: 1 }],
      ['c2', null],
    ]);
    expect(await state.getAllMetadata(['c2', 'unknown'])).toEqual([['c2', null]]);
    expect(await state.getAllMetadata([])).toEqual([]);
  });

  it('rooms: membership needs a registered connection and reports its node; clear keeps room metadata', async () => {
    const { state } = stores;
    await state.addConnection(node, 'c1');
    await state.addConnection(node, 'c2');
    expect(await state.addToRoom('r', 'ghost')).toBeNull();
    expect(await state.addToRoom('r', 'c1')).toBe(node);
    expect(await state.addToRoom('r', 'c2')).toBe(node);
    expect(await state.isInRoom('r', 'c1')).toBe(true);
    expect((await state.getRoomMembers('r')).sort()).toEqual(['c1', 'c2']);
    expect(await state.getRooms('c1')).toEqual(['r']);
    expect(await state.removeFromRoom('r', 'c1')).toBe(node);
    expect(await state.removeFromRoom('r', 'c1')).toBeNull();
    await state.setRoomMetadata('r', { topic: 't' });
    await state.clearRoom('r');
    expect(await state.getRoomMembers('r')).toEqual([]);
    expect(await state.getRooms('c2')).toEqual([]);
    expect(await state.getRoomMetadata('r')).toEqual({ topic: 't' });
    await state.setRoomMetadata('r', null);
    expect(await state.getRoomMetadata('r')).toBeNull();
  });

  it('a connection joins at most maxRooms rooms; joining one it is in again succeeds', async () => {
    const { state } = stores;
    await state.addConnection(node, 'c1');
    await state.addToRoom('a', 'c1', 2);
    await state.addToRoom('b', 'c1', 2);
    expect(await state.addToRoom('b', 'c1', 2)).toBe(node);
    await expect(state.addToRoom('c', 'c1', 2)).rejects.toBeInstanceOf(MeshLimitError);
    expect((await state.getRooms('c1')).sort()).toEqual(['a', 'b']);
  });

  it("removes a node's connections in bounded steps, and leaves other nodes' alone", async () => {
    const { state } = stores;
    for (let i = 0; i < 7; i++) await state.addConnection(node, `d${i}`, { i });
    await state.addConnection('8', 'other');
    for (let i = 0; i < 7; i++) await state.addToRoom('lobby', `d${i}`);
    await state.addToRoom('lobby', 'other');
    const first = await state.removeNodeConnections(node, 3);
    expect([first.removed.length, first.left]).toEqual([3, 4]);
    const second = await state.removeNodeConnections(node, 3);
    const third = await state.removeNodeConnections(node, 3);
    expect([second.left, third.left, third.removed.length]).toEqual([1, 0, 1]);
    expect(new Set([...first.removed, ...second.removed, ...third.removed]).size).toBe(7);
    expect(await state.getRoomMembers('lobby')).toEqual(['other']);
    expect(await state.countConnections()).toBe(1);
    expect(await state.getAllMetadata()).toEqual([['other', null]]);
    expect(await state.removeNodeConnections(node)).toEqual({ removed: [], left: 0 });
  });
});

describe('RedisSharedState: two nodes on one prefix', () => {
  it('see each other and never lose concurrent metadata merges', async () => {
    const keyPrefix = uniquePrefix();
    const one = await redisStores(keyPrefix);
    const two = await redisStores(keyPrefix);
    try {
      await one.state.addConnection('1', 'x', {});
      await two.state.addConnection('2', 'y');
      expect(await two.state.getConnectionNodes(['x', 'y'])).toEqual(new Map([['x', '1'], ['y', '2']]));
      expect(await two.state.addToRoom('r', 'x')).toBe('1');
      expect(await one.state.addToRoom('r', 'y')).toBe('2');
      expect((await one.state.getRoomMembers('r')).sort()).toEqual(['x', 'y']);
      await Promise.all(
        Array.from({ length: 50 }, (_, i) => (i % 2 ? one : two).state.updateMetadata('x', (current) => ({ ...(current as object), [`k${i}`]: i }))),
      );
      expect(Object.keys((await one.state.getMetadata('x')) as object)).toHaveLength(50);
    } finally {
      await one.close();
      await two.close();
    }
  });
});
