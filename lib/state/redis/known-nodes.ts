import type { Redis } from 'ioredis';
import type { RedisKeyLayout } from './key-layout';

/**
 * Every node that may still hold connections or clients: the listed ones and the dead ones
 * whose cleanup is pending. Whole-cluster reads (counts, lists) go through the nodes' own sets
 * rather than one global key, so no single key or shard carries every connection.
 */
export async function knownNodes(commands: Redis, keys: RedisKeyLayout): Promise<string[]> {
  const [listed, dead] = await Promise.all([commands.zrange(keys.nodes, '0', '-1'), commands.smembers(keys.deadNodes)]);
  return [...new Set([...listed, ...dead])];
}
