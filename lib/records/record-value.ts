import { compare, type Operation } from 'fast-json-patch';
import { combineMetadata } from '../connection/metadata-merge';
import { isMetadataStrategy, type MetadataStrategy } from '../protocol';

/** How a write combines with the stored value: `replace` (default), `merge` (shallow) or `deepMerge` (objects only; arrays replace). */
export type RecordWriteStrategy = MetadataStrategy;

export function isRecordWriteStrategy(value: unknown): value is RecordWriteStrategy {
  return isMetadataStrategy(value);
}

/** A write worked out against the stored value: the new value's JSON and the patch that turns the old value into it. */
export interface ComputedWrite {
  json: string;
  patch: Operation[];
}

const isContainer = (value: unknown) => value !== null && typeof value === 'object';

/**
 * The new value of a record after a write, and its JSON Patch (RFC 6902, from fast-json-patch)
 * against the current one; undefined when nothing would change (no new version then). A first
 * write, or one that changes the value's kind (object, array, scalar), patches the whole
 * document (`replace ""`), as @prsm/realtime's client expects.
 */
export function computeWrite(currentJson: string | null, value: unknown, strategy: RecordWriteStrategy = 'replace'): ComputedWrite | undefined {
  const current: unknown = currentJson === null ? null : JSON.parse(currentJson);
  const next = combineMetadata(current, value, strategy);
  const json = JSON.stringify(next ?? null);
  if (currentJson !== null && json === currentJson) return undefined;
  const whole = currentJson === null || !isContainer(current) || !isContainer(next) || Array.isArray(current) !== Array.isArray(next);
  const patch: Operation[] = whole ? [{ op: 'replace', path: '', value: next ?? null }] : compare(current as object, next as object);
  if (!whole && patch.length === 0) return undefined;
  return { json, patch };
}
