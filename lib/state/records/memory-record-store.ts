import type { MeshBroker } from '../broker/mesh-broker';
import type { CommitOutcome, RecordChange, RecordStore, StoredRecord } from './record-store';

const NONE: StoredRecord = { json: null, version: 0 };

/** The records of a single process; a commit publishes its changes on the broker's topics, as the Redis script does. */
export class MemoryRecordStore implements RecordStore {
  /** Deleted records stay, without a value, so their versions never repeat. */
  private readonly records = new Map<string, StoredRecord>();

  constructor(private readonly broker: MeshBroker) {}

  async get(id: string): Promise<StoredRecord> {
    return this.records.get(id) ?? NONE;
  }

  async getMany(ids: readonly string[]): Promise<StoredRecord[]> {
    return ids.map((id) => this.records.get(id) ?? NONE);
  }

  async commit(changes: readonly RecordChange[]): Promise<CommitOutcome> {
    for (const change of changes) {
      const current = this.records.get(change.id) ?? NONE;
      if (current.version !== change.expected) return { committed: false, conflict: change.id, current };
    }
    for (const change of changes) {
      this.records.set(change.id, { json: change.op === 'write' ? change.json : null, version: change.expected + 1 });
      void this.broker.publishTopic({ kind: 'record', name: change.id }, change.message);
    }
    return { committed: true };
  }

  slotOf(): string {
    return '';
  }

  async listIds(prefix: string, limit: number): Promise<string[]> {
    const ids = [...this.records].filter(([id, record]) => record.json !== null && id.startsWith(prefix)).map(([id]) => id);
    return ids.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))).slice(0, limit);
  }
}
