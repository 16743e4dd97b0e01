import { ErrorCode, errorPayloadOf, type ErrorPayload } from '../lib/protocol';
import { MeshClientErrorCode } from './errors';
import type { InvokeHandler } from './types';

/** The `<prefix>/invoke-result` payload: the handler's result, or what it threw. */
export type InvokeResultPayload = { result: unknown } | ErrorPayload;

interface Remembered {
  type: string;
  answer: Promise<InvokeResultPayload>;
  /** When it was first asked (the age limit counts from there). */
  at: number;
}

/**
 * Handlers for server-to-client invokes (`client.handle(type, fn)`). An invoke with an
 * idempotency key is remembered with its answer (at most `memorySize` of them, each for
 * `memoryMs`): a server that sends it again after a reconnect gets the same answer, and the
 * handler does not run twice; a repeat while the first still runs waits for it.
 */
export class InvokeHandlers {
  private readonly handlers = new Map<string, InvokeHandler>();
  /** By key, oldest first (a Map keeps insertion order). */
  private readonly remembered = new Map<string, Remembered>();

  constructor(
    private readonly memorySize = 1000,
    private readonly memoryMs = 300_000,
  ) {}

  set(type: string, handler: InvokeHandler): void {
    this.handlers.set(type, handler);
  }

  delete(type: string): void {
    this.handlers.delete(type);
  }

  /** Runs the handler of `type` (once per `idempotencyKey`); never throws: failures become an error payload. */
  run(type: unknown, data: unknown, idempotencyKey?: string): Promise<InvokeResultPayload> {
    if (idempotencyKey === undefined || typeof type !== 'string' || this.memorySize <= 0) return this.call(type, data);
    this.forgetOld();
    const seen = this.remembered.get(idempotencyKey);
    // The key is the server's: one of another type is not a repeat of this invoke.
    if (seen && seen.type === type) return seen.answer;
    const answer = this.call(type, data);
    this.remembered.delete(idempotencyKey);
    this.remembered.set(idempotencyKey, { type, answer, at: Date.now() });
    if (this.remembered.size > this.memorySize) this.remembered.delete(this.remembered.keys().next().value as string);
    return answer;
  }

  private async call(type: unknown, data: unknown): Promise<InvokeResultPayload> {
    const handler = typeof type === 'string' ? this.handlers.get(type) : undefined;
    if (!handler) {
      return { error: `No handler for invoke type "${String(type)}"`, code: ErrorCode.NOT_FOUND, name: 'InvokeError' };
    }
    try {
      return { result: await handler(data) };
    } catch (err) {
      return errorPayloadOf(err, MeshClientErrorCode.HANDLER, MeshClientErrorCode.HANDLER);
    }
  }

  /** Drops what is older than `memoryMs`, from the oldest on. */
  private forgetOld(): void {
    const oldest = Date.now() - this.memoryMs;
    for (const [key, entry] of this.remembered) {
      if (entry.at > oldest) return;
      this.remembered.delete(key);
    }
  }
}
