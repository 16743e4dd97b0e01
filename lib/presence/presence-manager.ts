import { Inject, Injectable, Logger } from '@nestjs/common';
import { field } from '../common/payload-field';
import { createHash, randomBytes } from 'node:crypto';
import { NodeMembership } from '../cluster/node-membership';
import { BuiltinCommandTable } from '../commands/builtin-command-table';
import { TwoWayIndex } from '../common/two-way-index';
import type { Connection } from '../connection/connection';
import { ConnectionEvents } from '../connection/connection-events';
import { LocalConnections } from '../connection/local-connections';
import { TopicListeners } from '../delivery/topic-listeners';
import { MeshLimitError, MeshValidationError } from '../errors';
import type { ResolvedMeshOptions } from '../interfaces/mesh-module-options.interface';
import { MESH_COMMAND_NAMES, MESH_MEMBERSHIP_STORE, MESH_PRESENCE_STORE, MESH_SHARED_STATE } from '../mesh.constants';
import { MESH_RESOLVED_OPTIONS } from '../mesh-options';
import type { BuiltinCommandNames } from '../protocol';
import { RoomHooks } from '../rooms/room-hooks';
import type { MembershipStore } from '../state/membership/membership-store';
import type { PresenceSnapshot, PresenceStore } from '../state/presence/presence-store';
import type { SharedState } from '../state/shared-state/shared-state';
import { toWire } from '../transport/prepared-frame';
import { tooLargeToReply } from '../transport/reply-encoder';
import { isPresenceEventOf } from './presence-event';
import { MAX_EXPIRE_AFTER_MS, type PresenceGuard, type TrackPresenceOptions } from './presence-options';
import { TrackedRooms } from './tracked-rooms';

/** A present member as clients see it: its id, and its metadata as far as the app lets others see it. */
export interface PresentMember {
  id: string;
  metadata?: unknown;
}

/** Who is in a tracked room and the states they published. */
export interface RoomPresence {
  present: PresentMember[];
  states: Record<string, unknown>;
}

/** What a joining connection gets back in its `<prefix>/join-room` reply for a tracked room. */
export interface PresenceTicket {
  /** Its identity in the room's presence (its connection id, or the earlier one it took over). */
  id: string;
  /** Shown by the same client after a reconnect to take the identity over; only this connection sees it. */
  secret?: string;
  /** It took over its earlier identity: its state, if any, was kept. */
  resumed?: boolean;
}

export interface PublishPresenceStateOptions {
  /** Drop the state after this many ms (a `state: null` update is published then). */
  expireAfter?: number;
  /** Store it without telling subscribers (they see it in snapshots). */
  silent?: boolean;
}

const SECRET_BYTES = 18;
const MAX_SECRET_LENGTH = 100;
const digestOf = (secret: string) => createHash('sha256').update(secret).digest('hex');


/**
 * Presence of tracked rooms (docs/presence.md): their members, however they joined, are
 * present; subscribers on any node get `join`/`leave`/`state` updates, in the order the store
 * made the changes (each is published by the step that made it, on the room's presence topic,
 * heard only by nodes with local subscribers). A member whose connection is lost stays present
 * for the room's `ttl`, so a client that reconnects in time takes its presence over unseen; the
 * members of a node that died leave when the leader cleans it up.
 */
@Injectable()
export class PresenceManager {
  private readonly logger = new Logger('MeshPresence');
  readonly tracked: TrackedRooms;
  /** room ↔ this node's connections subscribed to its presence */
  private readonly subscribers = new TwoWayIndex<string, string>();
  /** Connections lost and waiting out their grace period: what ends it now (at shutdown). */
  private readonly graces = new Map<string, { timers: NodeJS.Timeout[]; finish: () => Promise<void> }>();
  /** `room\nid` → the timer that clears a state when it expires. */
  private readonly expiries = new Map<string, NodeJS.Timeout>();
  private readonly updateCommand: string;

