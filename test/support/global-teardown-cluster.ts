import type { RedisCluster } from './redis-cluster';

export default async function globalTeardown(): Promise<void> {
  await ((globalThis as Record<string, unknown>).__MESH_TEST_CLUSTER__ as RedisCluster | undefined)?.stop();
}
