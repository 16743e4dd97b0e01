import { ErrorCode, errorPayloadOf, type ErrorPayload } from '../lib/protocol';
import { MeshClientErrorCode } from './errors';
import type { InvokeHandler } from './types';

/** The `<prefix>/invoke-result` payload: the handler's result, or what it threw. */
export type InvokeResultPayload = { result: unknown } | ErrorPayload;

/** Handlers for server-to-client invokes (`client.handle(type, fn)`). */
export class InvokeHandlers {
  private readonly handlers = new Map<string, InvokeHandler>();

  set(type: string, handler: InvokeHandler): void {
    this.handlers.set(type, handler);
  }

  delete(type: string): void {
    this.handlers.delete(type);
  }

  /** Runs the handler of `type`; never throws: failures become an error payload. */
  async run(type: unknown, data: unknown): Promise<InvokeResultPayload> {
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
}
