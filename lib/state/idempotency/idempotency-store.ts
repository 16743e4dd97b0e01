/**
 * What a node knows of one idempotency key's run, shared by every node: still going, or done
 * with the reply its retries get.
 */
export type IdempotencyRecord =
  | { state: 'running'; fingerprint: string }
  /** `reply`: the reply as `encodeKeptReply` wrote it; undefined when it was not kept (too large). */
  | { state: 'done'; fingerprint: string; reply?: string };

export type IdempotencyClaim = { claimed: true } | { claimed: false; record: IdempotencyRecord };

/**
 * Claims and outcomes of idempotent commands (lib/commands/idempotent-runs.ts runs them), keyed by
 * a digest of scope, command and key. Implementations: Redis (every node sees every claim) and
 * memory (one process). Every write but the first claim names the claim's `token`, and is
 * refused once the claim is no longer that run's (its lease ran out and another run took it).
 */
export interface IdempotencyStore {
  /** Takes the key for a first run, with a lease of `leaseMs`; or returns the record of the run that holds it. */
  claim(digest: string, token: string, fingerprint: string, leaseMs: number): Promise<IdempotencyClaim>;
  /** The record of a key, if any run holds it. */
  read(digest: string): Promise<IdempotencyRecord | undefined>;
  /** Extends a running claim's lease; false if it is no longer this run's. */
  renew(digest: string, token: string, leaseMs: number): Promise<boolean>;
  /** Marks the run done, keeping `reply` (undefined: not kept) for `ttlMs`; false if the claim is no longer this run's. */
  complete(digest: string, token: string, reply: string | undefined, ttlMs: number): Promise<boolean>;
  /** Drops a running claim, so that a retry may run again; false if it is no longer this run's. */
  release(digest: string, token: string): Promise<boolean>;
}
