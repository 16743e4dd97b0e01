import { Inject, Injectable, Logger } from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
import type { Connection } from '../connection/connection';
import type { ResolvedMeshOptions } from '../interfaces/mesh-module-options.interface';
import { MESH_IDEMPOTENCY_STORE } from '../mesh.constants';
import { MESH_RESOLVED_OPTIONS } from '../mesh-options';
import { ErrorCode, ErrorName, type ErrorPayload } from '../protocol';
import type { IdempotencyRecord, IdempotencyStore } from '../state/idempotency/idempotency-store';
import { isDeliberateError, toErrorPayload } from './error-payload';

/**
 * Shortest key accepted from a connection without a client id of its own: there the key is all
 * that tells one user's run from another's, so it must be a secret nobody guesses (`retry: true`
 * sends a random UUID).
 */
export const MIN_BEARER_KEY_LENGTH = 16;
/** A retry waiting for a first run reads its record this often at first, then less often. */
const FIRST_POLL_MS = 10;
const MAX_POLL_MS = 250;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const failure = (code: string, error: string): ErrorPayload => ({ error, code, name: ErrorName.IDEMPOTENCY });

/**
 * The client id a connection's keys are scoped to: the one `resolveClientId` gave it. A connection
 * registered under its own connection id (the default, or an anonymous visitor) has none that
 * outlives a reconnect: its keys are bearer secrets, shared by whoever sends them.
 */
function scopeOf(connection: Connection): string | undefined {
  const clientId = connection.clientId;
  return clientId !== undefined && clientId !== connection.id ? clientId : undefined;
}

/** Where a key's run is recorded: a digest, so that neither the key nor the client id appears in Redis. */
function digestOf(clientId: string | undefined, command: string, key: string): string {
  const parts = clientId === undefined ? ['bearer', command, key] : ['client', clientId, command, key];
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url');
}

/** What tells a retry from a different request that reuses the key. */
function fingerprintOf(payload: unknown): string {
  // The payload came from JSON.parse, so it encodes again, keys in the order the client sent them.
  return createHash('sha256').update(JSON.stringify(payload ?? null)).digest('base64url');
}

/** A reply as kept for retries: `[payload]`, or `[]` for a reply without payload. */
function encodeKept(reply: unknown): string {
  return JSON.stringify(reply === undefined ? [] : [reply]);
}

function decodeKept(text: string): unknown {
  return (JSON.parse(text) as unknown[])[0];
}

/**
 * Runs idempotent commands at most once per (scope, command, key) within the window, on every
 * node: the first request claims the key in the store (with a lease renewed while it runs), then
 * records its reply; a retry gets that reply, or waits for a run still going (polling its record
 * with backoff, at most `idempotencyWaitTimeout`). A run that failed unexpectedly (an error
 * without a code: a bug, a lost database connection) gives the key back, so that a retry may run
 * again; an answer the command chose (a result, or an error with a code) is kept.
 */
@Injectable()
export class IdempotentRuns {
  private readonly logger = new Logger('MeshIdempotency');
  /** Keyed requests per connection in the current window (`maxIdempotencyKeysPerConnection`). */
  private readonly budgets = new WeakMap<Connection, { since: number; used: number }>();

  constructor(
    @Inject(MESH_RESOLVED_OPTIONS) private readonly options: ResolvedMeshOptions,
    @Inject(MESH_IDEMPOTENCY_STORE) private readonly store: IdempotencyStore,
  ) {}

  /** The reply payload of a keyed request: its own run's, or the first run's. Never rejects. */
  async run(connection: Connection, command: string, key: string, payload: unknown, ttlMs: number, execute: () => unknown): Promise<unknown> {
    const refused = this.refusal(connection, key);
    if (refused) return refused;
    const digest = digestOf(scopeOf(connection), command, key);
    const fingerprint = fingerprintOf(payload);
    const deadline = Date.now() + this.options.idempotencyWaitTimeout;
    let record: IdempotencyRecord | undefined;
    try {
      for (;;) {
        const token = randomUUID();
        const claim = await this.store.claim(digest, token, fingerprint, this.options.idempotencyLease);
        if (claim.claimed) return this.firstRun(digest, token, command, ttlMs, execute);
        record = await this.settled(digest, claim.record, fingerprint, deadline);
        // Gone (given back, or its lease ran out): claim it again, unless the wait is over.
        if (record !== undefined || Date.now() >= deadline) break;
      }
    } catch (error) {
      // Without the store there is no telling whether it ran: not running it is the safe answer.
      this.logger.error(`Idempotency store unavailable for "${command}": ${(error as Error).message}`);
      return failure(ErrorCode.SERVER, `"${command}" did not run: its idempotency key could not be checked (the store is unavailable); retry later`);
    }
    return this.retryReply(command, record, fingerprint);
  }

