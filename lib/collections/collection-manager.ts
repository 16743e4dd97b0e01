import { Inject, Injectable, Logger } from '@nestjs/common';
import { ReplyThen } from '../commands/reply-then';
import type { Connection } from '../connection/connection';
import { TopicListeners } from '../delivery/topic-listeners';
import { MeshLimitError } from '../errors';
import type { ResolvedMeshOptions } from '../interfaces/mesh-module-options.interface';
import { MESH_COMMAND_NAMES } from '../mesh.constants';
import { MESH_RESOLVED_OPTIONS } from '../mesh-options';
import { collectionMember, encodeFrame, type BuiltinCommandNames, type ErrorPayload } from '../protocol';
import { RecordFrames } from '../records/record-frames';
import { RecordManager } from '../records/record-manager';
import type { RecordMessage } from '../records/record-message';
import { tooLargeToReply } from '../transport/reply-encoder';
import { CollectionExposures } from './collection-exposures';

/** Record changes are gathered this long before a collection is resolved again... */
const DEBOUNCE_MS = 50;
/** ...and never for longer than this after the first one. */
const MAX_DELAY_MS = 200;
/** The topic every node with collection subscribers listens to: ids of records that changed. */
const CHANGES = { kind: 'collection' as const, name: 'records' };

interface CollectionSubscription {
  connection: Connection;
  collectionId: string;
  /** The members as last sent, in the resolver's order. */
  ids: string[];
  /** Each member's record version as last sent. */
  versions: Map<string, number>;
  version: number;
  /** Member updates heard while the subscribe reply is on its way. */
  held?: Array<[string, RecordMessage]>;
  /** A record changed while this subscription was being made: resolve it again once it is. */
  dirty?: boolean;
}

interface PendingResolve {
  timer: NodeJS.Timeout;
  deadline: number;
}

/** What `<prefix>/subscribe-collection` answers. */
export interface CollectionSubscribeReply {
  success: boolean;
  ids: string[];
  records: Array<{ id: string; record: unknown }>;
  version: number;
}

/**
 * Collections: live sets of records that a resolver picks per connection. This node keeps each
 * local subscription's members; when a record changes anywhere, the collections that watch it
 * are resolved again (debounced), and what came in or went out is pushed as a diff with the next
 * version. Members' own updates are pushed as full record updates, in version order.
 */
@Injectable()
export class CollectionManager {
  private readonly logger = new Logger('MeshCollections');
  readonly exposures = new CollectionExposures();
  private readonly byCollection = new Map<string, Map<Connection, CollectionSubscription>>();
  private readonly byConnection = new Map<Connection, Map<string, CollectionSubscription>>();
  /** record id → the local subscriptions it is a member of */
  private readonly members = new Map<string, Set<CollectionSubscription>>();
  private readonly pending = new Map<string, PendingResolve>();
  private readonly resolving = new Map<string, Promise<void>>();
  private readonly frames: RecordFrames;
  private readonly diffCommand: string;

  constructor(
    @Inject(MESH_RESOLVED_OPTIONS) private readonly options: ResolvedMeshOptions,
    @Inject(MESH_COMMAND_NAMES) names: BuiltinCommandNames,
    private readonly records: RecordManager,
    private readonly topics: TopicListeners,
  ) {
    this.frames = new RecordFrames(names);
    this.diffCommand = names.collectionDiff;
    records.addInterest((recordId) => this.members.has(recordId));
    records.onUpdate((recordId, message) => this.memberUpdated(recordId, message));
    records.onCommitted((recordIds) => {
      if (this.exposures.any) this.topics.publish(CHANGES, JSON.stringify(recordIds)).catch((error: Error) => this.logger.warn(`Could not announce a record change to collections: ${error.message}`));
    });
    topics.own('collection', (_name, text) => this.recordsChanged(text), (name) => name === CHANGES.name && this.byCollection.size > 0);
  }

