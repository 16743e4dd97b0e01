import type { IncomingMessage } from 'node:http';
import type { MeshRedisOption } from '../state/redis/redis-option';
import type { Connection } from '../connection/connection';
import type { UpgradeRequest } from '../connection/upgrade-request';
import type { MeshClientRegistryBackend } from '../registry/mesh-client-registry-backend';

/** What `authenticateConnection` may return: the connection's initial metadata, `true` (accept with none), or a refusal. */
export type AuthenticationResult = Record<string, unknown> | true | null | undefined | false;

/**
 * Runs at the HTTP upgrade, before any WebSocket frame. Return the connection's initial
 * metadata to accept it (or `true` to accept it without metadata, e.g. an anonymous visitor);
 * return `null`/`undefined`/`false` to refuse with 401; throw to refuse with the error's
 * `status` (a Nest `HttpException`'s status, or a numeric `status`/`code` property; 401
 * otherwise) and its message.
 */
export type AuthenticateConnection = (request: IncomingMessage) => AuthenticationResult | Promise<AuthenticationResult>;

/**
 * A per-connection limit on inbound frames, as a token bucket: `limit` frames at once, refilled at
 * `limit` per `windowMs`. Every frame counts (heartbeat answers, invoke results, binary and
 * malformed frames too). A frame over the limit gets `ERATELIMIT`; a connection that keeps sending
 * while over it (another `limit` frames) is closed with 1008.
 */
export interface MeshRateLimitOptions {
  /** Frames allowed per window (and the largest burst). */
  limit: number;
  /** Window length in ms. */
  windowMs: number;
}

/**
 * Which browser pages may open a connection, by their `Origin` header: exact origins
 * (`'https://app.example.com'`, `'null'` for sandboxed or `file://` pages), RegExps, a list of
 * them, `'*'` for any, or a function (return true to accept). Requests without an `Origin` header
 * (not from a browser) are accepted unless a function says otherwise.
 */
export type AllowedOrigins = string | RegExp | ReadonlyArray<string | RegExp> | ((origin: string | undefined, request: IncomingMessage) => boolean | Promise<boolean>);

/**
 * What other clients may see of a connection's metadata (in `<prefix>/join-room`'s `present` list
 * and through `<prefix>/get-connection-metadata`). Return a value safe to show, or undefined for
 * nothing.
 */