  private refusal(connection: Connection, key: string): ErrorPayload | undefined {
    if (scopeOf(connection) === undefined && key.length < MIN_BEARER_KEY_LENGTH) {
      return failure(
        ErrorCode.IDEMPOTENCY,
        `An idempotency key must be at least ${MIN_BEARER_KEY_LENGTH} characters on a connection without a client id of its own (anyone who sends the same key gets its reply): use retry: true, which sends a random one`,
      );
    }
    const now = Date.now();
    let budget = this.budgets.get(connection);
    if (!budget || now - budget.since >= this.options.idempotencyTtl) {
      budget = { since: now, used: 0 };
      this.budgets.set(connection, budget);
    }
    if (++budget.used > this.options.maxIdempotencyKeysPerConnection) {
      const { maxIdempotencyKeysPerConnection: most, idempotencyTtl: window } = this.options;
      return { error: `Too many requests with an idempotency key on this connection (at most ${most} per ${window} ms, maxIdempotencyKeysPerConnection)`, code: ErrorCode.LIMIT, name: ErrorName.LIMIT };
    }
    return undefined;
  }

  /** Runs the command under the claim, then records its reply (or gives the claim back). Never rejects. */
  private async firstRun(digest: string, token: string, command: string, ttlMs: number, execute: () => unknown): Promise<unknown> {
    const lease = this.options.idempotencyLease;
    const renewal = setInterval(() => {
      this.store.renew(digest, token, lease).then(
        (ours) => ours || this.logger.warn(`"${command}" lost its idempotency claim while running (lease of ${lease} ms ran out): a retry may run it again`),
        (error: Error) => this.logger.warn(`Could not renew the idempotency lease of "${command}": ${error.message}`),
      );
    }, Math.max(1, Math.floor(lease / 3)));
    renewal.unref();
    let reply: unknown;
    let failed = false;
    try {
      reply = await execute();
    } catch (error) {
      reply = toErrorPayload(error, this.options.exposeInternalErrors);
      failed = !isDeliberateError(error);
    } finally {
      clearInterval(renewal);
    }
    try {
      // Awaited, so that once a client has a reply its retries get the same one.
      if (failed) await this.store.release(digest, token);
      else if (!(await this.store.complete(digest, token, this.kept(command, reply), ttlMs))) {
        this.logger.warn(`"${command}" finished after its idempotency claim ran out: its reply was not kept`);
      }
    } catch (error) {
      this.logger.warn(`Could not record the outcome of "${command}" for its retries: ${(error as Error).message}`);
    }
    return reply;
  }

  /** The reply as kept, or undefined when it cannot be (too large, or not JSON): retries then get `EIDEMPOTENCY`. */
  private kept(command: string, reply: unknown): string | undefined {
    let text: string;
    try {
      text = encodeKept(reply);
    } catch {
      return undefined; // the reply encoder answers the first request with EncodeError
    }
    const bytes = Buffer.byteLength(text);
    if (bytes <= this.options.maxIdempotentResultBytes) return text;
    this.logger.warn(`The reply to "${command}" (${bytes} bytes) is over maxIdempotentResultBytes: not kept for its retries`);
    return undefined;
  }

  /** Waits while the key's run is going (and is a run of this same request), at most until `deadline`. */
  private async settled(digest: string, record: IdempotencyRecord | undefined, fingerprint: string, deadline: number): Promise<IdempotencyRecord | undefined> {
    let delay = FIRST_POLL_MS;
    let current = record;
    while (current?.state === 'running' && current.fingerprint === fingerprint) {
      const left = deadline - Date.now();
      if (left <= 0) return current;
      await sleep(Math.min(delay, left));
      delay = Math.min(delay * 2, MAX_POLL_MS);
      current = await this.store.read(digest);
    }
    return current;
  }

  private retryReply(command: string, record: IdempotencyRecord | undefined, fingerprint: string): unknown {
    if (record === undefined || record.state === 'running') {
      if (record !== undefined && record.fingerprint !== fingerprint) return this.reused(command);
      return failure(ErrorCode.IN_PROGRESS, `The first run of "${command}" with this idempotency key is still going after ${this.options.idempotencyWaitTimeout} ms; ask again later`);
    }
    if (record.fingerprint !== fingerprint) return this.reused(command);
    if (record.reply === undefined) {
      return failure(ErrorCode.IDEMPOTENCY, `"${command}" already ran with this idempotency key, but its reply was not kept (over maxIdempotentResultBytes); it does not run again`);
    }
    return decodeKept(record.reply);
  }

  private reused(command: string): ErrorPayload {
    return failure(ErrorCode.IDEMPOTENCY, `This idempotency key was already used for "${command}" with a different payload`);
  }
}
