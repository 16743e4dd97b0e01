import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Connection } from '../connection/connection';
import { ExposureList, type ExposureGuard } from '../common/exposure-list';
import { TopicListeners } from '../delivery/topic-listeners';
import { MeshError, MeshLimitError } from '../errors';
import type { ResolvedMeshOptions } from '../interfaces/mesh-module-options.interface';
import { MESH_COMMAND_NAMES, MESH_RECORD_STORE } from '../mesh.constants';
import { MESH_RESOLVED_OPTIONS } from '../mesh-options';
import type { BuiltinCommandNames } from '../protocol';
import type { RecordChange, RecordStore, StoredRecord } from '../state/records/record-store';
import { toWire, type PreparedFrame } from '../transport/prepared-frame';
import { RecordFrames } from './record-frames';
import { decodeRecordMessage, encodeRecordDelete, encodeRecordWrite, type RecordMessage } from './record-message';
import { RecordSubscriptions, type RecordMode, type RecordSubscription } from './record-subscriptions';
import { computeWrite, type RecordWriteStrategy } from './record-value';

/** What `writeRecord` takes besides the id and the value. */
export interface WriteRecordOptions {
  /** `replace` (default), `merge` (shallow) or `deepMerge` (objects only; arrays replace). */
  strategy?: RecordWriteStrategy;
}

/** One operation of a transaction. */
export type RecordOperation = { op: 'write'; recordId: string; value: unknown; options?: WriteRecordOptions } | { op: 'delete'; recordId: string };

/** What each operation of a transaction did: the record's version after the transaction (a delete takes a version too). */
export interface RecordOperationResult {
  op: 'write' | 'delete';
  recordId: string;
  success: boolean;
  version: number;
  /** Why it failed (only on a cluster, where operations on records of other slots are separate steps). */
  error?: string;
}

/** A record as read: its value (null when it does not exist) and its version (0 then). */
export interface RecordSnapshot<T = unknown> {
  value: T | null;
  version: number;
}

/** A compare-and-set that keeps losing to other writers is given up after this many tries. */
const MAX_COMMIT_ATTEMPTS = 100;
/** A commit refused because another writer is about to retry: give it this long (ms) before trying again. */
const BLOCKED_RETRY_MS = 1;
const waitForWaiter = () => new Promise<void>((resolve) => setTimeout(resolve, BLOCKED_RETRY_MS));

/** Writes one node lets wait for one record (see `queued`). */
export const MAX_QUEUED_WRITES_PER_RECORD = 1000;

const parse = (stored: StoredRecord): unknown => (stored.json === null ? null : JSON.parse(stored.json));

/**
 * Versioned JSON records shared by every node: writes (a compare-and-set per record, retried
 * against the value that won), deletes, transactions, and this node's subscribers, who get each
 * version in order, exactly once, after their subscribe reply (see docs/records.md).
 */
@Injectable()
export class RecordManager {
  private readonly logger = new Logger('MeshRecords');
  readonly readable = new ExposureList('Record');
  readonly writable = new ExposureList('WritableRecord');
  readonly subscriptions = new RecordSubscriptions();
  private readonly frames: RecordFrames;
  /**
   * Writes of this node per record, one after the other (they never conflict with each other),
   * with what the last of them committed: the next starts from it instead of reading the record
   * again (the compare-and-set still catches a write from elsewhere). Dropped when the queue drains.
   */
  private readonly writeQueues = new Map<string, { tail: Promise<unknown>; length: number; last?: StoredRecord }>();
  private readonly interests: Array<(recordId: string) => boolean> = [];
  private readonly commitListeners: Array<(recordIds: string[]) => void> = [];
  private readonly updateListeners: Array<(recordId: string, message: RecordMessage) => void> = [];

  constructor(
    @Inject(MESH_RECORD_STORE) private readonly store: RecordStore,
    @Inject(MESH_RESOLVED_OPTIONS) private readonly options: ResolvedMeshOptions,
    @Inject(MESH_COMMAND_NAMES) names: BuiltinCommandNames,
    private readonly topics: TopicListeners,
  ) {
    this.frames = new RecordFrames(names);
    topics.own('record', (recordId, text) => this.deliver(recordId, text), (recordId) => this.subscriptions.has(recordId) || this.interests.some((wants) => wants(recordId)));
  }

  // ---- hooks for collections ------------------------------------------------------------

  /** Another component also wants a record's updates heard here (collection members). */
  addInterest(wants: (recordId: string) => boolean): void {
    this.interests.push(wants);
  }

  onCommitted(listener: (recordIds: string[]) => void): void {
    this.commitListeners.push(listener);
  }

  onUpdate(listener: (recordId: string, message: RecordMessage) => void): void {
    this.updateListeners.push(listener);
  }

