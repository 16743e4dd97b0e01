import { Inject, Injectable } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import { ChannelManager, type ExposeChannelOptions } from './channels/channel-manager';
import type { MeshCommandHandlerFn, MeshMiddlewareFn } from './commands/command-context';
import type { RegisterCommandOptions } from './commands/command-options';
import { CommandPipelineFactory } from './commands/command-pipeline.factory';
import { CommandRegistry } from './commands/command-registry';
import type { Connection } from './connection/connection';
import { connectionId, type ConnectionRef } from './connection/connection-ref';
import type { ExposureGuard } from './common/exposure-list';
import { LocalConnections } from './connection/local-connections';
import { MessageRouter } from './delivery/message-router';
import { MeshConfigurationError } from './errors';
import { MESH_MEMBERSHIP_STORE, MESH_SHARED_STATE } from './mesh.constants';
import { encodeFrame, isValidCloseCode } from './protocol';
import { roomName, RoomManager, type ExposeRoomOptions } from './rooms/room-manager';
import type { SharedState } from './state/shared-state/shared-state';
import type { MembershipStore } from './state/membership/membership-store';
import { MeshTransport } from './transport/mesh-transport';
import { NodeHealth, type MeshHealth } from './cluster/node-health';
import { RecordManager, type RecordOperation, type RecordOperationResult, type RecordSnapshot, type WriteRecordOptions } from './records/record-manager';
import { isRecordWriteStrategy } from './records/record-value';
import { CollectionManager } from './collections/collection-manager';
import type { CollectionResolver, ExposeCollectionOptions } from './collections/collection-exposures';
import { PresenceManager, type PublishPresenceStateOptions, type RoomPresence } from './presence/presence-manager';
import type { PresenceGuard, TrackPresenceOptions } from './presence/presence-options';

export interface BroadcastOptions {
  /** Connections (or ids) that must not receive it. */
  exclude?: ConnectionRef | ConnectionRef[];
}

export interface PublishOptions {
  /** Keep the last N messages of the channel for `historyLimit` subscribers. @default 0 */
  history?: number;
  /** Drop the channel's history this many ms after its last publish (0: keep). @default the `historyTtl` module option */
  historyTtl?: number;
}

export type ChannelGuard = ExposureGuard;
export type RoomGuard = ExposureGuard;

function eventFrame(event: string, payload: unknown): string {
  if (typeof event !== 'string' || event.length === 0) throw new TypeError('An event name must be a non-empty string');
  try {
    return encodeFrame(payload === undefined ? { command: event } : { command: event, payload });
  } catch (error) {
    throw new TypeError(`The payload of event "${event.slice(0, 100)}" cannot be encoded as JSON: ${(error as Error).message}`);
  }
}

export type RecordGuard = ExposureGuard;

function recordId(id: unknown, method: string): string {
  if (typeof id !== 'string' || id.length === 0) throw new TypeError(`${method}: the record id must be a non-empty string`);
  return id;
}

function writeStrategy(options: WriteRecordOptions | undefined, method: string): WriteRecordOptions['strategy'] {
  const strategy = options?.strategy ?? 'replace';
  if (!isRecordWriteStrategy(strategy)) throw new TypeError(`${method}: strategy must be "replace", "merge" or "deepMerge"`);
  return strategy;
}

function excludedIds(exclude: BroadcastOptions['exclude']): string[] {
  if (exclude === undefined) return [];
  return (Array.isArray(exclude) ? exclude : [exclude]).map(connectionId);
}

/**
 * The programmatic API of the Mesh server: commands and middlewares, rooms, broadcasts and
 * channels. Every method works across nodes when the module has a `redis` option.
 */
@Injectable()
export class MeshServer {
  constructor(
    @Inject(MESH_SHARED_STATE) private readonly store: SharedState,
    @Inject(MESH_MEMBERSHIP_STORE) private readonly nodes: MembershipStore,
    private readonly registry: CommandRegistry,
    private readonly pipelines: CommandPipelineFactory,
    private readonly local: LocalConnections,
    private readonly router: MessageRouter,
    private readonly channels: ChannelManager,
    private readonly rooms: RoomManager,
    private readonly transport: MeshTransport,
    private readonly nodeHealth: NodeHealth,
    private readonly records: RecordManager,
    private readonly collections: CollectionManager,
    private readonly presence: PresenceManager,
  ) {}

  /**
   * This node's health for load balancers and health checks: `up`, `degraded` (serving, but
   * messages from other nodes are being lost or heartbeats are late) or `down` (store unreachable
   * within `timeoutMs`, removed by the cluster, or starting/shutting down), with the readings.
   */
  health(timeoutMs = 1000): Promise<MeshHealth> {
    return this.nodeHealth.check(timeoutMs);
  }

