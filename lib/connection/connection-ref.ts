import type { Connection } from './connection';

/** A connection on this node, or the id of one on any node. */
export type ConnectionRef = Connection | string;

export function connectionId(ref: ConnectionRef): string {
  if (typeof ref === 'string' && ref.length > 0) return ref;
  if (ref && typeof ref === 'object' && typeof ref.id === 'string') return ref.id;
  throw new TypeError('Expected a Connection or a non-empty connection id');
}
