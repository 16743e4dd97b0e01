/**
 * Integration tests: real Redis, real Nest apps, real sockets. Two projects: every suite on a
 * private standalone redis-server, and the suites that exercise shared state (store
 * conformance, multi-node, compatibility, the sample app on two nodes) again on a private
 * 3-master Redis Cluster.
 */
const common = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }] },
};

module.exports = {
  testTimeout: 20000,
  projects: [
    {
      ...common,
      displayName: 'standalone',
      testMatch: ['**/*.test.ts'],
      testPathIgnorePatterns: ['/test/cluster-only/'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
    {
      ...common,
      displayName: 'cluster',
      testMatch: [
        '<rootDir>/test/state/**/*.test.ts',
        '<rootDir>/test/cluster/**/*.test.ts',
        '<rootDir>/test/compat/**/*.test.ts',
        '<rootDir>/test/sample/**/*.test.ts',
        '<rootDir>/test/recovery/**/*.test.ts',
        '<rootDir>/test/records/**/*.test.ts',
        '<rootDir>/test/presence/**/*.test.ts',
        '<rootDir>/test/cluster-only/**/*.test.ts',
      ],
      // The outage suite (test/cluster) starts its own private 3-master cluster here to kill it
      // (test/support/outage-target.ts); the failover suite (test/cluster-only) kills one shard.
      // The recovery suite's Redis restart runs its own standalone redis-server (stream-loss covers the cluster).
      testPathIgnorePatterns: ['/test/recovery/redis-restart\\.test\\.ts$'],
      setupFiles: ['<rootDir>/test/support/topology-cluster.ts'],
      globalSetup: '<rootDir>/test/support/global-setup-cluster.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown-cluster.ts',
    },
  ],
};
