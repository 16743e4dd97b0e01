import type { RedisServer } from './redis-server';

export default async function globalTeardown(): Promise<void> {
  const server = (globalThis as Record<string, unknown>).__MESH_TEST_REDIS__ as RedisServer | undefined;
  await server?.stop('SIGTERM');
}
