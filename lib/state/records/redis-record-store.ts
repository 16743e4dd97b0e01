import { randomBytes } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';
import type { RedisConnections } from '../redis/redis-connections';
import type { CommitOutcome, RecordChange, RecordStore, StoredRecord } from './record-store';

/**
 * How long a writer that lost a race holds a record for its retry: many round trips, and short
 * enough when it never retries (it died, or found nothing left to change) that the others barely wait.
 */
const WAITER_HOLD_MS = 25;

/** `[`prefix, `(`prefix-successor: the ZRANGEBYLEX bounds of every id starting with a prefix. */
function lexRange(prefix: string): [string, string] {
  if (prefix === '') return ['-', '+'];
  return [`[${prefix}`, `(${prefix}\u{10FFFF}`];
}

/**
 * Records in Redis: one hash per record (`{rec:<id>}`), written by record-commit.lua, a
 * compare-and-set on versions that publishes each change on the record's topic in the same step.
 * A deleted record keeps its hash with its version and no value (a few dozen bytes), so that a
 * record written again goes on from there: versions never repeat.
 * The id index is kept by the same script on standalone Redis; on a cluster it lives in another
 * slot, so it is updated right after the commit (a crash in between leaves it one id behind).
 */
export class RedisRecordStore implements RecordStore {
  /** This store's writer token: a record whose race it lost waits for it (see record-commit.lua). */
  private readonly token = randomBytes(9).toString('base64url');

  constructor(private readonly redis: RedisConnections) {}

  async get(id: string): Promise<StoredRecord> {
    const [json, version] = await this.redis.commands.hmget(this.redis.keys.record(id), 'value', 'version');
    return { json: json ?? null, version: Number(version ?? 0) };
  }

  async getMany(ids: readonly string[]): Promise<StoredRecord[]> {
    // Sent together (a cluster pipeline may not span slots): one round trip per shard, not one per record.
    const rows = await Promise.all(ids.map((id) => this.redis.commands.hmget(this.redis.keys.record(id), 'value', 'version')));
    return rows.map(([json, version]) => ({ json: json ?? null, version: Number(version ?? 0) }));
  }

  async commit(changes: readonly RecordChange[]): Promise<CommitOutcome> {
    const { keys } = this.redis;
    const indexHere = !this.redis.clustered;
    const args: Array<string | number> = [this.redis.clustered ? 'SPUBLISH' : 'PUBLISH', indexHere ? '1' : '0', changes.length, this.token, WAITER_HOLD_MS];
    for (const change of changes) {
      args.push(change.expected, change.op === 'write' ? 'w' : 'd', change.id, change.op === 'write' ? change.json : '', keys.topicChannel({ kind: 'record', name: change.id }), change.message);
    }
    const recordKeys = changes.map((change) => keys.record(change.id));
    const reply = await this.redis.scripts.run<[number, number?, string?, string?, number?]>('record-commit', indexHere ? [...recordKeys, keys.recordIndex] : recordKeys, args);
    if (Number(reply[0]) !== 1) {
      const conflict = changes[Number(reply[1]) - 1].id;
      return { committed: false, conflict, current: { json: reply[3] ?? null, version: Number(reply[2] ?? 0) }, blocked: Number(reply[4]) === 1 };
    }
    if (!indexHere) await this.updateIndex(changes);
    return { committed: true };
  }

  private async updateIndex(changes: readonly RecordChange[]): Promise<void> {
    const created = changes.filter((c) => c.op === 'write' && c.creates).map((c) => c.id);
    const deleted = changes.filter((c) => c.op === 'delete').map((c) => c.id);
    const index = this.redis.keys.recordIndex;
    await Promise.all([
      created.length ? this.redis.commands.zadd(index, ...created.flatMap((id) => [0, id])) : undefined,
      deleted.length ? this.redis.commands.zrem(index, ...deleted) : undefined,
    ]);
  }

  slotOf(id: string): string {
    return this.redis.clustered ? String(calculateSlot(this.redis.keys.record(id))) : '';
  }

  listIds(prefix: string, limit: number): Promise<string[]> {
    const [min, max] = lexRange(prefix);
    return this.redis.commands.zrangebylex(this.redis.keys.recordIndex, min, max, 'LIMIT', 0, limit);
  }
}
