import type { ErrorPayload, Frame, MetadataStrategy } from '../lib/protocol';
import type { MeshClientError, MeshConnectionError } from './errors';

/** Connection status of a `MeshClient`. */
export const MeshClientStatus = {
  /** Not connected and not trying to (before `connect()`, after `close()` or a failed reconnect). */
  OFFLINE: 'offline',
  /** First connection under way: `connect()` is pending. */
  CONNECTING: 'connecting',
  /** Connected, and the server has assigned a connection id. */
  ONLINE: 'online',
  /** The connection dropped; the client is waiting for or running a reconnect attempt. */
  RECONNECTING: 'reconnecting',
} as const;

export type MeshClientStatus = (typeof MeshClientStatus)[keyof typeof MeshClientStatus];

/**
 * Describes a server's commands for type inference: `{ echo: { payload: string; result: string } }`.
 * Declare it with `type`, not `interface`, so it satisfies the index signature.
 */
export type CommandMap = Record<string, { payload: unknown; result: unknown }>;

/** The command names a map allows (`string` when the client is untyped). */
export type CommandName<T extends CommandMap> = keyof T & string;
export type CommandPayload<T extends CommandMap, K extends CommandName<T>> = T[K]['payload'];
export type CommandResult<T extends CommandMap, K extends CommandName<T>> = T[K]['result'];

/** Per-call options of `command()` and `commandSync()`. */
export interface CommandOptions {
  /** Reject (or throw) with `MeshTimeoutError` when no reply arrives in time. Default: the client's `commandTimeoutMs`. */
  timeoutMs?: number;
  /**
   * When true, an error payload `{ error, code, name }` from the server rejects with a
   * `MeshCommandError` instead of resolving. Default false (the Mesh protocol resolves it).
   */
  throwOnError?: boolean;
  /**
   * Send the command with a new random idempotency key, and when the connection drops before the
   * reply, send it again with the same key once reconnected (to any node) instead of rejecting
   * with `MeshConnectionLostError`; `timeoutMs` still counts from the call. Only for commands the
   * server marks idempotent (others answer `EIDEMPOTENCY`): it runs them once per key. Default false.
   */
  retry?: boolean;
  /**
   * The idempotency key to send (1 to 128 visible ASCII characters); implies `retry`. Use it to
   * make retries of your own (a new call after a timeout, a reload) run the command once too. On a
   * server that gives connections no client id of their own it is a bearer secret: at least 16
   * characters, and unguessable.
   */
  idempotencyKey?: string;
}

/** `CommandOptions` that make error payloads throw, so the result type excludes `ErrorPayload`. */
export type ThrowingCommandOptions = CommandOptions & { throwOnError: true };

