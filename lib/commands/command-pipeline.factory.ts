import { Injectable } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { ExternalContextCreator, ModulesContainer } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { MESH_CONTEXT_TYPE } from '../mesh.constants';
import { MeshParamType } from '../decorators/mesh-params.decorator';
import type { MeshCommandHandlerFn, MeshPipelineArgs } from './command-context';

type Invoker = (...args: MeshPipelineArgs) => Promise<unknown>;

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

interface ExceptionsHandler {
  invokeCustomFilters(exception: unknown, host: ExecutionContextHost): unknown;
}

function proxyWithFilters(target: (...args: unknown[]) => Promise<unknown>, handler: ExceptionsHandler, type: string) {
  return async (...args: unknown[]): Promise<unknown> => {
    try {
      return await target(...args);
    } catch (error) {
      const host = new ExecutionContextHost(args);
      host.setType(type);
      const handled = handler.invokeCustomFilters(error, host);
      if (handled) return handled;
      throw error;
    }
  };
}

/**
 * Wraps handlers with Nest's enhancers (global and local guards, interceptors, pipes, exception
 * filters) through `ExternalContextCreator`, with `context.getType() === 'ws'` and the
 * arguments `[connection, payload, context, command]` (so `switchToWs()` gives the connection,
 * the payload and the command name).
 */
@Injectable()
export class CommandPipelineFactory {
  private readonly externalContextCreator: ExternalContextCreator;

  constructor(externalContextCreator: ExternalContextCreator, modulesContainer: ModulesContainer) {
    // ExternalContextCreator finds the module whose enhancers (guards, pipes... listed in
    // @UseGuards and friends) it instantiates among module providers only; a controller would
    // get none. This view of it also looks among controllers.
    this.externalContextCreator = Object.create(externalContextCreator, {
      // Nest's default proxy passes an error no filter handles to ExternalExceptionFilter, which
      // logs every Error at ERROR and rethrows: domain errors (`MeshError('Out of stock')`) would be
      // logged as failures and bugs twice (the dispatcher logs those once). This one runs the
      // exception filters (@UseFilters, global ones) the same way and leaves logging to the dispatcher.
      externalErrorProxy: { value: { createProxy: proxyWithFilters } },
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
  forMethod(instance: object, methodName: string): Invoker {
    const callback = (instance as Record<string, (...args: unknown[]) => unknown>)[methodName];
    return this.create(instance, callback, methodName);
  }

  /** A handler given to `MeshServer.registerCommand`, hosted by `host` for enhancer lookup. */
  forHandler(host: object, command: string, handler: MeshCommandHandlerFn): Invoker {
    const callback = function (this: unknown, ...args: unknown[]) {
      return handler((args as MeshPipelineArgs)[2]);
    };
    // Guards read metadata from `context.getHandler()`: let them see the user's function's.
    for (const key of Reflect.getMetadataKeys(handler)) {
      Reflect.defineMetadata(key, Reflect.getMetadata(key, handler), callback);
    }
    Object.defineProperty(callback, 'name', { value: handler.name || command });
    return this.create(host, callback, `mesh-command:${command}`);
  }

  private create(instance: object, callback: (...args: unknown[]) => unknown, methodName: string): Invoker {
    return this.externalContextCreator.create(
      instance,
      callback,
      methodName,
      ROUTE_ARGS_METADATA,
      meshParamsFactory as never,
      undefined,
      undefined,
      undefined,
      MESH_CONTEXT_TYPE,
    ) as Invoker;
  }
}
