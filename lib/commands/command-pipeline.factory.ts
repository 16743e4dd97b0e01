import { Injectable } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { ExternalContextCreator, ModulesContainer } from '@nestjs/core';
import { MESH_CONTEXT_TYPE } from '../mesh.constants';
import { MeshParamType } from '../decorators/mesh-params.decorator';
import type { MeshCommandHandlerFn, MeshPipelineArgs } from './command-context';
import { filtered, plainInvoker, type CommandInvoker, type ExceptionFilters } from './plain-invoker';

/** Maps the pipeline arguments to `@MeshPayload()`, `@MeshConnection()` and `@MeshContext()`. */
const meshParamsFactory = {
  exchangeKeyForValue(type: number, data: string | undefined, args: MeshPipelineArgs): unknown {
    const [connection, payload, context] = args;
    switch (type) {
      case MeshParamType.CONNECTION:
        return connection;
      case MeshParamType.PAYLOAD:
        if (data === undefined) return payload;
        return payload !== null && typeof payload === 'object' ? (payload as Record<string, unknown>)[data] : undefined;
      case MeshParamType.CONTEXT:
        return context;
      default:
        return undefined;
    }
  },
};

function proxyWithFilters(target: (...args: MeshPipelineArgs) => Promise<unknown>, filters: ExceptionFilters) {
  return async (...args: MeshPipelineArgs): Promise<unknown> => {
    try {
      return await target(...args);
    } catch (error) {
      return filtered(filters, error, args);
    }
  };
}

/** A decorated parameter as Nest's `createPipesFn` receives it (its own pipes resolved). */
interface ParamOption {
  index: number;
  type: unknown;
  pipes?: unknown[];
  extractValue: (...args: MeshPipelineArgs) => unknown;
}

/**
 * What `ExternalContextCreator.create` built for one handler, seen through the methods it calls
 * on the view below. Anything left unseen (another Nest release) means "not known to be plain".
 */
interface Built {
  guards?: unknown[];
  interceptors?: unknown[];
  pipes?: unknown[];
  params?: ParamOption[];
  filters?: ExceptionFilters;
}

/** The enhancer pipeline Nest built has nothing to run around the handler but exception filters. */
function isPlain(built: Built): built is Built & { params: ParamOption[]; filters: ExceptionFilters } {
  return (
    built.guards?.length === 0 &&
    built.interceptors?.length === 0 &&
    built.pipes?.length === 0 &&
    built.params !== undefined &&
    built.filters !== undefined &&
    // A custom param decorator's factory (a string type) gets an ExecutionContext: left to Nest.
    built.params.every((p) => typeof p.type === 'number' && (p.pipes?.length ?? 0) === 0)
  );
}

/**
 * Wraps handlers with Nest's enhancers (global and local guards, interceptors, pipes, exception
 * filters) through `ExternalContextCreator`, with `context.getType() === 'ws'` and the
 * arguments `[connection, payload, context, command]` (so `switchToWs()` gives the connection,
 * the payload and the command name). A handler left with no guard, interceptor or pipe once Nest
 * resolved them is called directly (`plainInvoker`): it pays for none of the pipeline.
 */
@Injectable()
export class CommandPipelineFactory {
  private readonly externalContextCreator: ExternalContextCreator;
  /** Filled by the view's hooks during one (synchronous) `create` call. */
  private built: Built = {};

