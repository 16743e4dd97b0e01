/** Injection tokens and metadata keys. */
/** The node's three stores, with the Redis connections they share (`MeshState`). */
export const MESH_STATE = Symbol('MESH_STATE');
/** Messaging between nodes and on user channels (`MeshBroker`). */
export const MESH_BROKER = Symbol('MESH_BROKER');
/** Connections, metadata and rooms that every node sees (`SharedState`). */
export const MESH_SHARED_STATE = Symbol('MESH_SHARED_STATE');
/** Node ids, heartbeats, leadership, dead nodes (`MembershipStore`). */
export const MESH_MEMBERSHIP_STORE = Symbol('MESH_MEMBERSHIP_STORE');
/** Presence of tracked rooms (`PresenceStore`). */
export const MESH_PRESENCE_STORE = Symbol('MESH_PRESENCE_STORE');
/** Claims and outcomes of idempotent commands (`IdempotencyStore`). */
export const MESH_IDEMPOTENCY_STORE = Symbol('MESH_IDEMPOTENCY_STORE');
/** The records' store (`RecordStore`): Redis with a `redis` option, memory without. */
export const MESH_RECORD_STORE = Symbol('MESH_RECORD_STORE');
export const MESH_COMMAND_METADATA = 'nestjs-mesh:command';
export const MESH_COMMAND_OPTIONS_METADATA = 'nestjs-mesh:command-options';
export const MESH_MIDDLEWARE_METADATA = 'nestjs-mesh:middleware';
export const MESH_CONTEXT_TYPE = 'ws';
export const MESH_CLIENT_REGISTRY_BACKEND = Symbol('MESH_CLIENT_REGISTRY_BACKEND');
/** The built-in command names for the configured prefix (`BuiltinCommandNames`), computed once. */
export const MESH_COMMAND_NAMES = Symbol('MESH_COMMAND_NAMES');
