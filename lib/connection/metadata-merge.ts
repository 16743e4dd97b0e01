/** How `setMetadata` combines the new value with the stored one. */
export type MetadataStrategy = 'replace' | 'merge' | 'deepMerge';

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function merge(target: Record<string, unknown>, source: Record<string, unknown>, deep: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(target)) if (!FORBIDDEN_KEYS.has(key)) out[key] = target[key];
  for (const key of Object.keys(source)) {
    if (FORBIDDEN_KEYS.has(key)) continue;
    const next = source[key];
    out[key] = deep && isPlainObject(out[key]) && isPlainObject(next) ? merge(out[key] as Record<string, unknown>, next, true) : next;
  }
  return { ...out };
}

/**
 * Combines metadata. `merge` is shallow and `deepMerge` recursive, both on plain objects only
 * (arrays and other values replace); `__proto__`, `constructor` and `prototype` keys are dropped.
 */
export function combineMetadata(current: unknown, next: unknown, strategy: MetadataStrategy = 'replace'): unknown {
  if (strategy === 'replace' || !isPlainObject(current) || !isPlainObject(next)) {
    return isPlainObject(next) ? merge({}, next, false) : next;
  }
  return merge(current, next, strategy === 'deepMerge');
}

export function isMetadataStrategy(value: unknown): value is MetadataStrategy {
  return value === 'replace' || value === 'merge' || value === 'deepMerge';
}
