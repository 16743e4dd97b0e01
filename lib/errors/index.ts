export * from './mesh.error';
export * from './cluster.errors';