  /**
   * `<prefix>/subscribe-collection`: the members now, with their records; diffs follow the reply.
   * Listens for record changes before resolving, so a change made meanwhile resolves it again.
   */
  async subscribe(connection: Connection, collectionId: unknown): Promise<CollectionSubscribeReply | ErrorPayload | ReplyThen> {
    const refused: CollectionSubscribeReply = { success: false, ids: [], records: [], version: 0 };
    if (typeof collectionId !== 'string' || collectionId.length === 0 || collectionId.length > this.options.maxNameLength) return refused;
    if (!(await this.exposures.allows(connection, collectionId))) return refused;
    // Closed while its guard ran: its cleanup is done, so nothing may be added for it now.
    if (!connection.isOpen) return refused;
    const mine = this.byConnection.get(connection);
    if (!mine?.has(collectionId) && (mine?.size ?? 0) >= this.options.maxCollectionsPerConnection) {
      const error = new MeshLimitError(`This connection is subscribed to ${this.options.maxCollectionsPerConnection} collections, the most allowed (maxCollectionsPerConnection)`);
      return { error: error.message, code: error.code, name: error.name };
    }
    const replaced = this.remove(connection, collectionId) ?? [];
    const subscription: CollectionSubscription = { connection, collectionId, ids: [], versions: new Map(), version: 1, held: [] };
    this.add(subscription);
    try {
      await Promise.all([this.topics.sync(CHANGES), ...replaced.map((recordId) => this.records.syncTopic(recordId))]);
      const ids = await this.resolve(connection, collectionId);
      const records = await this.join(subscription, ids);
      const reply: CollectionSubscribeReply = { success: true, ids, records: ids.map((id, i) => ({ id, record: records[i] })), version: subscription.version };
      const tooLarge = tooLargeToReply(reply, this.options.maxBufferedAmount);
      if (tooLarge) {
        await this.unsubscribe(connection, collectionId);
        return tooLarge;
      }
      return new ReplyThen(reply, () => this.release(subscription));
    } catch (error) {
      await this.unsubscribe(connection, collectionId);
      this.logger.warn(`Collection "${collectionId.slice(0, 100)}" could not be resolved: ${(error as Error).message}`);
      return refused;
    }
  }

  async unsubscribe(connection: Connection, collectionId: unknown): Promise<boolean> {
    if (typeof collectionId !== 'string') return false;
    const removed = this.remove(connection, collectionId);
    if (!removed) return false;
    await Promise.all([this.topics.sync(CHANGES), ...removed.map((recordId) => this.records.syncTopic(recordId))]);
    return true;
  }

  async removeConnection(connection: Connection): Promise<void> {
    const collections = [...(this.byConnection.get(connection)?.keys() ?? [])];
    await Promise.all(collections.map((collectionId) => this.unsubscribe(connection, collectionId)));
  }

  // ---- members ----------------------------------------------------------------------------

  private add(subscription: CollectionSubscription): void {
    let subscribers = this.byCollection.get(subscription.collectionId);
    if (!subscribers) this.byCollection.set(subscription.collectionId, (subscribers = new Map()));
    subscribers.set(subscription.connection, subscription);
    let mine = this.byConnection.get(subscription.connection);
    if (!mine) this.byConnection.set(subscription.connection, (mine = new Map()));
    mine.set(subscription.collectionId, subscription);
  }

  /** Forgets a subscription; returns the records it held (their topics need a sync), or undefined if there was none. */
  private remove(connection: Connection, collectionId: string): string[] | undefined {
    const subscription = this.byConnection.get(connection)?.get(collectionId);
    if (!subscription) return undefined;
    this.byConnection.get(connection)!.delete(collectionId);
    if (this.byConnection.get(connection)!.size === 0) this.byConnection.delete(connection);
    const subscribers = this.byCollection.get(collectionId)!;
    subscribers.delete(connection);
    if (subscribers.size === 0) this.byCollection.delete(collectionId);
    for (const recordId of subscription.ids) this.leaveMember(recordId, subscription);
    return subscription.ids;
  }

  private leaveMember(recordId: string, subscription: CollectionSubscription): void {
    const set = this.members.get(recordId);
    set?.delete(subscription);
    if (set?.size === 0) this.members.delete(recordId);
  }

  /** Makes ids members (listening to their records first), then reads their records. */
  private async join(subscription: CollectionSubscription, ids: readonly string[]): Promise<unknown[]> {
    for (const recordId of ids) {
      let set = this.members.get(recordId);
      if (!set) this.members.set(recordId, (set = new Set()));
      set.add(subscription);
    }
    subscription.ids = [...new Set([...subscription.ids, ...ids])];
    await Promise.all(ids.map((recordId) => this.records.syncTopic(recordId)));
    const read = await this.records.getMany(ids);
    ids.forEach((recordId, i) => subscription.versions.set(recordId, read[i].version));
    return read.map((record) => record.value);
  }

  private async resolve(connection: Connection, collectionId: string): Promise<string[]> {
    const exposure = this.exposures.match(collectionId);
    if (!exposure) throw new Error('not exposed');
    const members = await exposure.resolver(connection, collectionId);
    if (!Array.isArray(members)) throw new TypeError('the resolver must return an array of record ids (or of objects with an id)');
    const ids = members.map((member: unknown) => (typeof member === 'string' ? member : (member as { id?: unknown } | null)?.id));
    if (ids.some((id) => typeof id !== 'string' || id.length === 0)) throw new TypeError('the resolver returned a member without a string id');
    return [...new Set(ids as string[])];
  }

