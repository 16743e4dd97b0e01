import { applyPatch, type Operation } from 'fast-json-patch';
import { collectionMember, type BuiltinCommandNames } from '../lib/protocol';
import { MeshResubscribeError } from './errors';

/** How a record subscription receives updates: each whole value, or JSON Patches applied here. */
export type RecordMode = 'full' | 'patch';

/** What a record subscription's callback receives. */
export interface RecordUpdate<T = unknown> {
  recordId: string;
  /** The record's value now: null when it does not exist (or was just deleted). */
  value: T | null;
  version: number;
  /** Patch mode: the JSON Patch (RFC 6902) that led from the previous value to this one; absent on a first value or a resync. */
  patch?: Operation[];
  /** The record was deleted; the subscription ended. */
  deleted?: boolean;
}

export type RecordCallback<T = unknown> = (update: RecordUpdate<T>) => void;

/** `subscribeRecord`'s reply. */
export interface RecordSubscribeResult<T = unknown> {
  success: boolean;
  record: T | null;
  version: number;
}

/** A collection member: its id and its record (an object record carries its id too, as the server sends it). */
export interface CollectionMember {
  id: string;
  record: unknown;
}

/** What a collection's `onDiff` receives. */
export interface CollectionDiff {
  collectionId: string;
  added: CollectionMember[];
  removed: Array<{ id: string }>;
  changed: CollectionMember[];
  version: number;
  /** The whole collection (first value, or after a resync): `added` lists every member; forget the previous ones. */
  reset?: boolean;
}

export interface CollectionSubscribeResult {
  success: boolean;
  ids: string[];
  records: CollectionMember[];
  version: number;
}

/** A write or delete in `transaction()`. */
export type RecordOperation = { op: 'write'; recordId: string; value: unknown; options?: { strategy?: 'replace' | 'merge' | 'deepMerge' } } | { op: 'delete'; recordId: string };

export interface TransactionResult {
  id: string;
  results: Array<{ op: 'write' | 'delete'; recordId: string; success: boolean; version: number; error?: string }>;
}

interface RecordEntry {
  mode: RecordMode;
  callback: RecordCallback<any>;
  value: unknown;
  version: number;
  /** A (re)subscribe is on its way: updates heard meanwhile wait for its reply (`early`). */
  subscribing: boolean;
  /**
   * Updates that came before the reply was handled: the server sends them after it, but one
   * network read may hold both, and the reply's promise resumes after every frame of that read.
   */
  early?: unknown[];
}

interface CollectionEntry {
  onDiff: (diff: CollectionDiff) => void;
  ids: Set<string>;
  version: number;
  subscribing: boolean;
  /** Diffs that came before the subscribe reply was handled (see `RecordEntry.early`). */
  early?: unknown[];
}

/** At most this many early pushes are kept per subscription; past it, a gap heals it. */
const MAX_EARLY = 1000;

/** What the client gives this module: requests (built-ins: error payloads throw) and where to report. */
export interface LiveRecordsIo {
  request<T>(command: string, payload: unknown, first?: boolean): Promise<T>;
  reportError(error: unknown): void;
  reportCallbackError(target: string, error: unknown): void;
}

const isUpdate = (payload: unknown): payload is { recordId: string; version: number; full?: unknown; patch?: Operation[] } =>
  payload !== null && typeof payload === 'object' && typeof (payload as { recordId?: unknown }).recordId === 'string' && Number.isSafeInteger((payload as { version?: unknown }).version);

/**
 * The client's record and collection subscriptions: the value and version of each record (patch
 * mode applies patches with fast-json-patch), a version gap healed by subscribing again, each
 * collection's members and version, and everything subscribed again after a reconnect.
 */
export class LiveRecords {
  private readonly records = new Map<string, RecordEntry>();
  private readonly collections = new Map<string, CollectionEntry>();

  constructor(
    private readonly names: BuiltinCommandNames,
    private readonly io: LiveRecordsIo,
  ) {}

  async subscribe<T>(recordId: string, callback: RecordCallback<T>, mode: RecordMode): Promise<RecordSubscribeResult<T>> {
    const entry: RecordEntry = { mode, callback, value: null, version: 0, subscribing: true };
    this.records.set(recordId, entry);
    let reply: RecordSubscribeResult<T>;
    try {
      reply = await this.io.request<RecordSubscribeResult<T>>(this.names.subscribeRecord, { recordId, mode });
    } catch (error) {
      if (this.records.get(recordId) === entry) this.records.delete(recordId);
      throw error;
    }
    if (this.records.get(recordId) !== entry) return reply;
    if (!reply?.success) {
      this.records.delete(recordId);
      return reply;
    }
    this.settle(recordId, entry, reply, true);
    return reply;
  }