  /** This node's id (a number from Redis, as a string; "1" without Redis). */
  get nodeId(): string {
    return this.nodes.nodeId;
  }

  /** The standalone server's address, with the `port` option. */
  address(): AddressInfo | undefined {
    return this.transport.address();
  }

  // ---- commands -------------------------------------------------------------------------

  /**
   * Registers a command handled by `handler(context)`; its result is the reply. Global Nest
   * guards, interceptors and filters apply as for `@MeshCommand` methods; `middlewares` run after
   * the global ones (`addMiddleware`). The third argument is the middlewares, or
   * `{ middlewares?, idempotent? }` (`idempotent` as in `@MeshCommand(name, { idempotent })`).
   */
  registerCommand<TPayload = any, TResult = unknown>(
    name: string,
    handler: MeshCommandHandlerFn<TPayload, TResult>,
    middlewaresOrOptions: MeshMiddlewareFn[] | RegisterCommandOptions = [],
  ): void {
    const options: RegisterCommandOptions = Array.isArray(middlewaresOrOptions) ? { middlewares: middlewaresOrOptions } : (middlewaresOrOptions ?? {});
    const middlewares = options.middlewares ?? [];
    if (typeof handler !== 'function') throw new MeshConfigurationError(`registerCommand("${name}"): the handler must be a function`);
    if (!Array.isArray(middlewares) || middlewares.some((m) => typeof m !== 'function')) {
      throw new MeshConfigurationError(`registerCommand("${name}"): middlewares must be an array of functions`);
    }
    this.registry.register({
      name,
      origin: `registerCommand("${name}")`,
      middlewares,
      invoke: this.pipelines.forHandler(this, name, handler as MeshCommandHandlerFn),
      idempotent: options.idempotent,
    });
  }

  /** Removes a command registered with `registerCommand` (or a decorated one). */
  unregisterCommand(name: string): boolean {
    return this.registry.unregister(name);
  }

  /**
   * Adds a middleware that runs before every command a client sends, built-in ones included
   * (`ctx.command` is then e.g. `mesh/subscribe-channel`), and before a user command's own
   * middlewares. Heartbeat answers (`pong`, `latency:response`) and invoke results do not run it.
   */
  addMiddleware(middleware: MeshMiddlewareFn): void {
    this.registry.addMiddleware(middleware);
  }

  // ---- connections ----------------------------------------------------------------------

  /** A connection whose socket is on this node. */
  getConnection(id: string): Connection | undefined {
    return this.local.get(id);
  }

  /** The connections on this node. */
  getLocalConnections(): Connection[] {
    return [...this.local.values()];
  }

  /** Number of connections on this node. */
  get connectionCount(): number {
    return this.local.size;
  }

  /** Number of connections on every node. */
  totalConnectionCount(): Promise<number> {
    return this.store.countConnections();
  }

  /** Pushes an event to connections on any node. */
  async sendTo(connections: ConnectionRef | ConnectionRef[], event: string, payload?: unknown): Promise<void> {
    const ids = (Array.isArray(connections) ? connections : [connections]).map(connectionId);
    await this.router.sendTo(ids, eventFrame(event, payload));
  }

  /** Pushes an event to every connection of every node. */
  async broadcast(event: string, payload?: unknown, options: BroadcastOptions = {}): Promise<void> {
    await this.router.broadcast(eventFrame(event, payload), excludedIds(options.exclude));
  }

  /** Closes connections on any node; `code` must be 1000–1003, 1007–1014 or 3000–4999 (else a RangeError, and nothing closes). */
  async disconnect(connections: ConnectionRef | ConnectionRef[], code = 1000): Promise<void> {
    if (!isValidCloseCode(code)) throw new RangeError(`disconnect: invalid WebSocket close code ${String(code)} (use 1000-1003, 1007-1014 or 3000-4999)`);
    await this.router.close((Array.isArray(connections) ? connections : [connections]).map(connectionId), code);
  }

  // ---- rooms ----------------------------------------------------------------------------

  /**
   * Adds a connection (on any node) to a room. False if the connection is not connected. Throws
   * `MeshLimitError` (`ELIMIT`) when it is in `maxRoomsPerConnection` rooms already.
   */
  addToRoom(room: string, connection: ConnectionRef): Promise<boolean> {
    return this.rooms.join(roomName(room), connectionId(connection));
  }

  /** Removes a connection (on any node) from a room. False if it was not a member. */
  removeFromRoom(room: string, connection: ConnectionRef): Promise<boolean> {
    return this.rooms.leave(roomName(room), connectionId(connection));
  }

  isInRoom(room: string, connection: ConnectionRef): Promise<boolean> {
    return this.store.isInRoom(roomName(room), connectionId(connection));
  }

