import {
  builtinCommandNames,
  CloseCode,
  decodeFrame,
  DEFAULT_PREFIX,
  encodeFrame,
  HeartbeatCommand,
  isErrorPayload,
  isIdempotencyKey,
  type BuiltinCommandNames,
  type ErrorPayload,
  type Frame,
} from '../lib/protocol';
import { reconnectDelay } from './backoff';
import { ChannelSubscriptions, type ChannelCallback } from './channel-subscriptions';
import { CommandTracker } from './command-tracker';
import {
  MeshClosedError,
  MeshCommandError,
  MeshConnectionError,
  MeshConnectionLostError,
  MeshListenerError,
  MeshResubscribeError,
  MeshTimeoutError,
  MeshUnsupportedError,
  type MeshClientError,
} from './errors';
import { MeshEventEmitter, type MeshEventListener } from './events';
import { idempotencyKeyOf } from './idempotency-key';
import { IdAllocator } from './ids';
import {
  LiveRecords,
  type CollectionDiff,
  type CollectionSubscribeResult,
  type RecordCallback,
  type RecordMode,
  type RecordOperation,
  type RecordSubscribeResult,
  type TransactionResult,
} from './live-records';
import { InvokeHandlers } from './invoke-handlers';
import { PingWatchdog } from './ping-watchdog';
import { PresenceSubscriptions } from './presence-subscriptions';
import { isOffset, readPosition, StreamPositions } from './stream-positions';
import { nodeRuntime } from './transport/node-runtime';
import type { Transport, TransportCloseInfo, TransportConnection, TransportHandlers } from './transport/transport';
import { resolveWebSocket, WebSocketTransport } from './transport/websocket-transport';
import {
  MeshClientStatus,
  type ChannelHistoryResult,
  type CommandMap,
  type CommandName,
  type CommandOptions,
  type CommandPayload,
  type CommandResult,
  type InvokeHandler,
  type JoinRoomResult,
  type MeshClientEventMap,
  type MeshClientOptions,
  type PresenceCallback,
  type PresenceSnapshot,
  type PresenceStateOptions,
  type PresenceStateSnapshot,
  type PresenceUpdate,
  type SubscriptionRecoveredEvent,
  type MetadataStrategy,
  type ResolvedMeshClientOptions,
  type ThrowingCommandOptions,
} from './types';

const DEFAULTS: ResolvedMeshClientOptions = {
  prefix: DEFAULT_PREFIX,
  pingTimeout: 30000,
  maxMissedPings: 1,
  shouldReconnect: true,
  reconnectInterval: 2000,
  maxReconnectInterval: 30000,
  maxReconnectAttempts: Infinity,
  commandTimeoutMs: 30000,
  invokeMemorySize: 1000,
  invokeMemoryMs: 300_000,
  syncCommands: false,
  retryFirstConnect: false,
};

/** Close codes after which the server expects the client to reconnect (elsewhere) at once. */
const PROMPT_RECONNECT_CODES = new Set<number>([CloseCode.GOING_AWAY, CloseCode.SERVICE_RESTART]);
/** How long `close()` waits for the close handshake before dropping the socket. */
const CLOSE_GRACE_MS = 1000;

/**
 * A client of a Mesh server, for browsers and Node.
 *
 * ```ts
 * const client = new MeshClient<{ echo: { payload: string; result: string } }>('ws://localhost:3000/mesh');
 * await client.connect();
 * const reply = await client.command('echo', 'hi', { throwOnError: true });
 * client.on('user-joined', (e) => console.log(e.detail.id));
 * ```
 *
 * `command()` resolves with the server's reply payload, including error payloads
 * `{ error, code, name }` (the Mesh protocol's convention); pass `{ throwOnError: true }` to get a
 * `MeshCommandError` instead. The built-in helpers (`subscribe`, `joinRoom`, ...) always throw it.
 */
export class MeshClient<TCommands extends CommandMap = any> {
  readonly options: Readonly<ResolvedMeshClientOptions>;
  private readonly names: BuiltinCommandNames;
  private readonly events = new MeshEventEmitter((event, error) => this.reportListenerError(event, error));
  private readonly ids = new IdAllocator();
  private readonly commands = new CommandTracker();
  private readonly channels = new ChannelSubscriptions((channel, error) => this.reportListenerError(`channel:${channel}`, error));
  private readonly rooms = new Set<string>();
  // Presence, positions, live records and invoke handlers are made when first used: most clients
  // use few of them, and a process with thousands of clients (a load test, a bot fleet) keeps
  // every empty one of each and copies it through every young-generation collection.
  private presenceState?: PresenceSubscriptions;
  private positionsState?: StreamPositions;
  private liveState?: LiveRecords;
  private invokeHandlersState?: InvokeHandlers;
  /** The id of the connection before the current one: a recoverable room does not replay what excluded it. */
  private previousConnectionId?: string;
  private transport?: Transport;
  private connection: TransportConnection | null = null;
  private socketOpened = false;
  private currentStatus: MeshClientStatus = MeshClientStatus.OFFLINE;
  private currentConnectionId?: string;
  private connectPromise: Promise<void> | null = null;
  private connectWaiter: { resolve(): void; reject(err: Error): void } | null = null;
  private closedByUser = false;
  private reconnectAttempts = 0;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  private readonly watchdog: PingWatchdog;

  constructor(
    readonly url: string,
    options: MeshClientOptions = {},
  ) {
    const defined = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
    this.options = { ...DEFAULTS, ...defined };
    this.names = builtinCommandNames(this.options.prefix);
    this.watchdog = new PingWatchdog(this.options.pingTimeout, this.options.maxMissedPings, () => this.dropConnection('No ping from the server'));
    if (this.options.syncCommands && !nodeRuntime) {
      throw new MeshUnsupportedError('syncCommands needs Node.js (a worker thread holds the socket); in a browser use `await client.command(...)`');
    }
    if (this.options.syncCommands && this.options.WebSocket) {
      throw new MeshUnsupportedError('The WebSocket option cannot be combined with syncCommands (the socket lives in a worker thread)');
    }
  }

