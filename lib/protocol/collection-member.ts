/**
 * A collection member as `<prefix>/collection-diff` carries it (and the client hands it on): an
 * object record with its id stamped on, as @prsm/realtime clients expect, any other value as
 * `{ id, value }`.
 */
export function collectionMember(id: string, value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? { ...(value as Record<string, unknown>), id } : { id, value };
}