  /** Ids of a room's members, on every node. */
  getRoomMembers(room: string): Promise<string[]> {
    return this.store.getRoomMembers(roomName(room));
  }

  /** Rooms a connection is in. */
  getRooms(connection: ConnectionRef): Promise<string[]> {
    return this.store.getRooms(connectionId(connection));
  }

  /** Removes every member from a room (its metadata stays). */
  clearRoom(room: string): Promise<void> {
    return this.rooms.clear(roomName(room));
  }

  getRoomMetadata<T = any>(room: string): Promise<T | null> {
    return this.store.getRoomMetadata(roomName(room)) as Promise<T | null>;
  }

  /** Sets a room's metadata (readable by clients through `<prefix>/get-room-metadata` if the room is exposed); null deletes it. */
  setRoomMetadata(room: string, metadata: unknown): Promise<void> {
    return this.store.setRoomMetadata(roomName(room), metadata);
  }

  /** Pushes an event to every member of a room, on every node, each exactly once. */
  async broadcastRoom(room: string, event: string, payload?: unknown, options: BroadcastOptions = {}): Promise<void> {
    await this.rooms.broadcast(roomName(room), eventFrame(event, payload), excludedIds(options.exclude));
  }

  /**
   * Lets clients join rooms matching `pattern` with `<prefix>/join-room` (refused otherwise).
   * First matching pattern wins; a guard that throws or returns anything but `true` refuses.
   * With `{ recover: { size, ttl } }` the rooms' broadcasts are kept so that members who were away
   * get what they missed when they rejoin (docs/guarantees.md).
   */
  exposeRoom(pattern: string | RegExp, guard?: RoomGuard, options?: ExposeRoomOptions): void {
    this.rooms.expose(pattern, guard, options);
  }

  /**
   * Whether a connection may join a room itself: the name is exposed with `exposeRoom`, within
   * `maxNameLength`, and its guard allows. A command that joins rooms named by clients should ask first.
   */
  canJoinRoom(connection: Connection, room: unknown): Promise<boolean> {
    return this.rooms.mayJoin(connection, room);
  }

  // ---- channels -------------------------------------------------------------------------

  /**
   * Lets clients subscribe to channels matching `pattern` (exact string or RegExp). First
   * matching pattern wins; a guard that throws or returns anything but `true` refuses. With
   * `{ recover: { size, ttl } }` the channels' messages are kept so that subscribers who were away
   * get what they missed when they come back (docs/guarantees.md).
   */
  exposeChannel(pattern: string | RegExp, guard?: ChannelGuard, options?: ExposeChannelOptions): void {
    this.channels.expose(pattern, guard, options);
  }

  /**
   * Whether a connection may subscribe to a channel: the name is exposed with `exposeChannel`,
   * not internal, within `maxNameLength`, and its guard allows. A command that publishes to
   * channels named by clients should ask first (publishing where one may not read is rarely meant).
   */
  canAccessChannel(connection: Connection, channel: unknown): Promise<boolean> {
    return this.channels.mayAccess(connection, channel);
  }

  /**
   * Publishes a message on a channel (a raw Redis channel: other Redis clients may publish on it
   * too). Non-strings are JSON-encoded. With `history`, the last N messages are kept (for
   * `historyTtl` ms after the last publish, when set). Channels under the key prefix are internal:
   * publishing there throws `MeshForbiddenError`.
   */
  publish(channel: string, message: unknown, options: PublishOptions = {}): Promise<void> {
    return this.channels.publish(channel, message, options.history ?? 0, options.historyTtl);
  }

  /** The seed's name for `publish(channel, message, { history })`. */
  publishToChannel(channel: string, message: unknown, history = 0): Promise<void> {
    return this.channels.publish(channel, message, history);
  }

  /** The newest `limit` messages kept for a channel, newest first. */
  getChannelHistory(channel: string, limit = 50): Promise<string[]> {
    return this.channels.history(channel, limit, Infinity);
  }

  // ---- records and collections ------------------------------------------------------------

  /**
   * Lets clients subscribe to records matching `pattern` with `<prefix>/subscribe-record` (in
   * `full` or `patch` mode). First matching pattern wins; a guard that throws or returns anything
   * but `true` refuses. A record a connection may write (`exposeWritableRecord`) it may read too.
   */
  exposeRecord(pattern: string | RegExp, guard?: RecordGuard): void {
    this.records.expose(pattern, guard);
  }

  /**
   * Lets clients write records matching `pattern` with `<prefix>/publish-record-update` and
   * `<prefix>/transaction` (and read them). Off for every record by default.
   */
  exposeWritableRecord(pattern: string | RegExp, guard?: RecordGuard): void {
    this.records.exposeWritable(pattern, guard);
  }