  private get presence(): PresenceSubscriptions {
    return (this.presenceState ??= new PresenceSubscriptions((room, error) => this.reportListenerError(`presence:${room}`, error)));
  }

  /** Last offsets delivered of recoverable channels (`c:<name>`) and rooms (`r:<name>`). */
  private get positions(): StreamPositions {
    return (this.positionsState ??= new StreamPositions());
  }

  private get live(): LiveRecords {
    return (this.liveState ??= new LiveRecords(this.names, {
      request: (command, payload, first) => this.builtin(command, payload, first),
      reportError: (error) => this.events.emit('error', error as MeshClientError),
      reportCallbackError: (target, error) => this.reportListenerError(target, error),
    }));
  }

  private get invokeHandlers(): InvokeHandlers {
    return (this.invokeHandlersState ??= new InvokeHandlers(this.options.invokeMemorySize, this.options.invokeMemoryMs));
  }

  /** Current connection status. */
  get status(): MeshClientStatus {
    return this.currentStatus;
  }

  /** The id the server assigned to the current connection; undefined while not online. */
  get connectionId(): string | undefined {
    return this.currentConnectionId;
  }

  /**
   * Opens the connection. Resolves once the server has assigned a connection id; rejects with
   * `MeshConnectionError` (code `ECONNECTION`, with the HTTP `status` of a refused upgrade in
   * Node) if the socket fails or closes first. The first connection is not retried; later drops
   * are (see `shouldReconnect`). Calls made while connecting (or reconnecting) share one promise.
   */
  connect(): Promise<void> {
    if (this.connectPromise) return this.connectPromise;
    const connected = new Promise<void>((resolve, reject) => (this.connectWaiter = { resolve, reject }));
    this.connectPromise = connected;
    if (this.currentStatus === MeshClientStatus.ONLINE) this.settleConnect();
    if (this.currentStatus === MeshClientStatus.OFFLINE) {
      this.closedByUser = false;
      this.currentStatus = MeshClientStatus.CONNECTING;
      this.openSocket(); // may fail synchronously (bad URL), which settles `connected` already
    }
    return connected;
  }

  /**
   * Sends a command and resolves with the reply payload. Error payloads `{ error, code, name }`
   * resolve too, unless `options.throwOnError` is true (then: `MeshCommandError`). Rejects with
   * `MeshTimeoutError` after `timeoutMs` (default `commandTimeoutMs`) from the call,
   * `MeshConnectionLostError` if the connection drops while the command is in flight (one sent
   * with `retry` or an `idempotencyKey` is sent again after the reconnect instead), and
   * `MeshClosedError` after `close()`. While offline or reconnecting the command waits and is sent
   * once the connection is back; on an offline client that was never closed it starts `connect()`.
   */
  command<K extends CommandName<TCommands>>(
    name: K,
    payload: CommandPayload<TCommands, K>,
    options: ThrowingCommandOptions,
  ): Promise<CommandResult<TCommands, K>>;
  command<K extends CommandName<TCommands>>(
    name: K,
    payload?: CommandPayload<TCommands, K>,
    options?: CommandOptions,
  ): Promise<CommandResult<TCommands, K> | ErrorPayload>;
  command(name: string, payload?: unknown, options: CommandOptions = {}): Promise<unknown> {
    return this.request(name, payload, options);
  }

  /**
   * Node only: sends a command and blocks the calling thread until its reply arrives on the
   * connection that `command()` uses. Returns what `command()` would resolve with; throws
   * `MeshTimeoutError`, `MeshConnectionLostError`, or `MeshCommandError` with `throwOnError`.
   * Needs an online connection (`await client.connect()` first). Events and replies that arrive
   * meanwhile are delivered after it returns; the client cannot answer heartbeats while blocked.
   *
   * Blocking needs the socket in a worker thread. A client constructed with `{ syncCommands: true }`
   * starts there; any other client moves its connection there on its first `commandSync`: a
   * reconnect done in place (the old socket closes, commands in flight on it reject with
   * `MeshConnectionLostError`, a new socket opens in the worker, rooms and channels are renewed
   * before the command runs, `disconnect`/`connect`/`reconnect` are emitted with the new
   * connection id). Until then `command()` pays nothing for it.
   */
  commandSync<K extends CommandName<TCommands>>(
    name: K,
    payload: CommandPayload<TCommands, K>,
    options: ThrowingCommandOptions,
  ): CommandResult<TCommands, K>;
  commandSync<K extends CommandName<TCommands>>(
    name: K,
    payload?: CommandPayload<TCommands, K>,
    options?: CommandOptions,
  ): CommandResult<TCommands, K> | ErrorPayload;
  commandSync(name: string, payload?: unknown, options: CommandOptions = {}): unknown {
    if (!nodeRuntime) {
      throw new MeshUnsupportedError('commandSync is not available in browsers (it would block the page): use `await client.command(...)` instead');
    }
    if (this.closedByUser) throw new MeshClosedError(name);
    if (this.currentStatus !== MeshClientStatus.ONLINE || !this.connection) {
      throw new MeshConnectionError(`commandSync("${name}") needs an online connection: await client.connect() first`);
    }
    const timeoutMs = options.timeoutMs ?? this.options.commandTimeoutMs;
    // Sent with its key (the server runs it once per key), but not re-sent: this call cannot wait for a reconnect.
    const idempotencyKey = idempotencyKeyOf(options);
    if (!this.connection.sendSync) this.moveToWorker(timeoutMs);
    const reply = this.sendSync(name, payload, timeoutMs, idempotencyKey);
    if (reply.kind !== 'reply') throw reply.kind === 'timeout' ? new MeshTimeoutError(name, timeoutMs) : new MeshConnectionLostError(name);
    this.events.emit('message', reply.frame);
    return this.checkResult(name, reply.frame.payload, options);
  }

