export * from './registered-client';
export * from './mesh-client-registry-backend';
export * from './mesh-client-registry';
export * from './mesh-client-redis-registry';
export * from './mesh-client-memory-registry';
