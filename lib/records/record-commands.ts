import { randomUUID } from 'node:crypto';
import { field } from '../common/payload-field';
import { Inject, Injectable } from '@nestjs/common';
import { BuiltinCommandTable } from '../commands/builtin-command-table';
import { toErrorPayload } from '../commands/error-payload';
import { ReplyThen } from '../commands/reply-then';
import type { Connection } from '../connection/connection';
import { MeshLimitError } from '../errors';
import type { ResolvedMeshOptions } from '../interfaces/mesh-module-options.interface';
import { MESH_COMMAND_NAMES } from '../mesh.constants';
import { MESH_RESOLVED_OPTIONS } from '../mesh-options';
import { ErrorCode, ErrorName, type BuiltinCommandNames, type ErrorPayload } from '../protocol';
import { tooLargeToReply } from '../transport/reply-encoder';
import { RecordManager, type RecordOperation } from './record-manager';
import { isRecordWriteStrategy } from './record-value';


const invalid = (error: string): ErrorPayload => ({ error, code: ErrorCode.INVALID, name: ErrorName.VALIDATION });
const transactionError = (error: string, code: string = ErrorCode.TRANSACTION): ErrorPayload => ({ error, code, name: ErrorName.TRANSACTION });
const notWritable = (recordId: unknown): string => `Record ${JSON.stringify(String(recordId).slice(0, 100))} is not writable by this connection`;

/**
 * The records' built-in commands (`<prefix>/subscribe-record`, `unsubscribe-record`,
 * `publish-record-update`, `transaction`), each checking its payload field by field.
 */
@Injectable()
export class RecordCommands {
  constructor(
    @Inject(MESH_RESOLVED_OPTIONS) private readonly options: ResolvedMeshOptions,
    @Inject(MESH_COMMAND_NAMES) names: BuiltinCommandNames,
    private readonly records: RecordManager,
    builtins: BuiltinCommandTable,
  ) {
    builtins.add(names.subscribeRecord, (c, p) => this.subscribe(c, p));
    builtins.add(names.unsubscribeRecord, (c, p) => this.records.unsubscribe(c, field(p, 'recordId')));
    builtins.add(names.publishRecordUpdate, (c, p) => this.write(c, p));
    builtins.add(names.transaction, (c, p) => this.transaction(c, p));
  }

  /** `{ recordId, mode }` → `{ success, record, version }`; its updates follow the reply, never precede it. */
  private async subscribe(connection: Connection, payload: Record<string, unknown>): Promise<unknown> {
    const recordId = field(payload, 'recordId');
    const mode = field(payload, 'mode') ?? 'full';
    if (mode !== 'full' && mode !== 'patch') return invalid('mode must be "full" or "patch"');
    const refused = { success: false, record: null, version: 0 };
    if (!(await this.records.mayRead(connection, recordId))) return refused;
    const id = recordId as string;
    let subscribed;
    try {
      subscribed = await this.records.subscribe(connection, id, mode);
    } catch (error) {
      if (error instanceof MeshLimitError) return toErrorPayload(error, false);
      throw error;
    }
    if (!subscribed) return refused;
    const { subscription, record } = subscribed;
    const reply = { success: true, record: record.value, version: record.version };
    const tooLarge = tooLargeToReply(reply, this.options.maxBufferedAmount);
    if (tooLarge) {
      await this.records.unsubscribe(connection, id, subscription);
      return tooLarge;
    }
    return new ReplyThen(reply, () => this.records.release(connection, id, subscription));
  }

  /** `{ recordId, newValue, options?: { strategy } }` → `{ success: true, version }`, or an error payload. */
  private async write(connection: Connection, payload: Record<string, unknown>): Promise<unknown> {
    const recordId = field(payload, 'recordId');
    const value = field(payload, 'newValue');
    const strategy = field(field(payload, 'options'), 'strategy') ?? 'replace';
    if (!this.records.isValidId(recordId)) return invalid(`recordId must be a non-empty string of at most ${this.options.maxNameLength} characters`);
    if (value === undefined) return invalid('newValue is missing');
    if (!isRecordWriteStrategy(strategy)) return invalid('options.strategy must be "replace", "merge" or "deepMerge"');
    if (!(await this.records.mayWrite(connection, recordId))) return { error: notWritable(recordId), code: ErrorCode.FORBIDDEN, name: ErrorName.FORBIDDEN };
    try {
      const version = await this.records.write(recordId, value, strategy, this.options.maxRecordBytes);
      return { success: true, version };
    } catch (error) {
      if (error instanceof MeshLimitError) return toErrorPayload(error, false);
      throw error;
    }
  }

  /** `{ operations: [{ op: 'write', recordId, value, options? } | { op: 'delete', recordId }] }` → `{ id, results }`. */
  private async transaction(connection: Connection, payload: Record<string, unknown>): Promise<unknown> {
    const operations = field(payload, 'operations');
    if (!Array.isArray(operations) || operations.length === 0) return transactionError('A transaction needs a non-empty array of operations');
    if (operations.length > this.options.maxTransactionOperations) return transactionError(`A transaction may hold at most ${this.options.maxTransactionOperations} operations (maxTransactionOperations)`);
    const checked: RecordOperation[] = [];
    for (const [index, operation] of operations.entries()) {
      const op = field(operation, 'op');
      const recordId = field(operation, 'recordId');
      if ((op !== 'write' && op !== 'delete') || !this.records.isValidId(recordId)) return transactionError(`Operation ${index} is an invalid transaction operation: it needs op "write" or "delete" and a recordId`);
      if (op === 'delete') {
        checked.push({ op, recordId });
        continue;
      }
      const value = field(operation, 'value');
      const strategy = field(field(operation, 'options'), 'strategy') ?? 'replace';
      if (value === undefined || !isRecordWriteStrategy(strategy)) return transactionError(`Operation ${index} is an invalid transaction operation: a write needs a value and a strategy of "replace", "merge" or "deepMerge"`);
      checked.push({ op, recordId, value, options: { strategy } });
    }
    for (const recordId of new Set(checked.map((operation) => operation.recordId))) {
      if (!(await this.records.mayWrite(connection, recordId))) return transactionError(`${notWritable(recordId)}; nothing was written`, ErrorCode.TRANSACTION);
    }
    try {
      const results = await this.records.transaction(checked, this.options.maxRecordBytes);
      return { id: randomUUID(), results };
    } catch (error) {
      if (error instanceof MeshLimitError) return transactionError(`${error.message}; nothing was written`, ErrorCode.LIMIT);
      throw error;
    }
  }
}