  /** One blocking round trip on the worker-thread socket. */
  private sendSync(command: string, payload: unknown, timeoutMs: number, idempotencyKey?: string): { kind: 'reply'; frame: Frame } | { kind: 'lost' | 'timeout' } {
    const connection = this.connection;
    if (!connection?.sendSync) return { kind: 'lost' };
    const id = this.nextId();
    const reply = connection.sendSync(encodeFrame(requestFrame(id, command, payload ?? {}, idempotencyKey)), id, timeoutMs);
    if (reply.kind !== 'reply') return reply;
    const decoded = decodeFrame(reply.data, Infinity);
    return decoded.ok ? { kind: 'reply', frame: decoded.frame } : { kind: 'lost' };
  }

  /**
   * Moves the connection into a worker thread, blocking: closes the socket on this thread, opens
   * one in the worker and waits for its `assign-id`, then renews rooms and channels on it. If the
   * new socket cannot be opened, the client goes on reconnecting as after any drop, and this throws.
   */
  private moveToWorker(timeoutMs: number): void {
    if (this.options.WebSocket) {
      throw new MeshUnsupportedError('commandSync cannot move a socket made with the "WebSocket" option into a worker thread: use `await client.command(...)`');
    }
    const previous = this.connection;
    const previousTransport = this.transport;
    this.connection = null;
    this.stopTimers();
    this.commands.failInFlight((command) => new MeshConnectionLostError(command), true);
    void previous?.close(1000, 'Moving to a worker thread').finally(() => previousTransport?.dispose());
    this.events.emit('disconnect', { code: 1000, reason: 'Moving the socket to a worker thread for commandSync' });

    const worker = nodeRuntime!.createWorkerTransport(this.socketOptions);
    this.transport = worker;
    this.currentConnectionId = undefined;
    this.socketOpened = false;
    let connection: TransportConnection | null = null;
    const opened = worker.connectSync(this.url, this.handlersFor(() => connection), this.names.assignId, timeoutMs);
    connection = opened.connection;
    this.connection = connection;
    const assigned = opened.reply.kind === 'reply' ? decodeFrame(opened.reply.data, Infinity) : undefined;
    const connectionId = assigned?.ok && typeof assigned.frame.payload === 'string' ? assigned.frame.payload : undefined;
    if (connectionId === undefined) {
      connection.terminate();
      this.connection = null;
      this.scheduleReconnect(false);
      throw new MeshConnectionError(`commandSync could not reopen the connection in a worker thread (${opened.reply.kind === 'timeout' ? `no id within ${timeoutMs} ms` : 'the socket closed'})`);
    }
    this.currentConnectionId = connectionId;
    this.socketOpened = true;
    this.watchdog.start();
    this.restoreSubscriptionsSync(timeoutMs);
    // Records and collections are renewed through the worker's queue, sent with the commands that waited.
    for (const renewal of this.live.restore()) renewal.catch((error: unknown) => this.events.emit('error', error as MeshClientError));
    this.events.emit('connect', { connectionId });
    this.events.emit('reconnect', { connectionId });
    this.flushQueue(); // commands with a key that were in flight on the old socket
  }

  /** `restoreSubscriptions`, blocking, on the worker-thread socket. */
  private restoreSubscriptionsSync(timeoutMs: number): void {
    const renewals: Array<{ kind: 'room' | 'channel'; name: string; command: string; payload: unknown }> = [
      ...[...this.rooms].map((roomName) => ({ kind: 'room' as const, name: roomName, command: this.names.joinRoom, payload: this.rejoinPayload(roomName) })),
      ...this.channels.entries().map((entry) => ({ kind: 'channel' as const, name: entry.channel, command: this.names.subscribeChannel, payload: this.resubscribePayload(entry) })),
    ];
    // As in `restoreSubscriptions`: only a refusal drops a room or channel; an error reply, a
    // timeout or a lost socket is reported and the client keeps it.
    for (const renewal of renewals) {
      const reply = this.sendSync(renewal.command, renewal.payload, timeoutMs);
      if (reply.kind !== 'reply') {
        this.events.emit('error', reply.kind === 'timeout' ? new MeshTimeoutError(renewal.command, timeoutMs) : new MeshConnectionLostError(renewal.command));
      } else if (isErrorPayload(reply.frame.payload)) {
        this.events.emit('error', new MeshCommandError(renewal.command, reply.frame.payload));
      } else if ((reply.frame.payload as { success?: unknown } | undefined)?.success !== true) {
        if (renewal.kind === 'room') {
          this.rooms.delete(renewal.name);
          this.presence.left(renewal.name);
        } else this.channels.remove(renewal.name);
        this.positions.delete(`${renewal.kind === 'room' ? 'r' : 'c'}:${renewal.name}`);
        this.events.emit('error', new MeshResubscribeError(renewal.kind, renewal.name));
      } else {
        const target = renewal.kind === 'room' ? { room: renewal.name } : { channel: renewal.name };
        this.settlePosition(`${renewal.kind === 'room' ? 'r' : 'c'}:${renewal.name}`, reply.frame.payload as object, target);
        if (renewal.kind === 'room') this.restorePresenceStateSync(renewal.name, reply.frame.payload as JoinRoomResult, timeoutMs);
      }
    }
    for (const roomName of this.presence.watched()) {
      const reply = this.sendSync(this.names.subscribePresence, { roomName }, timeoutMs);
      try {
        if (reply.kind !== 'reply') this.events.emit('error', reply.kind === 'timeout' ? new MeshTimeoutError(this.names.subscribePresence, timeoutMs) : new MeshConnectionLostError(this.names.subscribePresence));
        else this.presenceRenewed(roomName, reply.frame.payload as PresenceSnapshot);
      } catch (error) {
        this.events.emit('error', error as MeshClientError);
      }
    }
  }