  constructor(externalContextCreator: ExternalContextCreator, modulesContainer: ModulesContainer) {
    const nest = externalContextCreator as unknown as {
      interceptorsContextCreator?: { create(...args: unknown[]): unknown[] };
      createGuardsFn(guards: unknown[], ...rest: unknown[]): unknown;
      createPipesFn(pipes: unknown[], params: ParamOption[]): unknown;
    };
    const interceptorsContextCreator = nest.interceptorsContextCreator;
    const built = () => this.built;
    // ExternalContextCreator finds the module whose enhancers (guards, pipes... listed in
    // @UseGuards and friends) it instantiates among module providers only; a controller would
    // get none. This view of it also looks among controllers.
    this.externalContextCreator = Object.create(externalContextCreator, {
      // Nest's default proxy passes an error no filter handles to ExternalExceptionFilter, which
      // logs every Error at ERROR and rethrows: domain errors (`MeshError('Out of stock')`) would be
      // logged as failures and bugs twice (the dispatcher logs those once). This one runs the
      // exception filters (@UseFilters, global ones) the same way and leaves logging to the dispatcher.
      externalErrorProxy: {
        value: {
          createProxy: (target: (...args: MeshPipelineArgs) => Promise<unknown>, filters: ExceptionFilters) => {
            built().filters = filters;
            return proxyWithFilters(target, filters);
          },
        },
      },
      // The enhancers Nest resolved for the handler, as it hands them on: seen, not changed.
      createGuardsFn: {
        value(this: unknown, guards: unknown[], ...rest: unknown[]) {
          built().guards = guards;
          return nest.createGuardsFn.call(this, guards, ...rest);
        },
      },
      createPipesFn: {
        value(this: unknown, pipes: unknown[], params: ParamOption[]) {
          Object.assign(built(), { pipes, params });
          return nest.createPipesFn.call(this, pipes, params);
        },
      },
      ...(interceptorsContextCreator && {
        interceptorsContextCreator: {
          value: {
            create: (...args: unknown[]) => (built().interceptors = interceptorsContextCreator.create(...args)),
          },
        },
      }),
      getContextModuleKey: {
        value: (classRef: unknown): string => {
          for (const [key, moduleRef] of modulesContainer.entries()) {
            if (moduleRef.hasProvider(classRef as never) || moduleRef.controllers.has(classRef as never)) return key;
          }
          return '';
        },
      },
    }) as ExternalContextCreator;
  }

  /** A `@MeshCommand` method of a controller or provider. */
  forMethod(instance: object, methodName: string): CommandInvoker {
    const callback = (instance as Record<string, (...args: unknown[]) => unknown>)[methodName];
    const built = this.create(instance, callback, methodName);
    if (!isPlain(built)) return built.invoker;
    const { params } = built;
    if (params.length === 0) return plainInvoker((connection, payload, context, command) => callback.call(instance, connection, payload, context, command), built.filters);
    // As Nest fills them: every position up to the last decorated one, undefined where none is.
    const length = Math.max(...params.map((p) => p.index)) + 1;
    return plainInvoker((connection, payload, context, command) => {
      const values: unknown[] = new Array(length).fill(undefined);
      for (const param of params) values[param.index] = param.extractValue(connection, payload, context, command);
      return callback.apply(instance, values);
    }, built.filters);
  }

  /** A handler given to `MeshServer.registerCommand`, hosted by `host` for enhancer lookup. */
  forHandler(host: object, command: string, handler: MeshCommandHandlerFn): CommandInvoker {
    const callback = function (this: unknown, ...args: unknown[]) {
      return handler((args as MeshPipelineArgs)[2]);
    };
    // Guards read metadata from `context.getHandler()`: let them see the user's function's.
    for (const key of Reflect.getMetadataKeys(handler)) {
      Reflect.defineMetadata(key, Reflect.getMetadata(key, handler), callback);
    }
    Object.defineProperty(callback, 'name', { value: handler.name || command });
    const built = this.create(host, callback, `mesh-command:${command}`);
    return isPlain(built) ? plainInvoker((_connection, _payload, context) => handler(context), built.filters) : built.invoker;
  }

  /** Nest's pipeline for a handler, and what it was built from. */
  private create(instance: object, callback: (...args: unknown[]) => unknown, methodName: string): Built & { invoker: CommandInvoker } {
    this.built = {};
    try {
      const invoker = this.externalContextCreator.create(
        instance,
        callback,
        methodName,
        ROUTE_ARGS_METADATA,
        meshParamsFactory as never,
        undefined,
        undefined,
        undefined,
        MESH_CONTEXT_TYPE,
      ) as CommandInvoker;
      return { ...this.built, invoker };
    } finally {
      this.built = {};
    }
  }
}
