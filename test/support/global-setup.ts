import { RedisServer } from './redis-server';

/**
 * Starts one private redis-server for the whole run unless REDIS_URL is given. Suites isolate
 * their keys with a unique key prefix each (see `uniquePrefix`).
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.REDIS_URL) return;
  const server = await RedisServer.start();
  (globalThis as Record<string, unknown>).__MESH_TEST_REDIS__ = server;
  process.env.REDIS_URL = server.url;
  process.env.MESH_TEST_OWN_REDIS = '1';
}
