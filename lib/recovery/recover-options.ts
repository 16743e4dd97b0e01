/**
 * How much of a recoverable channel's or room's traffic is kept for clients that were away: the
 * last `size` messages, for `ttl` ms after the latest one. A client that comes back within that
 * window gets what it missed; past it, it is told `recovered: false` and resyncs.
 */
export interface RecoverOptions {
  /** Messages kept (the window). An integer from 1 to 100,000. */
  size: number;
  /** Milliseconds the messages are kept after the latest publish. An integer of at least 1,000. */
  ttl: number;
}

/** Where a client was in a stream: the stream's epoch (changes when its history is lost) and the last offset it got. */
export interface StreamPosition {
  epoch: string;
  offset: number;
}

export const MAX_RECOVER_SIZE = 100_000;
/** Longest epoch text accepted from a client (the server makes 16-character ones). */
export const MAX_EPOCH_LENGTH = 64;
/**
 * How long a stream's position (epoch and last offset) outlives its messages: a client that comes
 * back to a quiet channel after its messages expired is told "not recovered" only if something
 * was published since, not merely because time passed.
 */
export const POSITION_TTL_MS = 24 * 60 * 60 * 1000;

/** Checks the `recover` option of `exposeChannel` / `exposeRoom`; throws a TypeError saying what is wrong. */
export function checkRecoverOptions(what: string, value: unknown): RecoverOptions | undefined {
  if (value === undefined) return undefined;
  const { size, ttl } = (value ?? {}) as Partial<RecoverOptions>;
  if (value === null || typeof value !== 'object') throw new TypeError(`${what}: "recover" must be an object { size, ttl }`);
  if (!Number.isInteger(size) || size! < 1 || size! > MAX_RECOVER_SIZE) {
    throw new TypeError(`${what}: recover.size must be an integer from 1 to ${MAX_RECOVER_SIZE} (messages kept), got ${String(size)}`);
  }
  if (!Number.isInteger(ttl) || ttl! < 1000) throw new TypeError(`${what}: recover.ttl must be an integer of at least 1000 (ms), got ${String(ttl)}`);
  return { size: size!, ttl: ttl! };
}

/** A position sent by a client, if it is one: anything else is read as "no position" (a fresh subscription). */
export function readClientPosition(value: unknown): StreamPosition | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const { epoch, offset } = value as Record<string, unknown>;
  if (typeof epoch !== 'string' || epoch.length === 0 || epoch.length > MAX_EPOCH_LENGTH) return undefined;
  if (!Number.isSafeInteger(offset) || (offset as number) < 0) return undefined;
  return { epoch, offset: offset as number };
}