  /** `restorePresenceState`, blocking. */
  private restorePresenceStateSync(roomName: string, reply: JoinRoomResult, timeoutMs: number): void {
    this.presence.joined(roomName, reply.presence);
    if (!reply.presence || reply.presence.resumed) return;
    const state = this.presence.stateToRestore(roomName);
    if (state) this.sendSync(this.names.publishPresenceState, { roomName, ...state }, timeoutMs);
  }

  /**
   * Subscribes to a channel: `callback` receives every message published on it from now on.
   * Resolves with the server's `{ success, history }` (history newest first, at most
   * `historyLimit`, not passed to the callback). On `success: false` the callback is dropped.
   * The subscription (with its `historyLimit`) is renewed after every reconnect.
   */
  async subscribe(channel: string, callback: ChannelCallback, options: { historyLimit?: number } = {}): Promise<ChannelHistoryResult> {
    this.channels.add(channel, callback, options.historyLimit);
    try {
      const reply = await this.builtin<ChannelHistoryResult>(this.names.subscribeChannel, { channel, historyLimit: options.historyLimit });
      if (!reply?.success) this.channels.remove(channel, callback);
      else this.settlePosition(`c:${channel}`, reply);
      return reply;
    } catch (err) {
      this.channels.remove(channel, callback);
      throw err;
    }
  }

  /**
   * Removes `callback` from the channel, or every callback when none is given. When no callback is
   * left, unsubscribes on the server and resolves with its answer (true if it was subscribed).
   */
  async unsubscribe(channel: string, callback?: ChannelCallback): Promise<boolean> {
    if (!this.channels.remove(channel, callback)) return true;
    this.positions.delete(`c:${channel}`);
    return this.builtin<boolean>(this.names.unsubscribeChannel, { channel });
  }

  /** Reads a channel's history (newest first) without subscribing. */
  getChannelHistory(channel: string, options: { limit?: number } = {}): Promise<ChannelHistoryResult> {
    return this.builtin<ChannelHistoryResult>(this.names.getChannelHistory, { channel, limit: options.limit });
  }

  /** Joins a room; on `success` the room is re-joined after every reconnect. */
  async joinRoom(roomName: string): Promise<JoinRoomResult> {
    const reply = await this.builtin<JoinRoomResult>(this.names.joinRoom, { roomName });
    if (reply?.success) {
      this.rooms.add(roomName);
      this.settlePosition(`r:${roomName}`, reply);
      this.presence.joined(roomName, reply.presence);
    }
    return reply;
  }

  /** Leaves a room (and stops re-joining it). */
  leaveRoom(roomName: string): Promise<{ success: boolean }> {
    this.rooms.delete(roomName);
    this.presence.left(roomName);
    this.positions.delete(`r:${roomName}`);
    return this.builtin<{ success: boolean }>(this.names.leaveRoom, { roomName });
  }

  /**
   * Watches a tracked room's presence: `callback` gets every `join`, `leave` and `state` update
   * from now on (and, after a reconnect, a `snapshot` of the renewed subscription). Resolves with
   * who is present and their states. On `success: false` (the room is not tracked, or its guard
   * says no) the callback is dropped. Renewed after every reconnect. One callback per room: a
   * second call for the same room replaces the first.
   */
  async subscribePresence(roomName: string, callback: PresenceCallback): Promise<PresenceSnapshot> {
    this.presence.watch(roomName, callback);
    try {
      const reply = await this.builtin<PresenceSnapshot>(this.names.subscribePresence, { roomName });
      if (!reply?.success) this.presence.unwatch(roomName);
      return { success: reply?.success === true, present: reply?.present ?? [], states: reply?.states ?? {} };
    } catch (err) {
      this.presence.unwatch(roomName);
      throw err;
    }
  }

  /** Stops watching a room's presence; resolves with whether it was watched. */
  unsubscribePresence(roomName: string): Promise<boolean> {
    this.presence.unwatch(roomName);
    return this.builtin<boolean>(this.names.unsubscribePresence, { roomName });
  }

  /**
   * Publishes this member's state in a tracked room it is in (false if it is not, or the state is
   * falsy). Published again after a reconnect, with what is left of `expireAfter`, unless the
   * server kept it (the client took its presence over).
   */
  async publishPresenceState(roomName: string, options: PresenceStateOptions): Promise<boolean> {
    const stored = await this.builtin<boolean>(this.names.publishPresenceState, { roomName, state: options.state, expireAfter: options.expireAfter, silent: options.silent });
    if (stored === true) this.presence.published(roomName, options);
    return stored === true;
  }

  /** Clears this member's state in a room (subscribers get `state: null`). */
  async clearPresenceState(roomName: string): Promise<boolean> {
    this.presence.cleared(roomName);
    return (await this.builtin<boolean>(this.names.clearPresenceState, { roomName })) === true;
  }

  /** Reads a tracked room's presence (ids only) and states without subscribing. */
  getPresenceState(roomName: string): Promise<PresenceStateSnapshot> {
    return this.builtin<PresenceStateSnapshot>(this.names.getPresenceState, { roomName });
  }

  /** Resolves with a room's metadata (null when it has none). */
  async getRoomMetadata<T = unknown>(roomName: string): Promise<T | null> {
    return (await this.builtin<{ metadata: T | null }>(this.names.getRoomMetadata, { roomName })).metadata;
  }

