import { uniquePrefix, waitFor } from '../support/test-app';
import { IMPLEMENTATIONS, listenerFor, redisStores, type Heard, type NodeStores } from './stores';

/** One contract, checked against both implementations of the broker. */
describe.each(IMPLEMENTATIONS)('MeshBroker (%s)', (_name, create) => {
  let stores: NodeStores;
  let heard: Heard;

  beforeEach(async () => {
    stores = await create();
    heard = { node: [], channel: [] };
    await stores.broker.start(listenerFor(heard));
    await stores.broker.listenAsNode('5');
  });

  afterEach(async () => {
    await stores.broker.stop();
    await stores.close();
  });

  it('channel history is newest first, trimmed to N, limited on read', async () => {
    const { broker } = stores;
    for (let i = 1; i <= 5; i++) await broker.publishChannel('ch', `m${i}`, 3);
    expect(await broker.getChannelHistory('ch', 10)).toEqual(['m5', 'm4', 'm3']);
    expect(await broker.getChannelHistory('ch', 2)).toEqual(['m5', 'm4']);
    expect(await broker.getChannelHistory('ch', 0)).toEqual([]);
    await broker.publishChannel('ch', 'no-history');
    expect(await broker.getChannelHistory('ch', 10)).toEqual(['m5', 'm4', 'm3']);
  });

  it('history with a TTL is gone after it', async () => {
    const { broker } = stores;
    await broker.publishChannel('short', 'brief', 5, 30);
    expect(await broker.getChannelHistory('short', 5)).toEqual(['brief']);
    await waitFor(async () => (await broker.getChannelHistory('short', 5)).length === 0, 3000, 'history to expire');
  });

  it('delivers channel messages only while subscribed', async () => {
    const { broker } = stores;
    await broker.subscribeChannel('news');
    await broker.publishChannel('news', 'one');
    await waitFor(() => heard.channel.length === 1, 3000, 'channel message');
    expect(heard.channel).toEqual([['news', 'one']]);
    await broker.unsubscribeChannel('news');
    await broker.publishChannel('news', 'two');
    await broker.publishToAll('marker');
    await waitFor(() => heard.node.includes('marker'), 3000, 'marker');
    expect(heard.channel).toEqual([['news', 'one']]);
  });

  it('topics reach a node only while it listens, by kind and name, whatever the name holds', async () => {
    const { broker } = stores;
    const odd = 'doc:{x}:topic}:stream';
    await broker.listenTopic({ kind: 'record', name: odd });
    await broker.listenTopic({ kind: 'presence', name: 'lobby' });
    await broker.publishTopic({ kind: 'record', name: odd }, 'r1');
    await broker.publishTopic({ kind: 'presence', name: 'lobby' }, 'p1');
    await broker.publishTopic({ kind: 'collection', name: 'lobby' }, 'not-listened');
    await waitFor(() => (heard.topic?.length ?? 0) === 2, 3000, 'topic messages');
    expect(heard.topic).toEqual([
      ['record', odd, 'r1'],
      ['presence', 'lobby', 'p1'],
    ]);
    await broker.unlistenTopic({ kind: 'record', name: odd });
    await broker.publishTopic({ kind: 'record', name: odd }, 'r2');
    await broker.publishToAll('marker');
    await waitFor(() => heard.node.includes('marker'), 3000, 'marker');
    expect(heard.topic).toHaveLength(2);
    expect(heard.channel).toEqual([]);
  });

  it('node messages reach the node listening on its id; publishToNode reports receivers', async () => {
    const { broker } = stores;
    expect(await broker.publishToNode('5', 'to-me')).toBe(1);
    expect(await broker.publishToNode('424242', 'to-nobody')).toBe(0);
    await broker.publishToAll('to-all');
    await waitFor(() => heard.node.length === 2, 3000, 'node messages');
    expect(heard.node).toEqual(['to-me', 'to-all']);
    expect(broker.listening).toBe(true);
    await broker.unlistenNode('5');
    expect(await broker.publishToNode('5', 'gone')).toBe(0);
  });
});

describe('RedisBroker: two nodes on one prefix', () => {
  it('deliver to each other only what is addressed to each', async () => {
    const keyPrefix = uniquePrefix();
    const [one, two] = [await redisStores(keyPrefix), await redisStores(keyPrefix)];
    const [heardOne, heardTwo]: Heard[] = [
      { node: [], channel: [] },
      { node: [], channel: [] },
    ];
    await one.broker.start(listenerFor(heardOne));
    await two.broker.start(listenerFor(heardTwo));
    await one.broker.listenAsNode('1');
    await two.broker.listenAsNode('2');
    try {
      await one.broker.publishToNode('2', 'hello two');
      await one.broker.publishToAll('everyone');
      await waitFor(() => heardTwo.node.length === 2 && heardOne.node.length === 1, 3000, 'node messages');
      expect(heardTwo.node).toEqual(['hello two', 'everyone']);
      expect(heardOne.node).toEqual(['everyone']);
    } finally {
      await one.close();
      await two.close();
    }
  });
});
