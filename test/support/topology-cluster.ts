// The cluster project's suites run on the Redis Cluster its global setup started (see test-app's onCluster).
process.env.MESH_TEST_TOPOLOGY = 'cluster';