  constructor(
    @Inject(MESH_PRESENCE_STORE) private readonly store: PresenceStore,
    @Inject(MESH_SHARED_STATE) private readonly shared: SharedState,
    @Inject(MESH_MEMBERSHIP_STORE) private readonly nodes: MembershipStore,
    @Inject(MESH_RESOLVED_OPTIONS) private readonly options: ResolvedMeshOptions,
    @Inject(MESH_COMMAND_NAMES) names: BuiltinCommandNames,
    private readonly local: LocalConnections,
    private readonly topics: TopicListeners,
    builtins: BuiltinCommandTable,
    hooks: RoomHooks,
    events: ConnectionEvents,
    membership: NodeMembership,
  ) {
    this.tracked = new TrackedRooms(options.maxClientMetadataBytes);
    this.updateCommand = names.presenceUpdate;
    topics.own('presence', (room, text) => this.deliver(room, text), (room) => this.subscribers.rightsOf(room) !== undefined);
    builtins.add(names.subscribePresence, (c, p) => this.subscribe(c, field(p, 'roomName')));
    builtins.add(names.unsubscribePresence, (c, p) => this.unsubscribe(c, field(p, 'roomName')));
    builtins.add(names.publishPresenceState, (c, p) => this.clientPublishState(c, p));
    builtins.add(names.clearPresenceState, async (c, p) => {
      const room = field(p, 'roomName');
      return (await this.mayUse(c, room)) && this.clearState(c.id, room as string);
    });
    builtins.add(names.getPresenceState, async (c, p) => {
      const room = field(p, 'roomName');
      if (!(await this.mayUse(c, room))) return { success: false, present: [], states: {} };
      const { present, states } = await this.get(room as string);
      return { success: true, present: present.map((member) => member.id), states };
    });
    hooks.add({
      joined: (room, connectionId, owner, claim) => this.joined(room, connectionId, owner, claim),
      left: (room, connectionId) => this.left(room, connectionId),
      cleared: (room) => (this.tracked.of(room) ? this.store.clearRoom(room) : Promise.resolve()),
    });
    events.onDisconnect((connection) => this.connectionLost(connection));
    events.onMetadataChange((connectionId) => this.metadataChanged(connectionId));
    membership.onDeadNode(({ nodeId }) => this.removeDeadNode(nodeId));
  }

  track(pattern: string | RegExp, guardOrOptions?: PresenceGuard | TrackPresenceOptions): void {
    this.tracked.add(pattern, guardOrOptions);
  }

  /** A tracked room's name within `maxNameLength` whose guard lets the connection in. */
  private async mayUse(connection: Connection, room: unknown): Promise<boolean> {
    return typeof room === 'string' && room.length > 0 && room.length <= this.options.maxNameLength && this.tracked.allows(connection, room);
  }

  // ---- reads --------------------------------------------------------------------------------

  /** A room's presence: one read of the store however many members it has. */
  async get(room: string): Promise<RoomPresence> {
    return this.toPresence(await this.store.read(room));
  }

  private toPresence({ members, states }: PresenceSnapshot): RoomPresence {
    const present: PresentMember[] = [];
    for (const [id, { metadataText }] of members) present.push(metadataText ? { id, metadata: JSON.parse(metadataText) } : { id });
    const stateOf: Record<string, unknown> = {};
    for (const [id, { text }] of states) stateOf[id] = JSON.parse(text);
    return { present, states: stateOf };
  }

  // ---- subscriptions ------------------------------------------------------------------------

