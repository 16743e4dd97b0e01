export * from './mesh-store.interface';
export * from './redis-mesh-store';
export * from './memory-mesh-store';