  /** Resolves with this connection's metadata, or another connection's (if the server allows it). */
  async getConnectionMetadata<T = unknown>(connectionId?: string): Promise<T | null> {
    const reply =
      connectionId === undefined
        ? await this.builtin<{ metadata: T | null }>(this.names.getMyConnectionMetadata, {})
        : await this.builtin<{ metadata: T | null }>(this.names.getConnectionMetadata, { connectionId });
    return reply.metadata;
  }

  /** Sets this connection's metadata (if the server allows clients to); resolves with `success`. */
  async setConnectionMetadata(metadata: unknown, options: { strategy?: MetadataStrategy } = {}): Promise<boolean> {
    const payload = options.strategy ? { metadata, options: { strategy: options.strategy } } : { metadata };
    return (await this.builtin<{ success: boolean }>(this.names.setMyConnectionMetadata, payload)).success;
  }

  // --- records and collections ---

  /**
   * Subscribes to a record: `callback` gets its value now, then each new version, in order
   * (`mode: 'patch'` receives JSON Patches and applies them here; the callback sees the value and
   * the patch). A missed version is healed by subscribing again. A delete ends the subscription
   * (`deleted: true`). The subscription is renewed after every reconnect.
   */
  subscribeRecord<T = unknown>(recordId: string, callback: RecordCallback<T>, options: { mode?: RecordMode } = {}): Promise<RecordSubscribeResult<T>> {
    return this.live.subscribe(recordId, callback, options.mode ?? 'full');
  }

  /** Stops a record subscription; true if the server had it. */
  unsubscribeRecord(recordId: string): Promise<boolean> {
    return this.live.unsubscribe(recordId);
  }

  /**
   * Writes a record the server exposes as writable; resolves with its new version. A refusal
   * (not writable, too large) rejects with `MeshCommandError`.
   */
  async writeRecord(recordId: string, value: unknown, options: { strategy?: MetadataStrategy } = {}): Promise<number> {
    const payload = options.strategy ? { recordId, newValue: value, options: { strategy: options.strategy } } : { recordId, newValue: value };
    return (await this.builtin<{ version: number }>(this.names.publishRecordUpdate, payload)).version;
  }

  /** Writes and deletes records all or nothing (see the server's docs/records.md for Redis Cluster); rejects with `MeshCommandError` (`ETXN`) when refused. */
  transaction(operations: RecordOperation[]): Promise<TransactionResult> {
    return this.builtin<TransactionResult>(this.names.transaction, { operations });
  }

  /**
   * Subscribes to a collection: `onDiff` gets every member first (`reset: true`), then what comes
   * in and goes out (`added`, `removed`) and members' new values (`changed`). A missed version
   * resets it again. Renewed after every reconnect (as a reset).
   */
  subscribeCollection(collectionId: string, options: { onDiff: (diff: CollectionDiff) => void }): Promise<CollectionSubscribeResult> {
    return this.live.subscribeCollection(collectionId, options.onDiff);
  }

  unsubscribeCollection(collectionId: string): Promise<boolean> {
    return this.live.unsubscribeCollection(collectionId);
  }

  /**
   * Registers the handler of server-to-client invokes of `type`. Its return value (awaited) is
   * sent back as the result; a throw is sent as `{ error, code, name }`, with the error's own
   * string `code` or `EHANDLER`. Invokes of a type with no handler get `ENOTFOUND`.
   */
  handle<TData = any, TResult = unknown>(type: string, handler: InvokeHandler<TData, TResult>): this {
    this.invokeHandlers.set(type, handler as InvokeHandler);
    return this;
  }

  unhandle(type: string): this {
    this.invokeHandlers.delete(type);
    return this;
  }

  /**
   * Listens to a built-in event (`connect`, `disconnect`, `reconnect`, `reconnectfailed`,
   * `close`, `error`, `ping`, `latency`, `message`) or to a server push named `event`. The listener
   * receives `{ type, detail }`; for a push, `detail` is its payload.
   */
  on<K extends keyof MeshClientEventMap>(event: K, listener: MeshEventListener<MeshClientEventMap[K]>): this;
  on<T = any>(event: string, listener: MeshEventListener<T>): this;
  on(event: string, listener: MeshEventListener): this {
    this.events.on(event, listener);
    return this;
  }

  once<K extends keyof MeshClientEventMap>(event: K, listener: MeshEventListener<MeshClientEventMap[K]>): this;
  once<T = any>(event: string, listener: MeshEventListener<T>): this;
  once(event: string, listener: MeshEventListener): this {
    this.events.once(event, listener);
    return this;
  }

  off(event: string, listener: MeshEventListener<any>): this {
    this.events.off(event, listener);
    return this;
  }

  /**
   * Closes the connection (code 1000) for good: no reconnect. Pending and queued commands reject
   * with `MeshClosedError` (code `ECLOSED`), and so do commands issued later, until `connect()`
   * is called again. Emits `close` unless already offline. Resolves once the socket is closed
   * (after at most a short grace period) and, with `syncCommands`, the worker thread has stopped.
   */
  async close(): Promise<void> {
    this.closedByUser = true;
    this.stopTimers();
    const connection = this.connection;
    this.connection = null;
    const wasOffline = this.currentStatus === MeshClientStatus.OFFLINE;
    this.goOffline((command) => new MeshClosedError(command));
    if (!wasOffline) this.events.emit('close', { code: 1000, reason: 'Client closed' });
    if (connection) await closeWithGrace(connection);
    await this.transport?.dispose();
  }

  // --- requests ---

