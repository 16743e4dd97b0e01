import type { Connection } from '../connection/connection';
import type { RecordMessage } from './record-message';

/** How a subscriber gets a record's updates: the whole value each time, or JSON Patches. */
export type RecordMode = 'full' | 'patch';

/** One connection's subscription to one record on this node. */
export interface RecordSubscription {
  mode: RecordMode;
  /** The last version this connection was sent (in its subscribe reply or an update). */
  version: number;
  /** Updates heard while the subscribe reply is on its way: sent right after it. */
  held?: RecordMessage[];
}

/** This node's record subscribers: record → connection → subscription, and each connection's records. */
export class RecordSubscriptions {
  private readonly byRecord = new Map<string, Map<Connection, RecordSubscription>>();
  private readonly byConnection = new Map<Connection, Set<string>>();

  of(recordId: string): Map<Connection, RecordSubscription> | undefined {
    return this.byRecord.get(recordId);
  }

  get(connection: Connection, recordId: string): RecordSubscription | undefined {
    return this.byRecord.get(recordId)?.get(connection);
  }

  has(recordId: string): boolean {
    return this.byRecord.has(recordId);
  }

  countOf(connection: Connection): number {
    return this.byConnection.get(connection)?.size ?? 0;
  }

  /** Subscribes (or subscribes again, in another mode): updates are held until `release`. */
  add(connection: Connection, recordId: string, mode: RecordMode): RecordSubscription {
    const subscription: RecordSubscription = { mode, version: 0, held: [] };
    let subscribers = this.byRecord.get(recordId);
    if (!subscribers) this.byRecord.set(recordId, (subscribers = new Map()));
    subscribers.set(connection, subscription);
    let records = this.byConnection.get(connection);
    if (!records) this.byConnection.set(connection, (records = new Set()));
    records.add(recordId);
    return subscription;
  }

  /** Removes one subscription, if it is still the given one (a newer subscribe replaced it otherwise). */
  remove(connection: Connection, recordId: string, only?: RecordSubscription): boolean {
    const subscribers = this.byRecord.get(recordId);
    const found = subscribers?.get(connection);
    if (!found || (only && found !== only)) return false;
    subscribers!.delete(connection);
    if (subscribers!.size === 0) this.byRecord.delete(recordId);
    const records = this.byConnection.get(connection);
    records?.delete(recordId);
    if (records?.size === 0) this.byConnection.delete(connection);
    return true;
  }

  /** Every subscription of a connection that closed; returns their records. */
  removeConnection(connection: Connection): string[] {
    const records = [...(this.byConnection.get(connection) ?? [])];
    for (const recordId of records) this.remove(connection, recordId);
    return records;
  }

  /** Every subscription to a deleted record; returns the subscribers. */
  removeRecord(recordId: string): Connection[] {
    const subscribers = [...(this.byRecord.get(recordId)?.keys() ?? [])];
    for (const connection of subscribers) this.remove(connection, recordId);
    return subscribers;
  }

  /** Every record with subscribers here. */
  records(): IterableIterator<string> {
    return this.byRecord.keys();
  }
}