  /** Listens to a record's topic exactly while someone here wants it. */
  syncTopic(recordId: string): Promise<void> {
    return this.topics.sync({ kind: 'record', name: recordId });
  }

  // ---- exposure ---------------------------------------------------------------------------

  expose(pattern: string | RegExp, guard?: ExposureGuard): void {
    this.readable.add(pattern, guard);
  }

  exposeWritable(pattern: string | RegExp, guard?: ExposureGuard): void {
    this.writable.add(pattern, guard);
  }

  /** A record id a client may name: a non-empty string within `maxNameLength`. */
  isValidId(recordId: unknown): recordId is string {
    return typeof recordId === 'string' && recordId.length > 0 && recordId.length <= this.options.maxNameLength;
  }

  /** Readable: exposed with `exposeRecord` (its guard allows), or writable by this connection (which implies readable). */
  async mayRead(connection: Connection, recordId: unknown): Promise<boolean> {
    if (!this.isValidId(recordId)) return false;
    return (await this.writable.allows(connection, recordId)) || this.readable.allows(connection, recordId);
  }

  async mayWrite(connection: Connection, recordId: unknown): Promise<boolean> {
    return this.isValidId(recordId) && this.writable.allows(connection, recordId);
  }

  // ---- reads and writes -------------------------------------------------------------------

  async get<T = unknown>(recordId: string): Promise<RecordSnapshot<T>> {
    const stored = await this.store.get(recordId);
    return { value: parse(stored) as T | null, version: stored.version };
  }

  async getMany(recordIds: readonly string[]): Promise<Array<RecordSnapshot & { json: string | null }>> {
    const stored = await this.store.getMany(recordIds);
    return stored.map((record) => ({ value: parse(record), version: record.version, json: record.json }));
  }

  listIds(prefix: string, limit: number): Promise<string[]> {
    return this.store.listIds(prefix, limit);
  }

  /**
   * Writes a record; resolves with its version afterwards (unchanged when the write changed
   * nothing). `maxBytes` limits the stored JSON (client writes).
   */
  write(recordId: string, value: unknown, strategy: RecordWriteStrategy = 'replace', maxBytes = Infinity): Promise<number> {
    return this.queued(recordId, async (queue) => {
      let current = queue.last ?? (await this.store.get(recordId));
      // Only lost races count: a wait for another writer's retry (blocked) ends by itself.
      for (let conflicts = 0; ; ) {
        const computed = computeWrite(current.json, value, strategy);
        if (!computed) return current.version;
        if (Buffer.byteLength(computed.json) > maxBytes) throw new MeshLimitError(`Record "${recordId.slice(0, 100)}" would be over ${maxBytes} bytes (maxRecordBytes)`);
        const version = current.version + 1;
        const change: RecordChange = { id: recordId, op: 'write', expected: current.version, json: computed.json, creates: current.json === null, message: encodeRecordWrite(version, computed.json, JSON.stringify(computed.patch)) };
        const outcome = await this.store.commit([change]);
        if (outcome.committed) {
          queue.last = { json: computed.json, version };
          this.committed([recordId]);
          return version;
        }
        queue.last = undefined;
        if (!outcome.blocked && ++conflicts >= MAX_COMMIT_ATTEMPTS) throw new MeshError(`Record "${recordId.slice(0, 100)}" changed ${conflicts} times while being written; gave up`);
        current = outcome.current;
        if (outcome.blocked) await waitForWaiter();
      }
    });
  }

  /**
   * Deletes a record (its subscribers are told and dropped); false if it did not exist. The
   * delete takes the next version, and a later write the one after: versions never repeat.
   */
  delete(recordId: string): Promise<boolean> {
    return this.queued(recordId, async (queue) => {
      let current = queue.last ?? (await this.store.get(recordId));
      // Only lost races count: a wait for another writer's retry (blocked) ends by itself.
      for (let conflicts = 0; ; ) {
        if (current.json === null) return false;
        const outcome = await this.store.commit([{ id: recordId, op: 'delete', expected: current.version, message: encodeRecordDelete(current.version + 1) }]);
        if (outcome.committed) {
          queue.last = { json: null, version: current.version + 1 };
          this.committed([recordId]);
          return true;
        }
        queue.last = undefined;
        if (!outcome.blocked && ++conflicts >= MAX_COMMIT_ATTEMPTS) throw new MeshError(`Record "${recordId.slice(0, 100)}" changed ${conflicts} times while being deleted; gave up`);
        current = outcome.current;
        if (outcome.blocked) await waitForWaiter();
      }
    });
  }

