import type { Connection } from '../connection/connection';
import type { FrameId } from '../protocol';

/**
 * What a command runs with: the frame, the connection, and whatever middlewares attach.
 * `@MeshContext()` injects it; programmatic handlers receive it as their only argument.
 */
export interface MeshCommandContext<TPayload = any> {
  /** The request id the reply will carry. */
  readonly id: FrameId;
  /** The command name. */
  readonly command: string;
  /** The payload as the client sent it (pipes transform the `@MeshPayload()` argument, not this). */
  payload: TPayload;
  /** The connection that sent the command. */
  readonly connection: Connection;
  /** The request's idempotency key, for an idempotent command called with one (e.g. to pass on to a payment API). */
  readonly idempotencyKey?: string;
  /** Middlewares may attach anything else. */
  [key: string]: unknown;
}

/**
 * A seed-style middleware: may enrich the context, and throws to stop the command (the error
 * becomes the reply).
 */
export type MeshMiddlewareFn = (context: MeshCommandContext) => void | Promise<void>;

/** A programmatic command handler (`MeshServer.registerCommand`). */
export type MeshCommandHandlerFn<TPayload = any, TResult = unknown> = (context: MeshCommandContext<TPayload>) => TResult | Promise<TResult>;

/** Arguments every command pipeline receives; `switchToWs()` maps them to client/data/pattern. */
export type MeshPipelineArgs = [connection: Connection, payload: unknown, context: MeshCommandContext, command: string];
