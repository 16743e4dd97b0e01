import type { Redis } from 'ioredis';
import { RedisKeyLayout } from '../state/redis/key-layout';
import { knownNodes } from '../state/redis/known-nodes';
import { LuaScripts } from '../state/redis/lua-scripts';
import type { MeshClientRegistryBackend } from './mesh-client-registry-backend';
import type { RegisteredClient, RegisterResult } from './registered-client';
import { decodeClientMetadata, decodeOwner, encodeClientMetadata } from './registry-codec';

/** How many clients one step of a dead node's cleanup takes. */
const CLEANUP_BATCH = 500;

/**
 * The Redis backend of the client registry (the default with a `redis` option), on standalone
 * Redis or Redis Cluster. Each client is one hash, `{cl:<client>}` (owner "node|epoch|connectedAt",
 * metadata as opaque JSON text, the epoch counter), so every script touches one slot; each node
 * lists its clients in `{n:<node>}:clients`, which whole-registry reads and a dead node's cleanup
 * go through. A node's set may still list a client that moved to another node (a registration
 * does not touch the previous node's set): readers check the owner, and the previous node drops
 * it when its socket closes or when it dies. No key has a TTL (live clients never expire).
 */
export class MeshClientRedisRegistry<TMeta = unknown> implements MeshClientRegistryBackend<TMeta> {
  private readonly keys: RedisKeyLayout;
  private readonly scripts: LuaScripts;

  /**
   * @param redis a connected ioredis client or Cluster (borrowed, not closed here)
   * @param keyPrefix prefix of the registry's keys (the module's `keyPrefix`)
   */
  constructor(
    private readonly redis: Redis,
    keyPrefix = 'mesh:',
  ) {
    this.keys = new RedisKeyLayout(keyPrefix);
    this.scripts = new LuaScripts(redis);
  }

  private entry(clientId: string, owner: string | null, metadata: string | null): RegisteredClient<TMeta> | null {
    const decoded = owner ? decodeOwner(owner) : null;
    return decoded ? { clientId, ...decoded, metadata: decodeClientMetadata<TMeta>(metadata) } : null;
  }

  /** One round trip: the client's hash and the node's set are written at once. */
  async register(clientId: string, nodeId: string, metadata: TMeta | null, connectedAt: number): Promise<RegisterResult> {
    const [[superseded, epoch]] = await Promise.all([
      this.scripts.run<[string, number]>('registry-register', [this.keys.client(clientId)], [nodeId, encodeClientMetadata(metadata), connectedAt]),
      this.redis.sadd(this.keys.nodeClients(nodeId), clientId),
    ]);
    return { supersededNodeId: superseded || null, epoch: Number(epoch) };
  }

  /** Either way the client leaves this node's set. */
  async unregister(clientId: string, nodeId: string, epoch?: number): Promise<boolean> {
    const [removed] = await Promise.all([
      this.scripts.run<number>('registry-unregister', [this.keys.client(clientId)], [nodeId, epoch === undefined ? '' : String(epoch)]),
      this.redis.srem(this.keys.nodeClients(nodeId), clientId),
    ]);
    return removed === 1;
  }

  async updateMetadata(clientId: string, nodeId: string, metadata: TMeta | null): Promise<boolean> {
    return (await this.scripts.run<number>('registry-update', [this.keys.client(clientId)], [nodeId, encodeClientMetadata(metadata)])) === 1;
  }

  async getClient(clientId: string): Promise<RegisteredClient<TMeta> | null> {
    const [owner, metadata] = await this.redis.hmget(this.keys.client(clientId), 'owner', 'meta');
    return this.entry(clientId, owner, metadata);
  }

  private async clientsOf(ids: string[], nodeId?: string): Promise<RegisteredClient<TMeta>[]> {
    const rows = await Promise.all(ids.map((id) => this.redis.hmget(this.keys.client(id), 'owner', 'meta')));
    return ids
      .map((id, i) => this.entry(id, rows[i][0], rows[i][1]))
      .filter((client): client is RegisteredClient<TMeta> => client !== null && (nodeId === undefined || client.nodeId === nodeId));
  }

  async listClients(): Promise<RegisteredClient<TMeta>[]> {
    const nodes = await knownNodes(this.redis, this.keys);
    const sets = await Promise.all(nodes.map((node) => this.redis.smembers(this.keys.nodeClients(node))));
    return this.clientsOf([...new Set(sets.flat())]);
  }

  async listClientsForNode(nodeId: string): Promise<RegisteredClient<TMeta>[]> {
    return this.clientsOf(await this.redis.smembers(this.keys.nodeClients(nodeId)), nodeId);
  }

  /**
   * In bounded steps of CLEANUP_BATCH clients: each client the dead node still owns is recorded
   * in the node's orphans first, then released in its own slot, then taken off the node's set;
   * a crash between steps repeats a step, never loses an orphan.
   */
  async cleanupNode(nodeId: string): Promise<RegisteredClient<TMeta>[]> {
    const setKey = this.keys.nodeClients(nodeId);
    const orphansKey = this.keys.nodeOrphans(nodeId);
    for (;;) {
      const ids = (await this.redis.srandmember(setKey, CLEANUP_BATCH)) as string[];
      if (ids.length === 0) break;
      const rows = await Promise.all(ids.map((id) => this.redis.hmget(this.keys.client(id), 'owner', 'meta')));
      const owned = ids.flatMap((id, i) => {
        const [owner, meta] = rows[i];
        return owner && decodeOwner(owner)?.nodeId === nodeId ? [{ id, record: `${owner}|${meta ?? ''}` }] : [];
      });
      if (owned.length > 0) {
        await this.redis.hset(orphansKey, ...owned.flatMap(({ id, record }) => [id, record]));
        const released = await Promise.all(owned.map(({ id }) => this.scripts.run<number>('registry-release', [this.keys.client(id)], [nodeId])));
        const movedOn = owned.filter((_, i) => released[i] !== 1).map(({ id }) => id);
        if (movedOn.length > 0) await this.redis.hdel(orphansKey, ...movedOn);
      }
      await this.redis.srem(setKey, ...ids);
    }
    // Read in bounded chunks: one HGETALL of a node's 100,000 orphans blocks Redis for ~50 ms.
    const orphans: RegisteredClient<TMeta>[] = [];
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(orphansKey, cursor, 'COUNT', CLEANUP_BATCH);
      cursor = next;
      for (let i = 0; i < flat.length; i += 2) {
        const record = flat[i + 1];
        const cut = record.indexOf('|', record.indexOf('|', record.indexOf('|') + 1) + 1);
        const client = this.entry(flat[i], record.slice(0, cut), record.slice(cut + 1));
        if (client) orphans.push(client);
      }
    } while (cursor !== '0');
    return orphans;
  }

  /** UNLINK: a large orphan record is freed in the background, not while Redis serves others. */
  async acknowledgeCleanup(nodeId: string): Promise<void> {
    await this.redis.unlink(this.keys.nodeOrphans(nodeId));
  }
}
