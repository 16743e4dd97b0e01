import type { MetadataStrategy } from '../protocol';

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A copy of a JSON-like value without `__proto__`, `constructor` and `prototype` keys at any depth. */
function sanitize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sanitize);
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) if (!FORBIDDEN_KEYS.has(key)) out[key] = sanitize(value[key]);
  return out;
}

function deepMerge(target: Record<string, unknown>, source: Record<string, unknown>): Record<string, unknown> {
  const out = { ...target };
  for (const key of Object.keys(source)) {
    const next = source[key];
    out[key] = isPlainObject(out[key]) && isPlainObject(next) ? deepMerge(out[key] as Record<string, unknown>, next) : next;
  }
  return out;
}

/**
 * Combines metadata. `merge` is shallow and `deepMerge` recursive, both on plain objects only
 * (arrays and other values replace). `__proto__`, `constructor` and `prototype` keys are dropped
 * at every depth, from the new value and the stored one, so nothing downstream can be polluted.
 */
export function combineMetadata(current: unknown, next: unknown, strategy: MetadataStrategy = 'replace'): unknown {
  const clean = sanitize(next);
  if (strategy === 'replace' || !isPlainObject(current) || !isPlainObject(clean)) return clean;
  const base = sanitize(current) as Record<string, unknown>;
  return strategy === 'merge' ? { ...base, ...clean } : deepMerge(base, clean);
}
