/** The Mesh client for browsers and Node: `import { MeshClient } from 'nestjs-mesh/client'`. */
export { MeshClient } from './mesh-client';
export {
  MeshClientStatus,
  type CommandMap,
  type CommandName,
  type CommandPayload,
  type CommandResult,
  type CommandOptions,
  type ThrowingCommandOptions,
  type MeshClientOptions,
  type ResolvedMeshClientOptions,
  type MeshClientEventMap,
  type ChannelHistoryResult,
  type JoinRoomResult,
  type PresenceTicket,
  type PresenceMember,
  type PresenceUpdate,
  type PresenceCallback,
  type PresenceSnapshot,
  type PresenceStateSnapshot,
  type PresenceStateOptions,
  type SubscriptionRecoveredEvent,
  type MetadataStrategy,
  type InvokeHandler,
  type WebSocketLike,
  type WebSocketConstructor,
  type ErrorPayload,
  type Frame,
} from './types';
export type { MeshEvent, MeshEventListener } from './events';
export type { ChannelCallback } from './channel-subscriptions';
export type {
  RecordMode,
  RecordUpdate,
  RecordCallback,
  RecordSubscribeResult,
  CollectionMember,
  CollectionDiff,
  CollectionSubscribeResult,
  RecordOperation,
  TransactionResult,
} from './live-records';
export {
  MeshClientError,
  MeshClientErrorCode,
  MeshTimeoutError,
  MeshConnectionError,
  MeshConnectionLostError,
  MeshClosedError,
  MeshCommandError,
  MeshUnsupportedError,
  MeshListenerError,
  MeshResubscribeError,
} from './errors';
export { reconnectDelay, type BackoffSettings } from './backoff';
export { ErrorCode, isErrorPayload } from '../lib/protocol';
