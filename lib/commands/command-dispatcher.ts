import { Inject, Injectable } from '@nestjs/common';
import type { Connection } from '../connection/connection';
import { MESH_RESOLVED_OPTIONS } from '../mesh-options';
import type { ResolvedMeshOptions } from '../interfaces/mesh-module-options.interface';
import { ErrorCode, ErrorName, type ErrorPayload, type FrameId } from '../protocol';
import { BuiltinCommandTable } from './builtin-command-table';
import type { MeshCommandContext } from './command-context';
import { CommandRegistry } from './command-registry';
import { toErrorPayload } from './error-payload';

/** Runs one request: a built-in command, or a user command through its pipeline. Never throws. */
@Injectable()
export class CommandDispatcher {
  constructor(
    @Inject(MESH_RESOLVED_OPTIONS) private readonly options: ResolvedMeshOptions,
    private readonly registry: CommandRegistry,
    private readonly builtins: BuiltinCommandTable,
  ) {}

  /** The reply payload for a request (an error payload when it failed). */
  async run(connection: Connection, id: FrameId, command: string, payload: unknown): Promise<unknown> {
    try {
      const builtin = this.builtins.get(command);
      if (builtin) {
        if (!this.registry.hasGlobalMiddlewares) return await builtin(connection, (payload ?? {}) as Record<string, unknown>);
        // Global middlewares guard every command, built-ins included ("authenticate first" must
        // cover subscriptions too); they see the built-in's name and may replace the payload.
        const context: MeshCommandContext = { id, command, payload, connection };
        await this.registry.runGlobalMiddlewares(context);
        return await builtin(connection, (context.payload ?? {}) as Record<string, unknown>);
      }
      const registered = this.registry.get(command);
      if (!registered) {
        return { error: `Command "${command}" not found`, code: ErrorCode.NOT_FOUND, name: ErrorName.COMMAND } satisfies ErrorPayload;
      }
      const context: MeshCommandContext = { id, command, payload, connection };
      return await this.registry.execute(registered, context);
    } catch (error) {
      return toErrorPayload(error, this.options.exposeInternalErrors);
    }
  }
}