  /**
   * Writes a record (any JSON value) and pushes it to its subscribers on every node; resolves
   * with its new version (unchanged when the write changed nothing). Writes to one record from
   * any number of nodes are atomic, and its versions go up by one, never repeated or skipped.
   */
  writeRecord(id: string, value: unknown, options?: WriteRecordOptions): Promise<number> {
    const strategy = writeStrategy(options, 'writeRecord');
    if (value === undefined) throw new TypeError('writeRecord: the value must be a JSON value (null is one; undefined is not)');
    return this.records.write(recordId(id, 'writeRecord'), value, strategy);
  }

  /** Deletes a record; its subscribers get `<prefix>/record-deleted` and are unsubscribed. False if it did not exist. */
  deleteRecord(id: string): Promise<boolean> {
    return this.records.delete(recordId(id, 'deleteRecord'));
  }

  /** A record's value, null if it does not exist. */
  async getRecord<T = any>(id: string): Promise<T | null> {
    return (await this.records.get<T>(recordId(id, 'getRecord'))).value;
  }

  /** A record's value and version (0 when it does not exist). */
  getRecordWithVersion<T = any>(id: string): Promise<RecordSnapshot<T>> {
    return this.records.get<T>(recordId(id, 'getRecordWithVersion'));
  }

  /** Ids of existing records that start with `prefix`, in byte order, at most `limit`. */
  listRecordIds(prefix = '', limit = 1000): Promise<string[]> {
    if (typeof prefix !== 'string') throw new TypeError('listRecordIds: the prefix must be a string');
    if (!Number.isInteger(limit) || limit < 1) throw new TypeError('listRecordIds: limit must be a positive integer');
    return this.records.listIds(prefix, limit);
  }

  /**
   * Applies writes and deletes all or nothing: on standalone Redis and in memory always; on Redis
   * Cluster per hash slot (ids sharing a hash tag, `doc:{team}:a` and `doc:{team}:b`, share one),
   * and each result says whether its slot's step succeeded. Several operations on one record
   * apply in order and commit as one new version.
   */
  transaction(operations: RecordOperation[]): Promise<RecordOperationResult[]> {
    if (!Array.isArray(operations) || operations.length === 0) throw new TypeError('transaction: operations must be a non-empty array');
    for (const operation of operations) {
      recordId(operation?.recordId, 'transaction');
      if (operation.op === 'write') {
        writeStrategy(operation.options, 'transaction');
        if (operation.value === undefined) throw new TypeError('transaction: a write needs a value');
      } else if (operation.op !== 'delete') throw new TypeError('transaction: op must be "write" or "delete"');
    }
    return this.records.transaction(operations);
  }

  /**
   * Lets clients subscribe to collections matching `pattern` (exact id or RegExp): `resolver`
   * returns the ids of the records a connection sees in it. When records change, the collection
   * is resolved again (only for changes to records matching `watch`, when given) and subscribers
   * get what came in or went out as a diff; members' own updates are pushed to them as well.
   */
  exposeCollection(pattern: string | RegExp, resolver: CollectionResolver, options?: ExposeCollectionOptions): void {
    this.collections.exposures.add(pattern, resolver, options);
  }

  // ---- presence (docs/presence.md) ------------------------------------------------------

  /**
   * Tracks the presence of rooms matching `pattern`: their members (however they joined) are
   * present, and clients may watch them with `<prefix>/subscribe-presence` and publish a state.
   * The second argument is a guard (who may watch and publish a state) or
   * `{ ttl?, guard?, maxStateBytes? }`; `ttl` is how long a member whose connection was lost
   * stays present waiting for it to come back (default 5000 ms). First matching pattern wins.
   */
  trackPresence(pattern: string | RegExp, guardOrOptions?: PresenceGuard | TrackPresenceOptions): void {
    this.presence.track(pattern, guardOrOptions);
  }

  /** Who is present in a tracked room (metadata as `visibleMetadata` / `allowClientMetadataReads` allow) and their states; one store read. */
  getPresence(room: string): Promise<RoomPresence> {
    return this.presence.get(roomName(room));
  }

  /** Publishes a member's presence state as if it had sent it; false if it is not present in the (tracked) room. */
  publishPresenceState(connection: ConnectionRef, room: string, state: unknown, options?: PublishPresenceStateOptions): Promise<boolean> {
    return this.presence.publishState(connectionId(connection), roomName(room), state, options);
  }

  /** Clears a member's presence state (subscribers get `state: null`); false if it is not present. */
  clearPresenceState(connection: ConnectionRef, room: string): Promise<boolean> {
    return this.presence.clearState(connectionId(connection), roomName(room));
  }
}
