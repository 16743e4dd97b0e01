/** Injection tokens and metadata keys. */
export const MESH_STORE = Symbol('MESH_STORE');
export const MESH_COMMAND_METADATA = 'nestjs-mesh:command';
export const MESH_MIDDLEWARE_METADATA = 'nestjs-mesh:middleware';
export const MESH_CONTEXT_TYPE = 'ws';
export const MESH_CLIENT_REGISTRY_BACKEND = Symbol('MESH_CLIENT_REGISTRY_BACKEND');
/** The built-in command names for the configured prefix (`BuiltinCommandNames`), computed once. */
export const MESH_COMMAND_NAMES = Symbol('MESH_COMMAND_NAMES');