  private async subscribe(connection: Connection, room: unknown): Promise<unknown> {
    if (!(await this.mayUse(connection, room))) return { success: false, present: [] };
    const name = room as string;
    const mine = this.subscribers.leftsOf(connection.id);
    if (!mine?.has(name) && (mine?.size ?? 0) >= this.options.maxRoomsPerConnection) {
      throw new MeshLimitError(`Connection ${connection.id} watches the presence of ${this.options.maxRoomsPerConnection} rooms already, the most allowed (maxRoomsPerConnection)`);
    }
    this.subscribers.add(name, connection.id);
    // Listening before reading: an update made after the read is heard, none is lost between.
    try {
      await this.topics.sync({ kind: 'presence', name });
    } catch (error) {
      this.dropSubscriber(name, connection.id);
      throw error;
    }
    if (!connection.isOpen) {
      this.dropSubscriber(name, connection.id);
      return { success: false, present: [] };
    }
    let reply: { success: true } & RoomPresence;
    try {
      reply = { success: true, ...(await this.get(name)) };
    } catch (error) {
      this.dropSubscriber(name, connection.id);
      throw error;
    }
    const tooLarge = tooLargeToReply(reply, this.options.maxBufferedAmount);
    if (tooLarge) this.dropSubscriber(name, connection.id);
    return tooLarge ?? reply;
  }

  private async unsubscribe(connection: Connection, room: unknown): Promise<boolean> {
    if (typeof room !== 'string' || !this.subscribers.has(room, connection.id)) return false;
    this.dropSubscriber(room, connection.id);
    return true;
  }

  private dropSubscriber(room: string, connectionId: string): void {
    this.subscribers.delete(room, connectionId);
    void this.topics.sync({ kind: 'presence', name: room }).catch(() => undefined);
  }

  /** An update from the room's topic: to this node's subscribers, the payload spliced in unchanged. */
  private deliver(room: string, text: string): void {
    const ids = this.subscribers.rightsOf(room);
    if (!ids) return;
    if (!isPresenceEventOf(room, text)) return void this.logger.warn(`Dropped a malformed message on the presence topic of "${room.slice(0, 100)}"`);
    const wire = toWire(`{"command":${JSON.stringify(this.updateCommand)},"payload":${text}}`, ids.size);
    for (const id of ids) this.local.get(id)?.sendRaw(wire);
  }

  /** Connections of this node lost and still present, waiting out their `ttl` (diagnostics and tests). */
  get lostConnectionsWaiting(): number {
    return this.graces.size;
  }

  /** Whether a connection of this node watches a room's presence (diagnostics and tests). */
  isSubscribed(room: string, connectionId: string): boolean {
    return this.subscribers.has(room, connectionId);
  }

  // ---- membership ---------------------------------------------------------------------------

  /** What others may see of a member, captured when it joins (docs/presence.md: metadata changed later). */
  private async visibleMetadataText(connectionId: string): Promise<string> {
    const { visibleMetadata, allowClientMetadataReads } = this.options;
    if (!visibleMetadata && !allowClientMetadataReads) return '';
    const metadata = await this.shared.getMetadata(connectionId);
    if (!visibleMetadata) return JSON.stringify(metadata);
    const visible = metadata === null ? undefined : visibleMetadata(metadata, connectionId);
    return visible === undefined ? '' : JSON.stringify(visible);
  }

  /**
   * A member's metadata changed: its entries show the new visible part from now on (in reads and
   * snapshots; no update is pushed, the wire has no type for it).
   */
  private async metadataChanged(connectionId: string): Promise<void> {
    const { visibleMetadata, allowClientMetadataReads } = this.options;
    if (this.tracked.isEmpty || (!visibleMetadata && !allowClientMetadataReads)) return;
    const identities = [...(await this.store.identities(connectionId))].filter(([room]) => this.tracked.of(room));
    if (identities.length === 0) return;
    const text = await this.visibleMetadataText(connectionId);
    await Promise.all(identities.map(([room, id]) => this.store.refreshMetadata(room, id, connectionId, text)));
  }

