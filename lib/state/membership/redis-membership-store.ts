import { randomUUID } from 'node:crypto';
import type { RedisConnections } from '../redis/redis-connections';
import type { MembershipStore } from './membership-store';

/**
 * Membership in Redis, every key under the `{cluster}` tag (one slot on Redis Cluster, so each
 * script is atomic there too). Keys: `node-seq` (the id counter), `nodes`
 * (sorted set: node → the time its heartbeat expires, by Redis's clock, so node clocks do not
 * matter), `node-instances` (hash: node → the token of the process holding that id: the counter
 * restarts if Redis loses its data, and the token tells two holders of one id apart), `leader`
 * (the leader's id, expiring unless renewed), `dead-nodes` (set: cleanup pending).
 */
export class RedisMembershipStore implements MembershipStore {
  private id = '';
  private instance = '';

  constructor(private readonly redis: RedisConnections) {}

  get nodeId(): string {
    return this.id;
  }

  private get keys() {
    return this.redis.keys;
  }

  async join(ttlMs: number, beforeListed: (nodeId: string) => Promise<void>): Promise<string> {
    const instance = randomUUID();
    const id = String(await this.redis.scripts.run<number>('join', [this.keys.nodeSequence, this.keys.nodeInstances], [instance]));
    await beforeListed(id);
    await this.redis.scripts.run<number>('heartbeat', [this.keys.nodes, this.keys.nodeInstances], [id, ttlMs, instance, '1']);
    this.id = id;
    this.instance = instance;
    return id;
  }

  async heartbeat(ttlMs: number): Promise<boolean> {
    return (await this.redis.scripts.run<number>('heartbeat', [this.keys.nodes, this.keys.nodeInstances], [this.id, ttlMs, this.instance, '0'])) === 1;
  }

  async lead(ttlMs: number): Promise<boolean> {
    return (await this.redis.scripts.run<number>('lead', [this.keys.leader], [this.id, ttlMs])) === 1;
  }

  async resign(): Promise<void> {
    await this.redis.scripts.run('resign', [this.keys.leader], [this.id]);
  }

  findDeadNodes(): Promise<string[]> {
    return this.redis.scripts.run<string[]>('dead-nodes', [this.keys.nodes]);
  }

  async unlist(nodeId: string, options: { dead?: boolean } = {}): Promise<void> {
    await this.redis.scripts.run('unlist-node', [this.keys.nodes, this.keys.nodeInstances, this.keys.deadNodes], [nodeId, options.dead ? '1' : '0']);
  }

  pendingDeadNodes(): Promise<string[]> {
    return this.redis.commands.smembers(this.keys.deadNodes);
  }

  async acknowledgeDeadNode(nodeId: string): Promise<void> {
    await this.redis.commands.srem(this.keys.deadNodes, nodeId);
  }
}
