import type { MeshBroker } from '../broker/mesh-broker';
import type { CommitOutcome, RecordChange, RecordStore, StoredRecord } from './record-store';

const NONE: StoredRecord = { json: null, version: 0 };

/** The records of a single process; a commit publishes its changes on the broker's topics, as the Redis script does. */
export class MemoryRecordStore implements RecordStore {
  private readonly records = new Map<string, { json: string; version: number }>();

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
      if (change.op === 'write') this.records.set(change.id, { json: change.json, version: change.expected + 1 });
      else this.records.delete(change.id);
      void this.broker.publishTopic({ kind: 'record', name: change.id }, change.message);
    }
    return { committed: true };
  }

  slotOf(): string {
    return '';
  }

  async listIds(prefix: string, limit: number): Promise<string[]> {
    const ids = [...this.records.keys()].filter((id) => id.startsWith(prefix));
    return ids.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))).slice(0, limit);
  }
}