  async unsubscribe(recordId: string): Promise<boolean> {
    if (!this.records.delete(recordId)) return false;
    return this.io.request<boolean>(this.names.unsubscribeRecord, { recordId });
  }

  /** A (re)subscribe reply: the value now, told to the callback when it is news (always the first time). */
  private settle(recordId: string, entry: RecordEntry, reply: RecordSubscribeResult, first: boolean): void {
    entry.subscribing = false;
    const changed = first || reply.version !== entry.version;
    entry.value = reply.record ?? null;
    entry.version = reply.version;
    if (changed) this.call(entry, { recordId, value: entry.value, version: entry.version });
    const early = entry.early ?? [];
    entry.early = undefined;
    for (const payload of early) if (this.records.get(recordId) === entry && isUpdate(payload)) this.applyToRecord(recordId, entry, payload);
  }

  private call(entry: RecordEntry, update: RecordUpdate): void {
    try {
      entry.callback(update);
    } catch (error) {
      this.io.reportCallbackError(`record:${update.recordId}`, error);
    }
  }

  /** `<prefix>/record-update`: to the record's subscription and to the collections it is a member of. */
  onUpdate(payload: unknown): void {
    if (!isUpdate(payload)) return;
    const { recordId, version } = payload;
    const entry = this.records.get(recordId);
    if (entry?.subscribing) {
      if ((entry.early ??= []).length < MAX_EARLY) entry.early.push(payload);
    } else if (entry) this.applyToRecord(recordId, entry, payload);
    const value = payload.full !== undefined ? payload.full : entry?.value;
    for (const [collectionId, collection] of this.collections) {
      if (!collection.subscribing && collection.ids.has(recordId)) this.emitDiff(collectionId, collection, { added: [], removed: [], changed: [{ id: recordId, record: collectionMember(recordId, value) }], version });
    }
  }

  /** One update to a record subscription: the next version (a patch applies), a newer full value, or a gap that resubscribes. */
  private applyToRecord(recordId: string, entry: RecordEntry, payload: { version: number; full?: unknown; patch?: Operation[] }): void {
    const { version } = payload;
    if (version <= entry.version) return;
    if (payload.patch !== undefined && payload.full === undefined) {
      if (version !== entry.version + 1 || !Array.isArray(payload.patch)) return void this.resync(recordId, entry);
      try {
        entry.value = applyPatch(entry.value, payload.patch, false, false).newDocument;
      } catch {
        return void this.resync(recordId, entry);
      }
      entry.version = version;
      this.call(entry, { recordId, value: entry.value, version, patch: payload.patch });
    } else {
      entry.value = payload.full ?? null;
      entry.version = version;
      this.call(entry, { recordId, value: entry.value, version });
    }
  }

  /** `<prefix>/record-deleted`: the subscription ended on the server. */
  onDeleted(payload: unknown): void {
    if (!isUpdate(payload)) return;
    const entry = this.records.get(payload.recordId);
    if (!entry) return;
    this.records.delete(payload.recordId);
    this.call(entry, { recordId: payload.recordId, value: null, version: payload.version, deleted: true });
  }

  /** A version was missed (or a patch did not apply): subscribe again for the whole value. */
  private async resync(recordId: string, entry: RecordEntry): Promise<void> {
    entry.subscribing = true;
    try {
      const reply = await this.io.request<RecordSubscribeResult>(this.names.subscribeRecord, { recordId, mode: entry.mode });
      if (this.records.get(recordId) !== entry) return;
      if (reply?.success) return this.settle(recordId, entry, reply, false);
      this.records.delete(recordId);
      this.io.reportError(new MeshResubscribeError('record', recordId));
    } catch (error) {
      entry.subscribing = false;
      this.io.reportError(error);
    }
  }

  // ---- collections ----------------------------------------------------------------------

  async subscribeCollection(collectionId: string, onDiff: (diff: CollectionDiff) => void): Promise<CollectionSubscribeResult> {
    const entry: CollectionEntry = { onDiff, ids: new Set(), version: 0, subscribing: true };
    this.collections.set(collectionId, entry);
    let reply: CollectionSubscribeResult;
    try {
      reply = await this.io.request<CollectionSubscribeResult>(this.names.subscribeCollection, { collectionId });
    } catch (error) {
      if (this.collections.get(collectionId) === entry) this.collections.delete(collectionId);
      throw error;
    }
    if (this.collections.get(collectionId) !== entry) return reply;
    if (!reply?.success) {
      this.collections.delete(collectionId);
      return reply;
    }
    this.reset(collectionId, entry, reply);
    return reply;
  }

