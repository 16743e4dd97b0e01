import { Redis } from 'ioredis';
import type { MeshClientRegistryBackend } from './mesh-client-registry-backend';
import type { RegisteredClient, RegisterResult } from './registered-client';
import { decodeClientMetadata, decodeOwner, encodeClientMetadata } from './registry-codec';

// Every key lives under one hash tag and every script declares the keys it touches, so the
// scripts can run on Redis Cluster. Owner fields are a plain "node|epoch|connectedAt" string and
// metadata a separate opaque JSON string: Lua never decodes JSON, so empty arrays and large
// numbers survive. No key has a TTL (live clients never expire); dead nodes' entries are removed
// by cleanupNode. A node's set may still list a client that moved to another node (REGISTER does
// not touch the previous node's set, which it could not declare): readers check the owner, and
// the previous node drops it when its socket closes (UNREGISTER) or when it dies (cleanupNode).

/** KEYS: clients, meta, epoch, node set. ARGV: clientId, nodeId, metadata, connectedAt. */
const REGISTER = `
local previous = redis.call('HGET', KEYS[1], ARGV[1])
local superseded = ''
if previous then
  local previousNode = string.match(previous, '^([^|]*)')
  if previousNode ~= ARGV[2] then superseded = previousNode end
end
local epoch = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. epoch .. '|' .. ARGV[4])
if ARGV[3] == '' then redis.call('HDEL', KEYS[2], ARGV[1]) else redis.call('HSET', KEYS[2], ARGV[1], ARGV[3]) end
redis.call('SADD', KEYS[4], ARGV[1])
return { superseded, epoch }
`;

/**
 * KEYS: clients, meta, the calling node's set. ARGV: clientId, nodeId, epoch or ''. Removes the
 * registration if this node (and epoch) owns it; either way the client leaves this node's set.
 */
const UNREGISTER = `
redis.call('SREM', KEYS[3], ARGV[1])
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return 0 end
local node, epoch = string.match(current, '^([^|]*)|([^|]*)|')
if node ~= ARGV[2] or (ARGV[3] ~= '' and epoch ~= ARGV[3]) then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
`;

/** KEYS: clients, meta. ARGV: clientId, nodeId, metadata. */
const UPDATE_METADATA = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current or string.match(current, '^([^|]*)') ~= ARGV[2] then return 0 end
if ARGV[3] == '' then redis.call('HDEL', KEYS[2], ARGV[1]) else redis.call('HSET', KEYS[2], ARGV[1], ARGV[3]) end
return 1
`;

/** KEYS: node set, clients, meta, orphans. ARGV: nodeId. Moves the node's clients to its orphan record. */
const CLEANUP_NODE = `
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local current = redis.call('HGET', KEYS[2], id)
  if current and string.match(current, '^([^|]*)') == ARGV[1] then
    redis.call('HSET', KEYS[4], id, current .. '|' .. (redis.call('HGET', KEYS[3], id) or ''))
    redis.call('HDEL', KEYS[2], id)
    redis.call('HDEL', KEYS[3], id)
  end