  private readClaim(claim: unknown): { id: string; secret: string } | undefined {
    const id = field(claim, 'id');
    const secret = field(claim, 'secret');
    if (typeof id !== 'string' || id.length === 0 || id.length > this.options.maxNameLength) return undefined;
    if (typeof secret !== 'string' || secret.length === 0 || secret.length > MAX_SECRET_LENGTH) return undefined;
    return { id, secret };
  }

  private async joined(room: string, connectionId: string, owner: string, claimed: unknown): Promise<{ presence: PresenceTicket } | undefined> {
    if (!this.tracked.of(room)) return undefined;
    const claim = this.readClaim(claimed);
    const secret = randomBytes(SECRET_BYTES).toString('base64url');
    const [metadataText, identities] = await Promise.all([this.visibleMetadataText(connectionId), this.store.identities(connectionId)]);
    const entered = await this.store.enter({
      room,
      connectionId,
      nodeId: owner,
      secretDigest: digestOf(secret),
      metadataText,
      held: identities.get(room),
      claim: claim && { id: claim.id, secretDigest: digestOf(claim.secret) },
    });
    // Closed while joining: its cleanup may have run before the entry was written.
    const connection = this.local.get(connectionId);
    if (owner === this.nodes.nodeId && (!connection || !connection.isOpen)) {
      await this.store.removeConnection(connectionId, owner);
      return undefined;
    }
    if (entered.outcome === 'present') return { presence: { id: entered.id } };
    if (entered.outcome === 'joined') return { presence: { id: entered.id, secret } };
    if (entered.stateExpiresAt) this.scheduleExpiry(room, entered.id, entered.stateExpiresAt);
    return { presence: { id: entered.id, secret: claim!.secret, resumed: true } };
  }

  private async left(room: string, connectionId: string): Promise<void> {
    if (!this.tracked.of(room)) return;
    const id = (await this.store.identities(connectionId)).get(room);
    if (id === undefined) return;
    await this.store.leave(room, id, connectionId);
    await this.store.unindex(connectionId, room);
  }

  /**
   * A connection of this node closed: it stops watching, and its presence ends after each
   * room's `ttl` (at once for 0), unless a reconnect took it over meanwhile (the store then
   * leaves it alone: the identity is held by another connection).
   */
  private async connectionLost(connection: Connection): Promise<void> {
    for (const room of this.subscribers.deleteRight(connection.id)) void this.topics.sync({ kind: 'presence', name: room }).catch(() => undefined);
    if (this.tracked.isEmpty) return;
    const id = connection.id;
    const node = this.nodes.nodeId;
    const byDelay = new Map<number, Array<[string, string]>>();
    for (const [room, held] of await this.store.identities(id)) {
      const delay = this.tracked.of(room)?.ttl ?? 0;
      byDelay.set(delay, [...(byDelay.get(delay) ?? []), [room, held]]);
    }
    const now = byDelay.get(0) ?? [];
    byDelay.delete(0);
    await Promise.all(now.map(([room, held]) => this.store.leave(room, held, id)));
    if (byDelay.size === 0) return this.store.removeConnection(id, node);
    const delays = [...byDelay.keys()].sort((a, b) => a - b);
    let finished = false;
    const finish = async () => {
      if (finished) return;
      finished = true;
      const grace = this.graces.get(id);
      this.graces.delete(id);
      for (const timer of grace?.timers ?? []) clearTimeout(timer);
      await this.store.removeConnection(id, node);
    };
    const timers = delays.map((delay, i) => {
      const last = i === delays.length - 1;
      const timer = setTimeout(() => {
        const ending = last ? finish() : Promise.all(byDelay.get(delay)!.map(([room, held]) => this.store.leave(room, held, id)));
        ending.catch((error: Error) => this.logger.error(`Could not end the presence of ${id}: ${error.message}`));
      }, delay);
      timer.unref();
      return timer;
    });
    this.graces.set(id, { timers, finish });
  }