  /** As `RecordManager.release`: a turn of the event loop after the reply. */
  private release(subscription: CollectionSubscription): void {
    setImmediate(() => this.flush(subscription));
  }

  private flush(subscription: CollectionSubscription): void {
    const held = subscription.held ?? [];
    subscription.held = undefined;
    for (const [recordId, message] of held) this.sendMemberUpdate(subscription, recordId, message);
    if (subscription.dirty) {
      subscription.dirty = false;
      this.schedule(subscription.collectionId);
    }
  }

  /** A member's record changed: its subscribers get it in full, unless they subscribe to the record itself (that subscription carries it). */
  private memberUpdated(recordId: string, message: RecordMessage): void {
    if (message.deleted) return;
    for (const subscription of this.members.get(recordId) ?? []) {
      if (subscription.held) subscription.held.push([recordId, message]);
      else this.sendMemberUpdate(subscription, recordId, message);
    }
  }

  private sendMemberUpdate(subscription: CollectionSubscription, recordId: string, message: RecordMessage): void {
    if (message.deleted || !subscription.ids.includes(recordId)) return;
    if (message.version <= (subscription.versions.get(recordId) ?? 0)) return;
    subscription.versions.set(recordId, message.version);
    if (this.records.subscriptions.get(subscription.connection, recordId)) return;
    subscription.connection.sendRaw(this.frames.full(recordId, message.version, message.full));
  }

  // ---- resolving again --------------------------------------------------------------------

  private recordsChanged(text: string): void {
    let recordIds: unknown;
    try {
      recordIds = JSON.parse(text);
    } catch {
      recordIds = undefined;
    }
    if (!Array.isArray(recordIds)) return void this.logger.warn('Dropped a malformed record-change message');
    for (const collectionId of this.byCollection.keys()) {
      if (recordIds.some((id) => typeof id === 'string' && this.exposures.watches(collectionId, id))) this.schedule(collectionId);
    }
  }

  /** Resolves a collection again after DEBOUNCE_MS of quiet, or MAX_DELAY_MS after the first change at most. */
  private schedule(collectionId: string): void {
    const now = Date.now();
    const pending = this.pending.get(collectionId);
    if (pending) clearTimeout(pending.timer);
    const deadline = pending?.deadline ?? now + MAX_DELAY_MS;
    const timer = setTimeout(() => {
      this.pending.delete(collectionId);
      void this.resolveAgain(collectionId);
    }, Math.max(0, Math.min(DEBOUNCE_MS, deadline - now)));
    timer.unref();
    this.pending.set(collectionId, { timer, deadline });
  }

  /** One run per collection at a time (a resolver may await): versions are never sent twice. */
  private resolveAgain(collectionId: string): Promise<void> {
    const previous = this.resolving.get(collectionId) ?? Promise.resolve();
    const next = previous.then(() => this.diffAll(collectionId));
    this.resolving.set(collectionId, next);
    void next.finally(() => {
      if (this.resolving.get(collectionId) === next) this.resolving.delete(collectionId);
    });
    return next;
  }

  private async diffAll(collectionId: string): Promise<void> {
    for (const subscription of [...(this.byCollection.get(collectionId)?.values() ?? [])]) {
      if (subscription.held) {
        subscription.dirty = true;
        continue;
      }
      try {
        await this.diffOne(subscription);
      } catch (error) {
        this.logger.warn(`Collection "${collectionId.slice(0, 100)}" could not be resolved again for ${subscription.connection.id}: ${(error as Error).message}`);
      }
    }
  }

  private async diffOne(subscription: CollectionSubscription): Promise<void> {
    const { connection, collectionId } = subscription;
    if (!connection.isOpen) return;
    const ids = await this.resolve(connection, collectionId);
    // Unsubscribed (or subscribed again) while the resolver ran: that subscription is not this one.
    if (this.byConnection.get(connection)?.get(collectionId) !== subscription) return;
    const now = new Set(ids);
    const before = new Set(subscription.ids);
    const added = ids.filter((id) => !before.has(id));
    const removed = subscription.ids.filter((id) => !now.has(id));
    if (added.length === 0 && removed.length === 0) return;
    for (const recordId of removed) {
      this.leaveMember(recordId, subscription);
      subscription.versions.delete(recordId);
    }
    subscription.ids = subscription.ids.filter((id) => now.has(id));
    const records = await this.join(subscription, added);
    subscription.ids = ids;
    subscription.version += 1;
    const payload = { collectionId, added: added.map((id, i) => collectionMember(id, records[i])), removed: removed.map((id) => ({ id })), version: subscription.version };
    connection.sendRaw(encodeFrame({ command: this.diffCommand, payload }));
    await Promise.all(removed.map((recordId) => this.records.syncTopic(recordId)));
  }
}
