import type { IncomingMessage } from 'node:http';
import type { Redis, RedisOptions } from 'ioredis';
import type { Connection } from '../connection/connection';
import type { MeshClientRegistryBackend } from '../registry/mesh-client-registry-backend';

/** What `authenticateConnection` may return: the connection's initial metadata, or a refusal. */
export type AuthenticationResult = Record<string, unknown> | null | undefined | false;

/**
 * Runs at the HTTP upgrade, before any WebSocket frame. Return the connection's initial
 * metadata to accept it; return `null`/`undefined`/`false` to refuse with 401; throw to refuse
 * with the error's `status` (a Nest `HttpException`'s status, or a numeric `status`/`code`
 * property; 401 otherwise) and its message.
 */
export type AuthenticateConnection = (request: IncomingMessage) => AuthenticationResult | Promise<AuthenticationResult>;

/** A per-connection limit on inbound frames (token bucket). */
export interface MeshRateLimitOptions {
  /** Frames allowed per window. */
  limit: number;
  /** Window length in ms. */
  windowMs: number;
}

export interface MeshModuleOptions {
  /**
   * URL path of the WebSocket endpoint on the Nest app's own HTTP server.
   * @default '/mesh'
   */
  path?: string;
  /**
   * Serve the endpoint on its own HTTP server on this port instead of the app's server
   * (0 picks a free port; read it from `MeshServer.address()`).
   */
  port?: number;
  /** Host to bind the standalone server to (with `port`). @default '0.0.0.0' */
  host?: string;
  /**
   * Redis to share state through: a URL, ioredis options, or an ioredis client (which is
   * duplicated for subscriptions and left open at shutdown). Required for more than one node.
   */
  redis?: string | RedisOptions | Redis;
  /** Prefix of every Redis key and internal channel this module uses. @default 'mesh:' */
  keyPrefix?: string;
  /** Prefix of the built-in commands (`<prefix>/assign-id`...); `rt` for `@prsm/realtime` clients. @default 'mesh' */
  prefix?: string;
  /** Milliseconds between `ping` pushes. @default 30000 */
  pingInterval?: number;
  /** Milliseconds between `latency` / `latency:request` pushes. @default 5000 */
  latencyInterval?: number;
  /** Consecutive unanswered pings tolerated before the connection is closed. @default 1 */
  maxMissedPongs?: number;
  /**
   * Largest accepted text frame in bytes. A larger frame gets an `ETOOLARGE` reply and the
   * connection stays open; one over four times this is not buffered at all: the socket is
   * closed with 1009.
   * @default 1048576 (1 MiB)
   */
  maxPayload?: number;
  /** Per-connection inbound rate limit; frames over it get `ERATELIMIT`. Off by default. */
  rateLimit?: MeshRateLimitOptions;
  /**
   * Bytes a connection may have queued unsent before it is closed as a slow consumer (1008).
   * @default 16777216 (16 MiB)
   */
  maxBufferedAmount?: number;
  /**
   * At shutdown, how long in ms to wait for commands already accepted to be answered before the
   * sockets are closed with 1001 ("going away": reconnect, possibly elsewhere).
   * @default 5000
   */
  drainTimeout?: number;
  /**
   * Milliseconds between this node's heartbeats in Redis (and leader checks for dead nodes).
   * @default 2000
   */
  nodeHeartbeatInterval?: number;
  /**
   * A node whose heartbeat is older than this many ms is dead: the leader removes its
   * connections, rooms and metadata. Crashed nodes are cleaned up within about
   * `nodeTtl + nodeHeartbeatInterval`. Must be larger than `nodeHeartbeatInterval`.
   * @default 10000
   */
  nodeTtl?: number;
  /**
   * The id a connection registers under in the client registry (`MeshClientService`). A client
   * that connects again under the same id supersedes its older connection, on any node.
   * @default the connection id
   */
  resolveClientId?: (connection: Connection, request: IncomingMessage) => string | Promise<string>;
  /** Where the client registry lives. @default Redis with a `redis` option, else in-process */
  registryBackend?: MeshClientRegistryBackend<any>;
  /**
   * Custom delivery for `MeshClientService.invoke` to clients on this node, instead of the wire
   * protocol's `<prefix>/invoke`. Throw `ClientDisconnectedError` when the client is not here: a
   * caller on another node then reads the registry again and tries the client's new node once.
   */
  clientInvokeFn?: (clientId: string, type: string, data: unknown, timeoutMs: number) => Promise<unknown>;
  /** Default `MeshClientService.invoke` timeout in ms. @default 10000 */
  invokeTimeout?: number;
  /**
   * How many client → node routes `MeshClientService.invoke` remembers, so that repeated invokes
   * of a remote client skip the registry read. A route is only a hint: the node it names checks
   * that the client is still connected there, and if it is not (the client moved, or that node
   * is gone) the caller reads the registry and tries once more. 0 reads the registry every time.
   * @default 10000
   */
  clientRouteCacheSize?: number;
  /** Connect-time authentication; see {@link AuthenticateConnection}. */
  authenticateConnection?: AuthenticateConnection;
  /**
   * Let clients set their own metadata with `<prefix>/set-my-connection-metadata`.
   * @default false
   */
  allowClientMetadataWrites?: boolean;
  /**
   * Let clients read other connections' metadata with `<prefix>/get-connection-metadata`.
   * @default false
   */
  allowClientMetadataReads?: boolean;
  /**
   * Send the messages of unexpected runtime errors (TypeError, ReferenceError, ...) to clients.
   * Off: they are logged and answered as "Internal server error".
   * @default false
   */
  exposeInternalErrors?: boolean;
}

/** Options after defaults are applied. */
export interface ResolvedMeshOptions
  extends Required<
    Pick<
      MeshModuleOptions,
      | 'path'
      | 'keyPrefix'
      | 'prefix'
      | 'pingInterval'
      | 'latencyInterval'
      | 'maxMissedPongs'
      | 'maxPayload'
      | 'maxBufferedAmount'
      | 'allowClientMetadataWrites'
      | 'allowClientMetadataReads'
      | 'exposeInternalErrors'
      | 'host'
      | 'drainTimeout'
      | 'nodeHeartbeatInterval'
      | 'nodeTtl'
      | 'invokeTimeout'
      | 'clientRouteCacheSize'
    >
  > {
  port?: number;
  redis?: MeshModuleOptions['redis'];
  rateLimit?: MeshRateLimitOptions;
  authenticateConnection?: AuthenticateConnection;
  resolveClientId?: MeshModuleOptions['resolveClientId'];
  registryBackend?: MeshModuleOptions['registryBackend'];
  clientInvokeFn?: MeshModuleOptions['clientInvokeFn'];
}

export const MESH_OPTION_DEFAULTS = {
  path: '/mesh',
  host: '0.0.0.0',
  keyPrefix: 'mesh:',
  prefix: 'mesh',
  pingInterval: 30_000,
  latencyInterval: 5_000,
  maxMissedPongs: 1,
  maxPayload: 1024 * 1024,
  maxBufferedAmount: 16 * 1024 * 1024,
  allowClientMetadataWrites: false,
  allowClientMetadataReads: false,
  exposeInternalErrors: false,
  drainTimeout: 5_000,
  nodeHeartbeatInterval: 2_000,
  nodeTtl: 10_000,
  invokeTimeout: 10_000,
  clientRouteCacheSize: 10_000,
} as const;
