export * from './mesh.error';