export type VisibleMetadata = (metadata: unknown, connectionId: string) => unknown;

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
   * Redis to share state through. Required for more than one node. One of: a URL; ioredis
   * options (Sentinel too: `{ sentinels: [{ host, port }], name: 'mymaster' }`); an ioredis
   * client or `Cluster` (borrowed: duplicated for subscriptions and left open at shutdown); or
   * Redis Cluster nodes, `{ cluster: [{ host, port }, ...], options? }`. On a cluster every
   * internal channel and user channel is a sharded one (Redis 7+). See docs/scaling.md.
   */
  redis?: MeshRedisOption;
  /**
   * Prefix of every Redis key and internal channel this module uses; must not be empty. Channel
   * names starting with it are internal: clients cannot subscribe to them and `publish` refuses them.
   * @default 'mesh:'
   */
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
  /**
   * Deepest nesting of objects and arrays accepted in a frame (the frame object is level 1).
   * Deeper frames get `EBADFRAME`.
   * @default 64
   */
  maxPayloadDepth?: number;
  /**
   * Per-connection inbound rate limit (see {@link MeshRateLimitOptions}); `false` turns it off.
   * @default { limit: 10000, windowMs: 1000 }
   */
  rateLimit?: MeshRateLimitOptions | false;
  /**
   * Requests one connection may have accepted and not yet answered; more get `ELIMIT`.
   * @default 256
   */
  maxInFlight?: number;
  /**
   * Bytes a connection may have queued unsent. A write that leaves more queued drops the
   * connection as a slow consumer (terminated at once: a close frame would wait behind the
   * backlog). A reply larger than this is answered with `ETOOLARGE` instead.
   * @default 4194304 (4 MiB)
   */
  maxBufferedAmount?: number;
  /** Channels one connection may subscribe to with `<prefix>/subscribe-channel`; more get `ELIMIT`. @default 128 */
  maxChannelsPerConnection?: number;
  /**
   * Rooms one connection may be in at once; joining more fails with `ELIMIT` (from
   * `<prefix>/join-room`, and from `MeshServer.addToRoom` as a thrown `MeshError`).
   * @default 128
   */
  maxRoomsPerConnection?: number;
  /** Longest command, channel or room name accepted from a client; longer ones are refused. @default 256 */
  maxNameLength?: number;
  /** Most history messages one `subscribe-channel` or `get-channel-history` returns. @default 100 */
  maxHistoryLimit?: number;
  /**
   * Default lifetime in ms of a channel's history after its last `publish` with `history`
   * (0: kept until trimmed). Set it when clients can make the server publish to names of their
   * choosing, so that their history keys do not accumulate. `publish(..., { historyTtl })` overrides it.
   * @default 0
   */
  historyTtl?: number;
  /**
   * Browser origins allowed to connect (see {@link AllowedOrigins}); others are refused with 403
   * at the upgrade. Unset: only pages served from the same host as the endpoint (the `Origin`'s
   * host equals the `Host` header), which stops cross-site WebSocket hijacking.
   */
  allowedOrigins?: AllowedOrigins;
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
   * that connects again under the same id supersedes its older connection, on any node, and
   * receives its invokes: derive it from an authenticated identity (`authentication` is what
   * `authenticateConnection` returned), never from something the client merely claims.
   * `request` is `connection.request`: the upgrade request as the connection keeps it ({@link UpgradeRequest}).
   * @default the connection id
   */
  resolveClientId?: (connection: Connection, request: UpgradeRequest, authentication: Record<string, unknown> | undefined) => string | Promise<string>;
  /** Where the client registry lives. @default Redis with a `redis` option, else in-process */
  registryBackend?: MeshClientRegistryBackend<any>;
  /**
   * Custom delivery for `MeshClientService.invoke` to clients on this node, instead of the wire
   * protocol's `<prefix>/invoke`. Throw `ClientDisconnectedError` when the client is not here: a
   * caller on another node then reads the registry again and tries the client's new node once.
   * An invoke with an idempotency key (`invoke(..., { retry: true })`) passes it as a fifth
   * argument, `{ idempotencyKey }`: a retried invoke carries the same one.
   */
  clientInvokeFn?: (clientId: string, type: string, data: unknown, timeoutMs: number, options?: { idempotencyKey: string }) => Promise<unknown>;
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
  /**
   * How long in ms the reply of an idempotent command (`@MeshCommand(name, { idempotent: true })`)
   * is kept for retries that carry the same key; a command's own `idempotent: { ttl }` overrides
   * it. See docs/guarantees.md.
   * @default 300000 (5 minutes)
   */
  idempotencyTtl?: number;
  /**
   * The lease in ms of an idempotent command's first run while it is still going, renewed every
   * third of it until the handler returns: a node that crashed mid-run frees the key after at
   * most this long, and a retry may then run the command.
   * @default 10000
   */
  idempotencyLease?: number;
  /** How long in ms a retry waits for a first run that is still going before it answers `EINPROGRESS`. @default 20000 */
  idempotencyWaitTimeout?: number;
  /**
   * Largest reply of an idempotent command (bytes of JSON) kept for its retries. A larger reply is
   * still sent, but not kept: retries of it get `EIDEMPOTENCY` and the command does not run again.
   * @default 16384
   */
  maxIdempotentResultBytes?: number;
  /** Requests with an idempotency key one connection may send per `idempotencyTtl`; more get `ELIMIT`. @default 1000 */
  maxIdempotencyKeysPerConnection?: number;
  /** Connect-time authentication; see {@link AuthenticateConnection}. */
  authenticateConnection?: AuthenticateConnection;
  /**
   * Let clients set their own metadata with `<prefix>/set-my-connection-metadata`.
   * @default false
   */
  allowClientMetadataWrites?: boolean;
  /**
   * With `allowClientMetadataWrites`, the largest metadata (as JSON) a client may leave after its
   * write; a larger result (say, from repeated merges) is refused with `ELIMIT` and nothing is written.
   * @default 16384
   */
  maxClientMetadataBytes?: number;
  /** Records one connection may subscribe to with `<prefix>/subscribe-record`; more get `ELIMIT`. @default 128 */
  maxRecordsPerConnection?: number;
  /** Collections one connection may subscribe to with `<prefix>/subscribe-collection`; more get `ELIMIT`. @default 32 */
  maxCollectionsPerConnection?: number;
  /**
   * The largest record (as JSON) a client's write may leave, after merging; a larger one is
   * refused with `ELIMIT` and nothing is written. Server-side writes are not limited.
   * @default 65536
   */
  maxRecordBytes?: number;
  /** Most operations in one `<prefix>/transaction` from a client; more are refused with `ETXN`. @default 64 */
  maxTransactionOperations?: number;
  /**
   * Let clients read other connections' whole metadata (`<prefix>/get-connection-metadata`, and
   * the `present` list of `<prefix>/join-room`). Metadata often holds tokens or e-mail
   * addresses; prefer `visibleMetadata`, which chooses what others see.
   * @default false
   */
  allowClientMetadataReads?: boolean;
  /**
   * What other clients may see of a connection's metadata (see {@link VisibleMetadata}). When set,
   * it is what they see, whatever `allowClientMetadataReads` says. Neither set: `present` lists
   * ids only and `<prefix>/get-connection-metadata` is refused.
   */
  visibleMetadata?: VisibleMetadata;
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
      | 'maxPayloadDepth'
      | 'maxInFlight'
      | 'maxBufferedAmount'
      | 'maxChannelsPerConnection'
      | 'maxRoomsPerConnection'
      | 'maxNameLength'
      | 'maxHistoryLimit'
      | 'maxClientMetadataBytes'
      | 'maxRecordsPerConnection'
      | 'maxCollectionsPerConnection'
      | 'maxRecordBytes'
      | 'maxTransactionOperations'
      | 'historyTtl'
      | 'allowClientMetadataWrites'
      | 'allowClientMetadataReads'
      | 'exposeInternalErrors'
      | 'host'
      | 'drainTimeout'
      | 'nodeHeartbeatInterval'
      | 'nodeTtl'
      | 'invokeTimeout'
      | 'clientRouteCacheSize'
      | 'idempotencyTtl'
      | 'idempotencyLease'
      | 'idempotencyWaitTimeout'
      | 'maxIdempotentResultBytes'
      | 'maxIdempotencyKeysPerConnection'
    >
  > {
  port?: number;
  redis?: MeshModuleOptions['redis'];
  /** false when turned off. */
  rateLimit: MeshRateLimitOptions | false;
  allowedOrigins?: AllowedOrigins;
  visibleMetadata?: VisibleMetadata;
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
  maxPayloadDepth: 64,
  rateLimit: { limit: 10000, windowMs: 1000 },
  maxInFlight: 256,
  maxBufferedAmount: 4 * 1024 * 1024,
  maxChannelsPerConnection: 128,
  maxRoomsPerConnection: 128,
  maxNameLength: 256,
  maxHistoryLimit: 100,
  maxClientMetadataBytes: 16 * 1024,
  maxRecordsPerConnection: 128,
  maxCollectionsPerConnection: 32,
  maxRecordBytes: 64 * 1024,
  maxTransactionOperations: 64,
  historyTtl: 0,
  allowClientMetadataWrites: false,
  allowClientMetadataReads: false,
  exposeInternalErrors: false,
  drainTimeout: 5_000,
  nodeHeartbeatInterval: 2_000,
  nodeTtl: 10_000,
  invokeTimeout: 10_000,
  clientRouteCacheSize: 10_000,
  idempotencyTtl: 300_000,
  idempotencyLease: 10_000,
  idempotencyWaitTimeout: 20_000,
  maxIdempotentResultBytes: 16 * 1024,
  maxIdempotencyKeysPerConnection: 1000,
} as const;