  /**
   * Applies operations all-or-nothing per slot: everywhere outside Redis Cluster that is all of
   * them; on a cluster, records whose ids share a hash tag (`doc:{team}:a`) share a slot. Several
   * operations on one record apply in order. A group that fails is reported in its results.
   */
  async transaction(operations: readonly RecordOperation[], maxBytes = Infinity): Promise<RecordOperationResult[]> {
    const groups = new Map<string, number[]>();
    operations.forEach((operation, index) => {
      const slot = this.store.slotOf(operation.recordId);
      const group = groups.get(slot);
      if (group) group.push(index);
      else groups.set(slot, [index]);
    });
    const results: RecordOperationResult[] = new Array(operations.length);
    await Promise.all(
      [...groups.values()].map(async (indexes) => {
        const group = indexes.map((index) => operations[index]);
        try {
          const versions = await this.commitGroup(group, maxBytes);
          indexes.forEach((index, i) => (results[index] = { op: operations[index].op, recordId: operations[index].recordId, success: true, version: versions[i] }));
        } catch (error) {
          if (groups.size === 1) throw error;
          for (const index of indexes) results[index] = { op: operations[index].op, recordId: operations[index].recordId, success: false, version: 0, error: (error as Error).message };
        }
      }),
    );
    return results;
  }

  /**
   * One slot's operations as one compare-and-set: each record's operations are folded in order
   * from its stored value, and the record commits once, from where it was to where it ends.
   * Resolves with each operation's record version after the commit (a delete takes one too).
   */
  private async commitGroup(operations: readonly RecordOperation[], maxBytes: number): Promise<number[]> {
    const ids = [...new Set(operations.map((operation) => operation.recordId))];
    // Only lost races count: a wait for another writer's retry (blocked) ends by itself.
    for (let conflicts = 0; ; ) {
      const stored = await this.store.getMany(ids);
      const end = new Map<string, string | null>(ids.map((id, i) => [id, stored[i].json]));
      for (const operation of operations) {
        if (operation.op === 'delete') {
          end.set(operation.recordId, null);
          continue;
        }
        const current = end.get(operation.recordId) ?? null;
        const computed = computeWrite(current, operation.value, operation.options?.strategy ?? 'replace');
        if (!computed) continue;
        if (Buffer.byteLength(computed.json) > maxBytes) throw new MeshLimitError(`Record "${operation.recordId.slice(0, 100)}" would be over ${maxBytes} bytes (maxRecordBytes)`);
        end.set(operation.recordId, computed.json);
      }
      const changes: RecordChange[] = [];
      const finalVersion = new Map<string, number>();
      ids.forEach((id, i) => {
        const before = stored[i];
        const after = end.get(id) ?? null;
        if (after === null) {
          if (before.json === null) return void finalVersion.set(id, before.version);
          finalVersion.set(id, before.version + 1);
          changes.push({ id, op: 'delete', expected: before.version, message: encodeRecordDelete(before.version + 1) });
          return;
        }
        const computed = computeWrite(before.json, JSON.parse(after), 'replace');
        if (!computed) return void finalVersion.set(id, before.version);
        const version = before.version + 1;
        finalVersion.set(id, version);
        changes.push({ id, op: 'write', expected: before.version, json: computed.json, creates: before.json === null, message: encodeRecordWrite(version, computed.json, JSON.stringify(computed.patch)) });
      });
      const outcome = changes.length === 0 ? ({ committed: true } as const) : await this.store.commit(changes);
      if (outcome.committed) {
        if (changes.length) this.committed(changes.map((change) => change.id));
        return operations.map((operation) => finalVersion.get(operation.recordId)!);
      }
      if (!outcome.blocked && ++conflicts >= MAX_COMMIT_ATTEMPTS) throw new MeshError(`Records changed ${conflicts} times while a transaction was being applied; gave up`);
      if (outcome.blocked) await waitForWaiter();
    }
  }

  private committed(recordIds: string[]): void {
    for (const listener of this.commitListeners) listener(recordIds);
  }

  /**
   * Runs a write after this node's earlier writes to the record. At most
   * MAX_QUEUED_WRITES_PER_RECORD wait: past that the write is refused (`MeshLimitError`) rather
   * than queued without bound behind a record written faster than Redis can commit it.
   */
  private queued<T>(recordId: string, work: (queue: { last?: StoredRecord }) => Promise<T>): Promise<T> {
    let queue = this.writeQueues.get(recordId);
    if (queue && queue.length >= MAX_QUEUED_WRITES_PER_RECORD) {
      return Promise.reject(new MeshLimitError(`${MAX_QUEUED_WRITES_PER_RECORD} writes to record "${recordId.slice(0, 100)}" are already waiting on this node; try again later`));
    }
    if (!queue) this.writeQueues.set(recordId, (queue = { tail: Promise.resolve(), length: 0 }));
    const current = queue;
    current.length++;
    const run = () => work(current);
    const next = current.tail.then(run, run);
    current.tail = next.then(
      () => undefined,
      () => undefined,
    );
    void current.tail.then(() => {
      if (--current.length === 0 && this.writeQueues.get(recordId) === current) this.writeQueues.delete(recordId);
    });
    return next;
  }

