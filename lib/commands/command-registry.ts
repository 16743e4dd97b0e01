import { Inject, Injectable } from '@nestjs/common';
import { MeshConfigurationError } from '../errors';
import { MESH_RESOLVED_OPTIONS } from '../mesh-options';
import type { ResolvedMeshOptions } from '../interfaces/mesh-module-options.interface';
import { HeartbeatCommand } from '../protocol';
import type { MeshCommandContext, MeshMiddlewareFn } from './command-context';
import type { MeshIdempotentOption } from './command-options';
import type { CommandInvoker } from './plain-invoker';

/** A command ready to run: its own middlewares and its Nest-enhanced invoker. */
export interface RegisteredCommand {
  readonly name: string;
  /** Where it was declared, for error messages (`ChatController.join`, `registerCommand`). */
  readonly origin: string;
  /** Class and method middlewares (the global ones are kept by the registry). */
  readonly middlewares: readonly MeshMiddlewareFn[];
  /** Guards -> interceptors -> pipes -> handler, with exception filters around them (just the handler when it has none). */
  readonly invoke: CommandInvoker;
  /** Run once per idempotency key (`@MeshCommand(name, { idempotent })`). */
  readonly idempotent?: MeshIdempotentOption;
}

/** A command as the registry keeps it: with how long its idempotent replies are kept, if it is idempotent. */
export interface KnownCommand extends RegisteredCommand {
  /** Milliseconds a reply is kept for retries with the same key; undefined: not idempotent. */
  readonly idempotentTtl?: number;
}

const HEARTBEAT_NAMES = new Set<string>(Object.values(HeartbeatCommand));

/** Every user command of this node, and the global middlewares. */
@Injectable()
export class CommandRegistry {
  private readonly commands = new Map<string, KnownCommand>();
  private readonly globalMiddlewares: MeshMiddlewareFn[] = [];

  constructor(@Inject(MESH_RESOLVED_OPTIONS) private readonly options: ResolvedMeshOptions) {}

  register(command: RegisteredCommand): void {
    const { name } = command;
    if (typeof name !== 'string' || name.length === 0) {
      throw new MeshConfigurationError(`A command name must be a non-empty string (${command.origin})`);
    }
    if (HEARTBEAT_NAMES.has(name) || name.startsWith(`${this.options.prefix}/`)) {
      throw new MeshConfigurationError(`Command name "${name}" (${command.origin}) is reserved by the protocol`);
    }
    const existing = this.commands.get(name);
    if (existing) {
      throw new MeshConfigurationError(`Command "${name}" is registered twice: by ${existing.origin} and by ${command.origin}`);
    }
    this.commands.set(name, { ...command, idempotentTtl: this.idempotentTtl(command) });
  }

  private idempotentTtl({ idempotent, origin }: RegisteredCommand): number | undefined {
    if (idempotent === undefined || idempotent === false) return undefined;
    if (idempotent === true) return this.options.idempotencyTtl;
    if (typeof idempotent !== 'object' || idempotent === null) {
      throw new MeshConfigurationError(`The "idempotent" option of ${origin} must be true, false or { ttl }, got ${String(idempotent)}`);
    }
    const ttl = idempotent.ttl ?? this.options.idempotencyTtl;
    if (!Number.isInteger(ttl) || ttl <= 0) throw new MeshConfigurationError(`The idempotent ttl of ${origin} must be a positive integer (ms), got ${String(ttl)}`);
    return ttl;
  }

  unregister(name: string): boolean {
    return this.commands.delete(name);
  }

  get(name: string): KnownCommand | undefined {
    return this.commands.get(name);
  }

  addMiddleware(middleware: MeshMiddlewareFn): void {
    if (typeof middleware !== 'function') throw new MeshConfigurationError('A middleware must be a function');
    this.globalMiddlewares.push(middleware);
  }

  get hasGlobalMiddlewares(): boolean {
    return this.globalMiddlewares.length > 0;
  }

  /** Runs the global middlewares alone (for built-in commands, which have no pipeline of their own). */
  async runGlobalMiddlewares(context: MeshCommandContext): Promise<void> {
    for (const middleware of this.globalMiddlewares) await middleware(context);
  }

  /**
   * Runs global, then the command's middlewares, then its pipeline: its result, or a Promise of it
   * (a command without middlewares may return or throw synchronously).
   */
  execute(command: RegisteredCommand, context: MeshCommandContext): unknown {
    if (this.globalMiddlewares.length === 0 && command.middlewares.length === 0) return this.invoke(command, context);
    return this.withMiddlewares(command, context);
  }

  private async withMiddlewares(command: RegisteredCommand, context: MeshCommandContext): Promise<unknown> {
    await this.runGlobalMiddlewares(context);
    for (const middleware of command.middlewares) await middleware(context);
    return this.invoke(command, context);
  }

  private invoke(command: RegisteredCommand, context: MeshCommandContext): unknown {
    return command.invoke(context.connection, context.payload, context, command.name);
  }
}
