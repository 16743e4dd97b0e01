/**
 * A record as stored: its JSON text (null when it does not exist) and its version (0 for one never
 * written; a deleted record keeps the version its delete took, so versions never repeat).
 */
export interface StoredRecord {
  json: string | null;
  version: number;
}

/**
 * One record's change in a commit: from version `expected` to `expected + 1`, written (`creates`
 * when it had no value) or deleted. `message` is what its topic carries.
 */
export type RecordChange =
  | { id: string; op: 'write'; expected: number; json: string; creates: boolean; message: string }
  | { id: string; op: 'delete'; expected: number; message: string };

/**
 * A commit's outcome: done, or refused (nothing was changed) because a record was not at its
 * expected version, or because another writer that lost a race on it is about to retry
 * (`blocked`: wait a moment, then try again from `current`).
 */
export type CommitOutcome = { committed: true } | { committed: false; conflict: string; current: StoredRecord; blocked?: boolean };

/**
 * Versioned JSON records shared by every node. A commit is a compare-and-set over one or more
 * records: all of them are at their expected versions and all change, each change published on
 * the record's topic in the same step (so updates go out in version order, whoever wrote them),
 * or nothing changes. The records of one commit must share a slot (`slotOf`). Implementations:
 * Redis (a Lua script per commit) and memory (one process).
 */
export interface RecordStore {
  get(id: string): Promise<StoredRecord>;
  getMany(ids: readonly string[]): Promise<StoredRecord[]>;
  commit(changes: readonly RecordChange[]): Promise<CommitOutcome>;
  /** Records with equal slots may be committed together; '' everywhere outside Redis Cluster. */
  slotOf(id: string): string;
  /** Ids of the records that exist, in byte order, starting with `prefix`, at most `limit`. */
  listIds(prefix: string, limit: number): Promise<string[]>;
}
