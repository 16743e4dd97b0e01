import { Inject, Injectable } from '@nestjs/common';
import type { Connection } from '../connection/connection';
import { MESH_RESOLVED_OPTIONS } from '../mesh-options';
import type { ResolvedMeshOptions } from '../interfaces/mesh-module-options.interface';
import { ErrorCode, ErrorName, type ErrorPayload, type FrameId } from '../protocol';
import { BuiltinCommandTable, type BuiltinCommand } from './builtin-command-table';
import type { MeshCommandContext } from './command-context';
import { CommandRegistry } from './command-registry';
import { toErrorPayload } from './error-payload';
import { IdempotentRuns } from './idempotent-runs';

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<unknown>).then === 'function';

/** Runs one request: a built-in command, or a user command through its pipeline. Never throws. */
@Injectable()
export class CommandDispatcher {
  private readonly failed = (error: unknown): ErrorPayload => toErrorPayload(error, this.options.exposeInternalErrors);

  constructor(
    @Inject(MESH_RESOLVED_OPTIONS) private readonly options: ResolvedMeshOptions,
    private readonly registry: CommandRegistry,
    private readonly builtins: BuiltinCommandTable,
    private readonly idempotent: IdempotentRuns,
  ) {}

  /**
   * The reply payload for a request (an error payload when it failed): as a value when the
   * command answered synchronously, else as a Promise (a native one, which never rejects). A
   * request with an idempotency key runs its command at most once per key (see IdempotentRuns).
   */
  run(connection: Connection, id: FrameId, command: string, payload: unknown, idempotencyKey?: string): unknown {
    if (idempotencyKey !== undefined) return this.runOnce(connection, id, command, payload, idempotencyKey);
    let result: unknown;
    try {
      const builtin = this.builtins.get(command);
      if (builtin) {
        result = this.registry.hasGlobalMiddlewares
          ? this.builtinAfterMiddlewares(builtin, { id, command, payload, connection })
          : builtin(connection, (payload ?? {}) as Record<string, unknown>);
      } else {
        const registered = this.registry.get(command);
        if (!registered) {
          return { error: `Command "${command}" not found`, code: ErrorCode.NOT_FOUND, name: ErrorName.COMMAND } satisfies ErrorPayload;
        }
        result = this.registry.execute(registered, { id, command, payload, connection });
      }
    } catch (error) {
      return this.failed(error);
    }
    return isThenable(result) ? Promise.resolve(result).then(undefined, this.failed) : result;
  }

  /**
   * A keyed request: only a user command marked idempotent takes a key. Middlewares, guards and
   * pipes run inside the claim, so a retry that finds the first reply runs none of them again.
   */
  private runOnce(connection: Connection, id: FrameId, command: string, payload: unknown, key: string): unknown {
    const builtin = this.builtins.get(command) !== undefined;
    const registered = builtin ? undefined : this.registry.get(command);
    if (!builtin && !registered) {
      return { error: `Command "${command}" not found`, code: ErrorCode.NOT_FOUND, name: ErrorName.COMMAND } satisfies ErrorPayload;
    }
    if (registered?.idempotentTtl === undefined) {
      const error = `Command "${command}" is not idempotent: it does not take an idempotency key (mark it with { idempotent: true }, or send it without retry/idempotencyKey)`;
      return { error, code: ErrorCode.IDEMPOTENCY, name: ErrorName.IDEMPOTENCY } satisfies ErrorPayload;
    }
    const context = { id, command, payload, connection, idempotencyKey: key };
    return this.idempotent.run(connection, command, key, payload, registered.idempotentTtl, () => this.registry.execute(registered, context));
  }

  /**
   * Global middlewares guard every command, built-ins included ("authenticate first" must cover
   * subscriptions too); they see the built-in's name and may replace the payload.
   */
  private async builtinAfterMiddlewares(builtin: BuiltinCommand, context: MeshCommandContext): Promise<unknown> {
    await this.registry.runGlobalMiddlewares(context);
    return builtin(context.connection, (context.payload ?? {}) as Record<string, unknown>);
  }
}
