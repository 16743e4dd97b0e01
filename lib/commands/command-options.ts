import type { MeshMiddlewareFn } from './command-context';

/**
 * Makes a command run at most once per idempotency key (see docs/guarantees.md): `true`
 * keeps each reply for the module's `idempotencyTtl`, `{ ttl }` for `ttl` ms.
 */
export type MeshIdempotentOption = boolean | { ttl?: number };

/** Options of `@MeshCommand(name, options)` and `MeshServer.registerCommand(name, handler, options)`. */
export interface MeshCommandOptions {
  /**
   * Requests that carry an idempotency key (a client's `{ retry: true }` or `{ idempotencyKey }`)
   * run the command once per key within the window, on any node; retries get the first reply.
   * Requests without a key are not affected. A key sent to a command without this option is
   * refused with `EIDEMPOTENCY`.
   * @default false
   */
  idempotent?: MeshIdempotentOption;
}

/** The third argument of `MeshServer.registerCommand` when it is not just the middlewares. */
export interface RegisterCommandOptions extends MeshCommandOptions {
  /** Run after the global middlewares (`addMiddleware`), before the handler. */
  middlewares?: MeshMiddlewareFn[];
}
