import { isIdempotencyKey, MAX_IDEMPOTENCY_KEY_LENGTH } from '../lib/protocol';
import type { CommandOptions } from './types';

interface WebCrypto {
  randomUUID?: () => string;
  getRandomValues?: (array: Uint8Array) => Uint8Array;
}

/**
 * A fresh random key: `crypto.randomUUID()` where there is one (Node, browsers on secure pages),
 * else 128 random bits from `crypto.getRandomValues` (which insecure pages have too). Never
 * `Math.random`: on a server without client ids a key is a bearer secret.
 */
export function randomIdempotencyKey(): string {
  const crypto = (globalThis as { crypto?: WebCrypto }).crypto;
  if (typeof crypto?.randomUUID === 'function') return crypto.randomUUID();
  if (typeof crypto?.getRandomValues === 'function') {
    return Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, '0')).join('');
  }
  throw new TypeError('retry: true needs crypto.getRandomValues to make a key; pass an idempotencyKey of your own instead');
}

/** The key a command is sent with: the one given, a new one for `retry: true`, or none. Throws a TypeError for a key the server would refuse. */
export function idempotencyKeyOf(options: CommandOptions): string | undefined {
  const { idempotencyKey, retry } = options;
  if (idempotencyKey !== undefined) {
    if (!isIdempotencyKey(idempotencyKey)) throw new TypeError(`idempotencyKey must be a string of 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters (no spaces)`);
    return idempotencyKey;
  }
  return retry === true ? randomIdempotencyKey() : undefined;
}
