export * from './mesh-command.decorator';
export * from './mesh-middleware.decorator';
export * from './mesh-params.decorator';