  /** Leader only: a dead node's members leave (their leaves published), in bounded steps. */
  private async removeDeadNode(nodeId: string): Promise<void> {
    let removed = 0;
    for (;;) {
      const step = await this.store.removeNodePresence(nodeId);
      removed += step.removed;
      if (step.left === 0) break;
    }
    if (removed) this.logger.log(`Removed the presence of ${removed} connection(s) of dead node ${nodeId}`);
  }

  /**
   * At shutdown, after the sockets closed: presence waiting out a grace period ends now (no
   * node would end it later); a client that reconnected elsewhere already took its over.
   */
  async shutdown(): Promise<void> {
    for (const timer of this.expiries.values()) clearTimeout(timer);
    this.expiries.clear();
    await Promise.all([...this.graces.values()].map((grace) => grace.finish().catch(() => undefined)));
  }

  // ---- states -------------------------------------------------------------------------------

  /** `<prefix>/publish-presence-state`: false when refused as the reference servers refuse; an error for a hostile payload. */
  private async clientPublishState(connection: Connection, payload: Record<string, unknown>): Promise<boolean> {
    const room = field(payload, 'roomName');
    const state = field(payload, 'state');
    if (!state || !(await this.mayUse(connection, room))) return false;
    return this.publishState(connection.id, room as string, state, { expireAfter: field(payload, 'expireAfter') as number | undefined, silent: field(payload, 'silent') as boolean | undefined });
  }

  /** Stores a member's state; false when the connection is not present in the room (or the room is not tracked). */
  async publishState(connectionId: string, room: string, state: unknown, { expireAfter, silent }: PublishPresenceStateOptions = {}): Promise<boolean> {
    const tracked = this.tracked.of(room);
    if (!tracked || state === undefined) return false;
    if (expireAfter !== undefined && expireAfter !== null && (typeof expireAfter !== 'number' || !Number.isInteger(expireAfter) || expireAfter <= 0 || expireAfter > MAX_EXPIRE_AFTER_MS)) {
      throw new MeshValidationError(`expireAfter must be a whole number of ms from 1 to ${MAX_EXPIRE_AFTER_MS}`);
    }
    if (silent !== undefined && silent !== null && typeof silent !== 'boolean') throw new MeshValidationError('silent must be a boolean');
    const text = JSON.stringify(state);
    const bytes = Buffer.byteLength(text);
    if (bytes > tracked.maxStateBytes) throw new MeshLimitError(`A presence state of ${bytes} bytes is over the ${tracked.maxStateBytes} allowed (maxStateBytes)`);
    const id = (await this.store.identities(connectionId)).get(room);
    if (id === undefined) return false;
    const expiresAt = expireAfter ? Date.now() + expireAfter : 0;
    const stored = await this.store.setState(room, id, connectionId, text, expiresAt, silent === true);
    if (stored && expiresAt) this.scheduleExpiry(room, id, expiresAt);
    return stored;
  }

  async clearState(connectionId: string, room: string): Promise<boolean> {
    if (!this.tracked.of(room)) return false;
    const id = (await this.store.identities(connectionId)).get(room);
    return id !== undefined && this.store.clearState(room, id, connectionId);
  }

  /**
   * The node that stored an expiring state clears it when it expires (Redis 7.0 has no per-field
   * expiry, and reads hide it from then on anyway); the expiry it was set for is checked, so a
   * state published since survives. A node that dies first leaves it hidden, not published.
   */
  private scheduleExpiry(room: string, id: string, expiresAt: number): void {
    const key = `${room}\n${id}`;
    clearTimeout(this.expiries.get(key));
    const timer = setTimeout(() => {
      this.expiries.delete(key);
      this.store.expireState(room, id, expiresAt).catch((error: Error) => this.logger.warn(`Could not clear an expired presence state in "${room.slice(0, 100)}": ${error.message}`));
    }, Math.max(0, expiresAt - Date.now()));
    timer.unref();
    this.expiries.set(key, timer);
  }
}