  /** Queues a command (`first`: ahead of those already waiting) and sends the queue if online. */
  private request(command: string, payload: unknown, options: CommandOptions, first = false): Promise<unknown> {
    if (this.closedByUser) return Promise.reject(new MeshClosedError(command));
    const timeoutMs = options.timeoutMs ?? this.options.commandTimeoutMs;
    let idempotencyKey: string | undefined;
    try {
      idempotencyKey = idempotencyKeyOf(options);
    } catch (error) {
      return Promise.reject(error);
    }
    const reply = this.commands.add(command, payload === undefined ? {} : payload, timeoutMs, first, idempotencyKey);
    if (this.currentStatus === MeshClientStatus.ONLINE) this.flushQueue();
    else if (this.currentStatus === MeshClientStatus.OFFLINE) this.connect().catch(() => undefined);
    return options.throwOnError ? reply.then((result) => this.checkResult(command, result, options)) : reply;
  }

  /** A built-in command: error payloads throw `MeshCommandError`. */
  private builtin<T>(command: string, payload: unknown, first = false): Promise<T> {
    return this.request(command, payload, { throwOnError: true }, first) as Promise<T>;
  }

  private checkResult(command: string, result: unknown, options: CommandOptions): unknown {
    if (options.throwOnError && isErrorPayload(result)) throw new MeshCommandError(command, result);
    return result;
  }

  private flushQueue(): void {
    const connection = this.connection;
    if (!connection) return;
    for (const command of this.commands.takeQueued()) {
      const id = this.nextId();
      this.commands.markSent(command, id);
      connection.send(encodeFrame(requestFrame(id, command.command, command.payload, command.idempotencyKey)));
    }
  }

  private nextId(): number {
    return this.ids.next((id) => this.commands.isInFlight(id));
  }

  // --- socket lifecycle ---

  /** Callbacks for one socket: ignored once it is no longer the client's current socket. */
  private handlersFor(connection: () => TransportConnection | null): TransportHandlers {
    return {
      onOpen: () => connection() === this.connection && this.onSocketOpen(),
      onMessage: (data) => connection() === this.connection && this.onSocketMessage(data),
      onClose: (info) => connection() === this.connection && this.onSocketClose(info),
    };
  }

  private get socketOptions() {
    return { protocols: this.options.protocols, headers: this.options.headers };
  }

  private openSocket(): void {
    this.socketOpened = false;
    let connection: TransportConnection | null = null;
    try {
      this.transport ??= this.createTransport();
      connection = this.transport.connect(this.url, this.handlersFor(() => connection));
      this.connection = connection;
    } catch (err) {
      // e.g. an invalid URL: the WebSocket constructor throws synchronously.
      this.onSocketClose({ code: 1006, reason: '', failure: { message: err instanceof Error ? err.message : String(err) } });
    }
  }

  private createTransport(): Transport {
    if (this.options.syncCommands) return nodeRuntime!.createWorkerTransport(this.socketOptions);
    return new WebSocketTransport(resolveWebSocket(this.options.WebSocket, nodeRuntime?.WebSocket, this.socketOptions), this.socketOptions);
  }

  private onSocketOpen(): void {
    this.socketOpened = true;
    this.watchdog.start();
  }

  /** Gives up on a silent socket without waiting for a close handshake, then handles the close. */
  private dropConnection(reason: string): void {
    const connection = this.connection;
    if (!connection) return;
    connection.terminate();
    this.onSocketClose({ code: 1006, reason });
  }

  private onSocketClose(info: TransportCloseInfo): void {
    const previous = this.currentStatus;
    this.connection = null;
    this.stopTimers();
    this.previousConnectionId = this.currentConnectionId ?? this.previousConnectionId;
    this.currentConnectionId = undefined;
    // Commands with an idempotency key wait for the next connection and go out again with it.
    this.commands.failInFlight((command) => new MeshConnectionLostError(command), true);
    const failure = this.connectionError(info);

    if (previous === MeshClientStatus.CONNECTING) {
      this.events.emit('error', failure);
      if (this.retryFirstConnect(failure)) return;
      this.goOffline(() => failure);
      this.events.emit('close', { code: info.code, reason: info.reason });
      return;
    }
    if (previous === MeshClientStatus.ONLINE) {
      this.connectPromise = null;
      this.events.emit('disconnect', { code: info.code, reason: info.reason });
    } else if (!this.socketOpened) {
      this.events.emit('error', failure);
    }
    // A superseded socket means this client id is connected elsewhere now: reconnecting would
    // take it back from the newer connection, and the two would evict each other forever.
    if (this.options.shouldReconnect && info.code !== CloseCode.SUPERSEDED) {
      this.scheduleReconnect(previous === MeshClientStatus.ONLINE && PROMPT_RECONNECT_CODES.has(info.code));
    } else {
      this.goOffline((command) => new MeshConnectionLostError(command));
      this.events.emit('close', { code: info.code, reason: info.reason });
    }
  }

  private connectionError(info: TransportCloseInfo): MeshConnectionError {
    if (this.socketOpened) {
      return new MeshConnectionError(`Connection to ${this.url} closed (code ${info.code}) before the server assigned an id`);
    }
    const detail = info.failure?.message ? `: ${info.failure.message}` : '';
    return new MeshConnectionError(`WebSocket connection to ${this.url} failed${detail}`, info.failure?.status);
  }