end
redis.call('DEL', KEYS[1])
return redis.call('HGETALL', KEYS[4])
`;

/** KEYS: clients, meta. ARGV: clientId. Owner fields and metadata in one round trip. */
const GET_CLIENT = `return { redis.call('HGET', KEYS[1], ARGV[1]), redis.call('HGET', KEYS[2], ARGV[1]) }`;

type Script = (...args: Array<string | number>) => Promise<unknown>;

/** The Redis backend of the client registry (the default with a `redis` option). */
export class MeshClientRedisRegistry<TMeta = unknown> implements MeshClientRegistryBackend<TMeta> {
  private readonly base: string;

  /**
   * @param redis a connected ioredis client (borrowed, not closed here)
   * @param keyPrefix prefix of the registry's keys; they are hash-tagged `{registry}` under it
   */
  constructor(
    private readonly redis: Redis,
    keyPrefix = 'mesh:',
  ) {
    this.base = `${keyPrefix}{registry}:`;
    const scripts = { meshRegistryRegister: [REGISTER, 4], meshRegistryUnregister: [UNREGISTER, 3], meshRegistryUpdate: [UPDATE_METADATA, 2], meshRegistryCleanup: [CLEANUP_NODE, 4], meshRegistryGet: [GET_CLIENT, 2] } as const;
    for (const [name, [lua, numberOfKeys]] of Object.entries(scripts)) redis.defineCommand(name, { lua, numberOfKeys });
  }

  private script(name: string): Script {
    const fn = (this.redis as unknown as Record<string, Script>)[name];
    return (...args) => fn.apply(this.redis, args);
  }

  private get clientsKey(): string {
    return `${this.base}clients`;
  }

  private get metaKey(): string {
    return `${this.base}meta`;
  }

  private nodeKey(nodeId: string): string {
    return `${this.base}node:${nodeId}`;
  }

  private entry(clientId: string, owner: string | null, metadata: string | null): RegisteredClient<TMeta> | null {
    const decoded = owner ? decodeOwner(owner) : null;
    return decoded ? { clientId, ...decoded, metadata: decodeClientMetadata<TMeta>(metadata) } : null;
  }

  async register(clientId: string, nodeId: string, metadata: TMeta | null, connectedAt: number): Promise<RegisterResult> {
    const [superseded, epoch] = (await this.script('meshRegistryRegister')(
      this.clientsKey,
      this.metaKey,
      `${this.base}epoch`,
      this.nodeKey(nodeId),
      clientId,
      nodeId,
      encodeClientMetadata(metadata),
      connectedAt,
    )) as [string, number];
    return { supersededNodeId: superseded || null, epoch: Number(epoch) };
  }

  async unregister(clientId: string, nodeId: string, epoch?: number): Promise<boolean> {
    return (await this.script('meshRegistryUnregister')(this.clientsKey, this.metaKey, this.nodeKey(nodeId), clientId, nodeId, epoch === undefined ? '' : String(epoch))) === 1;
  }

  async updateMetadata(clientId: string, nodeId: string, metadata: TMeta | null): Promise<boolean> {
    return (await this.script('meshRegistryUpdate')(this.clientsKey, this.metaKey, clientId, nodeId, encodeClientMetadata(metadata))) === 1;
  }

  async getClient(clientId: string): Promise<RegisteredClient<TMeta> | null> {
    const [owner, metadata] = (await this.script('meshRegistryGet')(this.clientsKey, this.metaKey, clientId)) as [string | null, string | null];
    return this.entry(clientId, owner, metadata);
  }

  async listClients(): Promise<RegisteredClient<TMeta>[]> {
    const result = await this.redis.multi().hgetall(this.clientsKey).hgetall(this.metaKey).exec();
    const owners = (result?.[0]?.[1] ?? {}) as Record<string, string>;
    const metas = (result?.[1]?.[1] ?? {}) as Record<string, string>;
    return Object.keys(owners)
      .map((id) => this.entry(id, owners[id], metas[id] ?? null))
      .filter((client): client is RegisteredClient<TMeta> => client !== null);
  }

  async listClientsForNode(nodeId: string): Promise<RegisteredClient<TMeta>[]> {
    const ids = await this.redis.smembers(this.nodeKey(nodeId));
    if (ids.length === 0) return [];
    const result = await this.redis.multi().hmget(this.clientsKey, ...ids).hmget(this.metaKey, ...ids).exec();
    const owners = (result?.[0]?.[1] ?? []) as Array<string | null>;
    const metas = (result?.[1]?.[1] ?? []) as Array<string | null>;
    return ids
      .map((id, i) => this.entry(id, owners[i], metas[i]))
      .filter((client): client is RegisteredClient<TMeta> => client !== null && client.nodeId === nodeId);
  }

  async cleanupNode(nodeId: string): Promise<RegisteredClient<TMeta>[]> {
    const flat = (await this.script('meshRegistryCleanup')(this.nodeKey(nodeId), this.clientsKey, this.metaKey, `${this.base}orphans:${nodeId}`, nodeId)) as string[];
    const orphans: RegisteredClient<TMeta>[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      const record = flat[i + 1];
      const cut = record.indexOf('|', record.indexOf('|', record.indexOf('|') + 1) + 1);
      const client = this.entry(flat[i], record.slice(0, cut), record.slice(cut + 1));
      if (client) orphans.push(client);
    }
    return orphans;
  }

  async acknowledgeCleanup(nodeId: string): Promise<void> {
    await this.redis.del(`${this.base}orphans:${nodeId}`);
  }
}
