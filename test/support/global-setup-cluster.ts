import { RedisCluster } from './redis-cluster';

/** Starts one private 3-master Redis Cluster for the cluster project, unless MESH_TEST_CLUSTER_NODES is given. */
export default async function globalSetup(): Promise<void> {
  if (process.env.MESH_TEST_CLUSTER_NODES) return;
  const cluster = await RedisCluster.start({ masters: 3 });
  (globalThis as Record<string, unknown>).__MESH_TEST_CLUSTER__ = cluster;
  process.env.MESH_TEST_CLUSTER_NODES = cluster.nodesText;
}
