import { RedisKeyLayout } from '../../lib/state/redis/key-layout';
import { adminRedis, uniquePrefix, waitFor } from '../support/test-app';
import { IMPLEMENTATIONS, redisStores, type NodeStores } from './stores';

/** One contract, checked against both implementations of the membership store. */
describe.each(IMPLEMENTATIONS)('MembershipStore (%s)', (_name, create) => {
  let stores: NodeStores;

  beforeEach(async () => {
    stores = await create();
  });

  afterEach(() => stores.close());

  it('a node that joined beats, leads, and is not dead', async () => {
    const { membership } = stores;
    const listened: string[] = [];
    const id = await membership.join(1000, async (nodeId) => void listened.push(nodeId));
    expect(listened).toEqual([id]);
    expect(membership.nodeId).toBe(id);
    expect(await membership.heartbeat(1000)).toBe(true);
    expect(await membership.lead(1000)).toBe(true);
    expect(await membership.findDeadNodes()).toEqual([]);
    expect(await membership.pendingDeadNodes()).toEqual([]);
    await membership.resign();
  });
});

describe('RedisMembershipStore: several nodes on one prefix', () => {
  it('ids are never reused; a lapsed node is found dead, unlisted with its cleanup pending, and told so on its next heartbeat', async () => {
    const keyPrefix = uniquePrefix();
    const one = await redisStores(keyPrefix);
    const two = await redisStores(keyPrefix);
    try {
      const a = await one.membership.join(10_000, async () => undefined);
      const b = await two.membership.join(100, async () => undefined);
      expect(a).not.toBe(b);
      expect(await one.membership.lead(10_000)).toBe(true);
      expect(await two.membership.lead(10_000)).toBe(false);
      await waitFor(async () => (await one.membership.findDeadNodes()).includes(b), 3000, 'expired heartbeat');
      await one.membership.unlist(b, { dead: true });
      expect(await one.membership.pendingDeadNodes()).toEqual([b]);
      expect(await two.membership.heartbeat(1000)).toBe(false);
      await one.membership.acknowledgeDeadNode(b);
      expect(await one.membership.pendingDeadNodes()).toEqual([]);
      // Rejoining takes a new id.
      expect(await two.membership.join(1000, async () => undefined)).not.toBe(b);
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('a node whose id another process holds (Redis lost its data) is told to fence', async () => {
    const keyPrefix = uniquePrefix();
    const one = await redisStores(keyPrefix);
    const redis = adminRedis();
    try {
      const id = await one.membership.join(10_000, async () => undefined);
      await redis.hset(new RedisKeyLayout(keyPrefix).nodeInstances, id, 'another process');
      expect(await one.membership.heartbeat(10_000)).toBe(false);
    } finally {
      redis.disconnect();
      await one.close();
    }
  });

  it('a node is never listed without a heartbeat: a leader running at the moment it joins does not find it dead', async () => {
    const keyPrefix = uniquePrefix();
    const leader = await redisStores(keyPrefix);
    const joining = await redisStores(keyPrefix);
    await leader.membership.join(10_000, async () => undefined);
    let sawDead = false;
    let running = true;
    // The leader checks for dead nodes as fast as it can while the other node joins.
    const watching = (async () => {
      while (running) if ((await leader.membership.findDeadNodes()).length > 0) sawDead = true;
    })();
    try {
      await joining.membership.join(5000, async () => undefined);
      running = false;
      await watching;
      expect(sawDead).toBe(false);
      expect(await leader.membership.findDeadNodes()).toEqual([]);
    } finally {
      running = false;
      await leader.close();
      await joining.close();
    }
  });
});