  /**
   * With `retryFirstConnect`, a first connection that failed for a reason that may pass (the
   * server is not up yet, or answered 5xx while starting) is tried again with the reconnect
   * backoff, while `connect()` stays pending. A refusal with 4xx (authentication, origin, path) is
   * final. False when it will not retry.
   */
  private retryFirstConnect(failure: MeshConnectionError): boolean {
    if (!this.options.retryFirstConnect || this.closedByUser) return false;
    if (failure.status !== undefined && failure.status < 500) return false;
    if (this.reconnectAttempts >= this.options.maxReconnectAttempts) return false;
    const delay = reconnectDelay(this.reconnectAttempts, this.options);
    this.reconnectAttempts += 1;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.openSocket();
    }, delay);
    return true;
  }

  /**
   * Schedules reconnect attempt `n` after `random(0, min(maxReconnectInterval, reconnectInterval * 2 ** n))`
   * ms, or at once when `prompt` (the server said it is going away or restarting).
   */
  private scheduleReconnect(prompt: boolean): void {
    this.currentStatus = MeshClientStatus.RECONNECTING;
    if (this.reconnectAttempts >= this.options.maxReconnectAttempts) {
      const attempts = this.reconnectAttempts;
      const error = new MeshConnectionError(`Reconnect to ${this.url} failed after ${attempts} attempts`);
      this.events.emit('reconnectfailed', { attempts });
      this.goOffline(() => error);
      this.events.emit('close', { code: 1006, reason: error.message });
      return;
    }
    const delay = prompt ? 0 : reconnectDelay(this.reconnectAttempts, this.options);
    this.reconnectAttempts += 1;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.openSocket();
    }, delay);
  }

  /** Status offline: settles everything that waits for a connection with `error`. */
  private goOffline(error: (command?: string) => Error): void {
    this.currentStatus = MeshClientStatus.OFFLINE;
    this.currentConnectionId = undefined;
    this.reconnectAttempts = 0;
    this.connectPromise = null;
    this.connectWaiter?.reject(error());
    this.connectWaiter = null;
    this.commands.failInFlight(error);
    this.commands.failQueued(error);
  }

  private stopTimers(): void {
    this.watchdog.stop();
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
  }

  private settleConnect(): void {
    this.connectWaiter?.resolve();
    this.connectWaiter = null;
  }

  // --- inbound frames ---

  private onSocketMessage(data: string): void {
    // The server is trusted not to nest deeply; only clients' frames are depth-checked.
    const decoded = decodeFrame(data, Infinity);
    if (!decoded.ok) return;
    const frame = decoded.frame;
    this.events.emit('message', frame);
    if (frame.command === this.names.invoke && typeof frame.id === 'string') void this.answerInvoke(frame);
    else if (frame.id !== undefined) {
      if (typeof frame.id === 'number') this.commands.resolve(frame.id, frame.payload);
    } else this.onPush(frame);
  }

  private onPush(frame: Frame): void {
    const { command, payload } = frame;
    switch (command) {
      case this.names.assignId:
        if (typeof payload === 'string') this.onAssignId(payload);
        return;
      case HeartbeatCommand.PING:
        this.watchdog.reset();
        this.sendFrame({ id: this.nextId(), command: HeartbeatCommand.PONG, payload: {} });
        this.events.emit('ping', payload);
        return;
      case HeartbeatCommand.LATENCY:
        this.events.emit('latency', { latency: payload as number });
        return;
      case HeartbeatCommand.LATENCY_REQUEST:
        this.sendFrame({ id: this.nextId(), command: HeartbeatCommand.LATENCY_RESPONSE, payload });
        return;
      case this.names.recordUpdate:
        return this.live.onUpdate(payload);
      case this.names.recordDeleted:
        return this.live.onDeleted(payload);
      case this.names.collectionDiff:
        return this.live.onDiff(payload);
      case this.names.presenceUpdate:
        if (typeof (payload as PresenceUpdate | undefined)?.roomName === 'string') this.presence.deliver(payload as PresenceUpdate);
        this.events.emit(command, payload);
        return;
      case this.names.subscriptionMessage: {
        const { channel, message } = (payload ?? {}) as { channel?: unknown; message?: unknown };
        if (typeof channel !== 'string') return;
        // A recoverable channel's message carries its position: one delivered already is dropped.
        // Read in place (no object per message: a busy channel's garbage is every client's GC).
        const { epoch, offset } = payload as { epoch?: unknown; offset?: unknown };
        if (typeof epoch === 'string' && isOffset(offset) && !this.advancePosition('c', channel, epoch, offset)) return;
        this.channels.deliver(channel, message as string);
        return;
      }
      default: {
        const position = readPosition(frame.position);
        const room = (frame.position as { room?: unknown } | undefined)?.room;
        if (position && typeof room === 'string' && this.rooms.has(room) && !this.advancePosition('r', room, position.epoch, position.offset)) return;
        this.events.emit(command, payload);
      }
    }
  }

  private onAssignId(connectionId: string): void {
    const reconnected = this.currentStatus === MeshClientStatus.RECONNECTING;
    this.currentConnectionId = connectionId;
    // Queued while still reconnecting, so the renewals go out ahead of the commands that waited.
    const restored = reconnected ? this.restoreSubscriptions() : undefined;
    this.currentStatus = MeshClientStatus.ONLINE;
    this.reconnectAttempts = 0;
    this.settleConnect();
    this.events.emit('connect', { connectionId });
    this.flushQueue();
    void restored?.then(() => {
      if (this.currentConnectionId === connectionId) this.events.emit('reconnect', { connectionId });
    });
  }

  /**
   * Re-joins rooms and re-subscribes channels on a new connection. Failures become `error`
   * events; a room or channel the server now refuses is dropped (`MeshResubscribeError`), so the
   * client never believes it is subscribed when it is not.
   */
  private async restoreSubscriptions(): Promise<void> {
    const renewals = [
      ...[...this.rooms].map(async (roomName) => {
        const reply = await this.builtin<JoinRoomResult>(this.names.joinRoom, this.rejoinPayload(roomName), true);
        if (reply?.success) {
          this.settlePosition(`r:${roomName}`, reply, { room: roomName });
          return this.restorePresenceState(roomName, reply);
        }
        this.rooms.delete(roomName);
        this.presence.left(roomName);
        this.positions.delete(`r:${roomName}`);
        throw new MeshResubscribeError('room', roomName);
      }),
      ...this.channels.entries().map(async (entry) => {
        const reply = await this.builtin<ChannelHistoryResult>(this.names.subscribeChannel, this.resubscribePayload(entry), true);
        if (reply?.success) return this.settlePosition(`c:${entry.channel}`, reply, { channel: entry.channel });
        this.channels.remove(entry.channel);
        this.positions.delete(`c:${entry.channel}`);
        throw new MeshResubscribeError('channel', entry.channel);
      }),
      ...this.live.restore(),
      ...this.presence.watched().map(async (roomName) => {
        const reply = await this.builtin<PresenceSnapshot>(this.names.subscribePresence, { roomName }, true);
        this.presenceRenewed(roomName, reply);
      }),
    ];
    for (const outcome of await Promise.allSettled(renewals)) {
      if (outcome.status === 'rejected') this.events.emit('error', outcome.reason as MeshClientError);
    }
  }

  /** A rejoined room's presence: the new ticket, and this member's state published again unless the takeover kept it. */
  private async restorePresenceState(roomName: string, reply: JoinRoomResult): Promise<void> {
    this.presence.joined(roomName, reply.presence);
    if (!reply.presence || reply.presence.resumed) return;
    const state = this.presence.stateToRestore(roomName);
    if (state) await this.publishPresenceState(roomName, state);
  }

  /** A renewed presence subscription: its callback gets the snapshot; a refused one is dropped. */
  private presenceRenewed(roomName: string, reply: PresenceSnapshot | undefined): void {
    if (!reply?.success) {
      this.presence.unwatch(roomName);
      throw new MeshResubscribeError('presence', roomName);
    }
    this.presence.deliver({ type: 'snapshot', roomName, present: reply.present ?? [], states: reply.states ?? {} });
  }

  /** `<prefix>/subscribe-channel` again after a reconnect: with the last position of a recoverable channel. */
  private resubscribePayload(entry: { channel: string; historyLimit?: number }): Record<string, unknown> {
    const recover = this.positions.get(`c:${entry.channel}`);
    return recover ? { ...entry, recover } : entry;
  }

  /** `<prefix>/join-room` again after a reconnect: with the last position of a recoverable room, and the id it had then. */
  private rejoinPayload(roomName: string): Record<string, unknown> {
    const position = this.positions.get(`r:${roomName}`);
    const payload: Record<string, unknown> = position ? { roomName, recover: { ...position, connectionId: this.previousConnectionId } } : { roomName };
    // A tracked room: the presence identity held before, so that this client takes it over.
    const claim = this.presence.claim(roomName);
    if (claim) payload.presence = claim;
    return payload;
  }

  /** A message of a recoverable channel or room: false if it was delivered already. */
  private advancePosition(kind: 'c' | 'r', name: string, epoch: string, offset: number): boolean {
    const key = `${kind}:${name}`;
    const epochBefore = this.positions.epochOf(key);
    if (!this.positions.advance(key, epoch, offset)) return false;
    // The stream's history was lost while connected (a new epoch): what came before may be gone.
    if (epochBefore !== undefined && epochBefore !== epoch) {
      this.emitRecovered({ ...(kind === 'c' ? { channel: name } : { room: name }), recovered: false, missed: 0 } as SubscriptionRecoveredEvent);
    }
    return true;
  }

  /**
   * A subscribe or join reply of a recoverable channel or room: its position, and after a
   * reconnect (`target`) what came back of what was missed.
   */
  private settlePosition(key: string, reply: { epoch?: string; offset?: number; recovered?: boolean; missed?: number }, target?: { channel: string } | { room: string }): void {
    const position = readPosition(reply);
    if (!position) return;
    const epochChanged = this.positions.settle(key, position);
    if (target && typeof reply.recovered === 'boolean') {
      this.emitRecovered({ ...target, recovered: reply.recovered && !epochChanged, missed: typeof reply.missed === 'number' ? reply.missed : 0 } as SubscriptionRecoveredEvent);
    }
  }

  private emitRecovered(event: SubscriptionRecoveredEvent): void {
    this.events.emit('subscription-recovered', event);
  }

  /**
   * A listener or channel callback threw: report it as an `error` event. When nothing listens
   * for `error`, or an `error` listener itself threw, print it instead: either way it never
   * escapes into the socket's message handler (an uncaught exception in Node).
   */
  private reportListenerError(event: string, error: unknown): void {
    if (event === 'error' || this.events.listenerCount('error') === 0) {
      console.error(`[nestjs-mesh] a listener for "${event}" threw:`, error);
      return;
    }
    this.events.emit('error', new MeshListenerError(event, error));
  }

  private async answerInvoke(frame: Frame): Promise<void> {
    const connection = this.connection;
    const { type, data, idempotencyKey } = (frame.payload ?? {}) as { type?: unknown; data?: unknown; idempotencyKey?: unknown };
    const payload = await this.invokeHandlers.run(type, data, isIdempotencyKey(idempotencyKey) ? idempotencyKey : undefined);
    if (connection && connection === this.connection) {
      connection.send(encodeFrame({ id: frame.id, command: this.names.invokeResult, payload }));
    }
  }

  private sendFrame(frame: Frame): void {
    this.connection?.send(encodeFrame(frame));
  }
}

/** A request frame; the key only when there is one (the Mesh family's clients never send it). */
function requestFrame(id: number, command: string, payload: unknown, idempotencyKey: string | undefined): Frame {
  return idempotencyKey === undefined ? { id, command, payload } : { id, command, payload, idempotencyKey };
}

async function closeWithGrace(connection: TransportConnection): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const grace = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), CLOSE_GRACE_MS)));
  const outcome = await Promise.race([connection.close(1000, 'Client closed'), grace]);
  clearTimeout(timer);
  if (outcome === 'timeout') connection.terminate();
}