  // ---- subscribers ------------------------------------------------------------------------

  /**
   * Subscribes a connection: listens to the record's topic first, then reads it, so no version
   * after the one read is missed; updates heard meanwhile are held and sent after the reply
   * (`release`). Throws `MeshLimitError` past `maxRecordsPerConnection`; undefined when the
   * connection closed meanwhile.
   */
  async subscribe(connection: Connection, recordId: string, mode: RecordMode): Promise<{ subscription: RecordSubscription; record: RecordSnapshot } | undefined> {
    if (!this.subscriptions.get(connection, recordId) && this.subscriptions.countOf(connection) >= this.options.maxRecordsPerConnection) {
      throw new MeshLimitError(`This connection is subscribed to ${this.options.maxRecordsPerConnection} records, the most allowed (maxRecordsPerConnection)`);
    }
    // Closed while its guard ran: its cleanup is done, so nothing may be added for it now.
    if (!connection.isOpen) return undefined;
    const subscription = this.subscriptions.add(connection, recordId, mode);
    try {
      await this.syncTopic(recordId);
      const record = await this.get(recordId);
      subscription.version = record.version;
      return { subscription, record };
    } catch (error) {
      await this.unsubscribe(connection, recordId, subscription);
      throw error;
    }
  }

  /** Sends what was held for a subscription while its reply was on the way (versions after the reply's only). */
  release(connection: Connection, recordId: string, subscription: RecordSubscription): void {
    // A turn of the event loop later, not in the reply's own write: a client that reads both in
    // one chunk may handle the update before the reply (@prsm/realtime's client then keeps the
    // reply's older value). Updates that come meanwhile are still held, so the order stays.
    setImmediate(() => {
      const held = subscription.held ?? [];
      subscription.held = undefined;
      // Replaced by a newer subscribe, or unsubscribed, while its reply was on the way: nothing to send.
      if (this.subscriptions.get(connection, recordId) !== subscription) return;
      for (const message of held) this.sendTo(connection, recordId, subscription, message, this.frames.of(recordId, message, subscription.mode));
    });
  }

  async unsubscribe(connection: Connection, recordId: unknown, only?: RecordSubscription): Promise<boolean> {
    if (typeof recordId !== 'string' || !this.subscriptions.remove(connection, recordId, only)) return false;
    await this.syncTopic(recordId);
    return true;
  }

  async removeConnection(connection: Connection): Promise<void> {
    await Promise.all(this.subscriptions.removeConnection(connection).map((recordId) => this.syncTopic(recordId)));
  }

  private sendTo(connection: Connection, recordId: string, subscription: RecordSubscription, message: RecordMessage, frame: string | PreparedFrame): void {
    if (message.version <= subscription.version) return;
    subscription.version = message.version;
    connection.sendRaw(frame);
    if (message.deleted) this.subscriptions.remove(connection, recordId, subscription);
  }

  /** A record's update from its topic: to this node's subscribers, each frame encoded once per mode. */
  private deliver(recordId: string, text: string): void {
    const message = decodeRecordMessage(text);
    if (!message) return void this.logger.warn(`Dropped a malformed update of record "${recordId.slice(0, 100)}"`);
    const subscribers = this.subscriptions.of(recordId);
    if (subscribers) {
      const frames = new Map<RecordMode, string | PreparedFrame>();
      for (const [connection, subscription] of [...subscribers]) {
        if (subscription.held) {
          subscription.held.push(message);
          continue;
        }
        let frame = frames.get(subscription.mode);
        if (!frame) frames.set(subscription.mode, (frame = toWire(this.frames.of(recordId, message, subscription.mode), subscribers.size)));
        this.sendTo(connection, recordId, subscription, message, frame);
      }
      if (message.deleted) void this.syncTopic(recordId).catch(() => undefined);
    }
    for (const listener of this.updateListeners) listener(recordId, message);
  }

  /**
   * The subscription connection came back after a drop: updates published meanwhile were lost.
   * Every subscriber here whose record moved on gets its current value in full (a patch
   * subscriber too: both clients take a full update in any mode).
   */
  async resync(): Promise<void> {
    const ids = [...this.subscriptions.records()];
    if (ids.length === 0) return;
    const stored = await this.store.getMany(ids);
    ids.forEach((recordId, i) => {
      const record = stored[i];
      for (const [connection, subscription] of [...(this.subscriptions.of(recordId) ?? [])]) {
        if (subscription.held || record.version === subscription.version) continue;
        if (record.json === null) {
          this.sendTo(connection, recordId, subscription, { version: record.version, deleted: true }, this.frames.deleted(recordId, record.version));
          continue;
        }
        subscription.version = record.version;
        connection.sendRaw(this.frames.full(recordId, record.version, record.json));
      }
    });
  }
}
