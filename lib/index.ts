/**
 * The public API of nestjs-mesh, by name. Everything else under lib/ is internal and may change
 * in any release. The client is `nestjs-mesh/client` (client/index.ts).
 */

// The module and its options
export { MeshModule } from './mesh.module';
export { MESH_MODULE_OPTIONS } from './mesh.module-definition';
export type {
  MeshModuleOptions,
  MeshRateLimitOptions,
  AllowedOrigins,
  VisibleMetadata,
  AuthenticateConnection,
  AuthenticationResult,
} from './interfaces/mesh-module-options.interface';

// Commands
export { MeshCommand } from './decorators/mesh-command.decorator';
export { MeshMiddleware } from './decorators/mesh-middleware.decorator';
export { MeshPayload, MeshConnection, MeshContext } from './decorators/mesh-params.decorator';
export type { MeshCommandContext, MeshMiddlewareFn, MeshCommandHandlerFn } from './commands/command-context';
export type { MeshCommandOptions, MeshIdempotentOption, RegisterCommandOptions } from './commands/command-options';

// The injectables
export { MeshServer, type BroadcastOptions, type PublishOptions, type ChannelGuard, type RoomGuard } from './mesh-server';
export { ConnectionManager, type SetMetadataOptions, type MetadataEntry } from './connection/connection-manager';
export { Connection } from './connection/connection';
export type { UpgradeRequest } from './connection/upgrade-request';
export type { ConnectionRef } from './connection/connection-ref';
export {
  MeshClientService,
  type InvokeOptions,
  type ClientConnectedEvent,
  type ClientConnectedListener,
  type ClientDisconnectedListener,
  type NodeClientsOrphanedListener,
} from './cluster/mesh-client.service';
export type { MeshHealth, MeshHealthStatus } from './cluster/node-health';

// Recoverable channels and rooms
export type { ExposeChannelOptions } from './channels/channel-manager';
export type { ExposeRoomOptions } from './rooms/room-manager';
export type { RecoverOptions, StreamPosition } from './recovery/recover-options';

// Records and collections (docs/records.md)
export type { RecordGuard } from './mesh-server';
export type { WriteRecordOptions, RecordOperation, RecordOperationResult, RecordSnapshot } from './records/record-manager';
export type { RecordWriteStrategy } from './records/record-value';
export type { RecordMode } from './records/record-subscriptions';
export type { CollectionResolver, ExposeCollectionOptions } from './collections/collection-exposures';
// Presence of tracked rooms
export type { TrackPresenceOptions, PresenceGuard } from './presence/presence-options';
export type { RoomPresence, PresentMember, PresenceTicket, PublishPresenceStateOptions } from './presence/presence-manager';
export type { PresenceEvent } from './presence/presence-event';

// The client registry, for direct use and custom backends
export type { RegisteredClient, RegisterResult } from './registry/registered-client';
export type { MeshClientRegistryBackend } from './registry/mesh-client-registry-backend';
export { MeshClientRegistry } from './registry/mesh-client-registry';
export { MeshClientRedisRegistry } from './registry/mesh-client-redis-registry';
export { MeshClientMemoryRegistry } from './registry/mesh-client-memory-registry';
export { parseClusterNodes, type MeshRedisOption, type MeshRedisClusterOption } from './state/redis/redis-option';

// Connect-time authentication
export { MeshSessionTokens, sessionTokenOf, type MeshSessionTokensOptions, type MeshSessionClaims } from './auth/session-tokens';

// Errors: one family, rooted at MeshError
export {
  MeshError,
  MeshForbiddenError,
  MeshValidationError,
  MeshLimitError,
  MeshConfigurationError,
  ClientNotFoundError,
  ClientDisconnectedError,
  ClientInvocationError,
  MeshRequestTimeoutError,
  MeshNodeUnreachableError,
  MeshNoHandlerError,
} from './errors';

// The wire protocol's names (docs/protocol.md)
export { ErrorCode, CloseCode, isErrorPayload, type ErrorPayload, type MetadataStrategy } from './protocol';