/** The subset of the WHATWG `WebSocket` the client uses (browsers, Node 22+, and `ws` all fit). */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: any) => void) | null;
  onmessage: ((event: { data: any }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: any) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** A `WebSocket` constructor: the global one, `ws`'s, or any compatible class. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[], options?: any) => WebSocketLike;

/** Options of `new MeshClient(url, options)`. */
export interface MeshClientOptions {
  /** Prefix of the server's built-in commands (`mesh/assign-id`, ...). Default `'mesh'`; `'rt'` for `@prsm/realtime` servers. */
  prefix?: string;
  /** Length in ms of one heartbeat window: a window with no `ping` from the server counts as missed. Default 30000. */
  pingTimeout?: number;
  /** The client reconnects after more than this many consecutive missed ping windows. Default 1. */
  maxMissedPings?: number;
  /** Reconnect after an unexpected close or missed pings. Default true. */
  shouldReconnect?: boolean;
  /**
   * Base reconnect delay in ms. Default 2000. Attempt `n` (0-based) waits
   * `random(0, min(maxReconnectInterval, reconnectInterval * 2 ** n))` ms (exponential backoff,
   * full jitter). After a close with code 1001 or 1012 (server going away or restarting) the
   * first attempt starts at once.
   */
  reconnectInterval?: number;
  /** Cap of the reconnect delay in ms. Default 30000. */
  maxReconnectInterval?: number;
  /** Give up after this many failed reconnect attempts in a row (status `offline`, event `reconnectfailed`). Default Infinity. */
  maxReconnectAttempts?: number;
  /**
   * Keep trying the first `connect()` when the server cannot be reached yet (or answers 5xx while
   * it starts), with the reconnect backoff and `maxReconnectAttempts`; `connect()` resolves once
   * one attempt succeeds, and each failed attempt is an `error` event. A 4xx refusal (401, 403,
   * 404) is never retried. Off by default: `connect()` then rejects at the first failure.
   */
  retryFirstConnect?: boolean;
  /** Default timeout of a command in ms, from the call (so it also bounds the wait while offline). Default 30000. */
  commandTimeoutMs?: number;
  /**
   * How many answered server invokes with an idempotency key the client remembers, to answer a
   * repeat of one (the server re-sends an invoke after a reconnect) without running its handler
   * again. Default 1000.
   */
  invokeMemorySize?: number;
  /** How long in ms an answered invoke is remembered (see `invokeMemorySize`). Default 300000. */
  invokeMemoryMs?: number;
  /**
   * Node only. Start with the socket in a `worker_threads` Worker, where `commandSync()` can block
   * on it. Without it the socket lives on the calling thread (cheaper per message: about a third
   * of the CPU per command, see bench/) and moves to a worker on the first `commandSync()`, which
   * then reconnects in place. Default false.
   */
  syncCommands?: boolean;
  /**
   * The `WebSocket` class to use. Default: the `ws` package in Node, `globalThis.WebSocket` in
   * browsers. Not supported with `syncCommands` (nor by `commandSync`, which cannot move it).
   */
  WebSocket?: WebSocketConstructor;
  /** WebSocket subprotocols to offer. */
  protocols?: string | string[];
  /** Node only (uses `ws`): HTTP headers of the upgrade request, e.g. `{ authorization: 'Bearer ...' }` for connect-time auth. */
  headers?: Record<string, string>;
}

/** `MeshClientOptions` with every default applied. */
export type ResolvedMeshClientOptions = Required<Omit<MeshClientOptions, 'WebSocket' | 'protocols' | 'headers'>> &
  Pick<MeshClientOptions, 'WebSocket' | 'protocols' | 'headers'>;

/** Details of the built-in events. Any other event name is a server push: its detail is the push payload. */
export interface MeshClientEventMap {
  /** The server assigned a connection id (first connect and every reconnect). */
  connect: { connectionId: string };
  /** An online connection dropped. */
  disconnect: { code: number; reason: string };
  /** A reconnect succeeded: channels were re-subscribed and rooms re-joined. */
  reconnect: { connectionId: string };
  /** Reconnecting gave up after `maxReconnectAttempts`. */
  reconnectfailed: { attempts: number };
  /** The client went offline and will not reconnect by itself. */
  close: { code: number; reason: string };
  /** After a reconnect: what a recoverable channel or room got back of what was missed. */
  'subscription-recovered': SubscriptionRecoveredEvent;
  /** A connection attempt failed, or re-subscribing after a reconnect failed. */
  error: MeshConnectionError | MeshClientError;
  /** The server sent a heartbeat `ping`. */
  ping: unknown;
  /** The server reported the last measured round trip. */
  latency: { latency: number };
  /** Every inbound frame. */
  message: Frame;
}

/** Reply of `subscribe()` and `getChannelHistory()`: history is newest first. */
export interface ChannelHistoryResult {
  success: boolean;
  history: string[];
  /** Recoverable channels (`exposeChannel(..., { recover })`): the stream's epoch and offset when subscribed. */
  epoch?: string;
  offset?: number;
  /** After a reconnect, on a recoverable channel: whether everything missed was delivered, and how many messages. */
  recovered?: boolean;
  missed?: number;
}

/** Reply of `joinRoom()`. */
export interface JoinRoomResult {
  success: boolean;
  /** Who is in the room; `metadata` only as far as the server shows other members' metadata. */
  present?: Array<{ id: string; metadata?: unknown }>;
  /** Recoverable rooms (`exposeRoom(..., { recover })`): the room stream's epoch and offset when joined. */
  epoch?: string;
  offset?: number;
  /** After a reconnect, in a recoverable room: whether every broadcast missed was delivered, and how many. */
  recovered?: boolean;
  missed?: number;
  /**
   * A room whose presence the server tracks: this member's presence identity, and the secret that
   * lets this client take it over after a reconnect (sent back by the client itself; keep it private).
   */
  presence?: PresenceTicket;
}

/** A member's presence identity in a tracked room (see `JoinRoomResult.presence`). */
export interface PresenceTicket {
  /** The id others see in presence: this connection's id, or the one it had before a reconnect. */
  id: string;
  secret?: string;
  /** After a reconnect: the client took its earlier presence over (nobody saw it leave; its state was kept). */
  resumed?: boolean;
}

/** A member of a tracked room: its id, and its metadata as far as the server shows it. */
export interface PresenceMember {
  id: string;
  metadata?: unknown;
}

/** What a presence callback receives (`subscribePresence`). */
export type PresenceUpdate =
  | { type: 'join' | 'leave'; connectionId: string; roomName: string; timestamp: number }
  /** A member's state; `null` when it was cleared or expired. */
  | { type: 'state'; connectionId: string; roomName: string; state: unknown; timestamp: number }
  /** After a reconnect: the room's presence as the renewed subscription found it (replace what you had). */
  | { type: 'snapshot'; roomName: string; present: PresenceMember[]; states: Record<string, unknown> };

export type PresenceCallback = (update: PresenceUpdate) => void;

/** Reply of `subscribePresence()`: who is present and their states (keyed by presence id). */
export interface PresenceSnapshot {
  success: boolean;
  present: PresenceMember[];
  states: Record<string, unknown>;
}

/** Reply of `getPresenceState()`: ids only. */
export interface PresenceStateSnapshot {
  success: boolean;
  present: string[];
  states: Record<string, unknown>;
}

/** What `publishPresenceState()` takes. */
export interface PresenceStateOptions {
  /** Any JSON value but a falsy one (the server refuses those). */
  state: unknown;
  /** Dropped after this many ms (subscribers get `state: null`). */
  expireAfter?: number;
  /** Stored without telling subscribers. */
  silent?: boolean;
}

/**
 * `subscription-recovered`: a recoverable channel or room after a reconnect. `recovered: false`
 * means messages may have been missed (the window was exceeded or the stream's history was lost):
 * resync from your own source of truth. Also emitted, with `recovered: false`, when a live
 * message shows the stream's history was lost while the client stayed connected.
 */
export type SubscriptionRecoveredEvent = ({ channel: string; room?: undefined } | { room: string; channel?: undefined }) & { recovered: boolean; missed: number };

/** A handler for server-to-client invokes (`client.handle`). */
export type InvokeHandler<TData = any, TResult = unknown> = (data: TData) => TResult | Promise<TResult>;

export type { ErrorPayload, Frame, MetadataStrategy };