  async unsubscribeCollection(collectionId: string): Promise<boolean> {
    if (!this.collections.delete(collectionId)) return false;
    return this.io.request<boolean>(this.names.unsubscribeCollection, { collectionId });
  }

  private reset(collectionId: string, entry: CollectionEntry, reply: CollectionSubscribeResult): void {
    entry.subscribing = false;
    entry.ids = new Set(reply.ids);
    entry.version = reply.version;
    this.emitDiff(collectionId, entry, { added: reply.records, removed: [], changed: [], version: reply.version, reset: true });
    const early = entry.early ?? [];
    entry.early = undefined;
    for (const payload of early) if (this.collections.get(collectionId) === entry) this.onDiff(payload);
  }

  private emitDiff(collectionId: string, entry: CollectionEntry, diff: Omit<CollectionDiff, 'collectionId'>): void {
    try {
      entry.onDiff({ collectionId, ...diff });
    } catch (error) {
      this.io.reportCallbackError(`collection:${collectionId}`, error);
    }
  }

  /** `<prefix>/collection-diff`: applied when it is the next version, else the collection is subscribed again. */
  onDiff(payload: unknown): void {
    const { collectionId, added, removed, version } = (payload ?? {}) as { collectionId?: unknown; added?: unknown; removed?: unknown; version?: unknown };
    if (typeof collectionId !== 'string' || !Array.isArray(added) || !Array.isArray(removed) || typeof version !== 'number') return;
    const entry = this.collections.get(collectionId);
    if (entry?.subscribing && (entry.early ??= []).length < MAX_EARLY) entry.early.push(payload);
    if (!entry || entry.subscribing || version <= entry.version) return;
    if (version !== entry.version + 1) return void this.resyncCollection(collectionId, entry);
    entry.version = version;
    const members = (added as Array<{ id?: unknown }>).filter((item) => typeof item?.id === 'string').map((item) => ({ id: item.id as string, record: item }));
    const gone = (removed as Array<{ id?: unknown }>).filter((item) => typeof item?.id === 'string').map((item) => ({ id: item.id as string }));
    for (const member of members) entry.ids.add(member.id);
    for (const member of gone) entry.ids.delete(member.id);
    this.emitDiff(collectionId, entry, { added: members, removed: gone, changed: [], version });
  }

  private async resyncCollection(collectionId: string, entry: CollectionEntry): Promise<void> {
    entry.subscribing = true;
    try {
      const reply = await this.io.request<CollectionSubscribeResult>(this.names.subscribeCollection, { collectionId });
      if (this.collections.get(collectionId) !== entry) return;
      if (reply?.success) return this.reset(collectionId, entry, reply);
      this.collections.delete(collectionId);
      this.io.reportError(new MeshResubscribeError('collection', collectionId));
    } catch (error) {
      entry.subscribing = false;
      this.io.reportError(error);
    }
  }

  // ---- after a reconnect ----------------------------------------------------------------

  /** Subscribes everything again on a new connection (`first`: ahead of queued commands). A refusal drops it with `MeshResubscribeError`. */
  restore(): Array<Promise<void>> {
    const records = [...this.records].map(async ([recordId, entry]) => {
      entry.subscribing = true;
      const reply = await this.io.request<RecordSubscribeResult>(this.names.subscribeRecord, { recordId, mode: entry.mode }, true).catch((error: unknown) => {
        entry.subscribing = false;
        throw error;
      });
      if (this.records.get(recordId) !== entry) return;
      if (reply?.success) return this.settle(recordId, entry, reply, false);
      this.records.delete(recordId);
      throw new MeshResubscribeError('record', recordId);
    });
    const collections = [...this.collections].map(async ([collectionId, entry]) => {
      entry.subscribing = true;
      const reply = await this.io.request<CollectionSubscribeResult>(this.names.subscribeCollection, { collectionId }, true).catch((error: unknown) => {
        entry.subscribing = false;
        throw error;
      });
      if (this.collections.get(collectionId) !== entry) return;
      if (reply?.success) return this.reset(collectionId, entry, reply);
      this.collections.delete(collectionId);
      throw new MeshResubscribeError('collection', collectionId);
    });
    return [...records, ...collections];
  }
}
